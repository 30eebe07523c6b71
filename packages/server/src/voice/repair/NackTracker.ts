/**
 * Which lost packets of one incoming stream to ask again for (RFC 4585 generic NACK), and when.
 * A gap is asked for as soon as it shows; each missing packet again after `retryMs` (about a round
 * trip), at most `attempts` times, and never once it is older than `giveUpMs`: past that a
 * retransmission would arrive after the listeners' jitter buffers played the gap.
 *
 * Driven by arrivals (every packet is a tick, 20 ms apart while someone speaks), so it needs no
 * timer of its own. Pure.
 */
export interface NackPolicy {
  retryMs: number;
  attempts: number;
  giveUpMs: number;
  /** At most this many packets missing at once; a longer outage is not worth asking for. */
  maxMissing: number;
}

export const DEFAULT_NACK_POLICY: NackPolicy = { retryMs: 60, attempts: 3, giveUpMs: 200, maxMissing: 32 };

interface Missing {
  since: number;
  askedAt: number;
  asked: number;
}

export class NackTracker {
  private newest: number | undefined;
  private readonly missing = new Map<number, Missing>();
  /** Packets asked for again over the stream's life (for metrics and tests). */
  requested = 0;

  constructor(private readonly policy: NackPolicy = DEFAULT_NACK_POLICY) {}

  /** Records an arrival at `now` (ms); returns the sequence numbers to NACK now, maybe none. */
  onPacket(sequenceNumber: number, now: number): number[] {
    this.missing.delete(sequenceNumber);
    const newest = this.newest;
    if (newest === undefined) {
      this.newest = sequenceNumber;
      return [];
    }
    const ahead = (sequenceNumber - newest) & 0xffff;
    if (ahead > 0 && ahead < 0x8000) {
      this.newest = sequenceNumber;
      if (ahead - 1 > this.policy.maxMissing) this.missing.clear();
      else
        for (let k = 1; k < ahead; k++)
          this.missing.set((newest + k) & 0xffff, { since: now, askedAt: -Infinity, asked: 0 });
    }
    const due: number[] = [];
    for (const [seq, m] of this.missing) {
      if (now - m.since > this.policy.giveUpMs || m.asked >= this.policy.attempts) {
        this.missing.delete(seq);
        continue;
      }
      if (now - m.askedAt < this.policy.retryMs) continue;
      m.askedAt = now;
      m.asked++;
      due.push(seq);
    }
    this.requested += due.length;
    return due;
  }
}
