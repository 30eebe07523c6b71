import { connect, type NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import type { ClusterBus, ClusterEvent } from "../conference/ports.ts";
import { type ConnectionState, followConnection } from "./connectionState.ts";

const MemberRecordSchema = z.object({
  id: z.string(),
  conferenceId: z.string(),
  name: z.string(),
  tokenHash: z.string(),
  avatarHash: z.string(),
  avatarColor: z.string(),
  seat: z.number().int().nonnegative(),
  createdAt: z.number(),
  role: z.enum(["member", "co-host"]),
  hostMuted: z.boolean(),
  removedAt: z.number().nullable(),
});

const MessageRecordSchema = z.object({
  id: z.string(),
  conferenceId: z.string(),
  seq: z.number().int().positive(),
  from: z.string(),
  to: z.union([z.literal("all"), z.array(z.string())]),
  text: z.string(),
  sentAt: z.number(),
  clientId: z.string().nullable(),
});

/** What crosses the bus, checked on arrival like any other boundary. */
const Envelope = z.object({
  /** The publishing node: a node ignores its own events. */
  from: z.string(),
  event: z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("member-added"), member: MemberRecordSchema }),
    z.object({ kind: z.literal("built"), builtAt: z.number() }),
    z.object({ kind: z.literal("ended"), endedAt: z.number() }),
    z.object({ kind: z.literal("text"), message: MessageRecordSchema }),
    z.object({ kind: z.literal("text-skip"), seq: z.number().int().positive() }),
    z.object({
      kind: z.literal("presence"),
      node: z.string(),
      full: z.boolean(),
      online: z.array(z.string()),
      offline: z.array(z.string()),
    }),
    z.object({ kind: z.literal("roll-call") }),
    z.object({ kind: z.literal("member-changed"), member: MemberRecordSchema }),
    z.object({ kind: z.literal("locked"), locked: z.boolean() }),
    z.object({
      kind: z.literal("voice-state"),
      node: z.string(),
      memberId: z.string(),
      connected: z.boolean(),
      muted: z.boolean(),
    }),
  ]),
});

/** Conference ids are URL-safe ids: they never hold NATS's separators or wildcards. */
const SAFE_ID = /^[A-Za-z0-9_-]+$/;

function safe(id: string): string {
  if (!SAFE_ID.test(id)) throw new Error(`not an id: ${id}`);
  return id;
}

const subject = (conferenceId: string) => `rt.conference.${safe(conferenceId)}.events`;
const memberSubject = (conferenceId: string, memberId: string) =>
  `rt.conference.${safe(conferenceId)}.member.${safe(memberId)}`;

/**
 * The cluster's control bus over NATS: one subject per conference, subscribed to while this node
 * holds the conference. Reconnects for ever; core NATS is at most once, which the domain allows for.
 */
export class NatsBus implements ClusterBus {
  private closed = false;
  private readonly state: ConnectionState;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly nodeId: string,
  ) {
    this.state = followConnection(nc);
  }

  /** Whether the connection to NATS is up now (metrics). */
  get connected(): boolean {
    return this.state.up && !this.closed;
  }

  static async connect(url: string, nodeId: string): Promise<NatsBus> {
    const nc = await connect({
      servers: url,
      name: `roundtable-control-${nodeId}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    return new NatsBus(nc, nodeId);
  }

  publish(conferenceId: string, event: ClusterEvent): void {
    this.send(subject(conferenceId), event);
  }

  /** NATS routes a member's subject only to the nodes subscribed to it: those the member is on. */
  publishToMembers(conferenceId: string, memberIds: readonly string[], event: ClusterEvent): void {
    for (const memberId of new Set(memberIds)) this.send(memberSubject(conferenceId, memberId), event);
  }

  subscribe(conferenceId: string, handler: (event: ClusterEvent) => void): () => void {
    return this.listen(subject(conferenceId), handler);
  }

  subscribeMember(
    conferenceId: string,
    memberId: string,
    handler: (event: ClusterEvent) => void,
  ): () => void {
    return this.listen(memberSubject(conferenceId, memberId), handler);
  }

  private send(to: string, event: ClusterEvent): void {
    if (this.closed) return;
    // While NATS is away the client buffers what is published and sends it on reconnecting. One
    // connection publishes everything, so a subscriber gets one node's events in publish order.
    this.nc.publish(to, JSON.stringify({ from: this.nodeId, event }));
  }

  private listen(to: string, handler: (event: ClusterEvent) => void): () => void {
    const subscription = this.nc.subscribe(to, {
      callback: (error, message) => {
        if (error) return;
        let raw: unknown;
        try {
          raw = message.json();
        } catch {
          return;
        }
        const parsed = Envelope.safeParse(raw);
        if (!parsed.success || parsed.data.from === this.nodeId) return;
        handler(parsed.data.event);
      },
    });
    return () => subscription.unsubscribe();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.nc.drain().catch(() => this.nc.close());
  }
}
