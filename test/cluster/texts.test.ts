/**
 * Texts across nodes: three nodes on one PostgreSQL and one NATS (started by this file), members on
 * all three. Texts to all reach everyone once, in one order; a whisper reaches its members only, and
 * its text never reaches a node where none of them is connected (counted on the bus).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { connect } from "@nats-io/transport-node";
import type { ServerMessage } from "@roundtable/protocol";
import { rawSocket, textsAtOnce } from "../../packages/server/test/clients.ts";
import { GENEROUS_LIMITS, type TestServer } from "../../packages/server/test/harness.ts";
import { startCluster, type TestCluster } from "./cluster.ts";

let cluster: TestCluster;
let nodes: TestServer[] = [];
before(async () => {
  cluster = await startCluster(["a", "b", "c"], GENEROUS_LIMITS);
  nodes = cluster.nodes;
});
after(async () => {
  await cluster?.stop();
});

type Text = Extract<ServerMessage, { type: "text" }>;
const isText = (m: ServerMessage): m is Text => m.type === "text";

/** A conference with one member per node, each connected to their own node. */
async function spread(title: string) {
  const [a, b, c] = nodes as [TestServer, TestServer, TestServer];
  const conference = await a.api.createConference(title);
  const members = await Promise.all(
    ["Ada", "Ben", "Cleo"].map((name) => a.api.register(conference.id, { name })),
  );
  await a.api.build(conference.id, conference.hostToken);
  const sockets = await Promise.all(
    [a, b, c].map((node, i) =>
      rawSocket(node.api.socketUrl(conference.id, (members[i] as { token: string }).token)),
    ),
  );
  await Promise.all(sockets.map((s) => s.next((m) => m.type === "history")));
  return { conference, members, sockets };
}

test("texts to all, sent at once from three nodes, reach every member once and in one order", async () => {
  const { sockets } = await spread("Across");
  const orders = await textsAtOnce(sockets, 10);
  const total = sockets.length * 10;
  for (const order of orders)
    assert.deepEqual(
      order,
      Array.from({ length: total }, (_, i) => i + 1),
    );
  for (const socket of sockets) socket.socket.close();
});

test("a whisper from node a to the member on node b reaches b only; node c sees its number, never its text", async () => {
  const { conference, members, sockets } = await spread("Whisper");
  const [, ben, cleo] = members;
  const [adaSocket, benSocket, cleoSocket] = sockets;
  if (!ben || !cleo || !adaSocket || !benSocket || !cleoSocket) throw new Error("three members");
  // Watch the bus as node c would: its whisper subjects (Cleo's) and the conference's events.
  const spy = await connect({ servers: cluster.nats.url });
  const seen: string[] = [];
  const record = (_error: unknown, message: { string(): string }) => {
    seen.push(message.string());
  };
  spy.subscribe(`rt.conference.${conference.id}.member.${cleo.memberId}`, { callback: record });
  spy.subscribe(`rt.conference.${conference.id}.events`, { callback: record });
  await spy.flush();

  adaSocket.send({ type: "text", to: [ben.memberId], text: "for Ben only", clientId: "w-1" });
  const whisper = await benSocket.next((m): m is Text => isText(m) && m.text === "for Ben only");
  assert.deepEqual(whisper.to, [ben.memberId]);
  // A text to all after it proves Cleo's node has passed the whisper's number.
  adaSocket.send({ type: "text", to: "all", text: "to everyone", clientId: "w-2" });
  const later = await cleoSocket.next((m): m is Text => isText(m) && m.text === "to everyone");
  assert.equal(later.seq, whisper.seq + 1);
  await spy.flush();
  await spy.close();

  assert.equal(cleoSocket.received.filter(isText).length, 1, "Cleo got the text to all only");
  assert.ok(
    !seen.some((s) => s.includes("for Ben only")),
    "the whisper's text never reached Cleo's subjects",
  );
  assert.ok(
    seen.some((s) => s.includes('"text-skip"')),
    "its number did",
  );
  assert.equal(
    adaSocket.received.filter(isText).filter((m) => m.text === "for Ben only").length,
    1,
    "Ada's acknowledgement, once",
  );
  for (const socket of sockets) socket.socket.close();
});
