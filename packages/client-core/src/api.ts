import {
  ConferenceSummary,
  CreateConferenceResponse,
  ErrorResponse,
  RegisterResponse,
  TextMessage,
} from "@roundtable/protocol";
import { z } from "zod";
import { ApiError } from "./errors.ts";

/** Reports upload progress as a fraction from 0 to 1. */
export type ProgressListener = (fraction: number) => void;

/**
 * Sends a multipart body. Browsers pass one built on XMLHttpRequest, whose upload events give real
 * progress; the default uses fetch and reports only start and end.
 */
export type Uploader = (
  url: string,
  body: FormData,
  onProgress: ProgressListener,
) => Promise<{ status: number; body: unknown }>;

export interface RegisterInput {
  name: string;
  /** The picture as picked; omitted or empty for a generated avatar. */
  avatar?: Blob | undefined;
  avatarFileName?: string;
}

/** The HTTP half of the contract, typed and validated on the way in. */
export class RoundtableApi {
  private readonly fetch: typeof fetch;
  private readonly upload: Uploader;

  constructor(
    readonly baseUrl: string,
    options: { fetch?: typeof fetch; uploader?: Uploader } = {},
  ) {
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.upload = options.uploader ?? this.fetchUploader;
  }

  async createConference(title: string): Promise<CreateConferenceResponse> {
    return this.json(CreateConferenceResponse, "POST", "/api/conferences", { title });
  }

  async getConference(id: string): Promise<ConferenceSummary> {
    return this.json(ConferenceSummary, "GET", `/api/conferences/${encodeURIComponent(id)}`);
  }

  async register(
    conferenceId: string,
    input: RegisterInput,
    onProgress: ProgressListener = () => {},
  ): Promise<RegisterResponse> {
    const form = new FormData();
    form.set("name", input.name);
    if (input.avatar && input.avatar.size > 0)
      form.set("avatar", input.avatar, input.avatarFileName ?? "avatar");
    const url = this.url(`/api/conferences/${encodeURIComponent(conferenceId)}/members`);
    const { status, body } = await this.upload(url, form, onProgress);
    return parseResponse(RegisterResponse, status, body);
  }

  async build(conferenceId: string, hostToken: string): Promise<{ state: string; alreadyBuilt: boolean }> {
    return this.json(
      z.object({ state: z.string(), alreadyBuilt: z.boolean() }),
      "POST",
      `/api/conferences/${encodeURIComponent(conferenceId)}/build`,
      undefined,
      hostToken,
    );
  }

  /** Ends the conference for everyone (host token only); ending it twice is harmless. */
  async end(conferenceId: string, hostToken: string): Promise<{ state: string; alreadyEnded: boolean }> {
    return this.json(
      z.object({ state: z.string(), alreadyEnded: z.boolean() }),
      "POST",
      `/api/conferences/${encodeURIComponent(conferenceId)}/end`,
      undefined,
      hostToken,
    );
  }

  // ---------------------------------------------------------- the host's controls

  /** Host-mutes a member, or lifts it (the host's token, or a co-host's member token). */
  async muteMember(conferenceId: string, memberId: string, muted: boolean, token: string): Promise<void> {
    await this.json(z.unknown(), "POST", `${this.memberPath(conferenceId, memberId)}/mute`, { muted }, token);
  }

  /** Host-mutes every member but the co-hosts; resolves with how many it muted. */
  async muteAll(conferenceId: string, hostToken: string): Promise<number> {
    const path = `/api/conferences/${encodeURIComponent(conferenceId)}/mute-all`;
    return (await this.json(z.object({ muted: z.number() }), "POST", path, undefined, hostToken)).muted;
  }

  /** Removes a member for good: their link stops working on every node. */
  async removeMember(conferenceId: string, memberId: string, hostToken: string): Promise<void> {
    await this.json(z.unknown(), "DELETE", this.memberPath(conferenceId, memberId), undefined, hostToken);
  }

  async lockRegistration(conferenceId: string, locked: boolean, hostToken: string): Promise<void> {
    const path = `/api/conferences/${encodeURIComponent(conferenceId)}/lock`;
    await this.json(z.unknown(), "POST", path, { locked }, hostToken);
  }

  async addCoHost(conferenceId: string, memberId: string, hostToken: string): Promise<void> {
    const path = `/api/conferences/${encodeURIComponent(conferenceId)}/co-hosts`;
    await this.json(z.unknown(), "POST", path, { memberId }, hostToken);
  }

  private memberPath(conferenceId: string, memberId: string): string {
    return `/api/conferences/${encodeURIComponent(conferenceId)}/members/${encodeURIComponent(memberId)}`;
  }

  async history(conferenceId: string, token: string, since = 0): Promise<TextMessage[]> {
    const { messages } = await this.json(
      z.object({ messages: z.array(TextMessage) }),
      "GET",
      `/api/conferences/${encodeURIComponent(conferenceId)}/messages?since=${since}`,
      undefined,
      token,
    );
    return messages;
  }

  /** The WebSocket URL of a member's connection; `since` (the last seq seen, 0 included) resumes instead of starting afresh. */
  socketUrl(conferenceId: string, token: string, since?: number): string {
    const url = new URL(this.url(`/api/conferences/${encodeURIComponent(conferenceId)}/ws`));
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("token", token);
    if (since !== undefined) url.searchParams.set("since", String(since));
    return url.toString();
  }

  url(path: string): string {
    return new URL(path, this.baseUrl).toString();
  }

  private async json<T>(
    schema: z.ZodType<T>,
    method: string,
    path: string,
    body?: unknown,
    bearer?: string,
  ): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    const response = await this.fetch(this.url(path), {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
    });
    return parseResponse(schema, response.status, await readJson(response));
  }

  private readonly fetchUploader: Uploader = async (url, body, onProgress) => {
    onProgress(0);
    const response = await this.fetch(url, { method: "POST", body });
    onProgress(1);
    return { status: response.status, body: await readJson(response) };
  };
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

function parseResponse<T>(schema: z.ZodType<T>, status: number, body: unknown): T {
  if (status >= 400 || status === 0) {
    const error = ErrorResponse.safeParse(body);
    if (error.success) throw new ApiError(error.data.error.code, error.data.error.message, status);
    throw new ApiError("internal", `the server answered ${status}`, status);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new ApiError("internal", "the server's answer was not understood", status);
  return parsed.data;
}
