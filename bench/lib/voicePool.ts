import type { Worker } from "node:worker_threads";
import { startTsWorker } from "./tsWorker.ts";
import type { BotCounters, BotCredentials, FromVoiceWorker, ToVoiceWorker } from "./voiceMessages.ts";

type Reply<T extends FromVoiceWorker["type"]> = Extract<FromVoiceWorker, { type: T }>;

/** One bot worker; replies are queued by type so none is lost when it comes before it is awaited. */
class VoiceWorker {
  private readonly inbox = new Map<string, FromVoiceWorker[]>();
  private readonly waiters = new Map<string, ((m: FromVoiceWorker) => void)[]>();
  private failure: Error | undefined;

  constructor(readonly worker: Worker) {
    worker.on("message", (m: FromVoiceWorker) => {
      if (m.type === "fatal") return this.fail(new Error(`voice worker: ${m.message}`));
      const waiting = this.waiters.get(m.type)?.shift();
      if (waiting) waiting(m);
      else this.inbox.set(m.type, [...(this.inbox.get(m.type) ?? []), m]);
    });
    worker.on("error", (error) => this.fail(error));
    worker.on("exit", (code) => this.fail(new Error(`voice worker exited with ${code}`)));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const queue of this.waiters.values())
      for (const w of queue.splice(0)) w({ type: "fatal", message: error.message });
  }

  send(message: ToVoiceWorker): void {
    this.worker.postMessage(message);
  }

  next<T extends FromVoiceWorker["type"]>(type: T, timeoutMs: number): Promise<Reply<T>> {
    const queued = this.inbox.get(type)?.shift();
    if (queued) return Promise.resolve(queued as Reply<T>);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const queue = this.waiters.get(type) ?? [];
      const timer = setTimeout(() => {
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
        reject(new Error(`no "${type}" from a voice worker within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (m: FromVoiceWorker) => {
        clearTimeout(timer);
        if (m.type === "fatal") reject(new Error(m.message));
        else resolve(m as Reply<T>);
      };
      queue.push(waiter);
      this.waiters.set(type, queue);
    });
  }
}

/** Voice bots spread over worker threads; worker 0 holds only the speaker. */
export class VoicePool {
  private constructor(
    private readonly speaker: VoiceWorker,
    private readonly listeners: VoiceWorker[],
  ) {}

  static async start(listenerWorkers: number): Promise<VoicePool> {
    const entry = new URL("./voiceWorker.ts", import.meta.url);
    const all = Array.from(
      { length: listenerWorkers + 1 },
      (_, i) => new VoiceWorker(startTsWorker(entry, { index: i })),
    );
    const pool = new VoicePool(all[0] as VoiceWorker, all.slice(1));
    try {
      await Promise.all(all.map((w) => w.next("ready", 30_000)));
    } catch (error) {
      await pool.stop();
      throw error;
    }
    return pool;
  }

  private get all(): VoiceWorker[] {
    return [this.speaker, ...this.listeners];
  }

  /** Joins the speaker, then the listeners (dealt round-robin). */
  async join(
    baseUrl: string,
    conferenceId: string,
    speaker: BotCredentials,
    listeners: readonly BotCredentials[],
    concurrencyPerWorker: number,
    timeoutMs: number,
  ): Promise<{ connected: number; failed: number; errors: string[]; joinMs: number[] }> {
    const shares = this.listeners.map(() => [] as BotCredentials[]);
    for (const [i, m] of listeners.entries()) shares[i % shares.length]?.push(m);
    const jobs: [VoiceWorker, BotCredentials[]][] = [
      [this.speaker, [speaker]],
      ...this.listeners.map((w, i): [VoiceWorker, BotCredentials[]] => [w, shares[i] ?? []]),
    ];
    for (const [w, members] of jobs)
      w.send({ type: "join", baseUrl, conferenceId, members, concurrency: concurrencyPerWorker, timeoutMs });
    const replies = await Promise.all(
      jobs.map(([w, members]) => w.next("joined", timeoutMs * (members.length + 1))),
    );
    return {
      connected: replies.reduce((s, r) => s + r.connected, 0),
      failed: replies.reduce((s, r) => s + r.failed, 0),
      errors: replies.flatMap((r) => r.errors).slice(0, 10),
      joinMs: replies.flatMap((r) => r.joinMs),
    };
  }

  /** Starts the speaker; the promise resolves when it has finished (or was stopped). */
  play(path: string, loops: number): Promise<{ frames: number; sent: number; maxLateMs: number }> {
    this.speaker.send({ type: "play", path, loops });
    return this.speaker.next("played", 24 * 3600_000);
  }

  stopPlaying(): void {
    this.speaker.send({ type: "stop-play" });
  }

  /** Every bot's counters; the speaker's first. */
  async counters(): Promise<{ speaker: BotCounters; listeners: BotCounters[] }> {
    for (const w of this.all) w.send({ type: "counters" });
    const [speaker, ...rest] = await Promise.all(this.all.map((w) => w.next("counters", 30_000)));
    const s = speaker?.bots[0];
    if (!s) throw new Error("the speaker bot is missing");
    return { speaker: s, listeners: rest.flatMap((r) => r.bots) };
  }

  async closeBots(): Promise<void> {
    for (const w of this.all) w.send({ type: "close" });
    await Promise.all(this.all.map((w) => w.next("closed", 60_000)));
  }

  async stop(): Promise<void> {
    await Promise.all(this.all.map((w) => w.worker.terminate()));
  }
}
