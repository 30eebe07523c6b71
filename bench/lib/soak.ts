/**
 * The soak: a real server in this thread (SQLite in a temporary folder, voice on loopback) and
 * voice bots in a worker thread that join, talk, whisper, write and leave, round after round
 * (see soakRounds.ts). Shared by `npm run bench:soak` (minutes, figures) and test/soak (seconds,
 * invariants). The bots' thread keeps their heap and handles out of the server's figures.
 */
import { startTestServer, type TestServer } from "../../packages/server/test/harness.ts";
import {
  type Counts,
  dataHeap,
  diffCounts,
  fullGc,
  heapSpaces,
  type Leftover,
  LoopDelay,
  type LoopDelayFigures,
  type Memory,
  memory,
  ResourceLedger,
  type Snapshot,
  threadCpuMs,
} from "./soakProbe.ts";
import { ask, type Mailbox, type RoundTally, random, SoakRounds } from "./soakRounds.ts";
import { quantile, round, summarize } from "./stats.ts";
import { startTsWorker } from "./tsWorker.ts";
import { WorkerMailbox } from "./WorkerMailbox.ts";

export interface SoakOptions {
  /** Stops after this many rounds or this much time, whichever comes first. */
  rounds: number;
  durationMs: number;
  /**
   * The rounds are split into this many phases; after each, every bot leaves, the worker ends and
   * the server is measured (a checkpoint): growth from one checkpoint to the next, once the JIT
   * and caches are warm, is what a leak looks like.
   */
  phases: number;
  /** Bots online at once (each with a voice peer on the server). */
  onlineMin: number;
  onlineMax: number;
  /** 20 ms frames the speaker sends per round. */
  frames: number;
  seed: number;
  /** How long the server may take to drop what the bots left behind, in ms (a failure guard). */
  settleTimeoutMs: number;
  log: (line: string) => void;
}

export interface Checkpoint {
  rounds: number;
  members: number;
  memory: Memory;
  heapSpaces: Counts;
  resources: Counts;
  live: Counts;
  /** Whether resources and live handles matched the baseline within the guard, and after how long. */
  settled: boolean;
  settleMs: number;
  /** Handles and timers live here that were not at the baseline, by creation site. */
  leftovers: Leftover[];
  /** What was still live beyond the baseline once the server's maps were empty (it then went away by itself). */
  lingering: Leftover[];
  /** The server's own state once every bot had gone. */
  server: {
    connectedMembers: number;
    voiceRooms: number;
    voiceOwners: number;
    addressBudgets: number;
    openSockets: number;
  };
}

export interface SoakReport extends Omit<RoundTally, "joinMs"> {
  /** Time spent in rounds (checkpoints excluded), in seconds. */
  wallS: number;
  registeredBeforeBuild: number;
  joinMs: ReturnType<typeof summarize>;
  texts: { delivered: number; misdelivered: number; examples: string[] };
  baseline: {
    memory: Memory;
    heapSpaces: Counts;
    resources: Counts;
    live: Counts;
    /** Whether the server was back to how it was right after starting, before any bot. */
    idle: boolean;
  };
  checkpoints: Checkpoint[];
  /** During the rounds, sampled every 500 ms (no GC first). */
  peak: Memory;
  /** Heap growth after a full GC: from the baseline to the end, and per round between the first and last checkpoint. */
  /**
   * Heap growth after full GCs, in bytes: `total` from the baseline to the last checkpoint; `data`
   * the same without compiled code (the JIT's output grows while new paths warm up, and stops);
   * `dataAfterFirstCheckpoint` from the first checkpoint to the last, when all is warm, and per round.
   */
  heapGrowth: {
    total: number;
    data: number;
    dataAfterFirstCheckpoint: number | undefined;
    dataPerRoundAfterFirstCheckpoint: number | undefined;
  };
  /** The median phase's p50, the worst phase's p99, the worst delay; and each phase's own. */
  eventLoopDelayMs: LoopDelayFigures & { phases: LoopDelayFigures[] };
  cpu: { serverThreadMs: number | undefined; serverCoreShare: number | undefined; processMs: number };
}

const LOOPBACK = "127.0.0.1";
/**
 * The soak holds its conference object throughout and compares the server with its state right
 * after start: the conference stays in memory between phases (no idle forgetting, CONFERENCE_IDLE_MS=0).
 */
const RTC_ENV = { RTC_LISTEN_ADDRESS: LOOPBACK, RTC_ANNOUNCED_ADDRESSES: LOOPBACK, CONFERENCE_IDLE_MS: "0" };

async function startWorker(): Promise<Mailbox> {
  const worker = startTsWorker(new URL("./soakWorker.ts", import.meta.url), {});
  const mailbox: Mailbox = new WorkerMailbox(worker, "soak worker");
  await mailbox.next("ready", 60_000);
  return mailbox;
}

const same = (a: Counts, b: Counts) => Object.keys(diffCounts(a, b)).length === 0;

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const ledger = new ResourceLedger();
  /** Polls the server's own state, which sends no event; the timeout is only a guard. */
  const until = async (ready: () => boolean, timeoutMs: number) => {
    const started = performance.now();
    while (!ready()) {
      if (performance.now() - started > timeoutMs) return false;
      await new Promise((resolve) => ledger.unwatched(() => setTimeout(resolve, 25)));
    }
    return true;
  };
  ledger.start();
  let t: TestServer | undefined;
  let box: Mailbox | undefined;
  try {
    t = await startTestServer(RTC_ENV);
    const { server, baseUrl } = t;
    // Async hooks report destroyed resources a moment later: the state right after starting is
    // the first one that stays the same across two polls.
    let previous: Snapshot | undefined;
    await until(() => {
      const now = ledger.snapshot();
      const stable = previous && same(previous.resources, now.resources) && same(previous.live, now.live);
      previous = now;
      return stable === true;
    }, o.settleTimeoutMs);
    const started = previous ?? ledger.snapshot();

    // ---- warm-up: set up the conference and run a round in a worker thrown away afterwards, so
    // the baseline has werift, SQLite and the JIT warm but holds nothing of any bot.
    box = await startWorker();
    const setup = await ask(box, { type: "setup", baseUrl, title: "Soak", before: o.onlineMin }, "setup");
    const conference = await server.service.conference(setup.conferenceId);
    const [first, second] = setup.members;
    if (!first || !second) throw new Error("the warm-up needs two members");
    const whisper = [second.memberId];
    await ask(box, { type: "join", members: setup.members }, "joined");
    await ask(box, { type: "aim", speaker: first.memberId, audience: whisper, tag: "warm" }, "aimed");
    await ask(box, { type: "speak", speaker: first.memberId, audience: whisper, frames: o.frames }, "spoke");
    const texts = (await ask(box, { type: "close" }, "closed")).texts;
    await box.worker.terminate();
    box = undefined;

    const serverState = () => ({
      connectedMembers: conference.onlineMemberIds().length,
      voiceRooms: server.voice.roomCount,
      voiceOwners: server.voice.ownerCount,
      addressBudgets: server.voice.addressBudgetCount,
      openSockets: server.guard.openConnections(LOOPBACK),
    });
    const serverEmpty = () => Object.values(serverState()).every((n) => n === 0);
    if (!(await until(serverEmpty, o.settleTimeoutMs))) throw new Error("the warm-up's bots did not leave");
    // The peers' UDP sockets, the bots' TCP sockets and werift's DTLS retransmit timers close a
    // moment after the bots: the baseline waits until all is as right after the server started.
    const idle = await until(() => {
      const now = ledger.snapshot();
      return same(started.resources, now.resources) && same(started.live, now.live);
    }, o.settleTimeoutMs);
    fullGc();
    const baseline: Snapshot = ledger.snapshot();
    const baselineSpaces = heapSpaces();
    o.log(`baseline: heap ${mb(baseline.memory.heapUsed)}, resources ${JSON.stringify(baseline.resources)}`);

    // ---- the soak, in phases, each ending in a checkpoint
    const delays: LoopDelayFigures[] = [];
    const peak: Memory = { ...baseline.memory };
    const rounds = new SoakRounds(server, conference, o, random(o.seed));
    const checkpoints: Checkpoint[] = [];
    let wallMs = 0;
    let serverCpuMs: number | undefined = 0;
    let processCpuMs = 0;
    for (let phase = 1; phase <= o.phases; phase++) {
      const phaseRounds = Math.ceil((o.rounds * phase) / o.phases);
      const phaseEnd = performance.now() + o.durationMs / o.phases;
      const loop = new LoopDelay();
      const cpu0 = threadCpuMs();
      const process0 = process.cpuUsage();
      const phaseStart = performance.now();
      const sampler = ledger.unwatched(() =>
        setInterval(() => {
          const m = memory();
          for (const k of Object.keys(peak) as (keyof Memory)[]) peak[k] = Math.max(peak[k], m[k]);
        }, 500),
      );
      box = await startWorker();
      rounds.box = box;
      const registered = setup.members.length + rounds.tally.registeredAfterBuild;
      await ask(box, { type: "adopt", baseUrl, conferenceId: conference.id, registered }, "adopted");
      await rounds.rejoin(o.onlineMin, phase === 1 ? setup.members : []);
      while (rounds.tally.rounds < phaseRounds && performance.now() < phaseEnd) await rounds.round();
      const phaseTexts = await rounds.closeAll();
      texts.delivered += phaseTexts.delivered;
      texts.misdelivered += phaseTexts.misdelivered;
      texts.examples.push(...phaseTexts.examples);
      await box.worker.terminate();
      box = undefined;
      rounds.box = undefined;
      clearInterval(sampler);
      delays.push(loop.stop());
      wallMs += performance.now() - phaseStart;
      const cpu1 = threadCpuMs();
      serverCpuMs =
        cpu0 === undefined || cpu1 === undefined || serverCpuMs === undefined
          ? undefined
          : serverCpuMs + cpu1 - cpu0;
      const used = process.cpuUsage(process0);
      processCpuMs += (used.user + used.system) / 1000;

      const leftAt = performance.now();
      await until(serverEmpty, o.settleTimeoutMs);
      const lingering = ledger.leftovers(baseline);
      const settled = await until(() => {
        const now = ledger.snapshot();
        return same(baseline.resources, now.resources) && same(baseline.live, now.live);
      }, o.settleTimeoutMs);
      const settleMs = round(performance.now() - leftAt);
      fullGc();
      const now = ledger.snapshot();
      checkpoints.push({
        rounds: rounds.tally.rounds,
        members: rounds.members,
        memory: now.memory,
        heapSpaces: heapSpaces(),
        resources: now.resources,
        live: now.live,
        settled,
        settleMs,
        leftovers: ledger.leftovers(baseline),
        lingering,
        server: serverState(),
      });
      o.log(
        `checkpoint ${phase}/${o.phases}: ${rounds.tally.rounds} rounds, ${rounds.members} members, heap ${mb(now.memory.heapUsed)}, back to baseline: ${settled} after ${settleMs} ms`,
      );
    }

    const { joinMs, ...tally } = rounds.tally;
    const firstCp = checkpoints[0];
    const lastCp = checkpoints.at(-1);
    const laterRounds = firstCp && lastCp ? lastCp.rounds - firstCp.rounds : 0;
    const warmGrowth =
      firstCp && lastCp && firstCp !== lastCp
        ? dataHeap(lastCp.heapSpaces) - dataHeap(firstCp.heapSpaces)
        : undefined;
    return {
      ...tally,
      wallS: round(wallMs / 1000, 1),
      registeredBeforeBuild: setup.members.length,
      joinMs: summarize(joinMs),
      texts,
      baseline: {
        memory: baseline.memory,
        heapSpaces: baselineSpaces,
        resources: baseline.resources,
        live: baseline.live,
        idle,
      },
      checkpoints,
      peak,
      heapGrowth: {
        total: (lastCp?.memory.heapUsed ?? Number.NaN) - baseline.memory.heapUsed,
        data: dataHeap(lastCp?.heapSpaces ?? {}) - dataHeap(baselineSpaces),
        dataAfterFirstCheckpoint: warmGrowth,
        dataPerRoundAfterFirstCheckpoint:
          warmGrowth !== undefined && laterRounds > 0 ? round(warmGrowth / laterRounds) : undefined,
      },
      eventLoopDelayMs: {
        p50: round(
          quantile(
            delays.map((d) => d.p50),
            0.5,
          ),
        ),
        p99: Math.max(...delays.map((d) => d.p99)),
        max: Math.max(...delays.map((d) => d.max)),
        phases: delays,
      },
      cpu: {
        serverThreadMs: serverCpuMs,
        serverCoreShare: serverCpuMs === undefined ? undefined : round(serverCpuMs / wallMs, 3),
        processMs: round(processCpuMs),
      },
    };
  } finally {
    await box?.worker.terminate();
    await t?.stop();
    ledger.stop();
  }
}

function mb(bytes: number): string {
  return `${round(bytes / 2 ** 20, 1)} MiB`;
}
