import { CLOSE_CODES, type ClientMessage, parseClientMessage } from "@roundtable/protocol";
import type { FastifyBaseLogger } from "fastify";
import type { WebSocket } from "ws";
import type { ConferenceService } from "../conference/ConferenceService.ts";
import { encode } from "../conference/encode.ts";
import { RoundtableError } from "../conference/errors.ts";
import type { MemberConnection } from "../conference/ports.ts";
import type { TokenBucket } from "../limits/TokenBucket.ts";
import type { VoiceService } from "../voice/VoiceService.ts";
import type { SocketGuard } from "./SocketGuard.ts";

/** A socket holding more unsent bytes than this is too slow to keep up; it is closed, not buffered without end. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Milliseconds between pings; a socket that has not answered the previous ping is dead. */
const HEARTBEAT_MS = 15_000;

const PONG = encode({ type: "pong" });

/** The close code for a refused connection; clients stop retrying on all of these. */
export function closeCodeFor(error: RoundtableError): number {
  if (error.code === "not_found") return CLOSE_CODES.notFound;
  if (error.code === "conference_ended") return CLOSE_CODES.ended;
  if (error.code === "forbidden") return CLOSE_CODES.removed;
  return CLOSE_CODES.unauthorized;
}

/** The clientId of a text frame, without validating the rest (used only to answer a dropped text). */
function clientIdOf(data: Buffer): string | undefined {
  try {
    const value = JSON.parse(data.toString("utf8")) as { clientId?: unknown };
    return typeof value?.clientId === "string" && value.clientId.length <= 64 ? value.clientId : undefined;
  } catch {
    return undefined;
  }
}

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
  private readonly floodMeter: TokenBucket;
  /** The member's key in the frame budget, shared by all their sockets. */
  private readonly frameKey: string;
  /** Set while frames are being dropped, so a flood gets one `rate_limited` reply, not one per frame. */
  private throttled = false;

  constructor(
    private readonly socket: WebSocket,
    private readonly service: ConferenceService,
    private readonly voice: VoiceService,
    private readonly guard: SocketGuard,
    private readonly conferenceId: string,
    private readonly memberId: string,
    readonly address: string,
    private readonly log: FastifyBaseLogger,
    private readonly onDispose: () => void,
  ) {
    this.floodMeter = guard.floodMeter();
    this.frameKey = `${conferenceId}/${memberId}`;
    socket.on("message", (data, isBinary) => {
      // Checked on arrival, before queueing: a flood must not pile up parsed work behind slow handling.
      if (!this.admit(data as Buffer)) return;
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
    // The socket may have closed while its token was being checked: then no close event will come.
    if (socket.readyState !== socket.OPEN) this.dispose();
  }

  async start(sinceSeq: number | undefined): Promise<void> {
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
    this.onDispose();
    this.voice.connectionClosed(this.conferenceId, this.memberId, this);
    this.detach?.();
    this.detach = undefined;
  }

  private admit(data: Buffer): boolean {
    if (this.closed) return false;
    const verdict = this.guard.admitFrame(this.frameKey, this.address, this.floodMeter);
    if (verdict === "ok") {
      this.throttled = false;
      return true;
    }
    if (verdict === "close") {
      this.close(CLOSE_CODES.rateLimited, "too many messages");
      return false;
    }
    // A dropped text is answered with its clientId, so the sender's pending send fails visibly.
    const clientId = clientIdOf(data);
    if (clientId || !this.throttled)
      this.replyError("rate_limited", "too many messages; slow down", clientId);
    this.throttled = true;
    return false;
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
        if (!this.guard.admitText(this.address))
          throw new RoundtableError("rate_limited", "too many messages from your network; wait a moment");
        await this.service.sendText(this.conferenceId, this.memberId, message);
        return;
      case "ping":
        this.send(PONG);
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
      this.close(closeCodeFor(error), error.message);
    } else {
      this.log.error({ err: error }, "failed to attach a member socket");
      this.close(1011, "internal error");
    }
  }
}
