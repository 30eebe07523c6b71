/**
 * Which members of a conference are connected to other nodes, as those nodes report it: a change
 * as it happens, and their whole list now and then (a heartbeat). A node not heard from for
 * `ttlMs` (killed, cut off) no longer counts: its members go offline here. Pure.
 */
export class RemotePresence {
  private readonly nodes = new Map<string, { online: Set<string>; heardAt: number }>();
  /** Grows with every report and expiry: whoever caches what follows from presence compares it. */
  version = 0;

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
    this.version++;
    return this.flipped(before);
  }

  /** Drops nodes not heard from in time; returns the members that went offline with them. */
  expire(now: number): string[] {
    const stale = [...this.nodes].filter(([, e]) => now - e.heardAt > this.ttlMs);
    if (stale.length === 0) return [];
    const before = this.snapshot(stale.flatMap(([, e]) => [...e.online]));
    for (const [node] of stale) this.nodes.delete(node);
    this.version++;
    return this.flipped(before);
  }

  has(memberId: string): boolean {
    for (const entry of this.nodes.values()) if (entry.online.has(memberId)) return true;
    return false;
  }

  /**
   * The other nodes where someone `target` addresses is connected (anyone for "all"), not counting
   * `speakerId` themselves: where a speaker's voice must go, and nowhere else.
   */
  nodesHosting(target: "all" | readonly string[], speakerId: string): string[] {
    const out: string[] = [];
    for (const [node, entry] of this.nodes) {
      const hosts =
        target === "all"
          ? entry.online.size > (entry.online.has(speakerId) ? 1 : 0)
          : target.some((id) => id !== speakerId && entry.online.has(id));
      if (hosts) out.push(node);
    }
    return out;
  }

  /** Whether `node` reported within the time to live (and was not expired since). */
  knowsNode(node: string): boolean {
    return this.nodes.has(node);
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
