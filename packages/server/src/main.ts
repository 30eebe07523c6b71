import { createServer } from "./app.ts";
import { loadConfig } from "./config.ts";

const config = loadConfig();
const server = await createServer(config);
await server.app.listen({ port: config.port, host: config.host });
server.app.log.info(`Roundtable is ready on http://localhost:${config.port} (data in ${config.dataDir})`);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    server.app.log.info(`${signal}: closing`);
    server.close().then(
      () => process.exit(0),
      (error) => {
        server.app.log.error({ err: error }, "unclean shutdown");
        process.exit(1);
      },
    );
  });
}
