import type { ConferenceRecord, MemberChange, MemberRecord, MessageRecord } from "../conference/records.ts";

/** A member to register: the store gives the seat; a new member is a plain member, not muted. */
export type NewMember = Omit<MemberRecord, "seat" | "role" | "hostMuted" | "removedAt">;
/** A text to store: the store gives the sequence number. */
export type NewMessage = Omit<MessageRecord, "seq">;

/** Which page of a member's history: after `afterSeq` (default 0), the newest `limit` or the oldest. */
export interface HistoryPage {
  afterSeq?: number;
  limit: number;
  take?: "newest" | "oldest";
}

/** A registration stored in the next seat, or why not (checked in the same transaction). */
export type AddedMember =
  | { added: true; member: MemberRecord }
  | { added: false; reason: "missing" | "ended" | "full" | "locked" };

/**
 * Persistence of conferences, members and texts. Async so that a networked database can implement
 * it; the SQLite implementation answers synchronously underneath. Every implementation passes the
 * shared suite in `test/store.suite.ts`.
 *
 * The store, not a process's memory, hands out seats and text sequence numbers, atomically: with
 * several servers on one database (or writes finishing out of order) a number taken in memory
 * would fork. Unique constraints make a doubled seat, sequence number or (sender, clientId) an
 * error, never two rows.
 */
export interface Store {
  createConference(conference: ConferenceRecord): Promise<void>;
  getConference(id: string): Promise<ConferenceRecord | undefined>;
  markBuilt(id: string, builtAt: number): Promise<void>;
  /** Ends a conference for good; ending it again changes nothing. */
  markEnded(id: string, endedAt: number): Promise<void>;
  /** How many conferences have not ended, for the server-wide limit. */
  countOpenConferences(): Promise<number>;
  /** Locks or unlocks registration. */
  setLocked(id: string, locked: boolean): Promise<void>;

  /**
   * Registers a member in the conference's next seat (0, 1, 2... in registration order), unless the
   * conference is missing, ended, locked, or already has `capacity` members (removed ones count:
   * their seats stay theirs, empty).
   */
  addMember(member: NewMember, capacity: number): Promise<AddedMember>;
  /** Changes a member's role, host mute or removal; the member as stored now, if there is one. */
  updateMember(
    conferenceId: string,
    memberId: string,
    change: MemberChange,
  ): Promise<MemberRecord | undefined>;
  /** Host-mutes every member not removed and not in `except`; returns those it changed. */
  muteAll(conferenceId: string, except: readonly string[]): Promise<MemberRecord[]>;
  listMembers(conferenceId: string): Promise<MemberRecord[]>;
  findMemberByTokenHash(tokenHash: string): Promise<MemberRecord | undefined>;

  /**
   * Stores a text under the conference's next sequence number (1, 2, 3...). A text whose sender
   * and `clientId` are stored already is not stored again: the stored one comes back, `duplicate`.
   */
  addMessage(message: NewMessage): Promise<{ message: MessageRecord; duplicate: boolean }>;
  /** The text a member sent with this `clientId`, if any: a retransmission is acknowledged, not stored twice. */
  findMessageByClientId(
    conferenceId: string,
    from: string,
    clientId: string,
  ): Promise<MessageRecord | undefined>;
  /** Every text (whoever it is for) with a number in (afterSeq, upTo], oldest first: a node's gap fill. */
  listMessages(conferenceId: string, afterSeq: number, upTo: number): Promise<MessageRecord[]>;
  /** The highest text sequence number of a conference, 0 when it has none. */
  lastSeq(conferenceId: string): Promise<number>;
  /**
   * Texts the member may see (to all, from them, or addressed to them) with a sequence number above
   * `afterSeq`, returned oldest first: the newest `limit` of them, or with `take: "oldest"` the oldest
   * `limit` (for paging forward through everything missed).
   */
  listVisibleMessages(conferenceId: string, memberId: string, page: HistoryPage): Promise<MessageRecord[]>;

  close(): Promise<void>;
}
