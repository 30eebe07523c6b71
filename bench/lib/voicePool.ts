import { setTimeout as sleep } from "node:timers/promises";
import { startTsWorker } from "./tsWorker.ts";
import type {
  BotArrivals,
  BotCounters,
  BotCredentials,
  FromVoiceWorker,
  ToVoiceWorker,
} from "./voiceMessages.ts";
import { WorkerMailbox } from "./WorkerMailbox.ts";

type VoiceWorker = WorkerMailbox<ToVoiceWorker, FromVoiceWorker>;

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
      (_, i) =>
        new WorkerMailbox<ToVoiceWorker, FromVoiceWorker>(startTsWorker(entry, { index: i }), "voice worker"),
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

  /** Polls the listeners' counters until none has changed for `quietMs`: every packet has landed. */
  async untilQuiet(
    quietMs: number,
    maxMs: number,
  ): Promise<{ speaker: BotCounters; listeners: BotCounters[] }> {
    const packets = (c: { listeners: BotCounters[] }) => c.listeners.reduce((s, b) => s + b.packets, 0);
    const started = performance.now();
    let last = await this.counters();
    let lastChange = performance.now();
    while (performance.now() - started < maxMs) {
      await sleep(100);
      const now = await this.counters();
      if (packets(now) !== packets(last)) lastChange = performance.now();
      last = now;
      if (performance.now() - lastChange >= quietMs) return last;
    }
    return last;
  }

  /** What the recording bots noted: when each payload arrived. */
  async arrivals(): Promise<BotArrivals[]> {
    for (const w of this.all) w.send({ type: "arrivals" });
    const replies = await Promise.all(this.all.map((w) => w.next("arrivals", 30_000)));
    return replies.flatMap((r) => r.bots);
  }

  async closeBots(): Promise<void> {
    for (const w of this.all) w.send({ type: "close" });
    await Promise.all(this.all.map((w) => w.next("closed", 60_000)));
  }

  async stop(): Promise<void> {
    await Promise.all(this.all.map((w) => w.worker.terminate()));
  }
}
