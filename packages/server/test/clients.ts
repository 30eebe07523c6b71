import { ConferenceClient, type RoundtableApi } from "@roundtable/client-core";
import type { ServerMessage } from "@roundtable/protocol";
import WebSocket from "ws";

/** A client-core ConferenceClient over Node's `ws`, as the bot and the tests use it. */
export function nodeClient(api: RoundtableApi, conferenceId: string, token: string): ConferenceClient {
  return new ConferenceClient({
    api,
    conferenceId,
    token,
    createSocket: (url) =>
      new WebSocket(url) as unknown as ReturnType<
        ConstructorParameters<typeof ConferenceClient>[0]["createSocket"]
      >,
    backoff: { initialMs: 20, maxMs: 200 },
  });
}

/** Resolves with the first message for which `match` holds (already received ones count too). */
export function nextMessage<T extends ServerMessage>(
  client: ConferenceClient,
  match: (m: ServerMessage) => m is T,
): Promise<T>;
export function nextMessage(
  client: ConferenceClient,
  match: (m: ServerMessage) => boolean,
): Promise<ServerMessage>;
export function nextMessage(
  client: ConferenceClient,
  match: (m: ServerMessage) => boolean,
): Promise<ServerMessage> {
  return new Promise((resolve) => {
    const off = client.on("message", (m) => {
      if (!match(m)) return;
      off();
      resolve(m);
    });
  });
}

/** Resolves when the client's status becomes `status` (at once if it already is). */
export function untilStatus(client: ConferenceClient, status: ConferenceClient["status"]): Promise<void> {
  if (client.status === status) return Promise.resolve();
  return new Promise((resolve) => {
    const off = client.on("status", (s) => {
      if (s !== status) return;
      off();
      resolve();
    });
  });
}

/** Opens a raw socket and resolves with its close code. */
export function closeCodeOf(url: string): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
    socket.on("error", reject);
  });
}

/** A member's socket without client-core: sends raw frames and records everything it receives. */
export async function rawSocket(url: string) {
  const socket = new WebSocket(url);
  const received: ServerMessage[] = [];
  const waiters: { match: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void }[] = [];
  socket.on("message", (data) => {
    const message = JSON.parse(data.toString()) as ServerMessage;
    received.push(message);
    for (const w of waiters.splice(0)) {
      if (w.match(message)) w.resolve(message);
      else waiters.push(w);
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  /** The first message, from now on or already received, for which `match` holds. */
  function next<T extends ServerMessage>(match: (m: ServerMessage) => m is T): Promise<T>;
  function next(match: (m: ServerMessage) => boolean): Promise<ServerMessage>;
  function next(match: (m: ServerMessage) => boolean): Promise<ServerMessage> {
    const seen = received.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => waiters.push({ match, resolve }));
  }
  return {
    socket,
    received,
    closed,
    next,
    send: (message: unknown) => socket.send(typeof message === "string" ? message : JSON.stringify(message)),
  };
}

/**
 * Every socket sends `perSocket` texts to all at once (before any answer); resolves with the
 * sequence numbers each socket then received, in arrival order, once each has the last one. Sending
 * waits until every socket has its history: a socket still being set up would get the first texts
 * inside its history instead of live.
 */
export async function textsAtOnce(sockets: RawSocket[], perSocket: number): Promise<number[][]> {
  await Promise.all(sockets.map((socket) => socket.next((m) => m.type === "history")));
  for (const [i, socket] of sockets.entries())
    for (let n = 0; n < perSocket; n++)
      socket.send({ type: "text", to: "all", text: `${i}:${n}`, clientId: `${i}-${n}` });
  const total = sockets.length * perSocket;
  const isText = (m: ServerMessage): m is Extract<ServerMessage, { type: "text" }> => m.type === "text";
  return Promise.all(
    sockets.map(async (socket) => {
      await socket.next((m) => isText(m) && m.seq === total);
      return socket.received.filter(isText).map((m) => m.seq);
    }),
  );
}

export type RawSocket = Awaited<ReturnType<typeof rawSocket>>;
