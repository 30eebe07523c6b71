import type { Audience, ConferenceState } from "@roundtable/protocol";

/** What the store keeps. Token fields hold SHA-256 hashes, never the tokens themselves. */

export interface ConferenceRecord {
  id: string;
  title: string;
  hostTokenHash: string;
  state: ConferenceState;
  createdAt: number;
  builtAt: number | null;
  endedAt: number | null;
  /** The host locked registration: new members are refused until unlocked. */
  locked: boolean;
}

export type MemberRole = "member" | "co-host";

export interface MemberRecord {
  id: string;
  conferenceId: string;
  name: string;
  tokenHash: string;
  /** Content address of the normalised avatar image. */
  avatarHash: string;
  avatarColor: string;
  seat: number;
  createdAt: number;
  role: MemberRole;
  /** The host muted them: their voice is not forwarded, and only a host can lift it. */
  hostMuted: boolean;
  /** The host removed them: their token is refused from then on; their texts stay. */
  removedAt: number | null;
}

/** What a host may change about a member. */
export type MemberChange = Partial<Pick<MemberRecord, "role" | "hostMuted" | "removedAt">>;

export interface MessageRecord {
  id: string;
  conferenceId: string;
  seq: number;
  from: string;
  to: Audience;
  text: string;
  sentAt: number;
  clientId: string | null;
}
