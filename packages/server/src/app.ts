import { join } from "node:path";
import fastifyMultipart from "@fastify/multipart";
import fastifyWebsocket from "@fastify/websocket";
import { CLOSE_CODES, LIMITS } from "@roundtable/protocol";
import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import { FileAvatarStore } from "./avatars/FileAvatarStore.ts";
import { NatsBus } from "./cluster/NatsBus.ts";
import { NatsVoiceRelay } from "./cluster/NatsVoiceRelay.ts";
import { ConferenceService } from "./conference/ConferenceService.ts";
import { HostControls } from "./conference/HostControls.ts";
import { randomIds } from "./conference/ids.ts";
import {
  type Clock,
  type IdSource,
  type Scheduler,
  singleNode,
  systemClock,
  timerScheduler,
} from "./conference/ports.ts";
import type { Config } from "./config.ts";
import { avatarRoutes } from "./http/avatarRoutes.ts";
import { conferenceRoutes } from "./http/conferenceRoutes.ts";
import { toHttpError } from "./http/errors.ts";
import { hostRoutes } from "./http/hostRoutes.ts";
import { metricsRoute } from "./http/metricsRoute.ts";
import { pageRoutes } from "./http/pageRoutes.ts";
import { addSecurityHeaders, setSecurityHeaders } from "./http/securityHeaders.ts";
import { SocketGuard } from "./signalling/SocketGuard.ts";
import { socketRoute, websocketOptions } from "./signalling/socketRoute.ts";
import { PostgresStore } from "./store/postgres/PostgresStore.ts";
import type { Store } from "./store/Store.ts";
import { SqliteStore } from "./store/sqlite/SqliteStore.ts";
import { IceServers } from "./voice/IceServers.ts";
import { DEFAULT_SLOT_POLICY } from "./voice/ListenerSlots.ts";
import type { VoicePeerFactory } from "./voice/ports.ts";
import { WeriftPeerFactory } from "./voice/sfu/WeriftPeer.ts";
import { VoiceService } from "./voice/VoiceService.ts";

export interface Server {
  app: FastifyInstance;
  service: ConferenceService;
  voice: VoiceService;
  guard: SocketGuard;
  store: Store;
  /** Voice between nodes, in a cluster. */
  relay: NatsVoiceRelay | undefined;
  /** Stops accepting, tells connected clients, closes sockets and the store. Safe to call twice. */
  close(): Promise<void>;
}

/** How long a shutdown waits for requests in flight and closing handshakes before cutting them, in ms. */
const SHUTDOWN_GRACE_MS = 5_000;

export interface ServerOverrides {
  store?: Store;
  clock?: Clock;
  ids?: IdSource;
  scheduler?: Scheduler;
  logger?: boolean;
  /** Where log lines go instead of stdout (tests read them to prove what is never logged). */
  logStream?: NodeJS.WritableStream;
  voicePeers?: VoicePeerFactory;
}

/** Wires configuration, storage, the domain and the HTTP/WebSocket edges into one server. */
export async function createServer(config: Config, overrides: ServerOverrides = {}): Promise<Server> {
  const store = overrides.store ?? (await openStore(config));
  const bus = config.natsUrl ? await NatsBus.connect(config.natsUrl, config.nodeId) : singleNode;
  // Voice between nodes on a connection of its own: a slow consumer of voice never costs control.
  const relay = config.natsUrl ? await NatsVoiceRelay.connect(config.natsUrl, config.nodeId) : undefined;
  // A cluster's nodes share their avatars through the database; one node keeps them as files.
  const avatars =
    store instanceof PostgresStore ? store.avatars : new FileAvatarStore(join(config.dataDir, "avatars"));
  const clock = overrides.clock ?? systemClock;
  const service = new ConferenceService({
    store,
    avatars,
    clock,
    ids: overrides.ids ?? randomIds,
    scheduler: overrides.scheduler ?? timerScheduler,
    limits: config.conference,
    bus,
    nodeId: config.nodeId,
  });

  const voice = new VoiceService(
    service,
    overrides.voicePeers ?? new WeriftPeerFactory(config.rtc),
    clock,
    { ...DEFAULT_SLOT_POLICY, slots: config.voiceSlots },
    config.voice,
    new IceServers(config.rtc.iceServers, config.turn, clock),
    relay,
  );
  const guard = new SocketGuard(config.sockets, clock);

  const app = Fastify({
    logger:
      overrides.logger === false
        ? false
        : {
            level: config.logLevel,
            ...(overrides.logStream ? { stream: overrides.logStream } : {}),
            // Member tokens travel in socket URLs' query strings: log paths only, never queries or auth headers.
            serializers: {
              req: (req: { method: string; url: string; ip?: string }) => ({
                method: req.method,
                url: req.url.split("?")[0],
                ip: req.ip,
              }),
            },
          },
    // Behind a load balancer, the per-address limits must see the client, not the balancer.
    trustProxy: typeof config.trustProxy === "number" ? hopsOf(config.trustProxy) : config.trustProxy,
    // Malformed URLs and over-long parameters are refused by Fastify before any route or error
    // handler runs: answer them with the documented error body and headers all the same.
    frameworkErrors: (error, _request, frameworkReply) => {
      const reply = frameworkReply as FastifyReply;
      const { status, body } = toHttpError(error);
      setSecurityHeaders(reply);
      void reply.code(status).send(body);
    },
    routerOptions: { ignoreTrailingSlash: true },
    bodyLimit: 64 * 1024,
  });
  app.setErrorHandler((error, request, reply) => {
    const { status, body } = toHttpError(error);
    if (status >= 500) request.log.error({ err: error }, "request failed");
    void reply.code(status).send(body);
  });
  app.setNotFoundHandler((_request, reply) => {
    void reply.code(404).send({ error: { code: "not_found", message: "no such route" } });
  });
  addSecurityHeaders(app);
  await app.register(fastifyMultipart, {
    limits: { fileSize: LIMITS.avatarFileMax, files: 1, fields: 4, fieldSize: 1024, parts: 6 },
  });
  await app.register(fastifyWebsocket, { options: websocketOptions });

  let ready = false;
  app.get("/healthz", async (_request, reply) =>
    ready ? { status: "ok" } : reply.code(503).send({ status: "starting" }),
  );
  conferenceRoutes(app, {
    service,
    clock,
    publicUrl: config.publicUrl,
    avatarPolicy: { size: 256, maxInputPixels: config.http.avatarMaxPixels },
    conferencesPerMinute: config.http.conferencesPerMinute,
    registrationsPerMinute: config.http.registrationsPerMinute,
  });
  hostRoutes(app, new HostControls(service, store, clock));
  avatarRoutes(app, avatars);
  metricsRoute(
    app,
    {
      service,
      voice,
      sockets: () => app.websocketServer.clients.size,
      ...(bus instanceof NatsBus && relay
        ? { nats: { control: () => bus.connected, voice: () => relay.connected } }
        : {}),
    },
    config.metricsToken,
  );
  socketRoute(app, service, voice, guard);
  await pageRoutes(app, config.webDir);
  app.addHook("onReady", async () => {
    ready = true;
  });

  let closing: Promise<void> | undefined;
  // While closing, an upgrade still arriving on a connection accepted before the listener closed must
  // not become a member, and a response that finishes ends its connection, so the drain does not wait
  // for keep-alive connections to time out.
  app.addHook("onRequest", async (request, reply) => {
    if (closing && request.ws) return reply.code(503).header("connection", "close").send();
  });
  app.addHook("onSend", async (_request, reply) => {
    if (closing) reply.header("connection", "close");
  });
  const close = () => {
    closing ??= (async () => {
      ready = false;
      // 1. Stop accepting first: from here on a connection attempt is refused, so a client that saw
      //    the close code below can never reach this process again.
      const drained = new Promise<void>((resolve) => app.server.close(() => resolve()));
      // 2. Tell every client: 1012 makes them reconnect with backoff, to whichever server comes next.
      await service.close(CLOSE_CODES.serviceRestart, "server restarting");
      for (const socket of app.websocketServer.clients)
        socket.close(CLOSE_CODES.serviceRestart, "server restarting");
      // 3. Let requests in flight and closing handshakes finish, but never wait for ever.
      if (!(await settlesWithin(drained, SHUTDOWN_GRACE_MS))) {
        for (const socket of app.websocketServer.clients) socket.terminate();
        app.server.closeAllConnections();
      }
      try {
        await app.close();
      } finally {
        voice.close();
        await relay?.close();
        await bus.close();
        await store.close();
      }
    })();
    return closing;
  };
  return { app, service, voice, guard, store, relay, close };
}

/** Believes X-Forwarded-For for this many proxies nearest the server. */
function hopsOf(count: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < count;
}

/** Whether `promise` settled within `ms` milliseconds; the timer never holds the process open. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** PostgreSQL when DATABASE_URL names one (a cluster's shared store), else SQLite in DATA_DIR. */
function openStore(config: Config): Promise<Store> | Store {
  if (config.databaseUrl) return PostgresStore.open(config.databaseUrl);
  return new SqliteStore(join(config.dataDir, "roundtable.sqlite"));
}
