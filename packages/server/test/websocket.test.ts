import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { ConferenceClient } from "@roundtable/client-core";
import { CLOSE_CODES, LIMITS, type ServerMessage } from "@roundtable/protocol";
import WebSocket from "ws";
import { closeCodeOf, nextMessage, nodeClient, untilStatus } from "./clients.ts";
import { startTestServer, type TestServer } from "./harness.ts";

let t: TestServer;
const open: ConferenceClient[] = [];
before(async () => {
  t = await startTestServer();
});
after(async () => {
  for (const c of open) c.close();
  await t.stop();
});

/** A conference with the named members registered, each with a connected client in the lobby. */
async function roomOf(...names: string[]) {
  const conference = await t.api.createConference("Sync");
  const members = new Map<string, { id: string; token: string; client: ConferenceClient }>();
  for (const name of names) {
    const r = await t.api.register(conference.id, { name });
    const client = nodeClient(t.api, conference.id, r.token);
    open.push(client);
    members.set(name, { id: r.memberId, token: r.token, client });
  }
  await Promise.all(
    [...members.values()].map(({ client }) => {
      client.connect();
      return untilStatus(client, "open");
    }),
  );
  const get = (name: string) => {
    const m = members.get(name);
    if (!m) throw new Error(name);
    return m;
  };
  return { conference, get, all: [...members.values()] };
}

const isText =
  (text: string) =>
  (m: ServerMessage): m is Extract<ServerMessage, { type: "text" }> =>
    m.type === "text" && m.text === text;

describe("connecting", () => {
  test("a bad token is refused with close code 4001", async () => {
    const c = await t.api.createConference("Refusals");
    const { code } = await closeCodeOf(t.api.socketUrl(c.id, "not-a-token"));
    assert.equal(code, CLOSE_CODES.unauthorized);
  });

  test("a member token of another conference is refused", async () => {
    const a = await t.api.createConference("A");
    const b = await t.api.createConference("B");
    const member = await t.api.register(a.id, { name: "Ada" });
    assert.equal((await closeCodeOf(t.api.socketUrl(b.id, member.token))).code, CLOSE_CODES.unauthorized);
  });

  test("a connection without a token is refused", async () => {
    const c = await t.api.createConference("NoToken");
    const url = t.api.socketUrl(c.id, "x").replace(/\?.*$/, "");
    assert.equal((await closeCodeOf(url)).code, CLOSE_CODES.unauthorized);
  });

  test("the lobby lists members and hears of new ones live", async () => {
    const { conference, get } = await roomOf("Ada");
    const ada = get("Ada").client;
    assert.equal(ada.room.phase, "lobby");
    assert.deepEqual(
      ada.room.seats.map((s) => s.member.name),
      ["Ada"],
    );
    const added = nextMessage(ada, (m) => m.type === "member-added");
    await t.api.register(conference.id, { name: "Bob" });
    await added;
    assert.deepEqual(
      ada.room.seats.map((s) => s.member.name),
      ["Ada", "Bob"],
    );
  });
});

describe("build over the socket", () => {
  test("every connected client turns into the room with all avatars bound to seats", async () => {
    const { conference, all } = await roomOf("Ada", "Bob", "Cy");
    const builds = all.map(({ client }) => nextMessage(client, (m) => m.type === "build"));
    await t.api.build(conference.id, conference.hostToken);
    await Promise.all(builds);
    const summary = await t.api.getConference(conference.id);
    for (const { client } of all) {
      assert.equal(client.room.phase, "room");
      assert.deepEqual(
        client.room.seats.map((s) => [s.member.id, s.member.seat, s.member.avatar.url]),
        summary.members.map((m, i) => [m.id, i, m.avatarUrl]),
      );
    }
  });

  test("a member registering after the build appears in every open room", async () => {
    const { conference, all } = await roomOf("Ada", "Bob");
    await Promise.all([
      ...all.map(({ client }) => nextMessage(client, (m) => m.type === "build")),
      t.api.build(conference.id, conference.hostToken),
    ]);
    const added = all.map(({ client }) => nextMessage(client, (m) => m.type === "member-added"));
    const late = await t.api.register(conference.id, { name: "Late" });
    await Promise.all(added);
    for (const { client } of all) assert.equal(client.room.seat(late.memberId)?.member.seat, 2);
  });
});

describe("text over the socket", () => {
  test("to all: everyone gets it once; to one: only that member and the sender", async () => {
    const { get } = await roomOf("Ada", "Bob", "Cy");
    const [ada, bob, cy] = [get("Ada").client, get("Bob").client, get("Cy").client];
    const seen = [bob, cy].map((c) => nextMessage(c, isText("hello everyone")));
    await ada.sendText("all", "hello everyone");
    await Promise.all(seen);

    const bobGets = nextMessage(bob, isText("for Bob only"));
    const sent = await ada.sendText([get("Bob").id], "for Bob only");
    assert.deepEqual(sent.to, [get("Bob").id]);
    await bobGets;
    // Cy's next message proves the private one, sent earlier on the same ordered socket, never came.
    const cyGetsLater = nextMessage(cy, isText("after"));
    await ada.sendText("all", "after");
    await cyGetsLater;
    assert.deepEqual(
      cy.room.chat.map((e) => e.message.text),
      ["hello everyone", "after"],
    );
    assert.deepEqual(
      bob.room.chat.map((e) => [e.message.text, e.private]),
      [
        ["hello everyone", false],
        ["for Bob only", true],
        ["after", false],
      ],
    );
    assert.equal(bob.room.seat(get("Ada").id)?.bubble?.text, "after");
  });

  test("the history endpoint shows each member only what they may see", async () => {
    const { conference, get } = await roomOf("Ada", "Bob", "Cy");
    await get("Ada").client.sendText([get("Bob").id], "secret");
    await get("Cy").client.sendText("all", "public");
    const texts = async (name: string) =>
      (await t.api.history(conference.id, get(name).token)).map((m) => m.text);
    assert.deepEqual(await texts("Ada"), ["secret", "public"]);
    assert.deepEqual(await texts("Bob"), ["secret", "public"]);
    assert.deepEqual(await texts("Cy"), ["public"]);
    const noToken = await fetch(`${t.baseUrl}/api/conferences/${conference.id}/messages`);
    assert.equal(noToken.status, 401);
  });

  test("reopening the room restores the history that member may see", async () => {
    const { conference, get } = await roomOf("Ada", "Bob", "Cy");
    await get("Ada").client.sendText([get("Bob").id], "secret");
    await get("Ada").client.sendText("all", "public");
    const reopened = nodeClient(t.api, conference.id, get("Cy").token);
    open.push(reopened);
    reopened.connect();
    await untilStatus(reopened, "open");
    assert.deepEqual(
      reopened.room.chat.map((e) => e.message.text),
      ["public"],
    );
  });

  test("an unknown recipient gets an error reply and nothing is delivered", async () => {
    const { get } = await roomOf("Ada", "Bob");
    await assert.rejects(get("Ada").client.sendText(["ghost"], "anyone?"), { code: "unknown_recipient" });
    const later = nextMessage(get("Bob").client, isText("later"));
    await get("Ada").client.sendText("all", "later");
    await later;
    assert.deepEqual(
      get("Bob").client.room.chat.map((e) => e.message.text),
      ["later"],
    );
  });

  test("a text over 2000 characters is refused", async () => {
    const { get } = await roomOf("Ada");
    await assert.rejects(get("Ada").client.sendText("all", "x".repeat(LIMITS.textMax + 1)), {
      code: "invalid_message",
    });
  });
});

describe("hostile frames", () => {
  async function rawSocket(token: string, conferenceId: string) {
    const socket = new WebSocket(t.api.socketUrl(conferenceId, token));
    const received: ServerMessage[] = [];
    socket.on("message", (data) => received.push(JSON.parse(data.toString()) as ServerMessage));
    await new Promise((resolve) => socket.once("open", resolve));
    const nextError = () =>
      new Promise<Extract<ServerMessage, { type: "error" }>>((resolve) => {
        socket.on("message", (data) => {
          const m = JSON.parse(data.toString()) as ServerMessage;
          if (m.type === "error") resolve(m);
        });
      });
    return { socket, received, nextError };
  }

  test("malformed JSON, unknown types and wrong fields get error replies; the socket stays usable", async () => {
    const { conference, get } = await roomOf("Ada", "Bob");
    const raw = await rawSocket(get("Ada").token, conference.id);
    for (const frame of ["{nope", '{"type":"dance"}', '{"type":"text","to":"all","text":5}', "[]", "null"]) {
      const error = raw.nextError();
      raw.socket.send(frame);
      assert.equal((await error).code, "invalid_message");
    }
    const bobGets = nextMessage(get("Bob").client, isText("still here"));
    raw.socket.send(JSON.stringify({ type: "text", to: "all", text: "still here" }));
    const delivered = await bobGets;
    assert.equal(delivered.from, get("Ada").id, "the server uses the authenticated sender");
    raw.socket.close();
  });

  test("a forged sender id is ignored: the authenticated member is the sender", async () => {
    const { conference, get } = await roomOf("Ada", "Bob");
    const raw = await rawSocket(get("Ada").token, conference.id);
    const bobGets = nextMessage(get("Bob").client, isText("forged"));
    raw.socket.send(JSON.stringify({ type: "text", to: "all", text: "forged", from: get("Bob").id }));
    assert.equal((await bobGets).from, get("Ada").id);
    raw.socket.close();
  });

  test("an oversized frame closes that socket with 1009 and nobody else notices", async () => {
    const { conference, get } = await roomOf("Ada", "Bob");
    const raw = await rawSocket(get("Ada").token, conference.id);
    const closed = new Promise<number>((resolve) => raw.socket.on("close", (code) => resolve(code)));
    raw.socket.send("x".repeat(LIMITS.wsMessageMax + 1));
    assert.equal(await closed, CLOSE_CODES.messageTooBig);
    const bobGets = nextMessage(get("Bob").client, isText("fine"));
    await get("Ada").client.sendText("all", "fine");
    await bobGets;
  });
});

test("a client reconnects by itself after its socket drops and misses nothing", async () => {
  const { get } = await roomOf("Ada", "Bob");
  const bob = get("Bob").client;
  const reconnecting = untilStatus(bob, "reconnecting");
  // Close every server-side socket of Bob's by opening... simplest: terminate from the client side.
  (bob as unknown as { socket: WebSocket }).socket.terminate();
  await reconnecting;
  const sent = get("Ada").client.sendText("all", "while you were away");
  await untilStatus(bob, "open");
  await sent;
  if (!bob.room.chat.some((e) => e.message.text === "while you were away"))
    await nextMessage(bob, isText("while you were away"));
  assert.equal(bob.room.chat.filter((e) => e.message.text === "while you were away").length, 1);
});
