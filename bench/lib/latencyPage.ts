/**
 * The standalone page of the latency benchmark: plain browser WebRTC and the Roundtable wire
 * protocol (voice-join / voice-offer / voice-answer / voice-candidate), nothing bundled. One page
 * per role, chosen by `?role=`:
 * - `sender`: the fake microphone (a 1 kHz burst every second) goes to the server as this member's
 *   voice and, on a second peer connection, straight to the `direct` page;
 * - `sfu`: a member listening through the server;
 * - `direct`: the other end of the direct browser-to-browser call.
 * Every page taps audio with an AudioWorklet that reports each burst onset (first loud sample after
 * 200 ms of quiet) on the shared clock `performance.timeOrigin + performance.now()`: the sender taps
 * its microphone, the receivers what WebRTC plays out.
 */

export const ONSET_WORKLET = `
class Onset extends AudioWorkletProcessor {
  constructor() { super(); this.quiet = 1e9; }
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      if (Math.abs(channel[i]) > 0.05) {
        if (this.quiet > 0.2 * sampleRate) this.port.postMessage({ time: currentTime + i / sampleRate });
        this.quiet = 0;
      } else this.quiet++;
    }
    return true;
  }
}
registerProcessor("onset", Onset);
`;

export const LATENCY_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>latency</title></head><body>
<script type="module">
const params = new URLSearchParams(location.search);
const role = params.get("role");
const bench = (window.bench = { role, onsets: [], state: "starting", errors: [], slots: {} });
const fail = (e) => { bench.errors.push(String(e && e.stack || e)); };
const ctx = new AudioContext({ latencyHint: "interactive", sampleRate: 48000 });
await ctx.audioWorklet.addModule("/onset.js");
await ctx.resume().catch(fail);

/** Time of a context-time instant on the wall clock shared by every page, in ms. */
function wallTime(contextTime) {
  const ts = ctx.getOutputTimestamp();
  const perf = ts.performanceTime ? ts.performanceTime + (contextTime - ts.contextTime) * 1000 : performance.now();
  return performance.timeOrigin + perf;
}
function tap(stream) {
  const source = ctx.createMediaStreamSource(stream);
  const node = new AudioWorkletNode(ctx, "onset");
  node.port.onmessage = (e) => bench.onsets.push(wallTime(e.data.time));
  source.connect(node);
  node.connect(ctx.destination);
}
/** Chrome routes a remote track into WebAudio only while a media element plays it (muted is fine). */
function play(track) {
  const audio = new Audio();
  audio.muted = true;
  audio.srcObject = new MediaStream([track]);
  audio.play().catch(fail);
  document.body.append(audio);
  tap(new MediaStream([track]));
}
function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => pc.addEventListener("icegatheringstatechange", () => {
    if (pc.iceGatheringState === "complete") resolve();
  }));
}

let mic;
if (role === "sender") {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  mic = stream.getAudioTracks()[0];
  tap(stream);
}

/** Voice through the Roundtable server, as a member. */
function connectionState(pc) {
  bench.state = pc.connectionState;
  if (pc.connectionState === "connected" && bench.connectedAt === undefined) bench.connectedAt = performance.now();
}
function joinServer(wsUrl) {
  bench.startedAt = performance.now();
  const ws = new WebSocket(wsUrl);
  let pc;
  ws.onmessage = async (event) => {
    const m = JSON.parse(event.data);
    try {
      if (m.type === "history") ws.send(JSON.stringify({ type: "voice-join" }));
      else if (m.type === "voice-slot") bench.slots[m.slot] = m.memberId;
      else if (m.type === "voice-offer") {
        pc?.close();
        pc = new RTCPeerConnection({ bundlePolicy: "max-bundle", iceServers: [] });
        bench.pc = pc;
        pc.onconnectionstatechange = () => connectionState(pc);
        pc.onicecandidate = (e) => {
          if (e.candidate) ws.send(JSON.stringify({ type: "voice-candidate", candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex }));
        };
        pc.ontrack = (e) => { if (e.transceiver.mid !== m.uplinkMid) play(e.track); };
        await pc.setRemoteDescription({ type: "offer", sdp: m.sdp });
        for (const t of pc.getTransceivers()) {
          if (t.mid === m.uplinkMid) {
            if (mic) { await t.sender.replaceTrack(mic); t.direction = "sendonly"; }
            else t.direction = "inactive";
          } else t.direction = "recvonly";
        }
        await pc.setLocalDescription(await pc.createAnswer());
        ws.send(JSON.stringify({ type: "voice-answer", sdp: pc.localDescription.sdp }));
      } else if (m.type === "error") bench.errors.push("server: " + m.code + " " + m.message);
    } catch (e) { fail(e); }
  };
}

/**
 * Direct calls: the sender offers (one connection per name; with RED preferred when asked, as a
 * browser-to-browser call can), the direct page answers; no trickling (gathering waits).
 */
bench.directs = {};
window.directOffer = async (name, red) => {
  const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle", iceServers: [] });
  bench.directs[name] = pc;
  const transceiver = pc.addTransceiver(mic, { direction: "sendonly" });
  if (red) {
    const codecs = RTCRtpSender.getCapabilities("audio").codecs;
    const isRed = (c) => c.mimeType.toLowerCase() === "audio/red";
    transceiver.setCodecPreferences([...codecs.filter(isRed), ...codecs.filter((c) => !isRed(c))]);
  }
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  return pc.localDescription.sdp;
};
window.directAnswer = async (name, sdp) => { await bench.directs[name].setRemoteDescription({ type: "answer", sdp }); };
window.directAccept = async (sdp) => {
  bench.startedAt = performance.now();
  const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle", iceServers: [] });
  bench.pc = pc;
  pc.onconnectionstatechange = () => connectionState(pc);
  pc.ontrack = (e) => play(e.track);
  await pc.setRemoteDescription({ type: "offer", sdp });
  await pc.setLocalDescription(await pc.createAnswer());
  await gathered(pc);
  return pc.localDescription.sdp;
};
/** Receive statistics of this page's main connection, summed over its audio streams. */
window.inbound = async () => {
  const out = {
    packetsReceived: 0, packetsLost: 0, jitterBufferDelay: 0, jitterBufferEmittedCount: 0,
    concealedSamples: 0, totalSamplesReceived: 0, nackCount: 0, bytesReceived: 0, headerBytesReceived: 0,
  };
  if (!bench.pc) return out;
  (await bench.pc.getStats()).forEach((s) => {
    if (s.type !== "inbound-rtp") return;
    for (const k of Object.keys(out)) out[k] += s[k] || 0;
  });
  return out;
};

/** What the receiver's reports told this page's sender about loss, in % (remote-inbound-rtp). */
window.toldLoss = async () => {
  let lost;
  if (bench.pc) (await bench.pc.getStats()).forEach((s) => {
    if (s.type === "remote-inbound-rtp" && s.fractionLost !== undefined) lost = s.fractionLost * 100;
  });
  return lost;
};

if (params.get("ws")) joinServer(params.get("ws"));
bench.ready = true;
</script>
</body></html>
`;
