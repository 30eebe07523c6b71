import sharp from "sharp";
import type { NormalisedAvatar } from "../conference/ports.ts";
import { contentHash } from "./normalise.ts";

/** Calm, readable backgrounds for white initials (WCAG AA against white). */
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

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A generated avatar for members who chose no picture: their initials on a colour. */
export async function defaultAvatar(name: string, size = 256): Promise<NormalisedAvatar> {
  const color = colorOf(name);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">
<rect width="100%" height="100%" fill="${color}"/>
<text x="50%" y="50%" dy=".35em" text-anchor="middle" font-family="DejaVu Sans, sans-serif"
 font-size="${Math.round(size * 0.4)}" font-weight="bold" fill="#fff">${escapeXml(initialsOf(name))}</text>
</svg>`;
  const bytes = await sharp(Buffer.from(svg)).webp({ quality: 82 }).toBuffer();
  return { hash: contentHash(bytes), bytes, color };
}
