#!/usr/bin/env bash
# Runs a command where its browsers and servers cannot reach past this machine:
# inside a network namespace that only has loopback, where this process may
# create one (root with unshare, as in CI). Elsewhere it says so and runs it as is.
set -euo pipefail
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
  exec unshare -n sh -c 'ip link set lo up && exec "$@"' sh "$@"
fi
echo "note: no loopback-only network namespace here (needs root and unshare); running in the host network" >&2
exec "$@"
