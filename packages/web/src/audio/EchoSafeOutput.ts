/** Where the graph is heard: not yet through the loopback, through it, or straight (no cancelling). */
export type EchoSafeState = "connecting" | "loopback" | "direct" | "closed";

/** How long the loopback may take to carry sound before the direct path is kept for good. */
const CONNECT_TIMEOUT_MS = 5000;

/**
 * Plays a WebAudio graph where the browser's echo canceller hears it.
 *
 * Chromium's canceller subtracts from the microphone only what media elements play from WebRTC
 * tracks, unless its ChromeWideEchoCancellation feature (the whole output as reference) is on:
 * WebAudio played straight to `context.destination` goes back to the far end as echo. So the graph
 * goes into a MediaStream, through a pair of peer connections inside this page (candidates handed
 * over directly, nothing leaves the machine), and the received track plays in an audio element,
 * the path the canceller hears (Mozilla Hubs does the same). Opus is negotiated in stereo at a high
 * bitrate in 10 ms frames, so the panning survives and the detour stays short: it added 55-80 ms
 * to direct WebAudio playback on a 2-core machine, most of it the receiver's jitter buffer, which
 * absorbs the bursts in which WebAudio renders.
 *
 * While the pair connects, and for good if it cannot (a machine without a usable network
 * interface, a browser without WebRTC), the graph plays straight to `context.destination`: heard,
 * though not cancelled, rather than silent.
 */
export class EchoSafeOutput {
  /** Connect what should be heard here. */
  readonly input: GainNode;
  private current: EchoSafeState = "connecting";
  private readonly capture: MediaStreamAudioDestinationNode;
  private readonly element: HTMLAudioElement;
  private sender: RTCPeerConnection | undefined;
  private receiver: RTCPeerConnection | undefined;
  private playing = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  get state(): EchoSafeState {
    return this.current;
  }

  constructor(
    private readonly context: AudioContext,
    connectTimeoutMs = CONNECT_TIMEOUT_MS,
  ) {
    this.input = context.createGain();
    this.input.connect(context.destination);
    this.capture = context.createMediaStreamDestination();
    this.capture.channelCount = 2;
    this.input.connect(this.capture);
    this.element = new Audio();
    this.element.autoplay = true;
    this.timer = setTimeout(() => this.fallBack(), connectTimeoutMs);
    this.connect().catch(() => this.fallBack());
  }

  /** Call from a user gesture too: the element may start only after one. */
  resume(): void {
    if (this.current === "closed" || this.current === "direct" || !this.element.srcObject) return;
    this.element.play().then(
      () => {
        this.playing = true;
        this.update();
      },
      () => {},
    );
  }

  close(): void {
    if (this.current === "closed") return;
    this.current = "closed";
    this.closePair();
    this.input.disconnect();
  }

  private async connect(): Promise<void> {
    const sender = new RTCPeerConnection();
    const receiver = new RTCPeerConnection();
    this.sender = sender;
    this.receiver = receiver;
    // A candidate may come before the other side has the description it belongs to: hold it till then.
    const receiverHasOffer = deferred();
    const senderHasAnswer = deferred();
    sender.onicecandidate = ({ candidate }) => {
      if (candidate) receiverHasOffer.promise.then(() => receiver.addIceCandidate(candidate)).catch(() => {});
    };
    receiver.onicecandidate = ({ candidate }) => {
      if (candidate) senderHasAnswer.promise.then(() => sender.addIceCandidate(candidate)).catch(() => {});
    };
    receiver.ontrack = ({ track, receiver: rtpReceiver }) => {
      // The least the jitter buffer may hold: nothing jitters inside one page.
      rtpReceiver.jitterBufferTarget = 0;
      this.element.srcObject = new MediaStream([track]);
      this.resume();
    };
    sender.onconnectionstatechange = () => this.update();
    receiver.onconnectionstatechange = () => this.update();

    const track = this.capture.stream.getAudioTracks()[0];
    if (!track) throw new Error("the capture stream has no track");
    sender.addTransceiver(track, { direction: "sendonly" });
    await sender.setLocalDescription(await sender.createOffer());
    if (this.sender !== sender || !sender.localDescription) return;
    await receiver.setRemoteDescription(sender.localDescription);
    receiverHasOffer.resolve();
    const answer = await receiver.createAnswer();
    const sdp = loopbackOpus(answer.sdp ?? "");
    await receiver.setLocalDescription({ type: "answer", sdp });
    await sender.setRemoteDescription({ type: "answer", sdp });
    senderHasAnswer.resolve();
  }

  private update(): void {
    const { sender, receiver } = this;
    if (!sender || !receiver) return;
    if ([sender, receiver].some((pc) => pc.connectionState === "failed" || pc.connectionState === "closed")) {
      this.fallBack();
      return;
    }
    if (this.current !== "connecting" || !this.playing || receiver.connectionState !== "connected") return;
    this.current = "loopback";
    clearTimeout(this.timer);
    this.timer = undefined;
    this.input.disconnect(this.context.destination);
  }

  /** Plays straight to the speakers from now on: the loopback could not carry the sound. */
  private fallBack(): void {
    if (this.current === "closed" || this.current === "direct") return;
    if (this.current === "loopback") this.input.connect(this.context.destination);
    this.current = "direct";
    this.closePair();
    this.input.disconnect(this.capture);
  }

  private closePair(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const pc of [this.sender, this.receiver]) {
      if (!pc) continue;
      pc.onicecandidate = null;
      pc.onconnectionstatechange = null;
      pc.ontrack = null;
      pc.close();
    }
    this.sender = undefined;
    this.receiver = undefined;
    this.element.pause();
    this.element.srcObject = null;
    for (const track of this.capture.stream.getTracks()) track.stop();
  }
}

/**
 * The answer's Opus, tuned for a hop that never loses a packet: stereo both ways (the panning is the
 * point), 510 kbit/s (Opus's most: no audible coding), 10 ms frames (half the default's delay).
 * The sender follows the answer it receives and the receiver decodes what its own answer says, so
 * both get the same text (Chromium accepts this change to a local answer, and logs it).
 */
export function loopbackOpus(sdp: string): string {
  const opus = /^a=rtpmap:(\d+) opus\/48000\/2\r?$/im.exec(sdp)?.[1];
  if (!opus) return sdp;
  const wanted: Record<string, string> = {
    stereo: "1",
    "sprop-stereo": "1",
    maxaveragebitrate: "510000",
    minptime: "10",
  };
  const hasPtime = /^a=ptime:/m.test(sdp);
  const lines = sdp.split(/\r\n|\n/).map((line) => {
    if (!line.startsWith(`a=fmtp:${opus} `)) return line;
    const params = new Map<string, string>();
    for (const pair of line.slice(`a=fmtp:${opus} `.length).split(";")) {
      const [key, value] = pair.trim().split("=");
      if (key) params.set(key, value ?? "");
    }
    for (const [key, value] of Object.entries(wanted)) params.set(key, value);
    const fmtp = `a=fmtp:${opus} ${[...params].map(([k, v]) => `${k}=${v}`).join(";")}`;
    return hasPtime ? fmtp : `${fmtp}\r\na=ptime:10`;
  });
  return lines.join("\r\n");
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
