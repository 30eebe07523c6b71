import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ConferenceClient, RoomModel } from "@roundtable/client-core";
import { RoomControls } from "../src/room/RoomControls.ts";

/** The audience rules need no socket and no audio: a client with a room is enough. */
function controls(): RoomControls {
  const client = { memberId: "me", room: new RoomModel() } as unknown as ConferenceClient;
  return new RoomControls(client);
}

describe("RoomControls: one audience for text and voice", () => {
  it("by default, picking seats picks whom the voice goes to, and clearing goes back to everyone", () => {
    const c = controls();
    assert.equal(c.voiceLinked, true);
    assert.equal(c.voiceTarget, "all");
    c.toggleRecipient("bob");
    c.toggleRecipient("cleo");
    assert.deepEqual([...c.selection], ["bob", "cleo"]);
    assert.deepEqual(c.voiceTarget, ["bob", "cleo"]);
    c.toggleRecipient("bob");
    assert.deepEqual(c.voiceTarget, ["cleo"]);
    c.clearRecipients();
    assert.equal(c.voiceTarget, "all");
  });

  it("setting the voice target while linked moves the pick too", () => {
    const c = controls();
    let selections = 0;
    c.on("selection", () => selections++);
    c.setVoiceTarget(["bob", "bob", "dan"]);
    assert.deepEqual(c.voiceTarget, ["bob", "dan"]);
    assert.deepEqual([...c.selection], ["bob", "dan"]);
    c.setVoiceTarget("all");
    assert.equal(c.selection.size, 0);
    assert.equal(selections, 2);
  });

  it("unlinked, texts follow the pick and the voice goes to everyone or its own target", () => {
    const c = controls();
    c.toggleRecipient("bob");
    c.setVoiceLinked(false);
    assert.equal(c.voiceTarget, "all", "unlinking goes back to everyone");
    c.toggleRecipient("cleo");
    assert.equal(c.voiceTarget, "all");
    c.setVoiceTarget(["dan"]);
    assert.deepEqual([...c.selection], ["bob", "cleo"], "the pick stays");
    c.setVoiceLinked(true);
    assert.deepEqual(c.voiceTarget, ["bob", "cleo"], "linking takes over the pick");
  });

  it("a whisper needs voice; mute and target calls are checked", () => {
    const c = controls();
    c.beginWhisper("bob");
    assert.equal(c.whisperTo, undefined);
    assert.equal(c.effectiveTarget, "all");
    c.setMuted(true);
    assert.equal(c.effectiveMuted, true);
    assert.throws(() => c.setVoiceTarget([]), TypeError);
    assert.throws(() => c.setMuted("yes" as unknown as boolean), TypeError);
    assert.equal(c.voiceInfo().status, "off");
  });
});
