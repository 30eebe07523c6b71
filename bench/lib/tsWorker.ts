import { Worker } from "node:worker_threads";

/**
 * Starts a worker thread on a `.ts` entry through a tiny bootstrap that registers tsx first: in
 * Node 20 a worker does not get the parent's `--import tsx` hooks in time to load a `.ts` entry itself.
 */
export function startTsWorker(entry: URL, workerData: unknown): Worker {
  const tsx = import.meta.resolve("tsx/esm/api");
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(code, { eval: true, workerData });
}
