import type { FastifyInstance } from "fastify";
import type { FileAvatarStore } from "../avatars/FileAvatarStore.ts";

/** Avatars never change under a URL (the URL is the content hash), so caches may keep them forever. */
export function avatarRoutes(app: FastifyInstance, avatars: FileAvatarStore): void {
  app.get<{ Params: { file: string } }>("/avatars/:file", async (request, reply) => {
    const match = /^([A-Za-z0-9_-]{22})\.webp$/.exec(request.params.file);
    const bytes = match?.[1] ? await avatars.read(match[1]) : undefined;
    if (!bytes) return reply.code(404).send({ error: { code: "not_found", message: "no such avatar" } });
    return reply
      .header("Content-Type", "image/webp")
      .header("Cache-Control", "public, max-age=31536000, immutable")
      .send(bytes);
  });
}
