/**
 * Mouth-to-ear latency in Chromium: the same fake microphone (a 50 ms 1 kHz burst once a second)
 * reaches one page through the Roundtable server (werift SFU) and another through a direct
 * browser-to-browser call, in the same run. Latency = onset at the receiver's playout tap minus
 * onset at the sender's microphone tap (both AudioWorklets on one wall clock; see
 * bench/lib/latencyPage.ts). Everything on loopback.
 *
 *   npm run bench:latency -- [--bursts 30] [--chromium /usr/bin/chromium]
 *
 * Results: JSON on stdout (and in bench/results/voice-latency.json), then a summary.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { RoundtableApi } from "@roundtable/client-core";
import { chromium, type Page } from "playwright-core";
import { CHROMIUM_VOICE_ARGS } from "../test/e2e/chromium.ts";
import { burstWav, latencies } from "./lib/bursts.ts";
import { LATENCY_PAGE, ONSET_WORKLET } from "./lib/latencyPage.ts";
import { freePort, ServerProcess } from "./lib/serverProcess.ts";
import { round, summarize } from "./lib/stats.ts";

const root = resolve(import.meta.dirname, "..");
const { values: flags } = parseArgs({
  options: {
    bursts: { type: "string", default: "30" },
    chromium: { type: "string", default: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" },
    out: { type: "string", default: join(root, "bench/results/voice-latency.json") },
  },
});
const bursts = Number(flags.bursts);
if (!Number.isInteger(bursts) || bursts < 3) throw new TypeError("--bursts must be a whole number >= 3");

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "roundtable-latency-"));
  const wav = join(dir, "burst.wav");
  writeFileSync(wav, burstWav());
  const host = "127.0.0.1";
  const server = new ServerProcess({
    cwd: root,
    entry: "packages/server/src/main.ts",
    host,
    port: await freePort(host),
    env: {
      DATA_DIR: join(dir, "data"),
      LOG_LEVEL: "warn",
      RTC_LISTEN_ADDRESS: host,
      RTC_ANNOUNCED_ADDRESSES: host,
      WEB_DIR: join(dir, "no-web"),
    },
  });
  const pages = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/onset.js") {
      res.writeHead(200, { "content-type": "text/javascript" }).end(ONSET_WORKLET);
    } else if (path === "/") {
      res.writeHead(200, { "content-type": "text/html" }).end(LATENCY_PAGE);
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => pages.listen(0, host, r));
  const pageOrigin = `http://${host}:${(pages.address() as AddressInfo).port}`;
  const browser = await chromium.launch({
    executablePath: flags.chromium,
    args: [
      ...CHROMIUM_VOICE_ARGS,
      "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream",
      `--use-file-for-fake-audio-capture=${wav}`,
    ],
  });
  try {
    await server.waitHealthy();
    const api = new RoundtableApi(server.baseUrl);
    const conference = await api.createConference("Latency");
    await api.build(conference.id, conference.hostToken);
    const speaker = await api.register(conference.id, { name: "Speaker" });
    const listener = await api.register(conference.id, { name: "Listener" });
    const open = async (role: string, token?: string): Promise<Page> => {
      const page = await (await browser.newContext()).newPage();
      const ws = token ? `&ws=${encodeURIComponent(api.socketUrl(conference.id, token))}` : "";
      await page.goto(`${pageOrigin}/?role=${role}${ws}`);
      await page.waitForFunction(
        () => (window as unknown as { bench?: { ready?: boolean } }).bench?.ready,
        null,
        {
          timeout: 15_000,
        },
      );
      return page;
    };
    const sender = await open("sender", speaker.token);
    const viaServer = await open("sfu", listener.token);
    const direct = await open("direct");
    const offer = await sender.evaluate(() =>
      (window as unknown as { directOffer(name: string, red: boolean): Promise<string> }).directOffer(
        "direct",
        false,
      ),
    );
    const answer = await direct.evaluate(
      (sdp) => (window as unknown as { directAccept(s: string): Promise<string> }).directAccept(sdp),
      offer,
    );
    await sender.evaluate(
      (sdp) =>
        (window as unknown as { directAnswer(n: string, s: string): Promise<void> }).directAnswer(
          "direct",
          sdp,
        ),
      answer,
    );
    type Bench = { onsets: number[]; state: string; errors: string[] };
    const state = (p: Page) => p.evaluate(() => (window as unknown as { bench: Bench }).bench);
    for (const p of [sender, viaServer, direct])
      await p.waitForFunction(
        () => (window as unknown as { bench: Bench }).bench.state === "connected",
        null,
        { timeout: 20_000 },
      );
    // Skip the first bursts (jitter buffers settle), then collect.
    await sleep(3000);
    const startAt = Date.now();
    await sleep(bursts * 1000 + 1000);
    const [s, v, d] = await Promise.all([sender, viaServer, direct].map(state));
    if (!s || !v || !d) throw new Error("a page lost its state");
    const sent = s.onsets.filter((t) => t >= startAt && t < startAt + bursts * 1000);
    const throughServer = latencies(sent, v.onsets);
    const browserToBrowser = latencies(sent, d.onsets);
    const stats = (p: Page) =>
      p.evaluate(() => (window as unknown as { inbound(): Promise<unknown> }).inbound());
    const report = {
      bench: "voice-latency",
      machine: { cpus: availableParallelism(), cpuModel: cpus()[0]?.model, node: process.version },
      chromium: browser.version(),
      burstsSent: sent.length,
      throughServerMs: { ...summarize(throughServer), matched: throughServer.length },
      directMs: { ...summarize(browserToBrowser), matched: browserToBrowser.length },
      addedByServerMs: round(summarize(throughServer).median - summarize(browserToBrowser).median),
      inbound: { throughServer: await stats(viaServer), direct: await stats(direct) },
      jitterBufferMs: { throughServer: 0, direct: 0 },
      errors: [...s.errors, ...v.errors, ...d.errors].slice(0, 10),
    };
    type Inbound = { jitterBufferDelay: number; jitterBufferEmittedCount: number };
    const jb = (i: unknown) => {
      const { jitterBufferDelay, jitterBufferEmittedCount } = i as Inbound;
      return jitterBufferEmittedCount > 0
        ? round((jitterBufferDelay / jitterBufferEmittedCount) * 1000, 1)
        : 0;
    };
    report.jitterBufferMs = {
      throughServer: jb(report.inbound.throughServer),
      direct: jb(report.inbound.direct),
    };
    mkdirSync(dirname(flags.out as string), { recursive: true });
    writeFileSync(flags.out as string, `${JSON.stringify(report, null, 2)}\n`);
    console.log(JSON.stringify(report, null, 2));
    console.log(
      [
        `\nMouth-to-ear on loopback, ${report.burstsSent} bursts (${report.machine.cpus} cores, Chromium ${report.chromium})`,
        `  through the server: median ${report.throughServerMs.median} ms, p95 ${report.throughServerMs.p95} ms (${report.throughServerMs.matched} matched)`,
        `  direct call:        median ${report.directMs.median} ms, p95 ${report.directMs.p95} ms (${report.directMs.matched} matched)`,
        `  added by the server (median difference): ${report.addedByServerMs} ms`,
        `  mean jitter buffer delay: ${report.jitterBufferMs.throughServer} ms through the server, ${report.jitterBufferMs.direct} ms direct`,
      ].join("\n"),
    );
    if (throughServer.length === 0 || browserToBrowser.length === 0) process.exitCode = 1;
  } finally {
    await browser.close();
    pages.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
