import {
  type MediaStreamTrack,
  RTCPeerConnection,
  type RTCPeerConnectionConfig,
  RTCRtpCodecParameters,
  type RTCRtpTransceiver,
  RtcpRrPacket,
  RtcpSrPacket,
  RtpHeader,
  RtpPacket,
  useAudioLevelIndication,
  useSdesMid,
} from "werift";
import type {
  InboundPacket,
  OutboundPacket,
  PeerState,
  RepairStats,
  VoiceOffer,
  VoicePeer,
  VoicePeerFactory,
} from "../ports.ts";
import { ReportedLoss } from "../repair/ReportedLoss.ts";
import { announceOnSamePort, candidateKey, keepCandidates, usableCandidate } from "./candidates.ts";
import { DirectSlotSender } from "./DirectSlotSender.ts";
import { UplinkRepair } from "./UplinkRepair.ts";

/** With DirectSlotSender, the only files that import werift: everything else sees the VoicePeer port. */

const AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
const MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid";
const OPUS_PT = 111;
/** RED (RFC 2198) over Opus, the payload type Chrome and Firefox use for it. */
const RED_PT = 63;
/**
 * Remote candidates one peer takes, in its answer and trickled together. A browser sends a handful
 * per network interface; werift keeps every one (queued before the answer, then as ICE pairs to
 * check), so without a bound a client could grow that list without end.
 */
const MAX_REMOTE_CANDIDATES = 64;

export interface RtcConfig {
  /** STUN/TURN servers; none by default (werift's default is a public host this may not reach). */
  iceServers: { urls: string; username?: string; credential?: string }[];
  /** Bind only to this IPv4 address (e.g. 127.0.0.1); all interfaces when unset. */
  listenAddress: string | undefined;
  /** Addresses announced as host candidates besides the interfaces' own (e.g. a public IP, or 127.0.0.1). */
  announcedAddresses: string[];
  /** UDP ports for peers, inclusive; werift opens one port per peer. */
  portRange: [number, number] | undefined;
}

function peerConfig(rtc: RtcConfig): Partial<RTCPeerConnectionConfig> {
  return {
    iceServers: rtc.iceServers,
    bundlePolicy: "max-bundle",
    iceUseIpv6: false,
    ...(rtc.listenAddress ? { iceInterfaceAddresses: { udp4: rtc.listenAddress } } : {}),
    iceAdditionalHostAddresses: rtc.announcedAddresses,
    ...(rtc.portRange ? { icePortRange: rtc.portRange } : {}),
    codecs: {
      // RED first: a browser that takes it sends each frame with copies of the ones before, and
      // receives each slot that way. A client without RED answers Opus alone and gets plain Opus.
      // `nack` on both: the browser keeps a send history for the uplink and NACKs the slots.
      audio: [
        new RTCRtpCodecParameters({
          mimeType: "audio/red",
          clockRate: 48000,
          channels: 2,
          payloadType: RED_PT,
          parameters: `${OPUS_PT}/${OPUS_PT}`,
          rtcpFeedback: [{ type: "nack" }],
        }),
        new RTCRtpCodecParameters({
          mimeType: "audio/opus",
          clockRate: 48000,
          channels: 2,
          payloadType: OPUS_PT,
          parameters: "minptime=10;useinbandfec=1",
          rtcpFeedback: [{ type: "nack" }],
        }),
      ],
      video: [],
    },
    // Fresh extension objects per peer: werift writes negotiated ids into them.
    headerExtensions: { audio: [useSdesMid(), useAudioLevelIndication()], video: [] },
  };
}

class WeriftPeer implements VoicePeer {
  onPacket: (packet: InboundPacket) => void = () => {};
  onState: (state: PeerState) => void = () => {};
  onListenerLoss: (slot: number, fraction: number) => void = () => {};
  offer!: VoiceOffer;
  private readonly pc: RTCPeerConnection;
  private uplink!: RTCRtpTransceiver;
  private readonly slots: RTCRtpTransceiver[] = [];
  private repair: UplinkRepair | undefined;
  private readonly slotLevelIds: (number | undefined)[] = [];
  /** Fast senders per slot, once the answer fixed the extension ids; undefined: use sendRtp. */
  private direct: (DirectSlotSender | undefined)[] = [];
  private closed = false;
  /** Distinct remote candidates seen, by transport, address, port and type. */
  private readonly remoteCandidates = new Set<string>();

  constructor(private readonly rtc: RtcConfig) {
    this.pc = new RTCPeerConnection(peerConfig(rtc));
  }

  async start(slotCount: number): Promise<void> {
    this.uplink = this.pc.addTransceiver("audio", { direction: "recvonly" });
    for (let i = 0; i < slotCount; i++)
      this.slots.push(this.pc.addTransceiver("audio", { direction: "sendonly" }));
    this.uplink.onTrack.subscribe((track: MediaStreamTrack) => this.receive(track));
    this.repair = UplinkRepair.attach(this.uplink.receiver, RED_PT);
    for (const [i, t] of this.slots.entries()) this.hearReports(i, t);
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === "connected") this.onState("connected");
      else if (state === "failed") this.onState("failed");
      else if (state === "closed") this.onState("closed");
    });
    // werift falls back to stun.l.google.com when no STUN server is configured, even with
    // `iceServers: []`, and gathering waits for it (5 s without DNS): only query STUN when asked to.
    if (!this.rtc.iceServers.some((s) => s.urls.startsWith("stun:")))
      for (const transport of this.pc.iceTransports) transport.connection.stunServer = undefined;
    const alsoAnnounced = this.gatherOnOneSocket();
    const offer = await this.pc.createOffer();
    // werift resolves this after ICE gathering: the SDP carries every host candidate, no trickling.
    await this.pc.setLocalDescription(offer);
    const raw = this.pc.localDescription?.sdp;
    if (!raw || !this.uplink.mid) throw new Error("werift produced no local description");
    const announced = announceOnSamePort(raw, alsoAnnounced);
    const sdp = this.rtc.listenAddress
      ? keepCandidates(announced, new Set([this.rtc.listenAddress, ...this.rtc.announcedAddresses]))
      : announced;
    this.offer = { sdp, uplinkMid: this.uplink.mid, slots: this.slots.map((t) => t.mid ?? "") };
  }

  /**
   * werift opens one UDP socket per host address it announces (the interfaces' and the announced
   * ones alike), so every member in voice held two ports or more. Gathering on one address and
   * announcing the others on that socket's port keeps it at one port per member: a check sent to
   * any announced address reaches the one socket (bound to all interfaces or to the listen address).
   * Returns the addresses still to announce, filled in once werift gathers.
   */
  private gatherOnOneSocket(): string[] {
    const others: string[] = [];
    for (const transport of this.pc.iceTransports) {
      const connection = transport.connection as unknown as Partial<GatheringInternals>;
      const gather = connection.getCandidatePromises?.bind(connection);
      if (!gather) continue;
      connection.getCandidatePromises = (addresses, timeout) => {
        const listen = this.rtc.listenAddress;
        const primary = listen && addresses.includes(listen) ? listen : addresses[0];
        others.push(...addresses.filter((a) => a !== primary && !others.includes(a)));
        return gather(primary === undefined ? [] : [primary], timeout);
      };
    }
    return others;
  }

  async acceptAnswer(sdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: "answer", sdp: this.checkAnswer(sdp) });
    for (const [i, t] of this.slots.entries()) {
      const levelId = t.headerExtensions.find((e) => e.uri === AUDIO_LEVEL_URI)?.id;
      const midId = t.headerExtensions.find((e) => e.uri === MID_URI)?.id;
      this.slotLevelIds[i] = levelId;
      this.direct[i] = new DirectSlotSender(
        t,
        midId !== undefined && t.mid ? { id: midId, payload: Buffer.from(t.mid) } : undefined,
        levelId,
        OPUS_PT,
      );
    }
  }

  /** Passes on the loss the listener's receiver reports for this slot (werift keeps handling them). */
  private hearReports(slot: number, transceiver: RTCRtpTransceiver): void {
    const sender = transceiver.sender as unknown as Partial<SenderReportInternals>;
    const handle = sender.handleRtcpPacket?.bind(sender);
    if (!handle) return;
    const loss = new ReportedLoss();
    sender.handleRtcpPacket = (packet) => {
      handle(packet);
      if (packet.type !== RtcpRrPacket.type && packet.type !== RtcpSrPacket.type) return;
      for (const report of packet.reports ?? []) {
        if (report.ssrc !== sender.ssrc || this.closed) continue;
        const fraction = loss.add(report.packetsLost, report.highestSequence);
        if (fraction !== undefined) this.onListenerLoss(slot, fraction);
      }
    };
  }

  setAudienceLoss(fraction: number): void {
    this.repair?.setAudienceLoss(fraction);
  }

  repairStats(): RepairStats {
    return {
      uplinkRed: this.repair?.wireIsRed ?? false,
      uplinkNacks: this.repair?.nacksSent ?? 0,
      slotRed: this.slots.map((_, i) => this.direct[i]?.red ?? false),
    };
  }

  async addCandidate(candidate: {
    candidate: string;
    sdpMid?: string | null;
    sdpMLineIndex?: number | null;
  }) {
    if (!candidate.candidate) return;
    const mids = [this.offer.uplinkMid, ...this.offer.slots];
    const { sdpMid, sdpMLineIndex } = candidate;
    if (sdpMid != null && !mids.includes(sdpMid)) throw new Error(`no m-line has mid "${sdpMid}"`);
    if (sdpMLineIndex != null && sdpMLineIndex >= mids.length)
      throw new Error(`no m-line has index ${sdpMLineIndex}`);
    if (!this.takeCandidate(candidate.candidate)) return;
    // Every m-line shares one transport (max-bundle). A candidate naming neither would be queued
    // until the answer and then make werift refuse that answer.
    await this.pc.addIceCandidate({
      candidate: candidate.candidate,
      ...(sdpMid == null && sdpMLineIndex == null
        ? { sdpMid: this.offer.uplinkMid }
        : { sdpMid: sdpMid ?? undefined, sdpMLineIndex: sdpMLineIndex ?? undefined }),
    });
  }

  /**
   * Counts a remote candidate; throws on a malformed one, false for one this peer cannot use or
   * already has. Only distinct candidates count: aiortc repeats its candidates in every m-line.
   */
  private takeCandidate(line: string): boolean {
    const usable = usableCandidate(line);
    const key = candidateKey(line);
    if (this.remoteCandidates.has(key)) return false;
    if (this.remoteCandidates.size >= MAX_REMOTE_CANDIDATES)
      throw new Error(`more than ${MAX_REMOTE_CANDIDATES} distinct ICE candidates`);
    this.remoteCandidates.add(key);
    return usable;
  }

  /**
   * Checks the answer's shape before werift sees it: werift takes some garbage without complaint
   * and then closes the peer, which the member would see as voice dropping, not as a bad answer.
   * Returns the answer without candidates this peer cannot use.
   */
  private checkAnswer(sdp: string): string {
    const lines = sdp.split(/\r?\n/);
    if (lines[0] !== "v=0") throw new Error("an SDP answer starts with v=0");
    const mLines = lines.filter((l) => l.startsWith("m="));
    const offered = [this.offer.uplinkMid, ...this.offer.slots];
    if (mLines.length !== offered.length || !mLines.every((l) => /^m=audio \d+ /.test(l)))
      throw new Error(`the answer must have the offer's ${offered.length} audio m-lines`);
    const mids = lines.filter((l) => l.startsWith("a=mid:")).map((l) => l.slice("a=mid:".length).trim());
    if (mids.join(" ") !== offered.join(" ")) throw new Error("the answer's mids do not match the offer's");
    for (const attribute of ["a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:"])
      if (!lines.some((l) => l.startsWith(attribute))) throw new Error(`the answer has no ${attribute}`);
    return lines
      .filter((l) => !l.startsWith("a=candidate:") || this.takeCandidate(l.slice("a=".length)))
      .join("\r\n");
  }

  private receive(track: MediaStreamTrack): void {
    // Read from werift's parsed extensions, not the header: frames recovered from RED (and RED's
    // primary) reach here in fresh headers without extensions; they carry the level of the packet
    // that brought them.
    track.onReceiveRtp.subscribe((rtp, extensions?: Record<string, unknown>) => {
      const h = rtp.header;
      // Opus only: a RED block naming any other payload type is not something listeners can play.
      if (this.closed || h.payloadType !== OPUS_PT) return;
      this.repair?.onFrame(h.sequenceNumber);
      const indication = extensions?.[AUDIO_LEVEL_URI] as { v: boolean; level: number } | undefined;
      const level = indication?.level ?? 127;
      const voiced = indication?.v;
      try {
        this.onPacket({
          sequenceNumber: h.sequenceNumber,
          timestamp: h.timestamp,
          // werift marks every frame out of RED as a talkspurt's start; the real marker is lost.
          marker: this.repair?.wireIsRed ? false : h.marker,
          payload: rtp.payload,
          level,
          voiced,
        });
      } catch {
        // A routing bug must not tear down werift's receive loop for this member.
      }
    });
  }

  send(slot: number, packet: OutboundPacket): void {
    const transceiver = this.slots[slot];
    if (!transceiver || this.closed) return;
    const direct = this.direct[slot];
    if (direct?.send(packet)) return;
    this.direct[slot] = undefined;
    const levelId = this.slotLevelIds[slot];
    const extensions =
      levelId === undefined
        ? []
        : [{ id: levelId, payload: Buffer.of((packet.voiced ? 0x80 : 0) | (packet.level & 0x7f)) }];
    // A fresh packet per send: werift rewrites SSRC, payload type and numbering in place and keeps
    // the object for retransmission. Only the audio level extension goes along: a copied MID would
    // steer Chrome to the wrong m-line.
    const header = new RtpHeader({
      payloadType: 111,
      marker: packet.marker,
      sequenceNumber: packet.sequenceNumber,
      timestamp: packet.timestamp,
      ssrc: 0,
      extensions,
    });
    transceiver.sender.sendRtp(new RtpPacket(header, packet.payload)).catch(() => {});
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.repair?.close();
    this.pc.close().catch(() => {});
    this.onState("closed");
  }
}

/** The part of werift's ICE connection that gathering goes through (werift 0.24). */
interface GatheringInternals {
  getCandidatePromises(addresses: string[], timeout?: number): Promise<unknown>[];
}

/** The werift sender internals `hearReports` uses. */
interface SenderReportInternals {
  ssrc: number;
  handleRtcpPacket(packet: {
    type: number;
    reports?: { ssrc: number; packetsLost: number; highestSequence: number }[];
  }): void;
}

export class WeriftPeerFactory implements VoicePeerFactory {
  constructor(private readonly rtc: RtcConfig) {}

  async create(slots: number): Promise<WeriftPeer> {
    const peer = new WeriftPeer(this.rtc);
    try {
      await peer.start(slots);
    } catch (error) {
      peer.close();
      throw error;
    }
    return peer;
  }
}
