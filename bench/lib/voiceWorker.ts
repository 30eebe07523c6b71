/**
 * Worker thread holding a share of the voice benchmark's bots: real conference clients with a
 * werift peer each (the same code as `npm run bot`), decoding nothing, counting what arrives.
 */
import { parentPort } from "node:worker_threads";
import { type ConferenceClient, RoundtableApi, VoiceSession } from "@roundtable/client-core";
import { openClient } from "../../packages/bot/src/connect.ts";
import { WeriftMediaEngine } from "../../packages/bot/src/WeriftMediaEngine.ts";
import { mapLimit } from "./stats.ts";
import type { BotCounters, BotCredentials, FromVoiceWorker, ToVoiceWorker } from "./voiceMessages.ts";

const port = parentPort;
if (!port) throw new Error("voiceWorker.ts must run in a worker thread");
const post = (message: FromVoiceWorker) => port.postMessage(message);

interface Bot {
  memberId: string;
  client: ConferenceClient;
  engine: WeriftMediaEngine;
  session: VoiceSession;
  /** Payload key -> wall-clock ms of arrival, when this bot records them. */
  arrivals?: Map<string, number>;
}

/** Enough distinct packets for minutes of one voice. */
const MAX_ARRIVALS = 30_000;
/** A frame's first bytes and length tell it apart from the others of a run. */
const payloadKey = (payload: Buffer) =>
  `${payload.toString("base64", 0, Math.min(24, payload.length))}/${payload.length}`;

let bots: Bot[] = [];
let playback = new AbortController();

function connected(engine: WeriftMediaEngine, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`peer still ${engine.state} after ${timeoutMs} ms`));
    }, timeoutMs);
    const check = (state: string) => {
      if (state !== "connected") return;
      clearTimeout(timer);
      off();
      resolve();
    };
    const off = engine.on("state", check);
    check(engine.state);
  });
}

async function join(message: Extract<ToVoiceWorker, { type: "join" }>): Promise<void> {
  const apis = new Map<string, RoundtableApi>();
  const apiFor = (baseUrl: string) => {
    const api = apis.get(baseUrl) ?? new RoundtableApi(baseUrl);
    apis.set(baseUrl, api);
    return api;
  };
  const errors: string[] = [];
  const joinMs: number[] = [];
  let failed = 0;
  await mapLimit(message.members, message.concurrency, async (m: BotCredentials) => {
    const started = performance.now();
    let bot: Bot | undefined;
    try {
      const api = apiFor(m.baseUrl ?? message.baseUrl);
      const client = await openClient(api, message.conferenceId, m.token, message.timeoutMs);
      const engine = new WeriftMediaEngine({
        bindAddress: "127.0.0.1",
        decode: false,
        memberOf: (slot) => client.room.memberInSlot(slot),
      });
      bot = { memberId: m.memberId, client, engine, session: new VoiceSession(client, engine) };
      bots.push(bot);
      if (m.recordArrivals) {
        const arrivals = new Map<string, number>();
        bot.arrivals = arrivals;
        engine.on("packet", ({ payload }) => {
          const key = payloadKey(payload);
          // A payload seen twice (a frame repeated in a later loop of the file) tells nothing.
          if (arrivals.has(key)) arrivals.set(key, Number.NaN);
          else if (arrivals.size < MAX_ARRIVALS)
            arrivals.set(key, performance.timeOrigin + performance.now());
        });
      }
      bot.session.start();
      await connected(engine, message.timeoutMs);
      joinMs.push(performance.now() - started);
    } catch (error) {
      failed++;
      if (errors.length < 10) errors.push(`${m.memberId}: ${(error as Error).message}`);
    }
  });
  post({ type: "joined", connected: joinMs.length, failed, errors, joinMs });
}

function counters(): BotCounters[] {
  return bots.map((b) => {
    const s = b.engine.stats();
    let packets = 0;
    let bytes = 0;
    let lost = 0;
    let late = 0;
    for (const slot of s.slots) {
      packets += slot.packets;
      bytes += slot.bytes;
      lost += slot.lost;
      late += slot.late;
    }
    return { memberId: b.memberId, packets, bytes, lost, late, sent: s.sent.packets, state: b.engine.state };
  });
}

async function play(path: string, loops: number): Promise<void> {
  playback = new AbortController();
  const results = await Promise.all(
    bots.map((b) => b.engine.playWav(path, { loops, signal: playback.signal })),
  );
  post({
    type: "played",
    frames: results.reduce((s, r) => s + r.frames, 0),
    sent: results.reduce((s, r) => s + r.sent, 0),
    maxLateMs: Math.max(0, ...results.map((r) => r.maxLateMs)),
  });
}

function close(): void {
  playback.abort();
  for (const b of bots) {
    b.session.stop();
    b.client.close();
  }
  bots = [];
  post({ type: "closed" });
}

port.on("message", (message: ToVoiceWorker) => {
  const run = async () => {
    switch (message.type) {
      case "join":
        return join(message);
      case "play":
        return play(message.path, message.loops);
      case "stop-play":
        playback.abort();
        return;
      case "counters":
        post({ type: "counters", bots: counters(), at: performance.timeOrigin + performance.now() });
        return;
      case "arrivals":
        post({
          type: "arrivals",
          bots: bots
            .filter((b) => b.arrivals)
            .map((b) => ({ memberId: b.memberId, arrivals: [...(b.arrivals ?? [])] })),
        });
        return;
      case "close":
        return close();
    }
  };
  run().catch((error: unknown) => post({ type: "fatal", message: String((error as Error).stack ?? error) }));
});

post({ type: "ready" });
