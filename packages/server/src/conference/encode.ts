import type { ServerMessage } from "@roundtable/protocol";

const encoder = new TextEncoder();

/** Serialises a server message once, so a broadcast costs one encode however many receive it. */
export function encode(message: ServerMessage): Uint8Array {
  return encoder.encode(JSON.stringify(message));
}
