/** "all", or the members chosen. */
export type VoiceTarget = "all" | readonly string[];

/**
 * Who hears a speaker: every connected listener for "all", else the chosen members who are
 * connected. Never the speaker. Pure, so the privacy rule is tested without any media.
 */
export function listenersOf(
  speakerId: string,
  target: VoiceTarget,
  connected: ReadonlySet<string>,
): string[] {
  if (target === "all") return [...connected].filter((id) => id !== speakerId);
  const out: string[] = [];
  for (const id of new Set(target)) if (id !== speakerId && connected.has(id)) out.push(id);
  return out;
}

/** True when `listenerId` may hear `speakerId` speaking to `target`. */
export function mayHear(speakerId: string, target: VoiceTarget, listenerId: string): boolean {
  if (listenerId === speakerId) return false;
  return target === "all" || target.includes(listenerId);
}
