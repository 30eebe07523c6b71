import { createHash } from "node:crypto";
import sharp from "sharp";
import { RoundtableError } from "../conference/errors.ts";
import type { NormalisedAvatar } from "../conference/ports.ts";

export interface AvatarPolicy {
  /** Edge of the square output image, in pixels. */
  size: number;
  /** Largest accepted input, width x height, to refuse decompression bombs before decoding. */
  maxInputPixels: number;
}

export const DEFAULT_AVATAR_POLICY: AvatarPolicy = { size: 256, maxInputPixels: 40_000_000 };

type Format = "png" | "jpeg" | "webp" | "gif";

/** Recognises the accepted formats by their magic bytes, so nothing else (SVG, TIFF...) reaches the decoder. */
export function sniffFormat(bytes: Uint8Array): Format | undefined {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return "png";
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (b.length >= 6 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x38) return "gif";
  if (
    b.length >= 12 &&
    b[0] === 0x52 &&
    b[1] === 0x49 &&
    b[2] === 0x46 &&
    b[3] === 0x46 &&
    b[8] === 0x57 &&
    b[9] === 0x45 &&
    b[10] === 0x42 &&
    b[11] === 0x50
  )
    return "webp";
  return undefined;
}

/**
 * Validates an uploaded picture and re-encodes it: auto-rotated, cropped to a square, resized,
 * WebP, with every byte of metadata (EXIF, GPS, ICC, XMP) gone because nothing is copied over.
 */
export async function normaliseAvatar(
  input: Uint8Array,
  policy: AvatarPolicy = DEFAULT_AVATAR_POLICY,
): Promise<NormalisedAvatar> {
  const format = sniffFormat(input);
  if (!format)
    throw new RoundtableError("invalid_image", "the avatar must be a PNG, JPEG, WebP or GIF image");
  let meta: sharp.Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch {
    throw new RoundtableError("invalid_image", "the avatar image could not be read");
  }
  if (!meta.width || !meta.height) throw new RoundtableError("invalid_image", "the avatar image has no size");
  if (meta.width * meta.height > policy.maxInputPixels)
    throw new RoundtableError(
      "image_too_many_pixels",
      `the avatar has ${meta.width}x${meta.height} pixels; at most ${policy.maxInputPixels} are accepted`,
    );
  try {
    // failOn 'error' rejects truncated and corrupt data instead of decoding a grey half-image.
    const image = sharp(input, { limitInputPixels: policy.maxInputPixels, failOn: "error" })
      .rotate()
      .resize(policy.size, policy.size, { fit: "cover", position: "attention" });
    const [bytes, stats] = await Promise.all([
      image.clone().webp({ quality: 82, effort: 4 }).toBuffer(),
      image.clone().stats(),
    ]);
    return { hash: contentHash(bytes), bytes, color: toHex(stats.dominant) };
  } catch {
    throw new RoundtableError("invalid_image", "the avatar image is corrupt or truncated");
  }
}

/** 132 bits of SHA-256 as base64url: short enough for small build messages, far from collisions. */
export function contentHash(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("base64url").slice(0, 22);
}

function toHex({ r, g, b }: { r: number; g: number; b: number }): string {
  return `#${[r, g, b].map((v) => v.toString(16).padStart(2, "0")).join("")}`;
}
