#!/usr/bin/env node
// Runs every test file with node's test runner (Node 20 has no glob support in --test).
// Usage: node scripts/test.mjs [--no-e2e] [filter...]
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const args = process.argv.slice(2);
const noE2e = args.includes("--no-e2e");
const filters = args.filter((a) => !a.startsWith("--"));

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "dist" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith(".test.ts")) out.push(relative(root, path));
  }
  return out;
}

const files = [...walk(join(root, "packages"), []), ...walk(join(root, "test"), [])]
  // --no-e2e leaves out what drives browsers (the TURN test drives Chromium in namespaces, as root).
  .filter((f) => !(noE2e && (f.startsWith("test/e2e/") || f === "test/network/turn.test.ts")))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
const result = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=spec", ...files], {
  cwd: root,
  stdio: "inherit",
});
process.exit(result.status ?? 1);
