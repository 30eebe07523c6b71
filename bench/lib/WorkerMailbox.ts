import type { Worker } from "node:worker_threads";

/** What every bench worker can send: a fatal error ends every wait. */
type Fatal = { type: "fatal"; message: string };

/**
 * A worker thread's replies, queued by type, so a reply sent before it is awaited is not lost.
 * `From` is the worker's message union; its `fatal` member fails every pending and later wait.
 */
export class WorkerMailbox<To, From extends { type: string }> {
  private readonly inbox = new Map<string, From[]>();
  private readonly waiters = new Map<string, ((message: From | Fatal) => void)[]>();
  private failure: Error | undefined;

  constructor(
    readonly worker: Worker,
    /** Names the worker in errors, e.g. "client worker". */
    private readonly label: string,
  ) {
    worker.on("message", (message: From | Fatal) => {
      if (message.type === "fatal") return this.fail(new Error(`${label}: ${(message as Fatal).message}`));
      const waiting = this.waiters.get(message.type)?.shift();
      if (waiting) waiting(message);
      else {
        const queue = this.inbox.get(message.type) ?? [];
        queue.push(message as From);
        this.inbox.set(message.type, queue);
      }
    });
    worker.on("error", (error) => this.fail(error));
    worker.on("exit", (code) => this.fail(new Error(`${label} exited with ${code}`)));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const queue of this.waiters.values())
      for (const w of queue.splice(0)) w({ type: "fatal", message: error.message });
  }

  send(message: To): void {
    this.worker.postMessage(message);
  }

  /** The next reply of a type, or an error after `timeoutMs`. */
  next<T extends From["type"]>(type: T, timeoutMs: number): Promise<Extract<From, { type: T }>> {
    type Reply = Extract<From, { type: T }>;
    const queued = this.inbox.get(type)?.shift();
    if (queued) return Promise.resolve(queued as Reply);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const queue = this.waiters.get(type) ?? [];
      const timer = setTimeout(() => {
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
        reject(new Error(`no "${type}" from a ${this.label} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (message: From | Fatal) => {
        clearTimeout(timer);
        if (message.type === "fatal") reject(new Error((message as Fatal).message));
        else resolve(message as Reply);
      };
      queue.push(waiter);
      this.waiters.set(type, queue);
    });
  }

  /** Drops replies of this type that arrived unasked (e.g. a late automatic report). */
  discard(type: From["type"]): void {
    this.inbox.delete(type);
  }
}
