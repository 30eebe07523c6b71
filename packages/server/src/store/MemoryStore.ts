import type { ConferenceRecord, MemberRecord, MessageRecord } from "../conference/records.ts";
import type { Store } from "./Store.ts";

/** An in-memory Store for unit tests and throwaway servers. */
export class MemoryStore implements Store {
  private readonly conferences = new Map<string, ConferenceRecord>();
  private readonly members = new Map<string, MemberRecord[]>();
  private readonly membersByToken = new Map<string, MemberRecord>();
  private readonly messages = new Map<string, MessageRecord[]>();

  async createConference(conference: ConferenceRecord): Promise<void> {
    if (this.conferences.has(conference.id)) throw new Error(`conference ${conference.id} exists`);
    this.conferences.set(conference.id, { ...conference });
  }

  async getConference(id: string): Promise<ConferenceRecord | undefined> {
    const found = this.conferences.get(id);
    return found && { ...found };
  }

  async markBuilt(id: string, builtAt: number): Promise<void> {
    const found = this.conferences.get(id);
    if (found && found.state !== "built") {
      found.state = "built";
      found.builtAt = builtAt;
    }
  }

  async markEnded(id: string, endedAt: number): Promise<void> {
    const found = this.conferences.get(id);
    if (found && found.state !== "ended") {
      found.state = "ended";
      found.endedAt = endedAt;
    }
  }

  async countOpenConferences(): Promise<number> {
    return [...this.conferences.values()].filter((c) => c.state !== "ended").length;
  }

  async addMember(member: MemberRecord): Promise<void> {
    if (this.membersByToken.has(member.tokenHash)) throw new Error("duplicate token");
    const list = this.members.get(member.conferenceId) ?? [];
    list.push({ ...member });
    this.members.set(member.conferenceId, list);
    this.membersByToken.set(member.tokenHash, { ...member });
  }

  async listMembers(conferenceId: string): Promise<MemberRecord[]> {
    return (this.members.get(conferenceId) ?? []).map((m) => ({ ...m })).sort((a, b) => a.seat - b.seat);
  }

  async findMemberByTokenHash(tokenHash: string): Promise<MemberRecord | undefined> {
    const found = this.membersByToken.get(tokenHash);
    return found && { ...found };
  }

  async addMessage(message: MessageRecord): Promise<void> {
    const list = this.messages.get(message.conferenceId) ?? [];
    list.push(structuredClone(message));
    this.messages.set(message.conferenceId, list);
  }

  async findMessageByClientId(
    conferenceId: string,
    from: string,
    clientId: string,
  ): Promise<MessageRecord | undefined> {
    const found = this.messages.get(conferenceId)?.find((m) => m.from === from && m.clientId === clientId);
    return found && structuredClone(found);
  }

  async lastSeq(conferenceId: string): Promise<number> {
    return this.messages.get(conferenceId)?.at(-1)?.seq ?? 0;
  }

  async listVisibleMessages(
    conferenceId: string,
    memberId: string,
    {
      afterSeq = 0,
      limit,
      take = "newest",
    }: { afterSeq?: number; limit: number; take?: "newest" | "oldest" },
  ): Promise<MessageRecord[]> {
    const visible = (this.messages.get(conferenceId) ?? []).filter(
      (m) => m.seq > afterSeq && (m.to === "all" || m.from === memberId || m.to.includes(memberId)),
    );
    const page = take === "oldest" ? visible.slice(0, limit) : visible.slice(-limit);
    return page.map((m) => structuredClone(m));
  }

  async close(): Promise<void> {}
}
