/**
 * The same initials and colour the server draws for a member without a picture
 * (packages/server/src/avatars/defaultAvatar.ts), so the preview matches the seat.
 */
const PALETTE = ["#2f6f8f", "#8a4f9e", "#3b7d4f", "#b04a3a", "#5a5fb0", "#8c6a1f", "#1f7a7a", "#a63f6d"];

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
  return PALETTE[h % PALETTE.length] as string;
}
