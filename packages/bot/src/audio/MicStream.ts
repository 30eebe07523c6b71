import { FRAME_SAMPLES } from "./opus.ts";
import { VOICE_RATE } from "./wav.ts";

/** What goes into one outgoing RTP packet of the microphone, before the peer adds SSRC and MID. */
export interface MicPacket {
  sequenceNumber: number;
  timestamp: number;
  /** First packet of a talk spurt (after the start, a mute or any pause in sending). */
  marker: boolean;
  /** RFC 6464 level: 0 loudest .. 127 silence. */
  level: number;
  voiced: boolean;
}

const TICKS_PER_MS = VOICE_RATE / 1000;

/**
 * The numbering of one microphone stream: sequence numbers go up by one per packet sent, and the
 * RTP timestamp follows the sampling clock, so after a pause (muted, nothing playing) it jumps by
 * the time that passed, as a real microphone's would, and the next packet carries the marker bit.
 */
export class MicStream {
  private seq: number;
  private ts: number;
  private lastSentAt: number | undefined;
  private spurtStart = true;

  constructor(
    initialSeq = Math.floor(Math.random() * 0x10000),
    initialTs = Math.floor(Math.random() * 2 ** 32),
  ) {
    this.seq = initialSeq & 0xffff;
    this.ts = initialTs >>> 0;
  }

  /** Numbering for the next 20 ms frame, sent at `now` (ms). */
  next(now: number, level: number, voiced: boolean): MicPacket {
    if (this.lastSentAt !== undefined) {
      this.seq = (this.seq + 1) & 0xffff;
      const ticks = this.spurtStart
        ? Math.max(FRAME_SAMPLES, Math.round((now - this.lastSentAt) * TICKS_PER_MS))
        : FRAME_SAMPLES;
      this.ts = (this.ts + ticks) >>> 0;
    }
    const packet: MicPacket = {
      sequenceNumber: this.seq,
      timestamp: this.ts,
      marker: this.spurtStart,
      level,
      voiced,
    };
    this.spurtStart = false;
    this.lastSentAt = now;
    return packet;
  }

  /** Sending stopped (mute, end of a file): the next packet starts a new talk spurt. */
  pause(): void {
    this.spurtStart = true;
  }
}
