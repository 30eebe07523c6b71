import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CLOSE_CODES, type ServerMessage } from "@roundtable/protocol";
import { TestPostgres } from "../../../test/services/TestPostgres.ts";
import { PostgresStore } from "../src/store/postgres/PostgresStore.ts";
import { closeCodeOf, rawSocket, textsAtOnce } from "./clients.ts";
import { GENEROUS_LIMITS, startTestServer, type TestServer } from "./harness.ts";

// The server on PostgreSQL (DATABASE_URL), against a private PostgreSQL server started for this
// file: registrations and texts at the same time get unique, dense seats and sequence numbers,
// every member sees one order, and everything survives a restart of the Roundtable server.

let postgres: TestPostgres;
let databaseUrl: string;
let t: TestServer;
before(async () => {
  postgres = await TestPostgres.start();
  databaseUrl = await postgres.createDatabase();
  t = await startTestServer({ ...GENEROUS_LIMITS, DATABASE_URL: databaseUrl });
});
after(async () => {
  await t?.stop();
  await postgres?.stop();
});

type Text = Extract<ServerMessage, { type: "text" }>;
const isText = (m: ServerMessage): m is Text => m.type === "text";

test("registrations at the same time get seats 0 to n-1, each once, in the store", async () => {
  const conference = await t.api.createConference("Crowd");
  const names = Array.from({ length: 12 }, (_, i) => `Member ${i}`);
  const registered = await Promise.all(names.map((name) => t.api.register(conference.id, { name })));
  const store = await PostgresStore.open(databaseUrl, { max: 1 });
  try {
    const stored = await store.listMembers(conference.id);
    assert.deepEqual(
      stored.map((m) => m.seat),
      names.map((_, i) => i),
    );
    assert.deepEqual(new Set(stored.map((m) => m.id)), new Set(registered.map((r) => r.memberId)));
  } finally {
    await store.close();
  }
});

test("texts sent at the same time by three members are numbered 1..n and every member gets them in that order", async () => {
  const conference = await t.api.createConference("Chorus");
  const members = await Promise.all(
    ["Ada", "Ben", "Cleo"].map((name) => t.api.register(conference.id, { name })),
  );
  await t.api.build(conference.id, conference.hostToken);
  const sockets = await Promise.all(members.map((m) => rawSocket(t.api.socketUrl(conference.id, m.token))));
  const orders = await textsAtOnce(sockets, 15);
  const total = sockets.length * 15;
  for (const order of orders)
    assert.deepEqual(
      order,
      Array.from({ length: total }, (_, i) => i + 1),
      "each member got 1..n once, in order",
    );
  for (const socket of sockets) socket.socket.close();
});

test("after a restart of the Roundtable server on the same database, the members, texts and numbering go on", async () => {
  const conference = await t.api.createConference("Kept");
  const ada = await t.api.register(conference.id, { name: "Ada" });
  await t.api.build(conference.id, conference.hostToken);
  const before = await rawSocket(t.api.socketUrl(conference.id, ada.token));
  before.send({ type: "text", to: "all", text: "before", clientId: "k-1" });
  const first = await before.next(isText);
  before.socket.close();

  await t.stop();
  t = await startTestServer({ ...GENEROUS_LIMITS, DATABASE_URL: databaseUrl });
  const bob = await t.api.register(conference.id, { name: "Bob" });
  assert.equal((await t.api.getConference(conference.id)).members.length, 2);
  const after = await rawSocket(t.api.socketUrl(conference.id, ada.token));
  // The same clientId again, as a client retransmitting after the drop: acknowledged, not stored twice.
  after.send({ type: "text", to: "all", text: "before", clientId: "k-1" });
  assert.deepEqual(await after.next(isText), first);
  after.send({ type: "text", to: [bob.memberId], text: "after" });
  const second = await after.next((m): m is Text => isText(m) && m.text === "after");
  assert.equal(second.seq, first.seq + 1);
  assert.deepEqual(
    (await t.api.history(conference.id, bob.token)).map((m) => m.text),
    ["before", "after"],
  );
  after.socket.close();
});

test("PostgreSQL restarting: members get neutral errors meanwhile, and everything works again without restarting Roundtable", async () => {
  const conference = await t.api.createConference("Outage");
  const ada = await t.api.register(conference.id, { name: "Ada" });
  await t.api.build(conference.id, conference.hostToken);
  const url = t.api.socketUrl(conference.id, ada.token);
  const socket = await rawSocket(url);
  await socket.next((m) => m.type === "history");

  await postgres.halt();
  socket.send({ type: "text", to: "all", text: "during", clientId: "o-1" });
  const failed = await socket.next((m) => m.type === "error" && m.clientId === "o-1");
  assert.ok(failed.type === "error");
  assert.equal(failed.code, "internal");
  const leaks = /127\.0\.0\.1|ECONNREFUSED|postgres|database|connect/i;
  assert.doesNotMatch(failed.message, leaks, "the error names no database");
  // A socket opened meanwhile cannot have its token checked: retry later, in plain words.
  const refused = await closeCodeOf(url);
  assert.deepEqual(refused, { code: CLOSE_CODES.tryAgainLater, reason: "server trouble, retrying" });
  const register = await fetch(`${t.baseUrl}/api/conferences/${conference.id}/members`, {
    method: "POST",
    body: (() => {
      const form = new FormData();
      form.set("name", "Ben");
      return form;
    })(),
  });
  assert.equal(register.status, 500);
  assert.doesNotMatch(await register.text(), leaks);

  await postgres.restart();
  socket.send({ type: "text", to: "all", text: "after", clientId: "o-2" });
  const after = await socket.next((m): m is Text => isText(m) && m.clientId === "o-2");
  assert.equal(after.seq, 1, "the failed text took no number");
  assert.equal((await t.api.register(conference.id, { name: "Ben" })).avatarUrl.length > 0, true);
  const again = await rawSocket(url);
  await again.next((m) => m.type === "history");
  for (const s of [socket, again]) s.socket.close();
});
