#!/usr/bin/env bash
# The one command that runs every test on a fresh clone: installs what it needs, then
# type-checks, checks that dist/ equals a fresh build, and runs the unit, integration
# (real Docker, real autocannon) and end-to-end (the bundled action) tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export TESTCONTAINERS_RYUK_DISABLED=true

bash scripts/setup.sh
echo "== type-check" >&2
npx tsc -p tsconfig.json
echo "== dist/ equals a fresh build" >&2
node scripts/bundle.mjs --check
echo "== tests" >&2
npx vitest run "$@"
