import { type MicState, micProblem } from "./microphone.ts";

/** 1024 samples at 48 kHz: about 21 ms per reading. */
const FFT_SIZE = 1024;

/**
 * A microphone check before joining voice: opens the microphone with the same processing voice
 * uses (echo cancellation, noise suppression, gain control), measures its level, and records a few
 * seconds to play back, so a member hears what the others would. Nothing leaves the page.
 */
export class MicCheck {
  private stream: MediaStream | undefined;
  private context: AudioContext | undefined;
  private analyser: AnalyserNode | undefined;
  private readonly samples = new Float32Array(FFT_SIZE);
  private closed = false;

  /** Opens the microphone: live, or why not. */
  async open(deviceId: string | undefined): Promise<MicState> {
    if (!navigator.mediaDevices?.getUserMedia) return { kind: "unsupported" };
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: {
          echoCancellation: true,
          noiseSuppression: true,
          autoGainControl: true,
          channelCount: 1,
          ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
        },
      });
    } catch (error) {
      return micProblem(error);
    }
    const track = this.stream.getAudioTracks()[0];
    if (this.closed || !track) {
      this.close();
      return { kind: "missing" };
    }
    this.context = new AudioContext({ latencyHint: "interactive" });
    this.analyser = this.context.createAnalyser();
    this.analyser.fftSize = FFT_SIZE;
    this.context.createMediaStreamSource(this.stream).connect(this.analyser);
    return { kind: "live", deviceId: track.getSettings().deviceId ?? "", label: track.label };
  }

  /** The microphone's level now, 0 to 1 (RMS). */
  level(): number {
    const analyser = this.analyser;
    if (!analyser) return 0;
    analyser.getFloatTimeDomainData(this.samples);
    let sum = 0;
    for (const s of this.samples) sum += s * s;
    return Math.min(1, Math.sqrt(sum / this.samples.length));
  }

  /** Records `ms` of the microphone; resolves with the recording (an object URL the caller revokes). */
  record(ms: number): Promise<string> {
    const stream = this.stream;
    if (!stream || typeof MediaRecorder === "undefined")
      return Promise.reject(new Error("recording is not available in this browser"));
    const recorder = new MediaRecorder(stream);
    const chunks: Blob[] = [];
    recorder.ondataavailable = (event) => {
      if (event.data.size > 0) chunks.push(event.data);
    };
    return new Promise((resolve, reject) => {
      recorder.onstop = () => resolve(URL.createObjectURL(new Blob(chunks, { type: recorder.mimeType })));
      recorder.onerror = () => reject(new Error("the recording failed"));
      recorder.start();
      setTimeout(() => {
        if (recorder.state === "recording") recorder.stop();
      }, ms);
    });
  }

  /** Idempotent: the microphone light goes off. */
  close(): void {
    this.closed = true;
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = undefined;
    this.context?.close().catch(() => {});
    this.context = undefined;
    this.analyser = undefined;
  }
}
