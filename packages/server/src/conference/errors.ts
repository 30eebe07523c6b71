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

/**
 * A conference's refusals, one wording each: the domain checks them in memory, and the store's
 * registration transaction can meet them too.
 */
export const refusals = {
  missing: () => new RoundtableError("not_found", "no such conference"),
  ended: () => new RoundtableError("conference_ended", "the host ended this conference"),
  full: () => new RoundtableError("conference_full", "this conference has no free seat"),
  locked: () => new RoundtableError("registration_locked", "the host has locked registration for now"),
} as const;
