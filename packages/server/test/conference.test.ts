import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import { CLOSE_CODES } from "@roundtable/protocol";
import { type ConferenceLimits, ConferenceService } from "../src/conference/ConferenceService.ts";
import { RoundtableError } from "../src/conference/errors.ts";
import { MemoryStore } from "../src/store/MemoryStore.ts";
import {
  anAvatar,
  FakeClock,
  ManualScheduler,
  MemoryAvatarStore,
  RecordingConnection,
  sequentialIds,
} from "./fakes.ts";

let clock: FakeClock;
let scheduler: ManualScheduler;
let store: MemoryStore;
let avatars: MemoryAvatarStore;
let service: ConferenceService;

/** A fresh service over the shared fakes, with some limits changed. */
const serviceWith = (limits: Partial<ConferenceLimits> = {}) =>
  new ConferenceService({ store, avatars, clock, ids: sequentialIds(), scheduler, limits });

beforeEach(() => {
  clock = new FakeClock();
  scheduler = new ManualScheduler();
  store = new MemoryStore();
  avatars = new MemoryAvatarStore();
  service = serviceWith();
});

const rejectsWith = (promise: Promise<unknown>, code: string) =>
  assert.rejects(promise, (e: unknown) => e instanceof RoundtableError && e.code === code);

/** A conference with the named members registered and each connected once. */
async function conferenceWith(...names: string[]) {
  const conference = await service.createConference("Planning");
  const members: Record<string, { id: string; token: string; conn: RecordingConnection }> = {};
  for (const name of names) {
    const { member, token } = await service.registerMember(conference.id, name, anAvatar());
    members[name] = { id: member.id, token, conn: new RecordingConnection() };
  }
  for (const m of Object.values(members)) await service.connect(conference.id, m.id, m.conn);
  const get = (name: string) => {
    const m = members[name];
    if (!m) throw new Error(`no member ${name}`);
    return m;
  };
  return { conference, get };
}

describe("registration", () => {
  test("seats members in registration order with trimmed names", async () => {
    const { id } = await service.createConference("  Retro  ");
    await service.registerMember(id, "  Ada  ", anAvatar());
    await service.registerMember(id, "Bob", anAvatar());
    const summary = await service.summary(id);
    assert.equal(summary.title, "Retro");
    assert.deepEqual(
      summary.members.map((m) => m.name),
      ["Ada", "Bob"],
    );
    assert.deepEqual(
      (await store.listMembers(id)).map((m) => m.seat),
      [0, 1],
    );
  });

  test("stores only a hash of the member token", async () => {
    const { id } = await service.createConference("T");
    const { token } = await service.registerMember(id, "Ada", anAvatar());
    const [stored] = await store.listMembers(id);
    assert.ok(stored);
    assert.notEqual(stored.tokenHash, token);
    assert.equal((await service.authenticateMember(id, token)).name, "Ada");
  });

  test("concurrent registrations get distinct seats", async () => {
    const { id } = await service.createConference("T");
    await Promise.all(["A", "B", "C", "D"].map((n) => service.registerMember(id, n, anAvatar())));
    const seats = (await store.listMembers(id)).map((m) => m.seat).sort();
    assert.deepEqual(seats, [0, 1, 2, 3]);
  });

  for (const [name, why] of [
    ["", "empty"],
    ["   ", "blank"],
    ["x".repeat(65), "too long"],
    ["bad\u0000name", "control character"],
    ["evil\u202Eeman", "bidi override"],
    ["\u200B\u200D\u2060", "invisible"],
    ["\u0301\u0301", "marks-only"],
  ] as const) {
    test(`rejects a ${why} name and stores nothing`, async () => {
      const { id } = await service.createConference("T");
      await rejectsWith(service.registerMember(id, name, anAvatar()), "invalid_name");
      assert.equal((await store.listMembers(id)).length, 0);
      assert.equal(avatars.saved.size, 0);
    });
  }

  test("accepts a 64-character name of astral characters", async () => {
    const { id } = await service.createConference("T");
    const name = "😀".repeat(64);
    const { member } = await service.registerMember(id, name, anAvatar());
    assert.equal(member.name, name);
  });

  test("refuses members beyond the limit without storing their avatar", async () => {
    service = serviceWith({ membersPerConference: 1 });
    const { id } = await service.createConference("T");
    await service.registerMember(id, "Ada", anAvatar("A".repeat(22)));
    await rejectsWith(service.registerMember(id, "Bob", anAvatar("B".repeat(22))), "conference_full");
    assert.deepEqual([...avatars.saved.keys()], ["A".repeat(22)]);
  });

  test("unknown conferences are not found", async () => {
    await rejectsWith(service.registerMember("nope", "Ada", anAvatar()), "not_found");
    await rejectsWith(service.summary("nope"), "not_found");
  });

  test("a member registering before the build is announced to the lobby", async () => {
    const { conference, get } = await conferenceWith("Ada");
    await service.registerMember(conference.id, "Bob", anAvatar());
    const added = get("Ada").conn.ofType("member-added");
    assert.deepEqual(
      added.map((m) => [m.member.name, m.member.seat]),
      [["Bob", 1]],
    );
  });
});

describe("build", () => {
  test("sends every connected member one build message with all avatars and seats", async () => {
    const { conference, get } = await conferenceWith("Ada", "Bob", "Cy");
    await service.build(conference.id, conference.hostToken);
    for (const name of ["Ada", "Bob", "Cy"]) {
      const builds = get(name).conn.ofType("build");
      assert.equal(builds.length, 1);
      assert.deepEqual(
        builds[0]?.members.map((m) => [m.name, m.seat, m.avatar.url]),
        [
          ["Ada", 0, `/avatars/${"A".repeat(22)}.webp`],
          ["Bob", 1, `/avatars/${"A".repeat(22)}.webp`],
          ["Cy", 2, `/avatars/${"A".repeat(22)}.webp`],
        ],
      );
    }
  });

  test("building twice is harmless and sends nothing more", async () => {
    const { conference, get } = await conferenceWith("Ada");
    assert.deepEqual(await service.build(conference.id, conference.hostToken), { alreadyBuilt: false });
    assert.deepEqual(await service.build(conference.id, conference.hostToken), { alreadyBuilt: true });
    assert.equal(get("Ada").conn.ofType("build").length, 1);
    assert.equal((await store.getConference(conference.id))?.state, "built");
  });

  test("needs the host token: none is unauthorized, a member's is forbidden", async () => {
    const { conference, get } = await conferenceWith("Ada");
    await rejectsWith(service.build(conference.id, undefined), "unauthorized");
    await rejectsWith(service.build(conference.id, "wrong"), "unauthorized");
    await rejectsWith(service.build(conference.id, get("Ada").token), "forbidden");
    assert.equal(get("Ada").conn.ofType("build").length, 0);
  });

  test("a host token of another conference does not build this one", async () => {
    const { conference } = await conferenceWith("Ada");
    const other = await service.createConference("Other");
    await rejectsWith(service.build(conference.id, other.hostToken), "unauthorized");
  });

  test("a member connecting after the build gets the build message on connect", async () => {
    const { conference } = await conferenceWith("Ada");
    await service.build(conference.id, conference.hostToken);
    const { member } = await service.registerMember(conference.id, "Late", anAvatar());
    const late = new RecordingConnection();
    await service.connect(conference.id, member.id, late);
    assert.deepEqual(
      late.received.map((m) => m.type),
      ["hello", "build", "history"],
    );
    assert.deepEqual(
      late.ofType("build")[0]?.members.map((m) => m.name),
      ["Ada", "Late"],
    );
  });

  test("a member registering after the build is added to every open room at once", async () => {
    const { conference, get } = await conferenceWith("Ada", "Bob");
    await service.build(conference.id, conference.hostToken);
    await service.registerMember(conference.id, "Late", anAvatar());
    for (const name of ["Ada", "Bob"]) {
      assert.deepEqual(
        get(name)
          .conn.ofType("member-added")
          .map((m) => m.member.name),
        ["Late"],
      );
    }
  });
});

describe("presence", () => {
  test("joins within one batch window go out as one message", async () => {
    const { get } = await conferenceWith("Ada", "Bob", "Cy");
    assert.equal(get("Ada").conn.ofType("presence").length, 0);
    scheduler.runAll();
    const [presence] = get("Ada").conn.ofType("presence");
    assert.deepEqual(presence?.online.sort(), [get("Ada").id, get("Bob").id, get("Cy").id].sort());
  });

  test("a member stays online while any of their connections is open", async () => {
    const { conference, get } = await conferenceWith("Ada", "Bob");
    scheduler.runAll();
    const second = new RecordingConnection();
    const detachSecond = await service.connect(conference.id, get("Bob").id, second);
    detachSecond();
    detachSecond();
    scheduler.runAll();
    assert.equal(get("Ada").conn.ofType("presence").length, 1);
  });

  test("refuses connections beyond the per-member limit", async () => {
    service = serviceWith({ connectionsPerMember: 1 });
    const { conference, get } = await conferenceWith("Ada");
    const extra = new RecordingConnection();
    await service.connect(conference.id, get("Ada").id, extra);
    assert.equal(extra.closedWith?.code, CLOSE_CODES.tooManyConnections);
    assert.equal(extra.received.length, 0);
  });
});

describe("text", () => {
  test("a text to all reaches everyone once, with the sender's copy carrying its client id", async () => {
    const { conference, get } = await conferenceWith("Ada", "Bob", "Cy");
    await service.sendText(conference.id, get("Ada").id, {
      type: "text",
      to: "all",
      text: "hi",
      clientId: "c1",
    });
    for (const name of ["Ada", "Bob", "Cy"]) assert.deepEqual(get(name).conn.texts(), ["hi"]);
    assert.equal(get("Ada").conn.ofType("text")[0]?.clientId, "c1");
    assert.equal(get("Bob").conn.ofType("text")[0]?.clientId, undefined);
  });

  test("a private text reaches only its recipients and the sender", async () => {
    const { conference, get } = await conferenceWith("Ada", "Bob", "Cy");
    const sent = await service.sendText(conference.id, get("Ada").id, {
      type: "text",
      to: [get("Bob").id, get("Bob").id],
      text: "secret",
    });
    assert.deepEqual(sent.to, [get("Bob").id]);
    assert.deepEqual(get("Ada").conn.texts(), ["secret"]);
    assert.deepEqual(get("Bob").conn.texts(), ["secret"]);
    assert.deepEqual(get("Cy").conn.texts(), []);
    assert.deepEqual(
      (await service.history(conference.id, get("Cy").id)).map((m) => m.text),
      [],
    );
    assert.deepEqual(
      (await service.history(conference.id, get("Bob").id)).map((m) => m.text),
      ["secret"],
    );
  });

  test("an unknown recipient is an error and nothing is delivered or stored", async () => {
    const { conference, get } = await conferenceWith("Ada", "Bob");
    await rejectsWith(
      service.sendText(conference.id, get("Ada").id, {
        type: "text",
        to: [get("Bob").id, "ghost"],
        text: "x",
      }),
      "unknown_recipient",
    );
    assert.deepEqual(get("Bob").conn.texts(), []);
    assert.equal(await store.lastSeq(conference.id), 0);
  });

  test("a member of another conference is an unknown recipient", async () => {
    const { conference, get } = await conferenceWith("Ada");
    const other = await service.createConference("Other");
    const { member } = await service.registerMember(other.id, "Eve", anAvatar());
    await rejectsWith(
      service.sendText(conference.id, get("Ada").id, { type: "text", to: [member.id], text: "x" }),
      "unknown_recipient",
    );
  });

  test("a blank text is refused", async () => {
    const { conference, get } = await conferenceWith("Ada");
    await rejectsWith(
      service.sendText(conference.id, get("Ada").id, { type: "text", to: "all", text: "  \n " }),
      "invalid_message",
    );
  });

  test("texts beyond the burst are rate limited until time passes", async () => {
    service = serviceWith({ textBurst: 2, textsPerSecond: 1 });
    const { conference, get } = await conferenceWith("Ada");
    const send = () => service.sendText(conference.id, get("Ada").id, { type: "text", to: "all", text: "x" });
    await send();
    await send();
    await rejectsWith(send(), "rate_limited");
    clock.advance(1000);
    await send();
  });

  test("sequence numbers increase by one and history resumes after a given one", async () => {
    const { conference, get } = await conferenceWith("Ada");
    for (const text of ["one", "two", "three"])
      await service.sendText(conference.id, get("Ada").id, { type: "text", to: "all", text });
    assert.deepEqual(
      get("Ada")
        .conn.ofType("text")
        .map((m) => m.seq),
      [1, 2, 3],
    );
    assert.deepEqual(
      (await service.history(conference.id, get("Ada").id, 1)).map((m) => m.text),
      ["two", "three"],
    );
    const reconnect = new RecordingConnection();
    await service.connect(conference.id, get("Ada").id, reconnect, 2);
    assert.deepEqual(
      reconnect.ofType("history")[0]?.messages.map((m) => m.text),
      ["three"],
    );
  });
});

test("close cancels pending presence timers and closes every connection", async () => {
  const { get } = await conferenceWith("Ada");
  assert.equal(scheduler.pending, 1);
  await service.close();
  assert.equal(scheduler.pending, 0);
  assert.equal(get("Ada").conn.closedWith?.code, CLOSE_CODES.serviceRestart);
});

test("a text stored while a member is connecting reaches that member", async () => {
  const { conference, get } = await conferenceWith("Ada", "Bob");
  // Hold Bob's history read until Ada's text is stored and delivered.
  const realRead = store.listVisibleMessages.bind(store);
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  store.listVisibleMessages = async (...args) => {
    const result = await realRead(...args);
    await held;
    return result;
  };
  const bob = new RecordingConnection();
  const connecting = service.connect(conference.id, get("Bob").id, bob);
  await service.sendText(conference.id, get("Ada").id, { type: "text", to: "all", text: "during connect" });
  release();
  await connecting;
  const seen = [...bob.texts(), ...(bob.ofType("history")[0]?.messages.map((m) => m.text) ?? [])];
  assert.ok(seen.includes("during connect"), `Bob saw ${JSON.stringify(seen)}`);
});

describe("memory", () => {
  test("a conference nobody is connected to is forgotten after the idle time, and read again when needed", async () => {
    const conference = await service.createConference("Idle");
    const { member } = await service.registerMember(conference.id, "Ada", anAvatar());
    const conn = new RecordingConnection();
    const detach = await service.connect(conference.id, member.id, conn);
    const held = service.loadedCount;
    scheduler.runAll();
    assert.equal(service.loadedCount, held, "held while Ada is connected");

    detach();
    // Ada is back before the idle time ran out: nothing is forgotten.
    const again = await service.connect(conference.id, member.id, new RecordingConnection());
    scheduler.runAll();
    assert.equal(service.loadedCount, held);

    again();
    scheduler.runAll();
    assert.equal(service.loadedCount, held - 1, "forgotten once nobody is connected");
    assert.deepEqual(
      (await service.summary(conference.id)).members.map((m) => m.name),
      ["Ada"],
      "the store still has everything",
    );
  });
});
