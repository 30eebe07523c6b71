/** What every benchmark does with its command line and its results. */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** A flag that must be a whole number of at least 1. */
export function positiveInt(name: string, raw: string | undefined): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new TypeError(`--${name} must be a positive whole number, got "${raw}"`);
  return n;
}

/** Writes the report as JSON to `path` (creating its folder) and prints it. */
export function writeReport(path: string, report: unknown): void {
  const json = JSON.stringify(report, null, 2);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${json}\n`);
  console.log(json);
}
