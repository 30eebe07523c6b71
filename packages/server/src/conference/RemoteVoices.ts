/**
 * Whose voice is on at another node of a cluster, as those nodes report it: which node, and
 * whether muted. A report that a voice went off counts only from the node that has it, so an "off"
 * arriving late from a node the member has left never hides their voice on the next. Pure.
 */
export class RemoteVoices {
  private readonly voices = new Map<string, { node: string; muted: boolean }>();

  /** Applies one node's report; true when something changed that members should hear of. */
  apply(report: { node: string; memberId: string; connected: boolean; muted: boolean }): boolean {
    const current = this.voices.get(report.memberId);
    if (report.connected) {
      if (current?.node === report.node && current.muted === report.muted) return false;
      this.voices.set(report.memberId, { node: report.node, muted: report.muted });
      return true;
    }
    if (current?.node !== report.node) return false;
    this.voices.delete(report.memberId);
    return true;
  }

  /** Forgets a member's voice (they went offline everywhere); true when there was one. */
  drop(memberId: string): boolean {
    return this.voices.delete(memberId);
  }

  /** Forgets the voices of nodes that are gone; returns their members. */
  dropNodesExcept(alive: (node: string) => boolean): string[] {
    const gone: string[] = [];
    for (const [memberId, voice] of this.voices)
      if (!alive(voice.node)) {
        this.voices.delete(memberId);
        gone.push(memberId);
      }
    return gone;
  }

  get(memberId: string): { node: string; muted: boolean } | undefined {
    return this.voices.get(memberId);
  }

  entries(): IterableIterator<[string, { node: string; muted: boolean }]> {
    return this.voices.entries();
  }
}
