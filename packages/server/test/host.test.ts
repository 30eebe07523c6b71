/**
 * The host's controls over the real server: each action and each refusal (401 without a token or
 * with an unknown one, 403 for a plain member), what the room hears, and what each action enforces.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ApiError } from "@roundtable/client-core";
import { CLOSE_CODES, type ServerMessage } from "@roundtable/protocol";
import { closeCodeOf, rawSocket } from "./clients.ts";
import { startTestServer, type TestServer } from "./harness.ts";

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.stop());

/** A built conference with Ada, Ben and Cleo, each connected. */
async function meeting(title: string) {
  const conference = await t.api.createConference(title);
  const [ada, ben, cleo] = await Promise.all(
    ["Ada", "Ben", "Cleo"].map((name) => t.api.register(conference.id, { name })),
  );
  if (!ada || !ben || !cleo) throw new Error("three members");
  await t.api.build(conference.id, conference.hostToken);
  const sockets = await Promise.all(
    [ada, ben, cleo].map((m) => rawSocket(t.api.socketUrl(conference.id, m.token))),
  );
  await Promise.all(sockets.map((s) => s.next((m) => m.type === "history")));
  const [adaSocket, benSocket, cleoSocket] = sockets as [
    (typeof sockets)[0],
    (typeof sockets)[0],
    (typeof sockets)[0],
  ];
  return {
    conference,
    ada,
    ben,
    cleo,
    adaSocket,
    benSocket,
    cleoSocket,
    close: () => {
      for (const s of sockets) s.socket.close();
    },
  };
}

const refusedWith = async (action: Promise<unknown>, status: number) => {
  const error = await action.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof ApiError, `refused (${String(error)})`);
  assert.equal(error.status, status);
};

const updated = (id: string) => (m: ServerMessage) => m.type === "member-updated" && m.member.id === id;

test("every host action answers 401 without a token or with an unknown one, 403 for a plain member", async () => {
  const { conference, ada, ben, close } = await meeting("Refusals");
  const actions = [
    (token: string) => t.api.muteMember(conference.id, ben.memberId, true, token),
    (token: string) => t.api.muteAll(conference.id, token),
    (token: string) => t.api.removeMember(conference.id, ben.memberId, token),
    (token: string) => t.api.lockRegistration(conference.id, true, token),
    (token: string) => t.api.addCoHost(conference.id, ben.memberId, token),
  ];
  for (const action of actions) {
    await refusedWith(action("not-a-token"), 401);
    await refusedWith(action(ada.token), 403);
  }
  const bare = await fetch(`${t.baseUrl}/api/conferences/${conference.id}/lock`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ locked: true }),
  });
  assert.equal(bare.status, 401);
  assert.equal(((await bare.json()) as { error: { code: string } }).error.code, "unauthorized");
  const summary = (await (await fetch(`${t.baseUrl}/api/conferences/${conference.id}`)).json()) as {
    members: unknown[];
  };
  assert.equal(summary.members.length, 3, "nothing changed");
  close();
});

test("the host mutes a member and lifts it again: everyone sees both", async () => {
  const { conference, ben, adaSocket, benSocket, close } = await meeting("Muting");
  await t.api.muteMember(conference.id, ben.memberId, true, conference.hostToken);
  for (const socket of [adaSocket, benSocket]) {
    const seen = await socket.next(updated(ben.memberId));
    assert.equal(seen.type === "member-updated" && seen.member.hostMuted, true);
  }
  // Ben has no voice here; what his voice would do is tested with real peers across nodes.
  await t.api.muteMember(conference.id, ben.memberId, false, conference.hostToken);
  const lifted = await adaSocket.next(
    (m) => updated(ben.memberId)(m) && !(m.type === "member-updated" && m.member.hostMuted),
  );
  assert.equal(lifted.type === "member-updated" && lifted.member.hostMuted, undefined);
  close();
});

test("a co-host may mute, but not remove, lock or name co-hosts; mute-all spares co-hosts", async () => {
  const { conference, ada, ben, cleo, cleoSocket, close } = await meeting("Co-host");
  await t.api.addCoHost(conference.id, ada.memberId, conference.hostToken);
  const named = await cleoSocket.next(updated(ada.memberId));
  assert.equal(named.type === "member-updated" && named.member.role, "co-host");
  await t.api.muteMember(conference.id, ben.memberId, true, ada.token);
  await refusedWith(t.api.removeMember(conference.id, ben.memberId, ada.token), 403);
  await refusedWith(t.api.lockRegistration(conference.id, true, ada.token), 403);
  await refusedWith(t.api.addCoHost(conference.id, cleo.memberId, ada.token), 403);
  assert.equal(
    await t.api.muteAll(conference.id, conference.hostToken),
    1,
    "Cleo; Ben was muted, Ada is a co-host",
  );
  await cleoSocket.next((m) => updated(cleo.memberId)(m));
  close();
});

test("removing a member closes their sockets with 4003, empties their seat, refuses their token; their texts stay", async () => {
  const { conference, ben, adaSocket, benSocket, cleoSocket, close } = await meeting("Removal");
  benSocket.send({ type: "text", to: "all", text: "before I go", clientId: "b1" });
  await adaSocket.next((m) => m.type === "text" && m.text === "before I go");
  await t.api.removeMember(conference.id, ben.memberId, conference.hostToken);
  assert.equal((await benSocket.closed).code, CLOSE_CODES.removed);
  for (const socket of [adaSocket, cleoSocket])
    await socket.next((m) => m.type === "member-removed" && m.memberId === ben.memberId);
  assert.equal((await closeCodeOf(t.api.socketUrl(conference.id, ben.token))).code, CLOSE_CODES.removed);
  await refusedWith(t.api.history(conference.id, ben.token), 403);
  // A newcomer's room has no seat for Ben, and still has his text.
  const dee = await t.api.register(conference.id, { name: "Dee" });
  const deeSocket = await rawSocket(t.api.socketUrl(conference.id, dee.token));
  const build = await deeSocket.next((m) => m.type === "build");
  assert.deepEqual(build.type === "build" && build.members.map((m) => m.name), ["Ada", "Cleo", "Dee"]);
  const history = await deeSocket.next((m) => m.type === "history");
  assert.deepEqual(history.type === "history" && history.messages.map((m) => m.text), ["before I go"]);
  await t.api.removeMember(conference.id, ben.memberId, conference.hostToken);
  deeSocket.socket.close();
  close();
});

test("a locked conference refuses registrations with 423 registration_locked until unlocked", async () => {
  const { conference, adaSocket, close } = await meeting("Locked");
  await t.api.lockRegistration(conference.id, true, conference.hostToken);
  await adaSocket.next((m) => m.type === "registration" && m.locked);
  const refused = await t.api.register(conference.id, { name: "Late" }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(refused instanceof ApiError);
  assert.deepEqual([refused.status, refused.code], [423, "registration_locked"]);
  await t.api.lockRegistration(conference.id, false, conference.hostToken);
  assert.ok((await t.api.register(conference.id, { name: "Late" })).memberId);
  close();
});
