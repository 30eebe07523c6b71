/**
 * How the tests and benchmarks start Debian's Chromium: never a downloaded browser, and flags that
 * keep it off the network (this machine reaches only loopback and package registries).
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export const CHROMIUM_ARGS: readonly string[] = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** For voice: autoplay allowed, and no mDNS host candidates, so WebRTC traffic stays on this machine. */
export const CHROMIUM_VOICE_ARGS: readonly string[] = [
  ...CHROMIUM_ARGS,
  "--autoplay-policy=no-user-gesture-required",
  "--disable-features=WebRtcHideLocalIpsWithMdns",
];

/** How long a browser test waits for any one condition before calling it a failure. */
export const WAIT_MS = 20_000;

/**
 * Polls `probe` until it returns a value. Re-checking a condition, not a sleep standing in for one:
 * the timeout only turns a hang into a failure.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = WAIT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
