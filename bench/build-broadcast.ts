/**
 * Build-broadcast benchmark: a conference of N registered members (default 1,000), every one of
 * them connected over a WebSocket; the host builds it; we measure the time from the build request
 * until the last client holds its complete build message, and the build message's size.
 *
 * Aim (from the issue): under 500 ms for the last client, under 200 bytes per member.
 *
 *   npm run bench:build -- [--members 1000] [--reps 5] [--workers 2] [--cpu-prof]
 *
 * The server runs as a child process with a temporary DATA_DIR; clients are spread over worker
 * threads. Results: JSON on stdout (and in bench/results/build-broadcast.json), then a summary.
 * This is a measurement, not a test: it exits non-zero only when it could not measure.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { RoundtableApi } from "@roundtable/client-core";
import { parseServerMessage } from "@roundtable/protocol";
import { ClientPool } from "./lib/clientPool.ts";
import { CROWD_FROM_ONE_ADDRESS } from "./lib/crowdEnv.ts";
import { memberName } from "./lib/names.ts";
import { positiveInt } from "./lib/report.ts";
import { freePort, ServerProcess } from "./lib/serverProcess.ts";
import { mapLimit, nowMs, round, type Summary, summarize } from "./lib/stats.ts";

const AIM_LAST_CLIENT_MS = 500;
const AIM_BYTES_PER_MEMBER = 200;

const root = resolve(import.meta.dirname, "..");

const { values: flags } = parseArgs({
  options: {
    members: { type: "string", default: "1000" },
    reps: { type: "string", default: "5" },
    workers: { type: "string" },
    "register-concurrency": { type: "string", default: "16" },
    "connect-concurrency": { type: "string", default: "50" },
    "build-timeout": { type: "string", default: "30000" },
    "quiet-ms": { type: "string", default: "300" },
    "cpu-prof": { type: "boolean", default: false },
    out: { type: "string", default: join(root, "bench/results/build-broadcast.json") },
  },
});

const members = positiveInt("members", flags.members);
const reps = positiveInt("reps", flags.reps);
const cores = availableParallelism();
const workerCount = positiveInt("workers", flags.workers ?? String(Math.min(4, Math.max(2, cores))));
const registerConcurrency = positiveInt("register-concurrency", flags["register-concurrency"]);
const connectConcurrency = positiveInt("connect-concurrency", flags["connect-concurrency"]);
const buildTimeoutMs = positiveInt("build-timeout", flags["build-timeout"]);
const quietMs = positiveInt("quiet-ms", flags["quiet-ms"]);

type Memory = { rssKb: number; peakRssKb: number } | undefined;

interface RepResult {
  rep: number;
  conferenceId: string;
  registerMs: number;
  registrationsPerSecond: number;
  connectMs: number;
  /** Waiting until no frame arrived for `quietMs` (lobby and presence traffic from connecting). */
  settleMs: number;
  /** From t0 until the POST /build answer arrived (the server broadcasts before it answers). */
  buildResponseMs: number;
  /** Per-client arrival times of the complete build frame, ms after t0. */
  arrivalMs: Summary;
  firstClientMs: number;
  lastClientMs: number;
  received: number;
  missing: number;
  timedOut: boolean;
  unexpectedCloses: string[];
  buildFrameBytes: number;
  /** Server CPU (user+system, 10 ms resolution) from t0 until the last client had the frame. */
  serverCpuMs: number | undefined;
  /** This process's CPU (all client threads) over the same window. */
  clientCpuMs: number;
  serverMemoryKb: { afterRegister: Memory; beforeBuild: Memory; afterBuild: Memory };
}

async function waitQuiet(pool: ClientPool, quiet: number, maxMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < maxMs) {
    const statuses = await pool.status();
    const last = Math.max(...statuses.map((s) => s.lastFrameAt));
    if (nowMs() - last >= quiet) return performance.now() - started;
    await sleep(50);
  }
  throw new Error(`clients kept receiving frames for ${maxMs} ms after connecting`);
}

async function runRep(
  rep: number,
  api: RoundtableApi,
  server: ServerProcess,
  pool: ClientPool,
): Promise<RepResult> {
  const conference = await api.createConference(`Bench build ${rep}`);
  const registerStarted = performance.now();
  const registrations = await mapLimit(
    Array.from({ length: members }, (_, i) => memberName(i)),
    registerConcurrency,
    (name) => api.register(conference.id, { name }),
  );
  const registerMs = performance.now() - registerStarted;
  const afterRegister = server.memory();

  const urls = registrations.map((r) => api.socketUrl(conference.id, r.token));
  const connectStarted = nowMs();
  const connected = await pool.connect(urls, connectConcurrency, 60_000);
  const attached = connected.reduce((s, c) => s + c.attached, 0);
  if (attached < members) {
    const errors = connected.flatMap((c) => c.errors).slice(0, 10);
    throw new Error(`only ${attached} of ${members} clients attached: ${errors.join("; ")}`);
  }
  const connectMs = Math.max(...connected.map((c) => c.lastAttachAt)) - connectStarted;
  const settleMs = await waitQuiet(pool, quietMs, 60_000);

  const beforeBuild = server.memory();
  const serverCpuBefore = server.cpuMs();
  const clientCpuBefore = process.cpuUsage();
  const t0 = nowMs();
  const answer = await api.build(conference.id, conference.hostToken);
  const buildResponseMs = nowMs() - t0;
  if (answer.alreadyBuilt) throw new Error("the conference was already built");
  const { reports, timedOut } = await pool.builtReports(Date.now() + buildTimeoutMs);
  const serverCpuAfter = server.cpuMs();
  const clientCpu = process.cpuUsage(clientCpuBefore);
  const afterBuild = server.memory();

  const arrivals = reports.flatMap((r) => r.arrivals.map((at) => at - t0));
  const sizes = new Set(reports.flatMap((r) => r.frameBytes));
  if (sizes.size > 1)
    throw new Error(`clients saw build frames of different sizes: ${[...sizes].join(", ")}`);
  const sample = reports.find((r) => r.sample !== undefined)?.sample;
  if (sample !== undefined) lastSample = sample;

  await pool.closeClients();
  // Let the server handle the closes (presence batches) before the next repetition.
  await sleep(200);

  return {
    rep,
    conferenceId: conference.id,
    registerMs: round(registerMs),
    registrationsPerSecond: round((members / registerMs) * 1000, 1),
    connectMs: round(connectMs),
    settleMs: round(settleMs),
    buildResponseMs: round(buildResponseMs),
    arrivalMs: summarize(arrivals),
    firstClientMs: round(Math.min(...arrivals)),
    lastClientMs: round(Math.max(...arrivals)),
    received: arrivals.length,
    missing: members - arrivals.length,
    timedOut,
    unexpectedCloses: reports.flatMap((r) => r.unexpectedCloses).slice(0, 10),
    buildFrameBytes: [...sizes][0] ?? 0,
    serverCpuMs:
      serverCpuBefore === undefined || serverCpuAfter === undefined
        ? undefined
        : serverCpuAfter - serverCpuBefore,
    clientCpuMs: round((clientCpu.user + clientCpu.system) / 1000, 1),
    serverMemoryKb: { afterRegister, beforeBuild, afterBuild },
  };
}

let lastSample: string | undefined;

/** Parsing and validating one build message as a client does (client-core uses parseServerMessage). */
function measureClientParse(frame: string, expectedMembers: number) {
  const parsed = parseServerMessage(frame);
  if (!parsed.ok) throw new Error(`the build frame does not validate: ${parsed.error}`);
  if (parsed.value.type !== "build") throw new Error(`expected a build frame, got ${parsed.value.type}`);
  if (parsed.value.members.length !== expectedMembers)
    throw new Error(
      `the build frame lists ${parsed.value.members.length} members, expected ${expectedMembers}`,
    );
  const time = (fn: () => unknown, iterations: number) => {
    for (let i = 0; i < 3; i++) fn();
    const samples: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const started = performance.now();
      fn();
      samples.push(performance.now() - started);
    }
    return summarize(samples);
  };
  const memberBytes = parsed.value.members.map((m) => Buffer.byteLength(JSON.stringify(m)) + 1);
  return {
    parseServerMessageMs: time(() => parseServerMessage(frame), 20),
    jsonParseOnlyMs: time(() => JSON.parse(frame), 20),
    meanMemberEntryBytes: round(memberBytes.reduce((s, b) => s + b, 0) / memberBytes.length, 1),
    meanNameChars: round(parsed.value.members.reduce((s, m) => s + m.name.length, 0) / expectedMembers, 1),
    sampleMember: parsed.value.members[0],
  };
}

function verdict(ok: boolean): string {
  return ok ? "PASS" : "MISS";
}

async function main(): Promise<void> {
  const benchStarted = performance.now();
  const dataDir = mkdtempSync(join(tmpdir(), "roundtable-bench-"));
  const host = "127.0.0.1";
  const port = await freePort(host);
  const profileDir = join(root, "bench/results/profiles");
  const nodeFlags = flags["cpu-prof"]
    ? ["--cpu-prof", "--cpu-prof-interval=200", `--cpu-prof-dir=${profileDir}`]
    : [];
  const server = new ServerProcess({
    cwd: root,
    entry: "packages/server/src/main.ts",
    host,
    port,
    nodeFlags,
    env: {
      DATA_DIR: dataDir,
      LOG_LEVEL: "warn",
      ...CROWD_FROM_ONE_ADDRESS,
      REGISTRATIONS_PER_MINUTE: String(Math.max(1_000_000, members * reps * 10)),
      MAX_MEMBERS_PER_CONFERENCE: String(Math.max(members, 5000)),
    },
  });
  const killServer = () => server.killNow();
  process.once("exit", killServer);
  const onSignal = (signal: NodeJS.Signals) => {
    server.killNow();
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  let pool: ClientPool | undefined;
  try {
    const startupMs = await server.waitHealthy();
    const memoryAtStart = server.memory();
    pool = await ClientPool.start(workerCount);
    const api = new RoundtableApi(server.baseUrl);

    const results: RepResult[] = [];
    for (let rep = 1; rep <= reps; rep++) {
      const result = await runRep(rep, api, server, pool);
      results.push(result);
      process.stderr.write(
        `rep ${rep}/${reps}: last client ${result.lastClientMs} ms (median ${result.arrivalMs.median}, ` +
          `response ${result.buildResponseMs}), register ${round(result.registerMs / 1000, 1)} s, ` +
          `connect ${round(result.connectMs / 1000, 2)} s, ${result.received}/${members} received\n`,
      );
    }
    if (lastSample === undefined) throw new Error("no client reported a build frame");
    const client = measureClientParse(lastSample, members);
    const frameBytes = Buffer.byteLength(lastSample);
    const lastClient = summarize(results.map((r) => r.lastClientMs));
    const bytesPerMember = round(frameBytes / members, 1);
    const cpu = cpus()[0];

    const report = {
      benchmark: "build-broadcast",
      date: new Date().toISOString(),
      machine: {
        cores,
        cpu: cpu?.model,
        totalMemMb: Math.round(totalmem() / 1024 / 1024),
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
      },
      config: {
        members,
        reps,
        clientWorkers: workerCount,
        registerConcurrency,
        connectConcurrencyPerWorker: connectConcurrency,
        quietMs,
        cpuProfile: flags["cpu-prof"] ? profileDir : false,
      },
      aims: {
        lastClientMs: {
          target: AIM_LAST_CLIENT_MS,
          median: lastClient.median,
          pass: lastClient.median < AIM_LAST_CLIENT_MS,
          everyRepPass: lastClient.max < AIM_LAST_CLIENT_MS,
        },
        bytesPerMember: {
          target: AIM_BYTES_PER_MEMBER,
          value: bytesPerMember,
          pass: bytesPerMember < AIM_BYTES_PER_MEMBER,
        },
      },
      summary: {
        lastClientMs: lastClient,
        medianClientMs: summarize(results.map((r) => r.arrivalMs.median)),
        p95ClientMs: summarize(results.map((r) => r.arrivalMs.p95)),
        buildResponseMs: summarize(results.map((r) => r.buildResponseMs)),
        registerMs: summarize(results.map((r) => r.registerMs)),
        connectMs: summarize(results.map((r) => r.connectMs)),
        buildFrameBytes: frameBytes,
        bytesPerMember,
        totalBroadcastMb: round((frameBytes * members) / 1024 / 1024, 1),
      },
      client,
      server: {
        startupMs: round(startupMs),
        memoryAtStartKb: memoryAtStart,
        memoryAtEndKb: server.memory(),
      },
      reps: results,
      totalSeconds: 0,
    };
    report.totalSeconds = round((performance.now() - benchStarted) / 1000, 1);

    mkdirSync(dirname(flags.out), { recursive: true });
    writeFileSync(flags.out, `${JSON.stringify(report, null, 2)}\n`);
    console.log(JSON.stringify(report, null, 2));

    const rssMb = (m: Memory) => (m ? `${round(m.rssKb / 1024, 0)} MB` : "n/a");
    const first = results[0];
    console.log(
      [
        "",
        `build-broadcast: ${members} members, ${members} clients on ${workerCount} worker threads, ${reps} builds; ${cores} cores, node ${process.version}`,
        `  last client has build:  median ${lastClient.median} ms, p95 ${lastClient.p95} ms, max ${lastClient.max} ms  (aim < ${AIM_LAST_CLIENT_MS} ms: ${verdict(lastClient.median < AIM_LAST_CLIENT_MS)}${lastClient.max < AIM_LAST_CLIENT_MS ? "" : `, max ${verdict(false)}`})`,
        `  per-client arrival:     median-of-medians ${report.summary.medianClientMs.median} ms, median p95 ${report.summary.p95ClientMs.median} ms; POST /build answered after median ${report.summary.buildResponseMs.median} ms`,
        `  build message:          ${frameBytes} bytes = ${bytesPerMember} bytes/member  (aim < ${AIM_BYTES_PER_MEMBER}: ${verdict(bytesPerMember < AIM_BYTES_PER_MEMBER)}); ${report.summary.totalBroadcastMb} MB sent per build`,
        `  client parse+validate:  parseServerMessage median ${client.parseServerMessageMs.median} ms (JSON.parse alone ${client.jsonParseOnlyMs.median} ms), once per client`,
        `  registration:           median ${round(report.summary.registerMs.median / 1000, 2)} s per ${members} members (concurrency ${registerConcurrency}); connect ${round(report.summary.connectMs.median / 1000, 2)} s per ${members} clients`,
        `  server RSS:             start ${rssMb(memoryAtStart)}, before build ${rssMb(first?.serverMemoryKb.beforeBuild)}, after build ${rssMb(first?.serverMemoryKb.afterBuild)}, end ${rssMb(report.server.memoryAtEndKb)} (peak ${report.server.memoryAtEndKb ? round(report.server.memoryAtEndKb.peakRssKb / 1024, 0) : "n/a"} MB)`,
        `  written to ${flags.out}; total ${report.totalSeconds} s`,
      ].join("\n"),
    );
  } finally {
    await pool?.stop().catch(() => {});
    const { code } = await server.stop();
    if (code !== 0 && code !== null)
      process.stderr.write(`server exited with ${code}:\n${server.recentOutput()}\n`);
    process.off("exit", killServer);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
