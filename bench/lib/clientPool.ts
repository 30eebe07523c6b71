import type { Worker } from "node:worker_threads";
import { startTsWorker } from "./tsWorker.ts";
import type { BuiltReport, ConnectedReport, FromWorker, StatusReport, ToWorker } from "./workerMessages.ts";

type Reply<T extends FromWorker["type"]> = Extract<FromWorker, { type: T }>;

function startWorker(entry: URL, index: number): Worker {
  return startTsWorker(entry, { index });
}

/** One worker: its replies are queued by type, so a reply sent before it is awaited is not lost. */
class ClientWorker {
  private readonly inbox = new Map<string, FromWorker[]>();
  private readonly waiters = new Map<string, ((message: FromWorker) => void)[]>();
  private failure: Error | undefined;

  constructor(readonly worker: Worker) {
    worker.on("message", (message: FromWorker) => {
      if (message.type === "fatal") return this.fail(new Error(`client worker: ${message.message}`));
      const waiting = this.waiters.get(message.type)?.shift();
      if (waiting) waiting(message);
      else {
        const queue = this.inbox.get(message.type) ?? [];
        queue.push(message);
        this.inbox.set(message.type, queue);
      }
    });
    worker.on("error", (error) => this.fail(error));
    worker.on("exit", (code) => this.fail(new Error(`client worker exited with ${code}`)));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const queue of this.waiters.values())
      for (const w of queue.splice(0)) w({ type: "fatal", message: error.message });
  }

  send(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  /** The next reply of a type, or an error after `timeoutMs`. */
  next<T extends FromWorker["type"]>(type: T, timeoutMs: number): Promise<Reply<T>> {
    const queued = this.inbox.get(type)?.shift();
    if (queued) return Promise.resolve(queued as Reply<T>);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const queue = this.waiters.get(type) ?? [];
      const timer = setTimeout(() => {
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
        reject(new Error(`no "${type}" from a client worker within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (message: FromWorker) => {
        clearTimeout(timer);
        if (message.type === "fatal") reject(new Error(message.message));
        else resolve(message as Reply<T>);
      };
      queue.push(waiter);
      this.waiters.set(type, queue);
    });
  }

  /** Drops a reply of this type that arrived unasked (e.g. a late automatic build report). */
  discard(type: FromWorker["type"]): void {
    this.inbox.delete(type);
  }
}

/** WebSocket clients spread over worker threads, so the client side is not one busy event loop. */
export class ClientPool {
  private constructor(private readonly workers: ClientWorker[]) {}

  static async start(count: number): Promise<ClientPool> {
    const entry = new URL("./clientWorker.ts", import.meta.url);
    const workers = Array.from({ length: count }, (_, i) => new ClientWorker(startWorker(entry, i)));
    const pool = new ClientPool(workers);
    try {
      await Promise.all(workers.map((w) => w.next("ready", 30_000)));
    } catch (error) {
      await pool.stop();
      throw error;
    }
    return pool;
  }

  get size(): number {
    return this.workers.length;
  }

  /** Opens one client per URL, dealt round-robin to the workers; resolves once all are attached or failed. */
  async connect(
    urls: readonly string[],
    concurrencyPerWorker: number,
    timeoutMs: number,
  ): Promise<ConnectedReport[]> {
    const shares = this.workers.map(() => [] as string[]);
    for (const [i, url] of urls.entries()) shares[i % shares.length]?.push(url);
    this.workers.forEach((w, i) => {
      w.discard("built");
      w.send({ type: "connect", urls: shares[i] ?? [], concurrency: concurrencyPerWorker, timeoutMs });
    });
    return Promise.all(this.workers.map((w) => w.next("connected", timeoutMs + 30_000)));
  }

  async status(): Promise<StatusReport[]> {
    for (const w of this.workers) w.send({ type: "status" });
    return Promise.all(this.workers.map((w) => w.next("status", 10_000)));
  }

  /** Every worker's build report: as soon as all its clients have the frame, or what it has at the deadline. */
  async builtReports(deadline: number): Promise<{ reports: BuiltReport[]; timedOut: boolean }> {
    let timedOut = false;
    const reports = await Promise.all(
      this.workers.map(async (w) => {
        try {
          return await w.next("built", Math.max(1, deadline - Date.now()));
        } catch {
          timedOut = true;
          w.send({ type: "report" });
          return w.next("built", 10_000);
        }
      }),
    );
    return { reports, timedOut };
  }

  async closeClients(): Promise<number> {
    for (const w of this.workers) w.send({ type: "close" });
    const replies = await Promise.all(this.workers.map((w) => w.next("closed", 30_000)));
    return replies.reduce((sum, r) => sum + r.closed, 0);
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
