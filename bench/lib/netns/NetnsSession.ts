/**
 * One benchmark's use of the namespaces, with one owner for everything it starts: the namespaces,
 * link.py, the Roundtable server in rtq-srv and Chromium browsers in rtq-spk / rtq-lst. `close()`
 * (idempotent) stops them all, also on Ctrl-C and, as a last resort, at process exit, so no
 * server, link or namespace outlives a run. Root only.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Browser, chromium } from "playwright-core";
import {
  existingNamespaces,
  ImpairedLink,
  type LinkStats,
  type Namespace,
  NsProcess,
  namespacesDown,
  namespacesUp,
  waitHttpOk,
  writeChromiumWrapper,
} from "./impair.ts";

const root = resolve(import.meta.dirname, "../../..");
export const SERVER_ADDR = "10.77.1.1";
export const SERVER_PORT = 3000;
export const SERVER_ORIGIN = `http://${SERVER_ADDR}:${SERVER_PORT}`;

export class NetnsSession {
  readonly dir: string;
  /** Set by Ctrl-C: loops should stop and let `close()` finish. */
  interrupted = false;
  private link: ImpairedLink | undefined;
  private readonly processes: NsProcess[] = [];
  private readonly browsers: Browser[] = [];
  private namespaces = false;
  private closing: Promise<void> | undefined;

  private constructor(label: string) {
    this.dir = mkdtempSync(join(tmpdir(), `roundtable-${label}-`));
  }

  /** Makes the namespaces afresh. Refuses (unless `force`) when ours exist: another run may use them. */
  static open(label: string, force = false): NetnsSession {
    if (process.getuid?.() !== 0) throw new Error("run as root: network namespaces and TUN devices");
    const present = existingNamespaces();
    if (present.length > 0 && !force)
      throw new Error(
        `namespaces ${present.join(", ")} exist: another run may be using them (--force removes them)`,
      );
    const session = new NetnsSession(label);
    // `on`, not `once`: Ctrl-C reaches the whole process group, and a second signal during the
    // teardown must not kill this process before it has finished.
    for (const signal of ["SIGINT", "SIGTERM"] as const)
      process.on(signal, () => {
        if (session.interrupted) return;
        session.interrupted = true;
        console.error(`\n${signal}: tearing down`);
        session.close().finally(() => process.exit(130));
      });
    process.once("exit", () => session.killNow());
    session.namespaces = true;
    namespacesUp();
    return session;
  }

  /** (Re)starts link.py with these netem specs; returns the previous link's counts, if any. */
  async impair(up: string, down: string, seed?: number, traceFile?: string): Promise<LinkStats | undefined> {
    const previous = await this.link?.stop();
    this.link = new ImpairedLink(this.dir, up, down, seed, traceFile);
    await this.link.ready();
    return previous;
  }

  /** Stops link.py; its counts, and its trace when it wrote one. */
  async stopLink(): Promise<{ stats: LinkStats | undefined; trace: string }> {
    const link = this.link;
    this.link = undefined;
    const stats = await link?.stop();
    const trace = link?.traceFile && existsSync(link.traceFile) ? readFileSync(link.traceFile, "utf8") : "";
    return { stats, trace };
  }

  /**
   * The Roundtable server in rtq-srv, healthy; resolves with how long that took (ms). It runs at a
   * raised priority (nice -10), standing in for a server on its own machine: on two cores shared with
   * four Chromiums it was otherwise preempted for tens of milliseconds (an idle process's timers
   * fired 17-24 ms late at p99), and listeners' jitter buffers grew 50 ms with no impairment at all.
   */
  async startServer(env: Record<string, string> = {}): Promise<{ server: NsProcess; healthyMs: number }> {
    const server = this.spawn(
      "server",
      "rtq-srv",
      ["nice", "-n", "-10", process.execPath, "--import", "tsx", "packages/server/src/main.ts"],
      {
        HOST: SERVER_ADDR,
        PORT: String(SERVER_PORT),
        RTC_LISTEN_ADDRESS: SERVER_ADDR,
        RTC_ANNOUNCED_ADDRESSES: SERVER_ADDR,
        DATA_DIR: join(this.dir, "data"),
        WEB_DIR: join(this.dir, "no-web"),
        LOG_LEVEL: "warn",
        VOICE_JOINS_PER_MINUTE: "100000",
        CONNECTIONS_PER_MINUTE: "100000",
        REGISTRATIONS_PER_MINUTE: "100000",
        ...env,
      },
    );
    const exitedEarly = server.exited.then((exit) => {
      throw new Error(`the server exited (${exit.code ?? exit.signal}) before it was healthy`);
    });
    try {
      const healthyMs = await Promise.race([waitHttpOk("rtq-srv", `${SERVER_ORIGIN}/healthz`), exitedEarly]);
      return { server, healthyMs };
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${server.recentOutput()}`);
    } finally {
      exitedEarly.catch(() => {});
    }
  }

  /** Any process of this session's, stopped by `close()`. */
  spawn(
    label: string,
    ns: Namespace | undefined,
    command: string[],
    env: Record<string, string> = {},
  ): NsProcess {
    const child = new NsProcess(label, ns, command, { cwd: root, env });
    this.processes.push(child);
    return child;
  }

  async chromium(ns: Namespace, executable: string, args: string[]): Promise<Browser> {
    const browser = await chromium.launch({
      executablePath: writeChromiumWrapper(this.dir, ns, executable),
      args,
    });
    this.browsers.push(browser);
    return browser;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const step = async (what: string, fn: () => unknown) => {
        try {
          await fn();
        } catch (error) {
          console.error(`teardown: ${what}: ${(error as Error).message}`);
        }
      };
      for (const browser of this.browsers) await step("browser", () => browser.close());
      for (const child of this.processes.reverse()) await step(child.label, () => child.stop(10_000));
      await step("link", () => this.link?.stop());
      if (this.namespaces) await step("namespaces", () => namespacesDown());
      this.namespaces = false;
      rmSync(this.dir, { recursive: true, force: true });
    })();
    return this.closing;
  }

  private killNow(): void {
    for (const child of this.processes) child.killNow();
    this.link?.killNow();
    if (this.namespaces)
      try {
        namespacesDown();
      } catch {
        // nothing more to do
      }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
