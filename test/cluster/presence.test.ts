/**
 * Presence across nodes: a member is online while any node holds a socket of theirs. Three nodes on
 * one PostgreSQL and one NATS, started by this file.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ServerMessage } from "@roundtable/protocol";
import { rawSocket } from "../../packages/server/test/clients.ts";
import type { TestServer } from "../../packages/server/test/harness.ts";
import { startCluster, type TestCluster } from "./cluster.ts";

let cluster: TestCluster;
let a: TestServer;
let b: TestServer;
let c: TestServer;
before(async () => {
  cluster = await startCluster(["a", "b", "c"]);
  [a, b, c] = cluster.nodes as [TestServer, TestServer, TestServer];
});
after(async () => {
  await cluster?.stop();
});

type Presence = Extract<ServerMessage, { type: "presence" }>;
type Text = Extract<ServerMessage, { type: "text" }>;
const presence = (m: ServerMessage): m is Presence => m.type === "presence";

async function conferenceOf(...names: string[]) {
  const conference = await a.api.createConference("Who is here");
  const members = await Promise.all(names.map((name) => a.api.register(conference.id, { name })));
  await a.api.build(conference.id, conference.hostToken);
  const socket = async (node: TestServer, i: number) => {
    const s = await rawSocket(node.api.socketUrl(conference.id, (members[i] as { token: string }).token));
    await s.next((m) => m.type === "history");
    return s;
  };
  return { conference, members, socket };
}

test("a member connecting to one node is online for the members of another, and offline when they leave", async () => {
  const { members, socket } = await conferenceOf("Ada", "Ben");
  const [ada] = members;
  const benOnB = await socket(b, 1);
  const adaOnA = await socket(a, 0);
  await benOnB.next((m): m is Presence => presence(m) && m.online.includes(ada?.memberId ?? ""));
  adaOnA.socket.close();
  await benOnB.next((m): m is Presence => presence(m) && m.offline.includes(ada?.memberId ?? ""));
  benOnB.socket.close();
});

test("a node that starts holding the conference learns who is connected elsewhere", async () => {
  const { members, socket } = await conferenceOf("Ada", "Ben");
  const [ada] = members;
  const adaOnA = await socket(a, 0);
  // Node c has never held this conference: its roll call brings Ada's presence on node a.
  const benOnC = await socket(c, 1);
  const hello = benOnC.received.find((m) => m.type === "hello");
  const knewAtOnce = hello?.type === "hello" && hello.online.includes(ada?.memberId ?? "");
  if (!knewAtOnce)
    await benOnC.next((m): m is Presence => presence(m) && m.online.includes(ada?.memberId ?? ""));
  adaOnA.socket.close();
  benOnC.socket.close();
});

test("a member with sockets on two nodes stays online when one of them closes", async () => {
  const { members, socket } = await conferenceOf("Ada", "Cleo", "Dan");
  const [ada] = members;
  const adaOnA = await socket(a, 0);
  const adaOnB = await socket(b, 0);
  const cleoOnA = await socket(a, 1);
  const danOnC = await socket(c, 2);
  await danOnC.next((m): m is Presence => presence(m) && m.online.includes(ada?.memberId ?? ""));
  adaOnA.socket.close();
  // A text from node a after the close reaches node c after node a's presence change (one
  // publisher, one order): once Dan has it, node c has heard that Ada left node a.
  cleoOnA.send({ type: "text", to: "all", text: "marker", clientId: "m-1" });
  await danOnC.next((m): m is Text => m.type === "text" && m.text === "marker");
  const fresh = await socket(c, 2);
  const hello = fresh.received.find((m) => m.type === "hello");
  assert.ok(
    hello?.type === "hello" && hello.online.includes(ada?.memberId ?? ""),
    "Ada is still online (node b)",
  );
  for (const s of [adaOnB, cleoOnA, danOnC, fresh]) s.socket.close();
});
