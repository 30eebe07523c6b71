/**
 * Network namespaces for tests that need a network of their own (root only). Nothing in the root
 * namespace changes: each namespace gets its loopback up, IPv6 off, and its own resolv.conf
 * pointing at its own loopback (`ip netns exec` mounts /etc/netns/<name>/resolv.conf over
 * /etc/resolv.conf), so a stray name lookup never reaches the machine's resolver. Links between
 * namespaces are the test's business (see udpwall.py).
 */
import { execFileSync } from "node:child_process";
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

export { type Exit, inNamespace, LoggedProcess as TestProcess } from "../../bench/lib/netns/LoggedProcess.ts";
