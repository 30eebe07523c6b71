import type { MemberInfo, ServerMessage, TextMessage } from "@roundtable/protocol";
import { PROTOCOL_VERSION } from "@roundtable/protocol";
import { RoundtableApi } from "../src/api.ts";
import { ConferenceClient } from "../src/ConferenceClient.ts";
import type { Scheduler, WebSocketLike } from "../src/ports.ts";

export const aMember = (id: string, seat: number, name = id.toUpperCase()): MemberInfo => ({
  id,
  name,
  avatar: { url: `/avatars/${id.padEnd(22, "x")}.webp`, color: "#336699" },
  seat,
});

export const aText = (over: Partial<TextMessage> = {}): TextMessage => ({
  type: "text",
  id: "t1",
  seq: 1,
  from: "a",
  to: "all",
  text: "hello",
  sentAt: 1000,
  ...over,
});

export const hello = (
  memberId: string,
  state: "registering" | "built" = "registering",
  online: string[] = [],
) =>
  ({
    type: "hello",
    protocolVersion: PROTOCOL_VERSION,
    memberId,
    conference: { id: "c1", title: "Standup", state },
    online,
  }) satisfies ServerMessage;

/** Timers that fire only when the test runs them. */
export class ManualScheduler implements Scheduler {
  tasks: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  schedule(fn: () => void, ms: number): () => void {
    const task = { fn, ms, cancelled: false };
    this.tasks.push(task);
    return () => {
      task.cancelled = true;
    };
  }
  runAll(): void {
    const tasks = this.tasks;
    this.tasks = [];
    for (const t of tasks) if (!t.cancelled) t.fn();
  }
  /** Runs only the pending tasks scheduled with this delay (one kind of timer among others). */
  run(ms: number): void {
    const due = this.tasks.filter((t) => t.ms === ms && !t.cancelled);
    this.tasks = this.tasks.filter((t) => !due.includes(t));
    for (const t of due) t.fn();
  }
  get pendingDelays(): number[] {
    return this.tasks.filter((t) => !t.cancelled).map((t) => t.ms);
  }
}

/** A socket the test drives by hand: it sees what the client sends and feeds it server messages. */
export class FakeSocket implements WebSocketLike {
  readyState = 0;
  readonly sent: unknown[] = [];
  closedWith: { code?: number; reason?: string } | undefined;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  constructor(readonly url: string) {}

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }
  /** Delivers server messages to the client. */
  receive(...messages: ServerMessage[]): void {
    for (const m of messages) this.onmessage?.({ data: JSON.stringify(m) });
  }
  /** The server or the network closes the socket. */
  drop(code = 1006, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

/**
 * A ConferenceClient whose sockets are FakeSockets the test drives; `last()` is the newest one.
 * Member "a" of a conference with members "a" and "b".
 */
export function clientOverFakeSockets(scheduler: Scheduler, backoff?: { initialMs: number; maxMs: number }) {
  const sockets: FakeSocket[] = [];
  const client = new ConferenceClient({
    api: new RoundtableApi("http://example.test"),
    conferenceId: "c1",
    token: "tok",
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    scheduler,
    ...(backoff ? { backoff } : {}),
  });
  const last = () => {
    const s = sockets.at(-1);
    if (!s) throw new Error("no socket");
    return s;
  };
  return { client, sockets, last };
}

/** What the server sends a member of a built conference on connect: hello, build, history. */
export function attach(socket: FakeSocket, history: TextMessage[] = []): void {
  socket.receive(
    hello("a", "built"),
    { type: "build", conference: { id: "c1", title: "T" }, members: [aMember("a", 0), aMember("b", 1)] },
    { type: "history", messages: history },
  );
}
