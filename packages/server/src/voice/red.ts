/**
 * RED, RFC 2198 redundant audio: each packet carries its own Opus frame (the primary) and copies of
 * the frames before it, so a lost packet is recovered from the next one. The server sits mid-path:
 * it recovers what the speaker's uplink lost before forwarding, and builds each listener's slot
 * stream from that slot's own recent frames, so each hop is repaired separately.
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

/**
 * Splits a RED payload into its blocks, oldest first, the primary last (offset 0). Undefined when
 * the payload is not well-formed RED (then it must not be forwarded as if it were).
 */
export function parseRed(payload: Buffer): RedBlock[] | undefined {
  const headers: { payloadType: number; offset: number; length: number }[] = [];
  let at = 0;
  for (;;) {
    const first = payload[at];
    if (first === undefined) return undefined;
    if ((first & 0x80) === 0) {
      headers.push({ payloadType: first & 0x7f, offset: 0, length: -1 });
      at += 1;
      break;
    }
    if (at + 4 > payload.length) return undefined;
    const word = payload.readUInt32BE(at);
    headers.push({
      payloadType: (word >>> 24) & 0x7f,
      offset: (word >>> 10) & MAX_OFFSET,
      length: word & MAX_BLOCK_BYTES,
    });
    at += 4;
  }
  const blocks: RedBlock[] = [];
  for (const header of headers) {
    const length = header.length < 0 ? payload.length - at : header.length;
    if (length < 0 || at + length > payload.length) return undefined;
    blocks.push({
      payloadType: header.payloadType,
      offset: header.offset,
      payload: payload.subarray(at, at + length),
    });
    at += length;
  }
  return blocks;
}

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

/** A frame as the forwarding sees it: RTP sequence number and timestamp, and the Opus payload. */
export interface Frame {
  sequenceNumber: number;
  timestamp: number;
  payload: Buffer;
}

/** The Opus frame length this code assumes until it has seen two consecutive packets: 20 ms. */
const DEFAULT_FRAME_TS = 960;

/**
 * Recovers an uplink's lost packets from the redundancy in the packets after them. Feed it every
 * RED packet in arrival order; it returns the frames to forward, in order: those recovered for the
 * gap before this packet, then this packet's primary. A late (reordered) packet is forwarded if
 * its frame was neither forwarded nor recovered yet: the listener's jitter buffer may still use it.
 */
export class RedRecovery {
  private last: { seq: number; ts: number } | undefined;
  private frameTs = DEFAULT_FRAME_TS;
  /** Sequence numbers forwarded lately, oldest first: a late packet is forwarded once at most. */
  private readonly sent: number[] = [];
  private readonly sentSet = new Set<number>();
  /** Frames recovered from redundancy (for metrics). */
  recovered = 0;

  accept(sequenceNumber: number, timestamp: number, blocks: readonly RedBlock[]): Frame[] {
    const primary = blocks.at(-1);
    if (!primary) return [];
    const last = this.last;
    if (last) {
      const ahead = (sequenceNumber - last.seq) & 0xffff;
      if (ahead === 0 || ahead >= 0x8000) {
        if (this.sentSet.has(sequenceNumber) || ahead === 0) return [];
        this.remember(sequenceNumber);
        return [{ sequenceNumber, timestamp, payload: primary.payload }];
      }
      if (ahead === 1) {
        const step = (timestamp - last.ts) >>> 0;
        if (step > 0 && step <= MAX_OFFSET) this.frameTs = step;
      }
    }
    const out: Frame[] = [];
    if (last) {
      const missing = ((sequenceNumber - last.seq) & 0xffff) - 1;
      for (let k = missing; k >= 1; k--) {
        const offset = k * this.frameTs;
        const block = blocks.find((b) => b.offset === offset && b !== primary);
        if (!block) continue;
        const seq = (sequenceNumber - k) & 0xffff;
        out.push({ sequenceNumber: seq, timestamp: (timestamp - offset) >>> 0, payload: block.payload });
        this.remember(seq);
        this.recovered++;
      }
    }
    out.push({ sequenceNumber, timestamp, payload: primary.payload });
    this.remember(sequenceNumber);
    this.last = { seq: sequenceNumber, ts: timestamp };
    return out;
  }

  private remember(seq: number): void {
    this.sent.push(seq);
    this.sentSet.add(seq);
    if (this.sent.length <= 64) return;
    const oldest = this.sent.shift();
    if (oldest !== undefined) this.sentSet.delete(oldest);
  }
}

/**
 * One slot's RED encoder towards a listener: each packet carries the slot's own previous `distance`
 * frames, with offsets in the slot's own timestamps. A slot that changes speaker starts afresh
 * (`reset`): another speaker's frames are never sent as redundancy for this one's.
 */
export class SlotRedEncoder {
  private readonly history: { timestamp: number; payload: Buffer }[] = [];

  constructor(
    private readonly payloadType: number,
    private readonly distance = 2,
  ) {}

  /** The RED payload for the slot's next frame, `timestamp` in the slot's numbering. */
  encode(timestamp: number, payload: Buffer): Buffer {
    const redundant: RedBlock[] = [];
    for (const old of this.history) {
      const offset = (timestamp - old.timestamp) >>> 0;
      if (offset > 0 && offset <= MAX_OFFSET)
        redundant.push({ payloadType: this.payloadType, offset, payload: old.payload });
    }
    const red = buildRed(this.payloadType, payload, redundant);
    // Copied: the payload buffer belongs to the packet being forwarded, which is reused.
    this.history.push({ timestamp, payload: Buffer.from(payload) });
    if (this.history.length > this.distance) this.history.shift();
    return red;
  }

  reset(): void {
    this.history.length = 0;
  }
}
