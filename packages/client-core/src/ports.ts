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

/**
 * An event handler property checked bivariantly, as method parameters are: browsers type
 * `onmessage` as taking a `MessageEvent`, which a handler of `{ data: unknown }` cannot accept
 * under strict function types even though the client only ever assigns such handlers.
 */
type Handler<E> = { bivariant(event: E): void }["bivariant"];

/** The part of the WebSocket API the client uses: met by browsers' WebSocket and by `ws`. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
}

export type WebSocketFactory = (url: string) => WebSocketLike;
