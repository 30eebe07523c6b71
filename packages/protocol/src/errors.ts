/**
 * Error codes carried in HTTP error bodies `{ error: { code, message } }` and in `error` messages
 * over the WebSocket. The server maps them to HTTP statuses at its edge.
 */
export const ERROR_CODES = [
  "bad_request",
  "invalid_name",
  "invalid_title",
  "invalid_image",
  "image_too_large",
  "image_too_many_pixels",
  "unauthorized",
  "forbidden",
  "not_found",
  "conference_full",
  "unknown_recipient",
  "invalid_message",
  "rate_limited",
  "conference_ended",
  "server_full",
  "registration_locked",
  "host_muted",
  "internal",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/** WebSocket close codes (4000-4999 is the range RFC 6455 leaves to applications). */
export const CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  messageTooBig: 1009,
  /** The server is restarting (SIGTERM): reconnect with backoff. */
  serviceRestart: 1012,
  /** The server cannot reach its store for the moment: reconnect with backoff. */
  tryAgainLater: 1013,
  unauthorized: 4001,
  /** The host removed this member: their link no longer works. Do not reconnect. */
  removed: 4003,
  notFound: 4004,
  tooManyConnections: 4008,
  rateLimited: 4029,
  replaced: 4009,
  /** The host ended the conference: do not reconnect. */
  ended: 4010,
} as const;
