/**
 * Which members of a conference are connected to other nodes, as those nodes report it: a change
 * as it happens, and their whole list now and then (a heartbeat). A node not heard from for
 * `ttlMs` (killed, cut off) no longer counts: its members go offline here. Pure.
 */
export class RemotePresence {
  private readonly nodes = new Map<string, { online: Set<string>; heardAt: number }>();

  constructor(private readonly ttlMs = 15_000) {}

  /**
   * One node's report: its whole list (`full`), or what changed. Returns the members whose
   * "connected to some other node" state flipped.
   */
  apply(
    node: string,
    report: { full: boolean; online: readonly string[]; offline: readonly string[] },
    now: number,
  ): string[] {
    const before = this.snapshot(
      report.full
        ? [...(this.nodes.get(node)?.online ?? []), ...report.online]
        : [...report.online, ...report.offline],
    );
    const entry = this.nodes.get(node) ?? { online: new Set<string>(), heardAt: now };
    if (report.full) entry.online = new Set(report.online);
    else {
      for (const id of report.online) entry.online.add(id);
      for (const id of report.offline) entry.online.delete(id);
    }
    entry.heardAt = now;
    this.nodes.set(node, entry);
    return this.flipped(before);
  }

  /** Drops nodes not heard from in time; returns the members that went offline with them. */
  expire(now: number): string[] {
    const stale = [...this.nodes].filter(([, e]) => now - e.heardAt > this.ttlMs);
    if (stale.length === 0) return [];
    const before = this.snapshot(stale.flatMap(([, e]) => [...e.online]));
    for (const [node] of stale) this.nodes.delete(node);
    return this.flipped(before);
  }

  has(memberId: string): boolean {
    for (const entry of this.nodes.values()) if (entry.online.has(memberId)) return true;
    return false;
  }

  members(): string[] {
    const all = new Set<string>();
    for (const entry of this.nodes.values()) for (const id of entry.online) all.add(id);
    return [...all];
  }

  private snapshot(ids: string[]): Map<string, boolean> {
    return new Map(ids.map((id) => [id, this.has(id)]));
  }

  private flipped(before: Map<string, boolean>): string[] {
    return [...before].filter(([id, was]) => this.has(id) !== was).map(([id]) => id);
  }
}
