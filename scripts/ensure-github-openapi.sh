#!/usr/bin/env bash
# GitHub's own OpenAPI description, which the fake GitHub server in the tests validates every
# request against. The @octokit/openapi package is 385 MB (every GHES version), so it is not a
# dependency: fetch its tarball once from the npm registry (npm pack checks its integrity) and
# keep only generated/api.github.com.json. Idempotent; prints the file's path.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${SHADOWGATE_GITHUB_OPENAPI_VERSION:-23.0.2}"
DIR=".cache/github-openapi-$VERSION"
FILE="$DIR/api.github.com.json"
if [ ! -s "$FILE" ]; then
  mkdir -p "$DIR"
  echo "ensure-github-openapi: fetching @octokit/openapi@$VERSION from the npm registry" >&2
  tarball="$(cd "$DIR" && npm pack --silent "@octokit/openapi@$VERSION")"
  tar -xzf "$DIR/$tarball" -C "$DIR" --strip-components=2 package/generated/api.github.com.json
  rm -f "$DIR/$tarball"
fi
node -e 'const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); if (!d.openapi || !d.paths) throw new Error("not an OpenAPI description: " + process.argv[1])' "$FILE"
echo "$PWD/$FILE"
