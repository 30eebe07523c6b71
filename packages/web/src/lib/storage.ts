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
