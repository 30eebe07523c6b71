/**
 * Voice forwarding benchmark: one speaker bot and N listening bots (default N = 50, 200, 500, one
 * server run each), all real conference members with a werift peer connection to the server. The
 * speaker plays speech (20 ms Opus frames, 50 packets/s) to everyone; the listeners count what
 * arrives without decoding.
 *
 * Measured per N:
 * - server CPU per forwarded packet, marginal: CPU over a window while the speaker talks, minus
 *   the CPU of an equally long window with everyone connected and silent, divided by the packets
 *   forwarded in it (counted at the listeners: forwarded = received when nothing is lost);
 * - forwarded packets per second per core (1e6 / marginal us per packet);
 * - server RSS per connected member (after connecting, minus before);
 * - whether every listener received every packet the speaker sent;
 * - bandwidth per listener (RTP bytes, and an estimate of bytes on the wire with SRTP/UDP/IP).
 * Aim (from the brief): under 15 us per forwarded packet.
 *
 *   npm run bench:voice -- [--listeners 50,200,500] [--window 10] [--workers 2] [--cpu-prof]
 *
 *
 * The server runs as a child process with a temporary DATA_DIR; bots are spread over worker
 * threads of this process (one thread holds only the speaker). Results: JSON on stdout (and in
 * bench/results/voice-forwarding.json), then a summary. A measurement, not a test.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { RoundtableApi } from "@roundtable/client-core";
import { WIRE_OVERHEAD_BYTES } from "../packages/bot/src/WeriftMediaEngine.ts";
import { type CpuWindow, cpuWindow } from "./lib/cpu.ts";
import { CROWD_FROM_ONE_ADDRESS } from "./lib/crowdEnv.ts";
import { memberName } from "./lib/names.ts";
import { positiveInt } from "./lib/report.ts";
import { freePort, ServerProcess } from "./lib/serverProcess.ts";
import { mapLimit, round, summarize } from "./lib/stats.ts";
import type { BotCounters } from "./lib/voiceMessages.ts";
import { VoicePool } from "./lib/voicePool.ts";

const AIM_US_PER_PACKET = 15;
const root = resolve(import.meta.dirname, "..");

const { values: flags } = parseArgs({
  options: {
    listeners: { type: "string", default: "50,200,500" },
    window: { type: "string", default: "10" },
    workers: { type: "string" },
    "join-concurrency": { type: "string", default: "8" },
    "join-timeout": { type: "string", default: "30000" },
    slots: { type: "string", default: "4" },
    wav: { type: "string", default: resolve(root, "../shared/fixtures/speech.wav") },
    "cpu-prof": { type: "boolean", default: false },
    out: { type: "string" },
  },
});

const sizes = (flags.listeners ?? "").split(",").map((s) => positiveInt("listeners", s.trim()));
const windowS = positiveInt("window", flags.window);
const cores = availableParallelism();
const listenerWorkers = positiveInt("workers", flags.workers ?? String(Math.max(1, Math.min(4, cores))));
const joinConcurrency = positiveInt("join-concurrency", flags["join-concurrency"]);
const joinTimeoutMs = positiveInt("join-timeout", flags["join-timeout"]);
const slots = positiveInt("slots", flags.slots);
const wav = flags.wav as string;
const outPath =
  flags.out ?? join(root, `bench/results/voice-forwarding${flags["cpu-prof"] ? ".profiled" : ""}.json`);
if (!existsSync(wav)) throw new Error(`no speech file at ${wav} (shared/ must sit beside the repository)`);

type Memory = { rssKb: number; peakRssKb: number } | undefined;

type Window = Omit<CpuWindow, "perServerCpuMs">;

interface RunResult {
  listeners: number;
  connected: number;
  failedToJoin: number;
  joinErrors: string[];
  joinMs: ReturnType<typeof summarize>;
  idle: Window & { serverCoreShare: number; serverCpuPerPeerPct: number };
  /** From the speaker's first packet until every listener had stopped receiving. */
  talk: Window & { serverCoreShare: number };
  sent: number;
  forwarded: number;
  forwardedPerSecond: number;
  /** Marginal server CPU per forwarded packet (talk minus idle for the same time), microseconds. */
  usPerPacket: number;
  /** Gross: all server CPU during the talk over the packets forwarded in it. */
  usPerPacketGross: number;
  packetsPerSecondPerCore: number;
  delivery: {
    /** Listeners that received every packet the speaker sent. */
    complete: number;
    receivedPerListener: ReturnType<typeof summarize>;
    missingTotal: number;
    /** Sequence gaps and late packets counted at the listeners. */
    gaps: number;
    late: number;
  };
  bandwidthPerListenerKbps: { rtp: number; wireEstimate: number; packetsPerSecond: number };
  serverMemoryKb: { beforeJoin: Memory; connectedIdle: Memory; afterTalking: Memory };
  rssPerMemberKb: number | undefined;
  speakerPlayed: { frames: number; sent: number; maxLateMs: number };
}

const sum = (bots: BotCounters[], key: "packets" | "bytes" | "lost" | "late") =>
  bots.reduce((s, b) => s + b[key], 0);

async function runOnce(listeners: number, profileDir: string | undefined): Promise<RunResult> {
  const dataDir = mkdtempSync(join(tmpdir(), "roundtable-voice-bench-"));
  const host = "127.0.0.1";
  const port = await freePort(host);
  const server = new ServerProcess({
    cwd: root,
    entry: "packages/server/src/main.ts",
    host,
    port,
    nodeFlags: profileDir ? ["--cpu-prof", "--cpu-prof-interval=200", `--cpu-prof-dir=${profileDir}`] : [],
    env: {
      DATA_DIR: dataDir,
      LOG_LEVEL: "warn",
      ...CROWD_FROM_ONE_ADDRESS,
      RTC_LISTEN_ADDRESS: host,
      RTC_ANNOUNCED_ADDRESSES: host,
      VOICE_SLOTS: String(slots),
      WEB_DIR: join(dataDir, "no-web"),
    },
  });
  const onExit = () => server.killNow();
  process.once("exit", onExit);
  let pool: VoicePool | undefined;
  try {
    await server.waitHealthy();
    const api = new RoundtableApi(server.baseUrl);
    const conference = await api.createConference(`Voice bench ${listeners}`);
    await api.build(conference.id, conference.hostToken);
    const members = await mapLimit(
      Array.from({ length: listeners + 1 }, (_, i) => memberName(i)),
      16,
      async (name) => {
        const r = await api.register(conference.id, { name });
        return { memberId: r.memberId, token: r.token };
      },
    );
    const [speaker, ...audience] = members;
    if (!speaker) throw new Error("no speaker");
    pool = await VoicePool.start(listenerWorkers);
    const beforeJoin = server.memory();
    log(`N=${listeners}: joining ${listeners + 1} bots over ${listenerWorkers} workers...`);
    const joined = await pool.join(
      server.baseUrl,
      conference.id,
      speaker,
      audience,
      joinConcurrency,
      joinTimeoutMs,
    );
    log(`N=${listeners}: ${joined.connected} connected, ${joined.failed} failed`);
    if (joined.connected < 2) throw new Error(`too few bots connected: ${joined.errors.join("; ")}`);

    // Let handshakes, RTCP and the connect traffic settle, then measure the silent room.
    await sleep(3000);
    const connectedIdle = server.memory();
    const idleWindow = cpuWindow([server]);
    await sleep(windowS * 1000);
    const idle = idleWindow();

    // The talk: the speaker plays for the window's length; the measurement runs until the last
    // packet has reached every listener, so a slow (or starved) listener cannot shift the count.
    const before = await pool.counters();
    const talkWindow = cpuWindow([server]);
    const played = pool.play(wav, Math.ceil(windowS / 10) + 1);
    await sleep(windowS * 1000);
    pool.stopPlaying();
    const speakerPlayed = await played;
    const after = await pool.untilQuiet(1000, 60_000);
    const talk = talkWindow();
    const afterTalking = server.memory();

    const sent = after.speaker.sent - before.speaker.sent;
    const received = after.listeners.map((b, i) => b.packets - (before.listeners[i]?.packets ?? 0));
    const forwarded = received.reduce((s, r) => s + r, 0);
    const bytes = sum(after.listeners, "bytes") - sum(before.listeners, "bytes");
    const idlePerWall = idle.serverCpuMs / idle.wallMs;
    const marginalMs = talk.serverCpuMs - idlePerWall * talk.wallMs;
    const usPerPacket = (marginalMs * 1000) / forwarded;
    const listenerCount = after.listeners.length;
    // Rates over the audio's own duration (20 ms per packet sent), not the measurement's tail.
    const audioSeconds = (sent * 20) / 1000;
    const rssDelta =
      beforeJoin && connectedIdle
        ? (connectedIdle.rssKb - beforeJoin.rssKb) / (joined.connected || 1)
        : undefined;

    return {
      listeners,
      connected: joined.connected,
      failedToJoin: joined.failed,
      joinErrors: joined.errors,
      joinMs: summarize(joined.joinMs),
      idle: {
        ...idle,
        serverCoreShare: round(idlePerWall, 3),
        serverCpuPerPeerPct: round((idlePerWall * 100) / joined.connected, 4),
      },
      talk: { ...talk, serverCoreShare: round(talk.serverCpuMs / talk.wallMs, 3) },
      sent,
      forwarded,
      forwardedPerSecond: round(forwarded / audioSeconds),
      usPerPacket: round(usPerPacket, 1),
      usPerPacketGross: round((talk.serverCpuMs * 1000) / forwarded, 1),
      packetsPerSecondPerCore: Math.round(1e6 / usPerPacket),
      delivery: {
        complete: received.filter((r) => r >= sent).length,
        receivedPerListener: summarize(received),
        missingTotal: received.reduce((s, r) => s + Math.max(0, sent - r), 0),
        gaps: sum(after.listeners, "lost") - sum(before.listeners, "lost"),
        late: sum(after.listeners, "late") - sum(before.listeners, "late"),
      },
      bandwidthPerListenerKbps: {
        rtp: round((bytes * 8) / 1000 / audioSeconds / listenerCount),
        wireEstimate: round(
          ((bytes + forwarded * WIRE_OVERHEAD_BYTES) * 8) / 1000 / audioSeconds / listenerCount,
        ),
        packetsPerSecond: round(forwarded / audioSeconds / listenerCount, 1),
      },
      serverMemoryKb: { beforeJoin, connectedIdle, afterTalking },
      rssPerMemberKb: rssDelta === undefined ? undefined : round(rssDelta, 1),
      speakerPlayed: {
        frames: speakerPlayed.frames,
        sent: speakerPlayed.sent,
        maxLateMs: speakerPlayed.maxLateMs,
      },
    };
  } finally {
    if (pool) {
      await pool.closeBots().catch(() => {});
      await pool.stop();
    }
    await server.stop();
    process.off("exit", onExit);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** The server's main-thread profile written since `since` (thread 0; others are loader threads). */
function newestProfile(dir: string, since: number): string | undefined {
  if (!existsSync(dir)) return undefined;
  return readdirSync(dir)
    .filter((f) => /\.0\.\d+\.cpuprofile$/.test(f))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).mtimeMs >= since)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

async function main(): Promise<void> {
  const profileDir = flags["cpu-prof"] ? join(root, "bench/results/profiles") : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const runs: (RunResult & { profile?: string | undefined })[] = [];
  const failures: { listeners: number; error: string }[] = [];
  for (const n of sizes) {
    const started = Date.now();
    try {
      const result = await runOnce(n, profileDir);
      runs.push(profileDir ? { ...result, profile: newestProfile(profileDir, started) } : result);
    } catch (error) {
      log(`N=${n} failed: ${(error as Error).message}`);
      failures.push({ listeners: n, error: (error as Error).message });
    }
  }
  const report = {
    bench: "voice-forwarding",
    aim: { usPerForwardedPacket: AIM_US_PER_PACKET },
    machine: {
      cpus: cores,
      cpuModel: cpus()[0]?.model,
      memoryGb: round(totalmem() / 2 ** 30, 1),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
    },
    settings: {
      windowS,
      listenerWorkers,
      joinConcurrency,
      slots,
      wav,
      cpuProfile: Boolean(profileDir),
      server: "packages/server/src/main.ts",
    },
    runs,
    failures,
  };
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
  console.log(`\nVoice forwarding (${cores} cores, ${report.machine.cpuModel}; server and bots share them)`);
  for (const r of runs) {
    const verdict = r.usPerPacket <= AIM_US_PER_PACKET ? "PASS" : "MISS";
    console.log(
      [
        `N=${r.listeners}: ${r.connected} connected (${r.failedToJoin} failed)`,
        `  server CPU per forwarded packet: ${r.usPerPacket} us marginal (${r.usPerPacketGross} us gross) ${verdict} vs aim ${AIM_US_PER_PACKET} us`,
        `  forwarded ${r.forwardedPerSecond} packets/s, server at ${round(r.talk.serverCoreShare * 100)}% of a core while talking; ${r.packetsPerSecondPerCore} packets/s per core`,
        `  idle: ${round(r.idle.serverCoreShare * 100)}% of a core for ${r.connected} peers (${r.idle.serverCpuPerPeerPct}% each); bots used ${round((r.talk.clientCpuMs / r.talk.wallMs) * 100)}% of a core while talking`,
        `  other processes on the machine: ${r.idle.otherCores} cores idle window, ${r.talk.otherCores} cores talk window${Math.max(r.idle.otherCores, r.talk.otherCores) > 0.2 ? " (CONTENDED: figures are skewed)" : ""}`,
        `  delivery: ${r.delivery.complete}/${r.listeners} listeners got all ${r.sent} packets; per listener ${r.delivery.receivedPerListener.min}..${r.delivery.receivedPerListener.max}, ${r.delivery.missingTotal} missing, ${r.delivery.gaps} gaps`,
        `  speaker pacing: worst frame ${r.speakerPlayed.maxLateMs} ms late; join (register excluded) median ${r.joinMs.median} ms, max ${r.joinMs.max} ms`,
        `  per listener: ${r.bandwidthPerListenerKbps.packetsPerSecond} packets/s, ${r.bandwidthPerListenerKbps.rtp} kbit/s RTP, ~${r.bandwidthPerListenerKbps.wireEstimate} kbit/s on the wire`,
        `  server RSS: ${r.serverMemoryKb.connectedIdle?.rssKb ?? "?"} KiB connected, ${r.rssPerMemberKb ?? "?"} KiB per member`,
        r.profile ? `  profile: ${r.profile}` : "",
      ]
        .filter(Boolean)
        .join("\n"),
    );
  }
  for (const f of failures) console.log(`N=${f.listeners}: could not measure: ${f.error}`);
  if (runs.length === 0) process.exitCode = 1;
}

await main();
