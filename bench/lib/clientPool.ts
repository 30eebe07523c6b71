import { startTsWorker } from "./tsWorker.ts";
import { WorkerMailbox } from "./WorkerMailbox.ts";
import type { BuiltReport, ConnectedReport, FromWorker, StatusReport, ToWorker } from "./workerMessages.ts";

type ClientWorker = WorkerMailbox<ToWorker, FromWorker>;

function startWorker(entry: URL, index: number): ClientWorker {
  return new WorkerMailbox(startTsWorker(entry, { index }), "client worker");
}

/** WebSocket clients spread over worker threads, so the client side is not one busy event loop. */
export class ClientPool {
  private constructor(private readonly workers: ClientWorker[]) {}

  static async start(count: number): Promise<ClientPool> {
    const entry = new URL("./clientWorker.ts", import.meta.url);
    const workers = Array.from({ length: count }, (_, i) => startWorker(entry, i));
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
    watch?: string,
  ): Promise<ConnectedReport[]> {
    const shares = this.workers.map(() => [] as string[]);
    for (const [i, url] of urls.entries()) shares[i % shares.length]?.push(url);
    this.workers.forEach((w, i) => {
      w.discard("built");
      w.send({
        type: "connect",
        urls: shares[i] ?? [],
        concurrency: concurrencyPerWorker,
        timeoutMs,
        ...(watch === undefined ? {} : { watch }),
      });
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
