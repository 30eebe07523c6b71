import assert from "node:assert/strict";
import { test } from "node:test";
import { CLOSE_CODES, PROTOCOL_VERSION } from "@roundtable/protocol";
import { aText, attach, clientOverFakeSockets, hello, ManualScheduler } from "./builders.ts";

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
  const outboxes: number[] = [];
  client.on("outbox", (o) => outboxes.push(o.length));
  const queued = client.sendText("all", "written offline");
  assert.deepEqual(
    client.outbox.map((o) => [o.to, o.text]),
    [["all", "written offline"]],
  );
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
  assert.deepEqual(outboxes, [1, 0], "the outbox shows the text until the server confirms it");
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

test("a connection that brings nothing for a whole probe interval is given up and replaced", () => {
  const { client, last, scheduler, sockets, statuses } = setup();
  client.connect();
  attach(last());
  // Something arrived since the socket opened: the probe only pings.
  scheduler.run(10_000);
  assert.deepEqual(last().sent, [{ type: "ping" }]);
  last().receive({ type: "pong" });
  scheduler.run(10_000);
  assert.equal(last().sent.length, 2, "answered, so probed again");
  // The network vanished: no pong, no close event.
  scheduler.run(10_000);
  assert.equal(sockets[0]?.closedWith?.code, CLOSE_CODES.normal, "the dead socket is closed");
  assert.equal(sockets[0]?.onclose, null, "and no longer listened to");
  assert.deepEqual(statuses, ["open", "reconnecting"]);
  scheduler.runAll();
  assert.equal(sockets.length, 2);
  assert.match(last().url, /since=0$/, "resumes even when no text was seen yet");
});

test("history in pages: the client opens and sends its queue only after the last page", async () => {
  const { client, last, scheduler, statuses } = setup();
  client.connect();
  attach(last());
  last().drop();
  const queued = client.sendText("all", "waiting");
  scheduler.runAll();
  const socket = last();
  socket.receive(
    {
      type: "hello",
      protocolVersion: 1,
      memberId: "a",
      conference: { id: "c1", title: "T", state: "built" },
      online: [],
    },
    { type: "history", messages: [aText({ id: "m1", seq: 1 })], more: true },
  );
  assert.equal(client.status, "reconnecting");
  assert.equal(socket.sent.length, 0);
  socket.receive({ type: "history", messages: [aText({ id: "m2", seq: 2 })] });
  assert.equal(client.status, "open");
  const [sent] = socket.sent as { clientId: string }[];
  socket.receive(aText({ id: "m3", seq: 3, from: "a", text: "waiting", clientId: sent?.clientId }));
  await queued;
  assert.deepEqual(
    client.room.chat.map((e) => e.message.id),
    ["m1", "m2", "m3"],
  );
  assert.deepEqual(statuses, ["open", "reconnecting", "open"]);
});

test("an ended conference is final: no retry, pending sends fail, the room says ended", async () => {
  const { client, last, scheduler, statuses } = setup();
  client.connect();
  attach(last());
  const pending = client.sendText("all", "too late");
  last().receive({ type: "ended", endedAt: 5 });
  assert.equal(client.room.phase, "ended");
  last().drop(CLOSE_CODES.ended, "the host ended this conference");
  assert.deepEqual(statuses, ["open", "ended"]);
  assert.deepEqual(scheduler.pendingDelays, []);
  await assert.rejects(pending, { code: "conference_ended" });
  client.connect();
  client.retryNow();
  assert.equal(client.status, "ended");
});

test("retryNow skips the backoff wait, replaces a hanging attempt, and leaves an open connection alone", () => {
  const { client, last, sockets } = setup();
  const retries: (number | undefined)[] = [];
  client.on("retry", (at) => retries.push(at));
  client.connect();
  attach(last());
  client.retryNow();
  assert.equal(sockets.length, 1, "open: nothing to do");
  const before = Date.now();
  last().drop();
  const due = client.nextRetryAt ?? 0;
  assert.ok(due >= before + 75 && due <= Date.now() + 125, "the next attempt is due after the backoff");
  client.retryNow();
  assert.deepEqual(retries, [due, undefined], "a countdown can follow the wait, and its end");
  assert.equal(sockets.length, 2, "the waiting retry ran at once");
  // That attempt hangs: no answer at all.
  client.retryNow();
  assert.equal(sockets.length, 3, "the hanging attempt was replaced");
  assert.equal(sockets[1]?.onclose, null);
  attach(last());
  assert.equal(client.status, "open");
});

test("an outbox restored from a previous page goes out under its own clientIds, once", () => {
  const { client, last } = setup();
  const errors: string[] = [];
  client.on("error", (e) => errors.push(e.code));
  client.restoreOutbox([
    { clientId: "old-1", to: "all", text: "arrived before the reload" },
    { clientId: "old-2", to: ["b"], text: "never left" },
  ]);
  assert.deepEqual(
    client.outbox.map((o) => o.clientId),
    ["old-1", "old-2"],
  );
  client.connect();
  attach(last(), [aText({ id: "m1", from: "a", text: "arrived before the reload", clientId: "old-1" })]);
  assert.deepEqual(last().sent, [{ type: "text", to: ["b"], text: "never left", clientId: "old-2" }]);
  last().receive({ type: "error", code: "rate_limited", message: "slow down", clientId: "old-2" });
  assert.deepEqual(client.outbox, []);
  assert.deepEqual(errors, ["rate_limited"], "a restored text that fails is reported, not dropped silently");
});

test("a server speaking another protocol version is final: no retry, nothing sent, pending sends fail", async () => {
  const { client, last, scheduler, sockets, statuses } = setup();
  client.connect();
  const queued = client.sendText("all", "before the upgrade");
  const socket = last();
  socket.receive({ ...hello("a", "built"), protocolVersion: PROTOCOL_VERSION + 1 });
  assert.equal(client.status, "outdated");
  assert.equal(client.isFinal, true);
  await assert.rejects(queued, { code: "outdated" });
  assert.equal(socket.sent.length, 0, "nothing went to a server that reads it otherwise");
  scheduler.runAll();
  assert.equal(sockets.length, 1, "no reconnect");
  assert.deepEqual(statuses, ["outdated"]);
});

test("a member the host removed is final: no retry, pending sends fail with removed", async () => {
  const { client, last, scheduler, statuses } = setup();
  client.connect();
  attach(last());
  const pending = client.sendText("all", "still here?");
  last().drop(CLOSE_CODES.removed, "the host removed you from this conference");
  assert.deepEqual(statuses, ["open", "removed"]);
  assert.deepEqual(scheduler.pendingDelays, []);
  await assert.rejects(pending, { code: "removed" });
  assert.equal(client.isFinal, true);
});
