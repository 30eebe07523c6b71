/**
 * The media side of voice as the routing sees it: a peer that delivers the member's packets and
 * accepts packets for its slots. `sfu/WeriftPeer.ts` implements it on werift; tests use fakes.
 */

export interface VoiceOffer {
  sdp: string;
  /** The m-line the member's microphone arrives on. */
  uplinkMid: string;
  /** The m-lines the server sends voices on, in slot order. */
  slots: string[];
}

/** One Opus RTP packet, reduced to what forwarding needs. Its payload is never written after it arrives. */
export interface InboundPacket {
  sequenceNumber: number;
  timestamp: number;
  marker: boolean;
  payload: Buffer;
  /** RFC 6464 level, 0 (loudest) to 127 (silence); 127 when the sender did not include it. */
  level: number;
  /** The sender's own voice-activity flag, when it set one. */
  voiced: boolean | undefined;
}

/** A packet for one listener's slot: the inbound one with that slot's numbering. */
export interface OutboundPacket extends InboundPacket {
  /** Which run of the slot this belongs to: it changes when the slot changes speaker or resumes. */
  run: number;
}

export type PeerState = "connecting" | "connected" | "failed" | "closed";

/** What loss repair does on one peer (for tests, benchmarks and metrics). */
export interface RepairStats {
  /** The member's microphone arrives as RED: the server recovers its losses from the redundancy. */
  uplinkRed: boolean;
  /** Uplink packets the server asked again for. */
  uplinkNacks: number;
  /** Per slot: the listener took RED, so each packet carries the slot's previous frames. */
  slotRed: boolean[];
}

export interface VoicePeer {
  readonly offer: VoiceOffer;
  acceptAnswer(sdp: string): Promise<void>;
  addCandidate(candidate: {
    candidate: string;
    sdpMid?: string | null;
    sdpMLineIndex?: number | null;
  }): Promise<void>;
  /**
   * Sends a packet on slot `slot`. Never throws: a broken peer only hurts itself. The packet object
   * is reused for the next send once this returns: copy what must outlive the call.
   */
  send(slot: number, packet: OutboundPacket): void;
  onPacket: (packet: InboundPacket) => void;
  onState: (state: PeerState) => void;
  /** The member's receiver reported losing `fraction` (0-1) of what slot `slot` sent them. */
  onListenerLoss: (slot: number, fraction: number) => void;
  /**
   * The worst loss this member's listeners report: the peer's receiver reports to the member's
   * encoder state it combined with the uplink's own.
   */
  setAudienceLoss(fraction: number): void;
  repairStats(): RepairStats;
  /** Idempotent. */
  close(): void;
}

export interface VoicePeerFactory {
  create(slots: number): Promise<VoicePeer>;
}

/**
 * Voice frames between the nodes of a cluster (NATS in production): each node receives what is
 * addressed to it, and nothing else. Frames are opaque bytes here (`relay/frame.ts` reads them).
 */
export interface VoiceRelay {
  /** Sends one frame to each of these nodes, encoded once. Dropped, not queued, while the link is down. */
  send(nodes: readonly string[], frame: Uint8Array): void;
  /** Frames the other nodes sent to this one. */
  onFrame: (frame: Uint8Array) => void;
  close(): Promise<void>;
}
