import { LIMITS } from "@roundtable/protocol";
import { RoundtableError } from "./errors.ts";

// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** Trims a display name and checks it: 1-64 characters, no control or bidi-override characters. */
export function validName(raw: unknown): string {
  if (typeof raw !== "string") throw new RoundtableError("invalid_name", "name is required");
  const name = raw.trim();
  const length = [...name].length;
  if (length === 0) throw new RoundtableError("invalid_name", "name must not be empty");
  if (length > LIMITS.memberNameMax)
    throw new RoundtableError("invalid_name", `name must be at most ${LIMITS.memberNameMax} characters`);
  if (CONTROL.test(name)) throw new RoundtableError("invalid_name", "name contains control characters");
  return name;
}

export function validTitle(raw: unknown): string {
  if (typeof raw !== "string") throw new RoundtableError("invalid_title", "title is required");
  const title = raw.trim();
  const length = [...title].length;
  if (length === 0) throw new RoundtableError("invalid_title", "title must not be empty");
  if (length > LIMITS.conferenceTitleMax)
    throw new RoundtableError(
      "invalid_title",
      `title must be at most ${LIMITS.conferenceTitleMax} characters`,
    );
  if (CONTROL.test(title)) throw new RoundtableError("invalid_title", "title contains control characters");
  return title;
}
