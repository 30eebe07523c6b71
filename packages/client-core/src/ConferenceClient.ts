import {
  type Audience,
  CLOSE_CODES,
  type ClientMessage,
  LIMITS,
  parseServerMessage,
  SendTextMessage,
  type ServerMessage,
  type TextMessage,
} from "@roundtable/protocol";
import type { RoundtableApi } from "./api.ts";
import { Emitter } from "./Emitter.ts";
import { ApiError } from "./errors.ts";
import { realScheduler, type Scheduler, type WebSocketFactory, type WebSocketLike } from "./ports.ts";
import { RoomModel } from "./RoomModel.ts";

export type ConnectionStatus =
  /** First connection under way. */
  | "connecting"
  | "open"
  /** Lost; trying again with backoff. */
  | "reconnecting"
  /** The server refused this member (bad token, unknown conference): no retry. */
  | "refused"
  /** Closed by `close()`. */
  | "closed";

export interface ClientEvents extends Record<string, unknown> {
  status: ConnectionStatus;
  /** Every validated server message, after the room model has applied it. */
  message: ServerMessage;
  /** An error the server reported that no pending send was waiting for. */
  error: ApiError;
}

export interface ConferenceClientOptions {
  api: RoundtableApi;
  conferenceId: string;
  token: string;
  createSocket: WebSocketFactory;
  scheduler?: Scheduler;
  /** Backoff bounds for reconnecting, in milliseconds. */
  backoff?: { initialMs: number; maxMs: number };
}

interface PendingText {
  message: ClientMessage & { type: "text"; clientId: string };
  resolve: (text: TextMessage) => void;
  reject: (error: Error) => void;
  sent: boolean;
}

let clientIdCounter = 0;
const newClientId = () =>
  `${Date.now().toString(36)}-${(clientIdCounter++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/**
 * A member's live connection to a conference: keeps the RoomModel in step with the server,
 * sends texts (queued while disconnected), and reconnects with backoff after a drop.
 */
export class ConferenceClient extends Emitter<ClientEvents> {
  readonly room: RoomModel;
  status: ConnectionStatus = "connecting";
  private socket: WebSocketLike | undefined;
  private readonly scheduler: Scheduler;
  private readonly backoff: { initialMs: number; maxMs: number };
  private attempt = 0;
  private cancelRetry: (() => void) | undefined;
  private readonly pending = new Map<string, PendingText>();

  constructor(private readonly options: ConferenceClientOptions) {
    super();
    this.scheduler = options.scheduler ?? realScheduler;
    this.backoff = options.backoff ?? { initialMs: 500, maxMs: 10_000 };
    this.room = new RoomModel(this.scheduler);
  }

  get memberId(): string | undefined {
    return this.room.selfId;
  }

  /** Opens the connection. Calling it again while open does nothing. */
  connect(): void {
    if (this.socket || this.status === "closed" || this.status === "refused") return;
    const url = this.options.api.socketUrl(this.options.conferenceId, this.options.token, this.room.lastSeq);
    const socket = this.options.createSocket(url);
    this.socket = socket;
    socket.onmessage = (event) => this.onData(event.data);
    socket.onclose = (event) => this.onClose(socket, event.code, event.reason);
    socket.onerror = () => {};
  }

  /**
   * Sends a text to everyone or to chosen members. Resolves with the stored message once the server
   * has it; while disconnected the text waits and goes out on reconnect.
   */
  sendText(to: Audience, text: string): Promise<TextMessage> {
    // Checked here too, so an obviously bad text fails at once instead of after a round trip.
    const problem = SendTextMessage.safeParse({ type: "text", to, text });
    if (!problem.success || text.trim().length === 0)
      return Promise.reject(new ApiError("invalid_message", textProblem(to, text)));
    const clientId = newClientId();
    return new Promise<TextMessage>((resolve, reject) => {
      const entry: PendingText = {
        message: { type: "text", to, text, clientId },
        resolve,
        reject,
        sent: false,
      };
      this.pending.set(clientId, entry);
      if (this.status === "open") this.transmit(entry);
    });
  }

  /**
   * Sends a message that needs no acknowledgement (voice signalling). Returns false when not
   * connected: such messages are re-sent by their owner after a reconnect, not queued.
   */
  send(message: ClientMessage): boolean {
    if (this.status !== "open" || !this.socket) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /** Closes for good: no reconnect, pending sends fail. Safe to call twice. */
  close(): void {
    if (this.status === "closed") return;
    this.setStatus("closed");
    this.cancelRetry?.();
    this.socket?.close(CLOSE_CODES.normal, "bye");
    this.socket = undefined;
    this.failPending(new ApiError("closed", "the connection was closed"));
    this.room.dispose();
  }

  private onData(data: unknown): void {
    if (typeof data !== "string") return;
    const parsed = parseServerMessage(data);
    if (!parsed.ok) {
      this.emit("error", new ApiError("invalid_message", `unreadable server message: ${parsed.error}`));
      return;
    }
    const message = parsed.value;
    this.room.apply(message);
    switch (message.type) {
      case "hello":
        this.attempt = 0;
        break;
      case "history":
        // The server sends history right after hello: anything of ours in it has already arrived,
        // so only what is still missing is sent again.
        for (const m of message.messages) if (m.clientId) this.settle(m.clientId, m);
        this.setStatus("open");
        for (const entry of this.pending.values()) if (!entry.sent) this.transmit(entry);
        break;
      case "text":
        if (message.clientId) this.settle(message.clientId, message);
        break;
      case "error": {
        const error = new ApiError(message.code, message.message);
        const entry = message.clientId ? this.pending.get(message.clientId) : undefined;
        if (entry && message.clientId) {
          this.pending.delete(message.clientId);
          entry.reject(error);
        } else {
          this.emit("error", error);
        }
        break;
      }
    }
    this.emit("message", message);
  }

  private transmit(entry: PendingText): void {
    entry.sent = true;
    this.socket?.send(JSON.stringify(entry.message));
  }

  private settle(clientId: string, message: TextMessage): void {
    const entry = this.pending.get(clientId);
    if (!entry) return;
    this.pending.delete(clientId);
    entry.resolve(message);
  }

  private onClose(socket: WebSocketLike, code: number, reason: string): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    if (this.status === "closed") return;
    if (code === CLOSE_CODES.unauthorized || code === CLOSE_CODES.notFound) {
      this.setStatus("refused");
      this.failPending(new ApiError(code === CLOSE_CODES.notFound ? "not_found" : "unauthorized", reason));
      return;
    }
    // Whatever was in flight may or may not have arrived; the history on reconnect tells which.
    for (const entry of this.pending.values()) entry.sent = false;
    this.setStatus("reconnecting");
    const delay = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.attempt);
    this.attempt++;
    // Jitter spreads out a whole room reconnecting after a server restart.
    this.cancelRetry = this.scheduler.schedule(
      () => {
        this.cancelRetry = undefined;
        this.connect();
      },
      delay * (0.75 + Math.random() * 0.5),
    );
  }

  private failPending(error: Error): void {
    for (const entry of this.pending.values()) entry.reject(error);
    this.pending.clear();
  }

  private setStatus(status: ConnectionStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.emit("status", status);
  }
}

function textProblem(to: Audience, text: string): string {
  if (text.trim().length === 0) return "write something first";
  if (text.length > LIMITS.textMax) return `a text can have at most ${LIMITS.textMax} characters`;
  if (to !== "all" && (to.length === 0 || to.length > LIMITS.recipientsMax))
    return `choose between 1 and ${LIMITS.recipientsMax} recipients`;
  return "this text cannot be sent";
}
