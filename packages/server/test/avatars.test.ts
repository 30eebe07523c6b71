import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { colorOf, initialsOf } from "@roundtable/protocol";
import sharp from "sharp";
import { defaultAvatar } from "../src/avatars/defaultAvatar.ts";
import { FileAvatarStore } from "../src/avatars/FileAvatarStore.ts";
import { normaliseAvatar, sniffFormat } from "../src/avatars/normalise.ts";
import { RoundtableError } from "../src/conference/errors.ts";
import { jpegWithExif, pngClaiming, solidImage } from "./images.ts";

const rejectsWith = (promise: Promise<unknown>, code: string) =>
  assert.rejects(promise, (e: unknown) => e instanceof RoundtableError && e.code === code);

describe("avatar normalisation", () => {
  for (const format of ["png", "jpeg", "webp", "gif"] as const) {
    test(`re-encodes a ${format} as a 256x256 WebP`, async () => {
      const avatar = await normaliseAvatar(await solidImage(format));
      const meta = await sharp(avatar.bytes).metadata();
      assert.equal(meta.format, "webp");
      assert.equal(meta.width, 256);
      assert.equal(meta.height, 256);
      assert.match(avatar.hash, /^[A-Za-z0-9_-]{22}$/);
      assert.match(avatar.color, /^#[0-9a-f]{6}$/);
    });
  }

  test("strips EXIF and GPS metadata", async () => {
    const input = await jpegWithExif();
    assert.ok((await sharp(input).metadata()).exif, "the fixture has EXIF");
    const avatar = await normaliseAvatar(input);
    const meta = await sharp(avatar.bytes).metadata();
    assert.equal(meta.exif, undefined);
    assert.equal(meta.xmp, undefined);
    assert.equal(meta.icc, undefined);
    assert.equal(Buffer.from(avatar.bytes).includes("SecretCam"), false);
  });

  test("the same picture always gets the same content address", async () => {
    const input = await solidImage("png");
    const [a, b] = await Promise.all([normaliseAvatar(input), normaliseAvatar(input)]);
    assert.equal(a.hash, b.hash);
    const other = await normaliseAvatar(await solidImage("png", 400, 300, { r: 0, g: 0, b: 255 }));
    assert.notEqual(a.hash, other.hash);
  });

  test("refuses what is not an accepted image format", async () => {
    await rejectsWith(normaliseAvatar(Buffer.from("hello, not an image")), "invalid_image");
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
    await rejectsWith(normaliseAvatar(svg), "invalid_image");
    const tiff = await sharp({ create: { width: 4, height: 4, channels: 3, background: "#fff" } })
      .tiff()
      .toBuffer();
    await rejectsWith(normaliseAvatar(tiff), "invalid_image");
  });

  test("refuses a truncated image", async () => {
    const png = await solidImage("png", 300, 300);
    await rejectsWith(normaliseAvatar(png.subarray(0, Math.floor(png.length / 2))), "invalid_image");
  });

  test("refuses a decompression bomb from its header alone", async () => {
    await rejectsWith(normaliseAvatar(await pngClaiming(50_000, 50_000)), "image_too_many_pixels");
  });

  test("sniffs formats by magic bytes", () => {
    assert.equal(sniffFormat(Buffer.from("GIF89a......")), "gif");
    assert.equal(sniffFormat(Buffer.from("RIFF\0\0\0\0WEBPVP8 ")), "webp");
    assert.equal(sniffFormat(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), "jpeg");
    assert.equal(sniffFormat(Buffer.from("<svg>")), undefined);
  });
});

describe("default avatar", () => {
  test("initials come from the first and last word", () => {
    assert.equal(initialsOf("ada lovelace"), "AL");
    assert.equal(initialsOf("  Grace  "), "G");
    assert.equal(initialsOf("Jean Baptiste Joseph Fourier"), "JF");
    assert.equal(initialsOf("Ólafur Arnalds"), "ÓA");
  });

  test("is a 256x256 WebP whose colour depends on the name", async () => {
    const avatar = await defaultAvatar("Ada Lovelace");
    const meta = await sharp(avatar.bytes).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ["webp", 256, 256]);
    assert.equal(avatar.color, colorOf("Ada Lovelace"));
    assert.equal((await defaultAvatar("Ada Lovelace")).hash, avatar.hash);
  });

  test("escapes names that look like markup", async () => {
    const avatar = await defaultAvatar('<script>&"');
    assert.equal((await sharp(avatar.bytes).metadata()).format, "webp");
  });
});

describe("avatar file store", () => {
  test("saving the same picture several times at once succeeds and leaves one file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "roundtable-avatars-"));
    try {
      const store = new FileAvatarStore(dir);
      const avatar = await normaliseAvatar(await solidImage("png"));
      await Promise.all([store.save(avatar), store.save(avatar), store.save(avatar)]);
      assert.deepEqual(await readdir(dir), [`${avatar.hash}.webp`]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
