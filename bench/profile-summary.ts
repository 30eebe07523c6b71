/**
 * Summarises a V8 .cpuprofile (e.g. from `npm run bench:build -- --cpu-prof --reps 1`): self time
 * by function, optionally only over a window that starts at the first sample whose stack holds a
 * given function (e.g. `--from build --window-ms 300` for the build broadcast).
 *
 *   node --import tsx bench/profile-summary.ts bench/results/profiles/<file>.cpuprofile [--from build] [--url ConferenceService] [--window-ms 300] [--top 25]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    from: { type: "string" },
    url: { type: "string", default: "" },
    "window-ms": { type: "string", default: "300" },
    top: { type: "string", default: "25" },
  },
});
const file = positionals[0];
if (!file)
  throw new Error("usage: profile-summary.ts <file.cpuprofile> [--from fn] [--url part] [--window-ms N]");

const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const label = (n: ProfileNode) => {
  const { functionName, url, lineNumber } = n.callFrame;
  const where = url ? ` ${url.replace(/^.*\/(node_modules|packages)\//, "$1/")}:${lineNumber + 1}` : "";
  return `${functionName || "(anonymous)"}${where}`;
};

function stackHas(id: number, fn: string, url: string): boolean {
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const n = byId.get(cur);
    if (n && n.callFrame.functionName === fn && n.callFrame.url.includes(url)) return true;
  }
  return false;
}

// Sample times in ms from the profile's start.
const times: number[] = [];
let t = 0;
for (const d of profile.timeDeltas) {
  t += d / 1000;
  times.push(t);
}

let start = 0;
let end = Number.POSITIVE_INFINITY;
if (values.from) {
  const i = profile.samples.findIndex((id) => stackHas(id, values.from as string, values.url ?? ""));
  if (i < 0) throw new Error(`no sample has ${values.from} on its stack`);
  start = times[i] as number;
  end = start + Number(values["window-ms"]);
}

const self = new Map<string, number>();
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const at = times[i] as number;
  if (at < start || at > end) continue;
  const next = times[i + 1];
  const weight = next === undefined ? 0 : next - at;
  const node = byId.get(profile.samples[i] as number);
  if (!node) continue;
  const key = label(node);
  self.set(key, (self.get(key) ?? 0) + weight);
  total += weight;
}

console.log(
  values.from
    ? `window: ${values["window-ms"]} ms from the first sample in ${values.from} (at ${start.toFixed(1)} ms)`
    : "whole profile",
);
console.log(`sampled ${total.toFixed(1)} ms`);
for (const [key, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top)))
  console.log(`${ms.toFixed(1).padStart(8)} ms ${((ms / total) * 100).toFixed(1).padStart(5)}%  ${key}`);
