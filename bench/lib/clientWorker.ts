/**
 * Worker thread holding a share of the benchmark's WebSocket clients. It attaches them, then
 * notes the wall-clock time at which each receives the complete build frame, detected by its
 * prefix only (parsing is measured separately, once, by the main thread).
 */
import { parentPort, workerData } from "node:worker_threads";
import WebSocket from "ws";
import type { BuiltReport, FromWorker, ToWorker } from "./workerMessages.ts";

const port = parentPort;
if (!port) throw new Error("clientWorker.ts must run in a worker thread");
const { index } = workerData as { index: number };

const HISTORY = Buffer.from('{"type":"history"');
/** The frame whose arrival each client notes: the build message unless the benchmark asks for another. */
let watched = Buffer.from('{"type":"build"');

const now = () => performance.timeOrigin + performance.now();
const post = (message: FromWorker) => port.postMessage(message);

function startsWith(data: Buffer, prefix: Buffer): boolean {
  return data.length >= prefix.length && data.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

function asBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

interface Client {
  socket: WebSocket;
  attached: boolean;
  gotBuild: boolean;
}

let clients: Client[] = [];
let arrivals: number[] = [];
let frameBytes: number[] = [];
let sample: string | undefined;
let unexpectedCloses: string[] = [];
let expected = 0;
let reported = false;
let lastFrameAt = 0;
let frames = 0;
let bytes = 0;
/** True while the benchmark itself closes the clients (those closes are expected). */
let closing = false;

function builtReport(): BuiltReport {
  const report: BuiltReport = {
    type: "built",
    arrivals,
    expected,
    frameBytes,
    unexpectedCloses: unexpectedCloses.slice(0, 20),
  };
  if (sample !== undefined) report.sample = sample;
  return report;
}

function onFrame(client: Client, raw: WebSocket.RawData): void {
  const at = now();
  const data = asBuffer(raw);
  lastFrameAt = at;
  frames++;
  bytes += data.length;
  if (!client.gotBuild && startsWith(data, watched)) {
    client.gotBuild = true;
    arrivals.push(at);
    frameBytes.push(data.length);
    if (sample === undefined && index === 0) sample = data.toString("utf8");
    if (arrivals.length === expected && !reported) {
      reported = true;
      post(builtReport());
    }
  }
}

async function connect(urls: string[], concurrency: number, timeoutMs: number): Promise<void> {
  clients = [];
  arrivals = [];
  frameBytes = [];
  sample = undefined;
  unexpectedCloses = [];
  expected = urls.length;
  reported = false;
  let attached = 0;
  let failed = 0;
  let lastAttachAt = 0;
  const errors: string[] = [];
  const fail = (what: string) => {
    failed++;
    if (errors.length < 10) errors.push(what);
  };

  const open = (url: string) =>
    new Promise<void>((resolve) => {
      const client: Client = {
        socket: new WebSocket(url, { perMessageDeflate: false }),
        attached: false,
        gotBuild: false,
      };
      clients.push(client);
      const timer = setTimeout(() => {
        if (client.attached) return;
        fail("timed out before history");
        client.socket.terminate();
        resolve();
      }, timeoutMs);
      client.socket.on("message", (raw) => {
        if (!client.attached && startsWith(asBuffer(raw), HISTORY)) {
          client.attached = true;
          attached++;
          lastAttachAt = now();
          clearTimeout(timer);
          resolve();
        }
        onFrame(client, raw);
      });
      client.socket.on("error", (error) => {
        if (!client.attached) fail(`error: ${error.message}`);
        else if (unexpectedCloses.length < 100) unexpectedCloses.push(`error: ${error.message}`);
      });
      client.socket.on("close", (code, reason) => {
        clearTimeout(timer);
        if (!client.attached) {
          fail(`closed ${code} ${reason.toString()}`);
          resolve();
        } else if (!closing && unexpectedCloses.length < 100) {
          unexpectedCloses.push(`closed ${code} ${reason.toString()}`);
        }
      });
    });

  let next = 0;
  const runners = Array.from({ length: Math.max(1, Math.min(concurrency, urls.length)) }, async () => {
    while (next < urls.length) await open(urls[next++] as string);
  });
  await Promise.all(runners);
  post({ type: "connected", attached, failed, errors, lastAttachAt });
}

async function closeAll(): Promise<number> {
  closing = true;
  const pending = clients.map(
    (c) =>
      new Promise<void>((resolve) => {
        if (c.socket.readyState === WebSocket.CLOSED) return resolve();
        const timer = setTimeout(() => {
          c.socket.terminate();
          resolve();
        }, 5000);
        c.socket.once("close", () => {
          clearTimeout(timer);
          resolve();
        });
        if (c.socket.readyState === WebSocket.OPEN) c.socket.close(1000, "bench done");
        else c.socket.terminate();
      }),
  );
  await Promise.all(pending);
  const closed = clients.length;
  clients = [];
  closing = false;
  return closed;
}

port.on("message", (message: ToWorker) => {
  const run = async () => {
    switch (message.type) {
      case "connect":
        await closeAll();
        lastFrameAt = 0;
        frames = 0;
        bytes = 0;
        watched = Buffer.from(message.watch ?? '{"type":"build"');
        await connect(message.urls, message.concurrency, message.timeoutMs);
        return;
      case "status":
        post({
          type: "status",
          lastFrameAt,
          frames,
          bytes,
          open: clients.filter((c) => c.socket.readyState === WebSocket.OPEN).length,
        });
        return;
      case "report":
        reported = true;
        post(builtReport());
        return;
      case "close":
        post({ type: "closed", closed: await closeAll() });
        return;
    }
  };
  run().catch((error: unknown) => post({ type: "fatal", message: String(error) }));
});

post({ type: "ready" });
