import { CLOSE_CODES, LIMITS } from "@roundtable/protocol";
import type { FastifyInstance } from "fastify";
import type { ConferenceService } from "../conference/ConferenceService.ts";
import { RoundtableError } from "../conference/errors.ts";
import type { VoiceService } from "../voice/VoiceService.ts";
import { MemberSocket } from "./MemberSocket.ts";

/**
 * `GET /api/conferences/:id/ws?token=...&since=N`. The upgrade is accepted, then a bad token closes
 * the socket with 4001 (4004 for an unknown conference): browsers cannot read an HTTP status from
 * a refused upgrade, but they can read a close code, and so stop retrying.
 */
export function socketRoute(app: FastifyInstance, service: ConferenceService, voice: VoiceService): void {
  app.get<{ Params: { id: string }; Querystring: { token?: string; since?: string } }>(
    "/api/conferences/:id/ws",
    { websocket: true },
    async (socket, request) => {
      const { id } = request.params;
      let memberId: string;
      try {
        memberId = (await service.authenticateMember(id, request.query.token)).id;
      } catch (error) {
        const notFound = error instanceof RoundtableError && error.code === "not_found";
        socket.close(notFound ? CLOSE_CODES.notFound : CLOSE_CODES.unauthorized, (error as Error).message);
        return;
      }
      const since = Number(request.query.since ?? 0);
      const member = new MemberSocket(socket, service, voice, id, memberId, request.log);
      await member.start(Number.isSafeInteger(since) && since > 0 ? since : 0);
    },
  );
}

export const websocketOptions = { maxPayload: LIMITS.wsMessageMax };
