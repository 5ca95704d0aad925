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
report="$(mktemp -t shadowgate-vitest-XXXXXX.json)"
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
# one plain closing line that any CI reads: "N passed, N failed[, N skipped]"
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = (r.numPendingTests || 0) + (r.numTodoTests || 0);
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ""}`);
  if (r.numTotalTests === 0) { console.error("no test ran"); process.exit(1); }
' "$report" || status=1
rm -f "$report"
exit "$status"
