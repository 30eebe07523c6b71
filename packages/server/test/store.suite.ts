import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ConferenceRecord, MemberRecord } from "../src/conference/records.ts";
import type { NewMember, NewMessage, Store } from "../src/store/Store.ts";

const aConference = (over: Partial<ConferenceRecord> = {}): ConferenceRecord => ({
  id: "c1",
  title: "Weekly",
  hostTokenHash: "h".repeat(64),
  state: "registering",
  createdAt: 1,
  builtAt: null,
  endedAt: null,
  locked: false,
  ...over,
});

const aMember = (over: Partial<NewMember> = {}): NewMember => ({
  id: "m1",
  conferenceId: "c1",
  name: "Ada",
  tokenHash: "t1",
  avatarHash: "a".repeat(22),
  avatarColor: "#123456",
  createdAt: 2,
  ...over,
});

const aMessage = (over: Partial<NewMessage> = {}): NewMessage => ({
  id: "x1",
  conferenceId: "c1",
  from: "m1",
  to: "all",
  text: "hello",
  sentAt: 3,
  clientId: null,
  ...over,
});

/** One suite every Store implementation must pass. */
export function storeSuite(name: string, open: () => Promise<Store>): void {
  describe(`${name} store`, () => {
    test("keeps a conference and marks it built once", async () => {
      const store = await open();
      await store.createConference(aConference());
      assert.deepEqual(await store.getConference("c1"), aConference());
      await store.markBuilt("c1", 10);
      await store.markBuilt("c1", 20);
      assert.deepEqual(await store.getConference("c1"), aConference({ state: "built", builtAt: 10 }));
      assert.equal(await store.getConference("nope"), undefined);
      await store.close();
    });

    test("seats members in registration order and finds them by token hash", async () => {
      const store = await open();
      await store.createConference(aConference());
      const first = await store.addMember(aMember(), 10);
      const second = await store.addMember(aMember({ id: "m2", tokenHash: "t2", name: "Bob" }), 10);
      assert.deepEqual(first, {
        added: true,
        member: { ...aMember(), seat: 0, role: "member", hostMuted: false, removedAt: null },
      });
      assert.equal(second.added && second.member.seat, 1);
      assert.deepEqual(
        (await store.listMembers("c1")).map((m: MemberRecord) => [m.id, m.seat]),
        [
          ["m1", 0],
          ["m2", 1],
        ],
      );
      assert.equal((await store.findMemberByTokenHash("t2"))?.name, "Bob");
      assert.equal(await store.findMemberByTokenHash("t3"), undefined);
      await store.close();
    });

    test("a locked conference refuses registrations until unlocked; the lock is read back", async () => {
      const store = await open();
      await store.createConference(aConference());
      await store.setLocked("c1", true);
      assert.equal((await store.getConference("c1"))?.locked, true);
      assert.deepEqual(await store.addMember(aMember(), 10), { added: false, reason: "locked" });
      assert.deepEqual(await store.listMembers("c1"), []);
      await store.setLocked("c1", false);
      assert.equal((await store.addMember(aMember(), 10)).added, true);
      await store.close();
    });

    test("the host's changes to a member: role and mute change, removal is for good and keeps the seat", async () => {
      const store = await open();
      await store.createConference(aConference());
      await store.addMember(aMember(), 10);
      await store.addMember(aMember({ id: "m2", tokenHash: "t2" }), 10);
      const coHost = await store.updateMember("c1", "m1", { role: "co-host" });
      assert.deepEqual([coHost?.role, coHost?.hostMuted], ["co-host", false]);
      const muted = await store.updateMember("c1", "m1", { hostMuted: true });
      assert.deepEqual([muted?.role, muted?.hostMuted], ["co-host", true], "one change keeps the other");
      const removed = await store.updateMember("c1", "m2", { removedAt: 50 });
      assert.equal(removed?.removedAt, 50);
      assert.equal((await store.updateMember("c1", "m2", { removedAt: 60 }))?.removedAt, 50, "removed once");
      assert.equal((await store.findMemberByTokenHash("t2"))?.removedAt, 50);
      assert.equal(await store.updateMember("c1", "nobody", { hostMuted: true }), undefined);
      assert.equal(
        await store.updateMember("c2", "m1", { hostMuted: true }),
        undefined,
        "another conference's",
      );
      const third = await store.addMember(aMember({ id: "m3", tokenHash: "t3" }), 10);
      assert.equal(third.added && third.member.seat, 2, "a removed member's seat is not handed out again");
      await store.close();
    });

    test("mute-all mutes every member not removed, not excepted and not muted already", async () => {
      const store = await open();
      await store.createConference(aConference());
      for (const n of [1, 2, 3, 4]) await store.addMember(aMember({ id: `m${n}`, tokenHash: `t${n}` }), 10);
      await store.updateMember("c1", "m2", { hostMuted: true });
      await store.updateMember("c1", "m3", { removedAt: 5 });
      const changed = await store.muteAll("c1", ["m4"]);
      assert.deepEqual(
        changed.map((m) => [m.id, m.hostMuted]),
        [["m1", true]],
      );
      assert.deepEqual(
        (await store.listMembers("c1")).map((m) => [m.id, m.hostMuted]),
        [
          ["m1", true],
          ["m2", true],
          ["m3", false],
          ["m4", false],
        ],
      );
      await store.close();
    });

    test("refuses a member past the capacity, in an ended conference or a missing one, and stores nothing", async () => {
      const store = await open();
      await store.createConference(aConference());
      await store.createConference(aConference({ id: "c2" }));
      await store.addMember(aMember(), 1);
      assert.deepEqual(await store.addMember(aMember({ id: "m2", tokenHash: "t2" }), 1), {
        added: false,
        reason: "full",
      });
      await store.markEnded("c2", 5);
      assert.deepEqual(await store.addMember(aMember({ id: "m3", conferenceId: "c2", tokenHash: "t3" }), 9), {
        added: false,
        reason: "ended",
      });
      assert.deepEqual(await store.addMember(aMember({ id: "m4", conferenceId: "c9", tokenHash: "t4" }), 9), {
        added: false,
        reason: "missing",
      });
      assert.deepEqual((await store.listMembers("c1")).length, 1);
      assert.deepEqual(await store.listMembers("c2"), []);
      await store.close();
    });

    test("registrations at the same time get distinct seats, none skipped", async () => {
      const store = await open();
      await store.createConference(aConference());
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          store.addMember(aMember({ id: `m${i}`, tokenHash: `t${i}` }), 10),
        ),
      );
      const seats = results.flatMap((r) => (r.added ? [r.member.seat] : []));
      assert.deepEqual(
        seats.sort((a, b) => a - b),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      );
      assert.equal(results.filter((r) => !r.added && r.reason === "full").length, 2);
      await store.close();
    });

    test("rejects a second member with the same token hash", async () => {
      const store = await open();
      await store.createConference(aConference());
      await store.addMember(aMember(), 10);
      await assert.rejects(store.addMember(aMember({ id: "m2" }), 10));
      assert.equal((await store.listMembers("c1")).length, 1);
      await store.close();
    });

    test("numbers texts 1, 2, 3 per conference, also when they are stored at the same time", async () => {
      const store = await open();
      await store.createConference(aConference());
      await store.createConference(aConference({ id: "c2" }));
      const stored = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.addMessage(aMessage({ id: `x${i}`, clientId: `k${i}` }))),
      );
      assert.deepEqual(
        stored.map((s) => s.message.seq).sort((a, b) => a - b),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      assert.ok(stored.every((s) => !s.duplicate));
      assert.equal((await store.addMessage(aMessage({ id: "y1", conferenceId: "c2" }))).message.seq, 1);
      assert.equal(await store.lastSeq("c1"), 20);
      await store.close();
    });

    test("stores a sender's clientId once: the same text again returns the stored one", async () => {
      const store = await open();
      await store.createConference(aConference());
      const first = await store.addMessage(aMessage({ id: "x1", clientId: "k" }));
      const again = await store.addMessage(aMessage({ id: "x2", clientId: "k", text: "again" }));
      assert.deepEqual(again, { message: first.message, duplicate: true });
      const other = await store.addMessage(aMessage({ id: "x3", from: "m2", clientId: "k" }));
      assert.equal(other.duplicate, false, "another sender's clientId is theirs");
      const racing = await Promise.all([
        store.addMessage(aMessage({ id: "x4", clientId: "r" })),
        store.addMessage(aMessage({ id: "x5", clientId: "r" })),
      ]);
      assert.deepEqual(
        racing.map((r) => r.duplicate).sort(),
        [false, true],
        "two at once: one stored, one told it is a duplicate",
      );
      assert.deepEqual(
        (await store.listVisibleMessages("c1", "m1", { limit: 10 })).map((m) => m.id),
        ["x1", "x3", racing.find((r) => !r.duplicate)?.message.id],
      );
      await store.close();
    });

    test("shows each member only the texts addressed to them, from them, or to all", async () => {
      const store = await open();
      await store.createConference(aConference());
      await store.addMessage(aMessage({ id: "x1", from: "m1", to: "all" }));
      await store.addMessage(aMessage({ id: "x2", from: "m1", to: ["m2"] }));
      await store.addMessage(aMessage({ id: "x3", from: "m2", to: ["m3", "m1"], clientId: "c-3" }));
      await store.addMessage(aMessage({ id: "x4", from: "m3", to: ["m3"] }));
      const ids = async (member: string) =>
        (await store.listVisibleMessages("c1", member, { limit: 100 })).map((m) => m.id);
      assert.deepEqual(await ids("m1"), ["x1", "x2", "x3"]);
      assert.deepEqual(await ids("m2"), ["x1", "x2", "x3"]);
      assert.deepEqual(await ids("m3"), ["x1", "x3", "x4"]);
      assert.deepEqual(await ids("m4"), ["x1"]);
      const [third] = await store.listVisibleMessages("c1", "m1", { afterSeq: 2, limit: 100 });
      assert.deepEqual(third, {
        ...aMessage({ id: "x3", from: "m2", to: ["m3", "m1"], clientId: "c-3" }),
        seq: 3,
      });
      assert.equal(await store.lastSeq("c1"), 4);
      assert.deepEqual(
        (await store.listMessages("c1", 1, 3)).map((m) => m.id),
        ["x2", "x3"],
        "a node's gap fill reads every text in the range, whoever it is for",
      );
      assert.equal(await store.lastSeq("c2"), 0);
      await store.close();
    });

    test("returns the newest texts, oldest first, when limited", async () => {
      const store = await open();
      await store.createConference(aConference());
      for (let seq = 1; seq <= 5; seq++) await store.addMessage(aMessage({ id: `x${seq}` }));
      const page = await store.listVisibleMessages("c1", "m9", { limit: 2 });
      assert.deepEqual(
        page.map((m) => m.seq),
        [4, 5],
      );
      const oldest = await store.listVisibleMessages("c1", "m9", { afterSeq: 1, limit: 2, take: "oldest" });
      assert.deepEqual(
        oldest.map((m) => m.seq),
        [2, 3],
      );
      await store.close();
    });

    test("ends a conference once and counts the open ones", async () => {
      const store = await open();
      await store.createConference(aConference());
      await store.createConference(aConference({ id: "c2" }));
      await store.markBuilt("c1", 10);
      await store.markEnded("c1", 30);
      await store.markEnded("c1", 40);
      assert.deepEqual(
        await store.getConference("c1"),
        aConference({ state: "ended", builtAt: 10, endedAt: 30 }),
      );
      assert.equal((await store.getConference("c2"))?.state, "registering");
      assert.equal(await store.countOpenConferences(), 1, "the ended one does not count");
      await store.close();
    });

    test("finds a member's text by its client id, and only that member's", async () => {
      const store = await open();
      await store.createConference(aConference());
      await store.addMessage(aMessage({ id: "x1", from: "m1", clientId: "same" }));
      await store.addMessage(aMessage({ id: "x2", from: "m2", clientId: "same" }));
      assert.equal((await store.findMessageByClientId("c1", "m2", "same"))?.id, "x2");
      assert.equal((await store.findMessageByClientId("c1", "m3", "same"))?.id, undefined);
      assert.equal((await store.findMessageByClientId("c2", "m1", "same"))?.id, undefined);
      await store.close();
    });
  });
}
