/** The latency benches' microphone (a burst a second) and how its onsets pair up at a receiver. */
import { encodeWav } from "../../packages/bot/src/audio/wav.ts";

/** One second: 50 ms of a 1 kHz sine at half scale, then silence. Chrome loops the file. */
export function burstWav(): Buffer {
  const pcm = new Int16Array(48_000);
  for (let i = 0; i < 2400; i++) pcm[i] = Math.round(16384 * Math.sin((2 * Math.PI * 1000 * i) / 48_000));
  return encodeWav(pcm);
}

/** Each sender onset paired with the first receiver onset 0-500 ms after it. */
export function latencies(sent: number[], heard: number[]): number[] {
  const out: number[] = [];
  for (const s of sent) {
    const r = heard.find((h) => h > s && h - s < 500);
    if (r !== undefined) out.push(r - s);
  }
  return out;
}
