import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { LIMITS, type ServerMessage } from "@roundtable/protocol";
import { nodeClient, rawSocket, untilStatus } from "./clients.ts";
import { GENEROUS_LIMITS, startTestServer, type TestServer } from "./harness.ts";

// Delivery guarantees at the server's edge: a retransmitted text is stored once, a resumed
// connection gets everything it missed however much that is, and a ping is answered.

let t: TestServer;
before(async () => {
  // Floods are another test's subject: here the limits must not get in the way of 400 quick texts.
  t = await startTestServer(GENEROUS_LIMITS);
});
after(async () => {
  await t.stop();
});

async function pair() {
  const conference = await t.api.createConference("Delivery");
  const ada = await t.api.register(conference.id, { name: "Ada" });
  const bob = await t.api.register(conference.id, { name: "Bob" });
  await t.api.build(conference.id, conference.hostToken);
  return { conference, ada, bob };
}

const texts = (received: ServerMessage[]) =>
  received.filter((m): m is Extract<ServerMessage, { type: "text" }> => m.type === "text");

test("a text sent again with the same clientId is stored and delivered once; the repeat is acknowledged", async () => {
  const { conference, ada, bob } = await pair();
  const sender = await rawSocket(t.api.socketUrl(conference.id, ada.token));
  const listener = await rawSocket(t.api.socketUrl(conference.id, bob.token));
  const frame = { type: "text", to: "all", text: "only once", clientId: "c-1" };
  sender.send(frame);
  const first = await sender.next((m) => m.type === "text" && m.clientId === "c-1");
  // As after a drop: the same text again, on a new socket of the same member.
  sender.socket.close();
  const again = await rawSocket(
    t.api.socketUrl(conference.id, ada.token, first.type === "text" ? first.seq : 0),
  );
  again.send(frame);
  const second = await again.next((m) => m.type === "text" && m.clientId === "c-1");
  assert.deepEqual(second, first, "the repeat is acknowledged with the stored message");

  // A later text proves the listener has seen everything before it.
  again.send({ type: "text", to: "all", text: "marker" });
  await listener.next((m) => m.type === "text" && m.text === "marker");
  assert.equal(texts(listener.received).filter((m) => m.text === "only once").length, 1);
  const history = await t.api.history(conference.id, bob.token);
  assert.deepEqual(
    history.map((m) => m.text),
    ["only once", "marker"],
  );
  assert.equal(texts(again.received).filter((m) => m.text === "only once").length, 1);
  again.socket.close();
  listener.socket.close();
});

test("the same clientId from two members is two texts: ids are per sender", async () => {
  const { conference, ada, bob } = await pair();
  const a = await rawSocket(t.api.socketUrl(conference.id, ada.token));
  const b = await rawSocket(t.api.socketUrl(conference.id, bob.token));
  a.send({ type: "text", to: "all", text: "from Ada", clientId: "same" });
  await a.next((m) => m.type === "text" && m.clientId === "same");
  b.send({ type: "text", to: "all", text: "from Bob", clientId: "same" });
  await b.next((m) => m.type === "text" && m.clientId === "same");
  assert.deepEqual(
    (await t.api.history(conference.id, ada.token)).map((m) => m.text),
    ["from Ada", "from Bob"],
  );
  a.socket.close();
  b.socket.close();
});

test("two copies of one text racing on two sockets are stored once", async () => {
  const { conference, ada, bob } = await pair();
  const one = await rawSocket(t.api.socketUrl(conference.id, ada.token));
  const two = await rawSocket(t.api.socketUrl(conference.id, ada.token));
  const frame = { type: "text", to: [bob.memberId], text: "raced", clientId: "race" };
  one.send(frame);
  two.send(frame);
  const [a, b] = await Promise.all([
    one.next((m) => m.type === "text" && m.clientId === "race"),
    two.next((m) => m.type === "text" && m.clientId === "race"),
  ]);
  assert.equal(a.type === "text" && b.type === "text" && a.id === b.id, true);
  assert.equal((await t.api.history(conference.id, bob.token)).length, 1);
  one.socket.close();
  two.socket.close();
});

test("a connection resuming after more than one page of texts gets every one, in order, in pages", async () => {
  const { conference, ada, bob } = await pair();
  const writer = await rawSocket(t.api.socketUrl(conference.id, ada.token));
  const total = LIMITS.historyMax * 2 + 7;
  for (let i = 1; i <= total; i++) {
    // Every third text is private to Ada herself, so Bob's pages must skip them.
    writer.send({ type: "text", to: i % 3 === 0 ? [ada.memberId] : "all", text: `n${i}` });
  }
  await writer.next((m) => m.type === "text" && m.text === `n${total}`);

  const resumed = await rawSocket(t.api.socketUrl(conference.id, bob.token, 5));
  await resumed.next((m) => m.type === "history" && !m.more);
  const pages = resumed.received.filter((m) => m.type === "history");
  assert.ok(pages.length >= 2, "more than one page");
  const got = pages.flatMap((p) => (p.type === "history" ? p.messages.map((m) => m.text) : []));
  const expected: string[] = [];
  for (let i = 6; i <= total; i++) if (i % 3 !== 0) expected.push(`n${i}`);
  assert.deepEqual(got, expected);
  const newestForBob = expected.at(-1);
  assert.ok(
    pages.slice(0, -1).every((p) => p.type === "history" && p.more === true),
    "all but the last page say more",
  );

  // A fresh connection (no since) gets only the newest page.
  const fresh = await rawSocket(t.api.socketUrl(conference.id, bob.token));
  const history = await fresh.next((m) => m.type === "history");
  assert.equal(history.type === "history" && history.messages.length, LIMITS.historyMax);
  assert.equal(history.type === "history" && history.messages.at(-1)?.text, newestForBob);
  for (const s of [writer, resumed, fresh]) s.socket.close();
});

test("a ping is answered with a pong", async () => {
  const { conference, ada } = await pair();
  const socket = await rawSocket(t.api.socketUrl(conference.id, ada.token));
  socket.send({ type: "ping" });
  await socket.next((m) => m.type === "pong");
  socket.socket.close();
});

test("a client resuming after a long drop gets all it missed once, and its queued text once", async () => {
  const { conference, ada, bob } = await pair();
  const bobClient = nodeClient(t.api, conference.id, bob.token);
  bobClient.connect();
  await untilStatus(bobClient, "open");
  const writer = await rawSocket(t.api.socketUrl(conference.id, ada.token));
  (bobClient as unknown as { socket: { terminate(): void } }).socket.terminate();
  await untilStatus(bobClient, "reconnecting");
  const queued = bobClient.sendText("all", "written offline");
  const missed = LIMITS.historyMax + 50;
  for (let i = 1; i <= missed; i++) writer.send({ type: "text", to: "all", text: `m${i}` });
  await writer.next((m) => m.type === "text" && m.text === `m${missed}`);
  await untilStatus(bobClient, "open");
  await queued;
  const seen = bobClient.room.chat.map((e) => e.message.text);
  for (let i = 1; i <= missed; i++) assert.equal(seen.filter((s) => s === `m${i}`).length, 1, `m${i} once`);
  await writer.next((m) => m.type === "text" && m.text === "written offline");
  assert.equal(texts(writer.received).filter((m) => m.text === "written offline").length, 1);
  bobClient.close();
  writer.socket.close();
});
