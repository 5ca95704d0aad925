#!/usr/bin/env bash
# Everything a fresh clone needs before the demo or the tests: npm dependencies (from the
# lock file), a running Docker engine, and the local Node base image. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
stamp="node_modules/.shadowgate-lock-hash"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  echo "setup: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$lock_hash" >"$stamp"
else
  echo "setup: npm dependencies up to date" >&2
fi

bash scripts/ensure-docker.sh
bash scripts/build-base-image.sh
# Node 24 (the action's runtime on GitHub) for the end-to-end test of dist/
bash scripts/ensure-node24.sh >/dev/null
bash scripts/ensure-github-openapi.sh >/dev/null
