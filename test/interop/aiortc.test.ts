/**
 * Voice from a WebRTC stack nobody here wrote: aiortc (Debian's python3-aiortc) answers the real
 * server's offer, with the product's own client core doing the signalling. Three members: P on
 * aiortc playing speech, A and B on werift bots. P hears A, P is heard, and whispers stay private
 * in both directions (A to B only: P gets nothing of A; P to A only: B gets nothing of P).
 *
 * Synchronisation follows counters, slot bindings and room changes, never the clock: "B heard
 * another second of A" is how long a whisper is watched. Deadlines only turn hangs into failures.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { type ConferenceClient, VoiceSession } from "@roundtable/client-core";
import { openClient } from "../../packages/bot/src/connect.ts";
import { type ReceiveCounters, WeriftMediaEngine } from "../../packages/bot/src/WeriftMediaEngine.ts";
import { startTestServer, type TestServer } from "../../packages/server/test/harness.ts";
import { AiortcMediaEngine } from "../clients/AiortcMediaEngine.ts";
import { until, type Watch } from "../process/waits.ts";

const ROOT = resolve(import.meta.dirname, "../..");
/** `shared/` sits beside the repository (CI clones it there). */
const SPEECH = resolve(ROOT, "../shared/fixtures/speech.wav");
const PYTHON = "/usr/bin/python3";
/** Packets of 20 ms: 50 are one second of voice. */
const SECOND = 50;
/** Level (0-1) a slot must show to count as a voice, VoiceSession's default speaking threshold. */
const AUDIBLE = 0.01;
const WAIT_MS = 20_000;

interface Member<E> {
  name: string;
  id: string;
  client: ConferenceClient;
  engine: E;
  session: VoiceSession;
  offers: number;
}

const rmsOf = (c: ReceiveCounters) => (c.samples === 0 ? 0 : Math.sqrt(c.sumSquares / c.samples));

let server: TestServer | undefined;
let p: Member<AiortcMediaEngine>;
let a: Member<WeriftMediaEngine>;
let b: Member<WeriftMediaEngine>;
const members: Member<AiortcMediaEngine | WeriftMediaEngine>[] = [];
const playback = new AbortController();
const playing: Promise<unknown>[] = [];

/** Every event that can make a condition true: packets, levels, connection states, room changes. */
function sources(): Watch[] {
  const watches: Watch[] = [];
  for (const m of members) {
    watches.push((check) => m.client.room.on("change", check));
    watches.push((check) => m.engine.on("state", check));
    watches.push((check) => m.session.on("status", check));
  }
  watches.push((check) => p.engine.on("levels", check));
  for (const m of [a, b]) watches.push((check) => m.engine.on("packet", check));
  return watches;
}

const waitFor = (ready: () => boolean, what: string) => until(ready, sources(), what, WAIT_MS);

/** P's slot carrying `memberId`, or -1. */
const slotAtP = (memberId: string) => p.client.room.slots.indexOf(memberId);

async function join<E extends AiortcMediaEngine | WeriftMediaEngine>(
  t: TestServer,
  conferenceId: string,
  name: string,
  engineFor: (memberOf: (slot: number) => string | undefined) => E,
): Promise<Member<E>> {
  const registered = await t.api.register(conferenceId, { name });
  const client = await openClient(t.api, conferenceId, registered.token);
  const engine = engineFor((slot) => client.room.memberInSlot(slot));
  const member: Member<E> = {
    name,
    id: registered.memberId,
    client,
    engine,
    session: new VoiceSession(client, engine),
    offers: 0,
  };
  client.on("message", (m) => {
    if (m.type === "voice-offer") member.offers++;
  });
  members.push(member);
  return member;
}

/** Records whether `seen()` ever held from now until `stop()`, checked on every room change. */
function watchFor(client: ConferenceClient, seen: () => boolean): { stop(): boolean } {
  let happened = seen();
  const off = client.room.on("change", () => {
    if (seen()) happened = true;
  });
  return {
    stop() {
      off();
      return happened || seen();
    },
  };
}

describe("voice with aiortc (Python) through the real server", { timeout: 120_000 }, () => {
  before(async () => {
    // A missing stack fails here, loudly: .ci/run installs python3-aiortc.
    const probe = spawnSync(PYTHON, ["-c", "import aiortc, numpy"], { encoding: "utf8" });
    assert.equal(probe.status, 0, `${PYTHON} cannot import aiortc (Debian: python3-aiortc): ${probe.stderr}`);
    assert.ok(existsSync(SPEECH), `test speech is missing: ${SPEECH}`);
    server = await startTestServer({ RTC_LISTEN_ADDRESS: "127.0.0.1", RTC_ANNOUNCED_ADDRESSES: "127.0.0.1" });
    const t = server;
    const conference = await t.api.createConference("Interop");
    await t.api.build(conference.id, conference.hostToken);
    p = await join(t, conference.id, "P", (memberOf) => new AiortcMediaEngine({ play: SPEECH, memberOf }));
    const bot = (memberOf: (slot: number) => string | undefined) =>
      new WeriftMediaEngine({ bindAddress: "127.0.0.1", memberOf });
    a = await join(t, conference.id, "A", bot);
    b = await join(t, conference.id, "B", bot);
  });

  after(async () => {
    playback.abort();
    await Promise.allSettled(playing);
    for (const m of members) {
      m.session.stop();
      m.engine.close();
      m.client.close();
    }
    if (p) await p.engine.exited;
    await server?.stop();
  });

  it("connects: aiortc's answer is accepted and ICE and DTLS complete", async (t) => {
    const started = performance.now();
    for (const m of members) m.session.start();
    await waitFor(() => p.engine.state === "connected", "P (aiortc) connected");
    const aiortcMs = performance.now() - started;
    await waitFor(
      () => members.every((m) => m.engine.state === "connected" && m.session.status === "connected"),
      "every peer connected and every voice session connected",
    );
    t.diagnostic(
      `aiortc connected ${Math.round(aiortcMs)} ms after voice start; all three ${Math.round(performance.now() - started)} ms`,
    );
    assert.equal(p.session.status, "connected");
  });

  it("P hears A: a slot bound to A carries A's speech and P's room marks A speaking", async (t) => {
    playing.push(a.engine.playWav(SPEECH, { loops: 20, signal: playback.signal }));
    await waitFor(
      () =>
        slotAtP(a.id) >= 0 &&
        p.engine.framesFrom(a.id) >= SECOND &&
        p.engine.slotLevel(slotAtP(a.id)) >= AUDIBLE &&
        p.client.room.seat(a.id)?.speaking === true,
      "P heard a second of A, loud, and sees A speaking",
    );
    const slot = slotAtP(a.id);
    const stats = await p.engine.stats();
    const atSlot = stats[slot];
    assert.ok(atSlot && atSlot.packets >= SECOND, `P's slot ${slot} received ${atSlot?.packets} packets`);
    assert.equal(p.client.room.seat(a.id)?.whisper, false);
    t.diagnostic(
      `P slot ${slot} (A): ${atSlot.packets} packets, ${atSlot.frames} frames, level ${p.engine.slotLevel(slot).toFixed(3)}`,
    );
  });

  it("P is heard: B receives P's speech and B's room marks P speaking", async (t) => {
    await waitFor(
      () =>
        b.engine.heardFrom(p.id).packets >= SECOND &&
        a.engine.heardFrom(p.id).packets >= SECOND &&
        b.client.room.seat(p.id)?.speaking === true,
      "A and B heard a second of P and B sees P speaking",
    );
    const heard = b.engine.heardFrom(p.id);
    assert.ok(rmsOf(heard) > AUDIBLE, `B decoded P at RMS ${rmsOf(heard)}, well above silence`);
    assert.equal(heard.late, 0);
    t.diagnostic(`B from P: ${heard.packets} packets, ${heard.lost} lost, RMS ${rmsOf(heard).toFixed(3)}`);
  });

  it("A whispers to B only: B keeps hearing A, P gets nothing of A (and still hears B)", async (t) => {
    // B talks too, so P's link demonstrably stays alive while A's whisper must not reach it.
    playing.push(b.engine.playWav(SPEECH, { loops: 20, signal: playback.signal }));
    await waitFor(() => slotAtP(b.id) >= 0 && p.engine.framesFrom(b.id) >= 10, "P hears B");
    a.session.setTarget([b.id]);
    await waitFor(
      () => slotAtP(a.id) < 0 && b.client.room.seat(a.id)?.whisper === true,
      "P lost A's slot and B hears a whisper",
    );
    // Let what was already in flight to P land, and the speaking hold run out, before counting.
    const settle = b.engine.heardFrom(a.id).packets + 10;
    await waitFor(
      () => b.engine.heardFrom(a.id).packets >= settle && p.client.room.seat(a.id)?.speaking === false,
      "B heard 10 more packets of A and P no longer sees A speaking",
    );
    const bSlot = slotAtP(b.id);
    const before = await p.engine.stats();
    const fromB = p.engine.framesFrom(b.id);
    const fromA = p.engine.framesFrom(a.id);
    const benFromA = b.engine.heardFrom(a.id).packets;
    const loudElsewhere: string[] = [];
    const offLevels = p.engine.on("levels", (levels) => {
      levels.forEach((level, slot) => {
        if (slot !== bSlot && level > 0) loudElsewhere.push(`slot ${slot} at ${level}`);
      });
    });
    const aSpeaking = watchFor(p.client, () => p.client.room.seat(a.id)?.speaking === true);
    try {
      await waitFor(
        () => b.engine.heardFrom(a.id).packets >= benFromA + SECOND,
        "B heard another second of A's whisper",
      );
    } finally {
      offLevels();
    }
    const afterStats = await p.engine.stats();
    assert.equal(aSpeaking.stop(), false, "P's room never showed A speaking during the whisper");
    assert.deepEqual(loudElsewhere, [], "no level on P's slots other than B's");
    assert.equal(p.engine.framesFrom(a.id), fromA, "P decoded nothing of A");
    assert.ok(!p.client.room.slots.includes(a.id));
    afterStats.forEach((s, slot) => {
      if (slot === bSlot) return;
      assert.deepEqual(s, before[slot], `P's slot ${slot} received nothing during the whisper`);
    });
    const bGained = (afterStats[bSlot]?.packets ?? 0) - (before[bSlot]?.packets ?? 0);
    assert.ok(bGained >= SECOND / 2, `P kept receiving B: ${bGained} packets`);
    assert.ok(p.engine.framesFrom(b.id) > fromB);
    t.diagnostic(`during A's whisper: B got ${SECOND}+ packets of A, P got 0 of A and ${bGained} of B`);
  });

  it("P whispers to A only: A keeps hearing P, B gets nothing of P", async (t) => {
    p.session.setTarget([a.id]);
    await waitFor(
      () => !b.client.room.slots.includes(p.id) && a.client.room.seat(p.id)?.whisper === true,
      "B lost P's slot and A hears P's whisper",
    );
    const settle = a.engine.heardFrom(p.id).packets + 10;
    await waitFor(
      () => a.engine.heardFrom(p.id).packets >= settle && b.client.room.seat(p.id)?.speaking === false,
      "A heard 10 more packets of P and B no longer sees P speaking",
    );
    const bFromP = b.engine.heardFrom(p.id).packets;
    const aFromP = a.engine.heardFrom(p.id).packets;
    const bSlots = b.engine.stats().slots.map((s) => s.packets);
    const aSlotAtB = b.client.room.slots.indexOf(a.id);
    const pSpeaking = watchFor(b.client, () => b.client.room.seat(p.id)?.speaking === true);
    await waitFor(
      () => a.engine.heardFrom(p.id).packets >= aFromP + SECOND,
      "A heard another second of P's whisper",
    );
    assert.equal(pSpeaking.stop(), false, "B's room never showed P speaking during the whisper");
    assert.equal(b.engine.heardFrom(p.id).packets, bFromP, "B received no packet of P");
    b.engine.stats().slots.forEach((s, slot) => {
      if (slot !== aSlotAtB)
        assert.equal(s.packets, bSlots[slot], `B's slot ${slot} received nothing during P's whisper`);
    });
    assert.ok(rmsOf(a.engine.heardFrom(p.id)) > AUDIBLE);
    assert.deepEqual(
      members.map((m) => m.offers),
      [1, 1, 1],
      "no renegotiation",
    );
    const stats = await p.engine.stats();
    t.diagnostic(
      `P received ${stats.reduce((n, s) => n + s.packets, 0)} packets in all; A got ${a.engine.heardFrom(p.id).packets} of P, B ${bFromP}`,
    );
  });
});
