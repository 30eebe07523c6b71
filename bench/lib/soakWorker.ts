/**
 * Worker thread holding the soak's bots: real conference clients with voice (client-core's
 * ConferenceClient and VoiceSession over the bot's werift engine), counting every packet and text
 * that reaches them. It runs what the driver orders and waits on events, never on the clock.
 */
import { parentPort } from "node:worker_threads";
import { ConferenceClient, RoundtableApi, VoiceSession } from "@roundtable/client-core";
import type { Audience, TextMessage } from "@roundtable/protocol";
import WebSocket from "ws";
import { WeriftMediaEngine } from "../../packages/bot/src/WeriftMediaEngine.ts";
import { memberName } from "./names.ts";
import type {
  Credentials,
  FromSoakWorker,
  ListenerDelta,
  TextOrder,
  TextTally,
  ToSoakWorker,
} from "./soakMessages.ts";

const port = parentPort;
if (!port) throw new Error("soakWorker.ts must run in a worker thread");
const post = (message: FromSoakWorker) => port.postMessage(message);

/** Failure guards only: every wait ends on a condition long before these. */
const CONNECT_TIMEOUT_MS = 20_000;
const DELIVERY_TIMEOUT_MS = 10_000;
const FRAME_SAMPLES = 960;

interface Bot {
  memberId: string;
  client: ConferenceClient;
  engine: WeriftMediaEngine;
  session: VoiceSession;
  /** Packets received, all slots together, and by the member each one's slot was bound to. */
  received: number;
  byMember: Map<string, number>;
  unbound: number;
  /** Tags of texts this bot was sent (its own included). */
  tags: Set<string>;
  seenIds: Set<string>;
  offs: (() => void)[];
}

let api: RoundtableApi | undefined;
let conferenceId = "";
let registered = 0;
const bots = new Map<string, Bot>();
/** What each text was addressed to, by tag, as the driver asked. */
const intended = new Map<string, Audience>();
const tally: TextTally = { delivered: 0, misdelivered: 0, examples: [] };

// ------------------------------------------------------------ waiting on conditions

const checks = new Set<() => void>();
/** Re-evaluates every pending wait; called from the events that can make one true. */
function changed(): void {
  for (const check of [...checks]) check();
}

/** Resolves once `ready()` holds (checked on every event); rejects after `timeoutMs` as a guard. */
function until(ready: () => boolean, what: string, timeoutMs: number): Promise<void> {
  if (ready()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!ready()) return;
      checks.delete(check);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      checks.delete(check);
      reject(new Error(`timed out waiting until ${what}`));
    }, timeoutMs);
    checks.add(check);
  });
}

/** Like `until`, but a timeout is an answer (false), not an error. */
function untilOrGiveUp(ready: () => boolean, timeoutMs: number): Promise<boolean> {
  return until(ready, "", timeoutMs).then(
    () => true,
    () => false,
  );
}

// ------------------------------------------------------------ texts

const TAG = /^soak (\S+)/;

function noteText(bot: Bot, m: TextMessage): void {
  if (bot.seenIds.has(m.id)) return;
  bot.seenIds.add(m.id);
  const tag = TAG.exec(m.text)?.[1];
  if (tag) bot.tags.add(tag);
  if (m.from === bot.memberId) return;
  const me = bot.memberId;
  const addressed = m.to === "all" || m.to.includes(me);
  const asked = tag === undefined ? undefined : intended.get(tag);
  const sameAudience = asked === undefined || JSON.stringify(asked) === JSON.stringify(m.to);
  if (addressed && sameAudience) {
    tally.delivered++;
    return;
  }
  tally.misdelivered++;
  if (tally.examples.length < 10)
    tally.examples.push(`${me} got ${tag ?? m.id} from ${m.from} to ${JSON.stringify(m.to)}`);
}

const hasTag = (id: string, tag: string) => bots.get(id)?.tags.has(tag) ?? true;

/** Online bots a text or voice addressed to `to` from `from` must reach. */
function addressees(from: string, to: Audience): string[] {
  return [...bots.keys()].filter((id) => id !== from && (to === "all" || to.includes(id)));
}

// ------------------------------------------------------------ lifecycle

function requireApi(): RoundtableApi {
  if (!api) throw new Error("setup first");
  return api;
}

function requireBot(memberId: string): Bot {
  const bot = bots.get(memberId);
  if (!bot) throw new Error(`${memberId} is not online`);
  return bot;
}

async function register(count: number): Promise<Credentials[]> {
  const out: Credentials[] = [];
  for (let i = 0; i < count; i++) {
    const r = await requireApi().register(conferenceId, { name: memberName(registered++) });
    out.push({ memberId: r.memberId, token: r.token });
  }
  return out;
}

async function join(creds: Credentials): Promise<number> {
  const started = performance.now();
  const client = new ConferenceClient({
    api: requireApi(),
    conferenceId,
    token: creds.token,
    createSocket: (url) => new WebSocket(url, { perMessageDeflate: false }),
  });
  const engine = new WeriftMediaEngine({
    bindAddress: "127.0.0.1",
    decode: false,
    memberOf: (slot) => client.room.memberInSlot(slot),
  });
  const bot: Bot = {
    memberId: creds.memberId,
    client,
    engine,
    session: new VoiceSession(client, engine),
    received: 0,
    byMember: new Map(),
    unbound: 0,
    tags: new Set(),
    seenIds: new Set(),
    offs: [],
  };
  // Subscribed before connecting, so the history (and texts in the same TCP read) are seen too.
  bot.offs.push(
    client.on("message", (m) => {
      if (m.type === "text") noteText(bot, m);
      else if (m.type === "history") for (const t of m.messages) noteText(bot, t);
    }),
    client.room.on("change", changed),
    client.on("status", changed),
    engine.on("state", changed),
    bot.session.on("status", changed),
    engine.on("packet", ({ memberId }) => {
      bot.received++;
      if (memberId === undefined) bot.unbound++;
      else bot.byMember.set(memberId, (bot.byMember.get(memberId) ?? 0) + 1);
      changed();
    }),
  );
  bots.set(bot.memberId, bot);
  client.connect();
  await until(() => client.status === "open", `${bot.memberId} is in the room`, CONNECT_TIMEOUT_MS);
  bot.session.start();
  await until(
    () => engine.state === "connected" && bot.session.status === "connected",
    `${bot.memberId}'s voice connected`,
    CONNECT_TIMEOUT_MS,
  );
  return performance.now() - started;
}

function close(bot: Bot, abrupt: boolean): void {
  bots.delete(bot.memberId);
  for (const off of bot.offs.splice(0)) off();
  if (abrupt) {
    // The socket goes first: the server must end the voice from the socket's close alone.
    bot.client.close();
    bot.session.stop();
  } else {
    bot.session.stop();
    bot.client.close();
  }
}

async function leave(memberIds: string[], abrupt: boolean): Promise<void> {
  for (const id of memberIds) close(requireBot(id), abrupt);
  await until(
    () =>
      [...bots.values()].every((b) =>
        memberIds.every((id) => {
          const seat = b.client.room.seat(id);
          return seat !== undefined && !seat.online && !seat.voice.connected;
        }),
      ),
    `everyone saw ${memberIds.join(", ")} leave`,
    DELIVERY_TIMEOUT_MS,
  );
}

// ------------------------------------------------------------ a round

async function aim(speakerId: string, audience: Audience, tag: string): Promise<void> {
  const speaker = requireBot(speakerId);
  speaker.session.setTarget(audience);
  intended.set(tag, "all");
  await speaker.client.sendText("all", `soak ${tag} (aimed)`);
  await until(
    () => [...bots.keys()].every((id) => hasTag(id, tag)),
    `every bot has ${tag}`,
    DELIVERY_TIMEOUT_MS,
  );
}

const tones = new Map<number, Int16Array>();
/** A 440 Hz tone at a quarter of full scale: loud enough to count as voiced. */
function tone(frames: number): Int16Array {
  let pcm = tones.get(frames);
  if (!pcm) {
    pcm = new Int16Array(frames * FRAME_SAMPLES);
    for (let i = 0; i < pcm.length; i++)
      pcm[i] = Math.round(8192 * Math.sin((2 * Math.PI * 440 * i) / 48_000));
    tones.set(frames, pcm);
  }
  return pcm;
}

async function speak(speakerId: string, audience: Audience, frames: number) {
  const speaker = requireBot(speakerId);
  const listeners = [...bots.values()].filter((b) => b !== speaker);
  const before = new Map(
    listeners.map((b) => [b, { received: b.received, unbound: b.unbound, byMember: new Map(b.byMember) }]),
  );
  const { sent } = await speaker.engine.playPcm(tone(frames));
  const targets = addressees(speakerId, audience)
    .map((id) => bots.get(id))
    .filter((b) => b !== undefined);
  const got = (b: Bot) => b.received - (before.get(b)?.received ?? 0);
  await untilOrGiveUp(() => targets.every((b) => got(b) >= sent), DELIVERY_TIMEOUT_MS);
  const deltas: ListenerDelta[] = listeners.map((b) => {
    const was = before.get(b);
    const byMember: Record<string, number> = {};
    for (const [id, n] of b.byMember) {
      const d = n - (was?.byMember.get(id) ?? 0);
      if (d > 0) byMember[id] = d;
    }
    return { memberId: b.memberId, packets: got(b), byMember, unbound: b.unbound - (was?.unbound ?? 0) };
  });
  const shortfall = targets.reduce((s, b) => s + Math.max(0, sent - got(b)), 0);
  return { sent, listeners: deltas, shortfall };
}

async function write(orders: TextOrder[]): Promise<number> {
  for (const o of orders) intended.set(o.tag, o.to);
  await Promise.all(orders.map((o) => requireBot(o.from).client.sendText(o.to, `soak ${o.tag}`)));
  const everyoneHasIt = () => orders.every((o) => addressees(o.from, o.to).every((id) => hasTag(id, o.tag)));
  await untilOrGiveUp(everyoneHasIt, DELIVERY_TIMEOUT_MS);
  let missing = 0;
  for (const o of orders) missing += addressees(o.from, o.to).filter((id) => !hasTag(id, o.tag)).length;
  return missing;
}

// ------------------------------------------------------------ dispatch

async function handle(message: ToSoakWorker): Promise<void> {
  switch (message.type) {
    case "setup": {
      api = new RoundtableApi(message.baseUrl);
      const conference = await api.createConference(message.title);
      conferenceId = conference.id;
      const members = await register(message.before);
      await api.build(conference.id, conference.hostToken);
      return post({ type: "setup", conferenceId, members });
    }
    case "adopt":
      api = new RoundtableApi(message.baseUrl);
      conferenceId = message.conferenceId;
      registered = message.registered;
      return post({ type: "adopted" });
    case "register":
      return post({ type: "registered", members: await register(message.count) });
    case "join": {
      const joinMs = await Promise.all(message.members.map(join));
      return post({ type: "joined", joinMs });
    }
    case "leave":
      await leave(message.memberIds, message.abrupt);
      return post({ type: "left" });
    case "aim":
      await aim(message.speaker, message.audience, message.tag);
      return post({ type: "aimed" });
    case "speak":
      return post({ type: "spoke", ...(await speak(message.speaker, message.audience, message.frames)) });
    case "write":
      return post({ type: "written", missing: await write(message.texts) });
    case "close":
      for (const bot of [...bots.values()]) close(bot, false);
      return post({ type: "closed", texts: tally });
  }
}

port.on("message", (message: ToSoakWorker) => {
  handle(message).catch((error: unknown) =>
    post({ type: "fatal", message: String((error as Error).stack ?? error) }),
  );
});

post({ type: "ready" });
