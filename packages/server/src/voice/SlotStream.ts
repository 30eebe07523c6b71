/** RTP clock rate of Opus, in ticks per millisecond. */
const TICKS_PER_MS = 48;
/** One 20 ms Opus frame, in RTP ticks: the least gap put between two sources in one slot. */
const FRAME_TICKS = 960;

/**
 * The outgoing numbering of one send slot. A slot carries one speaker at a time but changes speaker
 * over its life; the browser must see one unbroken stream: sequence numbers that go up by one and
 * timestamps that move with real time, whoever is speaking. Offsets are fixed per source run, so
 * reordering and loss within a run pass through unchanged (the receiver's jitter buffer needs them).
 */
export class SlotStream {
  private source: string | undefined;
  private seqOffset = 0;
  private tsOffset = 0;
  private lastSeq = -1;
  private lastTs = 0;
  private lastSentAt = 0;
  private sentAny = false;
  /** Highest input sequence number of the current run, for detecting late (reordered) packets. */
  private highestIn = 0;

  constructor(initialSeq = Math.floor(Math.random() * 0x10000)) {
    this.lastSeq = (initialSeq - 1) & 0xffff;
  }

  /** The last rewrite's results (fields, not a returned object: this runs once per packet per listener). */
  seq = 0;
  timestamp = 0;
  /** Counts the slot's runs: a new one starts with each new speaker, or the same after `endRun`. */
  run = 0;

  /** Rewrites one packet's sequence number and timestamp into `seq` and `timestamp`; `now` in milliseconds. */
  write(sourceId: string, seq: number, timestamp: number, now: number): void {
    if (sourceId !== this.source) {
      const elapsedTicks = this.sentAny
        ? Math.max(FRAME_TICKS, Math.round((now - this.lastSentAt) * TICKS_PER_MS))
        : FRAME_TICKS;
      this.seqOffset = (this.lastSeq + 1 - seq) & 0xffff;
      this.tsOffset = (this.lastTs + elapsedTicks - timestamp) >>> 0;
      this.source = sourceId;
      this.highestIn = seq;
      this.run++;
    }
    const outSeq = (seq + this.seqOffset) & 0xffff;
    const outTs = (timestamp + this.tsOffset) >>> 0;
    // Only a packet newer than any before it moves the stream's head; a late one keeps its place.
    if (((seq - this.highestIn) & 0xffff) < 0x8000) {
      this.highestIn = seq;
      this.lastSeq = outSeq;
      this.lastTs = outTs;
      this.lastSentAt = now;
      this.sentAny = true;
    }
    this.seq = outSeq;
    this.timestamp = outTs;
  }

  /** `write`, returning the results: for tests and callers off the hot path. */
  rewrite(sourceId: string, seq: number, timestamp: number, now: number): { seq: number; timestamp: number } {
    this.write(sourceId, seq, timestamp, now);
    return { seq: this.seq, timestamp: this.timestamp };
  }

  /**
   * Ends the current run: the next packet starts a new one, contiguous with what was sent, even
   * from the same speaker (whose own numbering moved on while the slot carried someone else or nobody).
   */
  endRun(): void {
    this.source = undefined;
  }

  /** The speaker whose packets this slot carries now, if any. */
  get currentSource(): string | undefined {
    return this.source;
  }
}
