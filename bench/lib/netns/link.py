#!/usr/bin/python3
"""
Copied unchanged (but for this line) from /work/shared/tools/impair/link.py.

A userspace stand-in for `tc qdisc ... netem` between the harness's network namespaces.

This machine's kernel (6.18, Firecracker) is built without CONFIG_NET_SCH_NETEM (and without
clsact/gact/NFQUEUE), so `tc qdisc add ... netem` answers "Specified qdisc kind is unknown". This
process joins the namespaces with point-to-point TUN devices and copies IP packets between them,
applying netem's own model on the two impaired directions:

  rtq-spk:spk (10.77.1.2) <-> rtq-srv:s-spk (10.77.1.1)   speaker->server impaired ("up")
  rtq-srv:s-lst (10.77.2.1) <-> rtq-lst:lst (10.77.2.2)   server->listener impaired ("down")

rtq-srv routes between its two devices, so the direct browser-to-browser call crosses both impaired
directions too. The specs use netem's syntax and semantics:
  loss P%                         independent loss
  loss gemodel P R [1-H [1-K]]    Gilbert-Elliott, the transition taken before the loss draw (as netem)
  delay D [J] [distribution normal]
                                  per-packet delay D +- J, uniform by default, normal when asked
                                  (netem's table spans about +-4 sigma); negative delays send at once;
                                  packets leave in order of their send time, so jitter reorders (as
                                  netem's tfifo does)
It writes per-direction and per-UDP-flow counts to --stats on SIGTERM/SIGINT. Nothing is ever
routed out of these namespaces: rtq-srv has no default route and no link to the root namespace, and this process drops (and counts
as refusedOutside) any packet not addressed to 10.77.0.0/16.

  link.py --up "loss 5% delay 40ms 30ms distribution normal" --down "..." --stats f.json --ready f
"""
import argparse
import ctypes
import fcntl
import heapq
import json
import os
import random
import select
import signal
import struct
import subprocess
import sys
import time

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
libc = ctypes.CDLL("libc.so.6", use_errno=True)


def setns_fd(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def open_tun(ns, name, home_fd):
    target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        setns_fd(target)
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    finally:
        setns_fd(home_fd)
        os.close(target)
    return fd


def pct(s):
    return float(s.rstrip("%")) / 100.0


def ms(s):
    s = s.strip()
    if s.endswith("ms"):
        return float(s[:-2]) / 1000.0
    if s.endswith("us"):
        return float(s[:-2]) / 1e6
    if s.endswith("s"):
        return float(s[:-1])
    return float(s) / 1000.0


class Netem:
    """netem's loss (random or gemodel) and delay (uniform or normal jitter) for one direction."""

    def __init__(self, spec, rng):
        self.spec = spec.strip()
        self.rng = rng
        self.loss = 0.0
        self.ge = None
        self.delay = 0.0
        self.jitter = 0.0
        self.normal = False
        self.bad = False
        t = self.spec.split()
        i = 0
        while i < len(t):
            if t[i] == "loss":
                if t[i + 1] == "gemodel":
                    vals = []
                    j = i + 2
                    while j < len(t) and t[j].endswith("%"):
                        vals.append(pct(t[j]))
                        j += 1
                    p = vals[0]
                    r = vals[1] if len(vals) > 1 else 1.0 - p
                    one_h = vals[2] if len(vals) > 2 else 1.0
                    one_k = vals[3] if len(vals) > 3 else 0.0
                    self.ge = (p, r, one_h, one_k)
                    i = j
                else:
                    self.loss = pct(t[i + 1])
                    i += 2
            elif t[i] == "delay":
                self.delay = ms(t[i + 1])
                i += 2
                if i < len(t) and t[i][0].isdigit():
                    self.jitter = ms(t[i])
                    i += 1
                if i < len(t) and t[i].endswith("%"):
                    i += 1  # correlation: not modelled (the sweep uses none)
            elif t[i] == "distribution":
                if t[i + 1] != "normal":
                    raise SystemExit(f"only 'distribution normal' is modelled, not {t[i + 1]}")
                self.normal = True
                i += 2
            else:
                raise SystemExit(f"unknown netem token {t[i]!r} in {self.spec!r}")

    def lost(self):
        if self.ge is not None:
            p, r, one_h, one_k = self.ge
            if not self.bad:
                if self.rng.random() < p:
                    self.bad = True
                return self.rng.random() < one_k
            if self.rng.random() < r:
                self.bad = False
            return self.rng.random() < one_h
        return self.loss > 0 and self.rng.random() < self.loss

    def sample_delay(self):
        if self.jitter <= 0:
            return self.delay
        if self.normal:
            x = self.rng.gauss(0.0, 1.0)
            x = max(-4.0, min(4.0, x))
            d = self.delay + self.jitter * x
        else:
            d = self.delay + self.rng.uniform(-self.jitter, self.jitter)
        return max(0.0, d)


def flow_of(pkt):
    """'udp 10.77.1.2:5000>10.77.1.1:6000' for UDP over IPv4, else the protocol name."""
    if len(pkt) < 20 or pkt[0] >> 4 != 4:
        return "other"
    ihl = (pkt[0] & 15) * 4
    proto = pkt[9]
    src = ".".join(str(b) for b in pkt[12:16])
    dst = ".".join(str(b) for b in pkt[16:20])
    if proto == 17 and len(pkt) >= ihl + 4:
        sp, dp = struct.unpack("!HH", pkt[ihl : ihl + 4])
        return f"udp {src}:{sp}>{dst}:{dp}"
    return {6: "tcp", 1: "icmp"}.get(proto, f"ip{proto}") + f" {src}>{dst}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--up", default="", help="netem spec, speaker -> server")
    ap.add_argument("--down", default="", help="netem spec, server -> listener")
    ap.add_argument("--stats", required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--rtplog", help="write 'time flow pt seq ts len lost' per RTP packet (headers are clear in SRTP), and each DTLS datagram's records")
    a = ap.parse_args()
    rng = random.Random(a.seed)

    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    tuns = {
        "spk": open_tun("rtq-spk", "spk", home),
        "s-spk": open_tun("rtq-srv", "s-spk", home),
        "s-lst": open_tun("rtq-srv", "s-lst", home),
        "lst": open_tun("rtq-lst", "lst", home),
    }
    cmds = [
        "ip -n rtq-spk addr add 10.77.1.2 peer 10.77.1.1 dev spk",
        "ip -n rtq-spk link set spk up",
        "ip -n rtq-spk route add default via 10.77.1.1 dev spk",
        "ip -n rtq-srv addr add 10.77.1.1 peer 10.77.1.2 dev s-spk",
        "ip -n rtq-srv link set s-spk up",
        "ip -n rtq-srv addr add 10.77.2.1 peer 10.77.2.2 dev s-lst",
        "ip -n rtq-srv link set s-lst up",
        "ip -n rtq-lst addr add 10.77.2.2 peer 10.77.2.1 dev lst",
        "ip -n rtq-lst link set lst up",
        "ip -n rtq-lst route add default via 10.77.2.1 dev lst",
    ]
    for c in cmds:
        subprocess.run(c.split(), check=True)

    up = Netem(a.up, rng) if a.up.strip() else None
    down = Netem(a.down, rng) if a.down.strip() else None
    # in fd -> (out fd, impairment, direction name)
    routes = {
        tuns["spk"]: (tuns["s-spk"], up, "speaker->server"),
        tuns["s-spk"]: (tuns["spk"], None, "server->speaker"),
        tuns["s-lst"]: (tuns["lst"], down, "server->listener"),
        tuns["lst"]: (tuns["s-lst"], None, "listener->server"),
    }
    stats = {name: {"packets": 0, "lost": 0, "bytes": 0, "flows": {}} for _, _, name in routes.values()}
    heap = []
    seq = 0
    running = True
    started = time.monotonic()

    def stop(*_):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with open(a.ready, "w") as f:
        f.write(json.dumps({"pid": os.getpid(), "up": a.up, "down": a.down}))
    fds = list(routes)
    rtplog = open(a.rtplog, "w") if a.rtplog else None
    while running:
        now = time.monotonic()
        timeout = max(0.0, heap[0][0] - now) if heap else 0.5
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for fd in ready:
            out, imp, name = routes[fd]
            st = stats[name]
            while True:
                try:
                    pkt = os.read(fd, 65535)
                except BlockingIOError:
                    break
                except OSError:
                    break
                if not pkt:
                    break
                st["packets"] += 1
                st["bytes"] += len(pkt)
                # Guard: only the namespaces' own 10.77.0.0/16 addresses are ever a destination.
                # Anything else (e.g. a DNS query to the machine's resolver) is dropped here, counted.
                if len(pkt) < 20 or pkt[0] >> 4 != 4 or pkt[16] != 10 or pkt[17] != 77:
                    st["refusedOutside"] = st.get("refusedOutside", 0) + 1
                    continue
                fl = flow_of(pkt)
                fs = st["flows"].setdefault(fl, [0, 0])
                fs[0] += 1
                dropped = imp is not None and imp.lost()
                d = imp.sample_delay() if imp is not None and not dropped else 0.0
                if rtplog is not None and fl.startswith("udp"):
                    ihl = (pkt[0] & 15) * 4
                    u = pkt[ihl + 8 :]
                    if len(u) >= 13 and 20 <= u[0] <= 23 and u[1] == 0xFE:
                        # DTLS: every record of the datagram; handshake records with their fragment
                        recs, off = [], 0
                        while off + 13 <= len(u):
                            ct, ep = u[off], struct.unpack("!H", u[off + 3 : off + 5])[0]
                            ln = struct.unpack("!H", u[off + 11 : off + 13])[0]
                            body = u[off + 13 : off + 13 + ln]
                            if ct == 22 and ep == 0 and len(body) >= 12:
                                mt = body[0]
                                mlen = int.from_bytes(body[1:4], "big")
                                mseq = struct.unpack("!H", body[4:6])[0]
                                fo = int.from_bytes(body[6:9], "big")
                                fln = int.from_bytes(body[9:12], "big")
                                recs.append(f"hs{mt}#{mseq}[{fo}+{fln}/{mlen}]")
                            else:
                                recs.append(f"ct{ct}e{ep}:{ln}")
                            off += 13 + ln
                        rtplog.write(f"{now - started:.4f} {name} {fl.split()[1]} dtls {len(u)} {int(dropped)} +{d * 1000:.0f}ms {' '.join(recs)}\n")
                    if len(u) >= 12 and u[0] >> 6 == 2 and not 200 <= u[1] <= 206:
                        pt = u[1] & 0x7F
                        sq, ts = struct.unpack("!HI", u[2:8])
                        rtplog.write(f"{now - started:.4f} {name} {fl.split()[1]} {pt} {sq} {ts} {len(u)} {int(dropped)}\n")
                if dropped:
                    st["lost"] += 1
                    fs[1] += 1
                    continue
                seq += 1
                heapq.heappush(heap, (now + d, seq, out, pkt))
        now = time.monotonic()
        while heap and heap[0][0] <= now:
            _, _, out, pkt = heapq.heappop(heap)
            try:
                os.write(out, pkt)
            except OSError:
                pass
    for st in stats.values():
        # Keep the UDP flows that carried traffic worth reporting (RTP is 50 packets a second).
        st["flows"] = {k: {"packets": v[0], "lost": v[1]} for k, v in st["flows"].items() if v[0] >= 20}
    with open(a.stats, "w") as f:
        json.dump({"up": a.up, "down": a.down, "seconds": round(time.monotonic() - started, 1), "directions": stats}, f, indent=1)
    if rtplog is not None:
        rtplog.close()
    for fd in tuns.values():
        os.close(fd)


if __name__ == "__main__":
    sys.exit(main())
