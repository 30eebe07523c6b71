import {
  GenericNack,
  type RTCRtpReceiver,
  RtcpReceiverInfo,
  RtcpRrPacket,
  RtcpTransportLayerFeedback,
  type RtpPacket,
} from "werift";
import { combinedLoss } from "../repair/AudienceLoss.ts";
import { LossMeter } from "../repair/LossMeter.ts";
import { NackTracker } from "../repair/NackTracker.ts";

/**
 * The uplink's side of loss repair, on werift's receiver for the member's microphone: NACKs for
 * what the wire lost and RED could not recover (the browser keeps a send history when the offer
 * lists `nack` for Opus), and
 * receiver reports of our own that state the loss the member's listeners see combined with the
 * uplink's, measured without counting reordered packets. werift's receiver still recovers RED and
 * keeps its statistics (jitter, sender report times), which the reports read.
 *
 * Reaches into werift 0.24 internals (pinned); when they are missing this does nothing and
 * werift's own reports go out, so an upgrade degrades to what werift does, not to broken.
 */

/** The werift receiver internals used. */
interface ReceiverInternals {
  rtcpSsrc: number;
  handleRtpBySsrc(packet: RtpPacket, extensions: unknown): void;
  runRtcp(): Promise<void>;
  dtlsTransport?: { sendRtcp(packets: unknown[]): Promise<unknown> };
  remoteStreams: Record<number, { jitter: number } | undefined>;
  lastSRtimestamp: Record<number, number | undefined>;
  receiveLastSRTimestamp: Record<number, number | undefined>;
}

/** How often the uplink's receiver report goes out (RFC 3550 allows it at this bitrate). */
const REPORT_INTERVAL_MS = 1000;

export class UplinkRepair {
  private readonly loss = new LossMeter();
  private readonly nack = new NackTracker();
  private ssrc: number | undefined;
  private audienceLoss = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Whether the last packet on the wire was RED (its frames then reach us without their marker). */
  wireIsRed = false;

  get nacksSent(): number {
    return this.nack.requested;
  }

  constructor(
    private readonly receiver: ReceiverInternals,
    private readonly redPayloadType: number,
  ) {}

  static attach(receiver: RTCRtpReceiver, redPayloadType: number): UplinkRepair | undefined {
    const internals = receiver as unknown as Partial<ReceiverInternals>;
    if (typeof internals.handleRtpBySsrc !== "function" || typeof internals.runRtcp !== "function")
      return undefined;
    const repair = new UplinkRepair(internals as ReceiverInternals, redPayloadType);
    const handle = internals.handleRtpBySsrc.bind(receiver);
    internals.handleRtpBySsrc = (packet, extensions) => {
      try {
        repair.onWire(packet);
        handle(packet, extensions);
      } catch {
        // A malformed packet must not break werift's receive path for this member.
      }
    };
    internals.runRtcp = async () => {};
    repair.timer = setInterval(() => repair.sendReport(), REPORT_INTERVAL_MS);
    repair.timer.unref();
    return repair;
  }

  setAudienceLoss(fraction: number): void {
    this.audienceLoss = fraction;
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Every packet as it comes off the wire (before RED is undone): the channel's loss. */
  private onWire(packet: RtpPacket): void {
    const { ssrc, sequenceNumber, payloadType } = packet.header;
    this.ssrc = ssrc;
    this.wireIsRed = payloadType === this.redPayloadType;
    this.loss.add(sequenceNumber);
  }

  /**
   * Every frame werift's receiver hands on, recovered from RED or not: only what RED could not
   * bring back is asked for again. werift hands a packet's recovered frames on before its own.
   */
  onFrame(sequenceNumber: number): void {
    const ssrc = this.ssrc;
    if (ssrc === undefined) return;
    const lost = this.nack.onPacket(sequenceNumber, performance.now());
    if (lost.length === 0) return;
    const feedback = new GenericNack({ senderSsrc: this.receiver.rtcpSsrc, mediaSourceSsrc: ssrc, lost });
    this.send(new RtcpTransportLayerFeedback({ feedback }));
  }

  private sendReport(): void {
    const ssrc = this.ssrc;
    if (ssrc === undefined) return;
    const fraction = combinedLoss(this.loss.report(), this.audienceLoss);
    let lsr = 0;
    let dlsr = 0;
    const lastSr = this.receiver.lastSRtimestamp[ssrc];
    const receivedAt = this.receiver.receiveLastSRTimestamp[ssrc];
    if (lastSr && receivedAt) {
      lsr = lastSr;
      const delay = Date.now() / 1000 - receivedAt;
      if (delay > 0 && delay < 65536) dlsr = Math.floor(delay * 65536);
    }
    const report = new RtcpReceiverInfo({
      ssrc,
      fractionLost: Math.min(255, Math.round(fraction * 256)),
      packetsLost: this.loss.lostTotal,
      highestSequence: this.loss.extendedHighest >>> 0,
      jitter: Math.floor(this.receiver.remoteStreams[ssrc]?.jitter ?? 0),
      lsr,
      dlsr,
    });
    this.send(new RtcpRrPacket({ ssrc: this.receiver.rtcpSsrc, reports: [report] }));
  }

  private send(packet: unknown): void {
    this.receiver.dtlsTransport?.sendRtcp([packet]).catch(() => {});
  }
}
