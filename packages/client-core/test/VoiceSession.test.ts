import assert from "node:assert/strict";
import { test } from "node:test";
import type { ServerMessage } from "@roundtable/protocol";
import type { IceCandidate, MediaEngine, TransportFailure, VoiceOffer } from "../src/VoiceSession.ts";
import { VoiceSession } from "../src/VoiceSession.ts";
import { attach, clientOverFakeSockets, ManualScheduler } from "./builders.ts";

class FakeEngine implements MediaEngine {
  onCandidate: ((c: IceCandidate) => void) | null = null;
  onConnected: (() => void) | null = null;
  onFailed: ((stage: TransportFailure) => void) | null = null;
  iceConnected = false;
  hungUp = 0;
  offers: VoiceOffer[] = [];
  muted = false;
  levels: number[] = [];
  closed = 0;
  async answer(offer: VoiceOffer): Promise<string> {
    this.offers.push(offer);
    return `answer-${this.offers.length}`;
  }
  setMuted(muted: boolean): void {
    this.muted = muted;
  }
  slotLevel(slot: number): number {
    return this.levels[slot] ?? 0;
  }
  hangUp(): void {
    this.hungUp++;
  }
  close(): void {
    this.closed++;
  }
}

function setup() {
  const scheduler = new ManualScheduler();
  let now = 0;
  const clock = { now: () => now };
  const { client, sockets, last: socket } = clientOverFakeSockets(scheduler);
  const engine = new FakeEngine();
  const voice = new VoiceSession(client, engine, { scheduler, clock });
  const open = () => attach(socket());
  const sentTypes = () => (socket().sent as { type: string }[]).map((m) => m.type);
  /** Runs the 20 ms level poll `n` times, moving the clock with it. */
  const tick = (n = 1) => {
    for (let i = 0; i < n; i++) {
      now += 20;
      const polls = scheduler.tasks.filter((t) => !t.cancelled && t.ms === 20);
      scheduler.tasks = scheduler.tasks.filter((t) => !polls.includes(t));
      for (const p of polls) p.fn();
    }
  };
  return { client, engine, voice, socket, open, sentTypes, tick, sockets, scheduler };
}

const offer: ServerMessage = {
  type: "voice-offer",
  sdp: "v=0 offer",
  uplinkMid: "0",
  slots: ["1", "2"],
  iceServers: [],
};
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

test("joins once the socket is open and answers the server's offer", async () => {
  const { client, engine, voice, socket, open, sentTypes } = setup();
  client.connect();
  voice.start();
  assert.equal(voice.status, "connecting");
  open();
  assert.deepEqual(sentTypes(), ["voice-join"]);
  socket().receive(offer);
  await flush();
  assert.deepEqual(engine.offers, [offer]);
  assert.deepEqual(socket().sent.at(-1), { type: "voice-answer", sdp: "answer-1" });
  assert.equal(voice.status, "connecting", "not connected before the server took the answer");
  socket().receive({ type: "voice-accepted" });
  assert.equal(voice.status, "connecting", "nor before ICE and DTLS complete");
  engine.onConnected?.();
  assert.equal(voice.status, "connected");
});

test("connected needs both the server's acceptance and the transport, in either order", async () => {
  const { client, engine, voice, socket, open } = setup();
  client.connect();
  open();
  voice.start();
  socket().receive(offer);
  await flush();
  engine.onConnected?.();
  assert.equal(voice.status, "connecting");
  socket().receive({ type: "voice-accepted" });
  assert.equal(voice.status, "connected");
});

test("a refused answer hangs up and says why, without retrying", async () => {
  const { client, engine, voice, socket, open, sentTypes } = setup();
  client.connect();
  open();
  voice.start();
  socket().receive(offer);
  await flush();
  socket().receive({ type: "voice-closed", reason: "answer_refused", message: "no fingerprint" });
  assert.equal(voice.status, "failed");
  assert.deepEqual(voice.failure, { kind: "refused", message: "no fingerprint" });
  assert.ok(engine.hungUp > 0);
  assert.deepEqual(sentTypes(), ["voice-join", "voice-answer", "voice-leave"]);
});

test("a failed handshake is retried at once; the retry button starts a fresh series", async () => {
  const { client, engine, voice, socket, open, sentTypes, scheduler } = setup();
  client.connect();
  open();
  voice.start();
  socket().receive(offer);
  await flush();
  engine.iceConnected = true;
  engine.onFailed?.("dtls");
  assert.deepEqual(sentTypes(), ["voice-join", "voice-answer", "voice-join"], "no waiting");
  socket().receive({ type: "voice-closed", reason: "connection_failed", message: "DTLS failed" });
  assert.equal(sentTypes().at(-1), "voice-join", "the server's failure notice also retries at once");
  assert.equal(voice.status, "connecting");
  // Attempts within one deadline are bounded: the fourth failure is reported.
  engine.onFailed?.("dtls");
  engine.onFailed?.("dtls");
  assert.equal(voice.status, "failed");
  assert.deepEqual(voice.failure, { kind: "handshake" });
  assert.ok(!scheduler.pendingDelays.includes(9000), "the deadline is cancelled");
  voice.retry();
  assert.equal(voice.status, "connecting");
  assert.equal(voice.failure, undefined);
  assert.equal(sentTypes().at(-1), "voice-join");
});

test("within the deadline the member is told why: no offer, a blocked network, a failed relay", async () => {
  const noOffer = setup();
  noOffer.client.connect();
  noOffer.open();
  noOffer.voice.start();
  noOffer.scheduler.run(9000);
  assert.equal(noOffer.voice.status, "failed");
  assert.deepEqual(noOffer.voice.failure, { kind: "no_offer" });

  for (const relayed of [false, true]) {
    const { client, voice, socket, open, scheduler, sentTypes } = setup();
    client.connect();
    open();
    voice.start();
    const iceServers = relayed ? [{ urls: ["turns:turn.example:443"], username: "u", credential: "c" }] : [];
    socket().receive({ ...offer, iceServers } as ServerMessage);
    await flush();
    socket().receive({ type: "voice-accepted" });
    scheduler.run(9000);
    assert.equal(voice.status, "failed");
    assert.deepEqual(voice.failure, { kind: "blocked", relayed });
    assert.equal(sentTypes().at(-1), "voice-leave", "the server's peer is freed at once");
  }
});

test("relays local candidates, targets and mute", async () => {
  const { client, engine, voice, socket, open } = setup();
  client.connect();
  open();
  voice.start();
  socket().receive(offer);
  await flush();
  socket().receive({ type: "voice-accepted" });
  engine.onCandidate?.({
    candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host",
    sdpMid: "0",
    sdpMLineIndex: 0,
  });
  voice.setTarget(["b", "b"]);
  voice.setMuted(true);
  assert.deepEqual(socket().sent.slice(-3), [
    {
      type: "voice-candidate",
      candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host",
      sdpMid: "0",
      sdpMLineIndex: 0,
    },
    { type: "voice-target", to: ["b"] },
    { type: "voice-mute", muted: true },
  ]);
  assert.equal(engine.muted, true);
});

test("after a reconnect it joins again and re-applies the target and mute state", async () => {
  const { client, voice, socket, open, sentTypes, sockets, engine } = setup();
  client.connect();
  open();
  voice.start();
  voice.setTarget(["b"]);
  voice.setMuted(true);
  socket().drop();
  assert.equal(voice.status, "connecting");
  (client as unknown as { connect(): void }).connect();
  assert.equal(sockets.length, 2);
  open();
  socket().receive(offer);
  await flush();
  assert.deepEqual(sentTypes(), ["voice-join", "voice-answer"], "nothing before the server takes the answer");
  socket().receive({ type: "voice-accepted" });
  assert.deepEqual(sentTypes(), ["voice-join", "voice-answer", "voice-target", "voice-mute"]);
  assert.equal(engine.offers.length, 1);
});

test("a bound slot with sound marks its member speaking, with a hold against flicker", async () => {
  const { client, engine, voice, socket, open, tick } = setup();
  client.connect();
  open();
  voice.start();
  socket().receive(offer, { type: "voice-slot", slot: 1, memberId: "b", whisper: true });
  assert.equal(client.room.seat("b")?.whisper, true);
  engine.levels[1] = 0.2;
  tick();
  assert.equal(client.room.seat("b")?.speaking, true);
  engine.levels[1] = 0;
  tick(5);
  assert.equal(client.room.seat("b")?.speaking, true, "held for 300 ms");
  tick(20);
  assert.equal(client.room.seat("b")?.speaking, false);
});

test("a freed slot stops its member speaking at once", () => {
  const { client, engine, voice, socket, open, tick } = setup();
  client.connect();
  open();
  voice.start();
  socket().receive({ type: "voice-slot", slot: 0, memberId: "b", whisper: false });
  engine.levels[0] = 0.5;
  tick();
  assert.equal(client.room.seat("b")?.speaking, true);
  socket().receive({ type: "voice-slot", slot: 0, memberId: null, whisper: false });
  assert.equal(client.room.seat("b")?.speaking, false);
  tick();
  assert.equal(client.room.seat("b")?.speaking, false);
});

test("stop leaves voice, closes the engine and cancels the poll", () => {
  const { client, engine, voice, open, sentTypes, scheduler } = setup();
  client.connect();
  open();
  voice.start();
  assert.ok(scheduler.pendingDelays.includes(20));
  voice.stop();
  assert.ok(!scheduler.pendingDelays.includes(20));
  voice.stop();
  assert.equal(sentTypes().at(-1), "voice-leave");
  assert.equal(engine.closed, 1);
  assert.equal(voice.status, "off");
});

test("an answer to a superseded offer neither answers nor marks voice failed", async () => {
  const { client, engine, voice, socket, open } = setup();
  client.connect();
  open();
  voice.start();
  let release: (sdp: string) => void = () => {};
  const slowFirst = new Promise<string>((resolve) => {
    release = resolve;
  });
  const realAnswer = engine.answer.bind(engine);
  let calls = 0;
  engine.answer = (o) => (++calls === 1 ? slowFirst : realAnswer(o));
  socket().receive(offer);
  socket().receive({ ...offer, sdp: "v=0 second" } as ServerMessage);
  await flush();
  release("stale answer");
  await flush();
  const answers = (socket().sent as { type: string; sdp?: string }[]).filter(
    (m) => m.type === "voice-answer",
  );
  assert.deepEqual(
    answers.map((a) => a.sdp),
    ["answer-1"],
  );
  socket().receive({ type: "voice-accepted" });
  engine.onConnected?.();
  assert.equal(voice.status, "connected");
});

test("target and mute chosen before voice connects are applied once it does", async () => {
  const { client, voice, socket, open, sentTypes } = setup();
  client.connect();
  open();
  voice.setTarget(["b"]);
  voice.setMuted(true);
  assert.deepEqual(sentTypes(), []);
  voice.start();
  socket().receive(offer);
  await flush();
  socket().receive({ type: "voice-accepted" });
  assert.deepEqual(sentTypes(), ["voice-join", "voice-answer", "voice-target", "voice-mute"]);
});

test("a join refused for restarting too often is tried again later; an ended conference stops voice", async () => {
  const { client, engine, voice, socket, open, sentTypes, scheduler } = setup();
  client.connect();
  open();
  voice.start();
  assert.deepEqual(sentTypes(), ["voice-join"]);
  socket().receive({ type: "error", code: "rate_limited", message: "voice restarted too often" });
  assert.equal(voice.status, "connecting");
  assert.ok(scheduler.pendingDelays.includes(3000), "a rejoin is scheduled");
  scheduler.run(3000);
  assert.deepEqual(sentTypes(), ["voice-join", "voice-join"]);
  // A text's own rate limit (it carries a clientId) is not about voice.
  socket().receive({ type: "error", code: "rate_limited", message: "slow down", clientId: "t1" });
  assert.ok(!scheduler.pendingDelays.includes(3000));
  socket().receive(offer);
  await flush();
  socket().receive({ type: "voice-accepted" });
  engine.onConnected?.();
  assert.equal(voice.status, "connected");
  socket().drop(4010, "ended");
  assert.equal(voice.status, "off");
  assert.equal(engine.closed, 1);
});
