/** What the client core needs from its host (a browser, Node, a test), injected. */

export interface Scheduler {
  schedule(fn: () => void, ms: number): () => void;
}

export interface Clock {
  now(): number;
}

export const realScheduler: Scheduler = {
  schedule(fn, ms) {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};

export const realClock: Clock = { now: () => Date.now() };

/** The part of the WebSocket API the client uses: met by browsers' WebSocket and by `ws`. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type WebSocketFactory = (url: string) => WebSocketLike;
