import assert from "node:assert/strict";
import { test } from "node:test";
import { Red, RedHandler, RtpHeader, RtpPacket } from "werift";
import { AudienceLoss, combinedLoss } from "../src/voice/repair/AudienceLoss.ts";
import { LossMeter } from "../src/voice/repair/LossMeter.ts";
import { NackTracker } from "../src/voice/repair/NackTracker.ts";
import { ReportedLoss } from "../src/voice/repair/ReportedLoss.ts";
import { buildRed, SlotRedEncoder } from "../src/voice/repair/red.ts";

const OPUS = 111;
const frame = (n: number) => Buffer.from(`opus frame ${n}`);

/** The blocks of a RED payload as werift (an implementation nobody here wrote) reads them. */
function blocksOf(payload: Buffer) {
  return Red.deSerialize(payload).blocks.map((b) => ({
    payloadType: b.blockPT,
    offset: b.timestampOffset ?? 0,
    payload: b.block.toString(),
  }));
}

test("a RED payload is RFC 2198: redundant blocks oldest first, then the primary", () => {
  const red = buildRed(OPUS, frame(3), [
    { payloadType: OPUS, offset: 1920, payload: frame(1) },
    { payloadType: OPUS, offset: 960, payload: frame(2) },
  ]);
  assert.deepEqual(blocksOf(red), [
    { payloadType: OPUS, offset: 1920, payload: "opus frame 1" },
    { payloadType: OPUS, offset: 960, payload: "opus frame 2" },
    { payloadType: OPUS, offset: 0, payload: "opus frame 3" },
  ]);
  // F=1, PT, 14-bit offset, 10-bit length; then F=0 and the primary's PT.
  assert.equal(red.readUInt32BE(0), (0x80000000 | (OPUS << 24) | (1920 << 10) | frame(1).length) >>> 0);
  assert.equal(red[8], OPUS);
});

test("blocks that RED cannot describe are left out", () => {
  const tooOld = { payloadType: OPUS, offset: 0x4000, payload: frame(0) };
  const tooBig = { payloadType: OPUS, offset: 960, payload: Buffer.alloc(1024) };
  assert.deepEqual(blocksOf(buildRed(OPUS, frame(1), [tooOld, tooBig])), [
    { payloadType: OPUS, offset: 0, payload: "opus frame 1" },
  ]);
});

test("a slot's RED stream lets a listener recover its losses: werift's receiver gets every frame back", () => {
  const encoder = new SlotRedEncoder(OPUS, 2);
  const sent = [1, 2, 3, 4, 5, 6].map(
    (n) =>
      new RtpPacket(
        new RtpHeader({ sequenceNumber: 100 + n, timestamp: 960 * n, payloadType: 63, ssrc: 7 }),
        encoder.encode(1, 100 + n, 960 * n, frame(n)),
      ),
  );
  const handler = new RedHandler();
  const heard: string[] = [];
  // 3 and 4 are lost on the way; 5 carries both.
  for (const n of [1, 2, 5, 6]) {
    const packet = sent[n - 1] as RtpPacket;
    for (const p of handler.push(Red.deSerialize(packet.payload), packet))
      heard.push(`${p.header.sequenceNumber}@${p.header.timestamp}:${p.payload.toString()}`);
  }
  assert.deepEqual(heard.sort(), [
    "101@960:opus frame 1",
    "102@1920:opus frame 2",
    "103@2880:opus frame 3",
    "104@3840:opus frame 4",
    "105@4800:opus frame 5",
    "106@5760:opus frame 6",
  ]);
});

test("a slot's redundancy never mixes speakers: a new run starts with no history", () => {
  const encoder = new SlotRedEncoder(OPUS, 1);
  encoder.encode(1, 1, 960, frame(1));
  assert.equal(blocksOf(encoder.encode(1, 2, 1920, frame(2))).length, 2);
  assert.deepEqual(blocksOf(encoder.encode(2, 3, 2880, Buffer.from("another speaker"))), [
    { payloadType: OPUS, offset: 0, payload: "another speaker" },
  ]);
});

test("a late frame goes out once without pushing newer frames out of the slot's history", () => {
  const encoder = new SlotRedEncoder(OPUS, 2);
  encoder.encode(1, 2, 960 * 2, frame(2));
  encoder.encode(1, 3, 960 * 3, frame(3));
  assert.deepEqual(blocksOf(encoder.encode(1, 1, 960, frame(1))), [
    { payloadType: OPUS, offset: 0, payload: "opus frame 1" },
  ]);
  assert.deepEqual(
    blocksOf(encoder.encode(1, 4, 960 * 4, frame(4))).map((b) => b.payload),
    ["opus frame 2", "opus frame 3", "opus frame 4"],
  );
});

test("redundancy stops at a gap in the slot's sequence: a block is never numbered wrong", () => {
  const encoder = new SlotRedEncoder(OPUS, 2);
  encoder.encode(1, 1, 960, frame(1));
  encoder.encode(1, 2, 1920, frame(2));
  // 3 never reached the server; 4 carries nothing from before the gap.
  assert.deepEqual(
    blocksOf(encoder.encode(1, 4, 3840, frame(4))).map((b) => b.payload),
    ["opus frame 4"],
  );
  assert.deepEqual(
    blocksOf(encoder.encode(1, 5, 4800, frame(5))).map((b) => [b.offset, b.payload]),
    [
      [960, "opus frame 4"],
      [0, "opus frame 5"],
    ],
  );
});

test("loss reports count reordered and retransmitted packets as received", () => {
  const meter = new LossMeter(10);
  // 0..99 arrive, each pair swapped (jitter reorders), and 50 only much later (a retransmission).
  for (let s = 0; s < 100; s += 2) {
    if (s + 1 !== 50) meter.add(s + 1);
    if (s !== 50) meter.add(s);
  }
  meter.add(50);
  for (let s = 100; s < 110; s++) meter.add(s);
  assert.equal(meter.report(), 0, "nothing was lost");
  // Then 5 of the next 100 are lost for good.
  for (let s = 110; s < 220; s++) if (s % 20 !== 0) meter.add(s);
  const fraction = meter.report();
  assert.ok(Math.abs(fraction - 5 / 100) < 0.011, `about 5%, got ${fraction}`);
  assert.equal(meter.lostTotal, 5);
});

test("loss reports follow the sequence numbers across their wrap", () => {
  const meter = new LossMeter(5);
  for (let i = 0; i < 200; i++) if (i !== 100) meter.add((65_500 + i) & 0xffff);
  assert.equal(meter.report(), 1 / 195);
  assert.equal(meter.extendedHighest, 65_500 + 199);
});

test("NACKs: a gap is asked for at once, again after a round trip, and given up when too old", () => {
  const nack = new NackTracker({ retryMs: 60, attempts: 3, giveUpMs: 200, maxMissing: 32 });
  assert.deepEqual(nack.onPacket(10, 0), []);
  assert.deepEqual(nack.onPacket(13, 20), [11, 12], "two lost");
  assert.deepEqual(nack.onPacket(14, 40), [], "not again within a round trip");
  assert.deepEqual(nack.onPacket(11, 60), [], "11 came back");
  assert.deepEqual(nack.onPacket(15, 80), [12], "12 asked again");
  assert.deepEqual(nack.onPacket(16, 140), [12]);
  assert.deepEqual(nack.onPacket(17, 200), [], "asked three times: given up");
  assert.deepEqual(nack.onPacket(0xffff, 220), [], "an old packet opens no gap");
  assert.deepEqual(nack.onPacket(60, 240), [], "an outage longer than 32 packets is not asked for");
  assert.equal(nack.requested, 4);
});

test("the speaker is told the worst fresh loss among its listeners, combined with the uplink's", () => {
  const audience = new AudienceLoss(5000);
  audience.report("b", 0.09, 1000);
  audience.report("a", 0.02, 3000);
  assert.equal(audience.worst(4000), 0.09);
  assert.equal(audience.worst(6500), 0.02, "b's report went stale");
  assert.equal(audience.worst(9000), 0);
  assert.ok(Math.abs(combinedLoss(0.05, 0.05) - 0.0975) < 1e-9);
});

test("a listener's loss is read from its reports' cumulative count, so reordering is not loss", () => {
  const loss = new ReportedLoss(50);
  assert.equal(loss.add(0, 1000), undefined, "the first report is the base");
  // Reports with every NACK, a few packets apart: one says 2 lost, the next found them again. Their
  // fraction bytes would have said 2/10 and then 0 (clamped); the count says nothing was lost.
  assert.equal(loss.add(2, 1010), undefined, "too few packets expected yet");
  assert.equal(loss.add(0, 1050), 0);
  assert.equal(loss.add(5, 1150), 0.05, "5 of the 100 since");
  // Duplicates (NACK answers to reordered packets) take the count below where it was: no loss, not less.
  assert.equal(loss.add(0xfffffe, 1250), 0, "-2 as a 24-bit field");
  assert.equal(loss.add(8, 1350), 0.1, "10 more lost since -2");
  assert.equal(loss.add(0, 20), undefined, "a receiver counting afresh is a new base");
  assert.equal(loss.add(100, 70), 1, "never more than all");
});
