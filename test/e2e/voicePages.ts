import { type Browser, chromium, type LaunchOptions, type Page } from "playwright-core";
import { CHROMIUM_PATH, CHROMIUM_VOICE_ARGS, WAIT_MS } from "./chromium.ts";

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
