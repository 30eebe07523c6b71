import type { ConferenceRecord, MemberRecord, MessageRecord } from "../conference/records.ts";

/**
 * Persistence of conferences, members and texts. Async so that a networked database can implement
 * it; the SQLite implementation answers synchronously underneath. Every implementation passes the
 * shared suite in `test/store.suite.ts`.
 */
export interface Store {
  createConference(conference: ConferenceRecord): Promise<void>;
  getConference(id: string): Promise<ConferenceRecord | undefined>;
  markBuilt(id: string, builtAt: number): Promise<void>;
  /** Ends a conference for good; ending it again changes nothing. */
  markEnded(id: string, endedAt: number): Promise<void>;
  /** How many conferences have not ended, for the server-wide limit. */
  countOpenConferences(): Promise<number>;

  addMember(member: MemberRecord): Promise<void>;
  listMembers(conferenceId: string): Promise<MemberRecord[]>;
  findMemberByTokenHash(tokenHash: string): Promise<MemberRecord | undefined>;

  addMessage(message: MessageRecord): Promise<void>;
  /** The text a member sent with this `clientId`, if any: a retransmission is acknowledged, not stored twice. */
  findMessageByClientId(
    conferenceId: string,
    from: string,
    clientId: string,
  ): Promise<MessageRecord | undefined>;
  /** The highest text sequence number of a conference, 0 when it has none. */
  lastSeq(conferenceId: string): Promise<number>;
  /**
   * Texts the member may see (to all, from them, or addressed to them) with a sequence number above
   * `afterSeq`, returned oldest first: the newest `limit` of them, or with `take: "oldest"` the oldest
   * `limit` (for paging forward through everything missed).
   */
  listVisibleMessages(
    conferenceId: string,
    memberId: string,
    options: { afterSeq?: number; limit: number; take?: "newest" | "oldest" },
  ): Promise<MessageRecord[]>;

  close(): Promise<void>;
}
