import {
  type ConferenceClient,
  describeVoiceFailure,
  Emitter,
  type VoiceFailure,
  VoiceSession,
  type VoiceStatus,
} from "@roundtable/client-core";
import type { Audience, TextMessage } from "@roundtable/protocol";
import { BrowserMediaEngine, type SlotStats } from "../audio/BrowserMediaEngine.ts";
import type { MicState } from "../audio/microphone.ts";
import type { Playback } from "../audio/SlotPlayout.ts";
import { panForSlots } from "../audio/spatial.ts";
import { readSetting, writeSetting } from "../lib/storage.ts";

export interface RoomControlEvents extends Record<string, unknown> {
  /** Anything about voice changed: target, mute, whisper, connection, microphone, settings. */
  voice: undefined;
  /** The chosen recipients of the next text changed. */
  selection: undefined;
}

export interface VoiceSlotStats extends SlotStats {
  /** The member this slot carries now on this client (null: nobody). */
  memberId: string | null;
}

export interface VoiceInfo {
  status: VoiceStatus;
  /** Why voice failed, while `status` is "failed". */
  failure: VoiceFailure | undefined;
  /** While connected: `direct` to the server, or `relay` through TURN. */
  path: "direct" | "relay" | undefined;
  /** The peer connection's state ("none" before the first offer). */
  connection: RTCPeerConnectionState | "none";
  /** Peer connections made since joining: the same number means the same connection. */
  generation: number;
  mic: MicState["kind"] | "off";
  /** How voices reach the speakers ("off" outside voice). */
  playback: Playback | "off";
  target: Audience;
  muted: boolean;
}

/** What pages and tests can drive from the console or Playwright: `window.roundtable`. */
export interface RoundtableGlobal {
  readonly memberId: string | undefined;
  sendText(to: Audience, text: string): Promise<TextMessage>;
  /** Whom your voice goes to. While voice follows the text selection, the selection follows too. */
  setVoiceTarget(to: Audience): void;
  setMuted(muted: boolean): void;
  /** Joins voice; resolves once the peer connection is up (the microphone may still be missing). */
  joinVoice(): Promise<void>;
  leaveVoice(): void;
  /** Inbound RTP counters per receive slot, with the member each slot carries. */
  voiceStats(): Promise<VoiceSlotStats[]>;
  voiceInfo(): VoiceInfo;
}

declare global {
  interface Window {
    roundtable?: RoundtableGlobal;
  }
}

const SPATIAL_KEY = "roundtable:voice:spatial";
const DEVICE_KEY = "roundtable:voice:device";
const LINKED_KEY = "roundtable:voice:linked";

/**
 * The one place a member's actions in the room go through, whether they come from the UI or from
 * `window.roundtable`: texts, the chosen recipients, and voice (joining, target, mute, whisper).
 *
 * Audience: the seats you pick are the recipients of your texts and, while `voiceLinked` (the
 * default), also whom your voice goes to: one "who am I addressing" for both, like leaning over to
 * a neighbour at a real table. Unlinked, texts follow the picked seats and your voice goes to
 * everyone. Holding the whisper key on a seat talks to that member alone, whatever was chosen.
 */
export class RoomControls extends Emitter<RoomControlEvents> {
  /** Picked recipients of the next text; empty means everyone. */
  selection: ReadonlySet<string> = new Set();
  /** Whether the voice target follows `selection`. */
  voiceLinked: boolean;
  /** Whom the voice goes to when not whispering. */
  voiceTarget: Audience = "all";
  /** The member talked to while the whisper key is held. */
  whisperTo: string | undefined;
  muted = false;
  spatial: boolean;
  deviceId: string | undefined;
  private engine: BrowserMediaEngine | undefined;
  private session: VoiceSession | undefined;
  private readonly offVoice: (() => void)[] = [];

  constructor(private readonly client: ConferenceClient) {
    super();
    this.spatial = readSetting(SPATIAL_KEY) !== "off";
    this.voiceLinked = readSetting(LINKED_KEY) !== "off";
    this.deviceId = readSetting(DEVICE_KEY) || undefined;
  }

  get memberId(): string | undefined {
    return this.client.memberId;
  }

  sendText(to: Audience, text: string): Promise<TextMessage> {
    return this.client.sendText(checkAudience(to), text);
  }

  // ------------------------------------------------------------------ audience

  toggleRecipient(memberId: string): void {
    const next = new Set(this.selection);
    if (!next.delete(memberId)) next.add(memberId);
    this.setSelection(next);
  }

  clearRecipients(): void {
    if (this.selection.size > 0) this.setSelection(new Set());
  }

  setVoiceLinked(linked: boolean): void {
    if (this.voiceLinked === linked) return;
    this.voiceLinked = linked;
    writeSetting(LINKED_KEY, linked ? "on" : "off");
    // Linking takes over the picked seats; unlinked, the pick is for texts only and the voice goes
    // to everyone again (the voice bar says so).
    this.voiceTarget = linked ? audienceOf(this.selection) : "all";
    this.applyVoice();
  }

  setVoiceTarget(to: Audience): void {
    this.voiceTarget = checkAudience(to);
    if (this.voiceLinked) {
      this.selection = new Set(this.voiceTarget === "all" ? [] : this.voiceTarget);
      this.emit("selection", undefined);
    }
    this.applyVoice();
  }

  /** Whom the voice goes to right now: the whisper while one is held, else the target. */
  get effectiveTarget(): Audience {
    return this.whisperTo ? [this.whisperTo] : this.voiceTarget;
  }

  /** Muted for the others: by choice (unless whispering), or for want of a microphone. */
  get effectiveMuted(): boolean {
    const mic = this.engine?.mic.kind;
    if (mic !== undefined && mic !== "live" && mic !== "pending") return true;
    return this.whisperTo ? false : this.muted;
  }

  private setSelection(selection: ReadonlySet<string>): void {
    this.selection = selection;
    this.emit("selection", undefined);
    if (this.voiceLinked) {
      this.voiceTarget = audienceOf(selection);
      this.applyVoice();
    }
  }

  // ------------------------------------------------------------------ voice

  setMuted(muted: boolean): void {
    if (typeof muted !== "boolean") throw new TypeError("setMuted takes true or false");
    if (this.muted === muted) return;
    this.muted = muted;
    this.applyVoice();
  }

  /** Push-to-talk whisper: talks to `memberId` alone, unmuted, until `endWhisper`. */
  beginWhisper(memberId: string): void {
    if (!this.session || memberId === this.memberId || this.whisperTo === memberId) return;
    this.whisperTo = memberId;
    this.applyVoice();
  }

  /** Back to the previous target and mute state. */
  endWhisper(): void {
    if (this.whisperTo === undefined) return;
    this.whisperTo = undefined;
    this.applyVoice();
  }

  get voiceStatus(): VoiceStatus {
    return this.session?.status ?? "off";
  }

  /** While connected: whether voice reaches the server directly or through the TURN relay. */
  voicePath: "direct" | "relay" | undefined;

  /** Why voice failed, while `voiceStatus` is "failed". */
  get voiceFailure(): VoiceFailure | undefined {
    return this.session?.failure;
  }

  /** After a failure: tries to connect voice again, keeping the microphone. */
  retryVoice(): void {
    this.engine?.resume();
    this.session?.retry();
  }

  get mic(): MicState | undefined {
    return this.engine?.mic;
  }

  get connectionState(): RTCPeerConnectionState | "none" {
    return this.engine?.connectionState ?? "none";
  }

  /** The audio engine while voice is on (levels for meters and rings). */
  get audio(): BrowserMediaEngine | undefined {
    return this.engine;
  }

  /**
   * Joins voice (asks for the microphone on the first call). Resolves once the peer connection is
   * connected; listening works even when the microphone is denied or missing.
   */
  joinVoice(): Promise<void> {
    if (!this.session) this.startVoice();
    this.engine?.resume();
    return this.whenConnected();
  }

  leaveVoice(): void {
    const session = this.session;
    if (!session) return;
    for (const off of this.offVoice.splice(0)) off();
    this.session = undefined;
    this.engine = undefined;
    this.whisperTo = undefined;
    session.stop();
    this.emit("voice", undefined);
  }

  async setDevice(deviceId: string): Promise<void> {
    this.deviceId = deviceId || undefined;
    writeSetting(DEVICE_KEY, deviceId);
    this.emit("voice", undefined);
    await this.engine?.setDevice(this.deviceId);
  }

  /** Asks for the microphone again (after the person allowed it, or plugged one in). */
  async retryMicrophone(): Promise<void> {
    await this.engine?.setDevice(this.deviceId);
  }

  setSpatial(spatial: boolean): void {
    this.spatial = spatial;
    writeSetting(SPATIAL_KEY, spatial ? "on" : "off");
    this.engine?.setSpatial(spatial);
    this.updatePans();
    this.emit("voice", undefined);
  }

  async voiceStats(): Promise<VoiceSlotStats[]> {
    const stats = (await this.engine?.stats()) ?? [];
    return stats.map((s) => ({ ...s, memberId: this.client.room.slots[s.slot] ?? null }));
  }

  voiceInfo(): VoiceInfo {
    return {
      status: this.voiceStatus,
      failure: this.voiceFailure,
      path: this.voicePath,
      connection: this.connectionState,
      generation: this.engine?.generation ?? 0,
      mic: this.engine?.mic.kind ?? "off",
      playback: this.engine?.playback ?? "off",
      target: this.effectiveTarget,
      muted: this.effectiveMuted,
    };
  }

  /** Leaves voice and removes listeners; the controls stay usable for text. */
  dispose(): void {
    this.leaveVoice();
  }

  private startVoice(): void {
    const engine = new BrowserMediaEngine({ deviceId: this.deviceId, spatial: this.spatial });
    const session = new VoiceSession(this.client, engine);
    // Set before start: the session re-applies them once the server's peer exists.
    session.target = this.effectiveTarget;
    session.muted = this.effectiveMuted;
    engine.setMuted(this.effectiveMuted);
    this.engine = engine;
    this.session = session;
    const changed = () => this.emit("voice", undefined);
    this.offVoice.push(
      session.on("status", (status) => {
        this.voicePath = undefined;
        if (status === "connected") this.readPath(engine, session);
        changed();
      }),
      // Without a microphone the others see this member muted; with one again, the choice returns.
      engine.on("mic", () => this.applyVoice()),
      engine.on("connection", changed),
      this.client.room.on("change", () => this.updatePans()),
    );
    session.start();
    this.emit("voice", undefined);
  }

  private whenConnected(): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (!this.session) {
          reject(new Error("voice was left before it connected"));
          return true;
        }
        const { failure } = this.session;
        if (this.session.status === "failed") {
          reject(new Error(failure ? describeVoiceFailure(failure) : "voice could not connect"));
          return true;
        }
        if (this.session.status === "connected") {
          resolve();
          return true;
        }
        return false;
      };
      if (check()) return;
      const off = this.on("voice", () => {
        if (check()) off();
      });
    });
  }

  /**
   * Reads whether voice goes direct or via the relay, once connected. The browser may not have
   * reported its chosen candidate pair yet at that moment: it is read again a few times.
   */
  private readPath(engine: BrowserMediaEngine, session: VoiceSession, tries = 10): void {
    engine.path().then((path) => {
      if (this.engine !== engine || session.status !== "connected") return;
      if (path === undefined) {
        if (tries > 1) setTimeout(() => this.readPath(engine, session, tries - 1), 300);
        return;
      }
      this.voicePath = path;
      this.emit("voice", undefined);
    });
  }

  /** Sends the effective target and mute state to the session when they differ from what it has. */
  private applyVoice(): void {
    const session = this.session;
    if (session) {
      const target = this.effectiveTarget;
      const muted = this.effectiveMuted;
      const retarget = () => {
        if (!sameAudience(session.target, target)) session.setTarget(target);
      };
      // Never a moment with the new audience and the old, open microphone (or the reverse): mute
      // before widening the audience, narrow it before unmuting.
      if (muted && !session.muted) {
        session.setMuted(true);
        retarget();
      } else {
        retarget();
        if (session.muted !== muted) session.setMuted(muted);
      }
    }
    this.emit("voice", undefined);
  }

  private updatePans(): void {
    const engine = this.engine;
    if (!engine) return;
    for (const [slot, pan] of panForSlots(this.client.room).entries()) engine.setPan(slot, pan);
  }

  /** Exposes the controls as `window.roundtable`; returns the function that removes them. */
  install(target: Window): () => void {
    const controls = this;
    const facade: RoundtableGlobal = {
      get memberId() {
        return controls.memberId;
      },
      sendText: (to, text) => controls.sendText(to, text),
      setVoiceTarget: (to) => controls.setVoiceTarget(to),
      setMuted: (muted) => controls.setMuted(muted),
      joinVoice: () => controls.joinVoice(),
      leaveVoice: () => controls.leaveVoice(),
      voiceStats: () => controls.voiceStats(),
      voiceInfo: () => controls.voiceInfo(),
    };
    target.roundtable = facade;
    return () => {
      if (target.roundtable === facade) delete target.roundtable;
    };
  }
}

function audienceOf(selection: ReadonlySet<string>): Audience {
  return selection.size > 0 ? [...selection] : "all";
}

function sameAudience(a: Audience, b: Audience): boolean {
  if (a === "all" || b === "all") return a === b;
  return a.length === b.length && a.every((id) => b.includes(id));
}

/** Calls from the console are untyped; a clear error beats a confusing one from the server. */
function checkAudience(to: Audience): Audience {
  if (to === "all") return "all";
  if (Array.isArray(to) && to.length > 0 && to.every((id) => typeof id === "string" && id.length > 0))
    return [...new Set(to)];
  throw new TypeError('the audience must be "all" or a non-empty array of member ids');
}
