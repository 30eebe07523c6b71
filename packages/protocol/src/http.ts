import { z } from "zod";
import { LIMITS } from "./limits.ts";

/** Shapes of the HTTP API's JSON bodies. Requests are validated by the server; responses by clients. */

export const CreateConferenceRequest = z.object({
  title: z.string().trim().min(1).max(LIMITS.conferenceTitleMax),
});
export type CreateConferenceRequest = z.infer<typeof CreateConferenceRequest>;

export const CreateConferenceResponse = z.object({
  id: z.string(),
  title: z.string(),
  hostToken: z.string(),
  inviteUrl: z.string(),
  hostUrl: z.string(),
});
export type CreateConferenceResponse = z.infer<typeof CreateConferenceResponse>;

export const RegisterResponse = z.object({
  memberId: z.string(),
  token: z.string(),
  avatarUrl: z.string(),
  roomUrl: z.string(),
});
export type RegisterResponse = z.infer<typeof RegisterResponse>;

export const ConferenceState = z.enum(["registering", "built", "ended"]);
export type ConferenceState = z.infer<typeof ConferenceState>;

export const ConferenceSummary = z.object({
  id: z.string(),
  title: z.string(),
  state: ConferenceState,
  members: z.array(z.object({ id: z.string(), name: z.string(), avatarUrl: z.string() })),
});
export type ConferenceSummary = z.infer<typeof ConferenceSummary>;

export const ErrorResponse = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
