/**
 * Loss on one incoming RTP stream, as receiver reports state it (RFC 3550 §6.4.1), but counting a
 * packet as lost only once it is `settleWindow` packets behind the newest: a reordered packet or a
 * retransmission that arrives in that time is not lost. werift's own statistics count every packet
 * still out at report time, which reads 2-3% loss on a link that loses nothing but reorders.
 *
 * Pure: fed sequence numbers, asked for reports.
 */

/** How many recent sequence numbers are remembered: 2048 packets, 41 s of 20 ms frames. */
const RING = 2048;

export class LossMeter {
  private readonly seen = new Int32Array(RING).fill(-1);
  /** Extended (wrap-counting) sequence number of the newest packet; -1 before the first. */
  private highest = -1;
  private first = -1;
  /** Everything up to here was settled in an earlier report. */
  private reportedUpTo = -1;
  /** Lost packets over the stream's life, for the report's cumulative field. */
  lostTotal = 0;

  constructor(private readonly settleWindow = 10) {}

  add(sequenceNumber: number): void {
    const ext = this.extend(sequenceNumber);
    if (ext < 0) return;
    if (this.first < 0) {
      this.first = ext;
      this.reportedUpTo = ext - 1;
    }
    if (ext > this.highest) this.highest = ext;
    this.seen[ext % RING] = ext;
  }

  /**
   * The fraction of packets lost among those settled since the last call (0 to 1), and moves the
   * report window on. 0 when nothing settled.
   */
  report(): number {
    const end = this.highest - this.settleWindow;
    let start = this.reportedUpTo + 1;
    if (end < start) return 0;
    // Beyond the ring nothing is known: only the most recent stretch counts.
    if (end - start >= RING - this.settleWindow) start = end - (RING - this.settleWindow) + 1;
    let lost = 0;
    for (let ext = start; ext <= end; ext++) if (this.seen[ext % RING] !== ext) lost++;
    this.reportedUpTo = end;
    this.lostTotal += lost;
    return lost / (end - start + 1);
  }

  /** The highest extended sequence number received, as a receiver report carries it. */
  get extendedHighest(): number {
    return Math.max(0, this.highest);
  }

  /** A 16-bit sequence number as the extended one nearest the newest; -1 when too old to place. */
  private extend(sequenceNumber: number): number {
    if (this.highest < 0) return sequenceNumber;
    const delta = ((sequenceNumber - this.highest + 0x8000) & 0xffff) - 0x8000;
    const ext = this.highest + delta;
    return ext <= this.highest - RING ? -1 : ext;
  }
}
