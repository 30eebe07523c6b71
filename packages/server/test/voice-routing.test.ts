import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ListenerSlots, type SlotChange, type SlotPolicy } from "../src/voice/ListenerSlots.ts";
import { listenersOf, mayHear } from "../src/voice/routing.ts";
import { SlotStream } from "../src/voice/SlotStream.ts";

const connected = new Set(["a", "b", "c", "d"]);

describe("routing", () => {
  test("a voice to all reaches every connected member but the speaker", () => {
    assert.deepEqual(listenersOf("a", "all", connected), ["b", "c", "d"]);
  });

  test("a whisper reaches only the chosen members who are connected, never the speaker", () => {
    assert.deepEqual(listenersOf("a", ["b"], connected), ["b"]);
    assert.deepEqual(listenersOf("a", ["b", "b", "a", "zz"], connected), ["b"]);
    assert.deepEqual(listenersOf("a", ["a"], connected), []);
  });

  test("mayHear agrees with listenersOf", () => {
    for (const target of ["all", ["b"], ["c", "d"], ["a"]] as const)
      for (const listener of connected)
        assert.equal(mayHear("a", target, listener), listenersOf("a", target, connected).includes(listener));
  });
});

describe("slot streams", () => {
  test("sequence numbers stay contiguous and timestamps move on when the source changes", () => {
    const slot = new SlotStream(100);
    const out = [
      slot.rewrite("a", 5000, 480_000, 0),
      slot.rewrite("a", 5001, 480_960, 20),
      // b takes over 100 ms later with its own, unrelated numbering
      slot.rewrite("b", 60_000, 7, 120),
      slot.rewrite("b", 60_001, 967, 140),
      slot.rewrite("a", 5002, 481_920, 400),
    ];
    assert.deepEqual(
      out.map((p) => p.seq),
      [100, 101, 102, 103, 104],
    );
    const gaps = out.slice(1).map((p, i) => p.timestamp - (out[i]?.timestamp ?? 0));
    assert.deepEqual(gaps.slice(0, 3), [960, 100 * 48, 960], "the switch gap matches the 100 ms that passed");
    assert.ok((gaps[3] ?? 0) > 0);
  });

  test("loss and reordering within one source pass through unchanged", () => {
    const slot = new SlotStream(0);
    const a = slot.rewrite("a", 10, 0, 0);
    const c = slot.rewrite("a", 12, 1920, 40);
    const late = slot.rewrite("a", 11, 960, 45);
    const d = slot.rewrite("a", 13, 2880, 60);
    assert.deepEqual([a.seq, c.seq, late.seq, d.seq], [0, 2, 1, 3]);
    assert.equal(late.timestamp - a.timestamp, 960);
  });

  test("numbers wrap around at 16 and 32 bits", () => {
    const slot = new SlotStream(0xffff);
    const first = slot.rewrite("a", 0xfffe, 0xffff_fc40, 0);
    const second = slot.rewrite("a", 0xffff, 0, 20);
    const third = slot.rewrite("a", 0, 960, 40);
    assert.deepEqual([first.seq, second.seq, third.seq], [0xffff, 0, 1]);
    assert.equal(second.timestamp, (first.timestamp + 960) >>> 0);
  });
});

describe("listener slots", () => {
  const policy: SlotPolicy = { slots: 2, hysteresisDb: 6, minHoldMs: 1000, idleMs: 500 };
  /** Slots whose changes are recorded. */
  const record = () => {
    const changes: SlotChange[] = [];
    return { changes, slots: new ListenerSlots(policy, (c) => changes.push(c)) };
  };

  test("speakers take free slots and keep them", () => {
    const { changes, slots } = record();
    assert.equal(slots.admit("a", 30, 0), 0);
    assert.equal(slots.admit("b", 30, 0), 1);
    assert.equal(slots.admit("a", 30, 20), 0);
    assert.deepEqual(changes, [
      { slot: 0, speakerId: "a" },
      { slot: 1, speakerId: "b" },
    ]);
  });

  test("with every slot taken, a much louder speaker replaces the quietest after its hold", () => {
    const { changes, slots } = record();
    slots.admit("a", 20, 0); // loud
    slots.admit("b", 90, 0); // quiet
    assert.equal(slots.admit("c", 10, 400), undefined, "held slots are not taken before minHoldMs");
    for (let t = 1000; t < 1100; t += 20) {
      slots.admit("a", 20, t);
      slots.admit("b", 90, t);
    }
    assert.equal(slots.admit("c", 10, 1100), 1);
    assert.equal(slots.speakerIn(1), "c");
    assert.deepEqual(changes.at(-1), { slot: 1, speakerId: "c" });
  });

  test("hysteresis: a newcomer only slightly louder does not take a slot", () => {
    const { slots } = record();
    for (let t = 0; t <= 1200; t += 20) {
      slots.admit("a", 40, t);
      slots.admit("b", 40, t);
    }
    assert.equal(slots.admit("c", 37, 1220), undefined);
  });

  test("a silent (idle) occupant's slot goes to the next speaker", () => {
    const { slots } = record();
    slots.admit("a", 30, 0);
    slots.admit("b", 30, 0);
    slots.admit("a", 30, 600);
    assert.equal(slots.admit("c", 100, 600), 1, "b sent nothing for 600 ms");
  });

  test("release frees the slot and says so", () => {
    const { changes, slots } = record();
    slots.admit("a", 30, 0);
    slots.release("a");
    slots.release("a");
    assert.deepEqual(changes, [
      { slot: 0, speakerId: "a" },
      { slot: 0, speakerId: undefined },
    ]);
    assert.equal(slots.speakerIn(0), undefined);
  });
});

test("a slot given back to the same speaker after a pause continues its numbering and timeline", () => {
  const slot = new SlotStream(0);
  const first = slot.rewrite("a", 10, 9600, 0);
  slot.endRun();
  // a spoke on meanwhile (to someone else): its numbers moved on by 50 packets, 1 s of audio
  const again = slot.rewrite("a", 60, 9600 + 50 * 960, 1000);
  assert.equal(again.seq, (first.seq + 1) & 0xffff);
  assert.equal(again.timestamp - first.timestamp, 1000 * 48);
});

test("only candidates of addresses the peer listens on are announced", async () => {
  const { keepCandidates } = await import("../src/voice/sfu/candidates.ts");
  const sdp = [
    "v=0",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111",
    "a=candidate:1 1 udp 2130706431 192.0.2.2 40001 typ host",
    "a=candidate:2 1 udp 2130706431 127.0.0.1 40001 typ host",
    "a=end-of-candidates",
    "",
  ].join("\r\n");
  const kept = keepCandidates(sdp, new Set(["127.0.0.1"]));
  assert.doesNotMatch(kept, /192\.0\.2\.2/);
  assert.match(kept, /127\.0\.0\.1 40001 typ host\r\na=end-of-candidates\r\n$/);
});
