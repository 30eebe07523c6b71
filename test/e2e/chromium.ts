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
