/**
 * Voice across nodes: one speaker and N listening bots (default 300), the listeners split evenly
 * over 1, 2 and 3 nodes on this machine (the speaker on the first). One node is today's product
 * (SQLite, no NATS); two and three are node processes on one PostgreSQL and one NATS.
 *
 * Measured per node count:
 * - server CPU per delivered packet, summed over every node, marginal (talk window minus an idle
 *   window of the same length), against one node: the aim is within 10%;
 * - whether every listener received every packet;
 * - what crossed between nodes: relay frames per packet sent (the aim: one per other node);
 * - the mouth-to-ear added between nodes: for each packet, the median arrival at sampled
 *   listeners on another node minus the median arrival at sampled listeners on the speaker's node
 *   (bots in this process, one clock); aim p50 under 1 ms, p99 under 5 ms.
 *
 *   npm run bench:cluster-voice -- [--listeners 300] [--nodes 1,2,3] [--window 10] [--sample 10]
 *
 * Results: JSON on stdout and in bench/results/cluster-voice.json, then a summary. A measurement,
 * not a test.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { RoundtableApi } from "@roundtable/client-core";
import { startProcessCluster } from "../test/cluster/processCluster.ts";
import { startServerProcess } from "../test/process/serverProcess.ts";
import { type CpuWindow, cpuWindow } from "./lib/cpu.ts";
import { CROWD_FROM_ONE_ADDRESS } from "./lib/crowdEnv.ts";
import { memberName } from "./lib/names.ts";
import { positiveInt, writeReport } from "./lib/report.ts";
import { freePort, type ServerProcess } from "./lib/serverProcess.ts";
import { mapLimit, quantile, round, summarize } from "./lib/stats.ts";
import type { BotArrivals, BotCredentials } from "./lib/voiceMessages.ts";
import { VoicePool } from "./lib/voicePool.ts";

const root = resolve(import.meta.dirname, "..");
const { values: flags } = parseArgs({
  options: {
    listeners: { type: "string", default: "300" },
    nodes: { type: "string", default: "1,2,3" },
    window: { type: "string", default: "10" },
    sample: { type: "string", default: "10" },
    workers: { type: "string", default: "2" },
    "cpu-prof": { type: "boolean", default: false },
    wav: { type: "string", default: resolve(root, "../shared/fixtures/speech.wav") },
    out: { type: "string", default: join(root, "bench/results/cluster-voice.json") },
  },
});
const listeners = positiveInt("listeners", flags.listeners);
const nodeCounts = (flags.nodes ?? "").split(",").map((n) => positiveInt("nodes", n.trim()));
const windowS = positiveInt("window", flags.window);
const sample = positiveInt("sample", flags.sample);
const workers = positiveInt("workers", flags.workers);
const wav = flags.wav as string;
if (!existsSync(wav)) throw new Error(`no speech file at ${wav}`);

const PROFILES = join(root, "bench/results/profiles");
const nodeFlags = flags["cpu-prof"]
  ? ["--cpu-prof", "--cpu-prof-interval=200", `--cpu-prof-dir=${PROFILES}`]
  : [];
const ENV = { ...CROWD_FROM_ONE_ADDRESS, LOG_LEVEL: "warn", VOICE_SLOTS: "4" };
const log = (line: string) => process.stderr.write(`${line}\n`);

/** One node as today (SQLite, no NATS), or a cluster of node processes on PostgreSQL and NATS. */
async function startNodes(count: number): Promise<{ servers: ServerProcess[]; stop: () => Promise<void> }> {
  if (count === 1) {
    const dir = mkdtempSync(join(tmpdir(), "rt-cluster-voice-"));
    const server = await startServerProcess(await freePort(), dir, ENV, nodeFlags);
    return {
      servers: [server],
      stop: async () => {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const cluster = await startProcessCluster(
    Array.from({ length: count }, (_, i) => `n${i + 1}`),
    ENV,
    { nginx: false, nodeFlags },
  );
  return { servers: cluster.nodes.map((n) => n.process), stop: cluster.stop };
}

/** A sample of the counter `name` with these labels on a node's /metrics page. */
async function metric(server: ServerProcess, name: string): Promise<number> {
  const page = await (await fetch(`${server.baseUrl}/metrics`)).text();
  const line = page.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

/**
 * Per packet heard at the speaker's node and at another: the median arrival there minus the median
 * arrival at the speaker's node, in ms.
 */
function addedBetweenNodes(arrivals: BotArrivals[], nodeOf: Map<string, number>): number[] {
  const byNode = new Map<number, Map<string, number[]>>();
  for (const bot of arrivals) {
    const node = nodeOf.get(bot.memberId) ?? 0;
    const packets = byNode.get(node) ?? new Map<string, number[]>();
    byNode.set(node, packets);
    for (const [key, at] of bot.arrivals)
      if (Number.isFinite(at)) packets.set(key, [...(packets.get(key) ?? []), at]);
  }
  const local = byNode.get(0);
  const added: number[] = [];
  if (!local) return added;
  for (const [node, packets] of byNode) {
    if (node === 0) continue;
    for (const [key, times] of packets) {
      const here = local.get(key);
      if (here) added.push(quantile(times, 0.5) - quantile(here, 0.5));
    }
  }
  return added;
}

async function run(nodeCount: number) {
  const { servers, stop } = await startNodes(nodeCount);
  const pool = await VoicePool.start(workers);
  try {
    const first = servers[0] as ServerProcess;
    const api = new RoundtableApi(first.baseUrl);
    const conference = await api.createConference(`Voice over ${nodeCount} nodes`);
    await api.build(conference.id, conference.hostToken);
    const registered = await mapLimit(
      Array.from({ length: listeners + 1 }, (_, i) => memberName(i)),
      16,
      (name) => api.register(conference.id, { name }),
    );
    const nodeOf = new Map<string, number>();
    const recorded = new Map<number, number>();
    const credentials: BotCredentials[] = registered.map((r, i) => {
      // The speaker (i = 0) on the first node; listeners dealt round the nodes.
      const node = i === 0 ? 0 : (i - 1) % nodeCount;
      nodeOf.set(r.memberId, node);
      const record = i > 0 && (recorded.get(node) ?? 0) < sample;
      if (record) recorded.set(node, (recorded.get(node) ?? 0) + 1);
      return {
        memberId: r.memberId,
        token: r.token,
        baseUrl: (servers[node] as ServerProcess).baseUrl,
        recordArrivals: record,
      };
    });
    const [speaker, ...audience] = credentials as [BotCredentials, ...BotCredentials[]];
    log(`${nodeCount} node(s): joining ${listeners + 1} bots...`);
    const joined = await pool.join(first.baseUrl, conference.id, speaker, audience, 8, 30_000);
    if (joined.failed > 0)
      throw new Error(`${joined.failed} bots failed to join: ${joined.errors.join("; ")}`);
    await sleep(3000);
    const idleWindow = cpuWindow(servers);
    await sleep(windowS * 1000);
    const idle = idleWindow();

    const before = await pool.counters();
    const relayedBefore = await metric(first, 'roundtable_voice_relay_frames_total{direction="sent"}');
    const talkWindow = cpuWindow(servers);
    const played = pool.play(wav, Math.ceil(windowS / 10) + 1);
    await sleep(windowS * 1000);
    pool.stopPlaying();
    await played;
    const after = await pool.untilQuiet(1000, 60_000);
    const talk: CpuWindow = talkWindow();
    const relayed =
      (await metric(first, 'roundtable_voice_relay_frames_total{direction="sent"}')) - relayedBefore;

    const sent = after.speaker.sent - before.speaker.sent;
    const received = after.listeners.map((b, i) => b.packets - (before.listeners[i]?.packets ?? 0));
    const delivered = received.reduce((s, r) => s + r, 0);
    const marginalMs = talk.serverCpuMs - (idle.serverCpuMs / idle.wallMs) * talk.wallMs;
    const added = addedBetweenNodes(await pool.arrivals(), nodeOf);
    await pool.closeBots();
    return {
      nodes: nodeCount,
      listeners,
      sent,
      delivered,
      complete: received.filter((r) => r >= sent).length,
      usPerDeliveredPacket: round((marginalMs * 1000) / delivered, 1),
      usPerDeliveredPacketGross: round((talk.serverCpuMs * 1000) / delivered, 1),
      perNodeTalkCpuMs: talk.perServerCpuMs,
      relayFramesPerPacket: round(relayed / Math.max(1, sent), 3),
      addedBetweenNodesMs:
        added.length === 0
          ? undefined
          : {
              ...summarize(added),
              p50: round(quantile(added, 0.5), 3),
              p99: round(quantile(added, 0.99), 3),
            },
      otherCores: { idle: idle.otherCores, talk: talk.otherCores },
      serverPreemptionsPerSecond: { idle: idle.preemptionsPerSecond, talk: talk.preemptionsPerSecond },
      botCpuShare: round(talk.clientCpuMs / talk.wallMs, 2),
    };
  } finally {
    await pool.stop();
    await stop();
  }
}

const runs = [];
for (const n of nodeCounts) {
  runs.push(await run(n));
  log(JSON.stringify(runs.at(-1)));
}
const base = runs.find((r) => r.nodes === 1);
const report = {
  bench: "cluster-voice",
  aims: { cpuWithinOfOneNode: 0.1, addedP50Ms: 1, addedP99Ms: 5 },
  machine: { cpus: availableParallelism(), cpuModel: cpus()[0]?.model, node: process.version },
  settings: { listeners, windowS, sample, workers },
  runs: runs.map((r) => ({
    ...r,
    cpuVersusOneNode: base ? round(r.usPerDeliveredPacket / base.usPerDeliveredPacket - 1, 3) : undefined,
  })),
};
writeReport(flags.out as string, report);
console.log(
  `\nVoice across nodes: 1 speaker, ${listeners} listeners (${report.machine.cpus} cores shared by every node and bot)`,
);
for (const r of report.runs)
  console.log(
    [
      `${r.nodes} node(s): ${r.usPerDeliveredPacket} us per delivered packet over all nodes (gross ${r.usPerDeliveredPacketGross})` +
        (r.cpuVersusOneNode === undefined ? "" : `, ${round(r.cpuVersusOneNode * 100, 1)}% against one node`),
      `  delivery: ${r.complete}/${r.listeners} listeners got all ${r.sent} packets; relay frames per packet ${r.relayFramesPerPacket}`,
      r.addedBetweenNodesMs
        ? `  added between nodes: p50 ${r.addedBetweenNodesMs.p50} ms, p99 ${r.addedBetweenNodesMs.p99} ms over ${r.addedBetweenNodesMs.n} packets`
        : "",
      `  other processes: ${r.otherCores.idle} / ${r.otherCores.talk} cores (idle / talk); bots used ${r.botCpuShare} cores; servers preempted ${r.serverPreemptionsPerSecond.talk}/s while talking`,
    ]
      .filter(Boolean)
      .join("\n"),
  );
