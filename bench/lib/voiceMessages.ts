/** Messages between the voice benchmarks' main thread and their bot worker threads. */

export interface BotCredentials {
  memberId: string;
  token: string;
  /** The node this bot connects to, when not the join message's. */
  baseUrl?: string;
  /** Notes when each packet arrives, by its payload, to compare arrivals between bots. */
  recordArrivals?: boolean;
}

/** One bot's arrivals: [payload key, wall-clock ms] for each distinct payload received. */
export interface BotArrivals {
  memberId: string;
  arrivals: [string, number][];
}

export type ToVoiceWorker =
  /** Connects these members and starts their voice; each bot counts packets but does not decode. */
  | {
      type: "join";
      baseUrl: string;
      conferenceId: string;
      members: BotCredentials[];
      concurrency: number;
      timeoutMs: number;
    }
  /** Every bot of this worker plays the WAV (the speaker worker holds one bot). */
  | { type: "play"; path: string; loops: number }
  | { type: "stop-play" }
  | { type: "counters" }
  | { type: "arrivals" }
  | { type: "close" };

export interface BotCounters {
  memberId: string;
  /** Packets and RTP bytes received, all slots together. */
  packets: number;
  bytes: number;
  /** Gaps in slot sequence numbers. */
  lost: number;
  late: number;
  /** Packets this bot's microphone sent. */
  sent: number;
  state: string;
}

export type FromVoiceWorker =
  | { type: "ready" }
  | { type: "joined"; connected: number; failed: number; errors: string[]; joinMs: number[] }
  | { type: "counters"; bots: BotCounters[]; at: number }
  | { type: "arrivals"; bots: BotArrivals[] }
  | { type: "played"; frames: number; sent: number; maxLateMs: number }
  | { type: "closed" }
  | { type: "fatal"; message: string };
