import type { Scheduler } from "./ports.ts";
import type { MessageRecord } from "./records.ts";

const SKIP = Symbol("skip");

/**
 * Puts one conference's texts in sequence order on this node, whichever node stored them: a text
 * is delivered only once every lower number has been delivered or skipped. A number this node will
 * not see in full (a whisper to members elsewhere) arrives as a skip. A gap that stays open for
 * `gapMs` (a bus message lost, or a node killed between its commit and its publish) is filled from
 * the store, where every number below a known one exists: the store hands them out under a lock
 * held until commit.
 */
export class TextSequencer {
  private readonly pending = new Map<number, MessageRecord | typeof SKIP>();
  private gapTimer: (() => void) | undefined;
  private closed = false;

  constructor(
    /** The first sequence number not yet delivered here. */
    private next: number,
    private readonly deliver: (record: MessageRecord) => void,
    /** Every stored text with a number in (afterSeq, upTo], oldest first. */
    private readonly fill: (afterSeq: number, upTo: number) => Promise<MessageRecord[]>,
    private readonly scheduler: Scheduler,
    private readonly gapMs = 250,
  ) {}

  /** A stored text, from this node or another. */
  text(record: MessageRecord): void {
    if (record.seq < this.next || this.closed) return;
    this.pending.set(record.seq, record);
    this.drain();
  }

  /** A number taken by a text not for anyone here. */
  skip(seq: number): void {
    if (seq < this.next || this.closed || this.pending.has(seq)) return;
    this.pending.set(seq, SKIP);
    this.drain();
  }

  close(): void {
    this.closed = true;
    this.gapTimer?.();
    this.pending.clear();
  }

  private drain(): void {
    for (let item = this.pending.get(this.next); item !== undefined; item = this.pending.get(this.next)) {
      this.pending.delete(this.next);
      this.next++;
      if (item !== SKIP) this.deliver(item);
    }
    if (this.pending.size === 0) {
      this.gapTimer?.();
      this.gapTimer = undefined;
    } else this.gapTimer ??= this.scheduler.schedule(() => this.fillGap(), this.gapMs);
  }

  private fillGap(): void {
    this.gapTimer = undefined;
    if (this.closed || this.pending.size === 0) return;
    const from = this.next;
    const upTo = Math.min(...this.pending.keys()) - 1;
    this.fill(from - 1, upTo).then(
      (records) => {
        if (this.closed) return;
        for (const record of records)
          if (record.seq >= this.next && !this.pending.has(record.seq)) this.pending.set(record.seq, record);
        // Whatever the store does not have below a known number was never stored: skip it.
        for (let seq = Math.max(from, this.next); seq <= upTo; seq++)
          if (!this.pending.has(seq)) this.pending.set(seq, SKIP);
        this.drain();
      },
      () => {
        // The store is unreachable: try again after another wait.
        if (!this.closed) this.drain();
      },
    );
  }
}
