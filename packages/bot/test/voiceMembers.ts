/** Members with a werift voice (the bot's engine) on a real server, for the voice tests on one node and across nodes. */
import { resolve } from "node:path";
import type { ConferenceClient, RoundtableApi } from "@roundtable/client-core";
import { VoiceSession } from "@roundtable/client-core";
import { openClient } from "../src/connect.ts";
import { type ReceiveCounters, WeriftMediaEngine } from "../src/WeriftMediaEngine.ts";

/** `shared/` sits beside the repository (CI clones it there). */
export const SPEECH = resolve(import.meta.dirname, "../../../../shared/fixtures/speech.wav");
/** One second of 20 ms frames. */
export const SECOND = 50;
/** Voice on loopback only: the tests never address anything else. */
export const LOOPBACK_RTC = { RTC_LISTEN_ADDRESS: "127.0.0.1", RTC_ANNOUNCED_ADDRESSES: "127.0.0.1" };

export interface VoiceMember {
  id: string;
  token: string;
  client: ConferenceClient;
  engine: WeriftMediaEngine;
  session: VoiceSession;
  offers: number;
}

export const rmsOf = (c: ReceiveCounters) => (c.samples === 0 ? 0 : Math.sqrt(c.sumSquares / c.samples));
export const totalPackets = (m: VoiceMember) => m.engine.stats().slots.reduce((sum, s) => sum + s.packets, 0);

/** Registers `name` through `api` (any node) and connects it, with a voice engine, through `via`. */
export async function voiceMember(
  api: RoundtableApi,
  conferenceId: string,
  name: string,
  via: RoundtableApi = api,
): Promise<VoiceMember> {
  const registered = await api.register(conferenceId, { name });
  const client = await openClient(via, conferenceId, registered.token);
  const engine = new WeriftMediaEngine({
    bindAddress: "127.0.0.1",
    memberOf: (slot) => client.room.memberInSlot(slot),
  });
  const member: VoiceMember = {
    id: registered.memberId,
    token: registered.token,
    client,
    engine,
    session: new VoiceSession(client, engine),
    offers: 0,
  };
  client.on("message", (m) => {
    if (m.type === "voice-offer") member.offers++;
  });
  return member;
}

/**
 * Resolves once `ready()` holds, checking it whenever a packet arrives or a room changes: the
 * test follows counters and messages, never the clock. The timeout only turns a hang into a failure.
 */
export function until(
  members: VoiceMember[],
  ready: () => boolean,
  what: string,
  timeoutMs = 8000,
): Promise<void> {
  if (ready()) return Promise.resolve();
  return new Promise((resolvePromise, reject) => {
    const offs: (() => void)[] = [];
    const done = (error?: Error) => {
      clearTimeout(timer);
      for (const off of offs) off();
      if (error) reject(error);
      else resolvePromise();
    };
    const check = () => {
      if (ready()) done();
    };
    const timer = setTimeout(() => done(new Error(`timed out waiting until ${what}`)), timeoutMs);
    for (const m of members) {
      offs.push(m.engine.on("packet", check), m.engine.on("state", check), m.client.room.on("change", check));
    }
  });
}

/**
 * Registers each `[name, api]` through `registrar`, connects it through its own `api` (the node
 * it is placed at), pushes it onto `members` (so the caller's cleanup closes whatever came up),
 * starts every voice and resolves once every peer is connected.
 */
export async function joinVoice(
  members: VoiceMember[],
  registrar: RoundtableApi,
  conferenceId: string,
  placed: readonly (readonly [string, RoundtableApi])[],
): Promise<VoiceMember[]> {
  const joined: VoiceMember[] = [];
  for (const [name, via] of placed) {
    const member = await voiceMember(registrar, conferenceId, name, via);
    members.push(member);
    joined.push(member);
  }
  for (const m of joined) m.session.start();
  await until(joined, () => joined.every((m) => m.engine.state === "connected"), "every peer connected");
  return joined;
}

export function closeMembers(members: VoiceMember[]): void {
  for (const m of members) {
    m.session.stop();
    m.client.close();
  }
}
