import { join, resolve } from "node:path";
import { type ConferenceLimits, DEFAULT_CONFERENCE_LIMITS } from "./conference/ConferenceService.ts";

export interface Config {
  port: number;
  host: string;
  /** Folder for the SQLite file and avatar images. */
  dataDir: string;
  /** Base URL used in invite and host links; derived from each request's Host when unset. */
  publicUrl: string | undefined;
  /** Built web UI to serve; the API alone runs when it is missing. */
  webDir: string;
  logLevel: string;
  conference: ConferenceLimits;
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

/** Environment variables to typed configuration; every variable is optional. */
export function loadConfig(env: Env = process.env): Config {
  const root = resolve(import.meta.dirname, "../../..");
  return {
    port: int(env, "PORT", 3000),
    host: env.HOST || "0.0.0.0",
    dataDir: resolve(env.DATA_DIR || "data"),
    publicUrl: env.PUBLIC_URL?.replace(/\/+$/, "") || undefined,
    webDir: resolve(env.WEB_DIR || join(root, "packages/web/dist")),
    logLevel: env.LOG_LEVEL || "info",
    conference: {
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
    },
    http: {
      conferencesPerMinute: int(env, "CONFERENCES_PER_MINUTE", 30),
      registrationsPerMinute: int(env, "REGISTRATIONS_PER_MINUTE", 60),
      avatarMaxPixels: int(env, "AVATAR_MAX_PIXELS", 40_000_000),
    },
  };
}
