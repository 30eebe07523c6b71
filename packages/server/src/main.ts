import { createServer } from "./app.ts";
import { loadConfig } from "./config.ts";

/**
 * A shutdown that has not finished by then ends the process anyway, in ms. `close()` bounds its own
 * wait for clients; this covers whatever else could hang (a store, a peer), so an orchestrator's
 * SIGTERM never meets a process that ignores it.
 */
const SHUTDOWN_DEADLINE_MS = 15_000;
/** Exit status when the shutdown was cut short (second signal, deadline, error). */
const UNCLEAN_EXIT = 1;

const config = loadConfig();
const server = await createServer(config);
await server.app.listen({ port: config.port, host: config.host });
const log = server.app.log;
log.info(
  `Roundtable is ready on http://localhost:${config.port} (${config.databaseUrl ? "store: PostgreSQL" : `data in ${config.dataDir}`})`,
);

let stopping: NodeJS.Signals | undefined;
const onSignal = (signal: NodeJS.Signals) => {
  if (stopping) {
    // Pressing Ctrl+C twice means "now": the store is SQLite in WAL mode, so even this loses no commit.
    log.warn(`${signal} during shutdown: exiting at once`);
    process.exit(UNCLEAN_EXIT);
  }
  stopping = signal;
  log.info(`${signal}: shutting down (no new connections; clients are told to reconnect)`);
  setTimeout(() => {
    log.error(`shutdown did not finish within ${SHUTDOWN_DEADLINE_MS} ms: exiting`);
    process.exit(UNCLEAN_EXIT);
  }, SHUTDOWN_DEADLINE_MS).unref();
  server.close().then(
    () => {
      log.info("shut down cleanly");
      process.exit(0);
    },
    (error: unknown) => {
      log.error({ err: error }, "unclean shutdown");
      process.exit(UNCLEAN_EXIT);
    },
  );
};
process.on("SIGTERM", onSignal);
process.on("SIGINT", onSignal);
