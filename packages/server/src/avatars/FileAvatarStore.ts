import { randomUUID } from "node:crypto";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { AvatarStore, NormalisedAvatar } from "../conference/ports.ts";

const HASH = /^[A-Za-z0-9_-]{22}$/;

/** Avatars as files named by their content hash under one folder. */
export class FileAvatarStore implements AvatarStore {
  constructor(private readonly dir: string) {}

  private pathOf(hash: string): string {
    if (!HASH.test(hash)) throw new TypeError(`not an avatar hash: ${hash}`);
    return join(this.dir, `${hash}.webp`);
  }

  async save(avatar: NormalisedAvatar): Promise<void> {
    const path = this.pathOf(avatar.hash);
    if (await exists(path)) return;
    await mkdir(this.dir, { recursive: true });
    // Write then rename, so a crash never leaves a half-written file under a valid name. The temporary
    // name is unique: two conferences can store the same picture at the same moment.
    const tmp = `${path}.${randomUUID()}.tmp`;
    await writeFile(tmp, avatar.bytes);
    await rename(tmp, path);
  }

  /** The image bytes, or undefined when no avatar has that hash. */
  async read(hash: string): Promise<Buffer | undefined> {
    if (!HASH.test(hash)) return undefined;
    try {
      return await readFile(this.pathOf(hash));
    } catch {
      return undefined;
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
