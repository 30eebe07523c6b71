import assert from "node:assert/strict";
import { test } from "node:test";
import { rfc6464Level, rms, rmsOfRfc6464 } from "../src/audio/level.ts";
import { MicStream } from "../src/audio/MicStream.ts";
import { Mixdown, SlotTimeline } from "../src/audio/Mixdown.ts";
import { FRAME_SAMPLES, OpusDecoder, OpusEncoder } from "../src/audio/opus.ts";
import { encodeWav, parseWav, resample, toVoicePcm } from "../src/audio/wav.ts";

/** A WAV file built by hand, so the parser is checked against the format, not against itself. */
function wavBytes(options: {
  format?: number;
  channels: number;
  rate: number;
  bits: number;
  data: Buffer;
  extraChunk?: boolean;
}): Buffer {
  const fmt = Buffer.alloc(16);
  fmt.writeUInt16LE(options.format ?? 1, 0);
  fmt.writeUInt16LE(options.channels, 2);
  fmt.writeUInt32LE(options.rate, 4);
  fmt.writeUInt32LE((options.rate * options.channels * options.bits) / 8, 8);
  fmt.writeUInt16LE((options.channels * options.bits) / 8, 12);
  fmt.writeUInt16LE(options.bits, 14);
  const chunk = (id: string, body: Buffer) => {
    const head = Buffer.alloc(8);
    head.write(id, 0, "ascii");
    head.writeUInt32LE(body.length, 4);
    return Buffer.concat([head, body, body.length & 1 ? Buffer.alloc(1) : Buffer.alloc(0)]);
  };
  const body = Buffer.concat([
    Buffer.from("WAVE", "ascii"),
    chunk("fmt ", fmt),
    ...(options.extraChunk ? [chunk("LIST", Buffer.from("odd", "ascii"))] : []),
    chunk("data", options.data),
  ]);
  const riff = Buffer.alloc(8);
  riff.write("RIFF", 0, "ascii");
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

const int16s = (...values: number[]) => {
  const b = Buffer.alloc(values.length * 2);
  for (const [i, v] of values.entries()) b.writeInt16LE(v, i * 2);
  return b;
};

test("reads 48 kHz mono 16-bit PCM as it is, skipping unknown chunks", () => {
  const wav = parseWav(
    wavBytes({ channels: 1, rate: 48000, bits: 16, data: int16s(0, 16384, -32768), extraChunk: true }),
  );
  assert.deepEqual(wav.info, { sampleRate: 48000, channels: 1, bitsPerSample: 16, format: 1, frames: 3 });
  assert.deepEqual([...wav.mono], [0, 0.5, -1]);
  assert.deepEqual([...toVoicePcm(wav)], [0, 16384, -32768]);
});

test("averages channels to mono and reads 8-bit, 24-bit and float samples", () => {
  const stereo = parseWav(
    wavBytes({ channels: 2, rate: 48000, bits: 16, data: int16s(16384, 0, -16384, -16384) }),
  );
  assert.deepEqual([...stereo.mono], [0.25, -0.5]);
  const eight = parseWav(wavBytes({ channels: 1, rate: 48000, bits: 8, data: Buffer.from([128, 192, 0]) }));
  assert.deepEqual([...eight.mono], [0, 0.5, -1]);
  const b24 = Buffer.alloc(6);
  b24.writeIntLE(4194304, 0, 3);
  b24.writeIntLE(-8388608, 3, 3);
  assert.deepEqual(
    [...parseWav(wavBytes({ channels: 1, rate: 48000, bits: 24, data: b24 })).mono],
    [0.5, -1],
  );
  const f32 = Buffer.alloc(8);
  f32.writeFloatLE(0.25, 0);
  f32.writeFloatLE(-0.75, 4);
  const float = parseWav(wavBytes({ format: 3, channels: 1, rate: 48000, bits: 32, data: f32 }));
  assert.deepEqual([...float.mono], [0.25, -0.75]);
});

test("resamples other rates to 48 kHz", () => {
  const at24k = parseWav(wavBytes({ channels: 1, rate: 24000, bits: 16, data: int16s(0, 1000, 2000, 3000) }));
  assert.deepEqual([...toVoicePcm(at24k)], [0, 500, 1000, 1500, 2000, 2500, 3000, 3000]);
  assert.equal(resample(new Float32Array(44100), 44100, 48000).length, 48000);
});

test("refuses what it cannot read, saying what it found", () => {
  assert.throws(() => parseWav(Buffer.from("not a wav at all")), /not a WAV file/);
  assert.throws(
    () => parseWav(wavBytes({ format: 6, channels: 1, rate: 8000, bits: 8, data: Buffer.alloc(4) })),
    /unsupported WAV encoding: format 6, 8 bits/,
  );
  assert.throws(
    () => parseWav(wavBytes({ format: 3, channels: 1, rate: 48000, bits: 64, data: Buffer.alloc(8) })),
    /format 3, 64 bits/,
  );
});

test("writes a WAV that reads back the same", () => {
  const pcm = Int16Array.from([0, 1, -1, 32767, -32768, 1234]);
  const back = parseWav(encodeWav(pcm));
  assert.equal(back.info.sampleRate, 48000);
  assert.deepEqual([...toVoicePcm(back)], [...pcm]);
});

test("levels: RMS on the 0..1 scale and RFC 6464 -dBov agree", () => {
  assert.equal(rms(new Int16Array(960)), 0);
  assert.equal(rms(new Int16Array(960).fill(16384)), 0.5);
  const sine = Int16Array.from({ length: 960 }, (_, i) =>
    Math.round(32767 * Math.sin((2 * Math.PI * i) / 48)),
  );
  assert.ok(Math.abs(rms(sine) - Math.SQRT1_2) < 1e-3);
  assert.equal(rfc6464Level(1), 0);
  assert.equal(rfc6464Level(0.01), 40);
  assert.equal(rfc6464Level(0), 127);
  assert.equal(rfc6464Level(1e-9), 127);
  assert.equal(rmsOfRfc6464(127), 0);
  for (const level of [0, 20, 40, 90]) assert.equal(rfc6464Level(rmsOfRfc6464(level)), level);
});

test("the microphone numbering runs on, jumps with time after a pause and marks each talk spurt", () => {
  const mic = new MicStream(0xfffe, 2 ** 32 - 960);
  const first = mic.next(0, 30, true);
  const second = mic.next(20, 30, true);
  const third = mic.next(40, 30, true);
  assert.deepEqual(
    [first, second, third].map((p) => [p.sequenceNumber, p.timestamp, p.marker]),
    [
      [0xfffe, 2 ** 32 - 960, true],
      [0xffff, 0, false],
      [0, 960, false],
    ],
  );
  mic.pause();
  const resumed = mic.next(1040, 30, true);
  assert.deepEqual([resumed.sequenceNumber, resumed.timestamp, resumed.marker], [1, 960 + 48_000, true]);
});

test("the mixdown sums overlapping voices, leaves gaps silent and clips", () => {
  const mix = new Mixdown();
  mix.add(2, Int16Array.from([1000, 1000]));
  mix.add(3, Int16Array.from([500, 30000]));
  mix.add(-1, Int16Array.from([7, 8]));
  mix.extendTo(7);
  assert.deepEqual([...mix.toInt16()], [8, 0, 1000, 1500, 30000, 0, 0]);
  const loud = new Mixdown();
  loud.add(0, Int16Array.from([30000, -30000]));
  loud.add(0, Int16Array.from([30000, -30000]));
  assert.deepEqual([...loud.toInt16()], [32767, -32768]);
  const far = new Mixdown();
  far.add(48_000 * 3 + 5, Int16Array.from([1]));
  assert.equal(far.length, 48_000 * 3 + 6);
  assert.equal(far.toInt16()[48_000 * 3 + 5], 1);
});

test("a slot's packets are placed by RTP time, anchored at arrival, re-anchored on a new stream or drift", () => {
  const timeline = new SlotTimeline(1000);
  assert.equal(timeline.place(7, 2 ** 32 - 960, 5000), 5000);
  // Jitter: arrives late, still placed one frame on.
  assert.equal(timeline.place(7, 0, 6500), 5960);
  assert.equal(timeline.place(7, 960, 6900), 6920);
  // A different SSRC starts its own anchor.
  assert.equal(timeline.place(8, 123, 9000), 9000);
  // Timestamps that stray far from arrival (a sender that paused without advancing them) re-anchor.
  assert.equal(timeline.place(8, 123 + 960, 20000), 20000);
});

test("Opus round trip keeps a tone's energy", () => {
  const encoder = new OpusEncoder();
  const decoder = new OpusDecoder();
  try {
    let heard = 0;
    for (let f = 0; f < 25; f++) {
      const frame = Int16Array.from({ length: FRAME_SAMPLES }, (_, i) =>
        Math.round(10000 * Math.sin((2 * Math.PI * 440 * (f * FRAME_SAMPLES + i)) / 48000)),
      );
      const out = decoder.decode(encoder.encode(frame));
      assert.equal(out.length, FRAME_SAMPLES);
      if (f >= 5) heard += rms(out) / 20;
    }
    assert.ok(Math.abs(heard - 10000 / 32768 / Math.SQRT2) < 0.03, `mean RMS ${heard}`);
  } finally {
    encoder.delete();
    decoder.delete();
  }
});
