import type { FastifyInstance } from "fastify";
import type { AvatarStore } from "../conference/ports.ts";

/** Avatars never change under a URL (the URL is the content hash), so caches may keep them forever. */
export function avatarRoutes(app: FastifyInstance, avatars: AvatarStore): void {
  app.get<{ Params: { file: string } }>("/avatars/:file", async (request, reply) => {
    const match = /^([A-Za-z0-9_-]{22})\.webp$/.exec(request.params.file);
    const bytes = match?.[1] ? await avatars.read(match[1]) : undefined;
    if (!bytes) return reply.code(404).send({ error: { code: "not_found", message: "no such avatar" } });
    return reply
      .header("Content-Type", "image/webp")
      .header("Cache-Control", "public, max-age=31536000, immutable")
      .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });
}
