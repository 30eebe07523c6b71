import type { FastifyInstance, FastifyReply } from "fastify";

/**
 * Headers on every response. The policy allows only this origin's scripts, styles and sockets;
 * `blob:` images are the local preview of a picked avatar. `no-referrer` matters: room links carry
 * the member token in their query string.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob:",
  // CSP3 lets 'self' cover ws: and wss: to this same host, so sockets elsewhere stay forbidden.
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

export function setSecurityHeaders(reply: FastifyReply): void {
  reply.header("Content-Security-Policy", CSP);
  reply.header("X-Content-Type-Options", "nosniff");
  reply.header("Referrer-Policy", "no-referrer");
  reply.header("X-Frame-Options", "DENY");
  reply.header("Cross-Origin-Opener-Policy", "same-origin");
  reply.header("Cross-Origin-Resource-Policy", "same-origin");
  reply.header("Permissions-Policy", "camera=(), geolocation=(), microphone=(self)");
}

export function addSecurityHeaders(app: FastifyInstance): void {
  app.addHook("onSend", async (_request, reply) => setSecurityHeaders(reply));
}
