import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { RoundtableError } from "../conference/errors.ts";
import type { HostControls } from "../conference/HostControls.ts";
import { bearerToken } from "./requestBase.ts";

const Muted = z.object({ muted: z.boolean() });
const Locked = z.object({ locked: z.boolean() });
const CoHost = z.object({ memberId: z.string().min(1).max(64) });

/** Reads a JSON body with `schema`; anything else is a 400 naming what was expected. */
function body<T>(request: FastifyRequest, schema: z.ZodType<T>, expected: string): T {
  const parsed = schema.safeParse(request.body);
  if (!parsed.success) throw new RoundtableError("bad_request", `send JSON ${expected}`);
  return parsed.data;
}

interface MemberParams {
  id: string;
  memberId: string;
}

/**
 * The host's controls over HTTP (docs/protocol.md): each takes `Authorization: Bearer <host token>`
 * (muting also a co-host's member token) and answers 401 without one, 403 for a plain member.
 */
export function hostRoutes(app: FastifyInstance, host: HostControls): void {
  const opts = { bodyLimit: 1024 };
  app.post<{ Params: MemberParams }>("/api/conferences/:id/members/:memberId/mute", opts, async (request) => {
    const { muted } = body(request, Muted, '{ "muted": boolean }');
    await host.mute(request.params.id, request.params.memberId, muted, bearerToken(request));
    return { memberId: request.params.memberId, hostMuted: muted };
  });

  app.post<{ Params: { id: string } }>("/api/conferences/:id/mute-all", opts, async (request) => ({
    muted: await host.muteAll(request.params.id, bearerToken(request)),
  }));

  app.delete<{ Params: MemberParams }>("/api/conferences/:id/members/:memberId", async (request) => {
    await host.remove(request.params.id, request.params.memberId, bearerToken(request));
    return { memberId: request.params.memberId, removed: true };
  });

  app.post<{ Params: { id: string } }>("/api/conferences/:id/lock", opts, async (request) => {
    const { locked } = body(request, Locked, '{ "locked": boolean }');
    await host.lock(request.params.id, locked, bearerToken(request));
    return { locked };
  });

  app.post<{ Params: { id: string } }>("/api/conferences/:id/co-hosts", opts, async (request) => {
    const { memberId } = body(request, CoHost, '{ "memberId": string }');
    await host.addCoHost(request.params.id, memberId, bearerToken(request));
    return { memberId, role: "co-host" };
  });
}
