/**
 * Failover: three node processes behind nginx (the documented configuration), one PostgreSQL, one
 * NATS, eight werift bots; two of them speak, one on the node to be killed. Per repetition, on a
 * fresh cluster:
 * - SIGKILL of a node: from the kill until each of its members hears the other speaker again, and
 *   until the others hear its speaker again (aim: within 10 s);
 * - a NATS restart: from nats-server being back until a listener at another node than the speaker
 *   hears them again (aim: within 2 s), and from the stop, for the whole outage.
 *
 *   npm run bench:failover -- [--reps 3]
 *
 * Results: JSON on stdout and in bench/results/failover.json, then a summary. A measurement, not a test.
 */
import { availableParallelism, cpus } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  closeMembers,
  SPEECH,
  until,
  type VoiceMember,
  voiceMember,
} from "../packages/bot/test/voiceMembers.ts";
import { chooseVictim, placement, startProcessCluster } from "../test/cluster/processCluster.ts";
import { CROWD_FROM_ONE_ADDRESS } from "./lib/crowdEnv.ts";
import { positiveInt, writeReport } from "./lib/report.ts";
import { round, summarize } from "./lib/stats.ts";

const root = resolve(import.meta.dirname, "..");
const { values: flags } = parseArgs({
  options: {
    reps: { type: "string", default: "3" },
    out: { type: "string", default: join(root, "bench/results/failover.json") },
  },
});
const reps = positiveInt("reps", flags.reps);
const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * Resolves with the time (performance.now()) at which `listener` next receives a packet of
 * `speakerId` once `ready()` holds (a packet still in flight from a killed node does not count).
 */
function nextPacketFrom(listener: VoiceMember, speakerId: string, ready = () => true): Promise<number> {
  return new Promise((resolvePacket) => {
    const off = listener.engine.on("packet", ({ memberId }) => {
      if (memberId !== speakerId || !ready()) return;
      off();
      resolvePacket(performance.now());
    });
  });
}

async function rep(n: number) {
  const cluster = await startProcessCluster(["a", "b", "c"], {
    ...CROWD_FROM_ONE_ADDRESS,
    LOG_LEVEL: "warn",
  });
  const members: VoiceMember[] = [];
  const playback = new AbortController();
  try {
    const conference = await cluster.api.createConference(`Failover ${n}`);
    await cluster.api.build(conference.id, conference.hostToken);
    for (let i = 0; i < 8; i++) members.push(await voiceMember(cluster.api, conference.id, `Bot ${i}`));
    const where = await placement(
      cluster.nats.url,
      conference.id,
      members.map((m) => m.id),
    );
    const nodeOf = (m: VoiceMember) => where.get(m.id);
    const split = chooseVictim(["a", "b", "c"], members, where);
    if (!split) throw new Error(`members not spread over nodes: ${JSON.stringify([...where])}`);
    const { node: victimId, victims, survivors } = split;
    const speaker = survivors[0] as VoiceMember;
    const victimSpeaker = victims[0] as VoiceMember;
    for (const m of members) m.session.start();
    await until(members, () => members.every((m) => m.engine.state === "connected"), "connected", 30_000);
    void speaker.engine.playWav(SPEECH, { loops: 500, signal: playback.signal });
    void victimSpeaker.engine.playWav(SPEECH, { loops: 500, signal: playback.signal });
    await until(
      members,
      () =>
        members.every(
          (m) =>
            (m === speaker || m.engine.heardFrom(speaker.id).packets > 25) &&
            (m === victimSpeaker || m.engine.heardFrom(victimSpeaker.id).packets > 25),
        ),
      "everyone hears both",
      30_000,
    );

    // SIGKILL: arrivals after the kill, per member of the killed node and per other listener.
    const reopened = new Set<VoiceMember>();
    for (const m of victims)
      m.client.on("status", (status) => {
        if (status === "open") reopened.add(m);
      });
    const killedAt = performance.now();
    await cluster.nodes.find((node) => node.id === victimId)?.process.kill();
    const victimsHear = victims.map((m) => nextPacketFrom(m, speaker.id, () => reopened.has(m)));
    const othersHear = survivors.map((m) =>
      nextPacketFrom(m, victimSpeaker.id, () => reopened.has(victimSpeaker)),
    );
    const hearAgain = (await Promise.all(victimsHear)).map((t) => t - killedAt);
    const heardAgain = (await Promise.all(othersHear)).map((t) => t - killedAt);

    // NATS restart: a listener at another node than the speaker.
    const here = nodeOf(speaker);
    const across = members.find((m) => m !== speaker && nodeOf(m) !== here && nodeOf(m) !== victimId);
    let nats: { fromBackMs: number; fromStopMs: number } | undefined;
    if (across) {
      const stoppedAt = performance.now();
      await cluster.nats.halt();
      await cluster.nats.restart();
      const backAt = performance.now();
      const again = await nextPacketFrom(across, speaker.id);
      nats = { fromBackMs: round(again - backAt), fromStopMs: round(again - stoppedAt) };
    }
    return {
      rep: n,
      killedNodeMembers: victims.length,
      killHearAgainMs: hearAgain.map((t) => round(t)),
      killHeardAgainMs: heardAgain.map((t) => round(t)),
      nats,
    };
  } finally {
    playback.abort();
    closeMembers(members);
    await cluster.stop();
  }
}

const results = [];
for (let i = 1; i <= reps; i++) {
  results.push(await rep(i));
  log(JSON.stringify(results.at(-1)));
}
const report = {
  bench: "failover",
  aims: { killVoiceBackMs: 10_000, natsVoiceBackMs: 2_000 },
  machine: { cpus: availableParallelism(), cpuModel: cpus()[0]?.model, node: process.version },
  summary: {
    killMembersHearAgainMs: summarize(results.flatMap((r) => r.killHearAgainMs)),
    killMembersHeardAgainMs: summarize(results.flatMap((r) => r.killHeardAgainMs)),
    natsBackToVoiceMs: summarize(results.flatMap((r) => (r.nats ? [r.nats.fromBackMs] : []))),
    natsOutageToVoiceMs: summarize(results.flatMap((r) => (r.nats ? [r.nats.fromStopMs] : []))),
  },
  reps: results,
};
writeReport(flags.out as string, report);
const s = report.summary;
console.log(
  [
    "",
    `Failover (${report.machine.cpus} cores; three nodes, nginx, PostgreSQL, NATS and eight bots share them), ${reps} reps`,
    `  SIGKILL of a node: its members hear again after median ${s.killMembersHearAgainMs.median} ms, max ${s.killMembersHearAgainMs.max} ms; the others hear them again after median ${s.killMembersHeardAgainMs.median} ms, max ${s.killMembersHeardAgainMs.max} ms (aim 10 s)`,
    `  NATS restart: voice between nodes back ${s.natsBackToVoiceMs.median} ms (max ${s.natsBackToVoiceMs.max}) after nats-server is back (aim 2 s); ${s.natsOutageToVoiceMs.median} ms after it stopped`,
  ].join("\n"),
);
