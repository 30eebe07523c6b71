import assert from "node:assert/strict";
import { test } from "node:test";
import { runSoak, type SoakReport } from "../../bench/lib/soak.ts";
import { dataHeap } from "../../bench/lib/soakProbe.ts";

/**
 * Heap without compiled code may grow this much (after full GCs) from the baseline to the end, and
 * from the first checkpoint to the second. The first phase warms up what the one-round warm-up did
 * not reach (inline caches and feedback vectors live in the data heap too) and every newly
 * registered member is kept on purpose (records, rate-limiter buckets); measured for this very
 * soak on the 2-core machine: +1.5 to +1.6 MiB from the baseline, +0.05 to +0.19 MiB between the
 * checkpoints (9 joins). The limits are about 2.5 and 5 times that: they catch a leak of ~100 KiB
 * per join or more; the bench's per-round slope over minutes is the finer instrument.
 */
const DATA_HEAP_SLACK = 4 * 2 ** 20;
const WARM_DATA_HEAP_SLACK = 2 ** 20;
/** 20 ms frames per round: 0.3 s of tone. */
const FRAMES = 15;

test("a soak of bots joining, talking, whispering, writing and leaving leaves the server as it found it", {
  timeout: 180_000,
}, async () => {
  const report: SoakReport = await runSoak({
    rounds: 12,
    durationMs: 120_000,
    phases: 2,
    onlineMin: 4,
    onlineMax: 6,
    frames: FRAMES,
    seed: 7,
    settleTimeoutMs: 20_000,
    log: () => {},
  });
  const summary = JSON.stringify(report, null, 2);

  // The soak really ran: churn, voice to everyone and whispers, public and private texts.
  assert.equal(report.rounds, 12);
  assert.ok(report.joins > report.registeredBeforeBuild, "members joined beyond the first ones");
  assert.ok(report.registeredAfterBuild > 0, "members registered after the build");
  assert.ok(report.gracefulLeaves > 0 && report.abruptLeaves > 0, "both kinds of leaving happened");
  assert.ok(report.targetsAll > 0 && report.targetsWhisper > 0, "both kinds of target were used");
  assert.equal(report.sent, report.rounds * FRAMES, "the speakers sent every frame");
  assert.ok(report.textsPrivate > 0);

  // Nothing went where it was not addressed, and everything addressed arrived.
  assert.equal(report.misaddressed, 0, "packets reached bots outside the speaker's audience");
  assert.equal(report.attributedOutsideAudience, 0);
  assert.equal(report.targetsNotApplied, 0);
  assert.equal(report.shortfall, 0, "the audience missed packets");
  assert.equal(report.received, report.forwarded, "bots received what the server forwarded");
  assert.equal(report.texts.misdelivered, 0, `texts misdelivered: ${report.texts.examples.join("; ")}`);
  assert.equal(report.textsMissing, 0);

  // Leaving frees everything, at once on the server's maps...
  assert.equal(report.leftBehind, 0, "members still connected or in voice after leaving");
  assert.equal(report.roomMismatches, 0, "the voice room did not hold exactly the online bots");
  assert.ok(report.baseline.idle, "the warm-up left the server idle");
  for (const [i, c] of report.checkpoints.entries()) {
    const at = `checkpoint ${i + 1}`;
    assert.deepEqual(
      c.server,
      { connectedMembers: 0, voiceRooms: 0, voiceOwners: 0, addressBudgets: 0, openSockets: 0 },
      at,
    );
    // ...and, once the sockets have closed, in handles and timers (unref'ed ones too).
    assert.deepEqual(c.leftovers, [], `${at}: handles or timers left behind`);
    assert.deepEqual(c.resources, report.baseline.resources, at);
    assert.deepEqual(c.live, report.baseline.live, at);
    assert.ok(c.settled, at);
  }

  const [first, last] = [report.checkpoints[0], report.checkpoints.at(-1)];
  assert.ok(first && last && first !== last, "two checkpoints");
  const growth = dataHeap(last.heapSpaces) - dataHeap(report.baseline.heapSpaces);
  assert.ok(growth < DATA_HEAP_SLACK, `data heap grew ${growth} bytes from the baseline\n${summary}`);
  const warm = dataHeap(last.heapSpaces) - dataHeap(first.heapSpaces);
  assert.ok(warm < WARM_DATA_HEAP_SLACK, `data heap grew ${warm} bytes between checkpoints\n${summary}`);
});
