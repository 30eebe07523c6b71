import { colorOf, initialsOf } from "@roundtable/protocol";
import sharp from "sharp";
import type { NormalisedAvatar } from "../conference/ports.ts";
import { contentHash } from "./normalise.ts";

/**
 * Escapes markup and drops what XML 1.0 cannot carry at all (U+FFFE, U+FFFF, lone surrogates):
 * names may contain them, and the SVG renderer refuses the whole image otherwise.
 */
const escapeXml = (s: string) =>
  s
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "")
    .replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

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
