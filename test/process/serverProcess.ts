import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");
/** How long a server may take to answer /healthz after spawning, in ms: tsx compiles on start. */
const START_DEADLINE_MS = 30_000;
/** Between two /healthz attempts while the server starts, in ms. */
const POLL_MS = 50;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The real server, `node --import tsx packages/server/src/main.ts`, as a child process. */
export interface ServerProcess {
  readonly child: ChildProcess;
  readonly baseUrl: string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<Exit>;
  /** Everything it printed so far, for failure messages. */
  output(): string;
  /** Sends SIGKILL and resolves once the process is gone. */
  kill(): Promise<Exit>;
  /** Ends it whatever its state: SIGTERM, then SIGKILL if it is still there after `deadlineMs`. */
  stop(deadlineMs?: number): Promise<Exit>;
}

/** A TCP port nobody listens on right now (the server binds it a moment later). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const address = probe.address();
  probe.close();
  await once(probe, "close");
  if (!address || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** Starts the server on `port` with its data in `dataDir` and resolves once /healthz answers 200. */
export async function startServerProcess(
  port: number,
  dataDir: string,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    WEB_DIR: join(dataDir, "no-web"),
    RTC_LISTEN_ADDRESS: "127.0.0.1",
    RTC_ANNOUNCED_ADDRESSES: "127.0.0.1",
    LOG_LEVEL: "warn",
    REGISTRATIONS_PER_MINUTE: "100000",
    CONFERENCES_PER_MINUTE: "100000",
    ...env,
  };
  // The test runner marks its own children; the server is not one of its test files.
  delete childEnv.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, ["--import", "tsx", "packages/server/src/main.ts"], {
    cwd: ROOT,
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let printed = "";
  child.stdout.on("data", (chunk: Buffer) => {
    printed += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    printed += chunk.toString();
  });
  const exited = new Promise<Exit>((resolveExit) =>
    child.once("exit", (code, signal) => resolveExit({ code, signal })),
  );
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const server: ServerProcess = {
    child,
    baseUrl,
    exited,
    output: () => printed,
    kill() {
      if (!gone) child.kill("SIGKILL");
      return exited;
    },
    async stop(deadlineMs = 10_000) {
      if (gone) return exited;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), deadlineMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };

  const deadline = Date.now() + START_DEADLINE_MS;
  for (;;) {
    if (gone)
      throw new Error(`the server exited while starting (${JSON.stringify(await exited)}):\n${printed}`);
    if (Date.now() > deadline) {
      await server.kill();
      throw new Error(`the server did not answer /healthz within ${START_DEADLINE_MS} ms:\n${printed}`);
    }
    if (await healthy(baseUrl)) return server;
    await new Promise((resolveWait) => setTimeout(resolveWait, POLL_MS));
  }
}

async function healthy(baseUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}
