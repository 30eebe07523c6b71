import type { Audience, VoiceCandidateMessage } from "@roundtable/protocol";
import type { z } from "zod";
import type { Conference } from "../conference/Conference.ts";
import type { ConferenceService } from "../conference/ConferenceService.ts";
import { encode } from "../conference/encode.ts";
import { RoundtableError } from "../conference/errors.ts";
import type { Clock, MemberConnection } from "../conference/ports.ts";
import { RateLimiter, TokenBucket } from "../limits/TokenBucket.ts";
import { IceServers } from "./IceServers.ts";
import { DEFAULT_SLOT_POLICY, type SlotPolicy } from "./ListenerSlots.ts";
import type { InboundPacket, VoicePeerFactory, VoiceRelay } from "./ports.ts";
import { decodeRelayFrame, encodePacketFrame, encodeTargetFrame } from "./relay/frame.ts";
import type { VoiceTarget } from "./routing.ts";
import { DEFAULT_VOICE_FLOOD, type VoiceFloodLimits, VoiceRoom } from "./VoiceRoom.ts";

export interface VoiceLimits extends VoiceFloodLimits {
  /** Voice packets per second from all members behind one address together. */
  addressPacketsPerSecond: number;
  /** Voice (re)joins a member may start per minute: each one costs a peer connection. */
  joinsPerMinute: number;
}

export const DEFAULT_VOICE_LIMITS: VoiceLimits = {
  ...DEFAULT_VOICE_FLOOD,
  addressPacketsPerSecond: 3000,
  joinsPerMinute: 30,
};

type Candidate = Omit<z.infer<typeof VoiceCandidateMessage>, "type">;

/** Where one speaker's packets go besides this node, worked out again only when presence or target change. */
interface Destinations {
  version: number;
  target: VoiceTarget;
  nodes: string[];
}

/** Frames counted at the relay (for metrics and tests). */
export interface RelayCounts {
  /** Frames sent to other nodes: one per packet per node. */
  sent: number;
  /** Frames received from other nodes. */
  received: number;
  /** Frames received for a conference with nobody in voice here, or unreadable. */
  dropped: number;
}

/**
 * Voice signalling for every conference: creates a member's peer on request, relays the answer and
 * candidates, applies targets and mute, and tells the room who has voice. One VoiceRoom per
 * conference does the forwarding.
 */
export class VoiceService {
  private readonly rooms = new Map<string, VoiceRoom>();
  /** Which connection asked for each member's voice: its socket closing ends that voice. */
  private readonly owners = new Map<string, MemberConnection>();
  /** One packet budget per remote address, shared by its members while any of them has voice. */
  private readonly addressBudgets = new Map<string, { bucket: TokenBucket; users: Set<string> }>();
  private readonly joinLimiter: RateLimiter;
  readonly limits: VoiceLimits;
  /** Per conference/speaker in voice here, the other nodes their packets go to. */
  private readonly destinations = new Map<string, Destinations>();
  readonly relayed: RelayCounts = { sent: 0, received: 0, dropped: 0 };
  /** Packets forwarded and dropped by rooms that have closed since (the open ones count their own). */
  private readonly closedRooms = { forwarded: 0, dropped: 0 };
  private readonly stopListening: () => void;

  constructor(
    private readonly conferences: ConferenceService,
    private readonly peers: VoicePeerFactory,
    private readonly clock: Clock,
    readonly policy: SlotPolicy = DEFAULT_SLOT_POLICY,
    limits: Partial<VoiceLimits> = {},
    private readonly iceServers: IceServers = new IceServers([], undefined, clock),
    /** The other nodes of a cluster; none on one node. */
    private readonly relay: VoiceRelay | undefined = undefined,
  ) {
    this.limits = { ...DEFAULT_VOICE_LIMITS, ...limits };
    const joins = this.limits.joinsPerMinute;
    this.joinLimiter = new RateLimiter(Math.max(1, Math.min(10, joins)), joins / 60, clock);
    if (relay) relay.onFrame = (frame) => this.fromOtherNode(frame);
    // A voice at another node that went quiet for good (muted, off, its node gone) frees its slots
    // here; the host's mute stops a voice here at once, wherever the host pressed it.
    const stopRemote = conferences.onRemoteVoice((conferenceId, memberId, audible) => {
      if (!audible) this.rooms.get(conferenceId)?.releaseRemote(memberId);
    });
    const stopChanges = conferences.onMemberChange((conferenceId, member) => {
      if (member.removedAt !== null) return this.leave(conferenceId, member.id);
      const room = this.rooms.get(conferenceId);
      if (!room?.has(member.id)) return;
      const [wasFlowing, wasMuted] = [room.isFlowing(member.id), room.isMuted(member.id)];
      room.setHostMuted(member.id, member.hostMuted);
      // (A voice not yet on is announced when it comes on, muted or not.)
      if (wasFlowing && room.isMuted(member.id) !== wasMuted) this.broadcastState(conferenceId, member.id);
    });
    this.stopListening = () => {
      stopRemote();
      stopChanges();
    };
  }

  /** The conference's voice room, if anyone has voice there. */
  room(conferenceId: string): VoiceRoom | undefined {
    return this.rooms.get(conferenceId);
  }

  /** Rooms with at least one member in voice (for tests and metrics). */
  get roomCount(): number {
    return this.rooms.size;
  }

  /** Members in voice, by the socket that started it, and shared address budgets (tests, metrics). */
  get ownerCount(): number {
    return this.owners.size;
  }

  /** Packets sent to listeners here and packets dropped (flood guard) since this node started. */
  packetTotals(): { forwarded: number; dropped: number } {
    const totals = { ...this.closedRooms };
    for (const room of this.rooms.values()) {
      totals.forwarded += room.forwarded;
      totals.dropped += room.dropped;
    }
    return totals;
  }

  get addressBudgetCount(): number {
    return this.addressBudgets.size;
  }

  private openRoom(conference: Conference): VoiceRoom {
    let room = this.rooms.get(conference.id);
    if (!room) {
      room = new VoiceRoom(
        this.clock,
        this.policy,
        this.limits,
        (memberId) => this.broadcastState(conference.id, memberId),
        this.relay && ((speakerId, target, packet) => this.relayOut(conference, speakerId, target, packet)),
      );
      this.rooms.set(conference.id, room);
    }
    return room;
  }

  // ------------------------------------------------------------ between nodes

  /**
   * A packet of a speaker here goes once to each other node where someone they address is
   * connected, and to no other node: a whisper never leaves for a node without its listeners.
   */
  private relayOut(
    conference: Conference,
    speakerId: string,
    target: VoiceTarget,
    packet: InboundPacket,
  ): void {
    const key = `${conference.id}/${speakerId}`;
    let known = this.destinations.get(key);
    if (!known || known.version !== conference.remote.version || known.target !== target) {
      known = {
        version: conference.remote.version,
        target,
        nodes: conference.remote.nodesHosting(target, speakerId),
      };
      this.destinations.set(key, known);
    }
    if (known.nodes.length === 0) return;
    this.relay?.send(known.nodes, encodePacketFrame(conference.id, speakerId, target, packet));
    this.relayed.sent += known.nodes.length;
  }

  private fromOtherNode(bytes: Uint8Array): void {
    this.relayed.received++;
    let frame: ReturnType<typeof decodeRelayFrame>;
    try {
      frame = decodeRelayFrame(bytes);
    } catch {
      this.relayed.dropped++;
      return;
    }
    const room = this.rooms.get(frame.conferenceId);
    if (!room) {
      this.relayed.dropped++;
      return;
    }
    if (frame.kind === "packet")
      room.forwardRemote(frame.speakerId, frame.target, frame.targetKey, frame.packet);
    else room.retargetRemote(frame.speakerId, frame.target, frame.targetKey);
  }

  /** Starts (or restarts) a member's voice: a new peer, offered to the member over `connection`. */
  async join(conferenceId: string, memberId: string, connection: MemberConnection): Promise<void> {
    const conference = await this.conferences.conference(conferenceId);
    if (!conference.member(memberId)) throw new RoundtableError("unauthorized", "not a member");
    conference.assertNotEnded();
    const key = `${conferenceId}/${memberId}`;
    if (!this.joinLimiter.take(key))
      throw new RoundtableError("rate_limited", "voice restarted too often; wait a moment");
    const peer = await this.peers.create(this.policy.slots);
    const room = this.openRoom(conference);
    const hadVoice = room.isFlowing(memberId);
    // A rejoin replaces the member's previous voice, which may have come from another address.
    this.releaseAddressBudget(key, this.owners.get(key)?.address);
    this.owners.set(key, connection);
    room.join(
      memberId,
      peer,
      (notice) => connection.send(encode({ type: "voice-slot", ...notice })),
      this.takeAddressBudget(key, connection.address),
    );
    // A member the host muted starts muted, on whichever node they join voice.
    room.setHostMuted(memberId, conference.member(memberId)?.hostMuted ?? false);
    peer.onState = (state) => {
      if (room.peerOf(memberId) !== peer) return;
      if (state === "connected") room.peerConnected(memberId);
      else if (state === "failed") {
        // Told at once, so the client starts afresh instead of waiting for its own side to give up.
        connection.send(
          encode({
            type: "voice-closed",
            reason: "connection_failed",
            message: "the voice connection to the server failed (ICE or DTLS)",
          }),
        );
        this.leave(conferenceId, memberId);
      } else if (state === "closed") this.leave(conferenceId, memberId);
    };
    connection.send(
      encode({ type: "voice-offer", ...peer.offer, iceServers: this.iceServers.for(memberId) }),
    );
    // A member who had voice before shows as off until packets flow on the new peer.
    if (hadVoice) this.broadcastState(conferenceId, memberId);
  }

  /**
   * Takes the member's answer. A refused answer ends that voice peer (nothing half-open is left)
   * and the member is told why in `voice-closed`.
   */
  async answer(conferenceId: string, memberId: string, sdp: string): Promise<void> {
    const peer = this.requirePeer(conferenceId, memberId);
    const owner = this.owners.get(`${conferenceId}/${memberId}`);
    try {
      await peer.acceptAnswer(sdp);
    } catch (error) {
      const message = `the answer was not accepted: ${(error as Error).message}`;
      if (this.rooms.get(conferenceId)?.peerOf(memberId) === peer) {
        owner?.send(encode({ type: "voice-closed", reason: "answer_refused", message }));
        this.leave(conferenceId, memberId);
      }
      throw new RoundtableError("invalid_message", message);
    }
    // Only for the member's current peer: an answer to a replaced one confirms nothing.
    if (this.rooms.get(conferenceId)?.peerOf(memberId) === peer)
      owner?.send(encode({ type: "voice-accepted" }));
  }

  async candidate(conferenceId: string, memberId: string, candidate: Candidate): Promise<void> {
    const peer = this.requirePeer(conferenceId, memberId);
    try {
      await peer.addCandidate(candidate);
    } catch (error) {
      throw new RoundtableError(
        "invalid_message",
        `the ICE candidate was not accepted: ${(error as Error).message}`,
      );
    }
  }

  async setTarget(conferenceId: string, memberId: string, to: Audience): Promise<void> {
    const conference = await this.conferences.conference(conferenceId);
    if (to !== "all") {
      const unknown = to.filter((id) => !conference.member(id));
      if (unknown.length > 0)
        throw new RoundtableError(
          "unknown_recipient",
          `not members of this conference: ${unknown.join(", ")}`,
        );
    }
    this.requirePeer(conferenceId, memberId);
    const target: VoiceTarget = to === "all" ? "all" : [...new Set(to)];
    this.rooms.get(conferenceId)?.setTarget(memberId, target);
    // Every node holding someone of the conference re-reads the target at once, so a listener
    // there no longer addressed loses the slot now rather than when the slot goes idle.
    const nodes = conference.remote.nodesHosting("all", memberId);
    if (this.relay && nodes.length > 0) {
      this.relay.send(nodes, encodeTargetFrame(conferenceId, memberId, target));
      this.relayed.sent += nodes.length;
    }
  }

  setMuted(conferenceId: string, memberId: string, muted: boolean): void {
    const room = this.rooms.get(conferenceId);
    if (!room?.has(memberId)) throw new RoundtableError("invalid_message", "voice is not connected");
    // Once the voice is on, everyone learns the change; before, the room announces it when it is.
    const wasFlowing = room.isFlowing(memberId);
    // The member's own choice is kept either way, and applies once the host lifts their mute; until
    // then an unmute changes nothing heard, and the member is told why.
    room.setMuted(memberId, muted);
    if (wasFlowing) this.broadcastState(conferenceId, memberId);
    if (!muted && room.isHostMuted(memberId))
      throw new RoundtableError("host_muted", "the host muted you; ask to speak");
  }

  /** Ends a member's voice. Idempotent. */
  leave(conferenceId: string, memberId: string): void {
    const room = this.rooms.get(conferenceId);
    if (!room?.has(memberId)) return;
    const wasFlowing = room.isFlowing(memberId);
    room.leave(memberId);
    if (room.size === 0) {
      this.rooms.delete(conferenceId);
      this.closedRooms.forwarded += room.forwarded;
      this.closedRooms.dropped += room.dropped;
    }
    const key = `${conferenceId}/${memberId}`;
    this.destinations.delete(key);
    this.releaseAddressBudget(key, this.owners.get(key)?.address);
    this.owners.delete(key);
    if (wasFlowing) this.broadcastState(conferenceId, memberId);
  }

  private takeAddressBudget(key: string, address: string | undefined): TokenBucket | undefined {
    if (address === undefined) return undefined;
    let entry = this.addressBudgets.get(address);
    if (!entry) {
      const perSecond = this.limits.addressPacketsPerSecond;
      entry = { bucket: new TokenBucket(perSecond * 3, perSecond, this.clock), users: new Set() };
      this.addressBudgets.set(address, entry);
    }
    entry.users.add(key);
    return entry.bucket;
  }

  /** The owning connection's address says which budget a member's voice drew on. */
  private releaseAddressBudget(key: string, address: string | undefined): void {
    if (address === undefined) return;
    const entry = this.addressBudgets.get(address);
    if (entry?.users.delete(key) && entry.users.size === 0) this.addressBudgets.delete(address);
  }

  /** A socket closed: if it carried that member's voice, the voice ends too. */
  connectionClosed(conferenceId: string, memberId: string, connection: MemberConnection): void {
    if (this.owners.get(`${conferenceId}/${memberId}`) === connection) this.leave(conferenceId, memberId);
  }

  /** Tells a newly connected client whose voice is flowing and who is muted, here and at other nodes. */
  async describeTo(conferenceId: string, connection: MemberConnection): Promise<void> {
    const conference = await this.conferences.conference(conferenceId);
    for (const frame of this.conferences.remoteVoiceFrames(conference)) connection.send(frame);
    const room = this.rooms.get(conferenceId);
    if (!room) return;
    for (const memberId of room.memberIds())
      if (room.isFlowing(memberId)) connection.send(this.stateFrame(room, memberId));
  }

  close(): void {
    this.stopListening();
    this.destinations.clear();
    for (const room of this.rooms.values()) room.close();
    this.rooms.clear();
    this.owners.clear();
    this.addressBudgets.clear();
  }

  private requirePeer(conferenceId: string, memberId: string) {
    const peer = this.rooms.get(conferenceId)?.peerOf(memberId);
    if (!peer) throw new RoundtableError("invalid_message", "voice is not connected; send voice-join first");
    return peer;
  }

  private stateOf(room: VoiceRoom | undefined, memberId: string): { connected: boolean; muted: boolean } {
    const connected = room?.isFlowing(memberId) ?? false;
    return { connected, muted: connected && (room?.isMuted(memberId) ?? false) };
  }

  private stateFrame(room: VoiceRoom | undefined, memberId: string): Uint8Array {
    return encode({ type: "voice-state", memberId, ...this.stateOf(room, memberId) });
  }

  /** Tells everyone, at every node, the member's voice state as it is now: on only while packets flow. */
  private broadcastState(conferenceId: string, memberId: string): void {
    const { connected, muted } = this.stateOf(this.rooms.get(conferenceId), memberId);
    this.conferences.announceVoiceState(conferenceId, memberId, connected, muted);
  }
}
