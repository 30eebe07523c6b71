import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loopbackOpus } from "../src/audio/EchoSafeOutput.ts";

/** The audio section of an answer as Chromium 156 writes it (abridged). */
const answer = [
  "v=0",
  "o=- 1 2 IN IP4 127.0.0.1",
  "s=-",
  "t=0 0",
  "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9",
  "c=IN IP4 0.0.0.0",
  "a=mid:0",
  "a=recvonly",
  "a=rtpmap:111 opus/48000/2",
  "a=rtcp-fb:111 transport-cc",
  "a=fmtp:111 minptime=10;useinbandfec=1",
  "a=rtpmap:63 red/48000/2",
  "a=fmtp:63 111/111",
  "a=rtpmap:9 G722/8000",
  "",
].join("\r\n");

describe("loopbackOpus: the loopback's Opus", () => {
  it("asks for stereo at 510 kbit/s in 10 ms frames, keeping the other parameters", () => {
    const lines = loopbackOpus(answer).split("\r\n");
    const fmtp = lines.find((l) => l.startsWith("a=fmtp:111 "));
    assert.ok(fmtp);
    const params = new Map(
      fmtp
        .slice("a=fmtp:111 ".length)
        .split(";")
        .map((p) => p.split("=") as [string, string]),
    );
    assert.deepEqual(Object.fromEntries(params), {
      minptime: "10",
      useinbandfec: "1",
      stereo: "1",
      "sprop-stereo": "1",
      maxaveragebitrate: "510000",
    });
    assert.equal(lines.filter((l) => l === "a=ptime:10").length, 1);
    assert.equal(
      lines.find((l) => l.startsWith("a=fmtp:63 ")),
      "a=fmtp:63 111/111",
      "RED untouched",
    );
  });

  it("overrides what the answer says, and changes nothing without Opus", () => {
    const mono = answer.replace("a=fmtp:111 minptime=10;useinbandfec=1", "a=fmtp:111 stereo=0;minptime=20");
    const fmtp = loopbackOpus(mono)
      .split("\r\n")
      .find((l) => l.startsWith("a=fmtp:111 "));
    assert.match(fmtp ?? "", /stereo=1/);
    assert.match(fmtp ?? "", /minptime=10/);
    assert.doesNotMatch(fmtp ?? "", /stereo=0/);
    const noOpus = answer.replace("opus/48000/2", "telephone-event/48000");
    assert.equal(loopbackOpus(noOpus), noOpus);
  });

  it("is idempotent: applied twice it says the same", () => {
    assert.equal(loopbackOpus(loopbackOpus(answer)), loopbackOpus(answer));
  });
});
