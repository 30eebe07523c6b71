import assert from "node:assert/strict";
import { test } from "node:test";
import type { MessageRecord } from "../src/conference/records.ts";
import { TextSequencer } from "../src/conference/TextSequencer.ts";
import { ManualScheduler } from "./fakes.ts";

const text = (seq: number): MessageRecord => ({
  id: `x${seq}`,
  conferenceId: "c",
  seq,
  from: "m1",
  to: "all",
  text: `text ${seq}`,
  sentAt: seq,
  clientId: null,
});

function sequencer(next: number, stored: MessageRecord[] = []) {
  const delivered: number[] = [];
  const fills: [number, number][] = [];
  const scheduler = new ManualScheduler();
  const s = new TextSequencer(
    next,
    (r) => delivered.push(r.seq),
    async (after, upTo) => {
      fills.push([after, upTo]);
      return stored.filter((r) => r.seq > after && r.seq <= upTo);
    },
    scheduler,
  );
  return { s, delivered, fills, scheduler };
}

test("texts from several nodes are delivered in sequence order, skips keep the order going", () => {
  const { s, delivered, scheduler } = sequencer(5);
  s.text(text(7));
  s.text(text(4));
  assert.deepEqual(delivered, [], "7 waits for 5 and 6; 4 was delivered before");
  s.skip(6);
  s.text(text(5));
  assert.deepEqual(delivered, [5, 7]);
  s.text(text(7));
  s.skip(8);
  s.text(text(9));
  assert.deepEqual(delivered, [5, 7, 9], "a repeat is dropped, a skip delivers nothing");
  assert.equal(scheduler.pending, 0, "no gap: no timer left");
});

test("a text that arrives after its number was skipped is not delivered twice, nor out of order", () => {
  const { s, delivered } = sequencer(1);
  s.text(text(2));
  s.skip(1);
  s.text(text(1));
  assert.deepEqual(delivered, [2]);
});

test("a gap that stays open is filled from the store, and what the store lacks is skipped", async () => {
  const { s, delivered, fills, scheduler } = sequencer(1, [text(1), text(3)]);
  s.text(text(4));
  assert.deepEqual(delivered, []);
  scheduler.runAll();
  await new Promise(setImmediate);
  assert.deepEqual(fills, [[0, 3]]);
  assert.deepEqual(delivered, [1, 3, 4], "2 is not in the store (a whisper's number, say): skipped");
  assert.equal(scheduler.pending, 0);
});

test("a closed sequencer delivers nothing and leaves no timer", () => {
  const { s, delivered, scheduler } = sequencer(1);
  s.text(text(2));
  s.close();
  s.text(text(1));
  assert.deepEqual(delivered, []);
  assert.equal(scheduler.pending, 0);
});
