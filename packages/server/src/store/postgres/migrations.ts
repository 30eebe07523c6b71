/**
 * Schema migrations for PostgreSQL, applied in order under an advisory lock (nodes starting together
 * migrate once); `schema_version` records how many have run. Times are epoch milliseconds (bigint).
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE conferences (
    id text PRIMARY KEY,
    title text NOT NULL,
    host_token_hash text NOT NULL,
    state text NOT NULL CHECK (state IN ('registering', 'built')),
    created_at bigint NOT NULL,
    built_at bigint,
    ended_at bigint,
    -- The last text sequence number handed out: taking the next one locks this row, so two nodes
    -- storing at once get 1 and 2, never 1 and 1.
    last_seq bigint NOT NULL DEFAULT 0
  );
  CREATE TABLE members (
    id text PRIMARY KEY,
    conference_id text NOT NULL REFERENCES conferences(id),
    name text NOT NULL,
    token_hash text NOT NULL UNIQUE,
    avatar_hash text NOT NULL,
    avatar_color text NOT NULL,
    seat integer NOT NULL,
    created_at bigint NOT NULL,
    UNIQUE (conference_id, seat)
  );
  CREATE TABLE messages (
    id text PRIMARY KEY,
    conference_id text NOT NULL REFERENCES conferences(id),
    seq bigint NOT NULL,
    from_id text NOT NULL,
    to_all boolean NOT NULL,
    recipients text[] NOT NULL,
    text text NOT NULL,
    sent_at bigint NOT NULL,
    client_id text,
    UNIQUE (conference_id, seq)
  );
  CREATE UNIQUE INDEX messages_client ON messages (conference_id, from_id, client_id) WHERE client_id IS NOT NULL;
  CREATE INDEX messages_from ON messages (conference_id, from_id, seq);
  -- One row per addressed member of a private text, so history is one indexed lookup.
  CREATE TABLE message_recipients (
    conference_id text NOT NULL,
    member_id text NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (conference_id, member_id, seq)
  );
  `,
  // 2: avatars live in the database, so every node serves every member's picture.
  `
  CREATE TABLE avatars (
    hash text PRIMARY KEY,
    bytes bytea NOT NULL
  );
  `,
  // 3: the host's controls: locked registration; co-hosts, host mute and removal per member.
  `
  ALTER TABLE conferences ADD COLUMN locked boolean NOT NULL DEFAULT false;
  ALTER TABLE members ADD COLUMN role text NOT NULL DEFAULT 'member';
  ALTER TABLE members ADD COLUMN host_muted boolean NOT NULL DEFAULT false;
  ALTER TABLE members ADD COLUMN removed_at bigint;
  `,
];
