/** Messages between the soak driver (main thread, beside the server) and its bot worker thread. */
import type { Audience } from "@roundtable/protocol";

export interface Credentials {
  memberId: string;
  token: string;
}

/** A text the driver asks a bot to write; `tag` is unique and travels in the text body. */
export interface TextOrder {
  from: string;
  to: Audience;
  tag: string;
}

export type ToSoakWorker =
  /** Creates a conference, registers `before` members, builds it. */
  | { type: "setup"; baseUrl: string; title: string; before: number }
  /** Takes over a conference set up by an earlier worker; `registered` members exist already. */
  | { type: "adopt"; baseUrl: string; conferenceId: string; registered: number }
  /** Registers members (after the build: newcomers). */
  | { type: "register"; count: number }
  /** Connects these members (text and voice); resolves once each peer is connected. */
  | { type: "join"; members: Credentials[] }
  /**
   * Closes these members. `abrupt`: the socket closes without a voice-leave first. Resolves once
   * every remaining bot sees them offline and out of voice.
   */
  | { type: "leave"; memberIds: string[]; abrupt: boolean }
  /**
   * Points the speaker's voice at `audience`, then writes a public text on the same socket: the
   * server handles one socket's frames in order, so once every bot has that text, the target is
   * applied and every listener has heard of its slot changes.
   */
  | { type: "aim"; speaker: string; audience: Audience; tag: string }
  /** The speaker talks for `frames` 20 ms frames; resolves once the audience got every packet sent. */
  | { type: "speak"; speaker: string; audience: Audience; frames: number }
  /** Writes the texts; resolves once every online addressee has each. */
  | { type: "write"; texts: TextOrder[] }
  | { type: "close" };

export interface ListenerDelta {
  memberId: string;
  /** RTP packets that reached this bot during the speech, whatever slot they came on. */
  packets: number;
  /** The same packets by the member their slot was bound to when each arrived. */
  byMember: Record<string, number>;
  /** Packets on a slot bound to nobody at arrival (the binding came later over the socket). */
  unbound: number;
}

export interface TextTally {
  /** Copies delivered to bots that the text was addressed to (live or in a history). */
  delivered: number;
  /** Copies that reached a bot neither addressed nor the sender, or whose `to` was not what was asked. */
  misdelivered: number;
  /** Descriptions of the first misdeliveries. */
  examples: string[];
}

export type FromSoakWorker =
  | { type: "ready" }
  | { type: "setup"; conferenceId: string; members: Credentials[] }
  | { type: "adopted" }
  | { type: "registered"; members: Credentials[] }
  | { type: "joined"; joinMs: number[] }
  | { type: "left" }
  | { type: "aimed" }
  | {
      type: "spoke";
      sent: number;
      listeners: ListenerDelta[];
      /** Addressees still short of `sent` packets when the wait gave up. */
      shortfall: number;
    }
  | { type: "written"; missing: number }
  | { type: "closed"; texts: TextTally }
  | { type: "fatal"; message: string };
