/**
 * RED, RFC 2198 redundant audio: each packet carries its own Opus frame (the primary) and copies of
 * the frames before it, so a lost packet is recovered from the next one. The server sits mid-path:
 * werift's receiver recovers what the speaker's uplink lost before forwarding, and this builds each
 * listener's slot stream from that slot's own recent frames, so each hop is repaired separately.
 *
 * Pure: no werift, no sockets. Timestamps are RTP units (48 kHz for Opus).
 */

/** One block of a RED payload. `offset` is how far before the packet's timestamp it was sampled. */
export interface RedBlock {
  payloadType: number;
  offset: number;
  payload: Buffer;
}

/** RFC 2198 limits: a 14-bit timestamp offset and a 10-bit block length. */
const MAX_OFFSET = 0x3fff;
const MAX_BLOCK_BYTES = 0x3ff;

/** Builds a RED payload: `redundant` oldest first, then the primary. Blocks that do not fit RED's fields are left out. */
export function buildRed(payloadType: number, primary: Buffer, redundant: readonly RedBlock[]): Buffer {
  const usable = redundant.filter(
    (b) => b.offset > 0 && b.offset <= MAX_OFFSET && b.payload.length <= MAX_BLOCK_BYTES,
  );
  const out = Buffer.allocUnsafe(
    usable.length * 4 + 1 + usable.reduce((n, b) => n + b.payload.length, 0) + primary.length,
  );
  let at = 0;
  for (const block of usable) {
    out.writeUInt32BE(
      (0x80000000 | ((block.payloadType & 0x7f) << 24) | (block.offset << 10) | block.payload.length) >>> 0,
      at,
    );
    at += 4;
  }
  out[at++] = payloadType & 0x7f;
  for (const block of usable) at += block.payload.copy(out, at);
  primary.copy(out, at);
  return out;
}

/**
 * One slot's RED encoder towards a listener: each packet carries the slot's own previous `distance`
 * frames, with offsets in the slot's own timestamps. Only frames right before this one in sequence
 * go along (werift, like RFC 2198 receivers that number recovered blocks by position, would
 * misplace a block from before a gap). A slot that starts a new run (another speaker, or the same
 * one after a pause) starts afresh: another speaker's frames are never sent as redundancy for
 * this one's.
 */
export class SlotRedEncoder {
  private readonly history: { seq: number; timestamp: number; payload: Buffer }[] = [];
  private run = -1;

  constructor(
    private readonly payloadType: number,
    private readonly distance = 2,
  ) {}

  /**
   * The RED payload for the slot's next frame, `seq` and `timestamp` in the slot's numbering. Keeps
   * a reference to `payload`: forwarded payloads are never written after they arrive.
   */
  encode(run: number, seq: number, timestamp: number, payload: Buffer): Buffer {
    if (run !== this.run) {
      this.run = run;
      this.history.length = 0;
    }
    const redundant: RedBlock[] = [];
    for (
      let k = this.history.length - 1, want = (seq - 1) & 0xffff;
      k >= 0;
      k--, want = (want - 1) & 0xffff
    ) {
      const old = this.history[k] as { seq: number; timestamp: number; payload: Buffer };
      if (old.seq !== want) break;
      const offset = (timestamp - old.timestamp) >>> 0;
      if (offset === 0 || offset > MAX_OFFSET) break;
      redundant.unshift({ payloadType: this.payloadType, offset, payload: old.payload });
    }
    const red = buildRed(this.payloadType, payload, redundant);
    // A late (reordered) frame goes out once, but must not push newer frames out of the history.
    const newest = this.history.at(-1);
    if (newest === undefined || ((seq - newest.seq) & 0xffff) < 0x8000) {
      this.history.push({ seq, timestamp, payload });
      if (this.history.length > this.distance) this.history.shift();
    }
    return red;
  }
}
