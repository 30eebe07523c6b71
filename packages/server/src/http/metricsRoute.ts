import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { ConferenceService } from "../conference/ConferenceService.ts";
import { RoundtableError } from "../conference/errors.ts";
import type { VoiceService } from "../voice/VoiceService.ts";

/** What the metrics read besides the domain: whatever each may be on this node. */
export interface MetricsSources {
  service: ConferenceService;
  voice: VoiceService;
  /** WebSockets open on this node now. */
  sockets(): number;
  /** Whether each NATS connection is up; absent on one node. */
  nats?: { control(): boolean; voice(): boolean };
}

/**
 * `GET /metrics` in Prometheus's text format, for this node only (a scraper visits every node).
 * Everything is read when scraped, from counters the domain keeps anyway: nothing on the hot path.
 * With `token` set, only `Authorization: Bearer <token>` is answered.
 */
export function metricsRoute(app: FastifyInstance, sources: MetricsSources, token: string | undefined): void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "roundtable_" });
  const { service, voice } = sources;
  // Read once per scrape and shared by the three gauges that report it.
  let held = { conferences: 0, members: 0, connected: 0 };
  const gauge = (name: string, help: string, read: () => number | Promise<number>) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        this.set(await read());
      },
    });
  // Counters that only grow, read from the domain's own tallies when scraped.
  const counter = (name: string, help: string, labelNames: string[], read: () => Record<string, number>) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [label, value] of Object.entries(read()))
          this.inc(labelNames.length > 0 ? { [labelNames[0] as string]: label } : {}, value);
      },
    });

  gauge("roundtable_conferences_held", "Conferences this node holds in memory", () => held.conferences);
  gauge("roundtable_members_held", "Members of the conferences this node holds", () => held.members);
  gauge("roundtable_members_connected", "Members with a socket open on this node", () => held.connected);
  gauge("roundtable_sockets_open", "WebSockets open on this node", sources.sockets);
  gauge("roundtable_voice_peers", "Voice peer connections on this node", () => voice.ownerCount);
  counter(
    "roundtable_voice_packets_total",
    "Voice packets: sent to listeners here, or dropped by the flood guard",
    ["outcome"],
    () => voice.packetTotals(),
  );
  counter(
    "roundtable_voice_relay_frames_total",
    "Voice frames between nodes: sent, received, received and dropped",
    ["direction"],
    () => ({ ...voice.relayed }),
  );
  counter("roundtable_texts_stored_total", "Texts stored through this node", [], () => ({
    "": service.textsStored,
  }));
  gauge("roundtable_store_up", "1 while the store answers a query", async () =>
    (await service.storeHealthy()) ? 1 : 0,
  );
  const nats = sources.nats;
  if (nats)
    new Gauge({
      name: "roundtable_nats_up",
      help: "1 while the NATS connection is up",
      labelNames: ["connection"],
      registers: [registry],
      collect() {
        this.set({ connection: "control" }, nats.control() ? 1 : 0);
        this.set({ connection: "voice" }, nats.voice() ? 1 : 0);
      },
    });

  const expected = token === undefined ? undefined : digest(token);
  app.get("/metrics", async (request, reply) => {
    if (expected) {
      const presented = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];
      if (!presented || !timingSafeEqual(digest(presented), expected))
        throw new RoundtableError("unauthorized", "the metrics token is required");
    }
    held = await service.held();
    return reply.header("Content-Type", registry.contentType).send(await registry.metrics());
  });
}

/** Equal-length digests, so comparing them takes the same time wherever they differ. */
function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}
