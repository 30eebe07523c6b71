import type { NatsConnection } from "@nats-io/transport-node";

/** Whether a NATS connection is up now: false from a disconnect until it has reconnected. */
export interface ConnectionState {
  readonly up: boolean;
}

/** Follows the connection's status events for as long as it lives. */
export function followConnection(nc: NatsConnection): ConnectionState {
  const state = { up: true };
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") state.up = false;
      else if (status.type === "reconnect") state.up = true;
    }
  })();
  return state;
}
