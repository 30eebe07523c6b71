import type { Audience, IceServer, ServerMessage, ServerMessageOf } from "@roundtable/protocol";
import type { ConferenceClient } from "./ConferenceClient.ts";
import { Emitter } from "./Emitter.ts";
import { type Clock, realClock, realScheduler, type Scheduler } from "./ports.ts";
import type { VoiceFailure } from "./voiceFailure.ts";

export interface VoiceOffer {
  sdp: string;
  uplinkMid: string;
  slots: string[];
  /** STUN and TURN servers for the peer connection (RTCIceServer), from the server's offer. */
  iceServers?: IceServer[];
}

export interface IceCandidate {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

/** Where a peer connection broke: ICE found no path, or the DTLS handshake on it failed. */
export type TransportFailure = "ice" | "dtls";

/**
 * The media half of voice, implemented by the browser (RTCPeerConnection + WebAudio) and by the
 * bot (werift + Opus). The session drives it; it never talks to the server itself.
 */
export interface MediaEngine {
  /** Applies the server's offer (a fresh peer connection each time) and returns the answer SDP. */
  answer(offer: VoiceOffer): Promise<string>;
  /** Set by the session: called with each local ICE candidate gathered after answering. */
  onCandidate: ((candidate: IceCandidate) => void) | null;
  /** Set by the session: the current peer connection completed ICE and DTLS (media can flow). */
  onConnected: (() => void) | null;
  /** Set by the session: the current peer connection failed and needs a new negotiation. */
  onFailed: ((stage: TransportFailure) => void) | null;
  /** Whether ICE found a working path on the current peer connection (DTLS may still be going). */
  readonly iceConnected: boolean;
  /** Closes the current peer connection only; the engine answers the next offer afresh. */
  hangUp(): void;
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
/**
 * How long voice may take to connect, over every attempt, before the member is told it failed.
 * Set-up takes well under 3 s even on a lossy uplink; a network that blocks voice never finishes.
 */
export const CONNECT_DEADLINE_MS = 9000;
/** Attempts within one deadline: a failed handshake is retried at once, not after a timeout. */
const MAX_ATTEMPTS = 4;

export type VoiceStatus = "off" | "connecting" | "connected" | "failed";

export interface VoiceEvents extends Record<string, unknown> {
  status: VoiceStatus;
  target: Audience;
  muted: boolean;
}

/**
 * A member's voice: negotiates with the server over the conference socket, keeps the target and
 * mute state (and re-applies them after a reconnect), turns slot levels into speaking seats, and
 * says honestly where the connection stands: connected only once the server took the answer and
 * ICE and DTLS completed; failed, with a reason, when that did not happen within the deadline.
 */
export class VoiceSession extends Emitter<VoiceEvents> {
  status: VoiceStatus = "off";
  /** Why voice failed, while `status` is "failed". */
  failure: VoiceFailure | undefined;
  target: Audience = "all";
  muted = false;
  private readonly scheduler: Scheduler;
  private readonly clock: Clock;
  private readonly speaking: SpeakingOptions;
  private readonly deadlineMs: number;
  private readonly lastLoud = new Map<string, number>();
  private cancelPoll: (() => void) | undefined;
  private readonly unsubscribe: (() => void)[] = [];
  private started = false;
  private offers = 0;
  private cancelRejoin: (() => void) | undefined;
  private cancelDeadline: (() => void) | undefined;
  /** Of the current attempt series (since the last success, retry or reconnect). */
  private attempts = 0;
  /** Of the current attempt: what has happened so far. */
  private offered = false;
  private accepted = false;
  private transportUp = false;
  private relayOffered = false;
  private lastProblem: VoiceFailure | undefined;

  constructor(
    private readonly client: ConferenceClient,
    private readonly engine: MediaEngine,
    options: {
      scheduler?: Scheduler;
      clock?: Clock;
      speaking?: Partial<SpeakingOptions>;
      connectDeadlineMs?: number;
    } = {},
  ) {
    super();
    this.scheduler = options.scheduler ?? realScheduler;
    this.clock = options.clock ?? realClock;
    this.speaking = { ...DEFAULT_SPEAKING, ...options.speaking };
    this.deadlineMs = options.connectDeadlineMs ?? CONNECT_DEADLINE_MS;
  }

  /** Joins voice now (or as soon as the conference socket is open) and after every reconnect. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.engine.onCandidate = (c) => this.client.send({ type: "voice-candidate", ...c });
    this.engine.onConnected = () => {
      this.transportUp = true;
      this.settle();
    };
    this.engine.onFailed = (stage) =>
      this.attemptFailed(
        stage === "ice" ? { kind: "blocked", relayed: this.relayOffered } : { kind: "handshake" },
      );
    this.unsubscribe.push(
      this.client.on("message", (m) => this.onMessage(m)),
      this.client.on("status", (s) => {
        if (s === "open") this.retry();
        else if (this.client.isFinal) this.stop();
        else if (s !== "connecting" && this.status !== "failed") this.waitForSocket();
      }),
    );
    if (this.client.status === "open") this.retry();
    else this.waitForSocket();
    this.poll();
  }

  /** Starts a fresh series of attempts, with a fresh deadline (the retry button, a reconnect). */
  retry(): void {
    if (!this.started) return;
    this.cancelDeadline?.();
    this.cancelDeadline = undefined;
    this.attempts = 0;
    this.lastProblem = undefined;
    if (this.client.status === "open") this.rejoin();
    else this.waitForSocket();
  }

  /** Sets whom the voice goes to; before `start()` it only takes effect once voice connects. */
  setTarget(to: Audience): void {
    this.target = to === "all" ? "all" : [...new Set(to)];
    if (this.accepted) this.client.send({ type: "voice-target", to: this.target });
    this.emit("target", this.target);
  }

  setMuted(muted: boolean): void {
    this.muted = muted;
    this.engine.setMuted(muted);
    if (this.accepted) this.client.send({ type: "voice-mute", muted });
    this.emit("muted", muted);
  }

  /** Leaves voice: the server frees this member's slots everywhere. Idempotent. */
  stop(): void {
    if (!this.started) return;
    this.started = false;
    for (const off of this.unsubscribe.splice(0)) off();
    this.cancelPoll?.();
    this.cancelRejoin?.();
    this.cancelDeadline?.();
    this.cancelDeadline = undefined;
    this.client.send({ type: "voice-leave" });
    this.engine.close();
    this.client.room.clearSlots();
    this.accepted = false;
    this.setStatus("off");
  }

  /** The conference socket is down: voice waits for it (the deadline starts once it is back). */
  private waitForSocket(): void {
    this.cancelDeadline?.();
    this.cancelDeadline = undefined;
    this.accepted = false;
    this.setStatus("connecting");
  }

  private rejoin(): void {
    this.cancelRejoin?.();
    this.cancelRejoin = undefined;
    this.client.room.clearSlots();
    this.attempts++;
    this.offered = false;
    this.accepted = false;
    this.transportUp = false;
    this.cancelDeadline ??= this.scheduler.schedule(() => this.giveUp(), this.deadlineMs);
    this.setStatus("connecting");
    this.client.send({ type: "voice-join" });
  }

  /** Connected once the server took the answer and the engine's transport is up. */
  private settle(): void {
    if (!this.started || !this.accepted || !this.transportUp) return;
    this.cancelDeadline?.();
    this.cancelDeadline = undefined;
    this.attempts = 0;
    this.lastProblem = undefined;
    this.setStatus("connected");
  }

  /** One attempt failed: try again at once while attempts and time remain, else say why. */
  private attemptFailed(problem: VoiceFailure): void {
    if (!this.started) return;
    this.lastProblem = problem;
    if (this.status === "connected") {
      this.retry();
      return;
    }
    if (this.status !== "connecting") return;
    this.engine.hangUp();
    if (problem.kind === "refused" || problem.kind === "engine" || this.attempts >= MAX_ATTEMPTS)
      this.fail(problem);
    else if (this.client.status === "open") this.rejoin();
  }

  /** The deadline passed without voice: what went wrong is what the attempts got to. */
  private giveUp(): void {
    this.cancelDeadline = undefined;
    if (!this.started || this.status !== "connecting") return;
    const problem: VoiceFailure =
      this.lastProblem ??
      (!this.offered
        ? { kind: "no_offer" }
        : this.engine.iceConnected
          ? { kind: "handshake" }
          : { kind: "blocked", relayed: this.relayOffered });
    this.fail(problem);
  }

  private fail(problem: VoiceFailure): void {
    this.cancelDeadline?.();
    this.cancelDeadline = undefined;
    this.cancelRejoin?.();
    this.cancelRejoin = undefined;
    this.engine.hangUp();
    this.client.room.clearSlots();
    // Frees the server's peer at once instead of when its consent checks give up.
    if (this.offered) this.client.send({ type: "voice-leave" });
    this.accepted = false;
    this.failure = problem;
    this.setStatus("failed");
  }

  private onMessage(message: ServerMessage): void {
    if (!this.started) return;
    switch (message.type) {
      case "error":
        this.onError(message);
        return;
      case "voice-offer":
        this.onOffer(message);
        return;
      case "voice-accepted":
        if (this.status !== "connecting" || !this.offered) return;
        this.accepted = true;
        // The server's new peer starts with defaults: re-apply what this member chose.
        if (this.target !== "all") this.client.send({ type: "voice-target", to: this.target });
        if (this.muted) this.client.send({ type: "voice-mute", muted: true });
        this.settle();
        return;
      case "voice-closed":
        this.accepted = false;
        // The server's side failing says little about where: this side's ICE tells.
        this.attemptFailed(
          message.reason === "answer_refused"
            ? { kind: "refused", message: message.message }
            : this.engine.iceConnected
              ? { kind: "handshake" }
              : { kind: "blocked", relayed: this.relayOffered },
        );
        return;
      default:
        return;
    }
  }

  private onOffer(message: ServerMessageOf<"voice-offer">): void {
    if (this.status === "failed") return;
    // Only the newest offer counts: an older answer still in flight belongs to a closed connection.
    const offer = ++this.offers;
    this.offered = true;
    this.relayOffered = message.iceServers.some((s) =>
      (Array.isArray(s.urls) ? s.urls : [s.urls]).some((u) => u.startsWith("turn")),
    );
    this.engine.answer(message).then(
      (sdp) => {
        if (!this.started || offer !== this.offers) return;
        this.engine.setMuted(this.muted);
        this.client.send({ type: "voice-answer", sdp });
      },
      (error: unknown) => {
        if (this.started && offer === this.offers)
          this.attemptFailed({
            kind: "engine",
            message: error instanceof Error ? error.message : String(error),
          });
      },
    );
  }

  /**
   * A join refused for restarting too often (a flapping network) is tried again later, so voice
   * comes back by itself once the network settles instead of waiting for the next drop.
   */
  private onError(message: ServerMessageOf<"error">): void {
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
    if (status !== "failed") this.failure = undefined;
    this.status = status;
    this.emit("status", status);
  }
}
