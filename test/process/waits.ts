/** Subscribes a callback to some event source and returns the function that unsubscribes. */
export type Watch = (onEvent: () => void) => () => void;

/** Rejects with `what` if `promise` has not settled within `ms`: a guard against hangs, not a timing check. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting until ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Resolves once `ready()` holds, checking it whenever one of `sources` fires: the test follows
 * events, never the clock. The timeout only turns a hang into a failure.
 */
export function until(
  ready: () => boolean,
  sources: Watch[],
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  if (ready()) return Promise.resolve();
  const offs: (() => void)[] = [];
  const done = new Promise<void>((resolve) => {
    const check = () => {
      if (ready()) resolve();
    };
    for (const watch of sources) offs.push(watch(check));
  });
  return within(done, timeoutMs, what).finally(() => {
    for (const off of offs) off();
  });
}
