#!/usr/bin/env bash
# Runs every check and every test. Browsers and servers in the tests must not
# reach the outside: where this process may create a network namespace (root
# with unshare, as in CI), the tests run inside one that only has loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

biome ci --error-on-warnings .
npm run build
tsc -p .
tsc -p src/client
tsc -p test/e2e

if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
  exec unshare -n sh -c 'ip link set lo up && exec vitest run "$@"' sh "$@"
fi
echo "note: no loopback-only network namespace here (needs root and unshare); running tests in the host network" >&2
exec vitest run "$@"
