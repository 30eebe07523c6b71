/**
 * nginx in front of a test cluster, running the documented configuration
 * (`deploy/nginx-roundtable.conf`) with only its upstream list and listening port replaced. Uses
 * Debian's `nginx` (`.ci/run` installs it); started here, stopped by `stop()`.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { LoggedProcess } from "../../bench/lib/netns/LoggedProcess.ts";
import { freePort } from "../../bench/lib/serverProcess.ts";

const BINARY = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => existsSync(p));
const SITE = resolve(import.meta.dirname, "../../deploy/nginx-roundtable.conf");

/** The documented site with these upstreams and this port: what an operator would write. */
export function siteFor(upstreams: string[], port: number, accessLog: string): string {
  const isUpstream = (line: string) => /^\s+server \S+ max_fails/.test(line);
  const lines = readFileSync(SITE, "utf8").split("\n");
  const first = lines.findIndex(isUpstream);
  const listen = lines.findIndex((line) => /^\s+listen 8080;$/.test(line));
  const log = lines.findIndex((line) => /^\s+access_log \S+ roundtable;$/.test(line));
  if (first < 0 || listen < 0 || log < 0)
    throw new Error("deploy/nginx-roundtable.conf changed shape: update siteFor");
  lines[listen] = `    listen 127.0.0.1:${port};`;
  lines[log] = `    access_log ${accessLog} roundtable;`;
  // Each upstream block's server lines, replaced by this cluster's nodes.
  const servers = upstreams.map((u) => `    server ${u} max_fails=1 fail_timeout=5s;`);
  const out: string[] = [];
  for (const [i, line] of lines.entries()) {
    if (!isUpstream(line)) out.push(line);
    else if (!isUpstream(lines[i - 1] ?? "")) out.push(...servers);
  }
  return out.join("\n");
}

export class TestNginx {
  private constructor(
    private readonly server: LoggedProcess,
    private readonly dir: string,
    readonly port: number,
  ) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(upstreams: string[]): Promise<TestNginx> {
    if (!BINARY) throw new Error("nginx is not installed: apt-get install nginx-light");
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "rt-nginx-"));
    mkdirSync(join(dir, "logs"));
    writeFileSync(join(dir, "site.conf"), siteFor(upstreams, port, join(dir, "logs", "access.log")));
    // What a distribution's nginx.conf gives around a site, with every path inside this folder.
    writeFileSync(
      join(dir, "nginx.conf"),
      [
        "worker_processes 1;",
        `pid ${join(dir, "nginx.pid")};`,
        "error_log stderr warn;",
        ...(process.getuid?.() === 0 ? ["user root;"] : []),
        "events { worker_connections 1024; }",
        "http {",
        "  access_log off;",
        ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(
          (kind) => `  ${kind}_temp_path ${join(dir, kind)};`,
        ),
        `  include ${join(dir, "site.conf")};`,
        "}",
      ].join("\n"),
    );
    const server = new LoggedProcess("nginx", [
      BINARY,
      "-p",
      dir,
      "-c",
      join(dir, "nginx.conf"),
      "-g",
      "daemon off;",
    ]);
    const nginx = new TestNginx(server, dir, port);
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (!server.running) throw new Error(`nginx exited at start\n${server.recentOutput()}`);
      try {
        // Any answer (502 while no node is up) means nginx listens.
        await (await fetch(`${nginx.baseUrl}/healthz`)).arrayBuffer();
        return nginx;
      } catch {
        if (Date.now() > deadline) throw new Error(`nginx did not listen\n${server.recentOutput()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** What nginx logged of the requests it passed on. */
  accessLog(): string {
    const path = join(this.dir, "logs", "access.log");
    return existsSync(path) ? readFileSync(path, "utf8") : "";
  }

  async stop(): Promise<void> {
    await this.server.stop(5_000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
