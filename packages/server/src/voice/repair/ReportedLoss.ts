/**
 * The loss one listener's receiver reports state for one slot, from the reports' cumulative fields
 * (RFC 3550 §6.4.1) rather than their fraction-lost byte. A receiver computes the fraction per report
 * interval and clamps a negative one to zero, so a packet reordered across an interval's end counts as
 * lost in one report and is never found again in the next. Chromium sends a report with every NACK,
 * so its intervals are a few packets long on a jittery link: at 40 ± 30 ms per hop and no loss at all,
 * its fractions told the speaker 7%, and 21% where 10% was lost. The cumulative count goes back down
 * when the late packet arrives: its change over at least `minPackets` expected packets is unbiased.
 *
 * Pure: fed report blocks, returns a fraction once enough packets were expected since the last one.
 */
export class ReportedLoss {
  private base: { lost: number; highest: number } | undefined;

  /** At least 50 packets, one second of 20 ms frames, between figures. */
  constructor(private readonly minPackets = 50) {}

  /**
   * One report block's cumulative lost (the raw 24-bit field) and extended highest sequence number.
   * Returns the fraction lost (0 to 1) since the previous figure, or undefined while too few packets
   * were expected since then.
   */
  add(cumulativeLost: number, extendedHighest: number): number | undefined {
    const lost = signed24(cumulativeLost);
    // The first report, or a receiver that started counting afresh: a new base, no figure yet.
    if (!this.base || extendedHighest < this.base.highest) {
      this.base = { lost, highest: extendedHighest };
      return undefined;
    }
    const expected = extendedHighest - this.base.highest;
    if (expected < this.minPackets) return undefined;
    const fraction = (lost - this.base.lost) / expected;
    this.base = { lost, highest: extendedHighest };
    return Math.min(1, Math.max(0, fraction));
  }
}

/** The report's cumulative lost is a signed 24-bit number: duplicates can make it negative. */
function signed24(value: number): number {
  return value & 0x800000 ? value - 0x1000000 : value;
}
