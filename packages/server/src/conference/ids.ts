import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IdSource } from "./ports.ts";

/** Ids: 72 random bits (12 base64url characters). Tokens: 256 random bits. */
export const randomIds: IdSource = {
  id: () => randomBytes(9).toString("base64url"),
  token: () => randomBytes(32).toString("base64url"),
};

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Compares a presented token with a stored hash in time independent of where they differ. */
export function tokenMatches(token: string, storedHash: string): boolean {
  const a = Buffer.from(hashToken(token), "hex");
  const b = Buffer.from(storedHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}
