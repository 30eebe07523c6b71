import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { VoiceRelay } from "../voice/ports.ts";
import { type ConnectionState, followConnection } from "./connectionState.ts";

/** A node's voice subject. Node ids may hold dots (host names): base64url keeps one subject token. */
export const voiceSubject = (nodeId: string) => `rt.voice.${Buffer.from(nodeId).toString("base64url")}`;

/**
 * Voice between nodes over its own NATS connection, apart from control: NATS disconnects a slow
 * consumer, and a burst of voice must never cost a node its control events. Each node subscribes to
 * its own subject only, so a frame reaches exactly the nodes it is sent to.
 */
export class NatsVoiceRelay implements VoiceRelay {
  onFrame: (frame: Uint8Array) => void = () => {};
  /** While NATS is away, voice is dropped: replaying seconds of old speech after a reconnect helps nobody. */
  private readonly state: ConnectionState;
  private closed = false;

  private constructor(private readonly nc: NatsConnection) {
    this.state = followConnection(nc);
  }

  static async connect(url: string, nodeId: string): Promise<NatsVoiceRelay> {
    const options = {
      servers: url,
      name: `roundtable-voice-${nodeId}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // Reconnect quickly after a restart of nats-server: voice should come back within 2 s.
      reconnectJitter: 50,
      pingInterval: 5_000,
      // nats.js writes what was published in a microtask, which runs only after this node's own
      // fan-out to its listeners (milliseconds for hundreds): a limit of one byte writes each frame
      // at once, so other nodes start their fan-out in parallel. (Undocumented in the typings.)
      pendingLimit: 1,
    };
    const nc = await connect(options);
    const relay = new NatsVoiceRelay(nc);
    nc.subscribe(voiceSubject(nodeId), {
      callback: (error, message) => {
        if (!error) relay.onFrame(message.data);
      },
    });
    return relay;
  }

  get connected(): boolean {
    return this.state.up && !this.closed;
  }

  send(nodes: readonly string[], frame: Uint8Array): void {
    if (this.closed) return;
    if (!this.state.up) return;
    for (const node of nodes) this.nc.publish(voiceSubject(node), frame);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.nc.drain().catch(() => this.nc.close());
  }
}
