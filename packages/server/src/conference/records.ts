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
}

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
}

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
