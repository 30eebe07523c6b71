import { createHmac } from "node:crypto";
import type { IceServer } from "@roundtable/protocol";
import type { Clock } from "../conference/ports.ts";

/** TURN with the REST API scheme coturn's `use-auth-secret` implements (draft-uberti-behave-turn-rest). */
export interface TurnConfig {
  /** `turn:` and `turns:` URLs, e.g. `turns:turn.example.org:443?transport=tcp`. */
  urls: string[];
  /** coturn's `static-auth-secret`. */
  secret: string;
  /** How long a credential stays valid, in seconds. */
  ttlS: number;
}

/**
 * The ICE servers handed to a member's peer connection with each voice offer: the configured STUN
 * servers and, with TURN configured, a credential that names the member and expires. No password
 * that outlives the TTL ever reaches a page.
 */
export class IceServers {
  constructor(
    private readonly stun: readonly IceServer[],
    private readonly turn: TurnConfig | undefined,
    private readonly clock: Clock,
  ) {}

  get hasTurn(): boolean {
    return this.turn !== undefined;
  }

  for(memberId: string): IceServer[] {
    if (!this.turn) return [...this.stun];
    const expiry = Math.floor(this.clock.now() / 1000) + this.turn.ttlS;
    const username = `${expiry}:${memberId}`;
    const credential = createHmac("sha1", this.turn.secret).update(username).digest("base64");
    return [...this.stun, { urls: [...this.turn.urls], username, credential }];
  }
}
