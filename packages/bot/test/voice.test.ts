import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { startTestServer } from "../../server/test/harness.ts";
import {
  closeMembers,
  joinVoice,
  LOOPBACK_RTC,
  rmsOf,
  SECOND,
  SPEECH,
  totalPackets,
  until,
  type VoiceMember,
} from "./voiceMembers.ts";

test("voice through the server: to all, a whisper to one, back to all, without renegotiating", {
  skip: !existsSync(SPEECH) && `missing ${SPEECH}`,
  timeout: 60_000,
}, async () => {
  const t = await startTestServer(LOOPBACK_RTC);
  const members: VoiceMember[] = [];
  const playback = new AbortController();
  try {
    const conference = await t.api.createConference("Voices");
    await t.api.build(conference.id, conference.hostToken);
    await joinVoice(members, t.api, conference.id, [
      ["Ana", t.api],
      ["Ben", t.api],
      ["Cleo", t.api],
    ]);
    const [a, b, c] = members as [VoiceMember, VoiceMember, VoiceMember];

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
    closeMembers(members);
    await t.stop();
  }
});
