import { join, resolve } from "node:path";
import { ServerProcess } from "../../bench/lib/serverProcess.ts";

export { type Exit, freePort, type ServerProcess } from "../../bench/lib/serverProcess.ts";

const ROOT = resolve(import.meta.dirname, "../..");
/** /healthz attempts while the server starts (tsx compiles on start), 50 ms apart: 30 s at most. */
const START_ATTEMPTS = 600;

/** Starts the real server on `port` with its data in `dataDir` and resolves once /healthz answers 200. */
export async function startServerProcess(
  port: number,
  dataDir: string,
  env: Record<string, string> = {},
  nodeFlags: string[] = [],
): Promise<ServerProcess> {
  const server = new ServerProcess({
    cwd: ROOT,
    entry: "packages/server/src/main.ts",
    host: "127.0.0.1",
    port,
    nodeFlags,
    env: {
      DATA_DIR: dataDir,
      WEB_DIR: join(dataDir, "no-web"),
      RTC_LISTEN_ADDRESS: "127.0.0.1",
      RTC_ANNOUNCED_ADDRESSES: "127.0.0.1",
      LOG_LEVEL: "warn",
      REGISTRATIONS_PER_MINUTE: "100000",
      CONFERENCES_PER_MINUTE: "100000",
      ...env,
    },
  });
  try {
    await server.waitHealthy(START_ATTEMPTS, 50);
  } catch (error) {
    await server.kill();
    throw error;
  }
  return server;
}
