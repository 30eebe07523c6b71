import assert from "node:assert/strict";
import { test } from "node:test";
import { announceOnSamePort } from "../src/voice/sfu/candidates.ts";
import { WeriftPeerFactory } from "../src/voice/sfu/WeriftPeer.ts";

/** The process's UDP sockets, as `address:port`. */
function udpSockets(): string[] {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.flatMap((h) => {
    const socket = h as { type?: string; address?: () => { address: string; port: number } };
    if (socket.type !== "udp4" || typeof socket.address !== "function") return [];
    const { address, port } = socket.address();
    return [`${address}:${port}`];
  });
}

const hostCandidates = (sdp: string) =>
  [...new Set(sdp.split("\r\n").filter((l) => l.startsWith("a=candidate:")))].map((l) => {
    const f = l.split(" ");
    return `${f[4]}:${f[5]}`;
  });

test("a member in voice holds one UDP socket, announced on every address", async (t) => {
  const factory = new WeriftPeerFactory({
    iceServers: [],
    listenAddress: undefined,
    announcedAddresses: ["127.0.0.1", "203.0.113.7"],
    portRange: undefined,
  });
  const before = new Set(udpSockets());
  const peer = await factory.create(4);
  t.after(() => peer.close());
  const opened = udpSockets().filter((s) => !before.has(s));
  assert.equal(opened.length, 1, `one socket, got ${opened.join(", ")}`);
  const port = opened[0]?.split(":")[1];
  const announced = hostCandidates(peer.offer.sdp);
  assert.ok(announced.includes(`127.0.0.1:${port}`), announced.join());
  assert.ok(announced.includes(`203.0.113.7:${port}`), "a public address rides on the same port");
  assert.ok(
    announced.every((a) => a.endsWith(`:${port}`)),
    announced.join(),
  );
  peer.close();
});

test("copies of a host candidate for other addresses are a little less preferred", () => {
  const sdp = [
    "v=0",
    "a=candidate:abc 1 udp 2116026367 127.0.0.1 5000 typ host generation 0",
    "a=mid:0",
  ].join("\r\n");
  assert.deepEqual(announceOnSamePort(sdp, ["198.51.100.2"]).split("\r\n"), [
    "v=0",
    "a=candidate:abc 1 udp 2116026367 127.0.0.1 5000 typ host generation 0",
    "a=candidate:abc1 1 udp 2116026366 198.51.100.2 5000 typ host generation 0",
    "a=mid:0",
  ]);
});

test("the candidate cap counts distinct candidates: one repeated in every m-line counts once", async (t) => {
  const factory = new WeriftPeerFactory({
    iceServers: [],
    listenAddress: "127.0.0.1",
    announcedAddresses: ["127.0.0.1"],
    portRange: undefined,
  });
  const peer = await factory.create(4);
  t.after(() => peer.close());
  const mids = [peer.offer.uplinkMid, ...peer.offer.slots];
  // aiortc's habit: every candidate again in each of the five m-lines, well over the old cap of 64 lines.
  for (let round = 0; round < 3; round++)
    for (const sdpMid of mids)
      for (let i = 0; i < 64; i++)
        await peer.addCandidate({
          candidate: `candidate:${i} 1 udp 2130706431 127.0.0.1 ${10_000 + i} typ host`,
          sdpMid,
        });
  await assert.rejects(
    peer.addCandidate({ candidate: "candidate:x 1 udp 1 127.0.0.1 20000 typ host", sdpMid: mids[0] }),
    /distinct ICE candidates/,
    "new ones past the cap are still refused",
  );
});
