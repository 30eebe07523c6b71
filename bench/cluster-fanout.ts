/**
 * Build and text fan-out across nodes: a conference of N members (default 1,000), every one
 * connected over a WebSocket, the sockets dealt round three node processes (one PostgreSQL, one
 * NATS). Per repetition, on a fresh conference:
 * - the build: from the host's request at the first node until the last client at any node holds
 *   the build message (aim: under 500 ms, as on one node);
 * - a text to all: from a member sending it at the first node until the last client has it
 *   (p50, p99 of arrivals; the last one).
 *
 *   npm run bench:cluster-fanout -- [--members 1000] [--nodes 3] [--reps 3]
 *
 * Results: JSON on stdout and in bench/results/cluster-fanout.json, then a summary. A measurement,
 * not a test.
 */
import { availableParallelism, cpus } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { RoundtableApi } from "@roundtable/client-core";
import WebSocket from "ws";
import { startProcessCluster } from "../test/cluster/processCluster.ts";
import { ClientPool } from "./lib/clientPool.ts";
import { CROWD_FROM_ONE_ADDRESS } from "./lib/crowdEnv.ts";
import { memberName } from "./lib/names.ts";
import { positiveInt, writeReport } from "./lib/report.ts";
import { mapLimit, nowMs, quantile, round, summarize } from "./lib/stats.ts";

const root = resolve(import.meta.dirname, "..");
const { values: flags } = parseArgs({
  options: {
    members: { type: "string", default: "1000" },
    nodes: { type: "string", default: "3" },
    reps: { type: "string", default: "3" },
    workers: { type: "string", default: "2" },
    out: { type: "string", default: join(root, "bench/results/cluster-fanout.json") },
  },
});
const members = positiveInt("members", flags.members);
const nodeCount = positiveInt("nodes", flags.nodes);
const reps = positiveInt("reps", flags.reps);
const AIM_BUILD_MS = 500;
const log = (line: string) => process.stderr.write(`${line}\n`);

const cluster = await startProcessCluster(
  Array.from({ length: nodeCount }, (_, i) => `n${i + 1}`),
  {
    ...CROWD_FROM_ONE_ADDRESS,
    MAX_MEMBERS_PER_CONFERENCE: String(Math.max(5000, members)),
    LOG_LEVEL: "warn",
  },
  { nginx: false },
);
const apis = cluster.nodes.map((n) => new RoundtableApi(n.process.baseUrl));
const first = apis[0] as RoundtableApi;
const pool = await ClientPool.start(positiveInt("workers", flags.workers));

/** Arrival times of the watched frame, relative to `t0`, once every client has it (or at 30 s). */
async function arrivalsSince(t0: number): Promise<{ arrivals: number[]; missing: number }> {
  const { reports } = await pool.builtReports(Date.now() + 30_000);
  const arrivals = reports.flatMap((r) => r.arrivals.map((at) => at - t0));
  return { arrivals, missing: members - arrivals.length };
}

/** Until no client has received anything for `quietMs`: connection traffic has settled. */
async function quiet(quietMs = 300): Promise<void> {
  for (;;) {
    const last = Math.max(...(await pool.status()).map((s) => s.lastFrameAt));
    if (nowMs() - last >= quietMs) return;
    await sleep(50);
  }
}

const results = [];
try {
  for (let rep = 1; rep <= reps; rep++) {
    const conference = await first.createConference(`Fan-out ${rep}`);
    // Registrations spread over the nodes too: every node hands out seats from the same store.
    const registered = await mapLimit(
      Array.from({ length: members }, (_, i) => i),
      16,
      (i) => (apis[i % nodeCount] as RoundtableApi).register(conference.id, { name: memberName(i) }),
    );
    const urls = registered.map((r, i) =>
      (apis[i % nodeCount] as RoundtableApi).socketUrl(conference.id, r.token),
    );
    await pool.connect(urls, 50, 60_000);
    await quiet();
    const buildAt = nowMs();
    await first.build(conference.id, conference.hostToken);
    const build = await arrivalsSince(buildAt);

    // The text: its sender on the first node, the clients watching for it everywhere.
    await pool.connect(urls, 50, 60_000, '{"type":"text"');
    await quiet();
    const sender = new WebSocket(first.socketUrl(conference.id, (registered[0] as { token: string }).token));
    await new Promise<void>((ok) =>
      sender.on("message", (data) => {
        if (data.toString().startsWith('{"type":"history"')) ok();
      }),
    );
    const textAt = nowMs();
    sender.send(JSON.stringify({ type: "text", to: "all", text: "Across the nodes", clientId: `t${rep}` }));
    const text = await arrivalsSince(textAt);
    sender.close();
    await pool.closeClients();
    const result = {
      rep,
      buildLastMs: round(Math.max(...build.arrivals)),
      buildMs: summarize(build.arrivals),
      buildMissing: build.missing,
      textLastMs: round(Math.max(...text.arrivals)),
      textMs: { ...summarize(text.arrivals), p99: round(quantile(text.arrivals, 0.99)) },
      textMissing: text.missing,
    };
    results.push(result);
    log(
      `rep ${rep}: build last ${result.buildLastMs} ms, text p50 ${result.textMs.median} p99 ${result.textMs.p99} last ${result.textLastMs} ms`,
    );
  }
} finally {
  await pool.stop();
  await cluster.stop();
}

const report = {
  bench: "cluster-fanout",
  aims: { buildLastMs: AIM_BUILD_MS },
  machine: { cpus: availableParallelism(), cpuModel: cpus()[0]?.model, node: process.version },
  settings: { members, nodes: nodeCount, reps },
  summary: {
    buildLastMs: summarize(results.map((r) => r.buildLastMs)),
    textP50Ms: summarize(results.map((r) => r.textMs.median)),
    textP99Ms: summarize(results.map((r) => r.textMs.p99)),
    textLastMs: summarize(results.map((r) => r.textLastMs)),
  },
  reps: results,
};
writeReport(flags.out as string, report);
const s = report.summary;
console.log(
  [
    "",
    `Fan-out over ${nodeCount} nodes, ${members} members (${report.machine.cpus} cores shared by nodes, PostgreSQL, NATS and clients)`,
    `  build, last client: median ${s.buildLastMs.median} ms, max ${s.buildLastMs.max} ms (aim < ${AIM_BUILD_MS} ms: ${s.buildLastMs.median < AIM_BUILD_MS ? "PASS" : "MISS"})`,
    `  text to all: p50 ${s.textP50Ms.median} ms, p99 ${s.textP99Ms.median} ms, last client ${s.textLastMs.median} ms (medians over ${reps} reps)`,
  ].join("\n"),
);
