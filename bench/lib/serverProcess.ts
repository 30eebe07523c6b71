import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** A port that was free a moment ago (listen on 0, read the port, close). */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once("error", reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      if (address === null || typeof address === "string") {
        probe.close();
        reject(new Error("could not read the probe's port"));
        return;
      }
      probe.close(() => resolve(address.port));
    });
  });
}

export interface ServerProcessOptions {
  /** Repository root; the server is started from here. */
  cwd: string;
  entry: string;
  host: string;
  port: number;
  env: Record<string, string>;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeFlags?: string[];
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * The Roundtable server as a child process, with its output kept for error reports. Used by the
 * benchmarks and by the process tests (SIGKILL, SIGTERM).
 */
export class ServerProcess {
  readonly baseUrl: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited. */
  readonly exited: Promise<Exit>;
  private readonly chunks: string[] = [];
  private exitCode: number | null | undefined;

  constructor(options: ServerProcessOptions) {
    this.baseUrl = `http://${options.host}:${options.port}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...options.env,
      HOST: options.host,
      PORT: String(options.port),
    };
    // The test runner marks its own children; the server is not one of its test files.
    delete env.NODE_TEST_CONTEXT;
    this.child = spawn(process.execPath, [...(options.nodeFlags ?? []), "--import", "tsx", options.entry], {
      cwd: options.cwd,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const keep = (chunk: Buffer) => {
      this.chunks.push(chunk.toString("utf8"));
      if (this.chunks.length > 500) this.chunks.splice(0, this.chunks.length - 500);
    };
    this.child.stdout?.on("data", keep);
    this.child.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        this.exitCode = code;
        resolve({ code, signal });
      });
    });
  }

  /** Everything it printed (the last 500 chunks). */
  output(): string {
    return this.chunks.join("");
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error("the server process did not start");
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** The last lines the server printed. */
  recentOutput(): string {
    return this.output().split("\n").slice(-40).join("\n");
  }

  /** Polls `GET /healthz` until it answers 200, at most `attempts` times. */
  async waitHealthy(attempts = 150, intervalMs = 100): Promise<number> {
    const started = performance.now();
    for (let i = 0; i < attempts; i++) {
      if (!this.running) throw new Error(`the server exited early:\n${this.recentOutput()}`);
      try {
        const response = await fetch(`${this.baseUrl}/healthz`);
        await response.arrayBuffer();
        if (response.status === 200) return performance.now() - started;
      } catch {
        // not listening yet
      }
      await sleep(intervalMs);
    }
    throw new Error(`the server was not healthy after ${attempts} attempts:\n${this.recentOutput()}`);
  }

  /** Resident and peak resident memory in KiB, from /proc (undefined where there is no /proc). */
  memory(): { rssKb: number; peakRssKb: number } | undefined {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, "utf8");
      const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, "m").exec(status)?.[1]);
      const rssKb = field("VmRSS");
      const peakRssKb = field("VmHWM");
      return Number.isFinite(rssKb) ? { rssKb, peakRssKb } : undefined;
    } catch {
      return undefined;
    }
  }

  /** Times the kernel took the CPU from the server while it wanted to run (contention), from /proc. */
  involuntarySwitches(): number | undefined {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, "utf8");
      const value = Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1]);
      return Number.isFinite(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  /** CPU time (user + system) the server has used so far, in ms (10 ms resolution; /proc only). */
  cpuMs(): number | undefined {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, "utf8");
      // Fields after the command name (which is in parentheses and may hold spaces).
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const utime = Number(fields[11]);
      const stime = Number(fields[12]);
      // Linux reports clock ticks; USER_HZ is 100 on every mainstream configuration.
      return Number.isFinite(utime + stime) ? (utime + stime) * 10 : undefined;
    } catch {
      return undefined;
    }
  }

  /** SIGTERM (a graceful close, which also writes a --cpu-prof profile), then SIGKILL after a grace period. */
  async stop(graceMs = 10_000): Promise<Exit> {
    if (!this.running) return this.exited;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL, resolving once the process is gone. */
  kill(): Promise<Exit> {
    if (this.running) this.child.kill("SIGKILL");
    return this.exited;
  }

  /** Synchronous last resort for process exit handlers. */
  killNow(): void {
    if (this.running) this.child.kill("SIGKILL");
  }
}
