import type { Audience, VoiceCandidateMessage } from "@roundtable/protocol";
import type { z } from "zod";
import type { ConferenceService } from "../conference/ConferenceService.ts";
import { encode } from "../conference/encode.ts";
import { RoundtableError } from "../conference/errors.ts";
import type { Clock, MemberConnection } from "../conference/ports.ts";
import { DEFAULT_SLOT_POLICY, type SlotPolicy } from "./ListenerSlots.ts";
import type { VoicePeerFactory } from "./ports.ts";
import { VoiceRoom } from "./VoiceRoom.ts";

type Candidate = Omit<z.infer<typeof VoiceCandidateMessage>, "type">;

/**
 * Voice signalling for every conference: creates a member's peer on request, relays the answer and
 * candidates, applies targets and mute, and tells the room who has voice. One VoiceRoom per
 * conference does the forwarding.
 */
export class VoiceService {
  private readonly rooms = new Map<string, VoiceRoom>();
  /** Which connection asked for each member's voice: its socket closing ends that voice. */
  private readonly owners = new Map<string, MemberConnection>();

  constructor(
    private readonly conferences: ConferenceService,
    private readonly peers: VoicePeerFactory,
    private readonly clock: Clock,
    readonly policy: SlotPolicy = DEFAULT_SLOT_POLICY,
  ) {}

  room(conferenceId: string): VoiceRoom {
    let room = this.rooms.get(conferenceId);
    if (!room) {
      room = new VoiceRoom(this.clock, this.policy);
      this.rooms.set(conferenceId, room);
    }
    return room;
  }

  /** Starts (or restarts) a member's voice: a new peer, offered to the member over `connection`. */
  async join(conferenceId: string, memberId: string, connection: MemberConnection): Promise<void> {
    const conference = await this.conferences.conference(conferenceId);
    if (!conference.member(memberId)) throw new RoundtableError("unauthorized", "not a member");
    const peer = await this.peers.create(this.policy.slots);
    const room = this.room(conferenceId);
    const key = `${conferenceId}/${memberId}`;
    this.owners.set(key, connection);
    room.join(memberId, peer, (notice) => connection.send(encode({ type: "voice-slot", ...notice })));
    peer.onState = (state) => {
      if ((state === "failed" || state === "closed") && room.peerOf(memberId) === peer)
        this.leave(conferenceId, memberId);
    };
    connection.send(encode({ type: "voice-offer", ...peer.offer }));
    this.broadcastState(conferenceId, memberId, true, room.isMuted(memberId));
  }

  async answer(conferenceId: string, memberId: string, sdp: string): Promise<void> {
    const peer = this.requirePeer(conferenceId, memberId);
    try {
      await peer.acceptAnswer(sdp);
    } catch (error) {
      throw new RoundtableError(
        "invalid_message",
        `the answer was not accepted: ${(error as Error).message}`,
      );
    }
  }

  async candidate(conferenceId: string, memberId: string, candidate: Candidate): Promise<void> {
    const peer = this.requirePeer(conferenceId, memberId);
    try {
      await peer.addCandidate(candidate);
    } catch {
      throw new RoundtableError("invalid_message", "the ICE candidate was not accepted");
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
    this.room(conferenceId).setTarget(memberId, to === "all" ? "all" : [...new Set(to)]);
  }

  setMuted(conferenceId: string, memberId: string, muted: boolean): void {
    const room = this.room(conferenceId);
    if (!room.has(memberId)) throw new RoundtableError("invalid_message", "voice is not connected");
    room.setMuted(memberId, muted);
    this.broadcastState(conferenceId, memberId, true, muted);
  }

  /** Ends a member's voice. Idempotent. */
  leave(conferenceId: string, memberId: string): void {
    const room = this.rooms.get(conferenceId);
    if (!room?.has(memberId)) return;
    room.leave(memberId);
    this.owners.delete(`${conferenceId}/${memberId}`);
    this.broadcastState(conferenceId, memberId, false, false);
  }

  /** A socket closed: if it carried that member's voice, the voice ends too. */
  connectionClosed(conferenceId: string, memberId: string, connection: MemberConnection): void {
    if (this.owners.get(`${conferenceId}/${memberId}`) === connection) this.leave(conferenceId, memberId);
  }

  /** Tells a newly connected client who has voice and who is muted. */
  async describeTo(conferenceId: string, connection: MemberConnection): Promise<void> {
    const room = this.rooms.get(conferenceId);
    if (!room) return;
    for (const memberId of room.memberIds())
      connection.send(
        encode({ type: "voice-state", memberId, connected: true, muted: room.isMuted(memberId) }),
      );
  }

  close(): void {
    for (const room of this.rooms.values()) room.close();
    this.rooms.clear();
    this.owners.clear();
  }

  private requirePeer(conferenceId: string, memberId: string) {
    const peer = this.rooms.get(conferenceId)?.peerOf(memberId);
    if (!peer) throw new RoundtableError("invalid_message", "voice is not connected; send voice-join first");
    return peer;
  }

  private broadcastState(conferenceId: string, memberId: string, connected: boolean, muted: boolean): void {
    this.conferences
      .conference(conferenceId)
      .then((c) => c.broadcast(encode({ type: "voice-state", memberId, connected, muted })))
      .catch(() => {});
  }
}
