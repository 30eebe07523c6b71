import {
  Emitter,
  type IceCandidate,
  type MediaEngine,
  type TransportFailure,
  type VoiceOffer,
} from "@roundtable/client-core";
import { FFT_SIZE, rms } from "./levels.ts";
import { type MicState, micProblem } from "./microphone.ts";
import { type Playback, SlotPlayout } from "./SlotPlayout.ts";

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

export interface EngineEvents extends Record<string, unknown> {
  mic: MicState;
  /** The current peer connection's state; "new" for a fresh one. */
  connection: RTCPeerConnectionState;
}

const MIC_CONSTRAINTS: MediaTrackConstraints = {
  echoCancellation: true,
  noiseSuppression: true,
  autoGainControl: true,
  channelCount: 1,
};

/** How long an answer waits for the microphone before going out without it. */
const MIC_WAIT_MS = 1500;

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
  private readonly playout: SlotPlayout;
  private muted = false;
  private micStream: MediaStream | undefined;
  private micSource: MediaStreamAudioSourceNode | undefined;
  private readonly micAnalyser: AnalyserNode;
  private readonly micSamples = new Float32Array(FFT_SIZE);
  private micRequest: Promise<void> | undefined;
  private closed = false;

  constructor(options: { deviceId?: string | undefined; spatial: boolean }) {
    super();
    this.context = new AudioContext({ latencyHint: "interactive" });
    this.playout = new SlotPlayout(this.context, options.spatial);
    this.micAnalyser = this.context.createAnalyser();
    this.micAnalyser.fftSize = FFT_SIZE;
    this.micRequest = this.openMic(options.deviceId);
  }

  /** Call from a user gesture (a click, a key): browsers start audio only after one. */
  resume(): void {
    if (this.closed) return;
    if (this.context.state === "suspended") this.context.resume().catch(() => {});
    this.playout.resume();
  }

  get playback(): Playback {
    return this.playout.playback;
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
      if (slot >= 0) this.playout.attach(slot, event.track);
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
    this.playout.setSpatial(spatial);
  }

  /** Where slot `slot`'s voice sits, from -1 (left) to 1 (right). */
  setPan(slot: number, pan: number): void {
    this.playout.setPan(slot, pan);
  }

  slotLevel(slot: number): number {
    return this.playout.level(slot);
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
    this.playout.close();
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

  private closePeer(): void {
    this.playout.detachAll();
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
