import type { Clock } from "../conference/ports.ts";

/** Allows `burst` events at once and `perSecond` on average; time comes from an injected clock. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    private readonly clock: Clock,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  /** Takes one token if there is one. */
  take(): boolean {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** One bucket per key (a member id, an address), created on first use; forgets idle keys. */
export class RateLimiter {
  private readonly buckets = new Map<string, { bucket: TokenBucket; usedAt: number }>();

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    private readonly clock: Clock,
    /** Keys above this count evict the least recently used, bounding memory under address floods. */
    private readonly maxKeys = 10_000,
  ) {}

  take(key: string): boolean {
    let entry = this.buckets.get(key);
    if (entry) {
      this.buckets.delete(key);
    } else {
      entry = { bucket: new TokenBucket(this.burst, this.perSecond, this.clock), usedAt: 0 };
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
    }
    entry.usedAt = this.clock.now();
    // Re-inserting keeps the Map in least-recently-used order.
    this.buckets.set(key, entry);
    return entry.bucket.take();
  }
}
