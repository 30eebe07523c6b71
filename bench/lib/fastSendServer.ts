/**
 * EXPERIMENT (benchmark only, not product code): the Roundtable server with the real werift peers
 * but a shorter send path for forwarded packets, to measure what the suggestions in the voice
 * benchmark's report would save. Each peer's `send` is replaced by one that builds the header
 * with SSRC and payload type already set, encrypts with the transport's SRTP session and hands
 * the datagram to the nominated pair's UDP socket, synchronously. It skips werift's
 * `RTCRtpSender.sendRtp` (two awaits, per-packet NTP time formatting, bandwidth-estimator
 * bookkeeping, extension re-mapping and sorting, a retransmission cache audio does not use) and
 * `Connection.send` (an async wrapper). RTCP sender reports keep their counters.
 *
 *   npm run bench:voice -- --listeners 500 --fast-send
 */
import type { Socket } from "node:dgram";
import { type RTCRtpTransceiver, RtpHeader } from "werift";
import { createServer } from "../../packages/server/src/app.ts";
import { loadConfig } from "../../packages/server/src/config.ts";
import type { OutboundPacket, VoicePeer, VoicePeerFactory } from "../../packages/server/src/voice/ports.ts";
import { WeriftPeerFactory } from "../../packages/server/src/voice/sfu/WeriftPeer.ts";

const MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid";
/** Seconds from 1900 (NTP epoch) to 1970. */
const NTP_OFFSET_S = 2_208_988_800;

/** The private fields of WeriftPeer and RTCRtpSender this experiment reaches into. */
interface PeerInternals {
  slots: RTCRtpTransceiver[];
  slotLevelIds: (number | undefined)[];
  closed: boolean;
}
interface SenderCounters {
  packetCount: number;
  octetCount: number;
  ntpTimestamp: bigint;
  rtpTimestamp: number;
}
interface PairSocket {
  protocol: { transport?: { socket?: Socket; closed?: boolean } };
  remoteAddr: [string, number];
}

function ntpNow(): bigint {
  const ms = performance.timeOrigin + performance.now();
  const seconds = Math.floor(ms / 1000);
  const fraction = Math.floor(((ms - seconds * 1000) / 1000) * 2 ** 32);
  return (BigInt(seconds + NTP_OFFSET_S) << 32n) | BigInt(fraction);
}

function fastSend(peer: VoicePeer): (slot: number, packet: OutboundPacket) => void {
  const internals = peer as unknown as PeerInternals;
  const state: { mid: { id: number; payload: Buffer } | undefined; started: boolean }[] = [];
  return (slot, packet) => {
    const transceiver = internals.slots[slot];
    if (!transceiver || internals.closed) return;
    const sender = transceiver.sender;
    const dtls = sender.dtlsTransport;
    const codec = sender.codec;
    if (dtls.state !== "connected" || !codec) return;
    const pair = dtls.iceTransport.connection.nominated as unknown as PairSocket | undefined;
    const socket = pair?.protocol.transport?.socket;
    if (!pair || !socket || pair.protocol.transport?.closed) return;
    let s = state[slot];
    if (!s) {
      const midExt = transceiver.headerExtensions.find((e) => e.uri === MID_URI);
      s = {
        mid: midExt && transceiver.mid ? { id: midExt.id, payload: Buffer.from(transceiver.mid) } : undefined,
        started: false,
      };
      state[slot] = s;
    }
    const extensions: { id: number; payload: Buffer }[] = [];
    if (s.mid) extensions.push(s.mid);
    const levelId = internals.slotLevelIds[slot];
    if (levelId !== undefined)
      extensions.push({
        id: levelId,
        payload: Buffer.of((packet.voiced ? 0x80 : 0) | (packet.level & 0x7f)),
      });
    const header = new RtpHeader({
      payloadType: codec.payloadType,
      marker: packet.marker,
      sequenceNumber: packet.sequenceNumber,
      timestamp: packet.timestamp,
      ssrc: sender.ssrc,
      extensions,
    });
    const datagram = dtls.srtp.encrypt(packet.payload, header);
    socket.send(datagram, pair.remoteAddr[1], pair.remoteAddr[0]);
    // What werift's RTCP sender reports read; the NTP/RTP time pair only needs refreshing now and then.
    const counters = sender as unknown as SenderCounters;
    counters.packetCount = (counters.packetCount + 1) >>> 0;
    counters.octetCount += packet.payload.length;
    if ((counters.packetCount & 15) === 1) {
      counters.ntpTimestamp = ntpNow();
      counters.rtpTimestamp = packet.timestamp;
    }
    if (!s.started) {
      s.started = true;
      sender.runRtcp().catch(() => {});
    }
  };
}

class FastSendPeerFactory implements VoicePeerFactory {
  private readonly inner: WeriftPeerFactory;
  constructor(rtc: ConstructorParameters<typeof WeriftPeerFactory>[0]) {
    this.inner = new WeriftPeerFactory(rtc);
  }

  async create(slots: number): Promise<VoicePeer> {
    const peer = await this.inner.create(slots);
    peer.send = fastSend(peer);
    return peer;
  }
}

const config = loadConfig();
const server = await createServer(config, { voicePeers: new FastSendPeerFactory(config.rtc) });
await server.app.listen({ port: config.port, host: config.host });
for (const signal of ["SIGTERM", "SIGINT"] as const)
  process.once(signal, () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
