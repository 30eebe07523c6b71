/**
 * The host's controls across nodes: three nodes on one PostgreSQL and one NATS, werift bots on
 * different nodes. A member muted by the host at another node is forwarded nowhere (counted at every
 * listener and every node's relay) and cannot unmute themselves; a removed member's token is refused
 * on every node; a lock made at one node refuses registrations at another.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import { ApiError } from "@roundtable/client-core";
import { CLOSE_CODES } from "@roundtable/protocol";
import {
  closeMembers,
  joinVoice,
  LOOPBACK_RTC,
  SECOND,
  SPEECH,
  totalPackets,
  until,
  type VoiceMember,
  voiceMember,
} from "../../packages/bot/test/voiceMembers.ts";
import { closeCodeOf, nextMessage, rawSocket } from "../../packages/server/test/clients.ts";
import type { TestServer } from "../../packages/server/test/harness.ts";
import { startCluster, type TestCluster } from "./cluster.ts";

let cluster: TestCluster;
before(async () => {
  cluster = await startCluster(["a", "b", "c"], LOOPBACK_RTC);
});
after(async () => {
  await cluster?.stop();
});

test("host mute at another node: forwarded nowhere, not liftable by the member, lifted by the host", {
  skip: !existsSync(SPEECH) && `missing ${SPEECH}`,
  timeout: 90_000,
}, async () => {
  const [a, b, c] = cluster.nodes as [TestServer, TestServer, TestServer];
  const members: VoiceMember[] = [];
  const playback = new AbortController();
  try {
    const conference = await a.api.createConference("Host across nodes");
    await a.api.build(conference.id, conference.hostToken);
    const [ana, dora, ben, cleo] = (await joinVoice(members, a.api, conference.id, [
      ["Ana", a.api],
      ["Dora", a.api],
      ["Ben", b.api],
      ["Cleo", c.api],
    ])) as [VoiceMember, VoiceMember, VoiceMember, VoiceMember];
    const listeners = [dora, ben, cleo];
    let played = ana.engine.playWav(SPEECH, { loops: 20, signal: playback.signal });
    await until(
      members,
      () => listeners.every((m) => m.engine.heardFrom(ana.id).packets >= SECOND),
      "everyone hears Ana",
    );

    // The host, at node c, mutes Ana (whose voice is at node a).
    await c.api.muteMember(conference.id, ana.id, true, conference.hostToken);
    await until(
      members,
      () =>
        members.every((m) => m.client.room.seat(ana.id)?.member.hostMuted === true) &&
        listeners.every(
          (m) => m.client.room.seat(ana.id)?.voice.muted === true && !m.client.room.slots.includes(ana.id),
        ),
      "everyone sees Ana muted by the host and lost her slot",
    );
    // Her own mute and unmute: the unmute is refused while the host's mute holds.
    const refused = nextMessage(ana.client, (m) => m.type === "error" && m.code === "host_muted");
    ana.session.setMuted(true);
    ana.session.setMuted(false);
    await refused;
    // Ana's microphone goes on: the whole file once more, every frame of it sent while the host's
    // mute holds. None of it may reach anyone, anywhere.
    const before = {
      heard: listeners.map(totalPackets),
      relayed: cluster.nodes.map((n) => n.server.voice.relayed.received),
    };
    playback.abort();
    await played;
    const once = await ana.engine.playWav(SPEECH, { loops: 1 });
    assert.ok(once.sent >= SECOND, `Ana sent ${once.sent} packets while muted by the host`);
    assert.deepEqual(listeners.map(totalPackets), before.heard, "no listener received a packet of Ana's");
    assert.deepEqual(
      cluster.nodes.map((n) => n.server.voice.relayed.received),
      before.relayed,
      "no node received a frame of Ana's",
    );

    // The host lifts it: Ana's own last choice was to speak, so everyone hears her again.
    await b.api.muteMember(conference.id, ana.id, false, conference.hostToken);
    const heard = listeners.map((m) => m.engine.heardFrom(ana.id).packets);
    const again = new AbortController();
    played = ana.engine.playWav(SPEECH, { loops: 20, signal: again.signal });
    await until(
      members,
      () => listeners.every((m, i) => m.engine.heardFrom(ana.id).packets >= (heard[i] ?? 0) + SECOND),
      "everyone hears Ana again",
    );
    again.abort();
    await played;
  } finally {
    playback.abort();
    closeMembers(members);
  }
});

test("a member removed at one node is refused at every node; a lock at one node refuses registration at another", async () => {
  const [a, b, c] = cluster.nodes as [TestServer, TestServer, TestServer];
  const conference = await a.api.createConference("Removal across nodes");
  const ben = await a.api.register(conference.id, { name: "Ben" });
  await a.api.build(conference.id, conference.hostToken);
  // Cleo connects at node b; the host removes her at node c.
  const cleo = await voiceMember(a.api, conference.id, "Cleo", b.api);
  const removed = new Promise<void>((resolve) =>
    cleo.client.on("status", (s) => {
      if (s === "removed") resolve();
    }),
  );
  await c.api.removeMember(conference.id, cleo.id, conference.hostToken);
  await removed;
  for (const node of [a, b, c])
    assert.equal(
      (await closeCodeOf(node.api.socketUrl(conference.id, cleo.token))).code,
      CLOSE_CODES.removed,
      `refused at ${node.baseUrl}`,
    );
  const other = await rawSocket(c.api.socketUrl(conference.id, ben.token));
  await other.next((m) => m.type === "hello");
  other.socket.close();

  await b.api.lockRegistration(conference.id, true, conference.hostToken);
  // The lock reaches node c over NATS; c also re-reads it from the store with each registration.
  const refused = await c.api.register(conference.id, { name: "Late" }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(refused instanceof ApiError);
  assert.deepEqual([refused.status, refused.code], [423, "registration_locked"]);
  closeMembers([cleo]);
});
