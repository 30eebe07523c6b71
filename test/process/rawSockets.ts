import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import WebSocket from "ws";

export interface CloseInfo {
  code: number;
  reason: string;
}

/**
 * A member socket over `ws` that shows what ConferenceClient hides: the close code. `opened`
 * resolves with the first server message (hello), `closed` with the close code and reason.
 */
export function rawMember(url: string): { opened: Promise<string>; closed: Promise<CloseInfo> } {
  const socket = new WebSocket(url, { perMessageDeflate: false });
  const opened = new Promise<string>((resolve, reject) => {
    socket.once("message", (data: Buffer) => resolve(data.toString()));
    socket.once("error", reject);
  });
  const closed = new Promise<CloseInfo>((resolve) =>
    socket.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  return { opened, closed };
}

/** Resolves with the error code of a TCP connection attempt (e.g. ECONNREFUSED), or "connected". */
export function tcpAttempt(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/**
 * A WebSocket client that never answers: it upgrades by hand over plain TCP, reads what the server
 * sends, and never replies to a close frame, as a frozen or vanished peer would behave.
 */
export function silentMember(
  port: number,
  path: string,
): { firstMessage: Promise<string>; closeFrame: Promise<CloseInfo>; ended: Promise<void>; destroy(): void } {
  const socket = connect(port, "127.0.0.1");
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let buffer = Buffer.alloc(0);
  let upgraded = false;
  let onText: (text: string) => void = () => {};
  let onClose: (info: CloseInfo) => void = () => {};
  const firstMessage = new Promise<string>((resolve) => {
    onText = resolve;
  });
  const closeFrame = new Promise<CloseInfo>((resolve) => {
    onClose = resolve;
  });
  const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("error", () => {});
  socket.on("data", (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    if (!upgraded) {
      const end = buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      if (!buffer.subarray(0, end).toString().startsWith("HTTP/1.1 101")) return void socket.destroy();
      upgraded = true;
      buffer = buffer.subarray(end + 4);
    }
    for (let frame = nextFrame(buffer); frame; frame = nextFrame(buffer)) {
      buffer = buffer.subarray(frame.size);
      if (frame.opcode === 0x1) onText(frame.payload.toString());
      if (frame.opcode === 0x8)
        onClose({ code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString() });
    }
  });
  return { firstMessage, closeFrame, ended, destroy: () => socket.destroy() };
}

/** One unmasked server frame at the start of `bytes`, if it is all there. */
function nextFrame(bytes: Buffer): { opcode: number; payload: Buffer; size: number } | undefined {
  if (bytes.length < 2) return undefined;
  const opcode = (bytes[0] ?? 0) & 0x0f;
  let length = (bytes[1] ?? 0) & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (bytes.length < 4) return undefined;
    length = bytes.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return undefined;
    length = Number(bytes.readBigUInt64BE(2));
    offset = 10;
  }
  if (bytes.length < offset + length) return undefined;
  return { opcode, payload: bytes.subarray(offset, offset + length), size: offset + length };
}
