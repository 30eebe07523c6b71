import type { ConferenceRecord, MemberRecord } from "../conference/records.ts";

// Rows as SQLite and PostgreSQL both return them; pg gives bigint columns as strings.
const num = (v: number | string): number => Number(v);
const numOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));
// SQLite keeps booleans as 0 and 1, PostgreSQL as booleans.
const bool = (v: number | boolean): boolean => v === true || v === 1;

/** A `conferences` row. */
export interface ConferenceRow {
  id: string;
  title: string;
  host_token_hash: string;
  state: "registering" | "built";
  created_at: number | string;
  built_at: number | string | null;
  ended_at: number | string | null;
  locked: number | boolean;
}

/** Ending is kept as a time (`ended_at`), beside the state it overrides. */
export const toConference = (r: ConferenceRow): ConferenceRecord => ({
  id: r.id,
  title: r.title,
  hostTokenHash: r.host_token_hash,
  state: r.ended_at === null ? r.state : "ended",
  createdAt: num(r.created_at),
  builtAt: numOrNull(r.built_at),
  endedAt: numOrNull(r.ended_at),
  locked: bool(r.locked),
});

/** A `members` row. */
export interface MemberRow {
  id: string;
  conference_id: string;
  name: string;
  token_hash: string;
  avatar_hash: string;
  avatar_color: string;
  seat: number;
  created_at: number | string;
  role: string;
  host_muted: number | boolean;
  removed_at: number | string | null;
}

export const toMember = (r: MemberRow): MemberRecord => ({
  id: r.id,
  conferenceId: r.conference_id,
  name: r.name,
  tokenHash: r.token_hash,
  avatarHash: r.avatar_hash,
  avatarColor: r.avatar_color,
  seat: r.seat,
  createdAt: num(r.created_at),
  role: r.role === "co-host" ? "co-host" : "member",
  hostMuted: bool(r.host_muted),
  removedAt: numOrNull(r.removed_at),
});

/** A new member as stored: a plain member, not muted, not removed. */
export const newMemberDefaults = { role: "member", hostMuted: false, removedAt: null } as const;
