import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import {
  GenericNack,
  type MediaStreamTrack,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  type RTCRtpTransceiver,
  RtcpTransportLayerFeedback,
  RtpHeader,
  RtpPacket,
  useAudioLevelIndication,
  useSdesMid,
} from "werift";
import type { InboundPacket, OutboundPacket, VoicePeer } from "../src/voice/ports.ts";
import { WeriftPeerFactory } from "../src/voice/sfu/WeriftPeer.ts";

/**
 * The server's peer against a plain werift client over loopback: RED and NACK on the uplink and
 * on a slot, and the loss figures that flow both ways in receiver reports.
 */

const factory = new WeriftPeerFactory({
  iceServers: [],
  listenAddress: "127.0.0.1",
  announcedAddresses: ["127.0.0.1"],
  portRange: undefined,
});

const opus = () =>
  new RTCRtpCodecParameters({
    mimeType: "audio/opus",
    clockRate: 48000,
    channels: 2,
    payloadType: 111,
    rtcpFeedback: [{ type: "nack" }],
  });
const red = () =>
  new RTCRtpCodecParameters({
    mimeType: "audio/red",
    clockRate: 48000,
    channels: 2,
    payloadType: 63,
    parameters: "111/111",
    rtcpFeedback: [{ type: "nack" }],
  });

interface Client {
  pc: RTCPeerConnection;
  mic: RTCRtpTransceiver;
  /** The first slot's track, once the answer is taken. */
  slot: MediaStreamTrack;
  /** Drops what reaches the client on the first slot with these sequence numbers. */
  dropSlot: Set<number>;
  /** Drops what the client would put on the wire for these uplink sequence numbers. */
  dropUplink: Set<number>;
}

/** A werift client answering the server's offer, with or without RED; both ends connected. */
async function connect(peer: VoicePeer, withRed: boolean): Promise<Client> {
  const pc = new RTCPeerConnection({
    bundlePolicy: "max-bundle",
    iceUseIpv6: false,
    iceInterfaceAddresses: { udp4: "127.0.0.1" },
    iceAdditionalHostAddresses: ["127.0.0.1"],
    codecs: { audio: withRed ? [red(), opus()] : [opus()], video: [] },
    headerExtensions: { audio: [useSdesMid(), useAudioLevelIndication()], video: [] },
  });
  let slotTrack: MediaStreamTrack | undefined;
  pc.ontrack = ({ track, transceiver }) => {
    if (transceiver.mid === peer.offer.slots[0]) slotTrack = track;
  };
  await pc.setRemoteDescription({ type: "offer", sdp: peer.offer.sdp });
  for (const t of pc.iceTransports) t.connection.stunServer = undefined;
  const mic = pc.getTransceivers().find((t) => t.mid === peer.offer.uplinkMid);
  assert.ok(mic);
  mic.setDirection("sendonly");
  for (const t of pc.getTransceivers()) if (t !== mic) t.setDirection("recvonly");
  await pc.setLocalDescription(await pc.createAnswer());
  const connected = new Promise<void>((resolve) => {
    peer.onState = (state) => state === "connected" && resolve();
  });
  await peer.acceptAnswer(pc.localDescription?.sdp ?? "");
  await connected;
  if (pc.connectionState !== "connected")
    await new Promise<void>((resolve) =>
      pc.connectionStateChange.subscribe((s) => s === "connected" && resolve()),
    );
  assert.ok(slotTrack, "the client has a track for the first slot");
  const client: Client = { pc, mic, slot: slotTrack, dropUplink: new Set(), dropSlot: new Set() };
  const slotReceiver = pc.getTransceivers().find((t) => t.mid === peer.offer.slots[0])
    ?.receiver as unknown as {
    handleRtpBySsrc(packet: RtpPacket, extensions: unknown): void;
  };
  const handleRtp = slotReceiver.handleRtpBySsrc.bind(slotReceiver);
  slotReceiver.handleRtpBySsrc = (packet, extensions) => {
    if (!client.dropSlot.has(packet.header.sequenceNumber)) handleRtp(packet, extensions);
  };
  const transport = mic.sender.dtlsTransport;
  const sendRtp = transport.sendRtp.bind(transport);
  transport.sendRtp = async (payload, header) =>
    client.dropUplink.has(header.sequenceNumber) ? 0 : sendRtp(payload, header);
  return client;
}

/** A server peer and a client connected to it, both closed when the test ends. */
async function connected(t: TestContext, withRed: boolean): Promise<{ peer: VoicePeer; client: Client }> {
  const peer = await factory.create(2);
  t.after(() => peer.close());
  const client = await connect(peer, withRed);
  t.after(() => client.pc.close());
  return { peer, client };
}

/** Sends frames 1..n on the client's uplink, numbered from 1000; returns their payloads. */
async function speak(client: Client, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) {
    const header = new RtpHeader({ sequenceNumber: 999 + i, timestamp: 960 * i, payloadType: 111 });
    await client.mic.sender.sendRtp(new RtpPacket(header, Buffer.from(`frame ${i}`)));
  }
}

const outbound = (i: number, run = 1): OutboundPacket => ({
  sequenceNumber: 2000 + i,
  timestamp: 960 * i,
  marker: false,
  payload: Buffer.from(`slot frame ${i}`),
  level: 30,
  voiced: true,
  run,
});

/** Resolves with the first `count` values `subscribe` hands over. */
function collect<T>(count: number, subscribe: (push: (value: T) => void) => void): Promise<T[]> {
  return new Promise((resolve) => {
    const got: T[] = [];
    subscribe((value) => {
      got.push(value);
      if (got.length === count) resolve(got);
    });
  });
}

test("RED on the uplink: a lost frame is recovered before forwarding; only what RED cannot bring back is NACKed", {
  timeout: 30_000,
}, async (t) => {
  const { peer, client } = await connected(t, true);
  assert.match(peer.offer.sdp, /a=rtpmap:63 red\/48000\/2\r\n/);
  const nacked = collect<number[]>(1, (push) =>
    client.mic.sender.onGenericNack.subscribe((nack) => push(nack.lost)),
  );
  // Frames 2, 3 and 4 never reach the server (nor do retransmissions: werift's client would resend
  // them unwrapped from RED). werift's RED carries two frames back: 5 brings 3 and 4 back, not 2.
  for (const seq of [1001, 1002, 1003]) client.dropUplink.add(seq);
  const heard = collect<InboundPacket>(5, (push) => {
    peer.onPacket = push;
  });
  await speak(client, 6);
  const frames = (await heard).map((p) => `${p.sequenceNumber}:${p.payload.toString()}`).sort();
  assert.deepEqual(frames, ["1000:frame 1", "1002:frame 3", "1003:frame 4", "1004:frame 5", "1005:frame 6"]);
  assert.deepEqual(
    (await nacked)[0],
    [1001],
    "asked again for the frame RED could not recover, and only that",
  );
  const stats = peer.repairStats();
  assert.deepEqual([stats.uplinkRed, stats.slotRed], [true, [true, true]]);
  assert.ok(stats.uplinkNacks >= 1, "counted");
});

test("RED on a slot: a listener that took RED recovers a packet the slot lost", {
  timeout: 30_000,
}, async (t) => {
  const { peer, client } = await connected(t, true);
  const heard = collect<string>(5, (push) =>
    client.slot.onReceiveRtp.subscribe((rtp) => push(`${rtp.header.timestamp}:${rtp.payload.toString()}`)),
  );
  // Packet 3 is lost between server and listener: the listener has it from packet 4's redundancy.
  client.dropSlot.add(2003);
  for (const i of [1, 2, 3, 4, 5]) peer.send(0, outbound(i));
  assert.deepEqual((await heard).sort(), [
    "1920:slot frame 2",
    "2880:slot frame 3",
    "3840:slot frame 4",
    "4800:slot frame 5",
    "960:slot frame 1",
  ]);
});

test("a listener without RED gets plain Opus on its slots, and a NACK gets a packet again", {
  timeout: 30_000,
}, async (t) => {
  const { peer, client } = await connected(t, false);
  const heard: RtpPacket[] = [];
  let arrived = () => {};
  client.slot.onReceiveRtp.subscribe((rtp) => {
    heard.push(rtp);
    arrived();
  });
  const packets = (n: number) =>
    new Promise<void>((resolve) => {
      arrived = () => heard.length >= n && resolve();
      arrived();
    });
  for (const i of [1, 2, 3]) peer.send(0, outbound(i));
  await packets(3);
  assert.deepEqual(
    heard.map((p) => [p.header.payloadType, p.payload.toString()]),
    [1, 2, 3].map((i) => [111, `slot frame ${i}`]),
  );
  const nack = new GenericNack({ senderSsrc: 1, mediaSourceSsrc: heard[0]?.header.ssrc ?? 0, lost: [2002] });
  await client.mic.sender.dtlsTransport.sendRtcp([new RtcpTransportLayerFeedback({ feedback: nack })]);
  await packets(4);
  assert.equal(heard[3]?.header.sequenceNumber, 2002);
  assert.equal(heard[3]?.payload.toString(), "slot frame 2");
  assert.deepEqual(peer.repairStats().slotRed, [false, false]);
});

test("the speaker hears its listeners' loss combined with the uplink's; listeners' reports reach the room", {
  timeout: 30_000,
}, async (t) => {
  const { peer, client } = await connected(t, false);
  peer.setAudienceLoss(0.1);
  const listenerLoss = collect<[number, number]>(1, (push) => {
    peer.onListenerLoss = (slot, fraction) => fraction > 0 && push([slot, fraction]);
  });
  // One in ten lost on the uplink and on slot 0, for as long as it takes both reports to come.
  let i = 0;
  const timer = setInterval(() => {
    i++;
    if (i % 10 === 0) client.dropUplink.add(999 + i);
    const header = new RtpHeader({ sequenceNumber: 999 + i, timestamp: 960 * i, payloadType: 111 });
    client.mic.sender.sendRtp(new RtpPacket(header, Buffer.from(`frame ${i}`))).catch(() => {});
    if (i % 10 !== 0) peer.send(0, outbound(i));
  }, 20);
  t.after(() => clearInterval(timer));
  const sender = client.mic.sender as unknown as { handleRtcpPacket(p: unknown): void };
  const handle = sender.handleRtcpPacket.bind(sender);
  // Every report carries at least the listeners' 10%; once a report's interval has the uplink's
  // 10% in it too, it says about 19% (1 - 0.9 * 0.9), within a report's granularity.
  const told: number[] = [];
  const near19 = new Promise<void>((resolve) => {
    sender.handleRtcpPacket = (packet) => {
      handle(packet);
      for (const r of (packet as { reports?: { fractionLost: number }[] }).reports ?? []) {
        told.push(r.fractionLost / 256);
        if (Math.abs(r.fractionLost / 256 - 0.19) < 0.06) resolve();
      }
    };
  });
  await near19;
  assert.ok(
    told.every((f) => f >= 0.09),
    `never less than the listeners' loss: ${told.join(", ")}`,
  );
  const [[slot, loss]] = (await listenerLoss) as [[number, number]];
  assert.equal(slot, 0);
  assert.ok(Math.abs(loss - 0.1) < 0.06, `the listener reported ${loss}`);
  clearInterval(timer);
});
