import { connect, type NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import type { ClusterBus, ClusterEvent } from "../conference/ports.ts";

const MemberRecordSchema = z.object({
  id: z.string(),
  conferenceId: z.string(),
  name: z.string(),
  tokenHash: z.string(),
  avatarHash: z.string(),
  avatarColor: z.string(),
  seat: z.number().int().nonnegative(),
  createdAt: z.number(),
});

/** What crosses the bus, checked on arrival like any other boundary. */
const Envelope = z.object({
  /** The publishing node: a node ignores its own events. */
  from: z.string(),
  event: z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("member-added"), member: MemberRecordSchema }),
    z.object({ kind: z.literal("built"), builtAt: z.number() }),
    z.object({ kind: z.literal("ended"), endedAt: z.number() }),
  ]),
});

/** Conference ids are URL-safe ids: they never hold NATS's separators or wildcards. */
const SAFE_ID = /^[A-Za-z0-9_-]+$/;

function subject(conferenceId: string): string {
  if (!SAFE_ID.test(conferenceId)) throw new Error(`not a conference id: ${conferenceId}`);
  return `rt.conference.${conferenceId}.events`;
}

/**
 * The cluster's control bus over NATS: one subject per conference, subscribed to while this node
 * holds the conference. Reconnects for ever; core NATS is at most once, which the domain allows for.
 */
export class NatsBus implements ClusterBus {
  private closed = false;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly nodeId: string,
  ) {}

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
    if (this.closed) return;
    // While NATS is away the client buffers what is published and sends it on reconnecting.
    this.nc.publish(subject(conferenceId), JSON.stringify({ from: this.nodeId, event }));
  }

  subscribe(conferenceId: string, handler: (event: ClusterEvent) => void): () => void {
    const subscription = this.nc.subscribe(subject(conferenceId), {
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
