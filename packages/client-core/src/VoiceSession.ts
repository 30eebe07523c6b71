import type { Audience, ServerMessage } from "@roundtable/protocol";
import type { ConferenceClient } from "./ConferenceClient.ts";
import { Emitter } from "./Emitter.ts";
import { type Clock, realClock, realScheduler, type Scheduler } from "./ports.ts";

export interface VoiceOffer {
  sdp: string;
  uplinkMid: string;
  slots: string[];
}

export interface IceCandidate {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

/**
 * The media half of voice, implemented by the browser (RTCPeerConnection + WebAudio) and by the
 * bot (werift + Opus). The session drives it; it never talks to the server itself.
 */
export interface MediaEngine {
  /** Applies the server's offer (a fresh peer connection each time) and returns the answer SDP. */
  answer(offer: VoiceOffer): Promise<string>;
  /** Set by the session: called with each local ICE candidate gathered after answering. */
  onCandidate: ((candidate: IceCandidate) => void) | null;
  /** Set by the session: the peer connection failed and needs a new negotiation. */
  onFailed: (() => void) | null;
  setMuted(muted: boolean): void;
  /** How loud slot `slot` plays right now, 0 (silence) to 1 (full scale). */
  slotLevel(slot: number): number;
  /** Idempotent. */
  close(): void;
}

export interface SpeakingOptions {
  /** Level (0-1) above which a voice counts as speaking. */
  threshold: number;
  /** Milliseconds a seat keeps speaking after the level drops, so the animation does not flicker. */
  holdMs: number;
  /** Milliseconds between level readings. */
  pollMs: number;
}

export const DEFAULT_SPEAKING: SpeakingOptions = { threshold: 0.01, holdMs: 300, pollMs: 20 };

/** The server allows a few voice joins at once, then one every few seconds. */
const REJOIN_AFTER_LIMIT_MS = 3000;

export type VoiceStatus = "off" | "connecting" | "connected" | "failed";

export interface VoiceEvents extends Record<string, unknown> {
  status: VoiceStatus;
  target: Audience;
  muted: boolean;
}

/**
 * A member's voice: negotiates with the server over the conference socket, keeps the target and
 * mute state (and re-applies them after a reconnect), and turns slot levels into speaking seats.
 */
export class VoiceSession extends Emitter<VoiceEvents> {
  status: VoiceStatus = "off";
  target: Audience = "all";
  muted = false;
  private readonly scheduler: Scheduler;
  private readonly clock: Clock;
  private readonly speaking: SpeakingOptions;
  private readonly lastLoud = new Map<string, number>();
  private cancelPoll: (() => void) | undefined;
  private readonly unsubscribe: (() => void)[] = [];
  private started = false;
  private offers = 0;
  private cancelRejoin: (() => void) | undefined;

  constructor(
    private readonly client: ConferenceClient,
    private readonly engine: MediaEngine,
    options: { scheduler?: Scheduler; clock?: Clock; speaking?: Partial<SpeakingOptions> } = {},
  ) {
    super();
    this.scheduler = options.scheduler ?? realScheduler;
    this.clock = options.clock ?? realClock;
    this.speaking = { ...DEFAULT_SPEAKING, ...options.speaking };
  }

  /** Joins voice now (or as soon as the conference socket is open) and after every reconnect. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.engine.onCandidate = (c) => this.client.send({ type: "voice-candidate", ...c });
    this.engine.onFailed = () => this.rejoin();
    this.unsubscribe.push(
      this.client.on("message", (m) => this.onMessage(m)),
      this.client.on("status", (s) => {
        if (s === "open") this.rejoin();
        else if (this.client.isFinal) this.stop();
        else if (s !== "connecting") this.setStatus("connecting");
      }),
    );
    if (this.client.status === "open") this.rejoin();
    else this.setStatus("connecting");
    this.poll();
  }

  /** Sets whom the voice goes to; before `start()` it only takes effect once voice connects. */
  setTarget(to: Audience): void {
    this.target = to === "all" ? "all" : [...new Set(to)];
    if (this.status === "connected") this.client.send({ type: "voice-target", to: this.target });
    this.emit("target", this.target);
  }

  setMuted(muted: boolean): void {
    this.muted = muted;
    this.engine.setMuted(muted);
    if (this.status === "connected") this.client.send({ type: "voice-mute", muted });
    this.emit("muted", muted);
  }

  /** Leaves voice: the server frees this member's slots everywhere. Idempotent. */
  stop(): void {
    if (!this.started) return;
    this.started = false;
    for (const off of this.unsubscribe.splice(0)) off();
    this.cancelPoll?.();
    this.cancelRejoin?.();
    this.client.send({ type: "voice-leave" });
    this.engine.close();
    this.client.room.clearSlots();
    this.setStatus("off");
  }

  private rejoin(): void {
    this.cancelRejoin?.();
    this.cancelRejoin = undefined;
    this.client.room.clearSlots();
    this.setStatus("connecting");
    this.client.send({ type: "voice-join" });
  }

  private onMessage(message: ServerMessage): void {
    if (!this.started) return;
    if (message.type === "error") {
      this.onError(message);
      return;
    }
    if (message.type !== "voice-offer") return;
    // Only the newest offer counts: an older answer still in flight belongs to a closed connection.
    const offer = ++this.offers;
    this.engine.answer(message).then(
      (sdp) => {
        if (!this.started || offer !== this.offers) return;
        this.client.send({ type: "voice-answer", sdp });
        // The server's new peer starts with defaults: re-apply what this member chose.
        if (this.target !== "all") this.client.send({ type: "voice-target", to: this.target });
        if (this.muted) this.client.send({ type: "voice-mute", muted: true });
        this.engine.setMuted(this.muted);
        this.setStatus("connected");
      },
      () => {
        if (this.started && offer === this.offers) this.setStatus("failed");
      },
    );
  }

  /**
   * A join refused for restarting too often (a flapping network) is tried again later, so voice
   * comes back by itself once the network settles instead of waiting for the next drop.
   */
  private onError(message: Extract<ServerMessage, { type: "error" }>): void {
    if (message.clientId || message.code !== "rate_limited" || this.status !== "connecting") return;
    this.cancelRejoin?.();
    this.cancelRejoin = this.scheduler.schedule(() => {
      this.cancelRejoin = undefined;
      if (this.started && this.status === "connecting" && this.client.status === "open") this.rejoin();
    }, REJOIN_AFTER_LIMIT_MS);
  }

  /** Reads slot levels and marks the bound members speaking, with a hold against flicker. */
  private poll(): void {
    const room = this.client.room;
    const now = this.clock.now();
    const heard = new Set<string>();
    room.slots.forEach((memberId, slot) => {
      if (!memberId) return;
      heard.add(memberId);
      if (this.engine.slotLevel(slot) >= this.speaking.threshold) this.lastLoud.set(memberId, now);
    });
    for (const [memberId, at] of this.lastLoud) {
      const speaking = heard.has(memberId) && now - at < this.speaking.holdMs;
      room.setSpeaking(memberId, speaking);
      if (!speaking) this.lastLoud.delete(memberId);
    }
    this.cancelPoll = this.scheduler.schedule(() => this.poll(), this.speaking.pollMs);
  }

  private setStatus(status: VoiceStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.emit("status", status);
  }
}
