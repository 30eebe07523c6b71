/** CPU accounting for the benchmarks: the servers', this process's, and everyone else's. */
import { readFileSync } from "node:fs";
import type { ServerProcess } from "./serverProcess.ts";
import { round } from "./stats.ts";

export interface CpuWindow {
  wallMs: number;
  /** All server processes together. */
  serverCpuMs: number;
  /** Per server process, in the order given. */
  perServerCpuMs: number[];
  /** This process (all bot threads). */
  clientCpuMs: number;
  /** CPU used by every other process on the machine (other work would skew the figures), in cores. */
  otherCores: number;
  /** Times a server was made to wait for a core it wanted, per second, all servers together. */
  preemptionsPerSecond: number;
}

/** Busy and total CPU time of the whole machine so far, in ms (from /proc/stat; USER_HZ = 100). */
export function machineCpuMs(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    const [, ...fields] = line.trim().split(/\s+/);
    const n = fields.map(Number);
    const total = n.slice(0, 8).reduce((s, x) => s + x, 0);
    const idle = (n[3] ?? 0) + (n[4] ?? 0);
    return { busy: (total - idle) * 10, total: total * 10 };
  } catch {
    return undefined;
  }
}

/** Starts a measurement window over these servers; calling the result ends it. */
export function cpuWindow(servers: readonly ServerProcess[]): () => CpuWindow {
  const wall = performance.now();
  const before = servers.map((s) => s.cpuMs());
  const switches = servers.reduce((sum, s) => sum + (s.involuntarySwitches() ?? 0), 0);
  const client = process.cpuUsage();
  const machine = machineCpuMs();
  return () => {
    const after = servers.map((s) => s.cpuMs());
    const used = process.cpuUsage(client);
    const machineEnd = machineCpuMs();
    const switchesEnd = servers.reduce((sum, s) => sum + (s.involuntarySwitches() ?? 0), 0);
    const perServerCpuMs = after.map((end, i) => {
      const start = before[i];
      if (start === undefined || end === undefined)
        throw new Error("no /proc: cannot read a server's CPU time");
      return end - start;
    });
    const wallMs = performance.now() - wall;
    const serverCpuMs = perServerCpuMs.reduce((s, x) => s + x, 0);
    const clientCpuMs = (used.user + used.system) / 1000;
    const machineBusy = machine && machineEnd ? machineEnd.busy - machine.busy : Number.NaN;
    return {
      wallMs: round(wallMs),
      serverCpuMs,
      perServerCpuMs,
      clientCpuMs: round(clientCpuMs),
      otherCores: round(Math.max(0, machineBusy - serverCpuMs - clientCpuMs) / wallMs, 2),
      preemptionsPerSecond: round(((switchesEnd - switches) * 1000) / wallMs, 1),
    };
  };
}
