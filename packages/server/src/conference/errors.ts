import type { ErrorCode } from "@roundtable/protocol";

/**
 * The one named error of the domain. Its `code` is part of the wire contract; the HTTP and
 * WebSocket edges map it to a status or an `error` message.
 */
export class RoundtableError extends Error {
  override readonly name = "RoundtableError";
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}
