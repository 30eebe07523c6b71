import { VOICE_RATE } from "./wav.ts";

/** Samples per storage chunk: one second. Chunks nobody wrote to stay unallocated (silence). */
const CHUNK = VOICE_RATE;

/**
 * Everything one client heard on one 48 kHz mono timeline: voices from several slots are summed
 * where they overlap, gaps stay silent. Position 0 is when the recording started.
 */
export class Mixdown {
  private readonly chunks: (Float32Array | undefined)[] = [];
  private end = 0;

  /** Length in samples: up to the last sample written or marked with `extendTo`. */
  get length(): number {
    return this.end;
  }

  /** Adds 16-bit samples starting at sample `position`; anything before 0 is cut off. */
  add(position: number, pcm: Int16Array): void {
    const start = Math.round(position);
    for (let i = Math.max(0, -start); i < pcm.length; i++) {
      const at = start + i;
      const index = Math.floor(at / CHUNK);
      let chunk = this.chunks[index];
      if (!chunk) {
        chunk = new Float32Array(CHUNK);
        this.chunks[index] = chunk;
      }
      const j = at - index * CHUNK;
      chunk[j] = (chunk[j] as number) + (pcm[i] as number) / 32768;
    }
    this.extendTo(start + pcm.length);
  }

  /** Makes the recording at least this long (trailing silence up to "now"). */
  extendTo(length: number): void {
    if (length > this.end) this.end = Math.floor(length);
  }

  /** The mix as 16-bit PCM, clipped where voices summed above full scale. */
  toInt16(): Int16Array {
    const out = new Int16Array(this.end);
    for (let index = 0; index * CHUNK < this.end; index++) {
      const chunk = this.chunks[index];
      if (!chunk) continue;
      const base = index * CHUNK;
      const n = Math.min(CHUNK, this.end - base);
      for (let i = 0; i < n; i++) {
        out[base + i] = Math.max(-32768, Math.min(32767, Math.round((chunk[i] as number) * 32768)));
      }
    }
    return out;
  }
}

/** 32-bit RTP timestamp difference b - a, as a signed number of ticks. */
function tsDelta(a: number, b: number): number {
  return (b - a) | 0;
}

/**
 * Places one slot's packets on the recording timeline. Within a stream the RTP timestamps give
 * the spacing (so network jitter does not smear the audio); the first packet of a stream, and
 * any packet whose timestamp strays from its arrival time by more than `maxDriftSamples`, is
 * anchored at its arrival time instead.
 */
export class SlotTimeline {
  private anchor: { ssrc: number; timestamp: number; position: number } | undefined;

  constructor(private readonly maxDriftSamples = (VOICE_RATE * 300) / 1000) {}

  /** Sample position for a packet of `ssrc` with RTP `timestamp` arriving at sample `arrival`. */
  place(ssrc: number, timestamp: number, arrival: number): number {
    const a = this.anchor;
    if (a && a.ssrc === ssrc) {
      const position = a.position + tsDelta(a.timestamp, timestamp);
      if (Math.abs(position - arrival) <= this.maxDriftSamples) return position;
    }
    this.anchor = { ssrc, timestamp, position: arrival };
    return arrival;
  }

  reset(): void {
    this.anchor = undefined;
  }
}
