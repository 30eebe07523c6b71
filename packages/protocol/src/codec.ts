import { ClientMessage, ServerMessage } from "./messages.ts";

/** On failure, `clientId` is the sender's id for the message when one could be read, so its error can be matched. */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string; clientId?: string };

function parseWith<T>(
  schema: {
    safeParse(
      v: unknown,
    ):
      | { success: true; data: T }
      | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } };
  },
  raw: string,
): ParseResult<T> {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, error: "not valid JSON" };
  }
  const result = schema.safeParse(json);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
  const error = `${where}${issue?.message ?? "invalid message"}`;
  const clientId = (json as { clientId?: unknown } | null)?.clientId;
  return typeof clientId === "string" && clientId.length <= 64
    ? { ok: false, error, clientId }
    : { ok: false, error };
}

/** Validates a raw WebSocket frame from a client. */
export function parseClientMessage(raw: string): ParseResult<ClientMessage> {
  return parseWith(ClientMessage, raw);
}

/** Validates a raw WebSocket frame from the server. */
export function parseServerMessage(raw: string): ParseResult<ServerMessage> {
  return parseWith(ServerMessage, raw);
}
