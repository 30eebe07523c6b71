import type { Clock } from "../conference/ports.ts";
import { TokenBucket } from "../limits/TokenBucket.ts";
import { DEFAULT_SLOT_POLICY, ListenerSlots, type SlotChange, type SlotPolicy } from "./ListenerSlots.ts";
import type { InboundPacket, OutboundPacket, VoicePeer } from "./ports.ts";
import { AudienceLoss } from "./repair/AudienceLoss.ts";
import { listenersOf, mayHear, type VoiceTarget } from "./routing.ts";
import { SlotStream } from "./SlotStream.ts";

/** What the room tells one member about their slots. */
export type SlotNotice = { slot: number; memberId: string | null; whisper: boolean };

interface Participant {
  memberId: string;
  peer: VoicePeer;
  target: VoiceTarget;
  /** Muted by the member themselves. */
  muted: boolean;
  /** Muted by the host: only the host lifts it; the member's own choice stands underneath. */
  hostMuted: boolean;
  slots: ListenerSlots;
  streams: SlotStream[];
  notify: (notice: SlotNotice) => void;
  /** The flood guard: a microphone's packets beyond a voice stream's rate are dropped. */
  budget: TokenBucket;
  /** Shared by every member voicing from the same address, when the service gives one. */
  addressBudget: TokenBucket | undefined;
  /** Who hears this member now; recomputed when the target or the room changes, not per packet. */
  audience: Participant[];
  /**
   * This member's voice is on: a packet from their microphone arrived on this peer, or the peer
   * connected while they are muted (a member without a microphone listens, muted, and sends nothing).
   */
  flowing: boolean;
  /** The peer completed ICE and DTLS. */
  connected: boolean;
  /** What this member's listeners report losing of their voice. */
  audienceLoss: AudienceLoss;
}

/** A member speaking on another node whose packets reach this one (a cluster). */
interface RemoteSpeaker {
  target: VoiceTarget;
  targetKey: string;
  audience: Participant[];
}

/** Where a speaker's packets go besides this room's own listeners: the other nodes of a cluster. */
export type RelayOut = (speakerId: string, target: VoiceTarget, packet: InboundPacket) => void;

export interface VoiceFloodLimits {
  packetsPerSecond: number;
  packetBurst: number;
}

/**
 * Forwarded from one microphone: 60 packets per second on average (20 ms Opus is 50), with a burst
 * of 3 s worth so a sender catching up after a stall, or packets queued while the server paused,
 * still pass.
 */
export const DEFAULT_VOICE_FLOOD: VoiceFloodLimits = { packetsPerSecond: 60, packetBurst: 150 };

/**
 * Voice in one conference: who is connected, whom each speaks to, and which slot of each listener
 * carries whom. Packets go from a speaker's peer to the peers of exactly those allowed to hear.
 */
export class VoiceRoom {
  private readonly participants = new Map<string, Participant>();
  private readonly connected = new Set<string>();
  private readonly remoteSpeakers = new Map<string, RemoteSpeaker>();
  /** Packets forwarded since the room opened (for benchmarks and metrics). */
  forwarded = 0;
  dropped = 0;

  constructor(
    private readonly clock: Clock,
    private readonly policy: SlotPolicy = DEFAULT_SLOT_POLICY,
    private readonly flood: VoiceFloodLimits = DEFAULT_VOICE_FLOOD,
    /** Called once per peer, on the first packet from that member's microphone. */
    private readonly onFlowing: (memberId: string) => void = () => {},
    /** Called once per packet that passed the mute and flood checks, before the local listeners. */
    private readonly relayOut: RelayOut | undefined = undefined,
  ) {}

  get size(): number {
    return this.participants.size;
  }

  /** Adds (or replaces) a member's peer. Their target and mute state carry over a replacement. */
  join(
    memberId: string,
    peer: VoicePeer,
    notify: (notice: SlotNotice) => void,
    addressBudget?: TokenBucket,
  ): void {
    const previous = this.participants.get(memberId);
    if (previous) this.leave(memberId);
    const streams = Array.from({ length: this.policy.slots }, () => new SlotStream());
    const participant: Participant = {
      memberId,
      peer,
      target: previous?.target ?? "all",
      muted: previous?.muted ?? false,
      hostMuted: previous?.hostMuted ?? false,
      slots: new ListenerSlots(this.policy, (change) => this.announce(participant, change)),
      streams,
      notify,
      budget: new TokenBucket(this.flood.packetBurst, this.flood.packetsPerSecond, this.clock),
      addressBudget,
      audience: [],
      flowing: false,
      connected: false,
      audienceLoss: new AudienceLoss(),
    };
    this.participants.set(memberId, participant);
    this.connected.add(memberId);
    this.recomputeAudiences();
    peer.onPacket = (packet) => this.forward(participant, packet);
    peer.onListenerLoss = (slot, fraction) => this.listenerLoss(participant, slot, fraction);
  }

  /** Removes a member: their peer closes and every slot that carried them is freed. Idempotent. */
  leave(memberId: string): void {
    const participant = this.participants.get(memberId);
    if (!participant) return;
    this.participants.delete(memberId);
    this.connected.delete(memberId);
    participant.peer.onPacket = () => {};
    participant.peer.onListenerLoss = () => {};
    participant.peer.close();
    this.recomputeAudiences();
    for (const listener of this.participants.values()) listener.slots.release(memberId);
  }

  memberIds(): string[] {
    return [...this.participants.keys()];
  }

  has(memberId: string): boolean {
    return this.participants.has(memberId);
  }

  peerOf(memberId: string): VoicePeer | undefined {
    return this.participants.get(memberId)?.peer;
  }

  targetOf(memberId: string): VoiceTarget | undefined {
    return this.participants.get(memberId)?.target;
  }

  /**
   * Changes whom a member speaks to. Listeners who may no longer hear lose the slot at once (not
   * after the next packet), and those who keep hearing learn whether it is now a whisper.
   */
  setTarget(memberId: string, target: VoiceTarget): void {
    const speaker = this.participants.get(memberId);
    if (!speaker) return;
    speaker.target = target;
    speaker.audience = this.audienceOf(memberId, target);
    this.renotify(memberId, target);
  }

  /** After a speaker's target changed: each listener holding them learns whether it is a whisper, or loses them. */
  private renotify(speakerId: string, target: VoiceTarget): void {
    for (const listener of this.participants.values()) {
      const slot = slotOf(listener, speakerId);
      if (slot === undefined) continue;
      if (mayHear(speakerId, target, listener.memberId))
        listener.notify({ slot, memberId: speakerId, whisper: target !== "all" });
      else listener.slots.release(speakerId);
    }
  }

  setMuted(memberId: string, muted: boolean): void {
    const speaker = this.participants.get(memberId);
    if (!speaker) return;
    speaker.muted = muted;
    this.mutedChanged(speaker);
  }

  /** The host's mute: forwarding stops at once, whatever the member chose. */
  setHostMuted(memberId: string, hostMuted: boolean): void {
    const speaker = this.participants.get(memberId);
    if (!speaker) return;
    speaker.hostMuted = hostMuted;
    this.mutedChanged(speaker);
  }

  private mutedChanged(speaker: Participant): void {
    if (!this.silenced(speaker)) return;
    for (const listener of this.participants.values()) listener.slots.release(speaker.memberId);
    if (speaker.connected) this.markFlowing(speaker);
  }

  private silenced(speaker: Participant): boolean {
    return speaker.muted || speaker.hostMuted;
  }

  /** The member's peer completed ICE and DTLS. */
  peerConnected(memberId: string): void {
    const participant = this.participants.get(memberId);
    if (!participant) return;
    participant.connected = true;
    if (this.silenced(participant)) this.markFlowing(participant);
  }

  private markFlowing(participant: Participant): void {
    if (participant.flowing) return;
    participant.flowing = true;
    this.onFlowing(participant.memberId);
  }

  isHostMuted(memberId: string): boolean {
    return this.participants.get(memberId)?.hostMuted ?? false;
  }

  /** Muted by themselves or by the host: either way nothing of theirs is forwarded. */
  isMuted(memberId: string): boolean {
    const participant = this.participants.get(memberId);
    return participant !== undefined && this.silenced(participant);
  }

  /** Whether the member's current peer has delivered a packet from their microphone. */
  isFlowing(memberId: string): boolean {
    return this.participants.get(memberId)?.flowing ?? false;
  }

  close(): void {
    for (const id of [...this.participants.keys()]) this.leave(id);
    this.remoteSpeakers.clear();
  }

  /**
   * A packet of a member speaking on another node, addressed to `target`: it reaches this room's
   * listeners that target allows, through their slots, exactly as a local speaker's would.
   */
  forwardRemote(speakerId: string, target: VoiceTarget, key: string, packet: InboundPacket): void {
    const speaker = this.remoteSpeakers.get(speakerId);
    const current =
      speaker && speaker.targetKey === key ? speaker : this.retargetRemote(speakerId, target, key);
    this.deliver(speakerId, current.audience, packet);
  }

  /** A remote speaker's new target: those here no longer addressed lose the slot at once. */
  retargetRemote(speakerId: string, target: VoiceTarget, key: string): RemoteSpeaker {
    const speaker: RemoteSpeaker = { target, targetKey: key, audience: [] };
    this.remoteSpeakers.set(speakerId, speaker);
    speaker.audience = this.audienceOf(speakerId, target);
    this.renotify(speakerId, target);
    return speaker;
  }

  /** A remote speaker went quiet for good (muted, left, their node gone): their slots are freed. */
  releaseRemote(speakerId: string): void {
    if (!this.remoteSpeakers.delete(speakerId)) return;
    for (const listener of this.participants.values()) listener.slots.release(speakerId);
  }

  /** Members of other nodes whose voices reach this room (for tests and metrics). */
  get remoteSpeakerCount(): number {
    return this.remoteSpeakers.size;
  }

  /** One object reused for every send of every packet: the peer copies what it keeps. */
  private readonly outbound: OutboundPacket = {
    sequenceNumber: 0,
    timestamp: 0,
    marker: false,
    payload: Buffer.alloc(0),
    level: 127,
    voiced: undefined,
    run: 0,
  };

  /** The hot path: runs for every packet of every speaker, once per listener. */
  private forward(speaker: Participant, packet: InboundPacket): void {
    if (!speaker.flowing) this.markFlowing(speaker);
    if (speaker.muted || speaker.hostMuted) return;
    if (!speaker.budget.take() || (speaker.addressBudget && !speaker.addressBudget.take())) {
      this.dropped++;
      return;
    }
    // Other nodes first: their listeners then wait for one bus hop, not for this node's fan-out too.
    this.relayOut?.(speaker.memberId, speaker.target, packet);
    this.deliver(speaker.memberId, speaker.audience, packet);
  }

  /** Sends one speaker's packet to each listener of `audience` on the slot that carries the speaker. */
  private deliver(speakerId: string, audience: readonly Participant[], packet: InboundPacket): void {
    const now = this.clock.now();
    const out = this.outbound;
    out.marker = packet.marker;
    out.payload = packet.payload;
    out.level = packet.level;
    out.voiced = packet.voiced;
    for (const listener of audience) {
      const slot = listener.slots.admit(speakerId, packet.level, now);
      if (slot === undefined) continue;
      const stream = listener.streams[slot] as SlotStream;
      stream.write(speakerId, packet.sequenceNumber, packet.timestamp, now);
      out.sequenceNumber = stream.seq;
      out.timestamp = stream.timestamp;
      out.run = stream.run;
      listener.peer.send(slot, out);
      this.forwarded++;
    }
  }

  /** A listener's report on one slot counts against the speaker that slot carries now. */
  private listenerLoss(listener: Participant, slot: number, fraction: number): void {
    const speakerId = listener.slots.speakerIn(slot);
    const speaker = speakerId === undefined ? undefined : this.participants.get(speakerId);
    if (!speaker) return;
    const now = this.clock.now();
    speaker.audienceLoss.report(listener.memberId, fraction, now);
    speaker.peer.setAudienceLoss(speaker.audienceLoss.worst(now));
  }

  private recomputeAudiences(): void {
    for (const participant of this.participants.values())
      participant.audience = this.audienceOf(participant.memberId, participant.target);
    for (const [id, speaker] of this.remoteSpeakers) speaker.audience = this.audienceOf(id, speaker.target);
  }

  private audienceOf(speakerId: string, target: VoiceTarget): Participant[] {
    const out: Participant[] = [];
    for (const id of listenersOf(speakerId, target, this.connected)) {
      const listener = this.participants.get(id);
      if (listener) out.push(listener);
    }
    return out;
  }

  /** A listener's slot changed hands: the stream starts a new run, the listener is told. */
  private announce(listener: Participant, change: SlotChange): void {
    listener.streams[change.slot]?.endRun();
    const id = change.speakerId;
    const speaker = id === undefined ? undefined : (this.participants.get(id) ?? this.remoteSpeakers.get(id));
    listener.notify({
      slot: change.slot,
      memberId: change.speakerId ?? null,
      whisper: speaker !== undefined && speaker.target !== "all",
    });
  }
}

function slotOf(listener: Participant, speakerId: string): number | undefined {
  for (let i = 0; i < listener.streams.length; i++) if (listener.slots.speakerIn(i) === speakerId) return i;
  return undefined;
}
