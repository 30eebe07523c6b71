import assert from "node:assert/strict";
import { test } from "node:test";
import { buildRed, parseRed, RedRecovery, SlotRedEncoder } from "../src/voice/red.ts";

const OPUS = 111;
const frame = (n: number) => Buffer.from(`opus frame ${n}`);

test("a RED payload round-trips: redundant blocks oldest first, then the primary", () => {
  const red = buildRed(OPUS, frame(3), [
    { payloadType: OPUS, offset: 1920, payload: frame(1) },
    { payloadType: OPUS, offset: 960, payload: frame(2) },
  ]);
  assert.deepEqual(parseRed(red), [
    { payloadType: OPUS, offset: 1920, payload: frame(1) },
    { payloadType: OPUS, offset: 960, payload: frame(2) },
    { payloadType: OPUS, offset: 0, payload: frame(3) },
  ]);
  // RFC 2198's layout: F=1, PT, 14-bit offset, 10-bit length; then F=0 and the primary's PT.
  assert.equal(red.readUInt32BE(0), (0x80000000 | (OPUS << 24) | (1920 << 10) | frame(1).length) >>> 0);
  assert.equal(red[8], OPUS);
});

test("blocks that RED cannot describe are left out; malformed RED is refused, not guessed", () => {
  const tooOld = { payloadType: OPUS, offset: 0x4000, payload: frame(0) };
  const tooBig = { payloadType: OPUS, offset: 960, payload: Buffer.alloc(1024) };
  assert.deepEqual(parseRed(buildRed(OPUS, frame(1), [tooOld, tooBig])), [
    { payloadType: OPUS, offset: 0, payload: frame(1) },
  ]);
  assert.equal(parseRed(Buffer.alloc(0)), undefined);
  assert.equal(parseRed(Buffer.from([0x80 | OPUS, 0, 4])), undefined, "a cut header");
  const lying = buildRed(OPUS, frame(2), [{ payloadType: OPUS, offset: 960, payload: frame(1) }]);
  assert.equal(parseRed(lying.subarray(0, 8)), undefined, "a block longer than the payload");
});

test("the uplink's lost packets come back from the redundancy of the next ones, in order", () => {
  const encoder = new SlotRedEncoder(OPUS, 2);
  const sent = [1, 2, 3, 4, 5, 6].map((n) => ({
    seq: 100 + n,
    ts: 960 * n,
    red: encoder.encode(960 * n, frame(n)),
  }));
  const recovery = new RedRecovery();
  const forwarded: string[] = [];
  // 3 and 4 are lost (4 turns up late, after it was recovered: not forwarded twice); 2 comes after 5.
  for (const n of [1, 5, 2, 6, 4]) {
    const p = sent[n - 1];
    assert.ok(p);
    const blocks = parseRed(p.red);
    assert.ok(blocks);
    for (const f of recovery.accept(p.seq, p.ts, blocks))
      forwarded.push(`${f.sequenceNumber}@${f.timestamp}:${f.payload.toString()}`);
  }
  assert.deepEqual(forwarded, [
    "101@960:opus frame 1",
    // 2 was missing too when 5 came, but lies further back than a distance of 2 reaches.
    "103@2880:opus frame 3",
    "104@3840:opus frame 4",
    "105@4800:opus frame 5",
    "102@1920:opus frame 2",
    "106@5760:opus frame 6",
  ]);
  assert.equal(recovery.recovered, 2);
});

test("a slot's redundancy never mixes speakers: a new run starts with no history", () => {
  const encoder = new SlotRedEncoder(OPUS, 1);
  encoder.encode(960, frame(1));
  assert.equal(parseRed(encoder.encode(1920, frame(2)))?.length, 2);
  encoder.reset();
  assert.deepEqual(parseRed(encoder.encode(2880, Buffer.from("another speaker"))), [
    { payloadType: OPUS, offset: 0, payload: Buffer.from("another speaker") },
  ]);
});
