import type { MemberRecord, MessageRecord } from "./records.ts";

/**
 * What the domain needs from the outside, as interfaces, so that it runs the same over SQLite,
 * memory, a real clock or a test clock, and any socket.
 */

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export interface Scheduler {
  /** Runs `fn` once after `ms` milliseconds; the returned function cancels it. */
  schedule(fn: () => void, ms: number): () => void;
}

export interface IdSource {
  /** A short unique id for conferences, members and messages. */
  id(): string;
  /** A secret bearer token (at least 128 bits of randomness). */
  token(): string;
}

/** One open connection of a member (a WebSocket in production, an array in tests). */
export interface MemberConnection {
  /** The remote address, for limits shared by everyone behind it. */
  readonly address?: string;
  /** Sends an already encoded server message (UTF-8 JSON). */
  send(frame: Uint8Array): void;
  close(code: number, reason: string): void;
}

/** A normalised avatar image ready to be stored under its content address. */
export interface NormalisedAvatar {
  hash: string;
  bytes: Uint8Array;
  color: string;
}

export interface AvatarStore {
  /** Stores the image under its hash; storing the same hash twice is harmless. */
  save(avatar: NormalisedAvatar): Promise<void>;
  /** The image bytes, or undefined when no avatar has that hash. */
  read(hash: string): Promise<Uint8Array | undefined>;
}

export const systemClock: Clock = { now: () => Date.now() };

export const timerScheduler: Scheduler = {
  schedule(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref?.();
    return () => clearTimeout(timer);
  },
};

/** What one node of a cluster tells the others about a conference it changed. */
export type ClusterEvent =
  | { kind: "member-added"; member: MemberRecord }
  | { kind: "built"; builtAt: number }
  | { kind: "ended"; endedAt: number }
  /** A stored text, to the nodes that deliver it: all of them, or those of a whisper's members. */
  | { kind: "text"; message: MessageRecord }
  /** A whisper's number, to every node, so that each can keep sequence order without its content. */
  | { kind: "text-skip"; seq: number }
  /** Who is connected to `node`: what changed, or (`full`) the whole list, as a heartbeat. */
  | { kind: "presence"; node: string; full: boolean; online: string[]; offline: string[] }
  /** A node that just started holding the conference asks the others for their whole lists. */
  | { kind: "roll-call" }
  /** The host changed a member (role, host mute, removal): the member as stored now. */
  | { kind: "member-changed"; member: MemberRecord }
  /** The host locked or unlocked registration. */
  | { kind: "locked"; locked: boolean }
  /** A member's voice on `node` came on (packets flow), changed mute, or went off. */
  | { kind: "voice-state"; node: string; memberId: string; connected: boolean; muted: boolean };

/**
 * Conference events between the nodes of a cluster (NATS in production). Each node hears the other
 * nodes' events, never its own. Delivery is at most once: a node that may have missed one re-reads
 * the store (a member it does not know is looked up before being refused).
 */
export interface ClusterBus {
  publish(conferenceId: string, event: ClusterEvent): void;
  /** Publishes to the nodes where these members are connected, and to no other. */
  publishToMembers(conferenceId: string, memberIds: readonly string[], event: ClusterEvent): void;
  /** Calls `handler` with the other nodes' events about the conference until the returned function runs. */
  subscribe(conferenceId: string, handler: (event: ClusterEvent) => void): () => void;
  /** The same for what is published to one member: subscribed while the member is connected here. */
  subscribeMember(conferenceId: string, memberId: string, handler: (event: ClusterEvent) => void): () => void;
  close(): Promise<void>;
}

/** One node alone: nobody to tell, nobody to hear. */
export const singleNode: ClusterBus = {
  publish() {},
  publishToMembers() {},
  subscribe: () => () => {},
  subscribeMember: () => () => {},
  close: async () => {},
};
