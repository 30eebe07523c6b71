/**
 * The soak's rounds, driven from the server's thread: who speaks to whom, who writes what, who
 * leaves and who joins, and the checks of each step against the server's own state.
 *
 * A round has exactly one speaker, so every RTP packet any bot receives in it comes from that
 * speaker: a bot outside the audience that receives anything, or a bot of the audience that
 * receives more than was sent, got misaddressed packets, whatever its slot bindings say.
 */
import type { Audience } from "@roundtable/protocol";
import type { Server } from "../../packages/server/src/app.ts";
import type { Conference } from "../../packages/server/src/conference/Conference.ts";
import type { Credentials, FromSoakWorker, TextOrder, ToSoakWorker } from "./soakMessages.ts";
import type { WorkerMailbox } from "./WorkerMailbox.ts";

export type Mailbox = WorkerMailbox<ToSoakWorker, FromSoakWorker>;

/** A failure guard: every reply comes on an event long before. */
const REPLY_TIMEOUT_MS = 60_000;

export async function ask<T extends FromSoakWorker["type"]>(box: Mailbox, message: ToSoakWorker, reply: T) {
  box.send(message);
  return box.next(reply, REPLY_TIMEOUT_MS);
}

export interface RoundTally {
  rounds: number;
  registeredAfterBuild: number;
  joins: number;
  gracefulLeaves: number;
  abruptLeaves: number;
  joinMs: number[];
  targetsAll: number;
  targetsWhisper: number;
  /** Rounds whose target the server had not applied when the text barrier said it had. */
  targetsNotApplied: number;
  sent: number;
  /** Counted by the server's VoiceRoom. */
  forwarded: number;
  received: number;
  /** Packets that reached a bot outside the speaker's audience, or beyond what was sent. */
  misaddressed: number;
  /** Packets credited (by slot binding at arrival) to a member whose audience excludes the bot. */
  attributedOutsideAudience: number;
  /** Credited to a member other than the round's speaker (the slot's rebinding was still on its way). */
  misattributed: number;
  /** On a slot bound to nobody yet (the binding was still on its way). */
  unbound: number;
  /** Packets the audience was still missing when the round gave up waiting. */
  shortfall: number;
  textsSent: number;
  textsPrivate: number;
  textsMissing: number;
  /** Members still connected or in voice on the server once everyone saw them leave. */
  leftBehind: number;
  /** Rounds where the server's voice room did not hold exactly the online bots. */
  roomMismatches: number;
}

export function emptyTally(): RoundTally {
  return {
    rounds: 0,
    registeredAfterBuild: 0,
    joins: 0,
    gracefulLeaves: 0,
    abruptLeaves: 0,
    joinMs: [],
    targetsAll: 0,
    targetsWhisper: 0,
    targetsNotApplied: 0,
    sent: 0,
    forwarded: 0,
    received: 0,
    misaddressed: 0,
    attributedOutsideAudience: 0,
    misattributed: 0,
    unbound: 0,
    shortfall: 0,
    textsSent: 0,
    textsPrivate: 0,
    textsMissing: 0,
    leftBehind: 0,
    roomMismatches: 0,
  };
}

/** A small deterministic generator (mulberry32), so a seed replays the same soak. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RoundSettings {
  onlineMin: number;
  onlineMax: number;
  frames: number;
}

export class SoakRounds {
  readonly tally = emptyTally();
  private online: string[] = [];
  /** Every registered member's credentials, online or not. */
  private readonly creds = new Map<string, Credentials>();
  /** Whom each online member speaks to, as the server was told. */
  private readonly targets = new Map<string, Audience>();

  /** The worker holding the bots: a new one for every phase of the soak. */
  box: Mailbox | undefined;

  constructor(
    private readonly server: Server,
    private readonly conference: Conference,
    private readonly settings: RoundSettings,
    private readonly rng: () => number,
  ) {}

  get members(): number {
    return this.creds.size;
  }

  private worker(): Mailbox {
    if (!this.box) throw new Error("no bot worker");
    return this.box;
  }

  /** Brings `count` members who are offline back (the first phase: those the warm-up registered). */
  async rejoin(count: number, known: Credentials[] = []): Promise<void> {
    for (const m of known) this.creds.set(m.memberId, m);
    const offline = [...this.creds.values()].filter((m) => !this.online.includes(m.memberId));
    await this.join(this.sample(offline, count));
  }

  /** Every bot leaves (voice first, then the socket); the server is checked once it is empty. */
  async closeAll(): Promise<{ delivered: number; misdelivered: number; examples: string[] }> {
    const { texts } = await ask(this.worker(), { type: "close" }, "closed");
    this.tally.gracefulLeaves += this.online.length;
    this.online = [];
    this.targets.clear();
    return texts;
  }

  get onlineCount(): number {
    return this.online.length;
  }

  private room() {
    return this.server.voice.room(this.conference.id);
  }

  private inVoice = (id: string) => this.room()?.has(id) ?? false;

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rng() * items.length)] as T;
  }

  /** `n` distinct items, in random order. */
  private sample<T>(items: readonly T[], n: number): T[] {
    return items
      .map((x) => [this.rng(), x] as const)
      .sort((a, b) => a[0] - b[0])
      .slice(0, n)
      .map(([, x]) => x);
  }

  /** One to all of `items`. */
  private some<T>(items: readonly T[]): T[] {
    return this.sample(items, 1 + Math.floor(this.rng() * items.length));
  }

  private hears(listener: string, speaker: string): boolean {
    const to = this.targets.get(speaker) ?? "all";
    return listener !== speaker && (to === "all" || to.includes(listener));
  }

  async join(members: Credentials[]): Promise<void> {
    if (members.length === 0) return;
    const reply = await ask(this.worker(), { type: "join", members }, "joined");
    this.tally.joinMs.push(...reply.joinMs);
    for (const m of members) {
      this.creds.set(m.memberId, m);
      this.online.push(m.memberId);
      // A new voice starts speaking to everyone.
      this.targets.delete(m.memberId);
    }
    this.tally.joins += members.length;
  }

  async leave(ids: string[], abrupt: boolean): Promise<void> {
    if (ids.length === 0) return;
    await ask(this.worker(), { type: "leave", memberIds: ids, abrupt }, "left");
    this.online = this.online.filter((id) => !ids.includes(id));
    for (const id of ids) {
      this.targets.delete(id);
      if (this.conference.connectionCount(id) > 0 || this.inVoice(id)) this.tally.leftBehind++;
    }
    if (abrupt) this.tally.abruptLeaves += ids.length;
    else this.tally.gracefulLeaves += ids.length;
  }

  async round(): Promise<void> {
    const n = ++this.tally.rounds;
    const t = this.tally;
    if (this.room()?.size !== this.online.length || !this.online.every(this.inVoice)) t.roomMismatches++;

    // Voice: one speaker, to everyone or a whisper to some (now and then naming an offline member).
    const speaker = this.pick(this.online);
    const others = this.online.filter((id) => id !== speaker);
    const offline = [...this.creds.keys()].filter((id) => !this.online.includes(id));
    let audience: Audience = "all";
    if (this.rng() >= 0.4) {
      const chosen = this.some(others);
      if (offline.length > 0 && this.rng() < 0.2) chosen.push(this.pick(offline));
      audience = chosen;
    }
    await ask(this.worker(), { type: "aim", speaker, audience, tag: `r${n}-aim` }, "aimed");
    this.targets.set(speaker, audience);
    if (audience === "all") t.targetsAll++;
    else t.targetsWhisper++;
    const room = this.room();
    if (JSON.stringify(room?.targetOf(speaker)) !== JSON.stringify(audience)) t.targetsNotApplied++;
    const forwarded = room?.forwarded ?? 0;
    const spoke = await ask(
      this.worker(),
      { type: "speak", speaker, audience, frames: this.settings.frames },
      "spoke",
    );
    t.forwarded += (room?.forwarded ?? 0) - forwarded;
    t.sent += spoke.sent;
    t.shortfall += spoke.shortfall;
    for (const l of spoke.listeners) {
      t.received += l.packets;
      t.unbound += l.unbound;
      t.misaddressed += this.hears(l.memberId, speaker) ? Math.max(0, l.packets - spoke.sent) : l.packets;
      for (const [from, count] of Object.entries(l.byMember)) {
        if (from !== speaker) t.misattributed += count;
        if (!this.hears(l.memberId, from)) t.attributedOutsideAudience += count;
      }
    }

    // Texts: a private one from the speaker, a public one and a private one (maybe to someone offline).
    const writer = this.pick(this.online);
    const texts: TextOrder[] = [
      { from: speaker, to: audience === "all" ? this.some(others) : audience, tag: `r${n}-a` },
      { from: this.pick(this.online), to: "all", tag: `r${n}-b` },
      {
        from: writer,
        to: this.sample(
          [...this.creds.keys()].filter((id) => id !== writer),
          1 + Math.floor(this.rng() * 2),
        ),
        tag: `r${n}-c`,
      },
    ];
    const written = await ask(this.worker(), { type: "write", texts }, "written");
    t.textsSent += texts.length + 1;
    t.textsPrivate += texts.filter((x) => x.to !== "all").length;
    t.textsMissing += written.missing;

    // Churn: some leave (with or without a voice-leave first), some join (returning or new).
    const { onlineMin, onlineMax } = this.settings;
    const leavers = this.sample(
      this.online,
      Math.min(Math.floor(this.rng() * 3), this.online.length - onlineMin),
    );
    const abrupt = leavers.filter(() => this.rng() < 0.5);
    await this.leave(abrupt, true);
    await this.leave(
      leavers.filter((id) => !abrupt.includes(id)),
      false,
    );
    const wanted = Math.max(
      onlineMin - this.online.length,
      Math.min(onlineMax - this.online.length, Math.floor(this.rng() * 3)),
    );
    const returning = this.sample(
      [...this.creds.keys()].filter((id) => !this.online.includes(id) && !leavers.includes(id)),
      wanted,
    ).filter(() => this.rng() < 0.5);
    const fresh = wanted - returning.length;
    const newcomers =
      fresh > 0 ? (await ask(this.worker(), { type: "register", count: fresh }, "registered")).members : [];
    t.registeredAfterBuild += newcomers.length;
    await this.join([...returning.map((id) => this.creds.get(id) as Credentials), ...newcomers]);
  }
}
