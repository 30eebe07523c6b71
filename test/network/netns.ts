/**
 * Network namespaces for tests that need a network of their own (root only). Nothing in the root
 * namespace changes: each namespace gets its loopback up, IPv6 off, and its own resolv.conf
 * pointing at its own loopback (`ip netns exec` mounts /etc/netns/<name>/resolv.conf over
 * /etc/resolv.conf), so a stray name lookup never reaches the machine's resolver. Links between
 * namespaces are the test's business (see udpwall.py).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";

const ip = (...args: string[]) => execFileSync("ip", args, { encoding: "utf8", stdio: "pipe" });

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

export class Namespaces {
  constructor(readonly names: readonly string[]) {}

  /**
   * The namespaces a run that died left behind: named by `pattern`, whose first group is the pid of
   * the run that made them, no longer alive. A run still going keeps its own.
   */
  static orphans(pattern: RegExp): Namespaces {
    const names = ip("netns", "list")
      .split("\n")
      .map((line) => line.split(" ")[0] ?? "")
      .filter((name) => {
        const pid = Number(pattern.exec(name)?.[1]);
        return Number.isInteger(pid) && pid > 0 && !alive(pid);
      });
    return new Namespaces(names);
  }

  /** Makes them afresh (removing any left with these names). */
  up(): void {
    this.down();
    for (const ns of this.names) {
      ip("netns", "add", ns);
      ip("-n", ns, "link", "set", "lo", "up");
      ip(
        "netns",
        "exec",
        ns,
        "sysctl",
        "-q",
        "-w",
        "net.ipv6.conf.all.disable_ipv6=1",
        "net.ipv6.conf.default.disable_ipv6=1",
      );
      mkdirSync(`/etc/netns/${ns}`, { recursive: true });
      writeFileSync(`/etc/netns/${ns}/resolv.conf`, "nameserver 127.0.0.1\n");
    }
  }

  /**
   * Removes them; harmless when they are gone. Processes still inside one (only the test's own:
   * nobody else has a reason to be in a test's namespace) are killed first, by pid, so the
   * namespace really goes away.
   */
  down(): void {
    const existing = new Set(
      ip("netns", "list")
        .split("\n")
        .map((line) => line.split(" ")[0]),
    );
    for (const ns of this.names) {
      if (existing.has(ns)) {
        for (const pid of ip("netns", "pids", ns).split(/\s+/).filter(Boolean)) {
          try {
            process.kill(Number(pid), "SIGKILL");
          } catch {
            // already gone
          }
        }
        ip("netns", "del", ns);
      }
      rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
    }
  }
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The command line that runs `command` inside `ns` (`ip netns exec` execs it: same pid). */
export const inNamespace = (ns: string, ...command: string[]) => ["ip", "netns", "exec", ns, ...command];

/** A child process (in a namespace with `inNamespace`), with its output kept for error reports. */
export class TestProcess {
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
        this.exit = { code: null, signal: null };
        resolve(this.exit);
      });
      this.child.once("exit", (code, signal) => {
        this.exit = { code, signal };
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

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<Exit> {
    if (!this.running) return this.exited;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
