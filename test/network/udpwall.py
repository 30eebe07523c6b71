#!/usr/bin/python3
"""
A firewall that blocks all UDP between two network namespaces, in userspace.

This machine's kernel has no netem and no netfilter tools, so instead of a rule this process joins
the namespaces with a point-to-point TUN pair and copies IPv4 packets between them itself:

  <srv-ns>:<dev> (10.79.0.1)  <--- this process --->  <mem-ns>:<dev> (10.79.0.2)

Every UDP packet (IP protocol 17), in both directions, is dropped and counted; everything else (TCP,
ICMP) is copied unchanged. A packet that is not IPv4 or not addressed to 10.79.0.0/16 is refused and
counted, so nothing can leave the test's namespaces through here (the member's namespace routes
everything into this link, and the server's namespace has no other link at all).

  udpwall.py --srv-ns rt-turn-srv --mem-ns rt-turn-mem --ready FILE --stats FILE

Writes --ready (JSON with its pid) once both devices are up. Writes the counts as JSON to --stats on
SIGUSR1 (and goes on; "dump" numbers the writes) and on SIGTERM/SIGINT (then exits; "final": true):
per direction and protocol, packets forwarded and dropped; refused packets; the UDP flows dropped
most. Needs root (setns, /dev/net/tun, ip). One select() loop, idle at 5 wake-ups a second.
"""
import argparse
import ctypes
import fcntl
import json
import os
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
SRV_ADDR = "10.79.0.1"
MEM_ADDR = "10.79.0.2"
DEVICE = "rt-wall"
PROTOCOLS = {1: "icmp", 6: "tcp", 17: "udp"}
libc = ctypes.CDLL("libc.so.6", use_errno=True)


def setns(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def open_tun(ns, home):
    """A TUN device created inside namespace `ns` (the fd stays usable from here)."""
    target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        setns(target)
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", DEVICE.encode(), IFF_TUN | IFF_NO_PI))
    finally:
        setns(home)
        os.close(target)
    return fd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--srv-ns", required=True)
    ap.add_argument("--mem-ns", required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--stats", required=True)
    a = ap.parse_args()

    running = True
    dump_asked = False

    def stop(*_):
        nonlocal running
        running = False

    def ask_dump(*_):
        nonlocal dump_asked
        dump_asked = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGUSR1, ask_dump)
    # If the test process dies without stopping us, stop anyway (PR_SET_PDEATHSIG).
    libc.prctl(1, signal.SIGTERM)

    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    srv = open_tun(a.srv_ns, home)
    mem = open_tun(a.mem_ns, home)
    for cmd in [
        f"ip -n {a.srv_ns} addr add {SRV_ADDR} peer {MEM_ADDR} dev {DEVICE}",
        f"ip -n {a.srv_ns} link set {DEVICE} up",
        f"ip -n {a.mem_ns} addr add {MEM_ADDR} peer {SRV_ADDR} dev {DEVICE}",
        f"ip -n {a.mem_ns} link set {DEVICE} up",
        # Everything the member's namespace sends goes into this link, where only 10.79/16 passes.
        f"ip -n {a.mem_ns} route add default via {SRV_ADDR} dev {DEVICE}",
    ]:
        subprocess.run(cmd.split(), check=True)

    routes = {srv: (mem, "srv->mem"), mem: (srv, "mem->srv")}
    stats = {name: {"refused": 0} for _, name in routes.values()}
    udp_flows = {}
    started = time.monotonic()
    dumps = 0

    def dump(final):
        nonlocal dumps
        dumps += 1
        top = sorted(udp_flows.items(), key=lambda kv: -kv[1])[:10]
        tmp = a.stats + ".tmp"
        with open(tmp, "w") as f:
            json.dump(
                {
                    "dump": dumps,
                    "final": final,
                    "seconds": round(time.monotonic() - started, 1),
                    "directions": stats,
                    "droppedUdpFlows": dict(top),
                },
                f,
                indent=1,
            )
        os.replace(tmp, a.stats)
    with open(a.ready, "w") as f:
        json.dump({"pid": os.getpid()}, f)

    while running:
        if dump_asked:
            dump_asked = False
            dump(False)
        try:
            ready, _, _ = select.select(list(routes), [], [], 0.2)
        except InterruptedError:
            continue
        for fd in ready:
            out, name = routes[fd]
            st = stats[name]
            while True:
                try:
                    pkt = os.read(fd, 65535)
                except (BlockingIOError, OSError):
                    break
                if not pkt:
                    break
                if len(pkt) < 20 or pkt[0] >> 4 != 4 or pkt[16] != 10 or pkt[17] != 79:
                    st["refused"] += 1
                    continue
                proto = pkt[9]
                counts = st.setdefault(PROTOCOLS.get(proto, f"ip{proto}"), {"forwarded": 0, "dropped": 0})
                if proto == 17:
                    counts["dropped"] += 1
                    ihl = (pkt[0] & 15) * 4
                    if len(pkt) >= ihl + 4:
                        sport, dport = struct.unpack("!HH", pkt[ihl : ihl + 4])
                        src = ".".join(map(str, pkt[12:16]))
                        dst = ".".join(map(str, pkt[16:20]))
                        flow = f"{src}:{sport}>{dst}:{dport}"
                        udp_flows[flow] = udp_flows.get(flow, 0) + 1
                    continue
                try:
                    os.write(out, pkt)
                    counts["forwarded"] += 1
                except OSError:
                    counts["dropped"] += 1

    dump(True)
    os.close(srv)
    os.close(mem)


if __name__ == "__main__":
    sys.exit(main())
