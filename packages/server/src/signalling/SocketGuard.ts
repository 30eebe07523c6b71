import type { Clock } from "../conference/ports.ts";
import { RateLimiter, TokenBucket } from "../limits/TokenBucket.ts";

export interface SocketLimits {
  /** Frames one member may send at once, then `framesPerSecond` on average (all their sockets together). */
  frameBurst: number;
  framesPerSecond: number;
  /** The same for everyone behind one address together. */
  addressFrameBurst: number;
  addressFramesPerSecond: number;
  /** Texts per second from one address (each member also has their own text budget). */
  addressTextsPerSecond: number;
  /** Sockets open at once from one address. */
  connectionsPerAddress: number;
  /** Socket upgrades one address may attempt per minute. */
  connectionAttemptsPerMinute: number;
}

export const DEFAULT_SOCKET_LIMITS: SocketLimits = {
  frameBurst: 60,
  framesPerSecond: 20,
  addressFrameBurst: 600,
  addressFramesPerSecond: 200,
  addressTextsPerSecond: 50,
  connectionsPerAddress: 200,
  connectionAttemptsPerMinute: 300,
};

/** Why a frame was not admitted: over the budget (drop it), or flooding far past it (close the socket). */
export type FrameVerdict = "ok" | "drop" | "close";

/**
 * The signalling edge's flood limits, per member and per address. Counting is cheap and memory is
 * bounded: idle keys are forgotten by the rate limiters' LRU.
 */
export class SocketGuard {
  private readonly attempts: RateLimiter;
  private readonly memberFrames: RateLimiter;
  private readonly addressFrames: RateLimiter;
  private readonly addressTexts: RateLimiter;
  private readonly openPerAddress = new Map<string, number>();

  constructor(
    readonly limits: SocketLimits,
    private readonly clock: Clock,
  ) {
    const perMinute = limits.connectionAttemptsPerMinute;
    this.attempts = new RateLimiter(Math.max(1, Math.min(perMinute, 60)), perMinute / 60, clock);
    this.memberFrames = new RateLimiter(limits.frameBurst, limits.framesPerSecond, clock);
    this.addressFrames = new RateLimiter(limits.addressFrameBurst, limits.addressFramesPerSecond, clock);
    const texts = limits.addressTextsPerSecond;
    this.addressTexts = new RateLimiter(texts * 2, texts, clock);
  }

  /**
   * Admits a new socket from `address`, or says why not. The returned release must be called once
   * when the socket closes.
   */
  admitConnection(address: string): { release: () => void } | { refused: string } {
    if (!this.attempts.take(address)) return { refused: "too many connection attempts from this address" };
    const open = this.openPerAddress.get(address) ?? 0;
    if (open >= this.limits.connectionsPerAddress)
      return { refused: "too many connections from this address" };
    this.openPerAddress.set(address, open + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const now = (this.openPerAddress.get(address) ?? 1) - 1;
        if (now <= 0) this.openPerAddress.delete(address);
        else this.openPerAddress.set(address, now);
      },
    };
  }

  /** A per-socket tracker of dropped frames: a socket that keeps flooding is closed, not just slowed. */
  floodMeter(): TokenBucket {
    // Tolerates a few seconds of excess (a burst of ICE candidates, a stuck key) before closing.
    return new TokenBucket(this.limits.frameBurst * 2, this.limits.framesPerSecond, this.clock);
  }

  admitFrame(memberKey: string, address: string, meter: TokenBucket): FrameVerdict {
    // Both budgets are always charged, so a member cannot dodge the address budget by alternating.
    const member = this.memberFrames.take(memberKey);
    const shared = this.addressFrames.take(address);
    if (member && shared) return "ok";
    return meter.take() ? "drop" : "close";
  }

  admitText(address: string): boolean {
    return this.addressTexts.take(address);
  }

  /** Open sockets per address, for tests and metrics. */
  openConnections(address: string): number {
    return this.openPerAddress.get(address) ?? 0;
  }
}
