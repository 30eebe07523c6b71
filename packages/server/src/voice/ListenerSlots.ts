/**
 * Which speaker each of one listener's send slots carries. With more speakers than slots the
 * loudest win; hysteresis keeps a slot from flapping between two voices of similar loudness.
 *
 * Levels are RFC 6464 audio levels: 0 is the loudest (0 dBov), 127 silence. They are smoothed per
 * speaker, since one 20 ms frame says little about who is talking.
 */
export interface SlotPolicy {
  slots: number;
  /** A newcomer must be this many dB louder than the quietest occupant to take its slot. */
  hysteresisDb: number;
  /** An occupant keeps its slot at least this long (milliseconds) once given it. */
  minHoldMs: number;
  /** An occupant that sent nothing for this long (milliseconds) leaves its slot to anyone. */
  idleMs: number;
}

export const DEFAULT_SLOT_POLICY: SlotPolicy = { slots: 3, hysteresisDb: 6, minHoldMs: 1000, idleMs: 500 };

interface Occupant {
  speakerId: string;
  since: number;
  lastPacketAt: number;
}

export type SlotChange = { slot: number; speakerId: string | undefined };

export class ListenerSlots {
  private readonly occupants: (Occupant | undefined)[];
  private readonly loudness = new Map<string, number>();

  /** `onChange` hears of every reassignment: given once, since `admit` runs for every packet. */
  constructor(
    private readonly policy: SlotPolicy = DEFAULT_SLOT_POLICY,
    private readonly onChange: (change: SlotChange) => void = () => {},
  ) {
    this.occupants = new Array(policy.slots).fill(undefined);
  }

  /**
   * Records a packet of `speakerId` at `level` and says which slot carries it, or undefined when
   * louder speakers hold every slot.
   */
  admit(speakerId: string, level: number, now: number): number | undefined {
    const loudness = this.smooth(speakerId, level);
    for (let i = 0; i < this.occupants.length; i++) {
      const occupant = this.occupants[i];
      if (occupant?.speakerId !== speakerId) continue;
      occupant.lastPacketAt = now;
      return i;
    }
    let target = this.occupants.findIndex(
      (o) => o === undefined || now - o.lastPacketAt >= this.policy.idleMs,
    );
    if (target < 0) {
      let quietest = -1;
      let quietestLoudness = Number.POSITIVE_INFINITY;
      this.occupants.forEach((o, i) => {
        if (!o || now - o.since < this.policy.minHoldMs) return;
        const l = this.loudness.get(o.speakerId) ?? 0;
        if (l < quietestLoudness) {
          quietest = i;
          quietestLoudness = l;
        }
      });
      if (quietest < 0 || loudness < quietestLoudness + this.policy.hysteresisDb) return undefined;
      target = quietest;
    }
    this.occupants[target] = { speakerId, since: now, lastPacketAt: now };
    this.onChange({ slot: target, speakerId });
    return target;
  }

  /** Frees the slot of a speaker who stopped, left, or may no longer be heard by this listener. */
  release(speakerId: string): void {
    this.loudness.delete(speakerId);
    const held = this.occupants.findIndex((o) => o?.speakerId === speakerId);
    if (held < 0) return;
    this.occupants[held] = undefined;
    this.onChange({ slot: held, speakerId: undefined });
  }

  speakerIn(slot: number): string | undefined {
    return this.occupants[slot]?.speakerId;
  }

  /** Loudness in dB above silence (0-127), smoothed over about 100 ms of 20 ms frames. */
  private smooth(speakerId: string, level: number): number {
    const instant = 127 - Math.min(127, Math.max(0, level));
    const previous = this.loudness.get(speakerId);
    const next = previous === undefined ? instant : previous * 0.8 + instant * 0.2;
    this.loudness.set(speakerId, next);
    return next;
  }
}
