/**
 * One conference across Roundtable nodes: two servers on one PostgreSQL and one NATS (each started
 * by this file), members on both. What one node changes (a registration, the build, the end) reaches
 * the members connected to the other.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CLOSE_CODES, type ServerMessage } from "@roundtable/protocol";
import { rawSocket } from "../../packages/server/test/clients.ts";
import type { TestServer } from "../../packages/server/test/harness.ts";
import { startCluster, type TestCluster } from "./cluster.ts";

let cluster: TestCluster;
let a: TestServer;
let b: TestServer;
before(async () => {
  cluster = await startCluster(["a", "b"]);
  [a, b] = cluster.nodes as [TestServer, TestServer];
});
after(async () => {
  await cluster?.stop();
});

const ofType =
  <K extends ServerMessage["type"]>(type: K) =>
  (m: ServerMessage): m is Extract<ServerMessage, { type: K }> =>
    m.type === type;

test("a member registered on one node appears at once in the lobby of a member on the other", async () => {
  const conference = await a.api.createConference("Two nodes");
  const ada = await a.api.register(conference.id, { name: "Ada" });
  const onB = await rawSocket(b.api.socketUrl(conference.id, ada.token));
  await onB.next(ofType("history"));
  const ben = await a.api.register(conference.id, { name: "Ben" });
  const added = await onB.next(ofType("member-added"));
  assert.equal(added.member.id, ben.memberId);
  assert.equal(added.member.seat, 1);
  assert.equal((await b.api.getConference(conference.id)).members.length, 2, "node b's summary has Ben");
  onB.socket.close();
});

test("a member registered on one node can connect to the other, even to a node that already held the conference", async () => {
  const conference = await a.api.createConference("Late joiner");
  const ada = await a.api.register(conference.id, { name: "Ada" });
  // Node b loads the conference (Ada connects there) before Cleo registers on node a.
  const adaOnB = await rawSocket(b.api.socketUrl(conference.id, ada.token));
  await adaOnB.next(ofType("history"));
  const cleo = await a.api.register(conference.id, { name: "Cleo" });
  const cleoOnB = await rawSocket(b.api.socketUrl(conference.id, cleo.token));
  const hello = await cleoOnB.next(ofType("hello"));
  assert.equal(hello.memberId, cleo.memberId);
  adaOnB.socket.close();
  cleoOnB.socket.close();
});

test("the host builds on one node: members on both get the build message with every member", async () => {
  const conference = await b.api.createConference("Built across");
  const ada = await a.api.register(conference.id, { name: "Ada" });
  const ben = await b.api.register(conference.id, { name: "Ben" });
  const adaOnA = await rawSocket(a.api.socketUrl(conference.id, ada.token));
  const benOnB = await rawSocket(b.api.socketUrl(conference.id, ben.token));
  await Promise.all([adaOnA.next(ofType("history")), benOnB.next(ofType("history"))]);
  await b.api.build(conference.id, conference.hostToken);
  for (const socket of [adaOnA, benOnB]) {
    const build = await socket.next(ofType("build"));
    assert.deepEqual(
      build.members.map((m) => m.name),
      ["Ada", "Ben"],
    );
  }
  assert.equal((await a.api.getConference(conference.id)).state, "built");
  adaOnA.socket.close();
  benOnB.socket.close();
});

test("the host ends on one node: members on the other are told and closed with 4010", async () => {
  const conference = await a.api.createConference("Ended across");
  const ada = await a.api.register(conference.id, { name: "Ada" });
  await a.api.build(conference.id, conference.hostToken);
  const adaOnB = await rawSocket(b.api.socketUrl(conference.id, ada.token));
  await adaOnB.next(ofType("history"));
  await a.api.end(conference.id, conference.hostToken);
  await adaOnB.next(ofType("ended"));
  assert.equal((await adaOnB.closed).code, CLOSE_CODES.ended);
  await assert.rejects(b.api.register(conference.id, { name: "Too late" }), /ended/);
});

test("a member's avatar, stored on the node they registered with, is served by every node", async () => {
  const conference = await a.api.createConference("Faces");
  await a.api.register(conference.id, { name: "Ada" });
  const [member] = (await b.api.getConference(conference.id)).members;
  assert.ok(member, "node b lists Ada");
  const [fromA, fromB] = await Promise.all(
    [a, b].map(async (node) => {
      const response = await fetch(new URL(member.avatarUrl, node.baseUrl));
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "image/webp");
      return Buffer.from(await response.arrayBuffer());
    }),
  );
  assert.ok(fromA && fromA.length > 0);
  assert.deepEqual(fromB, fromA);
});
