import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import { type SlotNotice, VoiceRoom } from "../src/voice/VoiceRoom.ts";
import { FakeClock, FakePeer } from "./fakes.ts";

let clock: FakeClock;
let room: VoiceRoom;
const peers = new Map<string, FakePeer>();
const notices = new Map<string, SlotNotice[]>();
let seq = 0;

function join(id: string): FakePeer {
  const peer = new FakePeer();
  peers.set(id, peer);
  notices.set(id, []);
  room.join(id, peer, (n) => notices.get(id)?.push(n));
  return peer;
}

/** `speaker` sends one 20 ms packet at `level`; the clock moves 20 ms. */
function speak(speaker: string, level = 30): void {
  clock.advance(20);
  seq++;
  peers.get(speaker)?.onPacket({
    sequenceNumber: seq,
    timestamp: seq * 960,
    marker: false,
    payload: Buffer.from([seq & 0xff]),
    level,
    voiced: true,
  });
}

const received = (id: string) => peers.get(id)?.sent ?? [];

beforeEach(() => {
  clock = new FakeClock();
  room = new VoiceRoom(clock, { slots: 2, hysteresisDb: 6, minHoldMs: 1000, idleMs: 500 });
  peers.clear();
  notices.clear();
  seq = 0;
});

describe("voice room", () => {
  test("a voice to all reaches everyone else on a slot announced as carrying the speaker", () => {
    join("a");
    join("b");
    join("c");
    speak("a");
    speak("a");
    assert.equal(received("a").length, 0, "never the speaker");
    for (const id of ["b", "c"]) {
      assert.equal(received(id).length, 2);
      assert.deepEqual(notices.get(id), [{ slot: 0, memberId: "a", whisper: false }]);
    }
  });

  test("a whisper reaches only its target, marked as a whisper", () => {
    join("a");
    join("b");
    join("c");
    room.setTarget("a", ["b"]);
    speak("a");
    assert.equal(received("b").length, 1);
    assert.equal(received("c").length, 0);
    assert.deepEqual(notices.get("b"), [{ slot: 0, memberId: "a", whisper: true }]);
    assert.deepEqual(notices.get("c"), []);
  });

  test("narrowing the target mid-stream frees the slot of those no longer addressed at once", () => {
    join("a");
    join("b");
    join("c");
    speak("a");
    room.setTarget("a", ["b"]);
    assert.deepEqual(notices.get("c")?.at(-1), { slot: 0, memberId: null, whisper: false });
    assert.deepEqual(notices.get("b")?.at(-1), { slot: 0, memberId: "a", whisper: true });
    speak("a");
    assert.equal(received("c").length, 1, "nothing after the switch");
    room.setTarget("a", "all");
    speak("a");
    assert.equal(received("c").length, 2, "back to all reaches c again");
  });

  test("each listener's slot keeps contiguous sequence numbers across target changes", () => {
    join("a");
    join("b");
    join("c");
    speak("a");
    room.setTarget("a", ["c"]);
    speak("a");
    speak("a");
    room.setTarget("a", "all");
    speak("a");
    const seqs = received("c").map((r) => r.packet.sequenceNumber);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], ((seqs[i - 1] ?? 0) + 1) & 0xffff);
    const bSeqs = received("b").map((r) => r.packet.sequenceNumber);
    assert.equal(bSeqs.length, 2);
    assert.equal(
      bSeqs[1],
      ((bSeqs[0] ?? 0) + 1) & 0xffff,
      "b's slot did not skip although a whispered to c between",
    );
  });

  test("with more speakers than slots the loudest are heard", () => {
    join("listener");
    join("loud");
    join("louder");
    join("quiet");
    for (let i = 0; i < 60; i++) {
      speak("quiet", 90);
      speak("loud", 30);
    }
    for (let i = 0; i < 10; i++) speak("louder", 5);
    const carried = new Set(
      received("listener")
        .slice(-5)
        .map((r) => r.slot),
    );
    assert.ok(carried.size >= 1);
    const slotsNow = notices.get("listener") ?? [];
    const last = new Map(slotsNow.map((n) => [n.slot, n.memberId]));
    assert.deepEqual([...last.values()].sort(), ["loud", "louder"]);
  });

  test("muting stops forwarding and frees the speaker's slots", () => {
    join("a");
    join("b");
    speak("a");
    room.setMuted("a", true);
    speak("a");
    assert.equal(received("b").length, 1);
    assert.deepEqual(notices.get("b")?.at(-1), { slot: 0, memberId: null, whisper: false });
    room.setMuted("a", false);
    speak("a");
    assert.equal(received("b").length, 2);
  });

  test("a microphone flooding packets is cut back to a voice stream's rate", () => {
    join("a");
    join("b");
    for (let i = 0; i < 1000; i++) {
      seq++;
      peers.get("a")?.onPacket({
        sequenceNumber: seq,
        timestamp: seq,
        marker: false,
        payload: Buffer.alloc(1),
        level: 0,
        voiced: true,
      });
    }
    assert.equal(received("b").length, 150, "a burst of 3 s worth, then nothing");
    assert.equal(room.dropped, 850);
    clock.advance(1000);
    speak("a");
    assert.equal(received("b").length, 151, "the budget refills at a voice stream's rate");
  });

  test("a sender catching up after a 2.5 s stall loses nothing", () => {
    join("a");
    join("b");
    speak("a");
    clock.advance(2500);
    for (let i = 0; i < 125; i++) {
      seq++;
      peers.get("a")?.onPacket({
        sequenceNumber: seq,
        timestamp: seq * 960,
        marker: false,
        payload: Buffer.alloc(1),
        level: 30,
        voiced: true,
      });
    }
    assert.equal(received("b").length, 126);
    assert.equal(room.dropped, 0);
  });

  test("leaving closes the peer, frees slots elsewhere, and is idempotent", () => {
    const a = join("a");
    join("b");
    speak("a");
    room.leave("a");
    room.leave("a");
    assert.equal(a.closed, 1);
    assert.deepEqual(notices.get("b")?.at(-1), { slot: 0, memberId: null, whisper: false });
    a.onPacket({
      sequenceNumber: 1,
      timestamp: 1,
      marker: false,
      payload: Buffer.alloc(1),
      level: 0,
      voiced: true,
    });
    assert.equal(received("b").length, 1, "a closed peer's late packets go nowhere");
  });

  test("a rejoin keeps the member's target and mute state", () => {
    join("a");
    join("b");
    join("c");
    room.setTarget("a", ["b"]);
    const first = peers.get("a");
    join("a");
    assert.equal(first?.closed, 1);
    assert.deepEqual(room.targetOf("a"), ["b"]);
    speak("a");
    assert.equal(received("c").length, 0);
  });

  test("a voice is on once its first packet arrives, or once a muted member's peer connects", () => {
    const flowing: string[] = [];
    room = new VoiceRoom(clock, undefined, undefined, (id) => flowing.push(id));
    join("a");
    join("b");
    join("c");
    assert.deepEqual([room.isFlowing("a"), flowing], [false, []], "negotiating is not talking");
    speak("a");
    speak("a");
    assert.deepEqual(flowing, ["a"], "announced once");
    room.setMuted("b", true);
    assert.deepEqual(flowing, ["a"], "muted but not connected yet");
    room.peerConnected("b");
    room.peerConnected("c");
    assert.deepEqual(flowing, ["a", "b"], "a listener without a microphone is on, muted; c is not");
    join("a");
    assert.equal(room.isFlowing("a"), false, "a new peer starts off again");
  });

  test("a listener's reported loss on a slot reaches the speaker that slot carries, worst listener first", () => {
    join("a");
    const b = join("b");
    const c = join("c");
    speak("a");
    const slotOf = (id: string) => received(id)[0]?.slot ?? -1;
    b.onListenerLoss(slotOf("b"), 0.04);
    c.onListenerLoss(slotOf("c"), 0.12);
    b.onListenerLoss(slotOf("b"), 0.02);
    assert.deepEqual(peers.get("a")?.audienceLoss, [0.04, 0.12, 0.12]);
    b.onListenerLoss(1 - slotOf("b"), 0.5);
    assert.equal(peers.get("a")?.audienceLoss.length, 3, "a report on an empty slot is nobody's");
    assert.deepEqual(peers.get("b")?.audienceLoss, [], "nor does it land on the listener");
  });

  test("each listener's packets carry the slot's run, which changes with the speaker", () => {
    join("a");
    join("b");
    join("c");
    speak("a");
    clock.advance(600);
    speak("b");
    speak("b");
    const [first, second, third] = received("c").map((s) => [s.slot, s.packet.run]);
    assert.equal(first?.[0], second?.[0], "b took a's idle slot");
    assert.notEqual(first?.[1], second?.[1], "another speaker, another run: no redundancy from a");
    assert.deepEqual(third, second, "one run while b speaks");
  });
});
