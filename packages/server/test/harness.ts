import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RoundtableApi } from "@roundtable/client-core";
import { createServer, type Server, type ServerOverrides } from "../src/app.ts";
import { type Config, loadConfig } from "../src/config.ts";

export interface TestServer {
  server: Server;
  baseUrl: string;
  api: RoundtableApi;
  dataDir: string;
  /** Stops the server and deletes its data folder. */
  stop(): Promise<void>;
}

/** A real server on a free loopback port with its own data folder. */
export async function startTestServer(
  env: Record<string, string> = {},
  overrides: ServerOverrides = {},
  dataDir?: string,
): Promise<TestServer> {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), "roundtable-test-")));
  const config: Config = loadConfig({
    DATA_DIR: dir,
    PORT: "0",
    HOST: "127.0.0.1",
    WEB_DIR: join(dir, "no-web"),
    REGISTRATIONS_PER_MINUTE: "100000",
    CONFERENCES_PER_MINUTE: "100000",
    ...env,
  });
  const server = await createServer(config, { logger: false, ...overrides });
  await server.app.listen({ port: 0, host: "127.0.0.1" });
  const address = server.app.server.address();
  if (!address || typeof address === "string") throw new Error("no address");
  const baseUrl = `http://127.0.0.1:${address.port}`;
  return {
    server,
    baseUrl,
    api: new RoundtableApi(baseUrl),
    dataDir: dir,
    async stop() {
      await server.close();
      if (!dataDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Limits that never get in the way of a test sending many texts at once from one address. */
export const GENEROUS_LIMITS: Record<string, string> = Object.fromEntries(
  [
    "TEXT_BURST",
    "TEXTS_PER_SECOND",
    "SIGNALLING_BURST",
    "SIGNALLING_PER_SECOND",
    "ADDRESS_SIGNALLING_BURST",
    "ADDRESS_SIGNALLING_PER_SECOND",
    "ADDRESS_TEXTS_PER_SECOND",
  ].map((name) => [name, "100000"]),
);
