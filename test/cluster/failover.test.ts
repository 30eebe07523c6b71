/**
 * Losing a node loses nothing: three node processes behind nginx (the documented configuration), on
 * one PostgreSQL and one NATS. One node is SIGKILLed mid-conference while texts and registrations
 * are in flight. Its members reconnect by themselves, through nginx, to another node, and hear and
 * are heard again; members elsewhere keep hearing each other without a gap; every acknowledged text
 * reaches everyone once, in one order; seats stay unique and dense.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import {
  closeMembers,
  SECOND,
  SPEECH,
  until,
  type VoiceMember,
  voiceMember,
} from "../../packages/bot/test/voiceMembers.ts";
import { GENEROUS_LIMITS } from "../../packages/server/test/harness.ts";
import { chooseVictim, type ProcessCluster, placement, startProcessCluster } from "./processCluster.ts";

let cluster: ProcessCluster;
before(async () => {
  cluster = await startProcessCluster(["a", "b", "c"], GENEROUS_LIMITS);
});
after(async () => {
  await cluster?.stop();
});

const chatOf = (m: VoiceMember) => m.client.room.chat.map((e) => e.message);

test("SIGKILL of a node: its members come back through nginx on another node; nothing else notices", {
  skip: !existsSync(SPEECH) && `missing ${SPEECH}`,
  timeout: 180_000,
}, async () => {
  const { api } = cluster;
  const members: VoiceMember[] = [];
  const playback = new AbortController();
  try {
    const conference = await api.createConference("Failover");
    await api.build(conference.id, conference.hostToken);
    // nginx picks a member's node by their token: with eight, a node holding nobody else's is rare
    // and a node holding everyone practically impossible (3 in 3^8).
    const tokens: string[] = [];
    for (const name of ["Ana", "Ben", "Cleo", "Dan", "Eve", "Finn", "Gus", "Hal"]) {
      const member = await voiceMember(api, conference.id, name);
      members.push(member);
      tokens.push(member.token);
    }
    const where = await placement(
      cluster.nats.url,
      conference.id,
      members.map((m) => m.id),
    );
    const split = chooseVictim(["a", "b", "c"], members, where);
    assert.ok(split, `members spread over nodes: ${JSON.stringify([...where])}`);
    const { node: victimId, victims, survivors } = split;
    const [speaker, ...listeners] = survivors as [VoiceMember, ...VoiceMember[]];
    const victimSpeaker = victims[0] as VoiceMember;
    const reconnected = new Set<VoiceMember>();
    for (const m of members)
      m.client.on("status", (s) => {
        if (s === "reconnecting") reconnected.add(m);
      });

    for (const m of members) m.session.start();
    await until(
      members,
      () => members.every((m) => m.engine.state === "connected"),
      "every peer connected",
      20_000,
    );
    void speaker.engine.playWav(SPEECH, { loops: 200, signal: playback.signal });
    void victimSpeaker.engine.playWav(SPEECH, { loops: 200, signal: playback.signal });
    await until(
      members,
      () =>
        members.every(
          (m) =>
            (m === speaker || m.engine.heardFrom(speaker.id).packets >= SECOND) &&
            (m === victimSpeaker || m.engine.heardFrom(victimSpeaker.id).packets >= SECOND),
        ),
      "everyone hears both speakers",
      20_000,
    );
    const lostBefore = listeners.map((m) => m.engine.heardFrom(speaker.id).lost);

    // Texts and registrations in flight while the node dies.
    const acknowledged: string[] = [];
    const texts = members.flatMap((m, i) =>
      [1, 2, 3].map((n) =>
        m.client.sendText("all", `${i}.${n}`).then(
          (t) => acknowledged.push(t.text),
          () => {},
        ),
      ),
    );
    const registrations = Array.from({ length: 8 }, (_, i) =>
      api.register(conference.id, { name: `Late ${i}` }).then(
        (r) => r.memberId,
        () => undefined,
      ),
    );
    const victim = cluster.nodes.find((n) => n.id === victimId);
    await victim?.process.kill();
    const heardBefore = new Map(members.map((m) => [m, m.engine.heardFrom(speaker.id).packets]));
    const victimHeard = new Map(members.map((m) => [m, m.engine.heardFrom(victimSpeaker.id).packets]));

    // Its members are back, through nginx, at another node: they hear and are heard.
    await until(
      members,
      () =>
        victims.every(
          (m) =>
            m.client.status === "open" &&
            m.engine.heardFrom(speaker.id).packets >= (heardBefore.get(m) ?? 0) + SECOND,
        ) &&
        survivors.every(
          (m) => m.engine.heardFrom(victimSpeaker.id).packets >= (victimHeard.get(m) ?? 0) + SECOND,
        ),
      "the killed node's members hear and are heard again",
      60_000,
    );
    assert.deepEqual(
      victims.filter((m) => !reconnected.has(m)),
      [],
      "the killed node's members reconnected",
    );
    assert.deepEqual(
      survivors.filter((m) => reconnected.has(m)).map((m) => m.client.room.seat(m.id)?.member.name),
      [],
      "members of the other nodes never lost their connection",
    );
    assert.deepEqual(
      listeners.map((m) => m.engine.heardFrom(speaker.id).lost),
      lostBefore,
      "members of the other nodes heard each other without a gap",
    );

    // Every text acknowledged reaches everyone once, in one order; a last one from each proves arrival.
    await Promise.all(texts);
    await Promise.all(members.map((m, i) => m.client.sendText("all", `last ${i}`)));
    await until(
      members,
      () => members.every((m) => members.every((_, i) => chatOf(m).some((t) => t.text === `last ${i}`))),
      "every last text arrived everywhere",
      20_000,
    );
    const reference = chatOf(speaker).map((t) => `${t.seq}:${t.text}`);
    for (const m of members) {
      const chat = chatOf(m);
      assert.deepEqual(
        chat.map((t) => `${t.seq}:${t.text}`),
        reference,
        "one order for everyone",
      );
      assert.deepEqual(
        chat.map((t) => t.seq),
        chat.map((_, i) => i + 1),
        "no number skipped or doubled",
      );
      for (const text of acknowledged)
        assert.equal(chat.filter((t) => t.text === text).length, 1, `acknowledged ${text} once`);
    }

    // Registrations: whatever the kill did to those in flight, seats are unique and dense.
    const registered = (await Promise.all(registrations)).filter((id) => id !== undefined);
    await until(
      members,
      () => registered.every((id) => speaker.client.room.seat(id)),
      "every answered registration is seated in the room",
    );
    const seats = speaker.client.room.seats.map((s) => s.member.seat).sort((x, y) => x - y);
    assert.ok(registered.length > 0, "registrations went on through the other nodes");
    assert.deepEqual(
      seats,
      seats.map((_, i) => (seats[0] ?? 0) + i),
      "no seat forked or skipped",
    );
    // nginx logged every socket, and no member's token with it.
    const log = cluster.nginx?.accessLog() ?? "";
    assert.match(log, /"GET \/api\/conferences\/[^/ ]+\/ws" 101/);
    for (const token of tokens) assert.ok(!log.includes(token), "no token in nginx's log");
  } finally {
    playback.abort();
    closeMembers(members);
  }
});
