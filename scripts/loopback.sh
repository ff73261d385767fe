#!/usr/bin/env bash
# Runs a command where its browsers and servers cannot reach past this machine:
# inside a network namespace of its own, where this process may create one
# (root with unshare, as in CI). Elsewhere it says so and runs it as is.
#
# The namespace has loopback, where every server listens, and a default route
# that leads nowhere: a veth pair whose one end carries 192.0.2.1 (TEST-NET-1)
# and whose other end has no address and no peer namespace, so nothing sent
# there goes anywhere. Firefox needs that route: it gathers ICE candidates only
# on the address of its default route, and without one it connects to nobody.
# The name servers get routes that are unreachable, so that a DNS lookup still
# fails at once, as it does with loopback alone, instead of timing out.
set -euo pipefail
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
  exec unshare -n sh -c '
    set -e
    ip link set lo up
    ip link add rdv0 type veth peer name rdv1
    ip addr add 192.0.2.1/24 dev rdv0
    ip link set rdv0 up
    ip link set rdv1 up
    ip route add default dev rdv0
    for server in $(sed -n "s/^nameserver[[:space:]]*\([0-9.]*\)[[:space:]]*$/\1/p" /etc/resolv.conf 2>/dev/null); do
      case "$server" in 127.*) ;; *) ip route add unreachable "$server" 2>/dev/null || true ;; esac
    done
    exec "$@"' sh "$@"
fi
echo "note: no network namespace here (needs root and unshare); running in the host network" >&2
exec "$@"
