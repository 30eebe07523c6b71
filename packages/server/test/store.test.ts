import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { TestPostgres } from "../../../test/services/TestPostgres.ts";
import { MemoryStore } from "../src/store/MemoryStore.ts";
import { PostgresStore } from "../src/store/postgres/PostgresStore.ts";
import { SqliteStore } from "../src/store/sqlite/SqliteStore.ts";
import { storeSuite } from "./store.suite.ts";

storeSuite("memory", async () => new MemoryStore());
storeSuite("sqlite", async () => new SqliteStore(":memory:"));

test("sqlite keeps everything across a reopen of the same file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "roundtable-store-"));
  try {
    const file = join(dir, "db.sqlite");
    const first = new SqliteStore(file);
    await first.createConference({
      id: "c1",
      title: "T",
      hostTokenHash: "h",
      state: "built",
      createdAt: 1,
      builtAt: 2,
      endedAt: null,
      locked: false,
    });
    await first.addMessage({
      id: "x",
      conferenceId: "c1",
      from: "m1",
      to: ["m2"],
      text: "kept",
      sentAt: 3,
      clientId: null,
    });
    await first.close();
    const second = new SqliteStore(file);
    assert.equal((await second.getConference("c1"))?.state, "built");
    assert.deepEqual(
      (await second.listVisibleMessages("c1", "m2", { limit: 10 })).map((m) => m.text),
      ["kept"],
    );
    await second.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// PostgreSQL: a private server for this file (test/services/TestPostgres.ts), a fresh database per test.
let postgres: Promise<TestPostgres> | undefined;
after(async () => {
  await (await postgres)?.stop();
});
storeSuite("postgres", async () => {
  postgres ??= TestPostgres.start();
  return PostgresStore.open(await (await postgres).createDatabase());
});
