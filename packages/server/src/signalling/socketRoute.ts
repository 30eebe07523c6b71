import { CLOSE_CODES, LIMITS } from "@roundtable/protocol";
import type { FastifyInstance } from "fastify";
import type { ConferenceService } from "../conference/ConferenceService.ts";
import { RoundtableError } from "../conference/errors.ts";
import type { VoiceService } from "../voice/VoiceService.ts";
import { closeCodeFor, MemberSocket } from "./MemberSocket.ts";
import type { SocketGuard } from "./SocketGuard.ts";

/**
 * `GET /api/conferences/:id/ws?token=...[&since=N]`. The upgrade is accepted, then a bad token closes
 * the socket with 4001 (4004 for an unknown conference, 4010 for an ended one): browsers cannot
 * read an HTTP status from a refused upgrade, but they can read a close code, and so stop retrying.
 * An address over its connection limits is closed with 4029 before the token is even looked at.
 */
export function socketRoute(
  app: FastifyInstance,
  service: ConferenceService,
  voice: VoiceService,
  guard: SocketGuard,
): void {
  app.route<{ Params: { id: string }; Querystring: { token?: string; since?: string } }>({
    method: "GET",
    url: "/api/conferences/:id/ws",
    // A plain GET (no upgrade) gets a documented error instead of the plugin's empty 404.
    handler: (_request, reply) =>
      reply
        .code(426)
        .header("upgrade", "websocket")
        .send({ error: { code: "bad_request", message: "this route takes a WebSocket upgrade" } }),
    wsHandler: async (socket, request) => {
      const admitted = guard.admitConnection(request.ip);
      if ("refused" in admitted) {
        socket.close(CLOSE_CODES.rateLimited, admitted.refused);
        return;
      }
      const { id } = request.params;
      // Nothing is read until the member socket listens: a frame the client sends while the token
      // is being looked up (a real wait with a networked store) would otherwise be dropped unseen.
      socket.pause();
      let memberId: string;
      try {
        memberId = (await service.authenticateMember(id, request.query.token)).id;
      } catch (error) {
        admitted.release();
        socket.resume();
        // Only the domain's own refusals are final; anything else (the store unreachable) is trouble
        // the client should retry through, told in words that name no database.
        if (error instanceof RoundtableError) socket.close(closeCodeFor(error), error.message);
        else {
          request.log.error({ err: error }, "could not check a member's token");
          socket.close(CLOSE_CODES.tryAgainLater, "server trouble, retrying");
        }
        return;
      }
      // With `since` (0 included) the client resumes and gets every text after it; without, the newest.
      const since = request.query.since === undefined ? undefined : Number(request.query.since);
      const member = new MemberSocket(
        socket,
        service,
        voice,
        guard,
        id,
        memberId,
        request.ip,
        request.log,
        admitted.release,
      );
      // start() queues every later frame behind the connection's set-up: only then is reading resumed.
      const started = member.start(
        since !== undefined && Number.isSafeInteger(since) && since >= 0 ? since : undefined,
      );
      socket.resume();
      await started;
    },
  });
}

export const websocketOptions = { maxPayload: LIMITS.wsMessageMax };
