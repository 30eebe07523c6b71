import { type Browser, chromium, type LaunchOptions, type Page } from "playwright-core";
import type { VoiceSlotStats } from "../../packages/web/src/room/RoomControls.ts";
import { CHROMIUM_PATH, CHROMIUM_VOICE_ARGS, until, WAIT_MS } from "./chromium.ts";

/** Packets of 20 ms: 50 are one second of voice. */
export const SECOND = 50;

/** A browser whose one fake microphone plays `wav` (looping), granted without a prompt. */
export const micArgs = (wav: string) => [
  ...CHROMIUM_VOICE_ARGS,
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream",
  `--use-file-for-fake-audio-capture=${wav}`,
];

/**
 * Opens room pages, each in a browser process of its own (one fake microphone per process), and
 * collects console errors, uncaught exceptions and CSP violations into `problems`.
 */
export class RoomPages {
  readonly browsers: Browser[] = [];
  readonly problems: string[] = [];

  /** `launch` adds to the launch options (an environment, default arguments to leave out). */
  async open(args: string[], label: string, roomUrl: string, launch: LaunchOptions = {}): Promise<Page> {
    const browser = await chromium.launch({ ...launch, executablePath: CHROMIUM_PATH, args });
    this.browsers.push(browser);
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      deviceScaleFactor: 1,
      colorScheme: "light",
    });
    await context.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (event) => {
        console.error(
          `CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline code"}`,
        );
      });
    });
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.on("console", (message) => {
      if (message.type() === "error") this.problems.push(`[${label}] console: ${message.text()}`);
    });
    page.on("pageerror", (error) => this.problems.push(`[${label}] uncaught: ${error.message}`));
    await page.goto(roomUrl);
    await page.getByTestId("room").waitFor();
    return page;
  }

  async close(): Promise<void> {
    await Promise.all(this.browsers.map((b) => b.close().catch(() => {})));
  }
}

export const seatOf = (page: Page, memberId: string) =>
  page.locator(`[data-testid=seat][data-member-id="${memberId}"]`);

export function voiceStats(page: Page): Promise<VoiceSlotStats[]> {
  return page.evaluate(() => {
    if (!window.roundtable) throw new Error("window.roundtable is missing");
    return window.roundtable.voiceStats();
  });
}

/** The slot carrying `memberId` on this page, if any. */
export async function slotOf(page: Page, memberId: string): Promise<VoiceSlotStats | undefined> {
  return (await voiceStats(page)).find((s) => s.memberId === memberId);
}

/**
 * Waits until `page` receives `memberId`'s voice: its slot's packet counter moves on by a second's
 * worth, and there is sound in it. Where that sound is measured depends on the listener's setting:
 * with spatial audio off the media element plays the voice, and Chromium's inbound-rtp audioLevel
 * and totalAudioEnergy show it; with spatial audio on (the default) the element is muted and WebAudio
 * plays the voice, and Chromium measures those two after the element's volume, so they stay 0: the
 * page's own WebAudio level (`level`) shows the sound instead.
 */
export async function waitForVoice(
  page: Page,
  memberId: string,
  label: string,
  spatial: boolean,
): Promise<VoiceSlotStats> {
  const first = await until(`${label} has a slot for the speaker`, () => slotOf(page, memberId));
  let heard = false;
  return until(`${label} receives audio`, async () => {
    const now = await slotOf(page, memberId);
    if (!now) return undefined;
    if (spatial ? now.level > 0.01 : now.audioLevel > 0) heard = true;
    const moving = now.slot !== first.slot || now.packetsReceived >= first.packetsReceived + SECOND;
    const energy = spatial || now.totalAudioEnergy > first.totalAudioEnergy;
    return moving && heard && energy ? now : undefined;
  });
}
