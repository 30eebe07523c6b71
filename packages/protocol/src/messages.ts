import { z } from "zod";
import { LIMITS } from "./limits.ts";

/**
 * Every WebSocket message, one discriminated union per direction. The server parses what clients
 * send with `ClientMessage`; clients parse what the server sends with `ServerMessage`.
 */

export const PROTOCOL_VERSION = 1;

const Id = z.string().min(1).max(64);

/** Who a text (and, later, a voice) goes to: everyone, or the listed members. */
export const Audience = z.union([z.literal("all"), z.array(Id).min(1).max(LIMITS.recipientsMax)]);
export type Audience = z.infer<typeof Audience>;

export const Avatar = z.object({
  url: z.string(),
  /** Fallback colour while the image loads, as `#rrggbb`. */
  color: z.string(),
});
export type Avatar = z.infer<typeof Avatar>;

/** A STUN or TURN server as WebRTC's `RTCIceServer` has it. */
export const IceServer = z.object({
  urls: z.union([z.string(), z.array(z.string())]),
  username: z.string().optional(),
  credential: z.string().optional(),
});
export type IceServer = z.infer<typeof IceServer>;

export const MemberInfo = z.object({
  id: Id,
  name: z.string(),
  avatar: Avatar,
  /** Seat index around the table, 0-based, in registration order. */
  seat: z.number().int().min(0),
  /** Present for a co-host: they may mute others, as the host can. */
  role: z.literal("co-host").optional(),
  /** Present while the host muted them: they cannot unmute themselves until the host lifts it. */
  hostMuted: z.literal(true).optional(),
});
export type MemberInfo = z.infer<typeof MemberInfo>;

export const TextMessage = z.object({
  type: z.literal("text"),
  id: z.string(),
  /** Per-conference sequence number: increases by one for each stored text. */
  seq: z.number().int(),
  from: Id,
  to: Audience,
  text: z.string(),
  /** Milliseconds since the Unix epoch, server clock. */
  sentAt: z.number(),
  /** Echo of the sender's `clientId`, only on the copy sent back to the sender. */
  clientId: z.string().optional(),
});
export type TextMessage = z.infer<typeof TextMessage>;

// ---------------------------------------------------------------- server -> client

export const HelloMessage = z.object({
  type: z.literal("hello"),
  protocolVersion: z.number().int(),
  memberId: Id,
  conference: z.object({ id: Id, title: z.string(), state: z.enum(["registering", "built"]) }),
  /** Members with at least one open connection right now. */
  online: z.array(Id),
});

export const LobbyMessage = z.object({
  type: z.literal("lobby"),
  members: z.array(MemberInfo),
});

export const BuildMessage = z.object({
  type: z.literal("build"),
  conference: z.object({ id: Id, title: z.string() }),
  members: z.array(MemberInfo),
});
export type BuildMessage = z.infer<typeof BuildMessage>;

export const MemberAddedMessage = z.object({
  type: z.literal("member-added"),
  member: MemberInfo,
});

export const PresenceMessage = z.object({
  type: z.literal("presence"),
  online: z.array(Id),
  offline: z.array(Id),
});

/**
 * Texts the member missed, oldest first. A fresh connection gets the newest `LIMITS.historyMax`; a
 * resumed one (`since=<seq>`) gets everything after that seq, in pages: `more` marks all but the last.
 */
export const HistoryMessage = z.object({
  type: z.literal("history"),
  messages: z.array(TextMessage),
  more: z.boolean().optional(),
});

/** A member's role or host mute changed: the seat shows it. */
export const MemberUpdatedMessage = z.object({
  type: z.literal("member-updated"),
  member: MemberInfo,
});

/**
 * The host removed a member: their seat empties; their texts stay in the history. The removed
 * member's own sockets are closed with `CLOSE_CODES.removed` next.
 */
export const MemberRemovedMessage = z.object({
  type: z.literal("member-removed"),
  memberId: Id,
});

/** The host locked or unlocked registration. */
export const RegistrationMessage = z.object({
  type: z.literal("registration"),
  locked: z.boolean(),
});

/** The host ended the conference; the server closes the socket with `CLOSE_CODES.ended` next. */
export const EndedMessage = z.object({
  type: z.literal("ended"),
  endedAt: z.number(),
});

/** Answer to a client's `ping`: proves the connection still carries messages both ways. */
export const PongMessage = z.object({ type: z.literal("pong") });

export const ErrorMessage = z.object({
  type: z.literal("error"),
  code: z.string(),
  message: z.string(),
  /** The `clientId` of the client message that caused it, when there was one. */
  clientId: z.string().optional(),
});

/**
 * The server's half of the voice negotiation: one peer connection per member, offered by the server.
 * `uplinkMid` is the m-line the member's microphone goes out on; `slots` are the mids of the
 * receive-only m-lines the server forwards voices into, in slot order. Candidates are in the SDP.
 */
export const VoiceOfferMessage = z.object({
  type: z.literal("voice-offer"),
  sdp: z.string(),
  uplinkMid: z.string(),
  slots: z.array(z.string()),
  /**
   * STUN and TURN servers for this peer connection (an `RTCIceServer` list): the server's
   * `ICE_SERVERS` and, with TURN configured, short-lived TURN credentials for this member.
   */
  iceServers: z.array(IceServer),
});

/** The server took the member's answer: voice is on once ICE and DTLS complete. */
export const VoiceAcceptedMessage = z.object({ type: z.literal("voice-accepted") });

/**
 * The server ended this member's voice peer: `answer_refused` (the answer was unusable: `message`
 * says why), `connection_failed` (ICE or DTLS did not complete, or consent was lost). A client
 * starts again with `voice-join` or tells its member.
 */
export const VoiceClosedMessage = z.object({
  type: z.literal("voice-closed"),
  reason: z.enum(["answer_refused", "connection_failed"]),
  message: z.string(),
});

/** Slot `slot` now carries `memberId`'s voice (null: nobody). `whisper`: addressed to you alone or a few. */
export const VoiceSlotMessage = z.object({
  type: z.literal("voice-slot"),
  slot: z.number().int().min(0),
  memberId: Id.nullable(),
  whisper: z.boolean(),
});

/**
 * Broadcast: whether a member's voice is flowing (the server receives their microphone's packets)
 * and whether they are muted; never whom they talk to.
 */
export const VoiceStateMessage = z.object({
  type: z.literal("voice-state"),
  memberId: Id,
  connected: z.boolean(),
  muted: z.boolean(),
});

export const ServerMessage = z.discriminatedUnion("type", [
  HelloMessage,
  LobbyMessage,
  BuildMessage,
  MemberAddedMessage,
  MemberUpdatedMessage,
  MemberRemovedMessage,
  RegistrationMessage,
  PresenceMessage,
  HistoryMessage,
  TextMessage,
  ErrorMessage,
  EndedMessage,
  PongMessage,
  VoiceOfferMessage,
  VoiceAcceptedMessage,
  VoiceClosedMessage,
  VoiceSlotMessage,
  VoiceStateMessage,
]);
export type ServerMessage = z.infer<typeof ServerMessage>;
export type ServerMessageOf<T extends ServerMessage["type"]> = Extract<ServerMessage, { type: T }>;

// ---------------------------------------------------------------- client -> server

export const SendTextMessage = z.object({
  type: z.literal("text"),
  to: Audience,
  text: z.string().min(1).max(LIMITS.textMax),
  /**
   * Chosen by the client; echoed on the stored copy so the client can match its own message. The
   * server stores a (sender, clientId) pair once: sending it again only repeats the acknowledgement.
   */
  clientId: z.string().min(1).max(64).optional(),
});
export type SendTextMessage = z.infer<typeof SendTextMessage>;

/** Asks for a voice peer connection; sent again after a reconnect or an ICE failure, it starts afresh. */
export const VoiceJoinMessage = z.object({ type: z.literal("voice-join") });

export const VoiceAnswerMessage = z.object({
  type: z.literal("voice-answer"),
  sdp: z.string().min(1).max(LIMITS.sdpMax),
});

/** A trickled ICE candidate of the member's side. */
export const VoiceCandidateMessage = z.object({
  type: z.literal("voice-candidate"),
  candidate: z.string().max(LIMITS.candidateMax),
  sdpMid: z.string().max(32).nullable().optional(),
  sdpMLineIndex: z.number().int().min(0).max(64).nullable().optional(),
});

/** Whom the member's voice goes to from now on. */
export const VoiceTargetMessage = z.object({ type: z.literal("voice-target"), to: Audience });

export const VoiceMuteMessage = z.object({ type: z.literal("voice-mute"), muted: z.boolean() });

export const VoiceLeaveMessage = z.object({ type: z.literal("voice-leave") });

/** Liveness probe; the server answers `pong`. A client that hears nothing for a while reconnects. */
export const PingMessage = z.object({ type: z.literal("ping") });

export const ClientMessage = z.discriminatedUnion("type", [
  SendTextMessage,
  VoiceJoinMessage,
  VoiceAnswerMessage,
  VoiceCandidateMessage,
  VoiceTargetMessage,
  VoiceMuteMessage,
  VoiceLeaveMessage,
  PingMessage,
]);
export type ClientMessage = z.infer<typeof ClientMessage>;
