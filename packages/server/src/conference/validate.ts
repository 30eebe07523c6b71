import { type ErrorCode, LIMITS } from "@roundtable/protocol";
import { RoundtableError } from "./errors.ts";

// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** Something a person can see: not only spaces, format characters (U+200B…) or marks. */
const VISIBLE = /[^\p{Z}\p{Cf}\p{Cc}\p{M}\s]/u;

/**
 * Trims a label shown to other people and checks it: 1 to `max` characters (code points, so emoji
 * count once), no control or bidi-override characters (they can disguise one name as another).
 */
function validLabel(raw: unknown, what: string, max: number, code: ErrorCode): string {
  if (typeof raw !== "string") throw new RoundtableError(code, `${what} is required`);
  const value = raw.trim();
  const length = [...value].length;
  if (length === 0) throw new RoundtableError(code, `${what} must not be empty`);
  if (length > max) throw new RoundtableError(code, `${what} must be at most ${max} characters`);
  if (CONTROL.test(value)) throw new RoundtableError(code, `${what} contains control characters`);
  if (!VISIBLE.test(value)) throw new RoundtableError(code, `${what} must contain something visible`);
  return value;
}

export const validName = (raw: unknown): string =>
  validLabel(raw, "name", LIMITS.memberNameMax, "invalid_name");

export const validTitle = (raw: unknown): string =>
  validLabel(raw, "title", LIMITS.conferenceTitleMax, "invalid_title");
