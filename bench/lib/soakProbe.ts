/**
 * What the soak measures about the thread it runs in (the server's): heap after a full GC, the
 * active handles and timers by type, where each still-live handle or timer was created, the
 * event-loop delay and this thread's CPU time.
 */
import { createHook } from "node:async_hooks";
import { readFileSync } from "node:fs";
import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks";
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

export type Counts = Record<string, number>;

export interface Memory {
  heapUsed: number;
  rss: number;
  external: number;
  arrayBuffers: number;
}

export interface Snapshot {
  memory: Memory;
  /** `process.getActiveResourcesInfo()` by type: ref'ed handles, requests and timers. */
  resources: Counts;
  /** Live handles and timers by async-hooks type, unref'ed ones included. */
  live: Counts;
  liveIds: ReadonlySet<number>;
}

export interface Leftover {
  type: string;
  count: number;
  /** The first frames of the stack that created it (outside node's internals). */
  createdAt: string;
}

/** Async resource types that outlive a call: a leak of any of them is a leak of the server. */
const WATCHED = new Set([
  "Timeout",
  "Immediate",
  "UDPWRAP",
  "TCPWRAP",
  "TCPSERVERWRAP",
  "PIPEWRAP",
  "TTYWRAP",
  "SIGNALWRAP",
  "FSEVENTWRAP",
  "STATWATCHER",
  "PROCESSWRAP",
  "MESSAGEPORT",
  "WORKER",
  "HTTPCLIENTREQUEST",
  "HTTPINCOMINGMESSAGE",
]);

let gcFunction: (() => void) | undefined;

/** A full, synchronous garbage collection; works without `--expose-gc` on the command line. */
export function fullGc(): void {
  if (!gcFunction) {
    setFlagsFromString("--expose-gc");
    gcFunction = runInNewContext("gc") as () => void;
  }
  // Twice: the first pass runs finalizers that free more on the second.
  gcFunction();
  gcFunction();
}

export function memory(): Memory {
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers };
}

/** Bytes used per V8 heap space (old, code, large objects...): shows whether growth is data or code. */
export function heapSpaces(): Counts {
  const out: Counts = {};
  for (const s of getHeapSpaceStatistics()) out[s.space_name.replace(/_space$/, "")] = s.space_used_size;
  return out;
}

/** Bytes of the heap holding data: everything but compiled code. */
export function dataHeap(spaces: Counts): number {
  let sum = 0;
  for (const [space, used] of Object.entries(spaces)) if (!space.startsWith("code")) sum += used;
  return sum;
}

function countBy(items: Iterable<string>): Counts {
  const out: Counts = {};
  for (const item of items) out[item] = (out[item] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** Types whose counts differ, with both counts. */
export function diffCounts(a: Counts, b: Counts): Record<string, { before: number; after: number }> {
  const out: Record<string, { before: number; after: number }> = {};
  for (const type of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const before = a[type] ?? 0;
    const after = b[type] ?? 0;
    if (before !== after) out[type] = { before, after };
  }
  return out;
}

/** CPU time of this thread (not the whole process), in ms, from /proc; undefined elsewhere. */
export function threadCpuMs(): number | undefined {
  try {
    // The main thread's task id is the process id; utime and stime are fields 14 and 15, in 1/100 s.
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/**
 * Follows every watched async resource of this thread from creation to destruction, with the
 * stack that created it (formatted only when reported). Promise hooks come with it, which slows
 * promise-heavy code a little: the CPU figures include that.
 */
export class ResourceLedger {
  private readonly live = new Map<number, { type: string; origin: Error }>();
  private ignoring = false;
  private readonly hook = createHook({
    init: (id, type) => {
      if (this.ignoring || !WATCHED.has(type)) return;
      const origin = new Error(type);
      this.live.set(id, { type, origin });
    },
    destroy: (id) => {
      this.live.delete(id);
    },
  });

  private stackTraceLimit = Error.stackTraceLimit;

  start(): void {
    // Deep enough to get past werift's and Node's own frames to the code that asked.
    this.stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = Math.max(this.stackTraceLimit, 24);
    this.hook.enable();
  }

  stop(): void {
    this.hook.disable();
    Error.stackTraceLimit = this.stackTraceLimit;
  }

  /** Runs `create` without following what it creates (the measurement's own timers). */
  unwatched<T>(create: () => T): T {
    this.ignoring = true;
    try {
      return create();
    } finally {
      this.ignoring = false;
    }
  }

  snapshot(): Snapshot {
    return {
      memory: memory(),
      resources: countBy(process.getActiveResourcesInfo()),
      live: countBy([...this.live.values()].map((r) => r.type)),
      liveIds: new Set(this.live.keys()),
    };
  }

  /** Resources live now that were not at `baseline`, grouped by type and creation site. */
  leftovers(baseline: Snapshot): Leftover[] {
    const groups = new Map<string, Leftover>();
    for (const [id, r] of this.live) {
      if (baseline.liveIds.has(id)) continue;
      const createdAt = creationSite(r.origin);
      const key = `${r.type}\n${createdAt}`;
      const group = groups.get(key) ?? { type: r.type, count: 0, createdAt };
      group.count++;
      groups.set(key, group);
    }
    return [...groups.values()].sort((a, b) => b.count - a.count);
  }
}

function creationSite(error: Error): string {
  const frames = (error.stack ?? "")
    .split("\n")
    .slice(1)
    .map((l) => l.trim().replace(/^at /, ""))
    .filter((l) => !l.includes("node:") && !l.includes("soakProbe.ts"));
  return frames.slice(0, 6).join(" < ");
}

const RESOLUTION_MS = 10;

export interface LoopDelayFigures {
  p50: number;
  p99: number;
  max: number;
}

/**
 * Event-loop delay of this thread, in ms. One histogram per stretch measured: re-enabling a
 * paused one would count the whole pause as a single delay.
 */
export class LoopDelay {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });

  constructor() {
    this.histogram.enable();
  }

  stop(): LoopDelayFigures {
    this.histogram.disable();
    // The histogram records the time between its ticks, sampling interval included: only the excess is delay.
    const ms = (ns: number) => Math.max(0, Math.round(ns / 1e4 - RESOLUTION_MS * 100) / 100);
    return {
      p50: ms(this.histogram.percentile(50)),
      p99: ms(this.histogram.percentile(99)),
      max: ms(this.histogram.max),
    };
  }
}
