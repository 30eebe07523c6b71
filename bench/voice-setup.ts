/**
 * Voice set-up over an impaired uplink: how often, and how fast, Chromium gets voice connected to
 * the Roundtable server (werift SFU) when the speaker's uplink loses and delays packets.
 *
 * The server runs in network namespace rtq-srv (10.77.1.1), one Chromium in rtq-spk (10.77.1.2);
 * link.py (bench/lib/netns, from /work/shared/tools/impair) joins them and applies netem's model on
 * speaker->server (`--up`). Each run registers a fresh member, opens the room in a fresh browser
 * context, calls `window.roundtable.joinVoice()` and times, in the page, until voice is "connected"
 * (success) or "failed" / the cap (failure, with `voiceInfo().failure`); the client's own retries
 * (a failed handshake is retried at once, up to 4 attempts within 9 s) count inside one run, and the
 * `voice-offer` messages the page received say how many attempts it took. Root only.
 *
 *   node --import tsx bench/voice-setup.ts [--runs 30] [--up "loss 5% delay 40ms 30ms distribution normal"]
 *     [--down ""] [--cap-ms 20000] [--seed N] [--out bench/results/voice-setup.json]
 *
 * Results: JSON on stdout (and in --out), then a summary. Exit code 1 if the target (>= 99% of
 * set-ups connected, median < 3 s) is missed.
 */
import { cpSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Browser, Page } from "playwright-core";
import { encodeWav } from "../packages/bot/src/audio/wav.ts";
import { micArgs } from "../test/e2e/voicePages.ts";
import { type DtlsFlow, dtlsFlows } from "./lib/netns/impair.ts";
import { NetnsSession, SERVER_ORIGIN as origin } from "./lib/netns/NetnsSession.ts";
import { type Api, api } from "./lib/netns/pageApi.ts";
import { round, summarize } from "./lib/stats.ts";

const root = resolve(import.meta.dirname, "..");
const DEFAULT_UP = "loss 5% delay 40ms 30ms distribution normal";
const SPEECH = "/work/shared/fixtures/speech.wav";

const { values: flags } = parseArgs({
  options: {
    runs: { type: "string", default: "30" },
    up: { type: "string", default: DEFAULT_UP },
    down: { type: "string", default: "" },
    "cap-ms": { type: "string", default: "20000" },
    seed: { type: "string" },
    chromium: { type: "string", default: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" },
    wav: { type: "string", default: process.env.SPEECH_WAV ?? SPEECH },
    out: { type: "string", default: join(root, "bench/results/voice-setup.json") },
    force: { type: "boolean", default: false },
  },
});
const runs = Number(flags.runs);
if (!Number.isInteger(runs) || runs < 1) throw new TypeError("--runs must be a whole number >= 1");
const capMs = Number(flags["cap-ms"]);
if (!Number.isFinite(capMs) || capMs < 1000) throw new TypeError("--cap-ms must be at least 1000");
if (flags.seed !== undefined && !/^\d+$/.test(flags.seed))
  throw new TypeError("--seed must be a whole number");
const up = flags.up as string;
const down = flags.down as string;

type Outcome = "connected" | "failed" | "timeout" | "error";

interface Run {
  run: number;
  outcome: Outcome;
  /** joinVoice() to "connected" / "failed" / the cap, measured in the page. */
  ms: number | null;
  /** `voice-offer` messages the page received: one per attempt. */
  offers: number;
  /** voiceInfo().generation: peer connections made since joining. */
  generation: number | null;
  failure: unknown;
  /** Opening the room page (goto until the room and window.roundtable are there), over the same link. */
  pageMs: number | null;
  error?: string;
  /** Each attempt's DTLS datagrams on the uplink (when the link's flows match the attempts). */
  dtlsUplink?: Omit<DtlsFlow, "flow">[];
}

/** Chrome loops the file; used when the shared speech fixture is not there (e.g. in CI). */
function toneWav(): Buffer {
  const pcm = new Int16Array(48_000);
  for (let i = 0; i < 24_000; i++) pcm[i] = Math.round(8192 * Math.sin((2 * Math.PI * 220 * i) / 48_000));
  return encodeWav(pcm);
}

/** Wilson score interval (95%) for `k` successes in `n`. */
function wilson(k: number, n: number): [number, number] {
  if (n === 0) return [0, 1];
  const z = 1.959964;
  const p = k / n;
  const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / (1 + (z * z) / n);
  return [round(Math.max(0, centre - half), 4), round(Math.min(1, centre + half), 4)];
}

// ------------------------------------------------------------------ the bench

async function oneRun(b: Browser, admin: Page, conference: Api, run: number): Promise<Run> {
  const result: Run = {
    run,
    outcome: "error",
    ms: null,
    offers: 0,
    generation: null,
    failure: null,
    pageMs: null,
  };
  const member = await api<{ memberId: string; token: string }>(
    admin,
    `/api/conferences/${conference.id}/members`,
    {
      method: "POST",
      form: { name: `Speaker ${run}` },
    },
  );
  const context = await b.newContext();
  try {
    const page = await context.newPage();
    page.on("websocket", (ws) =>
      ws.on("framereceived", (frame) => {
        if (typeof frame.payload !== "string" || !frame.payload.includes("voice-offer")) return;
        try {
          if ((JSON.parse(frame.payload) as { type?: string }).type === "voice-offer") result.offers++;
        } catch {
          // not JSON: not ours to count
        }
      }),
    );
    const opened = performance.now();
    await page.goto(`${origin}/c/${conference.id}?token=${encodeURIComponent(member.token)}`, {
      timeout: 60_000,
    });
    await page.getByTestId("room").waitFor({ timeout: 60_000 });
    await page.waitForFunction(() => window.roundtable !== undefined, null, { timeout: 60_000 });
    result.pageMs = round(performance.now() - opened, 1);
    const timed = await page.evaluate(async (cap) => {
      const rt = window.roundtable;
      if (!rt) throw new Error("no window.roundtable");
      const started = performance.now();
      const outcome = await Promise.race([
        rt.joinVoice().then(
          () => "connected" as const,
          () => "failed" as const,
        ),
        new Promise<"timeout">((r) => setTimeout(() => r("timeout"), cap)),
      ]);
      const ms = performance.now() - started;
      const info = rt.voiceInfo();
      return { outcome, ms, status: info.status, failure: info.failure ?? null, generation: info.generation };
    }, capMs);
    result.ms = round(timed.ms, 1);
    result.generation = timed.generation;
    result.failure = timed.failure;
    // joinVoice() settles on the session's status; say so if the two ever disagree.
    result.outcome =
      timed.outcome === "connected" && timed.status !== "connected"
        ? "error"
        : timed.outcome === "failed" && timed.status !== "failed"
          ? "error"
          : timed.outcome;
    if (result.outcome === "error")
      result.error = `joinVoice() said ${timed.outcome}, status ${timed.status}`;
    await page.evaluate(() => window.roundtable?.leaveVoice?.()).catch(() => {});
  } catch (error) {
    result.outcome = "error";
    result.error = (error as Error).message.split("\n")[0];
  } finally {
    await context.close().catch(() => {});
  }
  return result;
}

async function main(session: NetnsSession): Promise<void> {
  const { dir } = session;
  const webDist = join(root, "packages/web/dist");
  if (!existsSync(join(webDist, "index.html"))) {
    console.error("building the web client (npm run build:web)");
    const build = session.spawn("build:web", undefined, ["npm", "run", "build:web"]);
    if ((await build.exited).code !== 0) throw new Error(`npm run build:web failed\n${build.recentOutput()}`);
  }
  // A snapshot, so a rebuild elsewhere during the run cannot pull the pages away mid-run.
  const webDir = join(dir, "web");
  cpSync(webDist, webDir, { recursive: true });
  const wav = join(dir, "mic.wav");
  if (existsSync(flags.wav as string)) cpSync(flags.wav as string, wav);
  else writeFileSync(wav, toneWav());

  await session.impair(
    up,
    down,
    flags.seed === undefined ? undefined : Number(flags.seed),
    join(dir, "link.trace"),
  );
  const { server, healthyMs } = await session.startServer({ WEB_DIR: webDir });
  const browser = await session.chromium("rtq-spk", flags.chromium as string, micArgs(wav));
  const adminContext = await browser.newContext({ bypassCSP: true });
  const admin = await adminContext.newPage();
  await admin.goto(`${origin}/healthz`, { timeout: 60_000 });
  const conference = await api<Api>(admin, "/api/conferences", {
    method: "POST",
    json: { title: "Voice set-up bench" },
  });
  await api(admin, `/api/conferences/${conference.id}/build`, {
    method: "POST",
    token: conference.hostToken,
  });

  const load = { before: loadavg().map((l) => round(l)), after: [] as number[] };
  const results: Run[] = [];
  const started = performance.now();
  for (let i = 1; i <= runs && !session.interrupted; i++) {
    if (!server.running) throw new Error(`the server died during run ${i}\n${server.recentOutput()}`);
    const r = await oneRun(browser, admin, conference, i);
    results.push(r);
    console.error(
      `run ${i}/${runs}: ${r.outcome}${r.ms === null ? "" : ` in ${r.ms} ms`} (${r.offers} offer${r.offers === 1 ? "" : "s"}` +
        `${r.failure ? `, failure ${JSON.stringify(r.failure)}` : ""}${r.error ? `, ${r.error}` : ""}; page ${r.pageMs ?? "-"} ms)`,
    );
  }
  const wallS = round((performance.now() - started) / 1000, 1);
  load.after = loadavg().map((l) => round(l));
  const chromiumVersion = browser.version();
  const serverLog = server.output();
  const { stats: linkStats, trace: linkTrace } = await session.stopLink();
  await session.close();

  const measured = results.filter((r) => r.outcome !== "error");
  const connected = measured.filter((r) => r.outcome === "connected");
  const failureKinds: Record<string, number> = {};
  for (const r of measured.filter((r) => r.outcome !== "connected")) {
    const kind =
      r.outcome === "timeout" ? "timeout" : ((r.failure as { kind?: string } | null)?.kind ?? "unknown");
    failureKinds[kind] = (failureKinds[kind] ?? 0) + 1;
  }
  const attempts: Record<string, number> = {};
  for (const r of connected) attempts[String(r.offers)] = (attempts[String(r.offers)] ?? 0) + 1;
  const times = summarize(connected.map((r) => r.ms as number));
  const firstTry = connected.filter((r) => r.offers === 1).map((r) => r.ms as number);
  const successRate = measured.length ? round(connected.length / measured.length, 4) : 0;
  const uplink = linkStats?.directions["speaker->server"];
  // The speaker's DTLS handshakes as the link saw them: one UDP flow per peer connection (attempt).
  const flows = dtlsFlows(linkTrace);
  const totalOffers = results.reduce((n, r) => n + r.offers, 0);
  const perRun = flows.length === totalOffers;
  if (perRun) {
    let next = 0;
    for (const r of results) {
      const mine = flows.slice(next, next + r.offers);
      next += r.offers;
      r.dtlsUplink = mine.map(({ flow: _, ...f }) => f);
    }
  }
  const handshakes = {
    flows: flows.length,
    matchedToRuns: perRun,
    withLoss: flows.filter((f) => f.lost > 0).length,
    clientHelloLost: flows.filter((f) => f.clientHelloLost).length,
    fragmentedClientHello: flows.filter((f) => f.fragmentedClientHello).length,
    reordered: flows.filter((f) => f.reordered).length,
    datagrams: flows.reduce((n, f) => n + f.datagrams, 0),
    lost: flows.reduce((n, f) => n + f.lost, 0),
  };
  const report = {
    bench: "voice-setup",
    machine: {
      cpus: availableParallelism(),
      cpuModel: cpus()[0]?.model,
      node: process.version,
      loadAverage: load,
    },
    chromium: chromiumVersion,
    impairment: { up, down, seed: flags.seed === undefined ? null : Number(flags.seed) },
    capMs,
    runs: results.length,
    measured: measured.length,
    harnessErrors: results.length - measured.length,
    successes: connected.length,
    successRate,
    successRate95: wilson(connected.length, measured.length),
    failureKinds,
    setupMs: times,
    firstAttemptSetupMs: summarize(firstTry),
    attemptsWhenConnected: attempts,
    retriedRuns: measured.filter((r) => r.offers > 1).length,
    pageOpenMs: summarize(results.filter((r) => r.pageMs !== null).map((r) => r.pageMs as number)),
    serverHealthyMs: round(healthyMs),
    wallSeconds: wallS,
    uplink: uplink
      ? {
          packets: uplink.packets,
          lost: uplink.lost,
          lossRate: uplink.packets ? round(uplink.lost / uplink.packets, 4) : 0,
          refusedOutside: uplink.refusedOutside ?? 0,
        }
      : null,
    dtlsUplink: handshakes,
    target: {
      successRate: 0.99,
      medianMs: 3000,
      met: successRate >= 0.99 && times.median < 3000 && measured.length === results.length,
    },
    serverWarnings: serverLog
      .split("\n")
      .filter((l) => l.trim())
      .slice(-20),
    results,
  };
  mkdirSync(dirname(flags.out as string), { recursive: true });
  writeFileSync(flags.out as string, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
  const kinds = Object.entries(failureKinds)
    .map(([k, n]) => `${n} ${k}`)
    .join(", ");
  const [lo, hi] = report.successRate95;
  console.log(
    `\nVoice set-up from Chromium over ${up ? `an impaired uplink ("${up}")` : "an unimpaired link"}: ` +
      `${connected.length} of ${measured.length} set-ups connected (${round(successRate * 100, 1)}%, 95% interval ` +
      `${round(lo * 100, 1)}-${round(hi * 100, 1)}%)${kinds ? `; failures: ${kinds}` : ""}` +
      `${report.harnessErrors ? `; ${report.harnessErrors} runs lost to harness errors` : ""}. ` +
      `Set-up time when connected: median ${times.median} ms, p95 ${times.p95} ms, max ${times.max} ms; ` +
      `${report.retriedRuns} runs needed more than one attempt (${JSON.stringify(attempts)} by voice-offers). ` +
      `The uplink lost ${uplink ? `${uplink.lost} of ${uplink.packets} packets` : "an unknown share of packets"}; ` +
      `of ${handshakes.flows} DTLS handshakes it carried, ${handshakes.withLoss} lost a datagram ` +
      `(${handshakes.clientHelloLost} a ClientHello one), ${handshakes.reordered} had datagrams reordered and ` +
      `${handshakes.fragmentedClientHello} sent a fragmented ClientHello. ` +
      `Target (>= 99%, median < 3 s): ${report.target.met ? "met" : "missed"}. ` +
      `${report.machine.cpus} cores, load ${load.before.join("/")} before and ${load.after.join("/")} after ` +
      `(other work shares this machine); Chromium ${chromiumVersion}.`,
  );
  if (!report.target.met) process.exitCode = 1;
}

const session = NetnsSession.open("voice-setup", flags.force);
try {
  await main(session);
} finally {
  await session.close();
}
