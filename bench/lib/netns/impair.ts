/**
 * Network namespaces and an impaired link for benchmarks (root only), after
 * /work/shared/tools/impair/ (netns.sh, link.py and chromium-in-netns.sh; the first two are copied
 * beside this file). rtq-srv holds the server (10.77.1.1, and the router), rtq-spk the speaker's
 * browser (10.77.1.2), rtq-lst listeners (10.77.2.2). Traffic stays inside 10.77.0.0/16: the
 * namespaces have no link to the root namespace and link.py drops anything addressed elsewhere.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, watch, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { type Exit, inNamespace, LoggedProcess } from "./LoggedProcess.ts";

export type { Exit };

const here = import.meta.dirname;
export const NAMESPACES = ["rtq-srv", "rtq-spk", "rtq-lst"] as const;
export type Namespace = (typeof NAMESPACES)[number];

/** The namespaces that exist now, of ours. */
export function existingNamespaces(): Namespace[] {
  const listed = new Set(
    execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
      .split("\n")
      .map((line) => line.split(" ")[0]),
  );
  return NAMESPACES.filter((ns) => listed.has(ns));
}

/** `netns.sh up`: the three namespaces afresh (loopback up, IPv6 off, their own resolv.conf). */
export function namespacesUp(): void {
  execFileSync("bash", [join(here, "netns.sh"), "up"], { stdio: "pipe" });
}

/** `netns.sh down`; harmless when they are gone. */
export function namespacesDown(): void {
  execFileSync("bash", [join(here, "netns.sh"), "down"], { stdio: "pipe" });
}

/** A child process, optionally inside a namespace, output kept. */
export class NsProcess extends LoggedProcess {
  constructor(
    label: string,
    ns: Namespace | undefined,
    command: readonly string[],
    options: { cwd?: string; env?: Record<string, string> } = {},
  ) {
    super(label, ns ? inNamespace(ns, ...command) : command, options);
  }
}

/** Resolves once `file` exists (fs.watch on its folder, no polling); rejects if `gone` settles first. */
export function whenFileExists(file: string, gone: Promise<unknown>, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const watcher = watch(dirname(file));
    const done = (error?: Error) => {
      watcher.close();
      clearTimeout(timer);
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => done(new Error(`${file} did not appear in ${timeoutMs} ms`)), timeoutMs);
    watcher.on("change", () => {
      if (existsSync(file)) done();
    });
    watcher.on("error", (error) => done(error));
    gone.then(() => done(new Error(`the process exited before writing ${file}`)));
    if (existsSync(file)) done();
  });
}

export interface LinkDirectionStats {
  packets: number;
  lost: number;
  bytes: number;
  refusedOutside?: number;
  flows: Record<string, { packets: number; lost: number }>;
}

export interface LinkStats {
  up: string;
  down: string;
  seconds: number;
  directions: Record<string, LinkDirectionStats>;
}

/** link.py: TUN pairs between the namespaces, netem's model on speaker->server and server->listener. */
export class ImpairedLink {
  private readonly process: NsProcess;
  private readonly readyFile: string;
  private readonly statsFile: string;

  constructor(
    dir: string,
    readonly up: string,
    readonly down = "",
    seed?: number,
    /** Where link.py writes its per-packet trace (DTLS records, RTP headers), if at all. */
    readonly traceFile?: string,
  ) {
    this.readyFile = join(dir, "link.ready");
    this.statsFile = join(dir, "link.stats.json");
    // A link before this one in the same folder left both: this one's must not be taken for them.
    rmSync(this.readyFile, { force: true });
    rmSync(this.statsFile, { force: true });
    // At high priority, as the tool asks: its delays are only as good as its scheduling.
    this.process = new NsProcess("link.py", undefined, [
      "nice",
      "-n",
      "-10",
      "python3",
      join(here, "link.py"),
      "--up",
      up,
      "--down",
      down,
      "--stats",
      this.statsFile,
      "--ready",
      this.readyFile,
      ...(seed === undefined ? [] : ["--seed", String(seed)]),
      ...(traceFile === undefined ? [] : ["--rtplog", traceFile]),
    ]);
  }

  async ready(timeoutMs = 15_000): Promise<void> {
    try {
      await whenFileExists(this.readyFile, this.process.exited, timeoutMs);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${this.process.recentOutput()}`);
    }
  }

  get running(): boolean {
    return this.process.running;
  }

  /** SIGTERM; link.py then writes its counts, returned here (undefined if it wrote none). */
  async stop(): Promise<LinkStats | undefined> {
    await this.process.stop(5000);
    try {
      return JSON.parse(readFileSync(this.statsFile, "utf8")) as LinkStats;
    } catch {
      return undefined;
    }
  }

  killNow(): void {
    this.process.killNow();
  }
}

/**
 * An executablePath for playwright-core that starts Chromium inside `ns` (as chromium-in-netns.sh
 * does; the CDP pipe's file descriptors survive `ip netns exec`). Written at run time, so it is
 * executable wherever the repository is checked out.
 */
export function writeChromiumWrapper(dir: string, ns: Namespace, chromium: string): string {
  const path = join(dir, `chromium-in-${ns}.sh`);
  writeFileSync(path, `#!/bin/sh\nexec ip netns exec ${ns} ${JSON.stringify(chromium)} "$@"\n`, {
    mode: 0o755,
  });
  return path;
}

/**
 * Waits, from inside `ns`, until `url` answers 200 (a tiny Node script re-asking every 100 ms: the
 * root namespace cannot reach the namespaces' addresses). Resolves with the milliseconds it took.
 */
export async function waitHttpOk(ns: Namespace, url: string, timeoutMs = 30_000): Promise<number> {
  const script = `
    const deadline = Date.now() + ${timeoutMs};
    const once = () => fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(1000) })
      .then(async (r) => { await r.arrayBuffer(); return r.status === 200; }, () => false);
    for (;;) {
      if (await once()) process.exit(0);
      if (Date.now() > deadline) { console.error("no 200 from ${url}"); process.exit(1); }
      await new Promise((r) => setTimeout(r, 100));
    }`;
  const started = performance.now();
  const probe = new NsProcess("probe", ns, [process.execPath, "--input-type=module", "-e", script]);
  const exit = await probe.exited;
  if (exit.code !== 0) throw new Error(`${url} did not answer 200:\n${probe.recentOutput()}`);
  return performance.now() - started;
}

/** What one UDP flow's DTLS handshake met on one direction of the link (from link.py's trace). */
export interface DtlsFlow {
  flow: string;
  datagrams: number;
  lost: number;
  /** A ClientHello (handshake type 1) came in more than one fragment. */
  fragmentedClientHello: boolean;
  /** A datagram holding a ClientHello fragment was dropped. */
  clientHelloLost: boolean;
  /** A later datagram was delivered before an earlier one (jitter reorders, as netem's tfifo). */
  reordered: boolean;
}

/**
 * Reads link.py's trace lines `T DIRECTION SRC>DST dtls LEN LOST +Dms RECORDS...` for `direction`
 * and sums them up per flow, in order of first appearance.
 */
export function dtlsFlows(trace: string, direction = "speaker->server"): DtlsFlow[] {
  const flows = new Map<string, DtlsFlow & { lastArrival: number }>();
  for (const line of trace.split("\n")) {
    const f = line.split(" ");
    if (f[1] !== direction || f[3] !== "dtls") continue;
    const at = Number(f[0]);
    const lost = f[5] === "1";
    const delayMs = Number((f[6] ?? "+0ms").slice(1, -2));
    const key = f[2] ?? "?";
    let flow = flows.get(key);
    if (!flow) {
      flow = {
        flow: key,
        datagrams: 0,
        lost: 0,
        fragmentedClientHello: false,
        clientHelloLost: false,
        reordered: false,
        lastArrival: 0,
      };
      flows.set(key, flow);
    }
    flow.datagrams++;
    const hello = f.slice(7).filter((r) => r.startsWith("hs1#"));
    for (const r of hello) {
      const m = /\[(\d+)\+(\d+)\/(\d+)\]/.exec(r);
      if (m && Number(m[2]) < Number(m[3])) flow.fragmentedClientHello = true;
    }
    if (lost) {
      flow.lost++;
      if (hello.length > 0) flow.clientHelloLost = true;
      continue;
    }
    const arrival = at + delayMs / 1000;
    if (arrival < flow.lastArrival) flow.reordered = true;
    flow.lastArrival = Math.max(flow.lastArrival, arrival);
  }
  return [...flows.values()].map(({ lastArrival: _, ...flow }) => flow);
}
