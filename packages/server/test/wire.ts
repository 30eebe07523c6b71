import assert from "node:assert/strict";
import type { RoundtableApi } from "@roundtable/client-core";
import { parseServerMessage, type ServerMessage } from "@roundtable/protocol";
import { RTCPeerConnection } from "werift";
import WebSocket from "ws";

/** Turns a hang into a failure that says what was awaited. */
export function within<T>(promise: Promise<T>, what: string, ms = 8000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export type ErrorReply = Extract<ServerMessage, { type: "error" }>;

let barriers = 0;

/**
 * A member's raw socket for hostile tests: sends any frame and records every frame received, each
 * checked against the protocol's `ServerMessage` schema (a frame outside it fails the test).
 */
export class Wire {
  readonly messages: ServerMessage[] = [];
  /** The frames as received, beside their parsed form (parsing drops keys the schema does not know). */
  readonly frames: string[] = [];
  /** Frames that did not match the protocol; a test asserts this stays empty. */
  readonly strays: string[] = [];
  closeCode: number | undefined;
  readonly closed: Promise<number>;
  private readonly listeners = new Set<() => void>();

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      const text = data.toString();
      const parsed = parseServerMessage(text);
      if (!parsed.ok) {
        this.strays.push(text);
        return;
      }
      this.messages.push(parsed.value);
      this.frames.push(text);
      for (const listener of this.listeners) listener();
    });
    this.closed = new Promise((resolve) =>
      socket.on("close", (code) => {
        this.closeCode = code;
        resolve(code);
        for (const listener of this.listeners) listener();
      }),
    );
    socket.on("error", () => {});
  }

  /** Connects and resolves once the history has arrived. */
  static async open(api: RoundtableApi, conferenceId: string, token: string): Promise<Wire> {
    const wire = new Wire(new WebSocket(api.socketUrl(conferenceId, token)));
    await within(
      wire.next((m) => m.type === "history"),
      "the history after connecting",
    );
    return wire;
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** The first message from index `from` on for which `match` holds. */
  next<T extends ServerMessage>(match: (m: ServerMessage) => m is T, from?: number): Promise<T>;
  next(match: (m: ServerMessage) => boolean, from?: number): Promise<ServerMessage>;
  next(match: (m: ServerMessage) => boolean, from = 0): Promise<ServerMessage> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.messages.slice(from).find(match);
        if (found) resolve(found);
        else if (this.closeCode !== undefined) reject(new Error(`the socket closed with ${this.closeCode}`));
        else return;
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  send(frame: unknown, binary = false): void {
    const data = typeof frame === "string" || frame instanceof Uint8Array ? frame : JSON.stringify(frame);
    this.socket.send(data, { binary });
  }

  /**
   * Sends a frame, then a frame the server must refuse with a unique clientId: the server handles
   * a socket's frames in order, so whatever it answered to the first arrives before that refusal.
   */
  async exchange(frame: unknown, binary = false): Promise<ServerMessage[]> {
    const from = this.messages.length;
    const clientId = `barrier-${++barriers}`;
    this.send(frame, binary);
    this.send({ type: "text", clientId });
    const barrier = await within(
      this.next((m) => m.type === "error" && m.clientId === clientId, from),
      "the reply to a barrier frame",
    );
    return this.messages.slice(from, this.messages.indexOf(barrier, from));
  }

  /** Sends a frame that must be answered by exactly one error, and returns it. */
  async refused(frame: unknown, binary = false): Promise<ErrorReply> {
    const replies = await this.exchange(frame, binary);
    const shown = (typeof frame === "string" ? frame : JSON.stringify(frame)).slice(0, 120);
    assert.equal(replies.length, 1, `one reply to ${shown}, got ${JSON.stringify(replies).slice(0, 300)}`);
    const [reply] = replies;
    assert.equal(reply?.type, "error", `an error reply to ${shown}`);
    return reply as ErrorReply;
  }
}

/** The member's side of a voice connection, on werift, answering the server's offer. */
export async function voiceClient(wire: Wire) {
  const from = wire.messages.length;
  wire.send({ type: "voice-join" });
  const offer = await within(
    wire.next((m): m is Extract<ServerMessage, { type: "voice-offer" }> => m.type === "voice-offer", from),
    "a voice offer",
  );
  const pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: "max-bundle", iceUseIpv6: false });
  const connected = new Promise<void>((resolve) =>
    pc.connectionStateChange.subscribe((state) => state === "connected" && resolve()),
  );
  await pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
  const answer = await pc.createAnswer();
  // werift otherwise asks a public STUN server while gathering and waits for it.
  for (const transport of pc.iceTransports) transport.connection.stunServer = undefined;
  await pc.setLocalDescription(answer);
  const sdp = pc.localDescription?.sdp ?? "";
  return { pc, offer, sdp, connected: () => within(connected, "the voice connection") };
}
