/** Levels measured with WebAudio analysers: the microphone's and each voice slot's. */

/** 1024 samples at 48 kHz is about 21 ms: one reading covers one 20 ms poll. */
export const FFT_SIZE = 1024;

/** Root mean square of the analyser's current window: 0 for silence, 1 for a full-scale square wave. */
export function rms(analyser: AnalyserNode, samples: Float32Array<ArrayBuffer>): number {
  analyser.getFloatTimeDomainData(samples);
  let sum = 0;
  for (const s of samples) sum += s * s;
  return Math.min(1, Math.sqrt(sum / samples.length));
}

/** A perceptual 0-1 scale for meters and rings: -54 dBFS and below is 0, -12 dBFS and above is 1. */
export function levelToDisplay(level: number): number {
  if (level <= 0) return 0;
  const db = 20 * Math.log10(level);
  return Math.max(0, Math.min(1, (db + 54) / 42));
}
