export { type ProgressListener, type RegisterInput, RoundtableApi, type Uploader } from "./api.ts";
export {
  type ClientEvents,
  ConferenceClient,
  type ConferenceClientOptions,
  type ConnectionStatus,
  type OutboxText,
} from "./ConferenceClient.ts";
export { Emitter } from "./Emitter.ts";
export { ApiError } from "./errors.ts";
export * from "./ports.ts";
export {
  BUBBLE_MS,
  type Bubble,
  type ChatEntry,
  type Phase,
  type RoomEvents,
  RoomModel,
  type Seat,
} from "./RoomModel.ts";
export {
  CONNECT_DEADLINE_MS,
  DEFAULT_SPEAKING,
  type IceCandidate,
  type MediaEngine,
  type SpeakingOptions,
  type TransportFailure,
  type VoiceEvents,
  type VoiceOffer,
  VoiceSession,
  type VoiceStatus,
} from "./VoiceSession.ts";
export { describeVoiceFailure, type VoiceFailure } from "./voiceFailure.ts";
