/**
 * A child process with its output kept for error reports, optionally inside a network namespace
 * (`ip netns exec` execs the command: same pid). Shared by the namespace tests and benchmarks.
 */
import { type ChildProcess, spawn } from "node:child_process";

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The command line that runs `command` inside `ns` (`ip netns exec` execs it: same pid). */
export const inNamespace = (ns: string, ...command: string[]) => ["ip", "netns", "exec", ns, ...command];

/** A child process (in a namespace with `inNamespace`), with its output kept for error reports. */
export class LoggedProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  private readonly chunks: string[] = [];
  private exit: Exit | undefined;

  constructor(
    readonly label: string,
    command: readonly string[],
    options: { cwd?: string; env?: Record<string, string> } = {},
  ) {
    const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
    // The test runner marks its own children; these are not test files.
    delete env.NODE_TEST_CONTEXT;
    const [file, ...args] = command;
    if (file === undefined) throw new Error("no command");
    this.child = spawn(file, args, {
      cwd: options.cwd,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const keep = (chunk: Buffer) => {
      this.chunks.push(chunk.toString("utf8"));
      if (this.chunks.length > 2000) this.chunks.splice(0, this.chunks.length - 2000);
    };
    this.child.stdout?.on("data", keep);
    this.child.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => {
      this.child.once("error", (error) => {
        keep(Buffer.from(`spawn failed: ${error.message}\n`));
        this.exit ??= { code: null, signal: null };
        resolve(this.exit);
      });
      this.child.once("exit", (code, signal) => {
        this.exit ??= { code, signal };
        resolve(this.exit);
      });
    });
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  output(): string {
    return this.chunks.join("");
  }

  recentOutput(lines = 40): string {
    return `--- ${this.label} (last ${lines} lines) ---\n${this.output().split("\n").slice(-lines).join("\n")}`;
  }

  /** Resolves with the exit; rejects if the process is still running after `ms`. */
  async finished(ms: number): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.label} still running after ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** `signal` (SIGTERM unless told), then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000, signal: NodeJS.Signals = "SIGTERM"): Promise<Exit> {
    if (!this.running) return this.exited;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Synchronous last resort (process exit handlers). */
  killNow(): void {
    if (this.running) this.child.kill("SIGKILL");
  }
}
