import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { test } from "node:test";
import type { ConferenceClient } from "@roundtable/client-core";
import { VoiceSession } from "@roundtable/client-core";
import { startTestServer } from "../../server/test/harness.ts";
import { openClient } from "../src/connect.ts";
import { type ReceiveCounters, WeriftMediaEngine } from "../src/WeriftMediaEngine.ts";

/** `shared/` sits beside the repository (CI clones it there). */
const SPEECH = resolve(import.meta.dirname, "../../../../shared/fixtures/speech.wav");
/** One second of 20 ms frames. */
const SECOND = 50;

interface Member {
  id: string;
  client: ConferenceClient;
  engine: WeriftMediaEngine;
  session: VoiceSession;
  offers: number;
}

const rmsOf = (c: ReceiveCounters) => (c.samples === 0 ? 0 : Math.sqrt(c.sumSquares / c.samples));
const totalPackets = (m: Member) => m.engine.stats().slots.reduce((sum, s) => sum + s.packets, 0);

/**
 * Resolves once `ready()` holds, checking it whenever a packet arrives or a room changes: the
 * test follows counters and messages, never the clock. The timeout only turns a hang into a failure.
 */
function until(members: Member[], ready: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  if (ready()) return Promise.resolve();
  return new Promise((resolvePromise, reject) => {
    const offs: (() => void)[] = [];
    const done = (error?: Error) => {
      clearTimeout(timer);
      for (const off of offs) off();
      if (error) reject(error);
      else resolvePromise();
    };
    const check = () => {
      if (ready()) done();
    };
    const timer = setTimeout(() => done(new Error(`timed out waiting until ${what}`)), timeoutMs);
    for (const m of members) {
      offs.push(m.engine.on("packet", check), m.engine.on("state", check), m.client.room.on("change", check));
    }
  });
}

test("voice through the server: to all, a whisper to one, back to all, without renegotiating", {
  skip: !existsSync(SPEECH) && `missing ${SPEECH}`,
  timeout: 60_000,
}, async () => {
  const t = await startTestServer({ RTC_LISTEN_ADDRESS: "127.0.0.1", RTC_ANNOUNCED_ADDRESSES: "127.0.0.1" });
  const members: Member[] = [];
  const playback = new AbortController();
  try {
    const conference = await t.api.createConference("Voices");
    await t.api.build(conference.id, conference.hostToken);
    for (const name of ["Ana", "Ben", "Cleo"]) {
      const registered = await t.api.register(conference.id, { name });
      const client = await openClient(t.api, conference.id, registered.token);
      const engine = new WeriftMediaEngine({
        bindAddress: "127.0.0.1",
        memberOf: (slot) => client.room.memberInSlot(slot),
      });
      const member: Member = {
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
    }
    const [a, b, c] = members as [Member, Member, Member];
    for (const m of members) m.session.start();
    await until(members, () => members.every((m) => m.engine.state === "connected"), "every peer connected");

    const played = a.engine.playWav(SPEECH, { loops: 3, signal: playback.signal });

    // (a) To everyone: both listeners get Ana on a slot bound to her, and it is speech, not silence.
    await until(
      members,
      () => b.engine.heardFrom(a.id).packets >= SECOND && c.engine.heardFrom(a.id).packets >= SECOND,
      "both listeners heard a second of Ana",
    );
    for (const listener of [b, c]) {
      assert.ok(listener.client.room.slots.includes(a.id), "a slot is bound to Ana");
      assert.equal(listener.client.room.seat(a.id)?.whisper, false);
      const heard = listener.engine.heardFrom(a.id);
      assert.ok(rmsOf(heard) > 0.01, `decoded speech RMS ${rmsOf(heard)} is well above silence`);
      assert.equal(heard.lost, 0);
    }
    await until(members, () => b.client.room.seat(a.id)?.speaking === true, "Ben sees Ana speaking");

    // (b) A whisper to Ben: Ben keeps hearing Ana, Cleo's slot is freed and gets nothing more.
    a.session.setTarget([b.id]);
    await until(
      members,
      () => !c.client.room.slots.includes(a.id) && b.client.room.seat(a.id)?.whisper === true,
      "Cleo lost Ana's slot and Ben hears a whisper",
    );
    // Let anything already in flight to Cleo land before taking her counts.
    const settle = b.engine.heardFrom(a.id).packets + 5;
    await until(members, () => b.engine.heardFrom(a.id).packets >= settle, "Ben heard 5 more packets");
    const cleoTotal = totalPackets(c);
    const cleoFromAna = c.engine.heardFrom(a.id).packets;
    const benFromAna = b.engine.heardFrom(a.id).packets;
    await until(
      members,
      () => b.engine.heardFrom(a.id).packets >= benFromAna + SECOND,
      "Ben heard another second of the whisper",
    );
    assert.equal(totalPackets(c), cleoTotal, "Cleo received no packet during the whisper");
    assert.equal(c.engine.heardFrom(a.id).packets, cleoFromAna);
    assert.ok(!c.client.room.slots.includes(a.id));

    // (c) Back to everyone: Cleo hears Ana again on the same peer connection.
    a.session.setTarget("all");
    await until(
      members,
      () =>
        c.engine.heardFrom(a.id).packets >= cleoFromAna + SECOND &&
        c.client.room.slots.includes(a.id) &&
        b.client.room.seat(a.id)?.whisper === false,
      "Cleo heard Ana again",
    );
    assert.ok(rmsOf(c.engine.heardFrom(a.id)) > 0.01);
    assert.deepEqual(
      members.map((m) => m.offers),
      [1, 1, 1],
      "no renegotiation",
    );
    playback.abort();
    const { sent } = await played;
    assert.ok(sent >= 3 * SECOND, `Ana sent ${sent} packets`);
  } finally {
    playback.abort();
    for (const m of members) {
      m.session.stop();
      m.client.close();
    }
    await t.stop();
  }
});
