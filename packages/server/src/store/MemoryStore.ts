import type { ConferenceRecord, MemberChange, MemberRecord, MessageRecord } from "../conference/records.ts";
import { newMemberDefaults } from "./rows.ts";
import type { AddedMember, HistoryPage, NewMember, NewMessage, Store } from "./Store.ts";

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

  async addMember(member: NewMember, capacity: number): Promise<AddedMember> {
    const conference = this.conferences.get(member.conferenceId);
    if (!conference) return { added: false, reason: "missing" };
    if (conference.state === "ended") return { added: false, reason: "ended" };
    if (conference.locked) return { added: false, reason: "locked" };
    const list = this.members.get(member.conferenceId) ?? [];
    if (list.length >= capacity) return { added: false, reason: "full" };
    if (this.membersByToken.has(member.tokenHash)) throw new Error("duplicate token");
    const stored: MemberRecord = { ...member, seat: list.length, ...newMemberDefaults };
    list.push(stored);
    this.members.set(member.conferenceId, list);
    this.membersByToken.set(member.tokenHash, stored);
    return { added: true, member: { ...stored } };
  }

  async setLocked(id: string, locked: boolean): Promise<void> {
    const found = this.conferences.get(id);
    if (found) found.locked = locked;
  }

  async updateMember(
    conferenceId: string,
    memberId: string,
    change: MemberChange,
  ): Promise<MemberRecord | undefined> {
    const found = this.members.get(conferenceId)?.find((m) => m.id === memberId);
    if (!found) return undefined;
    if (change.role !== undefined) found.role = change.role;
    if (change.hostMuted !== undefined) found.hostMuted = change.hostMuted;
    found.removedAt ??= change.removedAt ?? null;
    return { ...found };
  }

  async muteAll(conferenceId: string, except: readonly string[]): Promise<MemberRecord[]> {
    const changed = (this.members.get(conferenceId) ?? []).filter(
      (m) => m.removedAt === null && !m.hostMuted && !except.includes(m.id),
    );
    for (const m of changed) m.hostMuted = true;
    return changed.map((m) => ({ ...m }));
  }

  async listMembers(conferenceId: string): Promise<MemberRecord[]> {
    return (this.members.get(conferenceId) ?? []).map((m) => ({ ...m })).sort((a, b) => a.seat - b.seat);
  }

  async findMemberByTokenHash(tokenHash: string): Promise<MemberRecord | undefined> {
    const found = this.membersByToken.get(tokenHash);
    return found && { ...found };
  }

  async addMessage(message: NewMessage): Promise<{ message: MessageRecord; duplicate: boolean }> {
    const { clientId } = message;
    const list = this.messages.get(message.conferenceId) ?? [];
    // Looked up without awaiting: nothing may come between the check and the insert.
    const stored = clientId && list.find((m) => m.from === message.from && m.clientId === clientId);
    if (stored) return { message: structuredClone(stored), duplicate: true };
    const record: MessageRecord = { ...structuredClone(message), seq: (list.at(-1)?.seq ?? 0) + 1 };
    list.push(record);
    this.messages.set(message.conferenceId, list);
    return { message: structuredClone(record), duplicate: false };
  }

  async findMessageByClientId(
    conferenceId: string,
    from: string,
    clientId: string,
  ): Promise<MessageRecord | undefined> {
    const found = this.messages.get(conferenceId)?.find((m) => m.from === from && m.clientId === clientId);
    return found && structuredClone(found);
  }

  async listMessages(conferenceId: string, afterSeq: number, upTo: number): Promise<MessageRecord[]> {
    return (this.messages.get(conferenceId) ?? [])
      .filter((m) => m.seq > afterSeq && m.seq <= upTo)
      .map((m) => structuredClone(m));
  }

  async lastSeq(conferenceId: string): Promise<number> {
    return this.messages.get(conferenceId)?.at(-1)?.seq ?? 0;
  }

  async listVisibleMessages(
    conferenceId: string,
    memberId: string,
    page: HistoryPage,
  ): Promise<MessageRecord[]> {
    const { afterSeq = 0, limit, take = "newest" } = page;
    const visible = (this.messages.get(conferenceId) ?? []).filter(
      (m) => m.seq > afterSeq && (m.to === "all" || m.from === memberId || m.to.includes(memberId)),
    );
    const chosen = take === "oldest" ? visible.slice(0, limit) : visible.slice(-limit);
    return chosen.map((m) => structuredClone(m));
  }

  async close(): Promise<void> {}
}
