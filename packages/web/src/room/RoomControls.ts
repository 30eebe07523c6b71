import { type ConferenceClient, Emitter } from "@roundtable/client-core";
import type { Audience, TextMessage } from "@roundtable/protocol";

export interface RoomControlEvents extends Record<string, unknown> {
  /** The voice target or the mute state changed. */
  voice: undefined;
}

/** What pages and tests can drive from the console or Playwright: `window.roundtable`. */
export interface RoundtableGlobal {
  readonly memberId: string | undefined;
  sendText(to: Audience, text: string): Promise<TextMessage>;
  setVoiceTarget(to: Audience): void;
  setMuted(muted: boolean): void;
}

declare global {
  interface Window {
    roundtable?: RoundtableGlobal;
  }
}

/**
 * The one place a member's actions in the room go through, whether they come from the UI or from
 * `window.roundtable`. Voice state lives here so the voice layer can subscribe to it without the
 * components knowing about audio.
 */
export class RoomControls extends Emitter<RoomControlEvents> {
  voiceTarget: Audience = "all";
  muted = true;

  constructor(private readonly client: ConferenceClient) {
    super();
  }

  get memberId(): string | undefined {
    return this.client.memberId;
  }

  sendText(to: Audience, text: string): Promise<TextMessage> {
    return this.client.sendText(checkAudience(to), text);
  }

  setVoiceTarget(to: Audience): void {
    this.voiceTarget = checkAudience(to);
    this.emit("voice", undefined);
  }

  setMuted(muted: boolean): void {
    if (typeof muted !== "boolean") throw new TypeError("setMuted takes true or false");
    if (this.muted === muted) return;
    this.muted = muted;
    this.emit("voice", undefined);
  }

  /** Exposes the controls as `window.roundtable`; returns the function that removes them. */
  install(target: Window): () => void {
    const controls = this;
    const facade: RoundtableGlobal = {
      get memberId() {
        return controls.memberId;
      },
      sendText: (to, text) => controls.sendText(to, text),
      setVoiceTarget: (to) => controls.setVoiceTarget(to),
      setMuted: (muted) => controls.setMuted(muted),
    };
    target.roundtable = facade;
    return () => {
      if (target.roundtable === facade) delete target.roundtable;
    };
  }
}

/** Calls from the console are untyped; a clear error beats a confusing one from the server. */
function checkAudience(to: Audience): Audience {
  if (to === "all") return "all";
  if (Array.isArray(to) && to.length > 0 && to.every((id) => typeof id === "string" && id.length > 0))
    return [...new Set(to)];
  throw new TypeError('the audience must be "all" or a non-empty array of member ids');
}
