/**
 * Voice between nodes, without a network: the frame that crosses (read back exactly, anything
 * malformed refused), a room fed by a speaker at another node (slots, whispers, retargeting,
 * release), the speaker's room handing each packet to the relay once, and which nodes a speaker's
 * packets go to.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RemotePresence } from "../src/conference/RemotePresence.ts";
import { RemoteVoices } from "../src/conference/RemoteVoices.ts";
import type { InboundPacket } from "../src/voice/ports.ts";
import {
  decodeRelayFrame,
  encodePacketFrame,
  encodeTargetFrame,
  RelayFrameError,
  targetKey,
} from "../src/voice/relay/frame.ts";
import type { VoiceTarget } from "../src/voice/routing.ts";
import { type SlotNotice, VoiceRoom } from "../src/voice/VoiceRoom.ts";
import { FakeClock, FakePeer } from "./fakes.ts";

const packet = (seq: number, level = 30): InboundPacket => ({
  sequenceNumber: seq,
  timestamp: seq * 960,
  marker: seq === 1,
  payload: Buffer.from([0xfc, seq & 0xff, 0x01]),
  level,
  voiced: seq % 2 === 0,
});

describe("relay frames", () => {
  test("a packet frame reads back exactly, for everyone and for a whisper", () => {
    for (const target of ["all", ["b1", "c_2-x"]] as VoiceTarget[]) {
      const sent = packet(65535, 17);
      const frame = decodeRelayFrame(encodePacketFrame("conf1", "spk", target, sent));
      assert.equal(frame.kind, "packet");
      if (frame.kind !== "packet") return;
      assert.equal(frame.conferenceId, "conf1");
      assert.equal(frame.speakerId, "spk");
      assert.deepEqual(frame.target, target);
      assert.equal(frame.targetKey, targetKey(target));
      assert.deepEqual(
        { ...frame.packet, payload: [...frame.packet.payload] },
        {
          ...sent,
          payload: [...sent.payload],
        },
      );
    }
    const unknownVoiced = decodeRelayFrame(
      encodePacketFrame("c", "s", "all", { ...packet(3), voiced: undefined }),
    );
    assert.equal(unknownVoiced.kind === "packet" && unknownVoiced.packet.voiced, undefined);
  });

  test("a target frame reads back, and the keys of equal targets are equal", () => {
    const frame = decodeRelayFrame(encodeTargetFrame("c", "s", ["x", "y"]));
    assert.deepEqual(frame, {
      kind: "target",
      conferenceId: "c",
      speakerId: "s",
      target: ["x", "y"],
      targetKey: "x,y",
    });
    assert.equal(targetKey("all"), "*");
    assert.notEqual(targetKey(["x"]), targetKey("all"));
  });

  test("malformed frames are refused, never half read", () => {
    const good = encodePacketFrame("conf", "spk", ["a"], packet(5));
    for (let cut = 0; cut < good.length - 3; cut++)
      assert.throws(() => decodeRelayFrame(good.subarray(0, cut)), RelayFrameError, `cut at ${cut}`);
    const badKind = Buffer.from(good);
    badKind[0] = 9;
    assert.throws(() => decodeRelayFrame(badKind), RelayFrameError);
    const badId = Buffer.from(good);
    badId[2] = ".".charCodeAt(0);
    assert.throws(() => decodeRelayFrame(badId), RelayFrameError);
    assert.throws(() => encodePacketFrame("not.an.id", "s", "all", packet(1)), RelayFrameError);
    const trailing = Buffer.concat([encodeTargetFrame("c", "s", "all"), Buffer.from([0])]);
    assert.throws(() => decodeRelayFrame(trailing), RelayFrameError);
  });
});

describe("a room fed from another node", () => {
  function roomWith(ids: string[]) {
    const clock = new FakeClock();
    const room = new VoiceRoom(clock, { slots: 2, hysteresisDb: 6, minHoldMs: 1000, idleMs: 500 });
    const peers = new Map<string, FakePeer>();
    const notices = new Map<string, SlotNotice[]>();
    for (const id of ids) {
      const peer = new FakePeer();
      peers.set(id, peer);
      notices.set(id, []);
      room.join(id, peer, (n) => notices.get(id)?.push(n));
    }
    let seq = 0;
    const remote = (speaker: string, target: VoiceTarget) => {
      clock.advance(20);
      room.forwardRemote(speaker, target, targetKey(target), packet(++seq));
    };
    return { room, peers, notices, remote, received: (id: string) => peers.get(id)?.sent.length ?? 0 };
  }

  test("a remote voice to all reaches every listener here on an announced slot", () => {
    const { remote, received, notices } = roomWith(["b", "c"]);
    remote("a", "all");
    remote("a", "all");
    assert.equal(received("b"), 2);
    assert.equal(received("c"), 2);
    assert.deepEqual(notices.get("b"), [{ slot: 0, memberId: "a", whisper: false }]);
  });

  test("a remote whisper reaches only its listeners here, marked as a whisper", () => {
    const { remote, received, notices } = roomWith(["b", "c"]);
    remote("a", ["b", "z"]);
    assert.equal(received("b"), 1);
    assert.equal(received("c"), 0);
    assert.deepEqual(notices.get("b"), [{ slot: 0, memberId: "a", whisper: true }]);
  });

  test("a new target frees at once the slots of those no longer addressed; release frees the rest", () => {
    const { room, remote, received, notices } = roomWith(["b", "c"]);
    remote("a", "all");
    room.retargetRemote("a", ["b"], targetKey(["b"]));
    assert.deepEqual(notices.get("c")?.at(-1), { slot: 0, memberId: null, whisper: false });
    assert.deepEqual(notices.get("b")?.at(-1), { slot: 0, memberId: "a", whisper: true });
    remote("a", ["b"]);
    assert.equal(received("c"), 1, "nothing after the switch");
    assert.equal(room.remoteSpeakerCount, 1);
    room.releaseRemote("a");
    room.releaseRemote("a");
    assert.deepEqual(notices.get("b")?.at(-1), { slot: 0, memberId: null, whisper: false });
    assert.equal(room.remoteSpeakerCount, 0);
  });

  test("a listener joining here later hears a remote voice already under way", () => {
    const { room, remote, received } = roomWith(["b"]);
    remote("a", "all");
    const late = new FakePeer();
    room.join("d", late, () => {});
    remote("a", "all");
    assert.equal(late.sent.length, 1);
    assert.equal(received("b"), 2);
  });

  test("a local speaker's packet goes to the relay once, with its target, before local listeners", () => {
    const clock = new FakeClock();
    const order: string[] = [];
    const room = new VoiceRoom(clock, undefined, undefined, undefined, (speakerId, target) =>
      order.push(`relay ${speakerId} ${targetKey(target)}`),
    );
    const speaker = new FakePeer();
    const listener = new FakePeer();
    room.join("a", speaker, () => {});
    room.join("b", listener, () => {});
    listener.send = () => order.push("local b");
    speaker.onPacket(packet(1));
    room.setTarget("a", ["z"]);
    speaker.onPacket(packet(2));
    room.setMuted("a", true);
    speaker.onPacket(packet(3));
    assert.deepEqual(order, ["relay a *", "local b", "relay a z"], "muted: nothing relayed");
  });
});

describe("where a speaker's voice goes", () => {
  test("only to nodes hosting someone addressed, never for the speaker alone", () => {
    const presence = new RemotePresence();
    presence.apply("n2", { full: true, online: ["b", "a"], offline: [] }, 0);
    presence.apply("n3", { full: true, online: ["c"], offline: [] }, 0);
    presence.apply("n4", { full: true, online: ["a"], offline: [] }, 0);
    assert.deepEqual(presence.nodesHosting("all", "a"), ["n2", "n3"]);
    assert.deepEqual(presence.nodesHosting(["c"], "a"), ["n3"]);
    assert.deepEqual(presence.nodesHosting(["a"], "a"), []);
    const before = presence.version;
    presence.apply("n3", { full: false, online: [], offline: ["c"] }, 1);
    assert.ok(presence.version > before, "a change is seen by whoever cached destinations");
    assert.deepEqual(presence.nodesHosting(["c"], "a"), []);
  });

  test("a late 'voice off' from a node the member left does not hide their voice on the next", () => {
    const voices = new RemoteVoices();
    assert.equal(voices.apply({ node: "n2", memberId: "a", connected: true, muted: false }), true);
    assert.equal(voices.apply({ node: "n2", memberId: "a", connected: true, muted: false }), false);
    assert.equal(voices.apply({ node: "n3", memberId: "a", connected: true, muted: true }), true);
    assert.equal(voices.apply({ node: "n2", memberId: "a", connected: false, muted: false }), false);
    assert.deepEqual(voices.get("a"), { node: "n3", muted: true });
    assert.deepEqual(
      voices.dropNodesExcept((node) => node !== "n3"),
      ["a"],
    );
    assert.equal(voices.get("a"), undefined);
  });
});
