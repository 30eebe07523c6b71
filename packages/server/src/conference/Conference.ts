import type { BuildMessage, MemberInfo } from "@roundtable/protocol";
import { encode } from "./encode.ts";
import { refusals } from "./errors.ts";
import type { MemberConnection } from "./ports.ts";
import { RemotePresence } from "./RemotePresence.ts";
import { RemoteVoices } from "./RemoteVoices.ts";
import type { ConferenceRecord, MemberRecord } from "./records.ts";
import type { TextSequencer } from "./TextSequencer.ts";

/**
 * One conference in memory: its members in seat order and the connections open to it. It decides
 * nothing about persistence; ConferenceService loads it, changes it and stores what changed.
 */
export class Conference {
  private readonly membersInSeatOrder: MemberRecord[];
  private readonly membersById = new Map<string, MemberRecord>();
  /** Members the host removed: never seated again, never re-learned from the store. */
  private readonly removedIds = new Set<string>();
  private readonly connections = new Map<string, Set<MemberConnection>>();
  /** The encoded build and lobby messages, kept until the roster changes: every connect reuses them. */
  private buildFrame: Uint8Array | undefined;
  private lobbyFrame: Uint8Array | undefined;
  /** Members connected to other nodes of a cluster (none on one node). */
  readonly remote = new RemotePresence();
  /** Members whose voice is on at another node. */
  readonly remoteVoices = new RemoteVoices();
  /** Puts this conference's texts in sequence order here; set by whoever loads the conference. */
  sequencer!: TextSequencer;

  constructor(
    readonly record: ConferenceRecord,
    members: MemberRecord[],
  ) {
    for (const m of members) if (m.removedAt !== null) this.removedIds.add(m.id);
    this.membersInSeatOrder = members.filter((m) => m.removedAt === null).sort((a, b) => a.seat - b.seat);
    for (const m of this.membersInSeatOrder) this.membersById.set(m.id, m);
  }

  get id(): string {
    return this.record.id;
  }

  get isBuilt(): boolean {
    return this.record.state === "built";
  }

  get isEnded(): boolean {
    return this.record.state === "ended";
  }

  assertNotEnded(): void {
    if (this.isEnded) throw refusals.ended();
  }

  get memberCount(): number {
    return this.membersInSeatOrder.length;
  }

  get members(): readonly MemberRecord[] {
    return this.membersInSeatOrder;
  }

  member(id: string): MemberRecord | undefined {
    return this.membersById.get(id);
  }

  get isLocked(): boolean {
    return this.record.locked;
  }

  isRemoved(memberId: string): boolean {
    return this.removedIds.has(memberId);
  }

  /** Members the host made co-hosts. */
  coHostIds(): string[] {
    return this.membersInSeatOrder.filter((m) => m.role === "co-host").map((m) => m.id);
  }

  /**
   * Takes a member as the store has them now (role, host mute, removal). A removed member leaves
   * the roster for good; returns false when nothing changed.
   */
  updateMember(member: MemberRecord): boolean {
    const current = this.membersById.get(member.id);
    if (!current) return false;
    if (member.removedAt !== null) {
      this.membersById.delete(member.id);
      this.removedIds.add(member.id);
      this.membersInSeatOrder.splice(this.membersInSeatOrder.indexOf(current), 1);
    } else if (current.role === member.role && current.hostMuted === member.hostMuted) return false;
    else Object.assign(current, { role: member.role, hostMuted: member.hostMuted });
    this.buildFrame = undefined;
    this.lobbyFrame = undefined;
    return true;
  }

  /** Adds a member in seat order (the store gave the seat). */
  addMember(member: MemberRecord): void {
    const after = this.membersInSeatOrder.findIndex((m) => m.seat > member.seat);
    if (after < 0) this.membersInSeatOrder.push(member);
    else this.membersInSeatOrder.splice(after, 0, member);
    this.membersById.set(member.id, member);
    this.buildFrame = undefined;
    this.lobbyFrame = undefined;
  }

  markBuilt(builtAt: number): void {
    this.record.state = "built";
    this.record.builtAt = builtAt;
  }

  markEnded(endedAt: number): void {
    this.record.state = "ended";
    this.record.endedAt = endedAt;
  }

  memberInfo(member: MemberRecord): MemberInfo {
    return {
      id: member.id,
      name: member.name,
      avatar: { url: avatarUrl(member.avatarHash), color: member.avatarColor },
      seat: member.seat,
      ...(member.role === "co-host" ? { role: "co-host" as const } : {}),
      ...(member.hostMuted ? { hostMuted: true as const } : {}),
    };
  }

  buildMessage(): BuildMessage {
    return {
      type: "build",
      conference: { id: this.record.id, title: this.record.title },
      members: this.membersInSeatOrder.map((m) => this.memberInfo(m)),
    };
  }

  encodedBuildMessage(): Uint8Array {
    this.buildFrame ??= encode(this.buildMessage());
    return this.buildFrame;
  }

  encodedLobbyMessage(): Uint8Array {
    this.lobbyFrame ??= encode({
      type: "lobby",
      members: this.membersInSeatOrder.map((m) => this.memberInfo(m)),
    });
    return this.lobbyFrame;
  }

  // ------------------------------------------------------------ connections

  /** Returns true when this is the member's first open connection (they just came online). */
  attach(memberId: string, connection: MemberConnection): boolean {
    let set = this.connections.get(memberId);
    if (!set) {
      set = new Set();
      this.connections.set(memberId, set);
    }
    set.add(connection);
    return set.size === 1;
  }

  /** Returns true when the member has no open connection left (they just went offline). */
  detach(memberId: string, connection: MemberConnection): boolean {
    const set = this.connections.get(memberId);
    if (!set?.delete(connection)) return false;
    if (set.size > 0) return false;
    this.connections.delete(memberId);
    return true;
  }

  connectionCount(memberId: string): number {
    return this.connections.get(memberId)?.size ?? 0;
  }

  get hasConnections(): boolean {
    return this.connections.size > 0;
  }

  /** Members connected here or to another node. */
  onlineMemberIds(): string[] {
    return [...new Set([...this.connections.keys(), ...this.remote.members()])];
  }

  /** Members connected to this node. */
  localOnlineIds(): string[] {
    return [...this.connections.keys()];
  }

  /** Sends one encoded frame to every connection of every member. */
  broadcast(frame: Uint8Array): void {
    for (const set of this.connections.values()) for (const c of set) c.send(frame);
  }

  /** Sends one encoded frame to every connection except those of one member. */
  broadcastExcept(memberId: string, frame: Uint8Array): void {
    for (const [id, set] of this.connections) if (id !== memberId) for (const c of set) c.send(frame);
  }

  /** Sends one encoded frame to every connection of the given members (each member once). */
  sendTo(memberIds: Iterable<string>, frame: Uint8Array): void {
    for (const id of new Set(memberIds)) {
      const set = this.connections.get(id);
      if (set) for (const c of set) c.send(frame);
    }
  }

  /** Closes every connection of one member here. */
  closeMember(memberId: string, code: number, reason: string): void {
    for (const c of [...(this.connections.get(memberId) ?? [])]) c.close(code, reason);
  }

  closeAll(code: number, reason: string): void {
    for (const set of this.connections.values()) for (const c of set) c.close(code, reason);
  }
}

export function avatarUrl(hash: string): string {
  return `/avatars/${hash}.webp`;
}
