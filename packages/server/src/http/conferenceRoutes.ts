import type { MultipartFile } from "@fastify/multipart";
import { type CreateConferenceResponse, LIMITS, type RegisterResponse } from "@roundtable/protocol";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { defaultAvatar } from "../avatars/defaultAvatar.ts";
import { type AvatarPolicy, normaliseAvatar } from "../avatars/normalise.ts";
import { avatarUrl } from "../conference/Conference.ts";
import type { ConferenceService } from "../conference/ConferenceService.ts";
import { RoundtableError } from "../conference/errors.ts";
import type { Clock, NormalisedAvatar } from "../conference/ports.ts";
import { validName } from "../conference/validate.ts";
import { RateLimiter } from "../limits/TokenBucket.ts";
import { bearerToken, publicBase } from "./requestBase.ts";

export interface ConferenceRouteOptions {
  service: ConferenceService;
  clock: Clock;
  publicUrl: string | undefined;
  avatarPolicy: AvatarPolicy;
  conferencesPerMinute: number;
  registrationsPerMinute: number;
}

interface IdParams {
  id: string;
}

export function conferenceRoutes(app: FastifyInstance, options: ConferenceRouteOptions): void {
  const { service } = options;
  const perMinute = (n: number) => new RateLimiter(Math.max(1, n), n / 60, options.clock);
  const createLimiter = perMinute(options.conferencesPerMinute);
  const registerLimiter = perMinute(options.registrationsPerMinute);
  const limit = (limiter: RateLimiter, request: FastifyRequest) => {
    if (!limiter.take(request.ip))
      throw new RoundtableError("rate_limited", "too many requests; try again in a minute");
  };

  app.post("/api/conferences", { bodyLimit: 4096 }, async (request, reply) => {
    limit(createLimiter, request);
    const body = request.body as { title?: unknown } | undefined;
    const { id, title, hostToken } = await service.createConference(body?.title);
    const base = publicBase(request, options.publicUrl);
    const response: CreateConferenceResponse = {
      id,
      title,
      hostToken,
      inviteUrl: `${base}/c/${id}/join`,
      hostUrl: `${base}/c/${id}/host#${hostToken}`,
    };
    return reply.code(201).send(response);
  });

  app.get<{ Params: IdParams }>("/api/conferences/:id", async (request) =>
    service.summary(request.params.id),
  );

  app.post<{ Params: IdParams }>("/api/conferences/:id/members", async (request, reply) => {
    const { id } = request.params;
    if (!request.isMultipart())
      throw new RoundtableError("bad_request", "send multipart/form-data with fields name and avatar");
    limit(registerLimiter, request);
    // Fail on an unknown or full conference before reading a 5 MB upload.
    await service.assertCanRegister(id);
    const { name: rawName, avatarBytes } = await readRegistration(request);
    // The name is checked before the picture is decoded: a bad name should not cost image work.
    const name = validName(rawName);
    const avatar: NormalisedAvatar =
      avatarBytes && avatarBytes.length > 0
        ? await normaliseAvatar(avatarBytes, options.avatarPolicy)
        : await defaultAvatar(name);
    const { member, token } = await service.registerMember(id, name, avatar);
    const response: RegisterResponse = {
      memberId: member.id,
      token,
      avatarUrl: avatarUrl(member.avatarHash),
      roomUrl: `${publicBase(request, options.publicUrl)}/c/${id}?token=${encodeURIComponent(token)}`,
    };
    return reply.code(201).send(response);
  });

  app.post<{ Params: IdParams }>("/api/conferences/:id/build", async (request) => {
    const result = await service.build(request.params.id, bearerToken(request));
    return { state: "built", alreadyBuilt: result.alreadyBuilt };
  });

  app.post<{ Params: IdParams }>("/api/conferences/:id/end", async (request) => {
    const result = await service.end(request.params.id, bearerToken(request));
    return { state: "ended", alreadyEnded: result.alreadyEnded };
  });

  app.get<{ Params: IdParams; Querystring: { since?: string } }>(
    "/api/conferences/:id/messages",
    async (request) => {
      const member = await service.authenticateMember(request.params.id, bearerToken(request));
      const since = Number(request.query.since ?? 0);
      return {
        messages: await service.history(request.params.id, member.id, Number.isFinite(since) ? since : 0),
      };
    },
  );
}

/** Reads the `name` field and the `avatar` file; the file size limit answers 413 while streaming. */
async function readRegistration(request: FastifyRequest): Promise<{ name: unknown; avatarBytes?: Buffer }> {
  try {
    return await readParts(request);
  } catch (error) {
    throw registrationError(error);
  }
}

async function readParts(request: FastifyRequest): Promise<{ name: unknown; avatarBytes?: Buffer }> {
  let name: unknown;
  let avatarBytes: Buffer | undefined;
  for await (const part of request.parts()) {
    if (part.type === "file") {
      if (part.fieldname !== "avatar" || avatarBytes) {
        await (part as MultipartFile).toBuffer();
        throw new RoundtableError("bad_request", `unexpected file field "${part.fieldname}"`);
      }
      avatarBytes = await part.toBuffer();
    } else if (part.fieldname === "name") {
      name = part.value;
    }
  }
  return avatarBytes ? { name, avatarBytes } : { name };
}

/**
 * The multipart parser's errors as the API's: busboy's own (no boundary, a truncated body) carry no
 * status and would otherwise surface as 500, and too many parts is a bad request, not a large image.
 */
function registrationError(error: unknown): unknown {
  if (error instanceof RoundtableError) return error;
  switch ((error as { code?: string }).code) {
    case "FST_REQ_FILE_TOO_LARGE":
      return new RoundtableError(
        "image_too_large",
        `the avatar must be at most ${LIMITS.avatarFileMax / 1024 / 1024} MB`,
      );
    case "FST_PARTS_LIMIT":
    case "FST_FILES_LIMIT":
    case "FST_FIELDS_LIMIT":
      return new RoundtableError("bad_request", "send only the fields name and avatar");
    default:
      return new RoundtableError(
        "bad_request",
        `malformed multipart body: ${error instanceof Error ? error.message : "unreadable"}`,
      );
  }
}
