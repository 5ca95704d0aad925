#!/usr/bin/env bash
# The demo on the bundled example workload: builds it, measures shadows with recorded
# traffic, trains the model and prints the recommendation. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
export TESTCONTAINERS_RYUK_DISABLED=true

bash scripts/setup.sh
node bin/shadowgate.js run --config fixtures/example/shadowgate.yml --json "${SHADOWGATE_DEMO_JSON:-/tmp/shadowgate-demo.json}" \
  --comment "${SHADOWGATE_DEMO_COMMENT:-/tmp/shadowgate-demo-comment.md}" "$@"
