import assert from "node:assert/strict";
import { test } from "node:test";
import { FRAME_SAMPLES, OpusDecoder, OpusEncoder } from "../src/audio/opus.ts";
import { emptyCounters, type SlotPacket, SlotReceiver } from "../src/SlotReceiver.ts";

const packet = (sequenceNumber: number, extra: Partial<SlotPacket> = {}): SlotPacket => ({
  sequenceNumber,
  timestamp: sequenceNumber * 960,
  ssrc: 1,
  bytes: 100,
  payload: Buffer.alloc(0),
  level: undefined,
  ...extra,
});

test("counts packets, gaps and late arrivals across the sequence wrap, for the slot and its member", () => {
  const slot = new SlotReceiver(undefined);
  const member = emptyCounters();
  for (const seq of [0xfffe, 0xffff, 1, 0, 1, 4]) slot.receive(packet(seq), 1000 + seq, member);
  // 0xfffe, 0xffff, (0 skipped) 1, then 0 late, 1 duplicate, (2, 3 skipped) 4.
  assert.deepEqual(
    {
      packets: slot.counters.packets,
      lost: slot.counters.lost,
      late: slot.counters.late,
      bytes: slot.counters.bytes,
    },
    { packets: 6, lost: 3, late: 2, bytes: 600 },
  );
  assert.deepEqual(member, { packets: 6, bytes: 600, lost: 3, late: 2, samples: 0, sumSquares: 0 });
  assert.equal(slot.counters.lastAt, 1004);
});

test("without a decoder the level comes from the RTP audio-level extension", () => {
  const slot = new SlotReceiver(undefined);
  assert.equal(slot.receive(packet(1, { level: 20 }), 0, undefined), undefined);
  assert.ok(Math.abs(slot.counters.level - 0.1) < 1e-9);
  slot.receive(packet(2, { level: 127 }), 0, undefined);
  assert.equal(slot.counters.level, 0);
  slot.receive(packet(3), 0, undefined);
  assert.equal(slot.counters.level, 0);
});

test("with a decoder the level and energy come from the decoded audio", () => {
  const encoder = new OpusEncoder();
  const slot = new SlotReceiver(new OpusDecoder());
  const member = emptyCounters();
  try {
    for (let f = 0; f < 10; f++) {
      const frame = Int16Array.from({ length: FRAME_SAMPLES }, (_, i) =>
        Math.round(8000 * Math.sin((2 * Math.PI * 300 * (f * FRAME_SAMPLES + i)) / 48000)),
      );
      const pcm = slot.receive(packet(f, { payload: encoder.encode(frame) }), f * 20, member);
      assert.equal(pcm?.length, FRAME_SAMPLES);
    }
    const expected = 8000 / 32768 / Math.SQRT2;
    assert.ok(Math.abs(slot.counters.level - expected) < 0.03, `level ${slot.counters.level}`);
    assert.equal(member.samples, 10 * FRAME_SAMPLES);
    assert.ok(Math.sqrt(member.sumSquares / member.samples) > expected * 0.7);
  } finally {
    encoder.delete();
    slot.close();
  }
});
