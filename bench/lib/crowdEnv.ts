/**
 * Server limits for a benchmark whose whole crowd connects from one loopback address: the per-address
 * limits (sockets, attempts, frames, texts, voice packets) exist to stop one host flooding, and would
 * otherwise refuse the very load being measured. Per-member limits stay as in production.
 */
export const CROWD_FROM_ONE_ADDRESS: Record<string, string> = {
  REGISTRATIONS_PER_MINUTE: "1000000",
  CONFERENCES_PER_MINUTE: "10000",
  MAX_CONNECTIONS_PER_ADDRESS: "100000",
  CONNECTIONS_PER_MINUTE: "1000000",
  ADDRESS_SIGNALLING_BURST: "1000000",
  ADDRESS_SIGNALLING_PER_SECOND: "1000000",
  ADDRESS_TEXTS_PER_SECOND: "1000000",
  ADDRESS_VOICE_PACKETS_PER_SECOND: "1000000",
};
