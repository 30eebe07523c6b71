/**
 * A private PostgreSQL server for one test file: its own data directory and port, started here and
 * stopped by `stop()`, so a test never assumes a database is running and may restart or kill it.
 * Uses Debian's `postgresql` binaries (`.ci/run` installs them). PostgreSQL refuses to run as root:
 * as root, the server runs as the `postgres` user (setpriv execs it: same pid, signals reach it).
 * Durability is off (fsync, synchronous commit): a test database never outlives its machine.
 */
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { LoggedProcess } from "../../bench/lib/netns/LoggedProcess.ts";
import { freePort } from "../../bench/lib/serverProcess.ts";

const PG_ROOT = "/usr/lib/postgresql";

function binaries(): string {
  const versions = existsSync(PG_ROOT)
    ? readdirSync(PG_ROOT)
        .filter((v) => existsSync(join(PG_ROOT, v, "bin", "postgres")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions[0])
    throw new Error(`PostgreSQL is not installed (no ${PG_ROOT}/*/bin/postgres): apt-get install postgresql`);
  return join(PG_ROOT, versions[0], "bin");
}

export class TestPostgres {
  private server: LoggedProcess | undefined;
  private databases = 0;

  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    private readonly asUser: string[],
    readonly port: number,
  ) {}

  static async start(): Promise<TestPostgres> {
    const bin = binaries();
    const dir = mkdtempSync(join(tmpdir(), "rt-pg-"));
    const data = join(dir, "data");
    mkdirSync(data);
    let asUser: string[] = [];
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
      const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
      chownSync(dir, uid, gid);
      chownSync(data, uid, gid);
      asUser = ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--init-groups", "--"];
    }
    const [file, ...args] = [
      ...asUser,
      join(bin, "initdb"),
      ...["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"],
    ];
    execFileSync(file as string, args, { stdio: "pipe" });
    const server = new TestPostgres(bin, dir, asUser, await freePort());
    await server.run();
    return server;
  }

  /** A fresh, empty database on this server; its `postgres://` URL. */
  async createDatabase(): Promise<string> {
    const name = `rt_${process.pid}_${++this.databases}`;
    const admin = new pg.Client({ connectionString: this.url("postgres") });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.end();
    }
    return this.url(name);
  }

  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Stops the server (fast shutdown: open connections are cut), keeping its data for `restart()`. */
  async halt(): Promise<void> {
    // SIGINT is PostgreSQL's fast shutdown; SIGTERM (smart) would wait for every client to leave.
    await this.server?.stop(10_000, "SIGINT");
    this.server = undefined;
  }

  async restart(): Promise<void> {
    await this.halt();
    await this.run();
  }

  async stop(): Promise<void> {
    await this.halt();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async run(): Promise<void> {
    const command = [
      ...this.asUser,
      join(this.bin, "postgres"),
      ...["-D", join(this.dir, "data"), "-p", String(this.port), "-k", this.dir],
      ...["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off"],
      ...["-c", "full_page_writes=off", "-c", "max_connections=200"],
    ];
    const server = new LoggedProcess("postgres", command);
    this.server = server;
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (!server.running) throw new Error(`PostgreSQL exited at start\n${server.recentOutput()}`);
      const probe = new pg.Client({ connectionString: this.url("postgres") });
      try {
        await probe.connect();
        await probe.end();
        return;
      } catch {
        await probe.end().catch(() => {});
        if (Date.now() > deadline)
          throw new Error(`PostgreSQL did not accept connections\n${server.recentOutput()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}
