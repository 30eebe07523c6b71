/**
 * Voice on bad networks, three ways at once: through the Roundtable server (werift SFU, RED and
 * per-hop repair), a direct browser-to-browser call with Chromium's defaults (Opus), and a direct
 * call with RED preferred. One speaker page in rtq-spk feeds all three from one fake microphone (a
 * 50 ms 1 kHz burst every second); three receiver pages in rtq-lst. link.py applies the same netem
 * spec on speaker->server and server->listener, and rtq-srv routes the direct calls, so every path
 * crosses the same two impaired hops ("per hop" figures). Root only.
 *
 *   node --import tsx bench/voice-network.ts [--seconds 20] [--conditions none,jitter,loss2,loss5,loss10,burst]
 *     [--seed N] [--out bench/results/voice-network.json]
 *
 * Per condition and path: set-up success and time, loss the receiver saw, concealed samples (%),
 * mean jitter-buffer delay, mouth-to-ear (burst onset at the speaker's microphone tap to onset at
 * the receiver's playout tap, one wall clock). Results: JSON on stdout (and in --out), then a table.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { RoundtableApi } from "@roundtable/client-core";
import type { Browser, Page } from "playwright-core";
import { CHROMIUM_VOICE_ARGS } from "../test/e2e/chromium.ts";
import { burstWav, latencies } from "./lib/bursts.ts";
import { LATENCY_PAGE, ONSET_WORKLET } from "./lib/latencyPage.ts";
import { type LinkStats, waitHttpOk } from "./lib/netns/impair.ts";
import { NetnsSession, SERVER_ADDR, SERVER_ORIGIN } from "./lib/netns/NetnsSession.ts";
import { type Api, api } from "./lib/netns/pageApi.ts";
import { round, summarize } from "./lib/stats.ts";

const root = resolve(import.meta.dirname, "..");
const JITTER = "delay 40ms 30ms distribution normal";
/** netem specs per condition, on each of the two hops. */
const CONDITIONS: Record<string, string> = {
  none: "",
  jitter: JITTER,
  loss2: `loss 2% ${JITTER}`,
  loss5: `loss 5% ${JITTER}`,
  loss10: `loss 10% ${JITTER}`,
  // Gilbert-Elliott: bursts of about 2.5 packets, 3.6% loss on average.
  burst: `loss gemodel 2% 40% 75% 0% ${JITTER}`,
};
const PATHS = ["server", "direct", "directRed"] as const;
type Path = (typeof PATHS)[number];
const PAGE_PORT = 8080;
const PAGE_ORIGIN = `http://${SERVER_ADDR}:${PAGE_PORT}`;

const { values: flags } = parseArgs({
  options: {
    seconds: { type: "string", default: "20" },
    conditions: { type: "string", default: Object.keys(CONDITIONS).join(",") },
    seed: { type: "string" },
    chromium: { type: "string", default: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" },
    out: { type: "string", default: join(root, "bench/results/voice-network.json") },
    force: { type: "boolean", default: false },
  },
});
const seconds = Number(flags.seconds);
if (!Number.isFinite(seconds) || seconds < 5) throw new TypeError("--seconds must be at least 5");
const conditions = (flags.conditions as string).split(",").map((c) => c.trim());
for (const c of conditions) if (!(c in CONDITIONS)) throw new TypeError(`unknown condition ${c}`);

interface Inbound {
  packetsReceived: number;
  packetsLost: number;
  jitterBufferDelay: number;
  jitterBufferEmittedCount: number;
  concealedSamples: number;
  totalSamplesReceived: number;
  nackCount: number;
  bytesReceived: number;
  headerBytesReceived: number;
}
type BenchState = {
  onsets: number[];
  state: string;
  errors: string[];
  startedAt?: number;
  connectedAt?: number;
};

interface PathResult {
  connected: boolean;
  setupMs: number | null;
  lossPct: number;
  concealedPct: number;
  jitterBufferMs: number;
  nacks: number;
  /** Server path only: mean loss the server's receiver reports told the speaker's encoder, %. */
  speakerToldLossPct?: number | null;
  /** RTP payload and headers received, per second of the window. */
  kbitPerS: number;
  mouthToEarMs: ReturnType<typeof summarize> & { matched: number };
}

const state = (p: Page) => p.evaluate(() => (window as unknown as { bench: BenchState }).bench);
const inbound = (p: Page) =>
  p.evaluate(() => (window as unknown as { inbound(): Promise<Inbound> }).inbound());

/**
 * Runs `fn`, again for a few seconds while it fails: link.py restarts between conditions, its TUN
 * devices go and come back, and Chromium fails requests for a moment after it sees the network
 * change (ERR_NETWORK_CHANGED).
 */
async function afterLinkChange<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++)
    try {
      return await fn();
    } catch (error) {
      if (attempt === 20) throw error;
      await sleep(250);
    }
}

async function open(browser: Browser, query: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await afterLinkChange(() => page.goto(`${PAGE_ORIGIN}/?${query}`));
  await page.waitForFunction(
    () => (window as unknown as { bench?: { ready?: boolean } }).bench?.ready,
    null,
    {
      timeout: 30_000,
    },
  );
  return page;
}

/** The direct call named `name` from the speaker page to `receiver`. */
async function call(sender: Page, receiver: Page, name: string, red: boolean): Promise<void> {
  type Direct = {
    directOffer(n: string, r: boolean): Promise<string>;
    directAccept(s: string): Promise<string>;
    directAnswer(n: string, s: string): Promise<void>;
  };
  const offer = await sender.evaluate(
    ([n, r]) => (window as unknown as Direct).directOffer(n as string, r as boolean),
    [name, red] as const,
  );
  const answer = await receiver.evaluate((sdp) => (window as unknown as Direct).directAccept(sdp), offer);
  await sender.evaluate(([n, sdp]) => (window as unknown as Direct).directAnswer(n, sdp), [
    name,
    answer,
  ] as const);
}

async function condition(
  browsers: { speaker: Browser; listeners: Browser },
  admin: Page,
  conference: Api,
): Promise<Record<Path, PathResult>> {
  const register = (name: string) =>
    api<{ token: string }>(admin, `/api/conferences/${conference.id}/members`, {
      method: "POST",
      form: { name },
    });
  const speaker = await register("Speaker");
  const listener = await register("Listener");
  const sockets = new RoundtableApi(SERVER_ORIGIN);
  const ws = (token: string) => encodeURIComponent(sockets.socketUrl(conference.id, token));
  const sender = await open(browsers.speaker, `role=sender&ws=${ws(speaker.token)}`);
  const receivers: Record<Path, Page> = {
    server: await open(browsers.listeners, `role=sfu&ws=${ws(listener.token)}`),
    direct: await open(browsers.listeners, "role=direct"),
    directRed: await open(browsers.listeners, "role=direct"),
  };
  try {
    await call(sender, receivers.direct, "direct", false);
    await call(sender, receivers.directRed, "directRed", true);
    const connected = await Promise.all(
      PATHS.map((p) =>
        receivers[p]
          .waitForFunction(
            () => (window as unknown as { bench: BenchState }).bench.state === "connected",
            null,
            {
              timeout: 20_000,
            },
          )
          .then(
            () => true,
            () => false,
          ),
      ),
    );
    // Jitter buffers settle over the first seconds; then the measured window.
    await sleep(3000);
    const before = await Promise.all(PATHS.map((p) => inbound(receivers[p])));
    const startAt = Date.now();
    await sleep(seconds * 1000);
    // The speaker's last report from the server, sampled through the window.
    const told: number[] = [];
    for (let t = 0; t < seconds; t += 2) {
      await sleep(Math.min(2, seconds - t) * 1000);
      const loss = await sender.evaluate(() =>
        (window as unknown as { toldLoss(): Promise<number | undefined> }).toldLoss(),
      );
      if (loss !== undefined) told.push(loss);
    }
    const after = await Promise.all(PATHS.map((p) => inbound(receivers[p])));
    await sleep(600); // the last bursts' onsets reach the receivers
    const sent = (await state(sender)).onsets.filter((t) => t >= startAt && t < startAt + seconds * 1000);
    const out = {} as Record<Path, PathResult>;
    for (const [i, p] of PATHS.entries()) {
      const s = await state(receivers[p]);
      const b = before[i] as Inbound;
      const a = after[i] as Inbound;
      const received = a.packetsReceived - b.packetsReceived;
      const lost = a.packetsLost - b.packetsLost;
      const samples = a.totalSamplesReceived - b.totalSamplesReceived;
      const emitted = a.jitterBufferEmittedCount - b.jitterBufferEmittedCount;
      const m2e = latencies(sent, s.onsets);
      out[p] = {
        connected: connected[i] ?? false,
        setupMs:
          s.startedAt !== undefined && s.connectedAt !== undefined
            ? round(s.connectedAt - s.startedAt, 1)
            : null,
        lossPct: received + lost > 0 ? round((100 * lost) / (received + lost), 2) : 0,
        concealedPct: samples > 0 ? round((100 * (a.concealedSamples - b.concealedSamples)) / samples, 2) : 0,
        jitterBufferMs:
          emitted > 0 ? round(((a.jitterBufferDelay - b.jitterBufferDelay) / emitted) * 1000, 1) : 0,
        nacks: a.nackCount - b.nackCount,
        kbitPerS: round(
          ((a.bytesReceived + a.headerBytesReceived - b.bytesReceived - b.headerBytesReceived) * 8) /
            seconds /
            1000,
          1,
        ),
        mouthToEarMs: { ...summarize(m2e), matched: m2e.length },
      };
      if (s.errors.length > 0) console.error(`${p}: ${s.errors.slice(0, 3).join("; ")}`);
    }
    // Reported on the server path: the loss the server's receiver reports told Chromium's encoder.
    out.server.speakerToldLossPct = told.length
      ? round(told.reduce((a, b) => a + b, 0) / told.length, 2)
      : null;
    return out;
  } finally {
    for (const page of [sender, ...Object.values(receivers)])
      await page
        .context()
        .close()
        .catch(() => {});
  }
}

async function main(session: NetnsSession): Promise<void> {
  const pages = join(session.dir, "pages");
  mkdirSync(pages);
  writeFileSync(join(pages, "index.html"), LATENCY_PAGE);
  writeFileSync(join(pages, "onset.js"), ONSET_WORKLET);
  const wav = join(session.dir, "burst.wav");
  writeFileSync(wav, burstWav());
  const seed = flags.seed === undefined ? undefined : Number(flags.seed);
  await session.impair("", "", seed);
  await session.startServer();
  session.spawn("pages", "rtq-srv", [
    "/usr/bin/python3",
    "-m",
    "http.server",
    "--bind",
    SERVER_ADDR,
    "--directory",
    pages,
    String(PAGE_PORT),
  ]);
  const args = [
    ...CHROMIUM_VOICE_ARGS,
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    `--use-file-for-fake-audio-capture=${wav}`,
    // getUserMedia wants a secure context; these pages are plain HTTP inside the namespaces.
    `--unsafely-treat-insecure-origin-as-secure=${PAGE_ORIGIN}`,
  ];
  const browsers = {
    speaker: await session.chromium("rtq-spk", flags.chromium as string, args),
    listeners: await session.chromium("rtq-lst", flags.chromium as string, args),
  };
  const admin = await (await browsers.listeners.newContext()).newPage();
  await admin.goto(`${SERVER_ORIGIN}/healthz`, { timeout: 60_000 });
  await waitHttpOk("rtq-srv", `${PAGE_ORIGIN}/onset.js`);
  const conference = await api<Api>(admin, "/api/conferences", {
    method: "POST",
    json: { title: "Network bench" },
  });
  await api(admin, `/api/conferences/${conference.id}/build`, {
    method: "POST",
    token: conference.hostToken,
  });

  const load = { before: loadavg().map((l) => round(l)), after: [] as number[] };
  const results: Record<string, { spec: string; paths: Record<Path, PathResult>; link?: LinkStats }> = {};
  for (const name of conditions) {
    if (session.interrupted) break;
    const spec = CONDITIONS[name] as string;
    await session.impair(spec, spec, seed);
    console.error(`${name}: "${spec || "no impairment"}" on both hops, ${seconds} s`);
    const paths = await condition(browsers, admin, conference);
    const { stats } = await session.stopLink();
    results[name] = { spec, paths, ...(stats ? { link: stats } : {}) };
    for (const p of PATHS) {
      const r = paths[p];
      console.error(
        `  ${p.padEnd(9)} ${r.connected ? `up in ${r.setupMs} ms` : "NOT CONNECTED"}, loss ${r.lossPct}%, ` +
          `concealed ${r.concealedPct}%, jitter buffer ${r.jitterBufferMs} ms, mouth-to-ear ${r.mouthToEarMs.median} ms`,
      );
    }
  }
  load.after = loadavg().map((l) => round(l));
  const report = {
    bench: "voice-network",
    machine: {
      cpus: availableParallelism(),
      cpuModel: cpus()[0]?.model,
      node: process.version,
      loadAverage: load,
    },
    chromium: browsers.speaker.version(),
    secondsPerCondition: seconds,
    seed: seed ?? null,
    conditions: results,
  };
  mkdirSync(dirname(flags.out as string), { recursive: true });
  writeFileSync(flags.out as string, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
  const rows = Object.entries(results).map(([name, { paths }]) =>
    [
      name.padEnd(7),
      ...PATHS.map((p) => {
        const r = paths[p];
        return `${String(r.concealedPct).padStart(5)}% ${String(r.mouthToEarMs.median).padStart(5)} ms`;
      }),
    ].join("  "),
  );
  console.log(
    [
      `\nConcealed samples and median mouth-to-ear per path, ${seconds} s per condition, same impairment on both hops`,
      `(${report.machine.cpus} cores, load ${load.before.join("/")} before, ${load.after.join("/")} after; Chromium ${report.chromium})`,
      `cond.      ${PATHS.map((p) => p.padEnd(16)).join("")}`,
      ...rows,
    ].join("\n"),
  );
}

const session = NetnsSession.open("voice-network", flags.force);
try {
  await main(session);
} finally {
  await session.close();
}
