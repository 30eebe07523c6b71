import { existsSync } from "node:fs";
import { join } from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";

/**
 * Serves the built web UI. The app routes pages itself, so every page path answers index.html;
 * hashed assets are cached for a year, index.html never.
 */
export async function pageRoutes(app: FastifyInstance, webDir: string): Promise<void> {
  if (!existsSync(join(webDir, "index.html"))) {
    app.log.warn({ webDir }, "web UI not built; run `npm run build:web`. Serving the API only.");
    return;
  }
  await app.register(fastifyStatic, {
    root: webDir,
    wildcard: false,
    index: false,
    setHeaders(res, path) {
      res.setHeader(
        "Cache-Control",
        path.includes("/assets/") ? "public, max-age=31536000, immutable" : "no-cache",
      );
    },
  });
  const page = async (
    _request: unknown,
    reply: { header: (k: string, v: string) => { sendFile: (f: string) => unknown } },
  ) => reply.header("Cache-Control", "no-cache").sendFile("index.html");
  for (const path of ["/", "/c/:id", "/c/:id/join", "/c/:id/host"]) app.get(path, page);
}
