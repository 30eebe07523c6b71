/**
 * Soak benchmark: minutes of voice bots joining, talking to everyone or whispering to some,
 * writing public and private texts, and leaving (with or without a voice-leave), against a real
 * server running in this process's main thread (SQLite in a temporary folder, voice on loopback).
 * The bots run in a worker thread, so the main thread's heap and handles are the server's.
 *
 * Reported: rounds, joins and leaves, packets sent, forwarded (server) and received (bots),
 * misaddressed packets and misdelivered texts (both must be 0), the server's heap and RSS at the
 * baseline (after a warm-up round, full GC), at the peak and at the end (every bot gone, full GC),
 * its active handles and timers by type at the baseline and the end with the creation site of any
 * left behind, its event-loop delay and its thread's CPU.
 *
 *   npm run bench:soak -- [--minutes 3] [--phases 6] [--rounds N] [--online 4-8] [--frames 50] [--seed 1]
 *
 * Every phase ends in a checkpoint: all bots leave, their worker ends, and the server is measured
 * after a full GC. Heap growth between checkpoints, once warm, is what a leak looks like.
 *
 * JSON on stdout (and in bench/results/soak.json), then a summary. A measurement, not a test:
 * test/soak/soak.test.ts asserts the invariants on a short run.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { runSoak } from "./lib/soak.ts";
import { round } from "./lib/stats.ts";

const root = resolve(import.meta.dirname, "..");

const { values: flags } = parseArgs({
  options: {
    minutes: { type: "string", default: "3" },
    phases: { type: "string", default: "6" },
    rounds: { type: "string", default: "1000000" },
    online: { type: "string", default: "4-8" },
    frames: { type: "string", default: "50" },
    seed: { type: "string", default: "1" },
    out: { type: "string", default: join(root, "bench/results/soak.json") },
  },
});

function positive(name: string, raw: string | undefined): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new TypeError(`--${name} must be a positive number, got "${raw}"`);
  return n;
}

const [onlineMin, onlineMax] = (flags.online ?? "").split("-").map((x) => positive("online", x));
if (!onlineMin || !onlineMax || onlineMin < 3 || onlineMax < onlineMin)
  throw new TypeError('--online must be "MIN-MAX" with 3 <= MIN <= MAX (e.g. 4-8)');
const minutes = positive("minutes", flags.minutes);
const log = (line: string) => process.stderr.write(`${line}\n`);

const report = await runSoak({
  rounds: Math.floor(positive("rounds", flags.rounds)),
  durationMs: minutes * 60_000,
  phases: Math.floor(positive("phases", flags.phases)),
  onlineMin,
  onlineMax,
  frames: Math.floor(positive("frames", flags.frames)),
  seed: Math.floor(positive("seed", flags.seed)),
  settleTimeoutMs: 30_000,
  log,
});

const output = {
  bench: "soak",
  machine: {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model,
    memoryGb: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  },
  settings: {
    minutes,
    phases: flags.phases,
    online: [onlineMin, onlineMax],
    frames: flags.frames,
    seed: flags.seed,
  },
  ...report,
};
const outPath = flags.out as string;
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(outPath, `${JSON.stringify(output, null, 2)}\n`);
console.log(JSON.stringify(output, null, 2));

const mib = (b: number) => `${round(b / 2 ** 20, 1)} MiB`;
const kib = (b: number) => `${b >= 0 ? "+" : ""}${round(b / 1024)} KiB`;
const ok = (x: number) => (x === 0 ? "0 (OK)" : `${x} (FAIL)`);
const r = report;
const last = r.checkpoints.at(-1);
const g = r.heapGrowth;
const leftovers = r.checkpoints.flatMap((c, i) => c.leftovers.map((l) => ({ ...l, checkpoint: i + 1 })));
console.log(
  [
    "",
    `Soak: ${r.rounds} rounds in ${r.wallS} s over ${r.checkpoints.length} phases (${output.machine.cpus} cores, ${output.machine.cpuModel}; server, bots and anything else running share them)`,
    `  churn: ${r.joins} joins, ${r.gracefulLeaves} graceful + ${r.abruptLeaves} abrupt leaves; ${r.registeredBeforeBuild} members registered before the build, ${r.registeredAfterBuild} after; join median ${r.joinMs.median} ms, max ${r.joinMs.max} ms`,
    `  voice: ${r.targetsAll} rounds to everyone, ${r.targetsWhisper} whispers; ${r.sent} packets sent, ${r.forwarded} forwarded, ${r.received} received, ${r.shortfall} short`,
    `  misaddressed packets: ${ok(r.misaddressed)}; credited to a speaker whose audience excludes the listener: ${ok(r.attributedOutsideAudience)}; targets not applied: ${ok(r.targetsNotApplied)}`,
    `  slot binding races (not errors): ${r.unbound} packets on a slot not bound yet, ${r.misattributed} on a slot still bound to the previous voice`,
    `  texts: ${r.textsSent} sent (${r.textsPrivate} private), ${r.texts.delivered} copies delivered, misdelivered ${ok(r.texts.misdelivered)}, missing ${ok(r.textsMissing)}`,
    `  server after each leave: ${ok(r.leftBehind)} left behind; voice room mismatches ${ok(r.roomMismatches)}; at the end ${last?.server.connectedMembers} connected, ${last?.server.voiceRooms} voice rooms, ${last?.server.openSockets} sockets`,
    `  server heap after full GC: baseline ${mib(r.baseline.memory.heapUsed)}; checkpoints ${r.checkpoints.map((c) => `${mib(c.memory.heapUsed)} (${c.rounds} rounds, ${c.members} members)`).join(", ")}`,
    `  heap growth: ${kib(r.heapGrowth.total)} in all, ${kib(r.heapGrowth.data)} without compiled code; after the first checkpoint ${g.dataAfterFirstCheckpoint === undefined ? "?" : kib(g.dataAfterFirstCheckpoint)} (${g.dataPerRoundAfterFirstCheckpoint === undefined ? "?" : kib(g.dataPerRoundAfterFirstCheckpoint)} per round); peak (no GC) ${mib(r.peak.heapUsed)}`,
    `  process RSS: baseline ${mib(r.baseline.memory.rss)}, peak ${mib(r.peak.rss)} (with the bots' worker), end ${last ? mib(last.memory.rss) : "?"}`,
    `  active resources: baseline ${JSON.stringify(r.baseline.resources)}${r.baseline.idle ? "" : " (NOT IDLE)"}, end ${JSON.stringify(last?.resources)}`,
    `  live handles and timers, unref'ed too: baseline ${JSON.stringify(r.baseline.live)}, end ${JSON.stringify(last?.live)}`,
    `  back to baseline after each phase: ${r.checkpoints.map((c) => (c.settled ? `yes (${c.settleMs} ms)` : "NO")).join(", ")}`,
    leftovers.length === 0
      ? "  left behind: nothing"
      : `  left behind:\n${leftovers.map((l) => `    checkpoint ${l.checkpoint}: ${l.count} x ${l.type} from ${l.createdAt}`).join("\n")}`,
    `  server event-loop delay during rounds: p50 ${r.eventLoopDelayMs.p50} ms (median phase), p99 ${r.eventLoopDelayMs.p99} ms (worst phase), max ${r.eventLoopDelayMs.max} ms`,
    `  server thread CPU during rounds: ${r.cpu.serverThreadMs ?? "?"} ms (${r.cpu.serverCoreShare === undefined ? "?" : round(r.cpu.serverCoreShare * 100, 1)}% of a core); whole process ${r.cpu.processMs} ms`,
  ].join("\n"),
);
