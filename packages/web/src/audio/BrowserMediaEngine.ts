import {
  Emitter,
  type IceCandidate,
  type MediaEngine,
  type TransportFailure,
  type VoiceOffer,
} from "@roundtable/client-core";
import { EchoSafeOutput, type EchoSafeState } from "./EchoSafeOutput.ts";

/** Where the microphone stands: live, or why there is none (voice still works for listening). */
export type MicState =
  | { kind: "pending" }
  | { kind: "live"; deviceId: string; label: string }
  /** The person (or the browser's settings) refused access. */
  | { kind: "denied" }
  /** No microphone is plugged in, or the chosen one disappeared. */
  | { kind: "missing" }
  /** Another program holds the microphone, or the system failed to open it. */
  | { kind: "busy" }
  /** No getUserMedia at all: an insecure (non-HTTPS) page or a very old browser. */
  | { kind: "unsupported" };

/** One slot's inbound RTP counters, from RTCPeerConnection.getStats() (matched by mid). */
export interface SlotStats {
  slot: number;
  mid: string;
  packetsReceived: number;
  /**
   * Chromium measures these two after the media element's volume: while spatial audio plays the
   * voice through WebAudio (the element muted), they stay 0 although the voice is heard.
   */
  audioLevel: number;
  totalAudioEnergy: number;
  /** The level this page measures itself (WebAudio, RMS 0-1): what drives speaking and the rings. */
  level: number;
  /** The negotiated codec, e.g. `audio/red` (redundant Opus) or `audio/opus`. */
  codec: string;
  packetsLost: number;
  /** NACKs this page sent for the slot: retransmissions it asked the server for. */
  nackCount: number;
  /** Samples the decoder had to make up for missing packets, of all it played. */
  concealedSamples: number;
  totalSamplesReceived: number;
}

/**
 * How voices reach the speakers: from the media elements (spatial audio off), or, spatial, through
 * the EchoSafeOutput's loopback (echo cancelled), straight from WebAudio (not), or while connecting.
 */
export type Playback = "elements" | Exclude<EchoSafeState, "closed">;

export interface EngineEvents extends Record<string, unknown> {
  mic: MicState;
  /** The current peer connection's state; "new" for a fresh one. */
  connection: RTCPeerConnectionState;
}

interface SlotGraph {
  mid: string;
  /**
   * Chromium feeds a remote WebRTC track into WebAudio only while a media element plays it too.
   * In spatial mode the element is muted and WebAudio is the audible path (through EchoSafeOutput,
   * so the echo canceller hears it); otherwise the element plays and WebAudio only measures (its
   * output gain is 0). Exactly one path is ever audible.
   */
  element: HTMLAudioElement;
  source: MediaStreamAudioSourceNode;
  analyser: AnalyserNode;
  panner: StereoPannerNode;
  output: GainNode;
  samples: Float32Array<ArrayBuffer>;
  level: number;
  measuredAt: number;
}

const MIC_CONSTRAINTS: MediaTrackConstraints = {
  echoCancellation: true,
  noiseSuppression: true,
  autoGainControl: true,
  channelCount: 1,
};

/** 1024 samples at 48 kHz is about 21 ms: one reading covers one 20 ms poll. */
const FFT_SIZE = 1024;
/** How long an answer waits for the microphone before going out without it. */
const MIC_WAIT_MS = 1500;
/** Readings this close together reuse the last one (the session's poll and the animation both ask). */
const LEVEL_REUSE_MS = 8;

/**
 * The browser's half of voice: one RTCPeerConnection per server offer, the microphone on the
 * server's uplink m-line, and for every receive slot a WebAudio graph that measures the level and
 * pans the voice to its speaker's seat.
 */
export class BrowserMediaEngine extends Emitter<EngineEvents> implements MediaEngine {
  onCandidate: ((candidate: IceCandidate) => void) | null = null;
  onConnected: (() => void) | null = null;
  onFailed: ((stage: TransportFailure) => void) | null = null;
  /** ICE found a path on the current peer connection. */
  iceConnected = false;

  mic: MicState = { kind: "pending" };
  /** How many peer connections this engine has made: unchanged while the same one lives on. */
  generation = 0;
  readonly context: AudioContext;
  private pc: RTCPeerConnection | undefined;
  private uplinkMid: string | undefined;
  private slotMids: string[] = [];
  private readonly graphs: (SlotGraph | undefined)[] = [];
  private readonly pans: number[] = [];
  private spatial: boolean;
  private muted = false;
  private micStream: MediaStream | undefined;
  private micSource: MediaStreamAudioSourceNode | undefined;
  private readonly micAnalyser: AnalyserNode;
  private readonly micSamples = new Float32Array(FFT_SIZE);
  private readonly master: GainNode;
  /** Spatial mode's way out of the graph; plain mode needs none (the elements play). */
  private output: EchoSafeOutput | undefined;
  private micRequest: Promise<void> | undefined;
  private closed = false;

  constructor(options: { deviceId?: string | undefined; spatial: boolean }) {
    super();
    this.spatial = options.spatial;
    this.context = new AudioContext({ latencyHint: "interactive" });
    this.master = this.context.createGain();
    this.master.connect(this.context.destination);
    this.applyOutput();
    this.micAnalyser = this.context.createAnalyser();
    this.micAnalyser.fftSize = FFT_SIZE;
    this.micRequest = this.openMic(options.deviceId);
  }

  /** Call from a user gesture (a click, a key): browsers start audio only after one. */
  resume(): void {
    if (this.closed) return;
    if (this.context.state === "suspended") this.context.resume().catch(() => {});
    this.output?.resume();
    for (const graph of this.graphs) if (graph?.element.paused) graph.element.play().catch(() => {});
  }

  get playback(): Playback {
    const state = this.output?.state;
    return state === undefined || state === "closed" ? "elements" : state;
  }

  get connectionState(): RTCPeerConnectionState | "none" {
    return this.pc?.connectionState ?? "none";
  }

  async answer(offer: VoiceOffer): Promise<string> {
    if (this.closed) throw new Error("the voice engine is closed");
    this.closePeer();
    // Give the microphone a moment so it goes out from the start; a slow permission prompt must
    // not hold up listening, though: a microphone that arrives later joins with replaceTrack.
    await Promise.race([this.micRequest, new Promise((resolve) => setTimeout(resolve, MIC_WAIT_MS))]);
    if (this.closed) throw new Error("the voice engine is closed");
    const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle", iceServers: offer.iceServers ?? [] });
    this.pc = pc;
    this.iceConnected = false;
    this.generation++;
    this.uplinkMid = offer.uplinkMid;
    this.slotMids = [...offer.slots];
    pc.onicecandidate = (event) => {
      if (this.pc !== pc || !event.candidate?.candidate) return;
      const { candidate, sdpMid, sdpMLineIndex } = event.candidate;
      this.onCandidate?.({ candidate, sdpMid, sdpMLineIndex });
    };
    pc.oniceconnectionstatechange = () => {
      const state = pc.iceConnectionState;
      if (this.pc === pc && (state === "connected" || state === "completed")) this.iceConnected = true;
    };
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc) return;
      this.emit("connection", pc.connectionState);
      if (pc.connectionState === "connected") this.onConnected?.();
      if (pc.connectionState === "failed") this.onFailed?.(this.iceConnected ? "dtls" : "ice");
    };
    pc.ontrack = (event) => {
      if (this.pc !== pc) return;
      const slot = this.slotMids.indexOf(event.transceiver.mid ?? "");
      if (slot >= 0) this.attachSlot(slot, event.transceiver.mid ?? "", event.track);
    };
    await pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
    for (const transceiver of pc.getTransceivers()) {
      if (transceiver.mid === offer.uplinkMid) {
        // Sendonly even without a microphone: a device picked later goes out with replaceTrack,
        // no renegotiation. Without a track nothing is sent.
        transceiver.direction = "sendonly";
        await transceiver.sender.replaceTrack(this.micTrack ?? null);
      } else if (transceiver.mid !== null && this.slotMids.includes(transceiver.mid)) {
        transceiver.direction = "recvonly";
      } else {
        transceiver.direction = "inactive";
      }
    }
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    const sdp = pc.localDescription?.sdp;
    if (!sdp) throw new Error("the browser produced no answer");
    this.emit("connection", pc.connectionState);
    return sdp;
  }

  hangUp(): void {
    this.closePeer();
    this.emit("connection", "closed");
  }

  setMuted(muted: boolean): void {
    this.muted = muted;
    const track = this.micTrack;
    if (track) track.enabled = !muted;
  }

  /** Switches to another microphone; the peer connection keeps going (replaceTrack). */
  async setDevice(deviceId: string | undefined): Promise<void> {
    this.micRequest = this.openMic(deviceId);
    await this.micRequest;
  }

  /** Spatial: voices play through WebAudio, panned to their seats. Off: straight from the media elements. */
  setSpatial(spatial: boolean): void {
    this.spatial = spatial;
    this.applyOutput();
    for (const [slot, graph] of this.graphs.entries()) if (graph) this.route(slot, graph);
  }

  /** Where slot `slot`'s voice sits, from -1 (left) to 1 (right). */
  setPan(slot: number, pan: number): void {
    const value = Math.max(-1, Math.min(1, pan));
    this.pans[slot] = value;
    const graph = this.graphs[slot];
    if (graph && this.spatial) graph.panner.pan.setTargetAtTime(value, this.context.currentTime, 0.05);
  }

  slotLevel(slot: number): number {
    const graph = this.graphs[slot];
    if (!graph) return 0;
    const now = performance.now();
    if (now - graph.measuredAt >= LEVEL_REUSE_MS) {
      graph.level = rms(graph.analyser, graph.samples);
      graph.measuredAt = now;
    }
    return graph.level;
  }

  /** The own microphone's level, 0 to 1 (RMS); 0 while muted or without a microphone. */
  micLevel(): number {
    if (!this.micSource || this.muted) return 0;
    return rms(this.micAnalyser, this.micSamples);
  }

  /**
   * How voice reaches the server on the current connection: `direct`, or `relay` through a TURN
   * server (the network let no direct path through). Undefined until a candidate pair is chosen.
   */
  async path(): Promise<"direct" | "relay" | undefined> {
    const pc = this.pc;
    if (!pc) return undefined;
    const report = await pc.getStats();
    let pairId: string | undefined;
    report.forEach((entry: { type: string; selectedCandidatePairId?: string }) => {
      if (entry.type === "transport" && entry.selectedCandidatePairId) pairId = entry.selectedCandidatePairId;
    });
    const pair = pairId ? (report.get(pairId) as { localCandidateId?: string } | undefined) : undefined;
    const local = pair?.localCandidateId
      ? (report.get(pair.localCandidateId) as { candidateType?: string } | undefined)
      : undefined;
    if (!local?.candidateType) return undefined;
    return local.candidateType === "relay" ? "relay" : "direct";
  }

  async stats(): Promise<SlotStats[]> {
    const pc = this.pc;
    if (!pc) return [];
    const report = await pc.getStats();
    const out: SlotStats[] = [];
    report.forEach((entry: RTCInboundRtpStreamStats & { kind?: string; type: string }) => {
      if (entry.type !== "inbound-rtp" || entry.kind !== "audio") return;
      const slot = this.slotMids.indexOf(entry.mid ?? "");
      if (slot < 0) return;
      const codec = entry.codecId
        ? (report.get(entry.codecId) as { mimeType?: string } | undefined)
        : undefined;
      out.push({
        slot,
        mid: entry.mid ?? "",
        packetsReceived: entry.packetsReceived ?? 0,
        audioLevel: entry.audioLevel ?? 0,
        totalAudioEnergy: entry.totalAudioEnergy ?? 0,
        level: this.slotLevel(slot),
        codec: codec?.mimeType ?? "",
        packetsLost: entry.packetsLost ?? 0,
        nackCount: entry.nackCount ?? 0,
        concealedSamples: entry.concealedSamples ?? 0,
        totalSamplesReceived: entry.totalSamplesReceived ?? 0,
      });
    });
    return out.sort((a, b) => a.slot - b.slot);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closePeer();
    for (const track of this.micStream?.getTracks() ?? []) track.stop();
    this.micStream = undefined;
    this.micSource?.disconnect();
    this.micSource = undefined;
    this.output?.close();
    this.output = undefined;
    this.context.close().catch(() => {});
  }

  private get micTrack(): MediaStreamTrack | undefined {
    return this.micStream?.getAudioTracks()[0];
  }

  private async openMic(deviceId: string | undefined): Promise<void> {
    if (!navigator.mediaDevices?.getUserMedia) {
      this.setMic({ kind: "unsupported" });
      return;
    }
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { ...MIC_CONSTRAINTS, ...(deviceId ? { deviceId: { exact: deviceId } } : {}) },
      });
    } catch (error) {
      this.setMic(micProblem(error));
      return;
    }
    if (this.closed) {
      for (const track of stream.getTracks()) track.stop();
      return;
    }
    const previous = this.micStream;
    this.micStream = stream;
    const track = stream.getAudioTracks()[0];
    if (!track) {
      this.setMic({ kind: "missing" });
      return;
    }
    track.enabled = !this.muted;
    track.addEventListener("ended", () => {
      if (this.micTrack === track) this.setMic({ kind: "missing" });
    });
    this.micSource?.disconnect();
    this.micSource = this.context.createMediaStreamSource(stream);
    this.micSource.connect(this.micAnalyser);
    const uplink = this.pc?.getTransceivers().find((t) => t.mid === this.uplinkMid);
    if (uplink) await uplink.sender.replaceTrack(track).catch(() => {});
    for (const old of previous?.getTracks() ?? []) old.stop();
    this.setMic({ kind: "live", deviceId: track.getSettings().deviceId ?? "", label: track.label });
  }

  private setMic(state: MicState): void {
    this.mic = state;
    this.emit("mic", state);
  }

  private attachSlot(slot: number, mid: string, track: MediaStreamTrack): void {
    this.detachSlot(slot);
    const stream = new MediaStream([track]);
    const element = new Audio();
    element.autoplay = true;
    element.srcObject = stream;
    const source = this.context.createMediaStreamSource(stream);
    const analyser = this.context.createAnalyser();
    analyser.fftSize = FFT_SIZE;
    const panner = this.context.createStereoPanner();
    const output = this.context.createGain();
    source.connect(analyser);
    analyser.connect(panner);
    panner.connect(output);
    output.connect(this.master);
    const graph: SlotGraph = {
      mid,
      element,
      source,
      analyser,
      panner,
      output,
      samples: new Float32Array(FFT_SIZE),
      level: 0,
      measuredAt: 0,
    };
    this.graphs[slot] = graph;
    this.route(slot, graph);
  }

  /**
   * Spatial voices leave the graph through an EchoSafeOutput. In plain mode the graph goes straight
   * to the destination, silent (every slot's output gain is 0), which keeps the analysers pulled.
   */
  private applyOutput(): void {
    if (this.closed || this.spatial === (this.output !== undefined)) return;
    this.master.disconnect();
    if (this.spatial) {
      this.output = new EchoSafeOutput(this.context);
      this.master.connect(this.output.input);
    } else {
      this.output?.close();
      this.output = undefined;
      this.master.connect(this.context.destination);
    }
  }

  private route(slot: number, graph: SlotGraph): void {
    graph.element.muted = this.spatial;
    graph.output.gain.value = this.spatial ? 1 : 0;
    graph.panner.pan.value = this.spatial ? (this.pans[slot] ?? 0) : 0;
    // Muted playback may always start; audible playback needs the join click (or the autoplay flag).
    graph.element.play().catch(() => {});
  }

  private detachSlot(slot: number): void {
    const graph = this.graphs[slot];
    if (!graph) return;
    this.graphs[slot] = undefined;
    graph.element.pause();
    graph.element.srcObject = null;
    graph.source.disconnect();
    graph.output.disconnect();
  }

  private closePeer(): void {
    for (let slot = 0; slot < this.graphs.length; slot++) this.detachSlot(slot);
    const pc = this.pc;
    this.pc = undefined;
    if (pc) {
      pc.onicecandidate = null;
      pc.oniceconnectionstatechange = null;
      pc.onconnectionstatechange = null;
      pc.ontrack = null;
      pc.close();
    }
  }
}

/** Root mean square of the analyser's current window: 0 for silence, 1 for a full-scale square wave. */
function rms(analyser: AnalyserNode, samples: Float32Array<ArrayBuffer>): number {
  analyser.getFloatTimeDomainData(samples);
  let sum = 0;
  for (const s of samples) sum += s * s;
  return Math.min(1, Math.sqrt(sum / samples.length));
}

export function micProblem(error: unknown): MicState {
  const name = error instanceof DOMException || error instanceof Error ? error.name : "";
  switch (name) {
    case "NotAllowedError":
    case "SecurityError":
      return { kind: "denied" };
    case "NotFoundError":
    case "OverconstrainedError":
      return { kind: "missing" };
    default:
      return { kind: "busy" };
  }
}

/** The browser's microphones; labels stay empty until the page may use one. */
export async function listMicrophones(): Promise<{ deviceId: string; label: string }[]> {
  if (!navigator.mediaDevices?.enumerateDevices) return [];
  const devices = await navigator.mediaDevices.enumerateDevices().catch(() => []);
  return devices
    .filter((d) => d.kind === "audioinput" && d.deviceId !== "")
    .map((d, i) => ({ deviceId: d.deviceId, label: d.label || `Microphone ${i + 1}` }));
}

/** A perceptual 0-1 scale for meters and rings: -54 dBFS and below is 0, -12 dBFS and above is 1. */
export function levelToDisplay(level: number): number {
  if (level <= 0) return 0;
  const db = 20 * Math.log10(level);
  return Math.max(0, Math.min(1, (db + 54) / 42));
}
