/**
 * How a member without a picture looks: their initials on a colour picked from their name. The
 * server draws it; clients use the same rules for the preview, so what you see is what you get.
 */

/** Calm backgrounds that keep white initials readable (WCAG AA against white). */
export const DEFAULT_AVATAR_PALETTE = [
  "#2f6f8f",
  "#8a4f9e",
  "#3b7d4f",
  "#b04a3a",
  "#5a5fb0",
  "#8c6a1f",
  "#1f7a7a",
  "#a63f6d",
] as const;

/** First letters of the first and last word, e.g. "Ada King Lovelace" -> "AL". */
export function initialsOf(name: string): string {
  const words = name.trim().split(/\s+/u).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words.at(-1)] : [words[0]];
  return letters
    .map((w) => [...(w ?? "")][0] ?? "")
    .join("")
    .toLocaleUpperCase();
}

export function colorOf(name: string): string {
  let h = 0;
  for (const ch of name) h = (h * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
  return DEFAULT_AVATAR_PALETTE[h % DEFAULT_AVATAR_PALETTE.length] as string;
}
