/**
 * A cluster as an operator runs it: node processes (the real `main.ts`, one port each) on one
 * private PostgreSQL and one private NATS, behind nginx running the documented configuration. For
 * the failure tests and the failover benchmark: a node here can be SIGKILLed.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { RoundtableApi } from "@roundtable/client-core";
import { freePort, type ServerProcess, startServerProcess } from "../process/serverProcess.ts";
import { TestNats } from "../services/TestNats.ts";
import { TestNginx } from "../services/TestNginx.ts";
import { TestPostgres } from "../services/TestPostgres.ts";

export interface ProcessNode {
  id: string;
  process: ServerProcess;
}

export interface ProcessCluster {
  nodes: ProcessNode[];
  /** In front of the nodes, unless started without it. */
  nginx: TestNginx | undefined;
  nats: TestNats;
  postgres: TestPostgres;
  /** The API through nginx, as members reach it (the first node's without nginx). */
  api: RoundtableApi;
  stop(): Promise<void>;
}

export async function startProcessCluster(
  ids: string[],
  env: Record<string, string> = {},
  options: { nginx?: boolean; nodeFlags?: string[] } = {},
): Promise<ProcessCluster> {
  const [postgres, nats] = await Promise.all([TestPostgres.start(), TestNats.start()]);
  const databaseUrl = await postgres.createDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), "rt-cluster-"));
  const nodes: ProcessNode[] = [];
  let nginx: TestNginx | undefined;
  const stop = async () => {
    await nginx?.stop();
    await Promise.all(nodes.map((n) => n.process.stop()));
    await Promise.all([nats.stop(), postgres.stop()]);
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    for (const id of ids) {
      // One after another: each start compiles the server, and two cores are all there is.
      const process = await startServerProcess(
        await freePort(),
        join(dataDir, id),
        {
          DATABASE_URL: databaseUrl,
          NATS_URL: nats.url,
          NODE_ID: id,
          TRUST_PROXY: "127.0.0.1",
          ...env,
        },
        options.nodeFlags,
      );
      nodes.push({ id, process });
    }
    if (options.nginx !== false)
      nginx = await TestNginx.start(nodes.map((n) => new URL(n.process.baseUrl).host));
    const front = nginx?.baseUrl ?? (nodes[0] as ProcessNode).process.baseUrl;
    return { nodes, nginx, nats, postgres, api: new RoundtableApi(front), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Which node each member's socket is on, as the nodes tell each other (a roll call on the bus). */
export async function placement(
  natsUrl: string,
  conferenceId: string,
  memberIds: string[],
): Promise<Map<string, string>> {
  const spy = await connect({ servers: natsUrl });
  const where = new Map<string, string>();
  const subject = `rt.conference.${conferenceId}.events`;
  const complete = new Promise<void>((resolve) => {
    spy.subscribe(subject, {
      callback: (_error, message) => {
        const { event } = message.json<{ event: { kind: string; node?: string; online?: string[] } }>();
        if (event.kind !== "presence" || !event.node) return;
        for (const id of event.online ?? []) where.set(id, event.node);
        if (memberIds.every((id) => where.has(id))) resolve();
      },
    });
  });
  spy.publish(subject, JSON.stringify({ from: "test-spy", event: { kind: "roll-call" } }));
  try {
    await Promise.race([
      complete,
      new Promise((_, reject) => setTimeout(() => reject(new Error("no full roll call")), 10_000)),
    ]);
  } finally {
    await spy.close();
  }
  return where;
}

/**
 * Splits members by a node to kill: one holding someone, such that at least two members stay on
 * the others (a speaker and a listener who should notice nothing). Undefined when no node fits.
 */
export function chooseVictim<M extends { id: string }>(
  nodeIds: string[],
  members: M[],
  where: Map<string, string>,
): { node: string; victims: M[]; survivors: M[] } | undefined {
  for (const node of nodeIds) {
    const victims = members.filter((m) => where.get(m.id) === node);
    const survivors = members.filter((m) => where.get(m.id) !== node);
    if (victims.length > 0 && survivors.length >= 2) return { node, victims, survivors };
  }
  return undefined;
}
