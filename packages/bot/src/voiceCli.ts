import {
  type ConferenceClient,
  describeVoiceFailure,
  VoiceSession,
  type VoiceStatus,
} from "@roundtable/client-core";
import type { Audience } from "@roundtable/protocol";
import { VOICE_RATE, type WavInfo } from "./audio/wav.ts";
import { WeriftMediaEngine } from "./WeriftMediaEngine.ts";

export interface VoiceCliOptions {
  /** A WAV already read (so a bad file fails before joining). */
  play: { path: string; info: WavInfo; pcm: Int16Array } | undefined;
  record: string | undefined;
  to: Audience;
  /** Bind the peer to this IPv4 address only. */
  bind: string | undefined;
  /** How long to wait for the peer connection, in ms. */
  connectTimeoutMs: number;
  log: (line: string) => void;
}

/**
 * The bot's voice for the CLI: joins voice, reports slots and who speaks, plays a WAV to the
 * chosen audience and records what it hears. `finish()` stops everything and writes the recording.
 */
export class VoiceCli {
  readonly engine: WeriftMediaEngine;
  readonly session: VoiceSession;
  private readonly playback = new AbortController();
  private readonly offs: (() => void)[] = [];
  private finished: Promise<void> | undefined;

  constructor(
    private readonly client: ConferenceClient,
    private readonly options: VoiceCliOptions,
  ) {
    this.engine = new WeriftMediaEngine({
      ...(options.bind ? { bindAddress: options.bind } : {}),
      decode: true,
      record: options.record !== undefined,
      memberOf: (slot) => client.room.memberInSlot(slot),
    });
    this.session = new VoiceSession(client, this.engine);
  }

  private name(id: string | null | undefined): string {
    if (!id) return "nobody";
    return this.client.room.member(id)?.name ?? id;
  }

  /** Joins voice and resolves once the peer connection is up. */
  async start(): Promise<void> {
    const { log } = this.options;
    const speaking = new Map<string, boolean>();
    this.offs.push(
      this.session.on("status", (s) => log(`[voice ${s}]`)),
      this.engine.on("state", (s) => log(`[peer ${s}]`)),
      this.client.on("message", (m) => {
        if (m.type === "voice-slot")
          log(`slot ${m.slot}: ${this.name(m.memberId)}${m.whisper ? " (whisper to you)" : ""}`);
      }),
      this.client.room.on("change", () => {
        for (const seat of this.client.room.seats) {
          const was = speaking.get(seat.member.id) ?? false;
          if (seat.speaking === was) continue;
          speaking.set(seat.member.id, seat.speaking);
          log(`${seat.member.name} ${seat.speaking ? "speaking" : "silent"}`);
        }
      }),
    );
    this.session.start();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`voice did not connect within ${this.options.connectTimeoutMs} ms`));
      }, this.options.connectTimeoutMs);
      const check = (status: VoiceStatus) => {
        if (status !== "connected" && status !== "failed") return;
        clearTimeout(timer);
        off();
        const { failure } = this.session;
        if (failure) reject(new Error(`voice failed: ${describeVoiceFailure(failure)}`));
        else resolve();
      };
      const off = this.session.on("status", check);
      check(this.session.status);
    });
    if (this.options.to !== "all") this.session.setTarget(this.options.to);
  }

  /** Plays the `--play` file once, if any. */
  async play(): Promise<void> {
    if (!this.options.play) return;
    const { path, info, pcm } = this.options.play;
    const to = this.options.to === "all" ? "everyone" : this.options.to.map((id) => this.name(id)).join(", ");
    const converted =
      info.sampleRate !== VOICE_RATE || info.channels !== 1 || info.bitsPerSample !== 16
        ? ` (converted from ${info.sampleRate} Hz, ${info.channels} ch, ${info.bitsPerSample} bit)`
        : "";
    this.options.log(`playing ${path}: ${(pcm.length / VOICE_RATE).toFixed(1)} s to ${to}${converted}`);
    const { frames, sent } = await this.engine.playPcm(pcm, { signal: this.playback.signal });
    this.options.log(`played ${frames} frames, sent ${sent} packets`);
  }

  /** Stops playing, leaves voice, writes the recording and prints what was heard. Idempotent. */
  finish(): Promise<void> {
    this.finished ??= (async () => {
      const { log } = this.options;
      this.playback.abort();
      const stats = this.engine.stats();
      const recording = this.options.record;
      if (recording) {
        const { seconds } = await this.engine.record(recording);
        log(`recorded ${seconds.toFixed(1)} s to ${recording}`);
      }
      for (const off of this.offs.splice(0)) off();
      this.session.stop();
      log(`sent ${stats.sent.packets} packets (${stats.sent.bytes} RTP bytes)`);
      stats.slots.forEach((s, i) => {
        if (s.packets > 0) log(`slot ${i}: ${s.packets} packets, ${s.lost} lost, ${s.late} late`);
      });
      for (const [id, c] of Object.entries(stats.members)) {
        const level = c.samples > 0 ? Math.sqrt(c.sumSquares / c.samples) : 0;
        log(`heard ${this.name(id)}: ${c.packets} packets, ${c.bytes} RTP bytes, RMS ${level.toFixed(4)}`);
      }
    })();
    return this.finished;
  }
}
