import assert from "node:assert/strict";
import { test } from "node:test";
import { BUBBLE_MS, RoomModel } from "../src/RoomModel.ts";
import { aMember, aText, hello, ManualScheduler } from "./builders.ts";

function roomWith(scheduler = new ManualScheduler()) {
  const room = new RoomModel(scheduler);
  let changes = 0;
  room.on("change", () => changes++);
  return { room, scheduler, changes: () => changes };
}

test("hello then lobby puts the member in the lobby with the roster", () => {
  const { room } = roomWith();
  room.apply(hello("a", "registering", ["b"]));
  room.apply({ type: "lobby", members: [aMember("a", 0), aMember("b", 1)] });
  assert.equal(room.phase, "lobby");
  assert.equal(room.selfId, "a");
  assert.deepEqual(
    room.seats.map((s) => [s.member.id, s.online]),
    [
      ["a", true],
      ["b", true],
    ],
  );
});

test("the build message binds every avatar to its seat, in seat order", () => {
  const { room } = roomWith();
  let built = 0;
  room.on("built", () => built++);
  room.apply(hello("b"));
  room.apply({
    type: "build",
    conference: { id: "c1", title: "Standup" },
    members: [aMember("c", 2), aMember("a", 0), aMember("b", 1)],
  });
  assert.equal(room.phase, "room");
  assert.deepEqual(
    room.seats.map((s) => [s.member.seat, s.member.avatar.url]),
    [
      [0, `/avatars/${"a".padEnd(22, "x")}.webp`],
      [1, `/avatars/${"b".padEnd(22, "x")}.webp`],
      [2, `/avatars/${"c".padEnd(22, "x")}.webp`],
    ],
  );
  room.apply({ type: "build", conference: { id: "c1", title: "Standup" }, members: [aMember("a", 0)] });
  assert.equal(built, 1, "a second build (after a reconnect) is not a new room");
});

test("a member added after the build gets a seat without a rebuild", () => {
  const { room } = roomWith();
  const added: string[] = [];
  room.on("memberAdded", (m) => added.push(m.id));
  room.apply(hello("a", "built"));
  room.apply({ type: "build", conference: { id: "c1", title: "T" }, members: [aMember("a", 0)] });
  room.apply({ type: "member-added", member: aMember("z", 1) });
  room.apply({ type: "member-added", member: aMember("z", 1) });
  assert.deepEqual(added, ["z"]);
  assert.equal(room.seat("z")?.member.seat, 1);
});

test("presence updates the seats", () => {
  const { room } = roomWith();
  room.apply(hello("a"));
  room.apply({ type: "lobby", members: [aMember("a", 0), aMember("b", 1)] });
  room.apply({ type: "presence", online: ["b"], offline: [] });
  assert.equal(room.seat("b")?.online, true);
  room.apply({ type: "presence", online: [], offline: ["b"] });
  assert.equal(room.seat("b")?.online, false);
});

test("a live text shows a bubble beside the sender that expires; history shows none", () => {
  const { room, scheduler } = roomWith();
  room.apply(hello("b", "built"));
  room.apply({
    type: "build",
    conference: { id: "c1", title: "T" },
    members: [aMember("a", 0), aMember("b", 1)],
  });
  room.apply({ type: "history", messages: [aText({ id: "old", seq: 1, text: "old" })] });
  assert.equal(room.seat("a")?.bubble, undefined);
  room.apply(aText({ id: "new", seq: 2, text: "fresh", to: ["b"] }));
  assert.deepEqual(room.seat("a")?.bubble, { messageId: "new", text: "fresh", private: true });
  assert.deepEqual(scheduler.pendingDelays, [BUBBLE_MS]);
  scheduler.runAll();
  assert.equal(room.seat("a")?.bubble, undefined);
});

test("a newer text replaces the bubble and the old timer does not clear it", () => {
  const { room, scheduler } = roomWith();
  room.apply(hello("b", "built"));
  room.apply({ type: "build", conference: { id: "c1", title: "T" }, members: [aMember("a", 0)] });
  room.apply(aText({ id: "1", seq: 1, text: "first" }));
  const firstTimer = scheduler.tasks[0];
  room.apply(aText({ id: "2", seq: 2, text: "second" }));
  assert.equal(firstTimer?.cancelled, true);
  assert.equal(room.seat("a")?.bubble?.text, "second");
});

test("the chat log dedupes by id, keeps server order, and marks own and private texts", () => {
  const { room } = roomWith();
  room.apply(hello("a", "built"));
  room.apply(aText({ id: "3", seq: 3, from: "a", to: ["b"] }));
  room.apply({
    type: "history",
    messages: [aText({ id: "1", seq: 1, from: "b" }), aText({ id: "3", seq: 3, from: "a", to: ["b"] })],
  });
  assert.deepEqual(
    room.chat.map((e) => [e.message.id, e.own, e.private]),
    [
      ["1", false, false],
      ["3", true, true],
    ],
  );
  assert.equal(room.lastSeq, 3);
});

test("setSpeaking emits a change only when the state changes", () => {
  const { room, changes } = roomWith();
  room.apply(hello("a", "built"));
  room.apply({ type: "build", conference: { id: "c1", title: "T" }, members: [aMember("a", 0)] });
  const before = changes();
  room.setSpeaking("a", true);
  room.setSpeaking("a", true);
  room.setSpeaking("ghost", true);
  assert.equal(changes() - before, 1);
  assert.equal(room.seat("a")?.speaking, true);
});

test("dispose cancels bubble timers", () => {
  const { room, scheduler } = roomWith();
  room.apply(hello("b", "built"));
  room.apply({ type: "build", conference: { id: "c1", title: "T" }, members: [aMember("a", 0)] });
  room.apply(aText());
  room.dispose();
  assert.deepEqual(scheduler.pendingDelays, []);
});

test("joining a built conference announces the room once the build message arrives", () => {
  const { room } = roomWith();
  let built = 0;
  room.on("built", () => built++);
  room.apply(hello("a", "built"));
  assert.equal(room.phase, "connecting");
  room.apply({ type: "build", conference: { id: "c1", title: "T" }, members: [aMember("a", 0)] });
  assert.equal(room.phase, "room");
  assert.equal(built, 1);
});

test("the host's changes: a seat shows co-host and host mute, a removed member's seat goes but their name stays", () => {
  const room = new RoomModel();
  room.apply(hello("a", "built"));
  room.apply({
    type: "build",
    conference: { id: "c1", title: "T" },
    members: [aMember("a", 0), aMember("b", 1)],
  });
  room.apply({ type: "member-updated", member: { ...aMember("b", 1), role: "co-host", hostMuted: true } });
  assert.deepEqual([room.seat("b")?.member.role, room.seat("b")?.member.hostMuted], ["co-host", true]);
  room.apply({ type: "member-removed", memberId: "b" });
  assert.deepEqual(
    room.seats.map((s) => s.member.id),
    ["a"],
  );
  assert.equal(room.member("b")?.name, aMember("b", 1).name, "the chat log still names them");
  room.apply({ type: "registration", locked: true });
  assert.equal(room.registrationLocked, true);
  // A fresh roster without a member (removed while this client was away) empties their seat too.
  room.apply({ type: "member-added", member: aMember("c", 2) });
  room.apply({ type: "build", conference: { id: "c1", title: "T" }, members: [aMember("a", 0)] });
  assert.deepEqual(
    room.seats.map((s) => s.member.id),
    ["a"],
  );
});
