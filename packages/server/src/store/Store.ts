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

  addMember(member: MemberRecord): Promise<void>;
  listMembers(conferenceId: string): Promise<MemberRecord[]>;
  findMemberByTokenHash(tokenHash: string): Promise<MemberRecord | undefined>;

  addMessage(message: MessageRecord): Promise<void>;
  /** The highest text sequence number of a conference, 0 when it has none. */
  lastSeq(conferenceId: string): Promise<number>;
  /**
   * Texts the member may see (to all, from them, or addressed to them), oldest first: the newest
   * `limit` of them with a sequence number above `afterSeq`.
   */
  listVisibleMessages(
    conferenceId: string,
    memberId: string,
    options: { afterSeq?: number; limit: number },
  ): Promise<MessageRecord[]>;

  close(): Promise<void>;
}
