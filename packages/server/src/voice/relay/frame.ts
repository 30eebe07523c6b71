import type { InboundPacket } from "../ports.ts";
import type { VoiceTarget } from "../routing.ts";

/**
 * What crosses between nodes for voice, as compact binary (one frame per packet per node, 50 per
 * second per speaker): a speaker's packet with what the receiving node's listener slots need, or a
 * speaker's new target (so another node frees the slots of those no longer addressed at once, not
 * on the next packet). Pure; checked on arrival like any other boundary.
 *
 * Layout (big-endian): kind u8 | conference id (u8 length + ASCII) | speaker id (idem) | target
 * count u16 (0xffff: everyone) + each id (idem) | for a packet: sequence u16, timestamp u32,
 * level u8, flags u8 (1 marker, 2 voiced known, 4 voiced), then the Opus payload.
 */
export type RelayFrame =
  | {
      kind: "packet";
      conferenceId: string;
      speakerId: string;
      target: VoiceTarget;
      /** The target as one comparable string: a receiving node recomputes audiences only when it changes. */
      targetKey: string;
      packet: InboundPacket;
    }
  | { kind: "target"; conferenceId: string; speakerId: string; target: VoiceTarget; targetKey: string };

const PACKET = 1;
const TARGET = 2;
const EVERYONE = 0xffff;
/** Larger than any Opus frame a voice sends (a 120 ms frame at 510 kbit/s is under 8 KB). */
const MAX_PAYLOAD = 8192;
const ID = /^[A-Za-z0-9_-]{1,64}$/;

export class RelayFrameError extends Error {}

/** The key two equal targets share: "*" for everyone, else the chosen ids in their order. */
export function targetKey(target: VoiceTarget): string {
  return target === "all" ? "*" : target.join(",");
}

function idsLength(target: VoiceTarget): number {
  if (target === "all") return 0;
  let n = 0;
  for (const id of target) n += 1 + id.length;
  return n;
}

function writeId(buffer: Buffer, offset: number, id: string): number {
  if (!ID.test(id)) throw new RelayFrameError(`not an id: ${id}`);
  buffer.writeUInt8(id.length, offset);
  buffer.write(id, offset + 1, "latin1");
  return offset + 1 + id.length;
}

function header(kind: number, conferenceId: string, speakerId: string, target: VoiceTarget, tail: number) {
  const size = 1 + 1 + conferenceId.length + 1 + speakerId.length + 2 + idsLength(target) + tail;
  const buffer = Buffer.allocUnsafe(size);
  buffer.writeUInt8(kind, 0);
  let offset = writeId(buffer, 1, conferenceId);
  offset = writeId(buffer, offset, speakerId);
  if (target === "all") offset = buffer.writeUInt16BE(EVERYONE, offset);
  else {
    offset = buffer.writeUInt16BE(target.length, offset);
    for (const id of target) offset = writeId(buffer, offset, id);
  }
  return { buffer, offset };
}

export function encodePacketFrame(
  conferenceId: string,
  speakerId: string,
  target: VoiceTarget,
  packet: InboundPacket,
): Buffer {
  const { buffer, offset } = header(PACKET, conferenceId, speakerId, target, 8 + packet.payload.length);
  let at = buffer.writeUInt16BE(packet.sequenceNumber & 0xffff, offset);
  at = buffer.writeUInt32BE(packet.timestamp >>> 0, at);
  at = buffer.writeUInt8(Math.min(127, Math.max(0, packet.level)), at);
  const flags = (packet.marker ? 1 : 0) | (packet.voiced === undefined ? 0 : 2 | (packet.voiced ? 4 : 0));
  at = buffer.writeUInt8(flags, at);
  packet.payload.copy(buffer, at);
  return buffer;
}

export function encodeTargetFrame(conferenceId: string, speakerId: string, target: VoiceTarget): Buffer {
  return header(TARGET, conferenceId, speakerId, target, 0).buffer;
}

/** Reads a frame from another node; throws RelayFrameError for anything malformed. */
export function decodeRelayFrame(bytes: Uint8Array): RelayFrame {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  let offset = 0;
  const need = (n: number) => {
    if (offset + n > buffer.length) throw new RelayFrameError("frame too short");
  };
  const readId = () => {
    need(1);
    const length = buffer.readUInt8(offset);
    need(1 + length);
    const id = buffer.toString("latin1", offset + 1, offset + 1 + length);
    if (!ID.test(id)) throw new RelayFrameError("malformed id");
    offset += 1 + length;
    return id;
  };
  need(1);
  const kind = buffer.readUInt8(0);
  offset = 1;
  if (kind !== PACKET && kind !== TARGET) throw new RelayFrameError(`unknown kind ${kind}`);
  const conferenceId = readId();
  const speakerId = readId();
  need(2);
  const count = buffer.readUInt16BE(offset);
  offset += 2;
  let target: VoiceTarget = "all";
  if (count !== EVERYONE) {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) ids.push(readId());
    target = ids;
  }
  const key = targetKey(target);
  if (kind === TARGET) {
    if (offset !== buffer.length) throw new RelayFrameError("trailing bytes");
    return { kind: "target", conferenceId, speakerId, target, targetKey: key };
  }
  need(8);
  const sequenceNumber = buffer.readUInt16BE(offset);
  const timestamp = buffer.readUInt32BE(offset + 2);
  const level = buffer.readUInt8(offset + 6);
  const flags = buffer.readUInt8(offset + 7);
  offset += 8;
  const payload = buffer.subarray(offset);
  if (level > 127 || payload.length === 0 || payload.length > MAX_PAYLOAD)
    throw new RelayFrameError("malformed packet");
  return {
    kind: "packet",
    conferenceId,
    speakerId,
    target,
    targetKey: key,
    packet: {
      sequenceNumber,
      timestamp,
      level,
      marker: (flags & 1) !== 0,
      voiced: (flags & 2) === 0 ? undefined : (flags & 4) !== 0,
      payload,
    },
  };
}
