import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { CLOSE_CODES, type ServerMessage } from "@roundtable/protocol";
import { closeCodeOf, rawSocket } from "./clients.ts";
import { FakePeerFactory } from "./fakes.ts";
import { startTestServer } from "./harness.ts";
import { solidImage } from "./images.ts";

// What is private stays private: a whisper (voice) and a private text reach their audience and the
// sender, and nobody else: not another member's socket, not their history, not the server's logs,
// even at the most verbose log level. Tokens never appear in logs either.

test("a private text and a whisper reach no one else: not other clients, not history, not logs", async () => {
  const lines: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const peers = new FakePeerFactory();
  const t = await startTestServer({ LOG_LEVEL: "trace" }, { logger: true, logStream, voicePeers: peers });
  try {
    const conference = await t.api.createConference("Private matters");
    const avatar = new Blob([new Uint8Array(await solidImage("png"))], { type: "image/png" });
    const ada = await t.api.register(conference.id, { name: "Ada", avatar });
    const bob = await t.api.register(conference.id, { name: "Bob" });
    const cleo = await t.api.register(conference.id, { name: "Cleo" });
    await t.api.build(conference.id, conference.hostToken);
    const [a, b, c] = await Promise.all(
      [ada, bob, cleo].map((m) => rawSocket(t.api.socketUrl(conference.id, m.token))),
    );
    if (!a || !b || !c) throw new Error("sockets");

    // Text: one private to Bob, then a public marker every socket must see before we look.
    const secret = "the surprise party is on Friday";
    a.send({ type: "text", to: [bob.memberId], text: secret, clientId: "p1" });
    a.send({ type: "text", to: "all", text: "marker", clientId: "p2" });
    await Promise.all([a, b, c].map((s) => s.next((m) => m.type === "text" && m.text === "marker")));
    const saw = (received: ServerMessage[]) => received.some((m) => m.type === "text" && m.text === secret);
    assert.ok(saw(a.received) && saw(b.received), "the sender and the recipient have it");
    assert.ok(!saw(c.received), "Cleo's socket never carried it");
    const historyTexts = async (token: string) =>
      (await t.api.history(conference.id, token)).map((m) => m.text);
    assert.ok((await historyTexts(bob.token)).includes(secret));
    assert.deepEqual(await historyTexts(cleo.token), ["marker"]);

    // Voice: everyone joins; Ada whispers to Bob; her packets go to Bob's peer only.
    for (const s of [a, b, c]) {
      s.send({ type: "voice-join" });
      await s.next((m) => m.type === "voice-offer");
    }
    const room = t.server.voice.room(conference.id);
    const peerOf = (id: string) => {
      const peer = peers.peers.find((p) => p === room?.peerOf(id));
      if (!peer) throw new Error(`no peer for ${id}`);
      return peer;
    };
    a.send({ type: "voice-target", to: [bob.memberId] });
    // A ping after the target: once its pong is back, the target has been applied (frames run in order).
    a.send({ type: "ping" });
    await a.next((m) => m.type === "pong");
    for (let n = 1; n <= 25; n++)
      peerOf(ada.memberId).onPacket({
        sequenceNumber: n,
        timestamp: n * 960,
        marker: false,
        payload: Buffer.from([n]),
        level: 20,
        voiced: true,
      });
    assert.equal(peerOf(bob.memberId).sent.length, 25, "Bob hears every packet of the whisper");
    assert.equal(peerOf(cleo.memberId).sent.length, 0, "Cleo hears nothing");
    await b.next((m) => m.type === "voice-slot" && m.memberId === ada.memberId && m.whisper);
    assert.ok(
      !c.received.some((m) => m.type === "voice-slot" && m.memberId === ada.memberId),
      "Cleo is not even told that Ada speaks",
    );
    // Cleo learns Ada has voice (the room shows it) but never whom Ada talks to.
    assert.ok(!JSON.stringify(c.received).includes(`"to":["${bob.memberId}"]`));

    // Token mistakes and another conference's token get logged as requests, without the token.
    const other = await t.api.createConference("Elsewhere");
    assert.equal((await closeCodeOf(t.api.socketUrl(other.id, ada.token))).code, CLOSE_CODES.unauthorized);
    await assert.rejects(t.api.build(conference.id, ada.token), { code: "forbidden" });
    await t.api.end(conference.id, conference.hostToken);
    for (const s of [a, b, c]) await s.closed;

    const log = lines.join("");
    assert.ok(log.length > 1000, "the log really was written, at trace level");
    assert.ok(log.includes("/api/conferences/"), "requests were logged");
    for (const [what, value] of [
      ["the private text", secret],
      ["the host token", conference.hostToken],
      ["other's host token", other.hostToken],
      ["Ada's token", ada.token],
      ["Bob's token", bob.token],
      ["Cleo's token", cleo.token],
    ] as const)
      assert.ok(!log.includes(value), `${what} must never be logged`);
  } finally {
    await t.stop();
  }
});
