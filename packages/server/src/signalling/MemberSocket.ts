import { CLOSE_CODES, type ClientMessage, parseClientMessage } from "@roundtable/protocol";
import type { FastifyBaseLogger } from "fastify";
import type { WebSocket } from "ws";
import type { ConferenceService } from "../conference/ConferenceService.ts";
import { encode } from "../conference/encode.ts";
import { RoundtableError } from "../conference/errors.ts";
import type { MemberConnection } from "../conference/ports.ts";
import type { VoiceService } from "../voice/VoiceService.ts";

/** A socket holding more unsent bytes than this is too slow to keep up; it is closed, not buffered without end. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Milliseconds between pings; a socket that has not answered the previous ping is dead. */
const HEARTBEAT_MS = 30_000;

/**
 * One authenticated member's WebSocket: parses and validates every frame, dispatches it to the
 * domain, and is the domain's MemberConnection for what goes out.
 */
export class MemberSocket implements MemberConnection {
  private detach: (() => void) | undefined;
  private closed = false;
  private alive = true;
  private readonly heartbeat: NodeJS.Timeout;
  /** Frames are handled one at a time, in arrival order, even though handling is async. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly socket: WebSocket,
    private readonly service: ConferenceService,
    private readonly voice: VoiceService,
    private readonly conferenceId: string,
    private readonly memberId: string,
    private readonly log: FastifyBaseLogger,
  ) {
    socket.on("message", (data, isBinary) => {
      this.queue = this.queue.then(() => this.onFrame(data as Buffer, isBinary));
    });
    socket.on("pong", () => {
      this.alive = true;
    });
    socket.on("close", () => this.dispose());
    socket.on("error", (error) => {
      this.log.debug({ err: error }, "websocket error");
      this.dispose();
    });
    this.heartbeat = setInterval(() => {
      if (!this.alive) return socket.terminate();
      this.alive = false;
      socket.ping();
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  async start(sinceSeq: number): Promise<void> {
    const ready = this.service.connect(this.conferenceId, this.memberId, this, sinceSeq);
    this.queue = ready.then(
      (detach) => {
        if (this.closed) detach();
        else {
          this.detach = detach;
          return this.voice.describeTo(this.conferenceId, this);
        }
      },
      (error) => this.fail(error),
    );
    await this.queue;
  }

  send(frame: Uint8Array): void {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return;
    if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.close(CLOSE_CODES.goingAway, "client too slow");
      return;
    }
    this.socket.send(frame, { binary: false });
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING)
      this.socket.close(code, reason);
    this.dispose();
  }

  private dispose(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.voice.connectionClosed(this.conferenceId, this.memberId, this);
    this.detach?.();
    this.detach = undefined;
  }

  private async onFrame(data: Buffer, isBinary: boolean): Promise<void> {
    if (this.closed) return;
    if (isBinary) return this.replyError("invalid_message", "binary frames are not accepted");
    const parsed = parseClientMessage(data.toString("utf8"));
    if (!parsed.ok) return this.replyError("invalid_message", parsed.error, parsed.clientId);
    try {
      await this.dispatch(parsed.value);
    } catch (error) {
      const clientId = "clientId" in parsed.value ? parsed.value.clientId : undefined;
      if (error instanceof RoundtableError) return this.replyError(error.code, error.message, clientId);
      this.log.error({ err: error }, "failed to handle a client message");
      this.replyError("internal", "the server could not handle that message", clientId);
    }
  }

  private async dispatch(message: ClientMessage): Promise<void> {
    switch (message.type) {
      case "text":
        await this.service.sendText(this.conferenceId, this.memberId, message);
        return;
      case "voice-join":
        await this.voice.join(this.conferenceId, this.memberId, this);
        return;
      case "voice-answer":
        await this.voice.answer(this.conferenceId, this.memberId, message.sdp);
        return;
      case "voice-candidate":
        await this.voice.candidate(this.conferenceId, this.memberId, message);
        return;
      case "voice-target":
        await this.voice.setTarget(this.conferenceId, this.memberId, message.to);
        return;
      case "voice-mute":
        this.voice.setMuted(this.conferenceId, this.memberId, message.muted);
        return;
      case "voice-leave":
        this.voice.leave(this.conferenceId, this.memberId);
        return;
      default: {
        const unreachable: never = message;
        throw new RoundtableError("invalid_message", `unknown message ${JSON.stringify(unreachable)}`);
      }
    }
  }

  private replyError(code: string, message: string, clientId?: string): void {
    this.send(
      encode(clientId ? { type: "error", code, message, clientId } : { type: "error", code, message }),
    );
  }

  private fail(error: unknown): void {
    if (error instanceof RoundtableError) {
      const code = error.code === "not_found" ? CLOSE_CODES.notFound : CLOSE_CODES.unauthorized;
      this.close(code, error.message);
    } else {
      this.log.error({ err: error }, "failed to attach a member socket");
      this.close(1011, "internal error");
    }
  }
}
