import { readFile, writeFile } from "node:fs/promises";

/** The sample rate every voice path uses (Opus' native rate). */
export const VOICE_RATE = 48_000;

export interface WavInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** 1 = integer PCM, 3 = IEEE float (WAVE_FORMAT_EXTENSIBLE is resolved to its sub-format). */
  format: 1 | 3;
  /** Sample frames (one sample per channel each). */
  frames: number;
}

/** A WAV file's audio as mono samples in [-1, 1] at its own rate. */
export interface DecodedWav {
  info: WavInfo;
  mono: Float32Array;
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/**
 * Reads a RIFF/WAVE file: integer PCM of 8, 16, 24 or 32 bits or 32-bit float, any channel count
 * (averaged to mono). Anything else is refused with a message that says what was found.
 */
export function parseWav(bytes: Uint8Array): DecodedWav {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 12 || b.toString("ascii", 0, 4) !== "RIFF" || b.toString("ascii", 8, 12) !== "WAVE")
    throw new TypeError("not a WAV file (no RIFF/WAVE header)");
  let info: Omit<WavInfo, "frames"> | undefined;
  let offset = 12;
  while (offset + 8 <= b.length) {
    const id = b.toString("ascii", offset, offset + 4);
    const size = b.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === "fmt ") {
      if (size < 16 || body + 16 > b.length) throw new TypeError("WAV fmt chunk is truncated");
      let format = b.readUInt16LE(body);
      if (format === WAVE_FORMAT_EXTENSIBLE && size >= 26) format = b.readUInt16LE(body + 24);
      const channels = b.readUInt16LE(body + 2);
      const sampleRate = b.readUInt32LE(body + 4);
      const bitsPerSample = b.readUInt16LE(body + 14);
      const intOk = format === WAVE_FORMAT_PCM && [8, 16, 24, 32].includes(bitsPerSample);
      const floatOk = format === WAVE_FORMAT_FLOAT && bitsPerSample === 32;
      if (!intOk && !floatOk)
        throw new TypeError(
          `unsupported WAV encoding: format ${format}, ${bitsPerSample} bits (need integer PCM 8/16/24/32 or 32-bit float)`,
        );
      if (channels < 1 || sampleRate < 1) throw new TypeError("WAV has no channels or no sample rate");
      info = { sampleRate, channels, bitsPerSample, format: format as 1 | 3 };
    } else if (id === "data") {
      if (!info) throw new TypeError("WAV data chunk comes before its fmt chunk");
      // Streams written before their length was known carry 0 or 0xffffffff: take what is there.
      const end = size === 0 || size === 0xffffffff ? b.length : Math.min(b.length, body + size);
      return decodeSamples(info, b.subarray(body, end));
    }
    offset = body + size + (size & 1);
  }
  throw new TypeError(info ? "WAV has no data chunk" : "WAV has no fmt chunk");
}

function decodeSamples(format: Omit<WavInfo, "frames">, data: Buffer): DecodedWav {
  const bytesPerSample = format.bitsPerSample / 8;
  const frameBytes = bytesPerSample * format.channels;
  const frames = Math.floor(data.length / frameBytes);
  const read = sampleReader(format, data);
  const mono = new Float32Array(frames);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < format.channels; c++) sum += read(f * frameBytes + c * bytesPerSample);
    mono[f] = sum / format.channels;
  }
  return { info: { ...format, frames }, mono };
}

function sampleReader(format: Omit<WavInfo, "frames">, data: Buffer): (at: number) => number {
  if (format.format === WAVE_FORMAT_FLOAT) return (at) => data.readFloatLE(at);
  switch (format.bitsPerSample) {
    case 8:
      return (at) => ((data[at] as number) - 128) / 128;
    case 16:
      return (at) => data.readInt16LE(at) / 32768;
    case 24:
      return (at) => data.readIntLE(at, 3) / 8388608;
    default:
      return (at) => data.readInt32LE(at) / 2147483648;
  }
}

/**
 * Linear-interpolation resampling. Good enough for test voices; it does not low-pass before
 * downsampling, so content above the new Nyquist frequency aliases.
 */
export function resample(input: Float32Array, fromRate: number, toRate: number): Float32Array {
  if (fromRate === toRate) return input;
  const length = Math.floor((input.length * toRate) / fromRate);
  const out = new Float32Array(length);
  const step = fromRate / toRate;
  for (let i = 0; i < length; i++) {
    const pos = i * step;
    const j = Math.floor(pos);
    const frac = pos - j;
    const a = input[j] ?? 0;
    const b = input[j + 1] ?? a;
    out[i] = a + (b - a) * frac;
  }
  return out;
}

/** Float samples to 16-bit PCM, clipped to full scale. */
export function toInt16(samples: Float32Array): Int16Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    out[i] = Math.max(-32768, Math.min(32767, Math.round((samples[i] as number) * 32768)));
  }
  return out;
}

/** Any readable WAV as 48 kHz mono 16-bit PCM: downmixed and resampled when it is not already. */
export function toVoicePcm(wav: DecodedWav): Int16Array {
  return toInt16(resample(wav.mono, wav.info.sampleRate, VOICE_RATE));
}

export async function readVoiceWav(path: string): Promise<{ info: WavInfo; pcm: Int16Array }> {
  let wav: DecodedWav;
  try {
    wav = parseWav(await readFile(path));
  } catch (error) {
    if (error instanceof TypeError) throw new TypeError(`${path}: ${error.message}`);
    throw error;
  }
  return { info: wav.info, pcm: toVoicePcm(wav) };
}

/** A canonical 44-byte-header WAV of mono (or interleaved) 16-bit PCM. */
export function encodeWav(pcm: Int16Array, sampleRate = VOICE_RATE, channels = 1): Buffer {
  const dataBytes = pcm.length * 2;
  const out = Buffer.alloc(44 + dataBytes);
  out.write("RIFF", 0, "ascii");
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write("WAVE", 8, "ascii");
  out.write("fmt ", 12, "ascii");
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(WAVE_FORMAT_PCM, 20);
  out.writeUInt16LE(channels, 22);
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * channels * 2, 28);
  out.writeUInt16LE(channels * 2, 32);
  out.writeUInt16LE(16, 34);
  out.write("data", 36, "ascii");
  out.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < pcm.length; i++) out.writeInt16LE(pcm[i] as number, 44 + i * 2);
  return out;
}

export async function writeWav(path: string, pcm: Int16Array, sampleRate = VOICE_RATE): Promise<void> {
  await writeFile(path, encodeWav(pcm, sampleRate));
}
