import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type {
  ConferenceRecord,
  MemberChange,
  MemberRecord,
  MessageRecord,
} from "../../conference/records.ts";
import { type ConferenceRow, type MemberRow, newMemberDefaults, toConference, toMember } from "../rows.ts";
import type { AddedMember, HistoryPage, NewMember, NewMessage, Store } from "../Store.ts";
import { MIGRATIONS } from "./migrations.ts";

interface MessageRow {
  id: string;
  conference_id: string;
  seq: number;
  from_id: string;
  to_all: number;
  recipients: string;
  text: string;
  sent_at: number;
  client_id: string | null;
}

const toMessage = (r: MessageRow): MessageRecord => ({
  id: r.id,
  conferenceId: r.conference_id,
  seq: r.seq,
  from: r.from_id,
  to: r.to_all ? "all" : (JSON.parse(r.recipients) as string[]),
  text: r.text,
  sentAt: r.sent_at,
  clientId: r.client_id,
});

function visibleQuery(order: "ASC" | "DESC"): string {
  return `
    SELECT * FROM messages WHERE conference_id = @c AND seq > @after AND (
      to_all = 1 OR from_id = @m OR seq IN (
        SELECT seq FROM message_recipients WHERE conference_id = @c AND member_id = @m AND seq > @after))
    ORDER BY seq ${order} LIMIT @limit`;
}

/** The embedded default Store: one SQLite file in WAL mode. `":memory:"` works for tests. */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmts;
  private readonly addMemberTx: (m: NewMember, capacity: number) => AddedMember;
  private readonly addMessageTx: (m: NewMessage) => { message: MessageRecord; duplicate: boolean };

  constructor(file: string) {
    if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    // WAL with synchronous=NORMAL survives process crashes; only an OS crash can lose the last commits.
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("foreign_keys = ON");
    this.migrate();
    const db = this.db;
    this.stmts = {
      insertConference: db.prepare(
        "INSERT INTO conferences (id, title, host_token_hash, state, created_at, built_at) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      getConference: db.prepare("SELECT * FROM conferences WHERE id = ?"),
      markBuilt: db.prepare(
        "UPDATE conferences SET state = 'built', built_at = ? WHERE id = ? AND state <> 'built'",
      ),
      markEnded: db.prepare("UPDATE conferences SET ended_at = ? WHERE id = ? AND ended_at IS NULL"),
      countOpenConferences: db.prepare("SELECT COUNT(*) AS n FROM conferences WHERE ended_at IS NULL"),
      setLocked: db.prepare("UPDATE conferences SET locked = ? WHERE id = ?"),
      // Removal is for good: a removed_at once set is never cleared.
      updateMember: db.prepare(
        "UPDATE members SET role = COALESCE(@role, role), host_muted = COALESCE(@hostMuted, host_muted), removed_at = COALESCE(removed_at, @removedAt) WHERE conference_id = @c AND id = @m RETURNING *",
      ),
      muteAll: db.prepare(
        "UPDATE members SET host_muted = 1 WHERE conference_id = ? AND removed_at IS NULL AND host_muted = 0 AND id NOT IN (SELECT value FROM json_each(?)) RETURNING *",
      ),
      insertMember: db.prepare(
        "INSERT INTO members (id, conference_id, name, token_hash, avatar_hash, avatar_color, seat, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      countMembers: db.prepare("SELECT COUNT(*) AS n FROM members WHERE conference_id = ?"),
      listMembers: db.prepare("SELECT * FROM members WHERE conference_id = ? ORDER BY seat"),
      memberByToken: db.prepare("SELECT * FROM members WHERE token_hash = ?"),
      insertMessage: db.prepare(
        "INSERT INTO messages (id, conference_id, seq, from_id, to_all, recipients, text, sent_at, client_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      insertRecipient: db.prepare(
        "INSERT OR IGNORE INTO message_recipients (conference_id, member_id, seq) VALUES (?, ?, ?)",
      ),
      messageByClientId: db.prepare(
        "SELECT * FROM messages WHERE conference_id = ? AND from_id = ? AND client_id = ? LIMIT 1",
      ),
      lastSeq: db.prepare("SELECT COALESCE(MAX(seq), 0) AS seq FROM messages WHERE conference_id = ?"),
      messagesBetween: db.prepare(
        "SELECT * FROM messages WHERE conference_id = ? AND seq > ? AND seq <= ? ORDER BY seq",
      ),
      visibleNewest: db.prepare(visibleQuery("DESC")),
      visibleOldest: db.prepare(visibleQuery("ASC")),
    };
    this.addMemberTx = db.transaction(this.addMemberRows.bind(this));
    this.addMessageTx = db.transaction(this.addMessageRows.bind(this));
  }

  private migrate(): void {
    const version = this.db.pragma("user_version", { simple: true }) as number;
    for (let i = version; i < MIGRATIONS.length; i++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[i] as string);
        this.db.pragma(`user_version = ${i + 1}`);
      })();
    }
  }

  async createConference(c: ConferenceRecord): Promise<void> {
    this.stmts.insertConference.run(c.id, c.title, c.hostTokenHash, c.state, c.createdAt, c.builtAt);
  }

  async getConference(id: string): Promise<ConferenceRecord | undefined> {
    const r = this.stmts.getConference.get(id) as ConferenceRow | undefined;
    return r && toConference(r);
  }

  async markBuilt(id: string, builtAt: number): Promise<void> {
    this.stmts.markBuilt.run(builtAt, id);
  }

  async markEnded(id: string, endedAt: number): Promise<void> {
    this.stmts.markEnded.run(endedAt, id);
  }

  async countOpenConferences(): Promise<number> {
    return (this.stmts.countOpenConferences.get() as { n: number }).n;
  }

  // One transaction each (SQLite runs one writer at a time): the count and the insert cannot interleave.
  private addMemberRows(m: NewMember, capacity: number): AddedMember {
    const conference = this.stmts.getConference.get(m.conferenceId) as
      | { ended_at: number | null; locked: number }
      | undefined;
    if (!conference) return { added: false, reason: "missing" };
    if (conference.ended_at !== null) return { added: false, reason: "ended" };
    if (conference.locked) return { added: false, reason: "locked" };
    const seat = (this.stmts.countMembers.get(m.conferenceId) as { n: number }).n;
    if (seat >= capacity) return { added: false, reason: "full" };
    this.stmts.insertMember.run(
      m.id,
      m.conferenceId,
      m.name,
      m.tokenHash,
      m.avatarHash,
      m.avatarColor,
      seat,
      m.createdAt,
    );
    return { added: true, member: { ...m, seat, ...newMemberDefaults } };
  }

  async setLocked(id: string, locked: boolean): Promise<void> {
    this.stmts.setLocked.run(locked ? 1 : 0, id);
  }

  async updateMember(
    conferenceId: string,
    memberId: string,
    change: MemberChange,
  ): Promise<MemberRecord | undefined> {
    const row = this.stmts.updateMember.get({
      c: conferenceId,
      m: memberId,
      role: change.role ?? null,
      hostMuted: change.hostMuted === undefined ? null : change.hostMuted ? 1 : 0,
      removedAt: change.removedAt ?? null,
    }) as MemberRow | undefined;
    return row && toMember(row);
  }

  async muteAll(conferenceId: string, except: readonly string[]): Promise<MemberRecord[]> {
    return (this.stmts.muteAll.all(conferenceId, JSON.stringify(except)) as MemberRow[]).map(toMember);
  }

  async addMember(m: NewMember, capacity: number): Promise<AddedMember> {
    return this.addMemberTx(m, capacity);
  }

  async listMembers(conferenceId: string): Promise<MemberRecord[]> {
    return (this.stmts.listMembers.all(conferenceId) as MemberRow[]).map(toMember);
  }

  async findMemberByTokenHash(tokenHash: string): Promise<MemberRecord | undefined> {
    const r = this.stmts.memberByToken.get(tokenHash) as MemberRow | undefined;
    return r && toMember(r);
  }

  private addMessageRows(m: NewMessage): { message: MessageRecord; duplicate: boolean } {
    const stored =
      m.clientId &&
      (this.stmts.messageByClientId.get(m.conferenceId, m.from, m.clientId) as MessageRow | undefined);
    if (stored) return { message: toMessage(stored), duplicate: true };
    const seq = (this.stmts.lastSeq.get(m.conferenceId) as { seq: number }).seq + 1;
    const toAll = m.to === "all";
    this.stmts.insertMessage.run(
      m.id,
      m.conferenceId,
      seq,
      m.from,
      toAll ? 1 : 0,
      toAll ? "[]" : JSON.stringify(m.to),
      m.text,
      m.sentAt,
      m.clientId,
    );
    if (m.to !== "all") for (const r of m.to) this.stmts.insertRecipient.run(m.conferenceId, r, seq);
    return { message: { ...m, seq }, duplicate: false };
  }

  async addMessage(m: NewMessage): Promise<{ message: MessageRecord; duplicate: boolean }> {
    return this.addMessageTx(m);
  }

  async findMessageByClientId(
    conferenceId: string,
    from: string,
    clientId: string,
  ): Promise<MessageRecord | undefined> {
    const r = this.stmts.messageByClientId.get(conferenceId, from, clientId) as MessageRow | undefined;
    return r && toMessage(r);
  }

  async listMessages(conferenceId: string, afterSeq: number, upTo: number): Promise<MessageRecord[]> {
    return (this.stmts.messagesBetween.all(conferenceId, afterSeq, upTo) as MessageRow[]).map(toMessage);
  }

  async lastSeq(conferenceId: string): Promise<number> {
    return (this.stmts.lastSeq.get(conferenceId) as { seq: number }).seq;
  }

  async listVisibleMessages(
    conferenceId: string,
    memberId: string,
    page: HistoryPage,
  ): Promise<MessageRecord[]> {
    const { afterSeq = 0, limit, take = "newest" } = page;
    const query = take === "oldest" ? this.stmts.visibleOldest : this.stmts.visibleNewest;
    const rows = query.all({ c: conferenceId, m: memberId, after: afterSeq, limit }) as MessageRow[];
    if (take === "newest") rows.reverse();
    return rows.map(toMessage);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
