/** Messages between the benchmark's main thread and its client worker threads. */

export type ToWorker =
  /**
   * Close any previous clients, then open one WebSocket per URL, at most `concurrency` attaching at
   * once. Each client notes when the first frame starting with `watch` (default: the build message)
   * arrives.
   */
  | { type: "connect"; urls: string[]; concurrency: number; timeoutMs: number; watch?: string }
  /** Asks for the time the last frame of any kind arrived (to wait until the server has gone quiet). */
  | { type: "status" }
  /** Asks for the build arrivals so far, complete or not (on timeout). */
  | { type: "report" }
  /** Closes every client. */
  | { type: "close" };

export interface ConnectedReport {
  type: "connected";
  attached: number;
  failed: number;
  /** A few failure descriptions (close codes, errors). */
  errors: string[];
  /** Wall-clock ms (performance.timeOrigin + performance.now()). */
  lastAttachAt: number;
}

export interface StatusReport {
  type: "status";
  lastFrameAt: number;
  frames: number;
  bytes: number;
  open: number;
}

export interface BuiltReport {
  type: "built";
  /** Wall-clock ms at which each client had the complete watched frame, one per client that got it. */
  arrivals: number[];
  expected: number;
  /** Byte length of each build frame seen (all should be equal). */
  frameBytes: number[];
  /** One build frame as text, from the first worker only, for size and parse measurements. */
  sample?: string;
  /** Clients closed by the server or by errors since attaching. */
  unexpectedCloses: string[];
}

export type FromWorker =
  | { type: "ready" }
  | ConnectedReport
  | StatusReport
  | BuiltReport
  | { type: "closed"; closed: number }
  | { type: "fatal"; message: string };
