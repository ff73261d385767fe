#!/usr/bin/env bash
# Runs every check and every test; the tests run on loopback only (scripts/loopback.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

biome ci --error-on-warnings .
npm run build
tsc -p .
tsc -p src/client
tsc -p src/client/tsconfig.worker.json
tsc -p test/client
tsc -p test/e2e
tsc -p bench
exec scripts/loopback.sh vitest run "$@"
