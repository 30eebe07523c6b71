import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { Emitter, type IceCandidate, type MediaEngine, type VoiceOffer } from "@roundtable/client-core";

/**
 * A `MediaEngine` whose media is a WebRTC stack nobody here wrote: aiortc (Python), in a child
 * process running `aiortc_peer.py`, spoken to in line-delimited JSON over its stdin and stdout.
 * The signalling stays the product's (VoiceSession over ConferenceClient); only the peer
 * connection is aiortc's. aiortc gathers every candidate before answering, so nothing is trickled
 * and `onCandidate` is never called.
 */

const SCRIPT = resolve(import.meta.dirname, "aiortc_peer.py");
/** Levels older than this (the process stalled or died) read as silence. */
const LEVELS_STALE_MS = 250;
/** How long a closed process gets to close its peer connection before it is killed. */
const EXIT_GRACE_MS = 1000;
const STDERR_LINES_KEPT = 40;

export interface AiortcMediaEngineOptions {
  /** WAV file sent (looped) on the uplink; silence when unset. */
  play?: string;
  /** Who slot `slot` carries now (e.g. `room.memberInSlot`), for per-member frame counts. */
  memberOf?: (slot: number) => string | undefined;
  python?: string;
  /** aiortc's debug log to this process's stderr. */
  debug?: boolean;
}

export type AiortcState = "new" | "connecting" | "connected" | "disconnected" | "failed" | "closed";

export interface AiortcSlotStats {
  /** RTP packets received (aiortc's inbound-rtp `packetsReceived`). */
  packets: number;
  /** Opus frames decoded. */
  frames: number;
}

export interface AiortcEvents extends Record<string, unknown> {
  state: AiortcState;
  /** A levels report arrived: the slots' current RMS (0-1). */
  levels: number[];
  error: Error;
}

/** Loosely typed: passed through to aiortc's RTCIceServer as they come. */
type OfferWithIce = VoiceOffer & { iceServers?: unknown[] };
/** Where the transport broke, as the port names it ("ice" or "dtls"). */
type FailureStage = Parameters<NonNullable<MediaEngine["onFailed"]>>[0];

type PeerEvent =
  | { ev: "answer"; sdp: string }
  | { ev: "state"; state: AiortcState }
  | { ev: "ice"; state: string }
  | { ev: "levels"; levels: number[]; frames?: number[] }
  | { ev: "stats"; slots: AiortcSlotStats[] }
  | { ev: "error"; message: string; op?: string | null };

interface Pending<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

export class AiortcMediaEngine extends Emitter<AiortcEvents> implements MediaEngine {
  onCandidate: ((candidate: IceCandidate) => void) | null = null;
  onConnected: (() => void) | null = null;
  onFailed: ((stage: FailureStage) => void) | null = null;
  state: AiortcState = "new";
  /** ICE found a path on the current peer connection (DTLS may still be going). */
  iceConnected = false;
  /** Resolves once the child process has exited (immediately if it never started). */
  readonly exited: Promise<void>;
  private child: ChildProcessWithoutNullStreams | undefined;
  private markExited: () => void = () => {};
  private readonly answers: Pending<string>[] = [];
  private readonly statsRequests: Pending<AiortcSlotStats[]>[] = [];
  private levels: number[] = [];
  private levelsAt = Number.NEGATIVE_INFINITY;
  private frames: number[] = [];
  private readonly framesByMember = new Map<string, number>();
  private muted = false;
  private closed = false;
  private readonly stderr: string[] = [];

  constructor(private readonly options: AiortcMediaEngineOptions = {}) {
    super();
    this.exited = new Promise((done) => {
      this.markExited = done;
    });
  }

  answer(offer: VoiceOffer): Promise<string> {
    if (this.closed) return Promise.reject(new Error("the media engine is closed"));
    const { sdp, uplinkMid, slots } = offer;
    const iceServers = (offer as OfferWithIce).iceServers ?? [];
    return new Promise<string>((resolveAnswer, reject) => {
      this.answers.push({ resolve: resolveAnswer, reject });
      this.iceConnected = false;
      this.setState("connecting");
      this.send({ op: "answer", offer: { sdp, uplinkMid, slots }, iceServers });
      if (this.muted) this.send({ op: "mute", muted: true });
    });
  }

  /** Closes the current peer connection only; the process stays for the next offer. */
  hangUp(): void {
    if (this.closed) return;
    this.iceConnected = false;
    this.levels = [];
    if (this.child) this.send({ op: "hangup" });
    this.setState("new");
  }

  setMuted(muted: boolean): void {
    if (this.muted === muted) return;
    this.muted = muted;
    if (this.child) this.send({ op: "mute", muted });
  }

  slotLevel(slot: number): number {
    if (performance.now() - this.levelsAt > LEVELS_STALE_MS) return 0;
    return this.levels[slot] ?? 0;
  }

  /** Frames decoded from `memberId`, through the slot binding when each report arrived. */
  framesFrom(memberId: string): number {
    return this.framesByMember.get(memberId) ?? 0;
  }

  /** Per slot of the current peer connection: packets received and frames decoded. */
  stats(): Promise<AiortcSlotStats[]> {
    if (this.closed || !this.child) return Promise.resolve([]);
    return new Promise((resolveStats, reject) => {
      this.statsRequests.push({ resolve: resolveStats, reject });
      this.send({ op: "stats" });
    });
  }

  /** Idempotent: closes the peer connection and ends the process (killed if it lingers). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.rejectAll(new Error("the media engine is closed"));
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      this.send({ op: "close" });
      child.stdin.end();
      const kill = setTimeout(() => child.kill("SIGKILL"), EXIT_GRACE_MS);
      child.once("exit", () => clearTimeout(kill));
    } else {
      this.markExited();
    }
    this.setState("closed");
  }

  private send(command: Record<string, unknown>): void {
    const child = this.child ?? this.spawn();
    if (child.stdin.writable) child.stdin.write(`${JSON.stringify(command)}\n`);
  }

  private spawn(): ChildProcessWithoutNullStreams {
    const args = [SCRIPT];
    if (this.options.play) args.push("--play", this.options.play);
    if (this.options.debug) args.push("--debug");
    const child = spawn(this.options.python ?? "/usr/bin/python3", args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, PYTHONUNBUFFERED: "1" },
    });
    this.child = child;
    child.stdin.on("error", () => {}); // EPIPE after an exit: the exit handler reports it.
    createInterface({ input: child.stdout }).on("line", (line) => this.onLine(line));
    createInterface({ input: child.stderr }).on("line", (line) => {
      if (this.options.debug) process.stderr.write(`[aiortc] ${line}\n`);
      this.stderr.push(line);
      if (this.stderr.length > STDERR_LINES_KEPT) this.stderr.shift();
    });
    child.on("error", (error) => this.onExit(`could not run aiortc_peer.py: ${error.message}`));
    child.on("exit", (code, signal) => this.onExit(`aiortc_peer.py exited (${signal ?? code})`));
    return child;
  }

  private onExit(why: string): void {
    if (!this.child) return;
    this.child = undefined;
    this.levels = [];
    const tail = this.stderr.length ? `: ${this.stderr.slice(-5).join(" | ")}` : "";
    this.rejectAll(new Error(`${why}${tail}`));
    this.markExited();
    if (this.closed) return;
    // An unexpected exit loses the peer connection: the session negotiates a new one (a new process).
    this.emit("error", new Error(`${why}${tail}`));
    this.setState("failed");
    this.onFailed?.(this.failureStage());
  }

  private failureStage(): FailureStage {
    return this.iceConnected ? "dtls" : "ice";
  }

  private onLine(line: string): void {
    let event: PeerEvent;
    try {
      event = JSON.parse(line) as PeerEvent;
    } catch {
      this.stderr.push(`stdout: ${line}`);
      return;
    }
    switch (event.ev) {
      case "answer":
        this.frames = [];
        this.answers.shift()?.resolve(event.sdp);
        break;
      case "ice":
        if (event.state === "connected" || event.state === "completed") this.iceConnected = true;
        break;
      case "state":
        if (this.closed || event.state === this.state) break;
        this.setState(event.state);
        if (event.state === "connected") this.onConnected?.();
        else if (event.state === "failed") this.onFailed?.(this.failureStage());
        break;
      case "levels":
        this.levels = event.levels;
        this.levelsAt = performance.now();
        if (event.frames) this.countFrames(event.frames);
        this.emit("levels", event.levels);
        break;
      case "stats":
        this.statsRequests.shift()?.resolve(event.slots);
        break;
      case "error": {
        const error = new Error(`aiortc: ${event.message}`);
        if (event.op === "answer") this.answers.shift()?.reject(error);
        else if (event.op === "stats") this.statsRequests.shift()?.reject(error);
        else this.emit("error", error);
        break;
      }
    }
  }

  private countFrames(frames: number[]): void {
    frames.forEach((count, slot) => {
      const previous = this.frames[slot] ?? 0;
      // Counts restart with each peer connection.
      const added = count >= previous ? count - previous : count;
      const memberId = added > 0 ? this.options.memberOf?.(slot) : undefined;
      if (memberId) this.framesByMember.set(memberId, this.framesFrom(memberId) + added);
    });
    this.frames = frames;
  }

  private rejectAll(error: Error): void {
    for (const p of this.answers.splice(0)) p.reject(error);
    for (const p of this.statsRequests.splice(0)) p.reject(error);
  }

  private setState(state: AiortcState): void {
    if (this.state === state || (this.closed && state !== "closed")) return;
    // A superseded connection's "closed" is not this engine's: a newer one is on its way.
    if (state === "closed" && !this.closed) return;
    this.state = state;
    this.emit("state", state);
  }
}
