/**
 * Tokens kept per conference so a member can reopen their room (and a host their host page) from a
 * bare link. Storage can be unavailable (private modes, disabled cookies): then nothing is
 * remembered and links with tokens still work.
 */

const memberKey = (conferenceId: string) => `roundtable:member-token:${conferenceId}`;
const hostKey = (conferenceId: string) => `roundtable:host-token:${conferenceId}`;

function read(key: string): string | undefined {
  try {
    return localStorage.getItem(key) ?? undefined;
  } catch {
    return undefined;
  }
}

function write(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Not remembering is an inconvenience, not an error worth showing.
  }
}

export const storedMemberToken = (conferenceId: string) => read(memberKey(conferenceId));
export const storeMemberToken = (conferenceId: string, token: string) =>
  write(memberKey(conferenceId), token);
export const storedHostToken = (conferenceId: string) => read(hostKey(conferenceId));
export const storeHostToken = (conferenceId: string, token: string) => write(hostKey(conferenceId), token);

/** Small per-browser preferences (voice device, spatial audio, ...), kept across conferences. */
export const readSetting = (key: string) => read(key);
export const writeSetting = (key: string, value: string) => write(key, value);

/**
 * Texts not yet confirmed by the server, kept for this tab only (sessionStorage) so a reload while
 * offline does not lose them: the client sends them again under the same ids, which the server
 * stores once.
 */
const outboxKey = (conferenceId: string, token: string) =>
  `roundtable:outbox:${conferenceId}:${token.slice(0, 16)}`;

export function readOutbox<T>(conferenceId: string, token: string): T[] {
  try {
    const raw = sessionStorage.getItem(outboxKey(conferenceId, token));
    const parsed: unknown = raw ? JSON.parse(raw) : [];
    return Array.isArray(parsed) ? (parsed as T[]) : [];
  } catch {
    return [];
  }
}

export function writeOutbox(conferenceId: string, token: string, entries: readonly unknown[]): void {
  try {
    const key = outboxKey(conferenceId, token);
    if (entries.length === 0) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, JSON.stringify(entries));
  } catch {
    // Without storage a reload can lose unsent texts; everything else still works.
  }
}
