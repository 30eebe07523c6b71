import { rms, rmsOfRfc6464 } from "./audio/level.ts";
import { SlotTimeline } from "./audio/Mixdown.ts";
import type { OpusDecoder } from "./audio/opus.ts";

export interface ReceiveCounters {
  packets: number;
  /** RTP bytes (header with extensions + payload). */
  bytes: number;
  /** Sequence numbers skipped (lost, or not yet arrived: a late packet does not undo it). */
  lost: number;
  /** Packets older than one already seen (reordered or duplicated); not decoded. */
  late: number;
  /** Decoded samples and the sum of their squares (full scale 1), for the RMS of what was heard. */
  samples: number;
  sumSquares: number;
}

export interface SlotCounters extends ReceiveCounters {
  /** Level (0..1) of the latest frame and when it arrived (ms). */
  level: number;
  lastAt: number;
}

export const emptyCounters = (): ReceiveCounters => ({
  packets: 0,
  bytes: 0,
  lost: 0,
  late: 0,
  samples: 0,
  sumSquares: 0,
});

/** One RTP packet of a slot, as far as counting and decoding need it. */
export interface SlotPacket {
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  /** RTP bytes: header with extensions + payload. */
  bytes: number;
  payload: Buffer;
  /** RFC 6464 level from the header extension, when the packet carried one. */
  level: number | undefined;
}

/**
 * What arrives on one receive slot: counters (also credited to the member the slot carries), the
 * latest level, and, with a decoder, the decoded PCM. Without a decoder the level comes from the
 * RTP audio-level extension, which is far cheaper.
 */
export class SlotReceiver {
  readonly counters: SlotCounters = { ...emptyCounters(), level: 0, lastAt: Number.NEGATIVE_INFINITY };
  /** Where this slot's audio goes on the recording's timeline. */
  readonly timeline = new SlotTimeline();
  private lastSeq: number | undefined;

  constructor(private readonly decoder: OpusDecoder | undefined) {}

  /** Counts one packet and decodes it; returns the PCM (undefined when late or not decoding). */
  receive(packet: SlotPacket, now: number, member: ReceiveCounters | undefined): Int16Array | undefined {
    const c = this.counters;
    c.packets++;
    c.bytes += packet.bytes;
    if (member) {
      member.packets++;
      member.bytes += packet.bytes;
    }
    if (this.lastSeq !== undefined) {
      const gap = (packet.sequenceNumber - this.lastSeq) & 0xffff;
      if (gap === 0 || gap >= 0x8000) {
        c.late++;
        if (member) member.late++;
        return undefined;
      }
      c.lost += gap - 1;
      if (member) member.lost += gap - 1;
    }
    this.lastSeq = packet.sequenceNumber;
    c.lastAt = now;
    if (!this.decoder) {
      c.level = packet.level === undefined ? 0 : rmsOfRfc6464(packet.level);
      return undefined;
    }
    const pcm = this.decoder.decode(packet.payload);
    let sum = 0;
    for (let i = 0; i < pcm.length; i++) {
      const s = (pcm[i] as number) / 32768;
      sum += s * s;
    }
    c.level = rms(pcm);
    c.samples += pcm.length;
    c.sumSquares += sum;
    if (member) {
      member.samples += pcm.length;
      member.sumSquares += sum;
    }
    return pcm;
  }

  close(): void {
    this.decoder?.delete();
  }
}
