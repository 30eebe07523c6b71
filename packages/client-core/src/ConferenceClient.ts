import {
  type Audience,
  CLOSE_CODES,
  type ClientMessage,
  LIMITS,
  PROTOCOL_VERSION,
  parseServerMessage,
  SendTextMessage,
  type ServerMessage,
  type TextMessage,
} from "@roundtable/protocol";
import type { RoundtableApi } from "./api.ts";
import { Emitter } from "./Emitter.ts";
import { ApiError } from "./errors.ts";
import {
  type Clock,
  realClock,
  realScheduler,
  type Scheduler,
  type WebSocketFactory,
  type WebSocketLike,
} from "./ports.ts";
import { RoomModel } from "./RoomModel.ts";

export type ConnectionStatus =
  /** First connection under way. */
  | "connecting"
  | "open"
  /** Lost; trying again with backoff. */
  | "reconnecting"
  /** The server refused this member (bad token, unknown conference): no retry. */
  | "refused"
  /** The host ended the conference: no retry. */
  | "ended"
  /** The host removed this member: their link no longer works. No retry. */
  | "removed"
  /**
   * The server speaks another protocol version (it was upgraded while this page was open): no
   * retry; the page must reload to get the client that matches.
   */
  | "outdated"
  /** Closed by `close()`. */
  | "closed";

export interface ClientEvents extends Record<string, unknown> {
  status: ConnectionStatus;
  /** Every validated server message, after the room model has applied it. */
  message: ServerMessage;
  /** An error the server reported that no pending send was waiting for. */
  error: ApiError;
  /** The texts sent and not yet confirmed by the server changed (see `outbox`). */
  outbox: readonly OutboxText[];
  /** When the next reconnect attempt is due (clock time), or undefined while one is under way. */
  retry: number | undefined;
}

/** A text this member sent that the server has not confirmed yet (perhaps waiting for the connection). */
export interface OutboxText {
  clientId: string;
  to: Audience;
  text: string;
}

export interface ConferenceClientOptions {
  api: RoundtableApi;
  conferenceId: string;
  token: string;
  createSocket: WebSocketFactory;
  scheduler?: Scheduler;
  clock?: Clock;
  /** Backoff bounds for reconnecting, in milliseconds. */
  backoff?: { initialMs: number; maxMs: number };
  /**
   * Milliseconds between liveness probes. A connection that brought nothing at all (not even the
   * answer to the previous probe) for a whole interval is dead: a vanished network closes no socket,
   * so without this the client would wait for TCP to give up, minutes later. 0 turns probing off.
   */
  pingMs?: number;
}

interface PendingText {
  message: ClientMessage & { type: "text"; clientId: string };
  resolve: (text: TextMessage) => void;
  reject: (error: Error) => void;
  sent: boolean;
}

/** Close codes after which retrying cannot help: the status they leave and the error pending sends get. */
const FINAL_CLOSES: Record<number, { status: ConnectionStatus; error: string } | undefined> = {
  [CLOSE_CODES.unauthorized]: { status: "refused", error: "unauthorized" },
  [CLOSE_CODES.notFound]: { status: "refused", error: "not_found" },
  [CLOSE_CODES.ended]: { status: "ended", error: "conference_ended" },
  [CLOSE_CODES.removed]: { status: "removed", error: "removed" },
};

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
  private readonly pingMs: number;
  private cancelProbe: (() => void) | undefined;
  private heard = false;
  private hadHistory = false;
  private readonly clock: Clock;
  /** When the next reconnect attempt is due, while one is waiting (for a countdown). */
  nextRetryAt: number | undefined;
  /** The close code that ended the last connection (1012: the server is restarting), for telling people why. */
  lastCloseCode: number | undefined;

  constructor(private readonly options: ConferenceClientOptions) {
    super();
    this.scheduler = options.scheduler ?? realScheduler;
    this.backoff = options.backoff ?? { initialMs: 500, maxMs: 10_000 };
    this.pingMs = options.pingMs ?? 10_000;
    this.clock = options.clock ?? realClock;
    this.room = new RoomModel(this.scheduler);
  }

  get memberId(): string | undefined {
    return this.room.selfId;
  }

  /** Opens the connection. Calling it again while open does nothing. */
  connect(): void {
    if (this.socket || this.isFinal) return;
    this.setNextRetry(undefined);
    // Once the history has arrived, every later connection resumes after the last text seen (even
    // seq 0), so nothing written meanwhile is skipped however much it is.
    const since = this.hadHistory ? this.room.lastSeq : undefined;
    const url = this.options.api.socketUrl(this.options.conferenceId, this.options.token, since);
    const socket = this.options.createSocket(url);
    this.socket = socket;
    socket.onmessage = (event) => this.onData(event.data);
    socket.onclose = (event) => this.onClose(socket, event.code, event.reason);
    socket.onerror = () => {};
    this.heard = false;
    this.armProbe();
  }

  /** Closed for good: by `close()`, by the server refusing this member, or because the conference ended. */
  get isFinal(): boolean {
    return (
      this.status === "closed" ||
      this.status === "refused" ||
      this.status === "ended" ||
      this.status === "removed" ||
      this.status === "outdated"
    );
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
    return new Promise<TextMessage>((resolve, reject) => {
      this.enqueue({ clientId: newClientId(), to, text }, resolve, reject);
      this.outboxChanged();
    });
  }

  /**
   * Takes back texts a previous page or process had in its outbox (saved from `outbox`), under
   * their original clientIds: the server stores a clientId once, so one that did arrive before is
   * only acknowledged again, never duplicated. Failures are reported as `error` events.
   */
  restoreOutbox(entries: readonly OutboxText[]): void {
    for (const text of entries) {
      if (this.pending.has(text.clientId) || this.isFinal) continue;
      this.enqueue(
        text,
        () => {},
        (error) =>
          this.emit("error", error instanceof ApiError ? error : new ApiError("internal", String(error))),
      );
    }
    this.outboxChanged();
  }

  /** Puts a text in the outbox and sends it now if the connection is open, else on the next one. */
  private enqueue(
    { clientId, to, text }: OutboxText,
    resolve: PendingText["resolve"],
    reject: PendingText["reject"],
  ): void {
    const entry: PendingText = {
      message: { type: "text", to, text, clientId },
      resolve,
      reject,
      sent: false,
    };
    this.pending.set(clientId, entry);
    if (this.status === "open") this.transmit(entry);
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

  /**
   * Skips the rest of the backoff wait and tries at once, e.g. when the browser reports it is back
   * online. Does nothing unless a retry is waiting.
   */
  retryNow(): void {
    if (this.status !== "reconnecting") return;
    if (this.cancelRetry) {
      this.cancelRetry();
      this.cancelRetry = undefined;
    } else if (this.socket && !this.heard) {
      // An attempt hanging on a network path that is gone (Wi-Fi to mobile data): start afresh.
      const hanging = this.socket;
      this.abandon(hanging);
      this.socket = undefined;
    } else {
      return;
    }
    this.connect();
  }

  /** Closes for good: no reconnect, pending sends fail. Safe to call twice. */
  close(): void {
    if (this.status === "closed") return;
    this.setStatus("closed");
    this.cancelRetry?.();
    this.setNextRetry(undefined);
    this.cancelProbe?.();
    this.socket?.close(CLOSE_CODES.normal, "bye");
    this.socket = undefined;
    this.failPending(new ApiError("closed", "the connection was closed"));
    this.room.dispose();
  }

  private onData(data: unknown): void {
    if (typeof data !== "string") return;
    this.heard = true;
    const parsed = parseServerMessage(data);
    if (!parsed.ok) {
      this.emit("error", new ApiError("invalid_message", `unreadable server message: ${parsed.error}`));
      return;
    }
    const message = parsed.value;
    this.room.apply(message);
    switch (message.type) {
      case "hello":
        if (message.protocolVersion !== PROTOCOL_VERSION) {
          this.becomeOutdated(message.protocolVersion);
          return;
        }
        this.attempt = 0;
        break;
      case "history":
        // The server sends history right after hello, in pages when resuming: anything of ours in it
        // has already arrived, so only what is still missing is sent again (and the server would
        // only acknowledge a repeat, never store it twice).
        for (const m of message.messages) if (m.clientId) this.settle(m.clientId, m);
        if (message.more) break;
        this.hadHistory = true;
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
          this.outboxChanged();
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
    this.outboxChanged();
    entry.resolve(message);
  }

  /** Every `pingMs`: if the socket brought nothing since the last probe it is dead, else probe again. */
  private armProbe(): void {
    this.cancelProbe?.();
    this.cancelProbe = undefined;
    if (this.pingMs <= 0) return;
    this.cancelProbe = this.scheduler.schedule(() => {
      this.cancelProbe = undefined;
      const socket = this.socket;
      if (!socket) return;
      if (!this.heard) {
        this.abandon(socket);
        this.onClose(socket, CLOSE_CODES.goingAway, "no answer from the server");
        return;
      }
      this.heard = false;
      if (this.status === "open") socket.send(JSON.stringify({ type: "ping" } satisfies ClientMessage));
      this.armProbe();
    }, this.pingMs);
  }

  /** Detaches first: closing a socket whose network is gone can take minutes to report. */
  private abandon(socket: WebSocketLike): void {
    socket.onmessage = null;
    socket.onclose = null;
    socket.close(CLOSE_CODES.normal, "no answer");
  }

  /** A rolling upgrade reached this member's node: nothing is sent to a server that reads it otherwise. */
  private becomeOutdated(serverVersion: number): void {
    const socket = this.socket;
    this.socket = undefined;
    this.cancelProbe?.();
    this.cancelProbe = undefined;
    if (socket) {
      socket.onclose = null;
      socket.close(CLOSE_CODES.normal, "protocol version mismatch");
    }
    this.setStatus("outdated");
    this.failPending(
      new ApiError(
        "outdated",
        `the server speaks protocol ${serverVersion}, this page ${PROTOCOL_VERSION}: reload the page`,
      ),
    );
  }

  private onClose(socket: WebSocketLike, code: number, reason: string): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.lastCloseCode = code;
    this.cancelProbe?.();
    this.cancelProbe = undefined;
    if (this.isFinal) return;
    const final = FINAL_CLOSES[code];
    if (final) {
      this.setStatus(final.status);
      this.failPending(new ApiError(final.error, reason));
      return;
    }
    // Whatever was in flight may or may not have arrived; the history on reconnect tells which.
    for (const entry of this.pending.values()) entry.sent = false;
    this.setStatus("reconnecting");
    const delay = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.attempt);
    this.attempt++;
    // Jitter spreads out a whole room reconnecting after a server restart.
    const wait = delay * (0.75 + Math.random() * 0.5);
    this.cancelRetry = this.scheduler.schedule(() => {
      this.cancelRetry = undefined;
      this.connect();
    }, wait);
    this.setNextRetry(this.clock.now() + wait);
  }

  private setNextRetry(at: number | undefined): void {
    if (this.nextRetryAt === at) return;
    this.nextRetryAt = at;
    this.emit("retry", at);
  }

  private failPending(error: Error): void {
    for (const entry of this.pending.values()) entry.reject(error);
    this.pending.clear();
    this.outboxChanged();
  }

  /** Texts sent and not yet confirmed, oldest first. */
  get outbox(): readonly OutboxText[] {
    return [...this.pending.values()].map(({ message }) => ({
      clientId: message.clientId,
      to: message.to,
      text: message.text,
    }));
  }

  private outboxChanged(): void {
    this.emit("outbox", this.outbox);
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
