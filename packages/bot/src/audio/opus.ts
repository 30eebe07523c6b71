import { createRequire } from "node:module";
import type OpusScriptType from "opusscript";
import { VOICE_RATE } from "./wav.ts";

// opusscript is CommonJS with `export =`; its default build is WebAssembly (no native compile).
const OpusScript = createRequire(import.meta.url)("opusscript") as typeof OpusScriptType;

/** 20 ms at 48 kHz: the frame every voice packet carries. */
export const FRAME_SAMPLES = 960;
export const FRAME_MS = 20;

/** Mono Opus encoder for 20 ms frames of 48 kHz 16-bit PCM. */
export class OpusEncoder {
  private readonly codec = new OpusScript(VOICE_RATE, 1, OpusScript.Application.VOIP);
  private deleted = false;

  constructor(bitrate = 32_000) {
    this.codec.setBitrate(bitrate);
  }

  /** One frame of exactly FRAME_SAMPLES samples to one Opus packet. */
  encode(frame: Int16Array): Buffer {
    if (frame.length !== FRAME_SAMPLES) throw new RangeError(`an Opus frame is ${FRAME_SAMPLES} samples`);
    // opusscript wants the bytes of the samples (a Buffer), with the frame size in samples.
    return this.codec.encode(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength), FRAME_SAMPLES);
  }

  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    this.codec.delete();
  }
}

/** Mono Opus decoder (stereo streams are downmixed by Opus itself). */
export class OpusDecoder {
  private readonly codec = new OpusScript(VOICE_RATE, 1, OpusScript.Application.VOIP);
  private deleted = false;

  decode(packet: Buffer): Int16Array {
    const bytes = this.codec.decode(packet);
    // Copy: the returned Buffer may be a view on the codec's WebAssembly memory.
    const out = new Int16Array(bytes.length >> 1);
    for (let i = 0; i < out.length; i++) out[i] = bytes.readInt16LE(i * 2);
    return out;
  }

  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    this.codec.delete();
  }
}
