export { createServer, type Server, type ServerOverrides } from "./app.ts";
export { type Config, loadConfig } from "./config.ts";
