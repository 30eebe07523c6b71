import type { Socket } from "node:dgram";
import { type RTCRtpTransceiver, RtpHeader, RtpPacket } from "werift";
import type { OutboundPacket } from "../ports.ts";
import { SlotRedEncoder } from "../repair/red.ts";

/**
 * A short send path for forwarded audio, measured at about a quarter less CPU per packet than
 * `RTCRtpSender.sendRtp` (bench/voice-forwarding.ts). werift's path awaits twice per packet,
 * formats an NTP time through strings, re-maps and sorts header extensions and feeds a bandwidth
 * estimator, none of which forwarded Opus needs.
 *
 * When the listener's answer took RED, each packet carries this slot's previous frames
 * (`SlotRedEncoder`); every packet sent goes into werift's retransmission cache, from which werift
 * answers the listener's NACKs.
 *
 * This reaches into werift 0.24 internals (pinned in package.json). When any of them is missing,
 * `send` returns false and the caller uses `sendRtp`, so an upgrade degrades to slower, not broken.
 */

/** The werift internals used, typed as far as this file relies on them. */
interface SenderInternals {
  ssrc: number;
  codec?: { payloadType: number; mimeType: string };
  /** werift answers NACKs from here, indexed by sequence number modulo its length (128). */
  rtpCache?: (RtpPacket | undefined)[];
  stopped?: boolean;
  packetCount: number;
  octetCount: number;
  ntpTimestamp: bigint;
  rtpTimestamp: number;
  runRtcp(): Promise<void>;
  dtlsTransport: {
    state: string;
    srtp?: { encrypt(payload: Buffer, header: RtpHeader): Buffer };
    iceTransport: {
      connection: {
        canSendApplicationData?(): boolean;
        nominated?: {
          remoteAddr: [string, number];
          protocol: { transport?: { socket?: Socket; closed?: boolean } };
        };
      };
    };
  };
}

/** Seconds from the NTP epoch (1900) to the Unix epoch. */
const NTP_UNIX_OFFSET_S = 2_208_988_800;

/** werift 0.24's retransmission history per sender (RTP_HISTORY_SIZE): 2.5 s of 20 ms frames. */
const RTP_HISTORY = 128;

/** One byte per RFC 6464 level/voice value, shared: extension payloads need no allocation. */
const LEVEL_BYTES = Array.from({ length: 256 }, (_, i) => Buffer.of(i));

function ntpNow(): bigint {
  const ms = performance.timeOrigin + performance.now();
  const seconds = Math.floor(ms / 1000);
  const fraction = Math.floor(((ms - seconds * 1000) / 1000) * 2 ** 32);
  return (BigInt(seconds + NTP_UNIX_OFFSET_S) << 32n) | BigInt(fraction);
}

export class DirectSlotSender {
  private readonly sender: SenderInternals;
  private rtcpStarted = false;
  /** Set when the negotiated codec is RED. */
  private readonly redEncoder: SlotRedEncoder | undefined;

  constructor(
    transceiver: RTCRtpTransceiver,
    private readonly midExtension: { id: number; payload: Buffer } | undefined,
    private readonly levelId: number | undefined,
    /** The payload type of the Opus frames inside RED blocks. */
    opusPayloadType: number,
  ) {
    this.sender = transceiver.sender as unknown as SenderInternals;
    const codec = this.sender.codec?.mimeType.toLowerCase();
    this.redEncoder = codec === "audio/red" ? new SlotRedEncoder(opusPayloadType) : undefined;
  }

  /** The listener took RED on this slot. */
  get red(): boolean {
    return this.redEncoder !== undefined;
  }

  /** Encrypts and sends at once. False when this path cannot be used (the caller falls back). */
  send(packet: OutboundPacket): boolean {
    const sender = this.sender;
    const dtls = sender.dtlsTransport;
    const srtp = dtls.srtp;
    const connection = dtls.iceTransport.connection;
    // Not yet (or no longer) secure: drop, as werift would. Checked first: a listener whose slot
    // gets packets while its handshake runs must keep this path once it completes.
    if (dtls.state !== "connected" || sender.stopped) return true;
    if (!srtp || !sender.codec || typeof connection.canSendApplicationData !== "function") return false;
    // Consent expired (RFC 7675): drop.
    if (!connection.canSendApplicationData()) return true;
    const pair = connection.nominated;
    const transport = pair?.protocol.transport;
    const socket = transport?.socket;
    if (!pair || !socket) return false;
    if (transport.closed) return true;

    const extensions: { id: number; payload: Buffer }[] = [];
    if (this.midExtension) extensions.push(this.midExtension);
    if (this.levelId !== undefined)
      extensions.push({
        id: this.levelId,
        payload: LEVEL_BYTES[(packet.voiced ? 0x80 : 0) | (packet.level & 0x7f)] as Buffer,
      });
    const header = new RtpHeader({
      payloadType: sender.codec.payloadType,
      marker: packet.marker,
      sequenceNumber: packet.sequenceNumber,
      timestamp: packet.timestamp,
      ssrc: sender.ssrc,
      extensions,
    });
    const payload = this.redEncoder
      ? this.redEncoder.encode(packet.run, packet.sequenceNumber, packet.timestamp, packet.payload)
      : packet.payload;
    socket.send(srtp.encrypt(payload, header), pair.remoteAddr[1], pair.remoteAddr[0]);
    if (Array.isArray(sender.rtpCache))
      sender.rtpCache[packet.sequenceNumber % RTP_HISTORY] = new RtpPacket(header, payload);

    // What werift's RTCP sender reports read; the NTP/RTP time pair only needs refreshing now and then.
    sender.packetCount = (sender.packetCount + 1) >>> 0;
    sender.octetCount += payload.length;
    if ((sender.packetCount & 15) === 1) {
      sender.ntpTimestamp = ntpNow();
      sender.rtpTimestamp = packet.timestamp;
    }
    if (!this.rtcpStarted) {
      this.rtcpStarted = true;
      sender.runRtcp().catch(() => {});
    }
    return true;
  }
}
