import { setTimeout as sleep } from "node:timers/promises";
import {
  Emitter,
  type IceCandidate,
  type MediaEngine,
  type TransportFailure,
  type VoiceOffer,
} from "@roundtable/client-core";
import type { IceServer } from "@roundtable/protocol";
import {
  type MediaStreamTrack,
  RTCPeerConnection,
  type RTCPeerConnectionConfig,
  RTCRtpCodecParameters,
  type RTCRtpTransceiver,
  RtpHeader,
  RtpPacket,
  useAudioLevelIndication,
  useSdesMid,
} from "werift";
import { rfc6464Level, rms } from "./audio/level.ts";
import { MicStream } from "./audio/MicStream.ts";
import { Mixdown } from "./audio/Mixdown.ts";
import { FRAME_MS, FRAME_SAMPLES, OpusDecoder, OpusEncoder } from "./audio/opus.ts";
import { readVoiceWav, VOICE_RATE, writeWav } from "./audio/wav.ts";
import { emptyCounters, type ReceiveCounters, type SlotCounters, SlotReceiver } from "./SlotReceiver.ts";

export type { ReceiveCounters, SlotCounters } from "./SlotReceiver.ts";

const AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
/** A slot that got no packet for this long reads as silent, whatever its last frame was. */
const LEVEL_STALE_MS = 100;
/** Level at and above which a frame is flagged voiced in the RFC 6464 extension (VoiceSession's default threshold). */
const VOICED_RMS = 0.01;
/**
 * Estimated bytes on the wire per RTP packet besides the RTP packet itself: SRTP tag (16, AES-GCM,
 * which werift prefers) + UDP (8) + IPv4 (20).
 */
export const WIRE_OVERHEAD_BYTES = 16 + 8 + 20;

export interface WeriftMediaEngineOptions {
  /** Bind the peer's UDP socket to this IPv4 address only (e.g. "127.0.0.1"); all interfaces when unset. */
  bindAddress?: string;
  /** Host candidates announced besides the interfaces' own; loopback by default, which werift leaves out. */
  additionalHostAddresses?: string[];
  /** UDP port range for the peer, inclusive. */
  portRange?: [number, number];
  /** STUN and TURN servers besides those the server's offer names. */
  iceServers?: IceServer[];
  /**
   * Decode what arrives (levels from PCM, recording). Off, packets are only counted and levels
   * come from the RTP audio-level extension: far cheaper, for benchmarks with many listeners.
   */
  decode?: boolean;
  /** Keep a mix of everything heard, for `record()`. Needs `decode`. */
  record?: boolean;
  /** Who slot `slot` carries now (e.g. `room.memberInSlot`), for per-member counters. */
  memberOf?: (slot: number) => string | undefined;
  /** Milliseconds, monotonic. */
  now?: () => number;
}

export interface EngineStats {
  sent: { packets: number; bytes: number; frames: number };
  slots: SlotCounters[];
  /** By member, through the slot binding at the time each packet arrived. */
  members: Record<string, ReceiveCounters>;
}

export type EngineState = "new" | "connecting" | "connected" | "disconnected" | "failed" | "closed";

export interface EngineEvents extends Record<string, unknown> {
  /** A packet arrived on a slot (after the counters were updated); `payload` is the Opus frame, not to be kept. */
  packet: { slot: number; memberId: string | undefined; payload: Buffer };
  state: EngineState;
}

export interface PlayOptions {
  /** Play the file this many times back to back (default 1). */
  loops?: number;
  signal?: AbortSignal;
}

export interface PlayResult {
  /** Frames played (sent or, while muted or unconnected, skipped). */
  frames: number;
  sent: number;
  /** The latest a frame went out after its due time: the pacing's worst stall. */
  maxLateMs: number;
}

interface Uplink {
  transceiver: RTCRtpTransceiver;
  payloadType: number;
  levelId: number | undefined;
}

/**
 * The bot's media: one werift peer connection per offer, answering the server's 1 uplink + K
 * slots. Sends WAV files as paced 20 ms Opus frames, decodes (or just counts) what each slot
 * carries, and can write a WAV of everything heard.
 */
export class WeriftMediaEngine extends Emitter<EngineEvents> implements MediaEngine {
  onCandidate: ((candidate: IceCandidate) => void) | null = null;
  onConnected: (() => void) | null = null;
  onFailed: ((stage: TransportFailure) => void) | null = null;
  state: EngineState = "new";
  /** ICE found a path on the current peer connection. */
  iceConnected = false;
  private pc: RTCPeerConnection | undefined;
  private uplink: Uplink | undefined;
  private slots: SlotReceiver[] = [];
  private readonly members = new Map<string, ReceiveCounters>();
  private readonly sent = { packets: 0, bytes: 0, frames: 0 };
  private readonly mic = new MicStream();
  private muted = false;
  private closed = false;
  private readonly playing = new Set<AbortController>();
  private readonly mix: Mixdown | undefined;
  private readonly now: () => number;
  private readonly origin: number;
  private readonly decode: boolean;

  constructor(private readonly options: WeriftMediaEngineOptions = {}) {
    super();
    this.now = options.now ?? (() => performance.now());
    this.origin = this.now();
    this.decode = options.decode ?? true;
    if (options.record && !this.decode) throw new TypeError("recording needs decoding");
    this.mix = options.record ? new Mixdown() : undefined;
  }

  async answer(offer: VoiceOffer): Promise<string> {
    if (this.closed) throw new Error("the media engine is closed");
    this.closePeer();
    const iceServers = [...(this.options.iceServers ?? []), ...(offer.iceServers ?? [])];
    const pc = new RTCPeerConnection(this.peerConfig(iceServers));
    this.pc = pc;
    this.iceConnected = false;
    this.slots = offer.slots.map(() => this.newSlot());
    this.setState("connecting");
    // werift fires ontrack inside setRemoteDescription: subscribe first.
    pc.ontrack = ({ track, transceiver }) => {
      const slot = offer.slots.indexOf(transceiver.mid ?? "");
      if (slot >= 0) this.listen(pc, slot, track);
    };
    pc.iceConnectionStateChange.subscribe((state) => {
      if (pc === this.pc && (state === "connected" || state === "completed")) this.iceConnected = true;
    });
    pc.connectionStateChange.subscribe((state) => {
      if (pc !== this.pc) return;
      this.setState(state);
      if (state === "connected") this.onConnected?.();
      if (state === "failed") this.onFailed?.(this.iceConnected ? "dtls" : "ice");
    });
    let answered = false;
    pc.onIceCandidate.subscribe((candidate) => {
      // Candidates gathered before the answer are in its SDP; only later ones are trickled.
      if (!answered || pc !== this.pc || !candidate?.candidate) return;
      this.onCandidate?.({
        candidate: candidate.candidate,
        sdpMid: candidate.sdpMid ?? null,
        sdpMLineIndex: candidate.sdpMLineIndex ?? null,
      });
    });
    await pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
    const transceivers = pc.getTransceivers();
    const mic = transceivers.find((t) => t.mid === offer.uplinkMid);
    if (!mic) throw new Error(`the offer has no m-line with mid ${offer.uplinkMid}`);
    mic.setDirection("sendonly");
    for (const t of transceivers) if (t !== mic) t.setDirection("recvonly");
    this.skipDefaultStun(pc, iceServers);
    await pc.setLocalDescription(await pc.createAnswer());
    if (pc !== this.pc) throw new Error("superseded by a newer offer");
    const sdp = pc.localDescription?.sdp;
    if (!sdp) throw new Error("werift produced no answer");
    this.uplink = {
      transceiver: mic,
      payloadType: mic.codecs[0]?.payloadType ?? 111,
      levelId: mic.headerExtensions.find((e) => e.uri === AUDIO_LEVEL_URI)?.id,
    };
    answered = true;
    return sdp;
  }

  hangUp(): void {
    this.closePeer();
    if (!this.closed) this.setState("new");
  }

  setMuted(muted: boolean): void {
    if (muted && !this.muted) this.mic.pause();
    this.muted = muted;
  }

  get isMuted(): boolean {
    return this.muted;
  }

  slotLevel(slot: number): number {
    const s = this.slots[slot];
    if (!s || this.now() - s.counters.lastAt > LEVEL_STALE_MS) return 0;
    return s.counters.level;
  }

  /** Counters so far (copies). */
  stats(): EngineStats {
    const members: Record<string, ReceiveCounters> = {};
    for (const [id, c] of this.members) members[id] = { ...c };
    return {
      sent: { ...this.sent },
      slots: this.slots.map((s) => ({ ...s.counters })),
      members,
    };
  }

  /** Counters of what arrived from one member (zeros when nothing did). */
  heardFrom(memberId: string): ReceiveCounters {
    return { ...(this.members.get(memberId) ?? emptyCounters()) };
  }

  /**
   * Plays a WAV file into the microphone in real time, one 20 ms Opus frame per packet; any
   * readable WAV is downmixed and resampled to 48 kHz mono. Resolves when the file has played (or
   * playback was aborted or the engine closed). Frames falling while muted or unconnected are not sent.
   */
  async playWav(path: string, options: PlayOptions = {}): Promise<PlayResult> {
    const { pcm } = await readVoiceWav(path);
    return this.playPcm(pcm, options);
  }

  /** Plays 48 kHz mono samples as `playWav` does. */
  async playPcm(pcm: Int16Array, options: PlayOptions = {}): Promise<PlayResult> {
    if (this.closed) return { frames: 0, sent: 0, maxLateMs: 0 };
    const abort = new AbortController();
    const onAbort = () => abort.abort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) abort.abort();
    this.playing.add(abort);
    const encoder = new OpusEncoder();
    const framesPerLoop = Math.ceil(pcm.length / FRAME_SAMPLES);
    const total = framesPerLoop * (options.loops ?? 1);
    const frame = new Int16Array(FRAME_SAMPLES);
    let sent = 0;
    let frames = 0;
    let maxLateMs = 0;
    this.mic.pause();
    try {
      const start = this.now();
      for (let k = 0; k < total && !abort.signal.aborted; k++) {
        const wait = start + k * FRAME_MS - this.now();
        if (wait > 1) await sleep(wait, undefined, { signal: abort.signal });
        else maxLateMs = Math.max(maxLateMs, -wait);
        const offset = (k % framesPerLoop) * FRAME_SAMPLES;
        frame.fill(0);
        frame.set(pcm.subarray(offset, Math.min(pcm.length, offset + FRAME_SAMPLES)));
        frames++;
        if (this.sendFrame(frame, encoder)) sent++;
      }
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    } finally {
      this.mic.pause();
      encoder.delete();
      this.playing.delete(abort);
      options.signal?.removeEventListener("abort", onAbort);
    }
    return { frames, sent, maxLateMs: Math.round(maxLateMs) };
  }

  /** Everything heard since the engine started, as 48 kHz mono 16-bit PCM (silence up to now). */
  recording(): Int16Array {
    if (!this.mix) throw new Error("this engine was created without { record: true }");
    this.mix.extendTo(this.position());
    return this.mix.toInt16();
  }

  /** Writes `recording()` as a WAV file. */
  async record(path: string): Promise<{ seconds: number }> {
    const pcm = this.recording();
    await writeWav(path, pcm);
    return { seconds: pcm.length / VOICE_RATE };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const abort of this.playing) abort.abort();
    this.closePeer();
    this.setState("closed");
  }

  private sendFrame(frame: Int16Array, encoder: OpusEncoder): boolean {
    const uplink = this.uplink;
    if (this.muted || !uplink || this.pc?.connectionState !== "connected") {
      this.mic.pause();
      return false;
    }
    const level = rms(frame);
    const payload = encoder.encode(frame);
    const p = this.mic.next(this.now(), rfc6464Level(level), level >= VOICED_RMS);
    const header = new RtpHeader({
      payloadType: uplink.payloadType,
      marker: p.marker,
      sequenceNumber: p.sequenceNumber,
      timestamp: p.timestamp,
      extensions:
        uplink.levelId === undefined
          ? []
          : [{ id: uplink.levelId, payload: Buffer.of((p.voiced ? 0x80 : 0) | p.level) }],
    });
    uplink.transceiver.sender.sendRtp(new RtpPacket(header, payload)).catch(() => {});
    this.sent.packets++;
    this.sent.bytes += header.serializeSize + payload.length;
    this.sent.frames++;
    return true;
  }

  private listen(pc: RTCPeerConnection, index: number, track: MediaStreamTrack): void {
    track.onReceiveRtp.subscribe((rtp, extensions) => {
      if (pc !== this.pc || this.closed) return;
      const slot = this.slots[index];
      if (!slot) return;
      try {
        this.receive(index, slot, rtp, extensions?.[AUDIO_LEVEL_URI]);
      } catch {
        // A bad packet (undecodable Opus) must not break werift's receive loop.
      }
    });
  }

  private receive(index: number, slot: SlotReceiver, rtp: RtpPacket, levelExt: unknown): void {
    const now = this.now();
    const h = rtp.header;
    const memberId = this.options.memberOf?.(index);
    const level =
      levelExt && typeof levelExt === "object" && "level" in levelExt ? Number(levelExt.level) : undefined;
    const pcm = slot.receive(
      {
        sequenceNumber: h.sequenceNumber,
        timestamp: h.timestamp,
        ssrc: h.ssrc,
        bytes: h.serializeSize + rtp.payload.length,
        payload: rtp.payload,
        level,
      },
      now,
      memberId === undefined ? undefined : this.memberCounters(memberId),
    );
    if (pcm && this.mix) this.mix.add(slot.timeline.place(h.ssrc, h.timestamp, this.position(now)), pcm);
    this.emit("packet", { slot: index, memberId, payload: rtp.payload });
  }

  private memberCounters(memberId: string): ReceiveCounters {
    let counters = this.members.get(memberId);
    if (!counters) {
      counters = emptyCounters();
      this.members.set(memberId, counters);
    }
    return counters;
  }

  private newSlot(): SlotReceiver {
    return new SlotReceiver(this.decode ? new OpusDecoder() : undefined);
  }

  /** Samples since the engine started. */
  private position(now = this.now()): number {
    return ((now - this.origin) * VOICE_RATE) / 1000;
  }

  private closePeer(): void {
    const pc = this.pc;
    this.pc = undefined;
    this.uplink = undefined;
    for (const slot of this.slots) slot.close();
    if (pc) {
      pc.ontrack = null;
      pc.close().catch(() => {});
    }
  }

  private setState(state: EngineState): void {
    if (this.state === state || (this.state === "closed" && state !== "closed")) return;
    this.state = state;
    this.emit("state", state);
  }

  /**
   * werift 0.24.4 falls back to stun.l.google.com:19302 when no STUN server is configured, even with
   * `iceServers: []`, and gathering then waits for that lookup (up to its 5 s timeout where there is
   * no DNS, and the libuv threadpool serialises the lookups): clear it unless STUN was asked for.
   */
  private skipDefaultStun(pc: RTCPeerConnection, iceServers: IceServer[]): void {
    if (iceServers.some((s) => urlsOf(s).some((u) => u.startsWith("stun:")))) return;
    for (const transport of pc.iceTransports) transport.connection.stunServer = undefined;
  }

  /** Fresh objects every time: werift writes negotiated ids into the codec and extension objects. */
  private peerConfig(iceServers: IceServer[]): Partial<RTCPeerConnectionConfig> {
    const o = this.options;
    return {
      // werift takes one URL per entry.
      iceServers: iceServers.flatMap((s) =>
        urlsOf(s).map((urls) => ({ urls, username: s.username, credential: s.credential })),
      ),
      bundlePolicy: "max-bundle",
      iceUseIpv6: false,
      ...(o.bindAddress ? { iceInterfaceAddresses: { udp4: o.bindAddress } } : {}),
      iceAdditionalHostAddresses: o.additionalHostAddresses ?? ["127.0.0.1"],
      ...(o.portRange ? { icePortRange: o.portRange } : {}),
      codecs: {
        audio: [
          new RTCRtpCodecParameters({
            mimeType: "audio/opus",
            clockRate: 48000,
            channels: 2,
            payloadType: 111,
            parameters: "minptime=10;useinbandfec=1",
          }),
        ],
        video: [],
      },
      headerExtensions: { audio: [useSdesMid(), useAudioLevelIndication()], video: [] },
    };
  }
}

function urlsOf(server: IceServer): string[] {
  return Array.isArray(server.urls) ? server.urls : [server.urls];
}
