/**
 * Loudness on the two scales voice uses: RMS relative to full scale (0 silence .. 1 full scale; what
 * `MediaEngine.slotLevel` returns and VoiceSession's threshold is on) and the RFC 6464 audio level
 * carried in RTP (0 loudest = 0 dBov .. 127 = -127 dBov or quieter).
 */

/** Root mean square of 16-bit samples in [start, end), normalised to full scale (0..1). */
export function rms(pcm: Int16Array, start = 0, end = pcm.length): number {
  const n = end - start;
  if (n <= 0) return 0;
  let sum = 0;
  for (let i = start; i < end; i++) {
    const s = pcm[i] as number;
    sum += s * s;
  }
  return Math.min(1, Math.sqrt(sum / n) / 32768);
}

/** RFC 6464 level (-dBov, 0..127) of an RMS on the 0..1 scale. */
export function rfc6464Level(rmsValue: number): number {
  if (!(rmsValue > 0)) return 127;
  return Math.max(0, Math.min(127, Math.round(-20 * Math.log10(rmsValue))));
}

/** The RMS (0..1) an RFC 6464 level stands for; 127 counts as silence. */
export function rmsOfRfc6464(level: number): number {
  if (level >= 127) return 0;
  return 10 ** (-Math.max(0, level) / 20);
}
