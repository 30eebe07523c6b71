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
}

export const systemClock: Clock = { now: () => Date.now() };

export const timerScheduler: Scheduler = {
  schedule(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref?.();
    return () => clearTimeout(timer);
  },
};
