import type { ErrorBody, ErrorCode } from "@roundtable/protocol";
import { RoundtableError } from "../conference/errors.ts";

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  invalid_name: 400,
  invalid_title: 400,
  invalid_message: 400,
  unknown_recipient: 400,
  invalid_image: 422,
  image_too_many_pixels: 422,
  image_too_large: 413,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conference_full: 409,
  rate_limited: 429,
  conference_ended: 410,
  registration_locked: 423,
  host_muted: 403,
  server_full: 503,
  internal: 500,
};

/** Turns any thrown value into an HTTP status and the documented error body. */
export function toHttpError(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof RoundtableError) {
    return { status: STATUS[error.code], body: { error: { code: error.code, message: error.message } } };
  }
  const status = (error as { statusCode?: number }).statusCode;
  // Fastify answers a body type no route parses with 415; the contract promises 400 for any body
  // of the wrong shape, and a client cannot tell the two apart usefully.
  if (status === 415) {
    const message = "unsupported content type: JSON for conferences, multipart/form-data for registrations";
    return { status: 400, body: { error: { code: "bad_request", message } } };
  }
  if (typeof status === "number" && status >= 400 && status < 500) {
    const code: ErrorCode =
      status === 413 ? "image_too_large" : status === 429 ? "rate_limited" : "bad_request";
    const message = (error as Error).message || "bad request";
    return { status, body: { error: { code, message } } };
  }
  return { status: 500, body: { error: { code: "internal", message: "internal server error" } } };
}
