#!/usr/bin/python3
"""One Roundtable voice peer on aiortc, driven by line-delimited JSON.

The Node side (AiortcMediaEngine.ts) does the signalling with the product's
client core; this process does only the media: it answers the server's offer,
sends a WAV file (looped) or silence on the uplink m-line and decodes what
each slot m-line carries.

Commands, one JSON object a line on stdin:
  {"op": "answer", "offer": {"sdp", "uplinkMid", "slots"}, "iceServers": [...]}
  {"op": "mute", "muted": true}
  {"op": "stats"}
  {"op": "hangup"}  closes the peer connection only; the next answer opens one
  {"op": "close"}   closes it and ends the process (so does the end of stdin)
Events, one JSON object a line on stdout:
  {"ev": "answer", "sdp": "..."}
  {"ev": "state", "state": "connecting" | "connected" | "failed" | ...}
  {"ev": "ice", "state": "checking" | "completed" | "failed" | ...}
  {"ev": "levels", "levels": [rms 0..1 per slot],
   "frames": [frames decoded per slot]}
  {"ev": "stats", "slots": [{"packets": n, "frames": n}, ...]}
  {"ev": "error", "message": "...", "op": "<the failed command, if any>"}

Commands are handled one at a time, in order, so replies come in the order of
the commands.
"""

import argparse
import asyncio
import fractions
import json
import logging
import sys
import time
import wave

import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.stats import RTCInboundRtpStreamStats
from av import AudioFrame

RATE = 48000
FRAME_SAMPLES = RATE // 50  # 20 ms
LEVELS_EVERY_S = 0.025
# A slot that decoded no frame for this long reads as silent.
LEVEL_STALE_S = 0.1
MAX_LINE_BYTES = 1 << 20


def emit(event):
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def read_wav(path):
    """Reads a PCM WAV file as 48 kHz mono int16 samples.

    Channels are mixed down, other rates resampled linearly.
    """
    with wave.open(path, "rb") as w:
        channels = w.getnchannels()
        width = w.getsampwidth()
        rate = w.getframerate()
        raw = w.readframes(w.getnframes())
    if width == 1:
        samples = (np.frombuffer(raw, np.uint8).astype(np.float64) - 128) / 128
    elif width == 2:
        samples = np.frombuffer(raw, "<i2").astype(np.float64) / 32768
    elif width == 4:
        samples = np.frombuffer(raw, "<i4").astype(np.float64) / 2147483648
    else:
        raise ValueError(f"{path}: {8 * width}-bit samples are not supported")
    samples = samples.reshape(-1, channels).mean(axis=1)
    if rate != RATE and len(samples) > 1:
        count = int(len(samples) * RATE / rate)
        samples = np.interp(
            np.arange(count) * (rate / RATE), np.arange(len(samples)), samples
        )
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype(np.int16)
    return pcm if len(pcm) else np.zeros(FRAME_SAMPLES, np.int16)


class Microphone(MediaStreamTrack):
    """20 ms frames of 48 kHz mono in real time: PCM looped, or silence."""

    kind = "audio"

    def __init__(self, pcm=None):
        super().__init__()
        self.muted = False
        self._pcm = pcm
        self._offset = 0
        self._start = None
        self._timestamp = 0

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            self._timestamp += FRAME_SAMPLES
            wait = self._start + self._timestamp / RATE - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
        frame = AudioFrame.from_ndarray(
            self._next_samples().reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = RATE
        frame.pts = self._timestamp
        frame.time_base = fractions.Fraction(1, RATE)
        return frame

    def _next_samples(self):
        if self._pcm is None or self.muted:
            return np.zeros(FRAME_SAMPLES, np.int16)
        out = np.empty(FRAME_SAMPLES, np.int16)
        filled = 0
        while filled < FRAME_SAMPLES:
            take = min(FRAME_SAMPLES - filled, len(self._pcm) - self._offset)
            start = self._offset
            out[filled:filled + take] = self._pcm[start:start + take]
            filled += take
            self._offset = (self._offset + take) % len(self._pcm)
        return out


class Slot:
    """What one slot m-line decoded: frames, and the latest one's level."""

    def __init__(self):
        self.receiver = None
        self.frames = 0
        self.level = 0.0
        self.last_at = float("-inf")

    def current_level(self, now):
        return self.level if now - self.last_at <= LEVEL_STALE_S else 0.0


class Peer:
    def __init__(self, pcm):
        self.pcm = pcm
        self.pc = None
        self.mic = None
        self.slots = []
        self.tasks = []
        self.muted = False

    async def answer(self, offer, ice_servers):
        await self.close_pc()
        config = RTCConfiguration(
            # An explicit list, even empty: with None, aiortc adds
            # stun.l.google.com and waits for it while gathering.
            iceServers=[
                RTCIceServer(
                    urls=s["urls"],
                    username=s.get("username"),
                    credential=s.get("credential"),
                )
                for s in ice_servers
            ]
        )
        pc = RTCPeerConnection(configuration=config)
        self.pc = pc
        slot_mids = list(offer["slots"])
        self.slots = [Slot() for _ in slot_mids]

        @pc.on("connectionstatechange")
        def on_state():
            if pc is self.pc:
                emit({"ev": "state", "state": pc.connectionState})

        @pc.on("iceconnectionstatechange")
        def on_ice_state():
            if pc is self.pc:
                emit({"ev": "ice", "state": pc.iceConnectionState})

        await pc.setRemoteDescription(
            RTCSessionDescription(sdp=offer["sdp"], type="offer")
        )
        if pc is not self.pc:
            raise RuntimeError("superseded by a newer offer")
        uplink = None
        for transceiver in pc.getTransceivers():
            if transceiver.mid == offer["uplinkMid"]:
                uplink = transceiver
                transceiver.direction = "sendonly"
            elif transceiver.mid in slot_mids:
                transceiver.direction = "recvonly"
                index = slot_mids.index(transceiver.mid)
                self.slots[index].receiver = transceiver.receiver
                track = transceiver.receiver.track
                if track is not None:
                    self.tasks.append(
                        asyncio.ensure_future(self.listen(pc, index, track))
                    )
            else:
                transceiver.direction = "inactive"
        if uplink is None:
            raise ValueError(
                f"the offer has no m-line with mid {offer['uplinkMid']}"
            )
        self.mic = Microphone(self.pcm)
        self.mic.muted = self.muted
        uplink.sender.replaceTrack(self.mic)
        # Gathers every candidate before it resolves: the answer has them all.
        await pc.setLocalDescription(await pc.createAnswer())
        if pc is not self.pc:
            raise RuntimeError("superseded by a newer offer")
        self.tasks.append(asyncio.ensure_future(self.report_levels(pc)))
        return pc.localDescription.sdp

    async def listen(self, pc, index, track):
        slot = self.slots[index]
        while pc is self.pc:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            samples = frame.to_ndarray().astype(np.float64) / 32768
            if samples.size:
                slot.level = float(np.sqrt(np.mean(samples * samples)))
            else:
                slot.level = 0.0
            slot.last_at = time.monotonic()
            slot.frames += 1

    async def report_levels(self, pc):
        while pc is self.pc:
            now = time.monotonic()
            emit({
                "ev": "levels",
                "levels": [round(s.current_level(now), 5) for s in self.slots],
                "frames": [s.frames for s in self.slots],
            })
            await asyncio.sleep(LEVELS_EVERY_S)

    def set_muted(self, muted):
        self.muted = muted
        if self.mic is not None:
            self.mic.muted = muted

    async def stats(self):
        out = []
        for slot in self.slots:
            packets = 0
            if slot.receiver is not None and self.pc is not None:
                report = await slot.receiver.getStats()
                packets = sum(
                    s.packetsReceived
                    for s in report.values()
                    if isinstance(s, RTCInboundRtpStreamStats)
                )
            out.append({"packets": packets, "frames": slot.frames})
        return out

    async def close_pc(self):
        pc = self.pc
        self.pc = None
        self.slots = []
        for task in self.tasks:
            task.cancel()
        self.tasks = []
        if self.mic is not None:
            self.mic.stop()
            self.mic = None
        if pc is not None:
            await pc.close()
            emit({"ev": "state", "state": "closed"})


async def read_commands():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE_BYTES)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    while True:
        line = await reader.readline()
        if not line:
            return
        if line.strip():
            yield line


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--play", help="WAV file sent on the uplink, looped")
    parser.add_argument(
        "--debug", action="store_true", help="aiortc logs to stderr"
    )
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        stream=sys.stderr,
    )
    peer = Peer(read_wav(args.play) if args.play else None)
    try:
        async for line in read_commands():
            op = None
            try:
                command = json.loads(line)
                op = command.get("op")
                if op == "answer":
                    sdp = await peer.answer(
                        command["offer"], command.get("iceServers") or []
                    )
                    emit({"ev": "answer", "sdp": sdp})
                elif op == "mute":
                    peer.set_muted(bool(command.get("muted")))
                elif op == "stats":
                    emit({"ev": "stats", "slots": await peer.stats()})
                elif op == "hangup":
                    await peer.close_pc()
                elif op == "close":
                    break
                else:
                    raise ValueError(f"unknown op {op!r}")
            except Exception as error:  # reported; the process goes on
                message = f"{type(error).__name__}: {error}"
                emit({"ev": "error", "op": op, "message": message})
    finally:
        await peer.close_pc()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
