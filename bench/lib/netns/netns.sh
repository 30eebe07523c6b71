#!/bin/bash
# Copied from /work/shared/tools/impair/netns.sh (the voice-quality harness's namespaces), unchanged
# but for this comment: makes or removes rtq-srv (server, router), rtq-spk (speaker browser) and
# rtq-lst (listener browsers). Nothing in the root namespace changes. Links: link.py beside this file.
#
#   netns.sh up | down
set -euo pipefail
NAMESPACES="rtq-srv rtq-spk rtq-lst"

up() {
  down
  for ns in $NAMESPACES; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    # `ip netns exec` mounts this over /etc/resolv.conf: name lookups (Chromium makes a few) stay on
    # the namespace's own loopback instead of being addressed to the machine's resolver.
    mkdir -p "/etc/netns/$ns"
    echo "nameserver 127.0.0.1" > "/etc/netns/$ns/resolv.conf"
  done
  ip netns exec rtq-srv sysctl -q -w net.ipv4.ip_forward=1
}

down() {
  for ns in $NAMESPACES; do
    if ip netns list | grep -qw "$ns"; then ip netns del "$ns"; fi
    rm -rf "/etc/netns/$ns"
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
