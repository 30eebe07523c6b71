import pg from "pg";
import type { AvatarStore, NormalisedAvatar } from "../../conference/ports.ts";
import type {
  ConferenceRecord,
  MemberChange,
  MemberRecord,
  MessageRecord,
} from "../../conference/records.ts";
import { type ConferenceRow, type MemberRow, newMemberDefaults, toConference, toMember } from "../rows.ts";
import type { AddedMember, HistoryPage, NewMember, NewMessage, Store } from "../Store.ts";
import { MIGRATIONS } from "./migrations.ts";

/** Any constant shared by every node: the advisory lock that runs migrations once. */
const MIGRATION_LOCK = 0x52_54_41_42;

interface MessageRow {
  id: string;
  conference_id: string;
  seq: string;
  from_id: string;
  to_all: boolean;
  recipients: string[];
  text: string;
  sent_at: string;
  client_id: string | null;
}

// pg returns bigint columns as strings (they may exceed 2^53); ours are milliseconds and counters.
const num = (v: string): number => Number(v);

const toMessage = (r: MessageRow): MessageRecord => ({
  id: r.id,
  conferenceId: r.conference_id,
  seq: num(r.seq),
  from: r.from_id,
  to: r.to_all ? "all" : r.recipients,
  text: r.text,
  sentAt: num(r.sent_at),
  clientId: r.client_id,
});

function visibleQuery(order: "ASC" | "DESC"): string {
  return `
    SELECT * FROM messages WHERE conference_id = $1 AND seq > $3 AND (
      to_all OR from_id = $2 OR seq IN (
        SELECT seq FROM message_recipients WHERE conference_id = $1 AND member_id = $2 AND seq > $3))
    ORDER BY seq ${order} LIMIT $4`;
}

/**
 * The Store for clusters: PostgreSQL through a `pg` pool, shared by every node. Seats and text
 * sequence numbers are taken under the conference row's lock, so nodes never hand out the same one.
 */
export class PostgresStore implements Store {
  private closed = false;
  /** Avatars in the same database (content-addressed, as in files): every node serves them all. */
  readonly avatars: AvatarStore;

  private constructor(private readonly pool: pg.Pool) {
    this.avatars = {
      save: async (avatar: NormalisedAvatar) => {
        await pool.query("INSERT INTO avatars (hash, bytes) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING", [
          avatar.hash,
          Buffer.from(avatar.bytes),
        ]);
      },
      read: async (hash: string) => {
        const { rows } = await pool.query<{ bytes: Buffer }>("SELECT bytes FROM avatars WHERE hash = $1", [
          hash,
        ]);
        return rows[0]?.bytes;
      },
    };
  }

  /** Connects, migrates, and returns the store; the URL is a `postgres://` connection string. */
  static async open(connectionString: string, options: { max?: number } = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString, max: options.max ?? 10 });
    // An idle connection that breaks (the database restarted) must not crash the process: the
    // pool drops it, and the next query opens a fresh one or fails to its caller.
    pool.on("error", () => {});
    try {
      await migrate(pool);
    } catch (error) {
      await pool.end().catch(() => {});
      throw error;
    }
    return new PostgresStore(pool);
  }

  async createConference(c: ConferenceRecord): Promise<void> {
    await this.pool.query(
      "INSERT INTO conferences (id, title, host_token_hash, state, created_at, built_at) VALUES ($1, $2, $3, $4, $5, $6)",
      [c.id, c.title, c.hostTokenHash, c.state, c.createdAt, c.builtAt],
    );
  }

  async getConference(id: string): Promise<ConferenceRecord | undefined> {
    const { rows } = await this.pool.query<ConferenceRow>("SELECT * FROM conferences WHERE id = $1", [id]);
    return rows[0] && toConference(rows[0]);
  }

  async markBuilt(id: string, builtAt: number): Promise<void> {
    await this.pool.query(
      "UPDATE conferences SET state = 'built', built_at = $1 WHERE id = $2 AND state <> 'built'",
      [builtAt, id],
    );
  }

  async markEnded(id: string, endedAt: number): Promise<void> {
    await this.pool.query("UPDATE conferences SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL", [
      endedAt,
      id,
    ]);
  }

  async countOpenConferences(): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM conferences WHERE ended_at IS NULL",
    );
    return rows[0]?.n ?? 0;
  }

  async addMember(m: NewMember, capacity: number): Promise<AddedMember> {
    return this.transaction(async (client) => {
      const { rows } = await client.query<{ ended_at: string | null; locked: boolean }>(
        "SELECT ended_at, locked FROM conferences WHERE id = $1 FOR UPDATE",
        [m.conferenceId],
      );
      const conference = rows[0];
      if (!conference) return { added: false, reason: "missing" };
      if (conference.ended_at !== null) return { added: false, reason: "ended" };
      if (conference.locked) return { added: false, reason: "locked" };
      const counted = await client.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM members WHERE conference_id = $1",
        [m.conferenceId],
      );
      const seat = counted.rows[0]?.n ?? 0;
      if (seat >= capacity) return { added: false, reason: "full" };
      await client.query(
        "INSERT INTO members (id, conference_id, name, token_hash, avatar_hash, avatar_color, seat, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [m.id, m.conferenceId, m.name, m.tokenHash, m.avatarHash, m.avatarColor, seat, m.createdAt],
      );
      return { added: true, member: { ...m, seat, ...newMemberDefaults } };
    });
  }

  async setLocked(id: string, locked: boolean): Promise<void> {
    await this.pool.query("UPDATE conferences SET locked = $1 WHERE id = $2", [locked, id]);
  }

  async updateMember(
    conferenceId: string,
    memberId: string,
    change: MemberChange,
  ): Promise<MemberRecord | undefined> {
    // One statement, each field kept unless given: two hosts changing different fields at once on
    // two nodes both land. Removal is for good: a removed_at once set is never cleared.
    const { rows } = await this.pool.query<MemberRow>(
      "UPDATE members SET role = COALESCE($3, role), host_muted = COALESCE($4, host_muted), removed_at = COALESCE(removed_at, $5) WHERE conference_id = $1 AND id = $2 RETURNING *",
      [conferenceId, memberId, change.role ?? null, change.hostMuted ?? null, change.removedAt ?? null],
    );
    return rows[0] && toMember(rows[0]);
  }

  async muteAll(conferenceId: string, except: readonly string[]): Promise<MemberRecord[]> {
    const { rows } = await this.pool.query<MemberRow>(
      "UPDATE members SET host_muted = true WHERE conference_id = $1 AND removed_at IS NULL AND NOT host_muted AND id <> ALL($2::text[]) RETURNING *",
      [conferenceId, [...except]],
    );
    return rows.map(toMember).sort((a, b) => a.seat - b.seat);
  }

  async listMembers(conferenceId: string): Promise<MemberRecord[]> {
    const { rows } = await this.pool.query<MemberRow>(
      "SELECT * FROM members WHERE conference_id = $1 ORDER BY seat",
      [conferenceId],
    );
    return rows.map(toMember);
  }

  async findMemberByTokenHash(tokenHash: string): Promise<MemberRecord | undefined> {
    const { rows } = await this.pool.query<MemberRow>("SELECT * FROM members WHERE token_hash = $1", [
      tokenHash,
    ]);
    return rows[0] && toMember(rows[0]);
  }

  async addMessage(m: NewMessage): Promise<{ message: MessageRecord; duplicate: boolean }> {
    return this.transaction(async (client) => {
      // The row lock comes first: a retransmission racing its original waits, then finds it.
      const locked = await client.query<{ last_seq: string }>(
        "SELECT last_seq FROM conferences WHERE id = $1 FOR UPDATE",
        [m.conferenceId],
      );
      const row = locked.rows[0];
      if (!row) throw new Error(`no conference ${m.conferenceId}`);
      if (m.clientId) {
        const { rows } = await client.query<MessageRow>(
          "SELECT * FROM messages WHERE conference_id = $1 AND from_id = $2 AND client_id = $3",
          [m.conferenceId, m.from, m.clientId],
        );
        if (rows[0]) return { message: toMessage(rows[0]), duplicate: true };
      }
      const seq = num(row.last_seq) + 1;
      const toAll = m.to === "all";
      const recipients = toAll ? [] : (m.to as string[]);
      await client.query("UPDATE conferences SET last_seq = $1 WHERE id = $2", [seq, m.conferenceId]);
      await client.query(
        "INSERT INTO messages (id, conference_id, seq, from_id, to_all, recipients, text, sent_at, client_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        [m.id, m.conferenceId, seq, m.from, toAll, recipients, m.text, m.sentAt, m.clientId],
      );
      if (recipients.length > 0)
        await client.query(
          "INSERT INTO message_recipients (conference_id, member_id, seq) SELECT $1, unnest($2::text[]), $3 ON CONFLICT DO NOTHING",
          [m.conferenceId, recipients, seq],
        );
      return { message: { ...m, seq }, duplicate: false };
    });
  }

  async findMessageByClientId(
    conferenceId: string,
    from: string,
    clientId: string,
  ): Promise<MessageRecord | undefined> {
    const { rows } = await this.pool.query<MessageRow>(
      "SELECT * FROM messages WHERE conference_id = $1 AND from_id = $2 AND client_id = $3",
      [conferenceId, from, clientId],
    );
    return rows[0] && toMessage(rows[0]);
  }

  async listMessages(conferenceId: string, afterSeq: number, upTo: number): Promise<MessageRecord[]> {
    const { rows } = await this.pool.query<MessageRow>(
      "SELECT * FROM messages WHERE conference_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
      [conferenceId, afterSeq, upTo],
    );
    return rows.map(toMessage);
  }

  async lastSeq(conferenceId: string): Promise<number> {
    const { rows } = await this.pool.query<{ last_seq: string }>(
      "SELECT last_seq FROM conferences WHERE id = $1",
      [conferenceId],
    );
    return rows[0] ? num(rows[0].last_seq) : 0;
  }

  async listVisibleMessages(
    conferenceId: string,
    memberId: string,
    page: HistoryPage,
  ): Promise<MessageRecord[]> {
    const { afterSeq = 0, limit, take = "newest" } = page;
    const { rows } = await this.pool.query<MessageRow>(visibleQuery(take === "oldest" ? "ASC" : "DESC"), [
      conferenceId,
      memberId,
      afterSeq,
      limit,
    ]);
    if (take === "newest") rows.reverse();
    return rows.map(toMessage);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch((rollback: Error) => {
        broken = rollback;
      });
      throw error;
    } finally {
      // A connection that could not even roll back is closed, not handed to the next caller.
      client.release(broken);
    }
  }
}

async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    await client.query("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)");
    const { rows } = await client.query<{ version: number }>("SELECT version FROM schema_version");
    if (rows.length === 0) await client.query("INSERT INTO schema_version (version) VALUES (0)");
    for (let i = rows[0]?.version ?? 0; i < MIGRATIONS.length; i++) {
      await client.query("BEGIN");
      await client.query(MIGRATIONS[i] as string);
      await client.query("UPDATE schema_version SET version = $1", [i + 1]);
      await client.query("COMMIT");
    }
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => {});
    client.release();
  }
}
