/**
 * Voice across nodes: three nodes on one PostgreSQL and one NATS (started by this file), werift
 * bots connected to different nodes. A voice to all is heard at every node; a whisper reaches the
 * node of its listener only (counted at every node's relay and at every member); the voice's state
 * (on, muted) is seen everywhere; a speaker's packet crosses to a node once, however many listen there.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import {
  closeMembers,
  joinVoice,
  LOOPBACK_RTC,
  rmsOf,
  SECOND,
  SPEECH,
  totalPackets,
  until,
  type VoiceMember,
} from "../../packages/bot/test/voiceMembers.ts";
import type { TestServer } from "../../packages/server/test/harness.ts";
import { startCluster, type TestCluster } from "./cluster.ts";

let cluster: TestCluster;
before(async () => {
  cluster = await startCluster(["a", "b", "c"], LOOPBACK_RTC);
});
after(async () => {
  await cluster?.stop();
});

const relayOf = (node: TestServer) => node.server.voice.relayed;

test("voice across three nodes: to all, a whisper to one node's member, back to all, mute seen everywhere", {
  skip: !existsSync(SPEECH) && `missing ${SPEECH}`,
  timeout: 90_000,
}, async () => {
  const [a, b, c] = cluster.nodes as [TestServer, TestServer, TestServer];
  const members: VoiceMember[] = [];
  const playback = new AbortController();
  try {
    const conference = await a.api.createConference("Voices across");
    await a.api.build(conference.id, conference.hostToken);
    // Ana on a; Ben and Dora on b; Cleo on c.
    const [ana, ben, dora, cleo] = (await joinVoice(members, a.api, conference.id, [
      ["Ana", a.api],
      ["Ben", b.api],
      ["Dora", b.api],
      ["Cleo", c.api],
    ])) as [VoiceMember, VoiceMember, VoiceMember, VoiceMember];
    const played = ana.engine.playWav(SPEECH, { loops: 4, signal: playback.signal });

    // (a) To everyone: every listener, at both other nodes, hears speech from Ana on a slot bound to her.
    await until(
      members,
      () => [ben, dora, cleo].every((m) => m.engine.heardFrom(ana.id).packets >= SECOND),
      "every listener heard a second of Ana",
    );
    for (const listener of [ben, dora, cleo]) {
      assert.ok(listener.client.room.slots.includes(ana.id), "a slot is bound to Ana");
      assert.ok(rmsOf(listener.engine.heardFrom(ana.id)) > 0.01, "speech, not silence");
    }
    await until(
      members,
      () =>
        cleo.client.room.seat(ana.id)?.voice.connected === true &&
        cleo.client.room.seat(ana.id)?.speaking === true,
      "Cleo, at another node, sees Ana's voice on and her avatar speaking",
    );

    // (b) A whisper to Ben: Dora (Ben's node) and Cleo (another node) lose Ana's slot at once.
    ana.session.setTarget([ben.id]);
    await until(
      members,
      () =>
        !cleo.client.room.slots.includes(ana.id) &&
        !dora.client.room.slots.includes(ana.id) &&
        ben.client.room.seat(ana.id)?.whisper === true,
      "Cleo and Dora lost Ana's slot and Ben hears a whisper",
    );
    const settle = ben.engine.heardFrom(ana.id).packets + 5;
    await until(members, () => ben.engine.heardFrom(ana.id).packets >= settle, "Ben heard 5 more packets");
    const before = {
      cleo: totalPackets(cleo),
      dora: totalPackets(dora),
      nodeC: relayOf(c).received,
      nodeB: relayOf(b).received,
      ben: ben.engine.heardFrom(ana.id).packets,
    };
    await until(
      members,
      () => ben.engine.heardFrom(ana.id).packets >= before.ben + SECOND,
      "Ben heard another second of the whisper",
    );
    assert.equal(totalPackets(cleo), before.cleo, "Cleo received no packet during the whisper");
    assert.equal(totalPackets(dora), before.dora, "Dora, beside Ben, received no packet either");
    assert.equal(relayOf(c).received, before.nodeC, "no frame of the whisper reached node c at all");
    assert.ok(relayOf(b).received - before.nodeB >= SECOND, "node b received the whisper");

    // (c) Back to everyone: Cleo and Dora hear Ana again on the same peer connections.
    ana.session.setTarget("all");
    const cleoBefore = cleo.engine.heardFrom(ana.id).packets;
    await until(
      members,
      () =>
        cleo.engine.heardFrom(ana.id).packets >= cleoBefore + SECOND &&
        dora.client.room.slots.includes(ana.id) &&
        ben.client.room.seat(ana.id)?.whisper === false,
      "Cleo and Dora heard Ana again",
    );

    // (d) Muted: everyone, at every node, sees it, and Ana's slots are freed everywhere.
    ana.session.setMuted(true);
    await until(
      members,
      () =>
        [ben, dora, cleo].every(
          (m) => m.client.room.seat(ana.id)?.voice.muted === true && !m.client.room.slots.includes(ana.id),
        ),
      "every listener sees Ana muted and lost her slot",
    );
    playback.abort();
    const { sent } = await played;
    // One frame per packet per node, however many listen there (Ben and Dora share node b), plus
    // the two target changes.
    assert.ok(
      relayOf(b).received <= sent + 2,
      `node b received ${relayOf(b).received} frames for ${sent} packets`,
    );
    assert.ok(
      relayOf(c).received <= sent + 2,
      `node c received ${relayOf(c).received} frames for ${sent} packets`,
    );
    assert.equal(relayOf(a).received, 0, "nobody else spoke: nothing came to Ana's node");
    // The operator sees the same at each node.
    const page = await (await fetch(`${b.baseUrl}/metrics`)).text();
    assert.ok(
      page.includes(`roundtable_voice_relay_frames_total{direction="received"} ${relayOf(b).received}`),
    );
    assert.match(page, /roundtable_nats_up\{connection="voice"\} 1/);
    assert.match(page, /roundtable_nats_up\{connection="control"\} 1/);
    assert.deepEqual(
      members.map((m) => m.offers),
      [1, 1, 1, 1],
      "no renegotiation",
    );
  } finally {
    playback.abort();
    closeMembers(members);
  }
});
