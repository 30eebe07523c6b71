import { EchoSafeOutput, type EchoSafeState } from "./EchoSafeOutput.ts";
import { FFT_SIZE, rms } from "./levels.ts";

/**
 * How voices reach the speakers: from the media elements (spatial audio off), or, spatial, through
 * the EchoSafeOutput's loopback (echo cancelled), straight from WebAudio (not), or while connecting.
 */
export type Playback = "elements" | Exclude<EchoSafeState, "closed">;

interface SlotGraph {
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

/** Readings this close together reuse the last one (the session's poll and the animation both ask). */
const LEVEL_REUSE_MS = 8;

/**
 * The receive slots' playout: for every slot a WebAudio graph that measures the voice's level and,
 * in spatial mode, pans it to its speaker's seat. Owns its graphs and the EchoSafeOutput.
 */
export class SlotPlayout {
  private readonly graphs: (SlotGraph | undefined)[] = [];
  private readonly pans: number[] = [];
  private readonly master: GainNode;
  /** Spatial mode's way out of the graph; plain mode needs none (the elements play). */
  private output: EchoSafeOutput | undefined;
  private closed = false;

  constructor(
    private readonly context: AudioContext,
    private spatial: boolean,
  ) {
    this.master = context.createGain();
    this.master.connect(context.destination);
    this.applyOutput();
  }

  get playback(): Playback {
    const state = this.output?.state;
    return state === undefined || state === "closed" ? "elements" : state;
  }

  /** Call from a user gesture: audible playback may start only after one. */
  resume(): void {
    this.output?.resume();
    for (const graph of this.graphs) if (graph?.element.paused) graph.element.play().catch(() => {});
  }

  attach(slot: number, track: MediaStreamTrack): void {
    this.detach(slot);
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

  detach(slot: number): void {
    const graph = this.graphs[slot];
    if (!graph) return;
    this.graphs[slot] = undefined;
    graph.element.pause();
    graph.element.srcObject = null;
    graph.source.disconnect();
    graph.output.disconnect();
  }

  detachAll(): void {
    for (let slot = 0; slot < this.graphs.length; slot++) this.detach(slot);
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

  level(slot: number): number {
    const graph = this.graphs[slot];
    if (!graph) return 0;
    const now = performance.now();
    if (now - graph.measuredAt >= LEVEL_REUSE_MS) {
      graph.level = rms(graph.analyser, graph.samples);
      graph.measuredAt = now;
    }
    return graph.level;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.detachAll();
    this.output?.close();
    this.output = undefined;
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
}
