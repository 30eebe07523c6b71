import type { MemberInfo, ServerMessage, TextMessage } from "@roundtable/protocol";
import { Emitter } from "./Emitter.ts";
import { realScheduler, type Scheduler } from "./ports.ts";

/** How long a text stays beside its sender's seat, in milliseconds. */
export const BUBBLE_MS = 6000;

export type Phase = "connecting" | "lobby" | "room" | "ended";

export interface Bubble {
  messageId: string;
  text: string;
  private: boolean;
}

/** A member's place at the table: the avatar bound to the seat, and what the seat shows now. */
export interface Seat {
  member: MemberInfo;
  online: boolean;
  bubble: Bubble | undefined;
  /** True while this member's voice plays on this client (driven by the voice layer). */
  speaking: boolean;
  /** Whether this member's voice is flowing to the server (not merely negotiating), and muted. */
  voice: { connected: boolean; muted: boolean };
  /** The voice this client hears from this member is a whisper: addressed to chosen members only. */
  whisper: boolean;
}

export interface ChatEntry {
  message: TextMessage;
  /** Addressed to chosen members rather than to everyone. */
  private: boolean;
  /** Sent by this client's member. */
  own: boolean;
}

export interface RoomEvents extends Record<string, unknown> {
  /** Anything visible changed; views re-render on this. */
  change: undefined;
  /** The build message arrived: the room exists. */
  built: undefined;
  memberAdded: MemberInfo;
  /** A live text arrived (not history). */
  text: ChatEntry;
}

/**
 * The virtual room as one client sees it, built from server messages alone: who sits where with
 * which avatar, who is online, bubbles, the chat log, and who is speaking. No DOM, no sockets.
 */
export class RoomModel extends Emitter<RoomEvents> {
  phase: Phase = "connecting";
  selfId: string | undefined;
  conference: { id: string; title: string } | undefined;
  private readonly seatsById = new Map<string, Seat>();
  private readonly chatById = new Map<string, ChatEntry>();
  private chatLog: ChatEntry[] = [];
  private readonly online = new Set<string>();
  private readonly bubbleTimers = new Map<string, () => void>();
  /** The highest text sequence number seen, for resuming after a reconnect. */
  lastSeq = 0;
  /** Which member each incoming voice slot carries (null: none): the binding of voices to avatars. */
  slots: (string | null)[] = [];
  /** When the host ended the conference (server clock), once they have. */
  endedAt: number | undefined;
  /** The host locked registration: nobody new can join until unlocked. */
  registrationLocked = false;
  /** Members the host removed: their seats are gone, their names stay for the chat log. */
  private readonly former = new Map<string, MemberInfo>();

  constructor(private readonly scheduler: Scheduler = realScheduler) {
    super();
  }

  /** Seats in table order. */
  get seats(): Seat[] {
    return [...this.seatsById.values()].sort((a, b) => a.member.seat - b.member.seat);
  }

  seat(memberId: string): Seat | undefined {
    return this.seatsById.get(memberId);
  }

  /** A member by id, seated or removed (the chat log still names who wrote what). */
  member(memberId: string): MemberInfo | undefined {
    return this.seatsById.get(memberId)?.member ?? this.former.get(memberId);
  }

  get chat(): readonly ChatEntry[] {
    return this.chatLog;
  }

  apply(message: ServerMessage): void {
    switch (message.type) {
      case "hello":
        this.selfId = message.memberId;
        this.conference = { id: message.conference.id, title: message.conference.title };
        this.online.clear();
        for (const id of message.online) this.online.add(id);
        this.online.add(message.memberId);
        break;
      case "lobby":
        this.setMembers(message.members);
        this.phase = "lobby";
        break;
      case "build": {
        this.conference = message.conference;
        this.setMembers(message.members);
        const first = this.phase !== "room";
        this.phase = "room";
        this.emitChange();
        if (first) this.emit("built", undefined);
        return;
      }
      case "member-added":
        if (!this.seatsById.has(message.member.id)) {
          this.seatsById.set(message.member.id, this.newSeat(message.member));
          this.emit("memberAdded", message.member);
        }
        break;
      case "member-updated": {
        const seat = this.seatsById.get(message.member.id);
        if (!seat) return;
        seat.member = message.member;
        break;
      }
      case "member-removed": {
        const seat = this.seatsById.get(message.memberId);
        if (!seat) return;
        this.seatsById.delete(message.memberId);
        this.former.set(message.memberId, seat.member);
        break;
      }
      case "registration":
        this.registrationLocked = message.locked;
        break;
      case "presence":
        for (const id of message.online) this.online.add(id);
        for (const id of message.offline) this.online.delete(id);
        for (const seat of this.seatsById.values()) seat.online = this.online.has(seat.member.id);
        break;
      case "history":
        for (const m of message.messages) this.addText(m, false);
        break;
      case "text":
        this.addText(message, true);
        return;
      case "voice-state": {
        const seat = this.seatsById.get(message.memberId);
        if (!seat) return;
        seat.voice = { connected: message.connected, muted: message.muted };
        break;
      }
      case "voice-slot":
        this.bindSlot(message.slot, message.memberId, message.whisper);
        break;
      case "ended":
        this.phase = "ended";
        this.endedAt = message.endedAt;
        this.clearSlots();
        break;
      case "voice-offer":
      case "voice-accepted":
      case "voice-closed":
      case "error":
      case "pong":
        return;
      default: {
        const unreachable: never = message;
        void unreachable;
        return;
      }
    }
    this.emitChange();
  }

  /** Marks a member speaking or silent; emits only when that changes. */
  setSpeaking(memberId: string, speaking: boolean): void {
    const seat = this.seatsById.get(memberId);
    if (!seat || seat.speaking === speaking) return;
    seat.speaking = speaking;
    this.emitChange();
  }

  /** The member whose voice slot `slot` carries, if any. */
  memberInSlot(slot: number): string | undefined {
    return this.slots[slot] ?? undefined;
  }

  /** Forgets every slot binding (the voice connection was replaced or closed). */
  clearSlots(): void {
    for (let i = 0; i < this.slots.length; i++) this.bindSlot(i, null, false);
    this.slots = [];
    this.emitChange();
  }

  private bindSlot(slot: number, memberId: string | null, whisper: boolean): void {
    const previous = this.slots[slot] ?? null;
    while (this.slots.length <= slot) this.slots.push(null);
    this.slots[slot] = memberId;
    if (previous && previous !== memberId && !this.slots.includes(previous)) {
      const seat = this.seatsById.get(previous);
      if (seat) {
        seat.speaking = false;
        seat.whisper = false;
      }
    }
    if (memberId) {
      const seat = this.seatsById.get(memberId);
      if (seat) seat.whisper = whisper;
    }
  }

  /** Cancels bubble timers; the model stays readable. */
  dispose(): void {
    for (const cancel of this.bubbleTimers.values()) cancel();
    this.bubbleTimers.clear();
  }

  private setMembers(members: MemberInfo[]): void {
    // A member missing from a fresh roster was removed while this client was away.
    const present = new Set(members.map((m) => m.id));
    for (const [id, seat] of this.seatsById)
      if (!present.has(id)) {
        this.seatsById.delete(id);
        this.former.set(id, seat.member);
      }
    for (const member of members) {
      const existing = this.seatsById.get(member.id);
      if (existing) existing.member = member;
      else this.seatsById.set(member.id, this.newSeat(member));
    }
  }

  private newSeat(member: MemberInfo): Seat {
    return {
      member,
      online: this.online.has(member.id),
      bubble: undefined,
      speaking: false,
      voice: { connected: false, muted: false },
      whisper: false,
    };
  }

  private addText(message: TextMessage, live: boolean): void {
    if (message.seq > this.lastSeq) this.lastSeq = message.seq;
    if (this.chatById.has(message.id)) return;
    const entry: ChatEntry = { message, private: message.to !== "all", own: message.from === this.selfId };
    this.chatById.set(message.id, entry);
    this.chatLog = [...this.chatLog, entry];
    // History from a reconnect may interleave with live texts; the server's sequence is the order.
    if (this.chatLog.length > 1 && (this.chatLog.at(-2)?.message.seq ?? 0) > message.seq)
      this.chatLog.sort((a, b) => a.message.seq - b.message.seq);
    if (live) this.showBubble(entry);
    this.emitChange();
    if (live) this.emit("text", entry);
  }

  private showBubble(entry: ChatEntry): void {
    const seat = this.seatsById.get(entry.message.from);
    if (!seat) return;
    const id = entry.message.from;
    seat.bubble = { messageId: entry.message.id, text: entry.message.text, private: entry.private };
    this.bubbleTimers.get(id)?.();
    this.bubbleTimers.set(
      id,
      this.scheduler.schedule(() => {
        this.bubbleTimers.delete(id);
        if (seat.bubble?.messageId === entry.message.id) {
          seat.bubble = undefined;
          this.emitChange();
        }
      }, BUBBLE_MS),
    );
  }

  private emitChange(): void {
    this.emit("change", undefined);
  }
}
