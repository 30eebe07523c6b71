/**
 * NATS restarted under a running cluster: voice between nodes comes back by itself, and every text,
 * including those sent while NATS was away, reaches every member once and in order.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import {
  closeMembers,
  joinVoice,
  LOOPBACK_RTC,
  SECOND,
  SPEECH,
  until,
  type VoiceMember,
} from "../../packages/bot/test/voiceMembers.ts";
import type { TestServer } from "../../packages/server/test/harness.ts";
import { startCluster, type TestCluster } from "./cluster.ts";

let cluster: TestCluster;
before(async () => {
  cluster = await startCluster(["a", "b"], LOOPBACK_RTC);
});
after(async () => {
  await cluster?.stop();
});

const chatOf = (m: VoiceMember) => m.client.room.chat.map((entry) => entry.message.text);

test("after a NATS restart voice between nodes returns and no text is lost or doubled", {
  skip: !existsSync(SPEECH) && `missing ${SPEECH}`,
  timeout: 90_000,
}, async () => {
  const [a, b] = cluster.nodes as [TestServer, TestServer];
  const members: VoiceMember[] = [];
  const playback = new AbortController();
  try {
    const conference = await a.api.createConference("Through a restart");
    await a.api.build(conference.id, conference.hostToken);
    const [ana, ben] = (await joinVoice(members, a.api, conference.id, [
      ["Ana", a.api],
      ["Ben", b.api],
    ])) as [VoiceMember, VoiceMember];
    void ana.engine.playWav(SPEECH, { loops: 100, signal: playback.signal });
    await until(members, () => ben.engine.heardFrom(ana.id).packets >= SECOND, "Ben heard Ana across nodes");
    await ana.client.sendText("all", "before");

    await cluster.nats.halt();
    // Stored while NATS is away: delivered at Ana's node at once, at Ben's once the bus is back.
    const during = [ana.client.sendText("all", "during 1"), ana.client.sendText("all", "during 2")];
    await Promise.all(during);
    await cluster.nats.restart();

    const heard = ben.engine.heardFrom(ana.id).packets;
    await until(
      members,
      () => ben.engine.heardFrom(ana.id).packets >= heard + SECOND,
      "Ben hears Ana again across nodes",
      15_000,
    );
    await ben.client.sendText("all", "after");
    await until(
      members,
      () => chatOf(ana).includes("after") && chatOf(ben).includes("during 2"),
      "texts arrived",
    );
    for (const member of members) {
      assert.deepEqual(
        chatOf(member),
        ["before", "during 1", "during 2", "after"],
        "every text once, in order",
      );
      const seqs = member.client.room.chat.map((entry) => entry.message.seq);
      assert.deepEqual(seqs, [1, 2, 3, 4]);
    }
  } finally {
    playback.abort();
    closeMembers(members);
  }
});
