import assert from "node:assert/strict";
import { test } from "node:test";
import { CLOSE_CODES } from "@roundtable/protocol";
import { aText, attach, clientOverFakeSockets, ManualScheduler } from "./builders.ts";

function setup() {
  const scheduler = new ManualScheduler();
  const { client, sockets, last } = clientOverFakeSockets(scheduler, { initialMs: 100, maxMs: 1000 });
  const statuses: string[] = [];
  client.on("status", (s) => statuses.push(s));
  return { client, sockets, scheduler, last, statuses };
}

test("connects to the member's socket URL and opens after the history arrives", () => {
  const { client, last, statuses } = setup();
  client.connect();
  client.connect();
  assert.equal(last().url, "ws://example.test/api/conferences/c1/ws?token=tok");
  attach(last());
  assert.deepEqual(statuses, ["open"]);
  assert.equal(client.room.phase, "room");
  assert.equal(client.memberId, "a");
});

test("sendText resolves with the stored message when its echo arrives", async () => {
  const { client, last } = setup();
  client.connect();
  attach(last());
  const sending = client.sendText(["b"], "hi");
  const [sent] = last().sent as { clientId: string; to: string[]; text: string }[];
  assert.deepEqual([sent?.to, sent?.text], [["b"], "hi"]);
  last().receive(aText({ from: "a", to: ["b"], text: "hi", clientId: sent?.clientId }));
  assert.equal((await sending).text, "hi");
});

test("sendText rejects with the server's error for that message", async () => {
  const { client, last } = setup();
  client.connect();
  attach(last());
  const sending = client.sendText(["ghost"], "hi");
  const [sent] = last().sent as { clientId: string }[];
  last().receive({ type: "error", code: "unknown_recipient", message: "no", clientId: sent?.clientId });
  await assert.rejects(sending, { code: "unknown_recipient" });
});

test("sendText refuses a blank or oversized text without sending", async () => {
  const { client, last } = setup();
  client.connect();
  attach(last());
  await assert.rejects(client.sendText("all", "   "), { code: "invalid_message" });
  await assert.rejects(client.sendText("all", "x".repeat(2001)), { code: "invalid_message" });
  await assert.rejects(client.sendText([], "x"), { code: "invalid_message" });
  assert.equal(last().sent.length, 0);
});

test("texts written while disconnected go out once on reconnect", async () => {
  const { client, last, scheduler, sockets, statuses } = setup();
  client.connect();
  attach(last());
  last().drop();
  assert.equal(client.status, "reconnecting");
  const queued = client.sendText("all", "written offline");
  assert.equal(sockets.length, 1);
  scheduler.runAll();
  assert.equal(sockets.length, 2);
  attach(last());
  const sent = last().sent as { clientId: string; text: string }[];
  assert.deepEqual(
    sent.map((m) => m.text),
    ["written offline"],
  );
  last().receive(aText({ from: "a", text: "written offline", clientId: sent[0]?.clientId }));
  await queued;
  assert.deepEqual(statuses, ["open", "reconnecting", "open"]);
});

test("a text that did arrive before the drop is not sent twice", async () => {
  const { client, last, scheduler } = setup();
  client.connect();
  attach(last());
  const sending = client.sendText("all", "maybe lost");
  const [sent] = last().sent as { clientId: string }[];
  last().drop();
  scheduler.runAll();
  attach(last(), [aText({ id: "m1", from: "a", text: "maybe lost", clientId: sent?.clientId })]);
  assert.equal((await sending).id, "m1");
  assert.equal(last().sent.length, 0);
});

test("reconnects resume after the last text seen, with growing backoff", () => {
  const { client, last, scheduler } = setup();
  client.connect();
  attach(last(), [aText({ id: "m7", seq: 7 })]);
  last().drop();
  assert.equal(scheduler.pendingDelays.length, 1);
  const first = scheduler.pendingDelays[0] ?? 0;
  assert.ok(first >= 75 && first <= 125, `first retry after ~100 ms, got ${first}`);
  scheduler.runAll();
  assert.match(last().url, /since=7$/);
  last().drop();
  const second = scheduler.pendingDelays[0] ?? 0;
  assert.ok(second >= 150 && second <= 250, `second retry after ~200 ms, got ${second}`);
});

test("a refused token stops retrying and fails pending sends", async () => {
  const { client, last, scheduler, statuses } = setup();
  client.connect();
  const pending = client.sendText("all", "hello?");
  last().drop(CLOSE_CODES.unauthorized, "bad token");
  assert.deepEqual(statuses, ["refused"]);
  assert.deepEqual(scheduler.pendingDelays, []);
  await assert.rejects(pending, { code: "unauthorized" });
});

test("close is final and idempotent", async () => {
  const { client, last, scheduler, statuses } = setup();
  client.connect();
  attach(last());
  const pending = client.sendText("all", "x");
  client.close();
  client.close();
  assert.equal(last().closedWith?.code, CLOSE_CODES.normal);
  await assert.rejects(pending, { code: "closed" });
  assert.deepEqual(scheduler.pendingDelays, []);
  client.connect();
  assert.deepEqual(statuses, ["open", "closed"]);
});

test("unreadable server frames are reported, not thrown", () => {
  const { client, last } = setup();
  const errors: string[] = [];
  client.on("error", (e) => errors.push(e.code));
  client.connect();
  last().onmessage?.({ data: '{"type":"bogus"}' });
  assert.deepEqual(errors, ["invalid_message"]);
});
