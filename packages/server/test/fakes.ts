import { parseServerMessage, type ServerMessage } from "@roundtable/protocol";
import type {
  Clock,
  IdSource,
  MemberConnection,
  NormalisedAvatar,
  Scheduler,
} from "../src/conference/ports.ts";
import type {
  InboundPacket,
  OutboundPacket,
  PeerState,
  RepairStats,
  VoiceOffer,
  VoicePeer,
  VoicePeerFactory,
} from "../src/voice/ports.ts";

/** A clock that moves only when told. */
export class FakeClock implements Clock {
  constructor(public time = 1_800_000_000_000) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

/** Timers that fire only when the test runs them. */
export class ManualScheduler implements Scheduler {
  private tasks: { fn: () => void; cancelled: boolean }[] = [];
  schedule(fn: () => void, _ms: number): () => void {
    const task = { fn, cancelled: false };
    this.tasks.push(task);
    return () => {
      task.cancelled = true;
    };
  }
  runAll(): void {
    const tasks = this.tasks;
    this.tasks = [];
    for (const t of tasks) if (!t.cancelled) t.fn();
  }
  get pending(): number {
    return this.tasks.filter((t) => !t.cancelled).length;
  }
}

/** Predictable ids: conf-1, mem-2, ...; tokens are still unique. */
export function sequentialIds(): IdSource {
  let n = 0;
  return { id: () => `id${++n}`, token: () => `token-${++n}-${"x".repeat(24)}` };
}

/** A connection that records what it was sent, decoded. */
export class RecordingConnection implements MemberConnection {
  readonly received: ServerMessage[] = [];
  closedWith: { code: number; reason: string } | undefined;
  send(frame: Uint8Array): void {
    const parsed = parseServerMessage(new TextDecoder().decode(frame));
    if (!parsed.ok) throw new Error(`server sent an invalid message: ${parsed.error}`);
    this.received.push(parsed.value);
  }
  close(code: number, reason: string): void {
    this.closedWith = { code, reason };
  }
  ofType<T extends ServerMessage["type"]>(type: T): Extract<ServerMessage, { type: T }>[] {
    return this.received.filter((m): m is Extract<ServerMessage, { type: T }> => m.type === type);
  }
  texts(): string[] {
    return this.ofType("text").map((m) => m.text);
  }
}

export class MemoryAvatarStore {
  readonly saved = new Map<string, NormalisedAvatar>();
  async save(avatar: NormalisedAvatar): Promise<void> {
    this.saved.set(avatar.hash, avatar);
  }
  async read(hash: string): Promise<Uint8Array | undefined> {
    return this.saved.get(hash)?.bytes;
  }
}

/** An avatar as the normaliser would produce it, without running sharp. */
export function anAvatar(hash = "A".repeat(22), color = "#336699"): NormalisedAvatar {
  return { hash, bytes: new Uint8Array([1, 2, 3]), color };
}

/** A voice peer that records what the room sends it and lets the test speak through it. */
export class FakePeer implements VoicePeer {
  readonly offer: VoiceOffer = { sdp: "v=0", uplinkMid: "0", slots: ["1", "2"] };
  onPacket: (packet: InboundPacket) => void = () => {};
  onState: (state: PeerState) => void = () => {};
  onListenerLoss: (slot: number, fraction: number) => void = () => {};
  readonly sent: { slot: number; packet: OutboundPacket }[] = [];
  /** Every audience loss the room told this peer, oldest first. */
  readonly audienceLoss: number[] = [];
  closed = 0;
  async acceptAnswer(): Promise<void> {}
  async addCandidate(): Promise<void> {}
  send(slot: number, packet: OutboundPacket): void {
    this.sent.push({ slot, packet: { ...packet } });
  }
  setAudienceLoss(fraction: number): void {
    this.audienceLoss.push(fraction);
  }
  repairStats(): RepairStats {
    return { uplinkRed: false, uplinkNacks: 0, slotRed: this.offer.slots.map(() => false) };
  }
  close(): void {
    this.closed++;
  }
}

/** Hands out FakePeers and keeps them, newest last, for the test to drive. */
export class FakePeerFactory implements VoicePeerFactory {
  readonly peers: FakePeer[] = [];
  async create(): Promise<VoicePeer> {
    const peer = new FakePeer();
    this.peers.push(peer);
    return peer;
  }
}
