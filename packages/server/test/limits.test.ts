import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CLOSE_CODES, type ServerMessage } from "@roundtable/protocol";
import { closeCodeOf, nodeClient, rawSocket, untilStatus } from "./clients.ts";
import { FakeClock, FakePeerFactory } from "./fakes.ts";
import { startTestServer, type TestServer } from "./harness.ts";

// Floods and capacity limits at the edges, each set low through the same environment variables an
// operator would use. Every test uses a FakeClock, so no bucket refills while a test runs.

async function withServer(
  env: Record<string, string>,
  run: (t: TestServer, clock: FakeClock) => Promise<void>,
) {
  const clock = new FakeClock();
  const peers = new FakePeerFactory();
  const t = await startTestServer(env, { clock, voicePeers: peers });
  try {
    await run(t, clock);
  } finally {
    await t.stop();
  }
}

async function builtPair(t: TestServer) {
  const conference = await t.api.createConference("Limits");
  const ada = await t.api.register(conference.id, { name: "Ada" });
  const bob = await t.api.register(conference.id, { name: "Bob" });
  await t.api.build(conference.id, conference.hostToken);
  return { conference, ada, bob };
}

const errors = (received: ServerMessage[]) => received.filter((m) => m.type === "error");

describe("signalling floods", () => {
  test("frames past a member's budget are dropped with one reply; a sustained flood is closed with 4029", async () => {
    await withServer({ SIGNALLING_BURST: "10", SIGNALLING_PER_SECOND: "5" }, async (t) => {
      const { conference, ada, bob } = await builtPair(t);
      const bystander = nodeClient(t.api, conference.id, bob.token);
      bystander.connect();
      await untilStatus(bystander, "open");
      const flooder = await rawSocket(t.api.socketUrl(conference.id, ada.token));
      for (let i = 0; i < 200; i++) flooder.send({ type: "voice-mute", muted: true });
      assert.equal((await flooder.closed).code, CLOSE_CODES.rateLimited);
      const limited = errors(flooder.received).filter((m) => m.type === "error" && m.code === "rate_limited");
      assert.equal(limited.length, 1, "one rate_limited reply for the whole flood, not one per frame");
      // Bob never noticed: his connection is open and still carries texts.
      assert.equal(bystander.status, "open");
      const echo = await bystander.sendText("all", "still fine");
      assert.equal(echo.text, "still fine");
      bystander.close();
    });
  });

  test("a dropped text is answered with its clientId, so the sender's send fails instead of hanging", async () => {
    await withServer({ SIGNALLING_BURST: "2", SIGNALLING_PER_SECOND: "1" }, async (t) => {
      const { conference, ada } = await builtPair(t);
      const socket = await rawSocket(t.api.socketUrl(conference.id, ada.token));
      for (const id of ["t1", "t2", "t3"]) socket.send({ type: "text", to: "all", text: id, clientId: id });
      const refused = await socket.next((m) => m.type === "error" && m.clientId === "t3");
      assert.equal(refused.type === "error" && refused.code, "rate_limited");
      await socket.next((m) => m.type === "text" && m.clientId === "t2");
      assert.deepEqual(
        (await t.api.history(conference.id, ada.token)).map((m) => m.text),
        ["t1", "t2"],
      );
      socket.socket.close();
    });
  });

  test("texts are limited per address too: two members behind one address share its budget", async () => {
    await withServer({ ADDRESS_TEXTS_PER_SECOND: "1" }, async (t) => {
      const { conference, ada, bob } = await builtPair(t);
      const a = await rawSocket(t.api.socketUrl(conference.id, ada.token));
      const b = await rawSocket(t.api.socketUrl(conference.id, bob.token));
      a.send({ type: "text", to: "all", text: "one", clientId: "a1" });
      await a.next((m) => m.type === "text" && m.clientId === "a1");
      b.send({ type: "text", to: "all", text: "two", clientId: "b1" });
      await b.next((m) => m.type === "text" && m.clientId === "b1");
      a.send({ type: "text", to: "all", text: "three", clientId: "a2" });
      const refused = await a.next((m) => m.type === "error" && m.clientId === "a2");
      assert.equal(refused.type === "error" && refused.code, "rate_limited");
      a.socket.close();
      b.socket.close();
    });
  });

  test("voice restarts are limited per member: each one costs the server a peer connection", async () => {
    await withServer({ VOICE_JOINS_PER_MINUTE: "2" }, async (t) => {
      const { conference, ada } = await builtPair(t);
      const socket = await rawSocket(t.api.socketUrl(conference.id, ada.token));
      for (let i = 0; i < 3; i++) socket.send({ type: "voice-join" });
      const refused = await socket.next((m) => m.type === "error");
      assert.equal(refused.type === "error" && refused.code, "rate_limited");
      assert.equal(socket.received.filter((m) => m.type === "voice-offer").length, 2);
      socket.socket.close();
    });
  });
});

describe("connections and capacity", () => {
  test("sockets open at once from one address are capped; closing one makes room", async () => {
    await withServer({ MAX_CONNECTIONS_PER_ADDRESS: "2" }, async (t) => {
      const { conference, ada, bob } = await builtPair(t);
      const first = await rawSocket(t.api.socketUrl(conference.id, ada.token));
      const second = await rawSocket(t.api.socketUrl(conference.id, bob.token));
      const third = await closeCodeOf(t.api.socketUrl(conference.id, ada.token));
      assert.equal(third.code, CLOSE_CODES.rateLimited);
      assert.match(third.reason, /too many connections from this address/);
      first.socket.close();
      await first.closed;
      // The server learns of the close a moment after the client: wait for its count, not a timer.
      while (t.server.guard.openConnections("127.0.0.1") > 1) await new Promise((r) => setImmediate(r));
      const again = await rawSocket(t.api.socketUrl(conference.id, ada.token));
      await again.next((m) => m.type === "history");
      again.socket.close();
      second.socket.close();
    });
  });

  test("connection attempts per address are rate limited, bad tokens included", async () => {
    await withServer({ CONNECTIONS_PER_MINUTE: "3" }, async (t) => {
      const { conference, ada } = await builtPair(t);
      const codes: number[] = [];
      for (let i = 0; i < 4; i++)
        codes.push((await closeCodeOf(t.api.socketUrl(conference.id, "wrong"))).code);
      assert.deepEqual(codes, [4001, 4001, 4001, CLOSE_CODES.rateLimited]);
      assert.equal(
        (await closeCodeOf(t.api.socketUrl(conference.id, ada.token))).code,
        CLOSE_CODES.rateLimited,
      );
    });
  });

  test("the server keeps at most MAX_CONFERENCES open conferences; ending one makes room", async () => {
    await withServer({ MAX_CONFERENCES: "2" }, async (t) => {
      const one = await t.api.createConference("One");
      await t.api.createConference("Two");
      await assert.rejects(t.api.createConference("Three"), { code: "server_full", status: 503 });
      await t.api.end(one.id, one.hostToken);
      await t.api.createConference("Three");
    });
  });
});

describe("voice floods", () => {
  test("members voicing from one address share its packet budget", async () => {
    await withServer(
      {
        ADDRESS_VOICE_PACKETS_PER_SECOND: "10",
        VOICE_PACKET_BURST: "1000",
        VOICE_PACKETS_PER_SECOND: "1000",
      },
      async (t) => {
        const { conference, ada, bob } = await builtPair(t);
        const a = await rawSocket(t.api.socketUrl(conference.id, ada.token));
        const b = await rawSocket(t.api.socketUrl(conference.id, bob.token));
        a.send({ type: "voice-join" });
        await a.next((m) => m.type === "voice-offer");
        b.send({ type: "voice-join" });
        await b.next((m) => m.type === "voice-offer");
        const room = t.server.voice.room(conference.id);
        const [adaPeer, bobPeer] = [room?.peerOf(ada.memberId), room?.peerOf(bob.memberId)];
        assert.ok(adaPeer && bobPeer);
        const packet = (n: number) => ({
          sequenceNumber: n,
          timestamp: n * 960,
          marker: false,
          payload: Buffer.from([n]),
          level: 30,
          voiced: true,
        });
        // The address allows a burst of 3 s worth (30 packets) between the two of them.
        for (let n = 0; n < 20; n++) adaPeer.onPacket(packet(n));
        for (let n = 0; n < 20; n++) bobPeer.onPacket(packet(n));
        assert.equal(room?.forwarded, 30);
        assert.equal(room?.dropped, 10);
        a.socket.close();
        b.socket.close();
      },
    );
  });
});
