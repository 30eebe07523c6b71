import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { type ConferenceLimits, DEFAULT_CONFERENCE_LIMITS } from "./conference/ConferenceService.ts";
import { DEFAULT_SOCKET_LIMITS, type SocketLimits } from "./signalling/SocketGuard.ts";
import type { TurnConfig } from "./voice/IceServers.ts";
import type { RtcConfig } from "./voice/sfu/WeriftPeer.ts";
import { DEFAULT_VOICE_LIMITS, type VoiceLimits } from "./voice/VoiceService.ts";

export interface Config {
  port: number;
  host: string;
  /** Folder for the SQLite file and avatar images. */
  dataDir: string;
  /** A `postgres://` URL: the store is PostgreSQL (shared by a cluster's nodes); unset: SQLite in dataDir. */
  databaseUrl: string | undefined;
  /** A `nats://` URL: this node coordinates with the cluster's other nodes through NATS; unset: one node. */
  natsUrl: string | undefined;
  /** This node's name in the cluster (NODE_ID; default: host name and port). */
  nodeId: string;
  /**
   * Which proxies' X-Forwarded-For to believe (TRUST_PROXY): false (none, the default), true (any),
   * a hop count, or their addresses/CIDRs. Per-address limits then see the real client address.
   */
  trustProxy: boolean | number | string[];
  /** When set, GET /metrics answers only `Authorization: Bearer <token>` (METRICS_TOKEN). */
  metricsToken: string | undefined;
  /** Base URL used in invite and host links; derived from each request's Host when unset. */
  publicUrl: string | undefined;
  /** Built web UI to serve; the API alone runs when it is missing. */
  webDir: string;
  logLevel: string;
  conference: ConferenceLimits;
  rtc: RtcConfig;
  /** TURN for members whose network blocks UDP; off unless `TURN_URLS` and `TURN_SECRET` are set. */
  turn: TurnConfig | undefined;
  /** Voices one member can hear at once (pre-allocated receive slots per peer connection). */
  voiceSlots: number;
  voice: VoiceLimits;
  sockets: SocketLimits;
  http: {
    /** Conferences one address may create per minute. */
    conferencesPerMinute: number;
    /** Registrations one address may make per minute. */
    registrationsPerMinute: number;
    /** Decoded pixels an avatar may have (width x height). */
    avatarMaxPixels: number;
  };
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new TypeError(`${name} must be a whole number, got "${raw}"`);
  return value;
}

function natsUrl(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  if (!raw.split(",").every((url) => /^nats:\/\//.test(url.trim())))
    throw new TypeError("NATS_URL must be nats:// URLs, comma-separated");
  return raw;
}

function trustProxy(raw: string | undefined): boolean | number | string[] {
  if (!raw || raw === "false") return false;
  if (raw === "true") return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  return raw
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
}

function databaseUrl(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  if (!/^postgres(ql)?:\/\//.test(raw)) throw new TypeError("DATABASE_URL must be a postgres:// URL");
  return raw;
}

/** Environment variables to typed configuration; every variable is optional. */
export function loadConfig(env: Env = process.env): Config {
  const root = resolve(import.meta.dirname, "../../..");
  return {
    port: int(env, "PORT", 3000),
    host: env.HOST || "0.0.0.0",
    dataDir: resolve(env.DATA_DIR || "data"),
    databaseUrl: databaseUrl(env.DATABASE_URL),
    natsUrl: natsUrl(env.NATS_URL),
    nodeId: env.NODE_ID || `${hostname()}-${env.PORT || 3000}`,
    trustProxy: trustProxy(env.TRUST_PROXY),
    metricsToken: env.METRICS_TOKEN || undefined,
    publicUrl: env.PUBLIC_URL?.replace(/\/+$/, "") || undefined,
    webDir: resolve(env.WEB_DIR || join(root, "packages/web/dist")),
    logLevel: env.LOG_LEVEL || "info",
    rtc: {
      iceServers: parseIceServers(env.ICE_SERVERS),
      listenAddress: env.RTC_LISTEN_ADDRESS || undefined,
      // Loopback is announced too, so a browser on the server's own machine connects out of the box.
      announcedAddresses: (env.RTC_ANNOUNCED_ADDRESSES ?? "127.0.0.1")
        .split(",")
        .map((a) => a.trim())
        .filter(Boolean),
      portRange: portRange(env),
    },
    turn: turnConfig(env),
    voiceSlots: int(env, "VOICE_SLOTS", 4),
    voice: {
      packetsPerSecond: int(env, "VOICE_PACKETS_PER_SECOND", DEFAULT_VOICE_LIMITS.packetsPerSecond),
      packetBurst: int(env, "VOICE_PACKET_BURST", DEFAULT_VOICE_LIMITS.packetBurst),
      addressPacketsPerSecond: int(
        env,
        "ADDRESS_VOICE_PACKETS_PER_SECOND",
        DEFAULT_VOICE_LIMITS.addressPacketsPerSecond,
      ),
      joinsPerMinute: int(env, "VOICE_JOINS_PER_MINUTE", DEFAULT_VOICE_LIMITS.joinsPerMinute),
    },
    sockets: {
      frameBurst: int(env, "SIGNALLING_BURST", DEFAULT_SOCKET_LIMITS.frameBurst),
      framesPerSecond: int(env, "SIGNALLING_PER_SECOND", DEFAULT_SOCKET_LIMITS.framesPerSecond),
      addressFrameBurst: int(env, "ADDRESS_SIGNALLING_BURST", DEFAULT_SOCKET_LIMITS.addressFrameBurst),
      addressFramesPerSecond: int(
        env,
        "ADDRESS_SIGNALLING_PER_SECOND",
        DEFAULT_SOCKET_LIMITS.addressFramesPerSecond,
      ),
      addressTextsPerSecond: int(
        env,
        "ADDRESS_TEXTS_PER_SECOND",
        DEFAULT_SOCKET_LIMITS.addressTextsPerSecond,
      ),
      connectionsPerAddress: int(
        env,
        "MAX_CONNECTIONS_PER_ADDRESS",
        DEFAULT_SOCKET_LIMITS.connectionsPerAddress,
      ),
      connectionAttemptsPerMinute: int(
        env,
        "CONNECTIONS_PER_MINUTE",
        DEFAULT_SOCKET_LIMITS.connectionAttemptsPerMinute,
      ),
    },
    conference: {
      conferences: int(env, "MAX_CONFERENCES", DEFAULT_CONFERENCE_LIMITS.conferences),
      membersPerConference: int(
        env,
        "MAX_MEMBERS_PER_CONFERENCE",
        DEFAULT_CONFERENCE_LIMITS.membersPerConference,
      ),
      connectionsPerMember: int(
        env,
        "MAX_CONNECTIONS_PER_MEMBER",
        DEFAULT_CONFERENCE_LIMITS.connectionsPerMember,
      ),
      textBurst: int(env, "TEXT_BURST", DEFAULT_CONFERENCE_LIMITS.textBurst),
      textsPerSecond: int(env, "TEXTS_PER_SECOND", DEFAULT_CONFERENCE_LIMITS.textsPerSecond),
      presenceBatchMs: int(env, "PRESENCE_BATCH_MS", DEFAULT_CONFERENCE_LIMITS.presenceBatchMs),
      idleForgetMs: int(env, "CONFERENCE_IDLE_MS", DEFAULT_CONFERENCE_LIMITS.idleForgetMs),
    },
    http: {
      conferencesPerMinute: int(env, "CONFERENCES_PER_MINUTE", 30),
      registrationsPerMinute: int(env, "REGISTRATIONS_PER_MINUTE", 60),
      avatarMaxPixels: int(env, "AVATAR_MAX_PIXELS", 40_000_000),
    },
  };
}

function portRange(env: Env): [number, number] | undefined {
  const min = int(env, "RTC_PORT_MIN", 0);
  const max = int(env, "RTC_PORT_MAX", 0);
  if (min === 0 && max === 0) return undefined;
  if (min < 1024 || max > 65535 || min >= max)
    throw new TypeError("RTC_PORT_MIN and RTC_PORT_MAX must satisfy 1024 <= min < max <= 65535");
  return [min, max];
}

/**
 * `ICE_SERVERS` is JSON: `[{"urls":"stun:stun.example.org:3478"}]`; none by default. They go to the
 * server's peers and to every member's. TURN is refused here: its password would reach every page;
 * `TURN_URLS` and `TURN_SECRET` hand out credentials that expire instead.
 */
function parseIceServers(raw: string | undefined): RtcConfig["iceServers"] {
  if (!raw) return [];
  const parsed: unknown = JSON.parse(raw);
  if (!Array.isArray(parsed) || !parsed.every((s) => typeof s?.urls === "string"))
    throw new TypeError('ICE_SERVERS must be JSON like [{"urls":"stun:host:3478"}]');
  if (parsed.some((s) => !String(s.urls).startsWith("stun:")))
    throw new TypeError("ICE_SERVERS takes stun: servers; configure TURN with TURN_URLS and TURN_SECRET");
  return parsed as RtcConfig["iceServers"];
}

function turnConfig(env: Env): TurnConfig | undefined {
  const urls = (env.TURN_URLS ?? "")
    .split(",")
    .map((u) => u.trim())
    .filter(Boolean);
  const secret = env.TURN_SECRET ?? "";
  if (urls.length === 0 && !secret) return undefined;
  if (urls.length === 0 || !secret) throw new TypeError("TURN needs both TURN_URLS and TURN_SECRET");
  const bad = urls.find((u) => !/^turns?:[^\s]+$/.test(u));
  if (bad) throw new TypeError(`TURN_URLS takes turn: and turns: URLs, got "${bad}"`);
  const ttlS = int(env, "TURN_TTL_S", 3600);
  if (ttlS < 60) throw new TypeError("TURN_TTL_S must be at least 60 seconds");
  return { urls, secret, ttlS };
}
