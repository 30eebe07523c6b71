/**
 * The loss a speaker's listeners see, from their receiver reports on the slots carrying that
 * speaker. The speaker's encoder is told the worst of them combined with its own uplink's, so Opus
 * FEC and bitrate adapt to what listeners lose, not only to the first hop. Reports older than
 * `freshMs` (a listener who left, or whose slot moved on) no longer count: browsers report on audio
 * every 5 s or so (randomised by half either way) when they have no NACK to send. Pure.
 */
export class AudienceLoss {
  private readonly reports = new Map<string, { fraction: number; at: number }>();

  constructor(private readonly freshMs = 10_000) {}

  report(listenerId: string, fraction: number, now: number): void {
    this.reports.set(listenerId, { fraction: Math.min(1, Math.max(0, fraction)), at: now });
  }

  worst(now: number): number {
    let worst = 0;
    for (const [id, r] of this.reports) {
      if (now - r.at > this.freshMs) this.reports.delete(id);
      else if (r.fraction > worst) worst = r.fraction;
    }
    return worst;
  }
}

/** Loss over two hops in a row, each losing independently. */
export function combinedLoss(first: number, second: number): number {
  return 1 - (1 - first) * (1 - second);
}
