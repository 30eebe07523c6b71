/** Roundtable nodes on one private PostgreSQL and one private NATS, all started (and stopped) here. */
import { startTestServer, type TestServer } from "../../packages/server/test/harness.ts";
import { TestNats } from "../services/TestNats.ts";
import { TestPostgres } from "../services/TestPostgres.ts";

export interface TestCluster {
  nodes: TestServer[];
  nats: TestNats;
  postgres: TestPostgres;
  stop(): Promise<void>;
}

/** One node per id (its NODE_ID), each with `env` besides the shared DATABASE_URL and NATS_URL. */
export async function startCluster(ids: string[], env: Record<string, string> = {}): Promise<TestCluster> {
  const [postgres, nats] = await Promise.all([TestPostgres.start(), TestNats.start()]);
  const databaseUrl = await postgres.createDatabase();
  const nodes = await Promise.all(
    ids.map((id) => startTestServer({ ...env, DATABASE_URL: databaseUrl, NATS_URL: nats.url, NODE_ID: id })),
  );
  return {
    nodes,
    nats,
    postgres,
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      await Promise.all([nats.stop(), postgres.stop()]);
    },
  };
}
