/**
 * Speaking-onset benchmark: how long after a voice's sound reaches a listener's playout the
 * speaker's avatar starts speaking on that listener's screen (the brief asks for under 100 ms).
 *
 * Ada's fake microphone plays a tone that starts every 1.4 s (1 s of silence, 0.4 s of 440 Hz);
 * Ben listens in the real room page. In Ben's page a tap on each incoming WebRTC track (a
 * ScriptProcessor of 256 samples = 5.3 ms, installed before the app loads) notes when sound
 * arrives; a MutationObserver notes when Ada's seat turns `data-speaking="true"`. The difference per
 * onset is the detection delay the product adds; mouth-to-ear (bench/voice-latency.ts) comes before it.
 *
 *   npm run bench:onset -- [--onsets 12]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { chromium, type Page } from "playwright-core";
import { writeWav } from "../packages/bot/src/audio/wav.ts";
import { startTestServer } from "../packages/server/test/harness.ts";
import { CHROMIUM_PATH, CHROMIUM_VOICE_ARGS } from "../test/e2e/chromium.ts";
import { summarize } from "./lib/stats.ts";

const { values: flags } = parseArgs({ options: { onsets: { type: "string", default: "12" } } });
const wanted = Number(flags.onsets);
const ROOT = resolve(import.meta.dirname, "..");
const SILENCE_WAV = resolve(ROOT, "../shared/fixtures/silence.wav");

/** 1 s of silence then 0.4 s of tone, repeated: each tone is a fresh onset after the 300 ms hold. */
function toneBursts(cycles: number): Int16Array {
  const rate = 48_000;
  const cycle = Math.round(1.4 * rate);
  const pcm = new Int16Array(cycle * cycles);
  for (let c = 0; c < cycles; c++)
    for (let i = 0; i < 0.4 * rate; i++)
      pcm[c * cycle + rate + i] = Math.round(0.3 * 32767 * Math.sin((2 * Math.PI * 440 * i) / rate));
  return pcm;
}

/**
 * Installed before the page's own scripts: notes when sound arrives on any incoming track. A string,
 * not a function: tsx would wrap a function's inner functions in a helper the page does not have.
 */
const TAP_SCRIPT = `
(() => {
  window.__onsets = [];
  window.__speaking = [];
  const Original = window.RTCPeerConnection;
  let ctx;
  const tap = (track) => {
    ctx = ctx || new AudioContext();
    const source = ctx.createMediaStreamSource(new MediaStream([track]));
    const processor = ctx.createScriptProcessor(256, 1, 1);
    let loud = false;
    let quietSince = 0;
    processor.onaudioprocess = (event) => {
      const data = event.inputBuffer.getChannelData(0);
      let peak = 0;
      for (let i = 0; i < data.length; i++) peak = Math.max(peak, Math.abs(data[i]));
      const now = performance.now();
      if (peak > 0.05) {
        if (!loud) window.__onsets.push(now);
        loud = true;
        quietSince = 0;
      } else if (loud) {
        quietSince = quietSince || now;
        if (now - quietSince > 500) loud = false;
      }
    };
    source.connect(processor);
    processor.connect(ctx.destination);
    ctx.resume();
  };
  function Patched(...args) {
    const pc = new Original(...args);
    pc.addEventListener("track", (event) => tap(event.track));
    return pc;
  }
  Patched.prototype = Original.prototype;
  window.RTCPeerConnection = Patched;
})();
`;

async function open(args: string[], url: string): Promise<Page> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args });
  const page = await browser.newPage();
  page.on("close", () => void browser.close());
  return page.goto(url).then(() => page);
}

const dir = await mkdtemp(join(tmpdir(), "roundtable-onset-"));
const tone = join(dir, "bursts.wav");
await writeWav(tone, toneBursts(wanted + 4));
const server = await startTestServer({
  WEB_DIR: join(ROOT, "packages/web/dist"),
  RTC_LISTEN_ADDRESS: "127.0.0.1",
  RTC_ANNOUNCED_ADDRESSES: "127.0.0.1",
});
const pages: Page[] = [];
try {
  const conference = await server.api.createConference("Onset");
  const ada = await server.api.register(conference.id, { name: "Ada" });
  const ben = await server.api.register(conference.id, { name: "Ben" });
  await server.api.build(conference.id, conference.hostToken);
  const fake = (wav: string) => [
    ...CHROMIUM_VOICE_ARGS,
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    `--use-file-for-fake-audio-capture=${wav}`,
  ];
  const benBrowser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: fake(SILENCE_WAV) });
  const benPage = await benBrowser.newPage();
  await benPage.addInitScript(TAP_SCRIPT);
  await benPage.goto(ben.roomUrl);
  pages.push(benPage, await open(fake(tone), ada.roomUrl));
  for (const page of pages) {
    await page.getByTestId("room").waitFor();
    await page.evaluate(() => window.roundtable?.joinVoice());
  }
  await benPage.evaluate((adaId) => {
    const w = window as unknown as { __speaking: number[] };
    const seat = document.querySelector(`[data-testid=seat][data-member-id="${adaId}"]`);
    if (!seat) throw new Error("no seat for Ada");
    new MutationObserver(() => {
      if (seat.getAttribute("data-speaking") === "true") w.__speaking.push(performance.now());
    }).observe(seat, { attributes: true, attributeFilter: ["data-speaking"] });
  }, ada.memberId);
  await benPage.waitForFunction(
    (n) => (window as unknown as { __speaking: number[] }).__speaking.length >= n,
    wanted + 1,
    {
      timeout: (wanted + 6) * 1400 + 20_000,
      polling: 200,
    },
  );
  const { onsets, speaking } = await benPage.evaluate(() => {
    const w = window as unknown as { __onsets: number[]; __speaking: number[] };
    return { onsets: w.__onsets, speaking: w.__speaking };
  });
  // The first onset after joining may predate the observer; pair each later onset with the first
  // speaking mark after it.
  const delays: number[] = [];
  for (const onset of onsets.slice(1)) {
    const mark = speaking.find((t) => t >= onset - 1 && t - onset < 1000);
    if (mark !== undefined) delays.push(mark - onset);
  }
  const stats = summarize(delays.slice(0, wanted));
  const report = {
    bench: "speaking-onset",
    onsets: onsets.length,
    speakingMarks: speaking.length,
    delayMs: stats,
  };
  console.log(JSON.stringify(report, null, 2));
  console.log(
    `\nSpeaking onset (sound at the listener's playout -> avatar speaking): median ${stats.median.toFixed(1)} ms, ` +
      `p95 ${stats.p95.toFixed(1)} ms, max ${stats.max.toFixed(1)} ms over ${stats.n} onsets ` +
      `(aim < 100 ms: ${stats.p95 < 100 ? "PASS" : "MISS"})`,
  );
} finally {
  for (const page of pages) await page.close().catch(() => {});
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
