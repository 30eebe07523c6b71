/** Schema migrations, applied in order; `PRAGMA user_version` records how many have run. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE conferences (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    host_token_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('registering', 'built')),
    created_at INTEGER NOT NULL,
    built_at INTEGER
  );
  CREATE TABLE members (
    id TEXT PRIMARY KEY,
    conference_id TEXT NOT NULL REFERENCES conferences(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    avatar_hash TEXT NOT NULL,
    avatar_color TEXT NOT NULL,
    seat INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (conference_id, seat)
  );
  CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    conference_id TEXT NOT NULL REFERENCES conferences(id),
    seq INTEGER NOT NULL,
    from_id TEXT NOT NULL,
    to_all INTEGER NOT NULL,
    recipients TEXT NOT NULL,
    text TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    client_id TEXT,
    UNIQUE (conference_id, seq)
  );
  -- One row per addressed member of a private text, so history is one indexed lookup.
  CREATE TABLE message_recipients (
    conference_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (conference_id, member_id, seq)
  ) WITHOUT ROWID;
  CREATE INDEX messages_from ON messages (conference_id, from_id, seq);
  `,
  // 2: ending conferences (kept as a column: SQLite cannot widen the state CHECK without a table
  // rebuild) and finding a member's text by client id, so a retransmission is not stored twice.
  `
  ALTER TABLE conferences ADD COLUMN ended_at INTEGER;
  CREATE INDEX messages_client ON messages (conference_id, from_id, client_id) WHERE client_id IS NOT NULL;
  `,
  // 3: the store numbers texts and seats itself; a (sender, clientId) is stored once at most.
  `
  DROP INDEX messages_client;
  CREATE UNIQUE INDEX messages_client ON messages (conference_id, from_id, client_id) WHERE client_id IS NOT NULL;
  `,
  // 4: the host's controls: locked registration; co-hosts, host mute and removal per member.
  `
  ALTER TABLE conferences ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE members ADD COLUMN role TEXT NOT NULL DEFAULT 'member';
  ALTER TABLE members ADD COLUMN host_muted INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE members ADD COLUMN removed_at INTEGER;
  `,
];
