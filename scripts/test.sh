#!/usr/bin/env bash
# The one command that runs every test on a fresh clone: installs what it needs, then
# type-checks, checks that dist/ equals a fresh build, and runs the unit, integration
# (real Docker, real autocannon) and end-to-end (the bundled action) tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export TESTCONTAINERS_RYUK_DISABLED=true

bash scripts/setup.sh
# An interrupted earlier run (killed before its cleanup) can leave labelled shadows behind,
# which the leak checks below would report as this run's: remove them first.
leftovers="$(docker ps -aq --filter label=shadowgate)"
if [ -n "$leftovers" ]; then
  echo "== removing $(echo "$leftovers" | wc -l) shadow container(s) left by an interrupted run" >&2
  docker rm -f $leftovers >/dev/null
fi
images="$(docker images -q --filter label=shadowgate | sort -u)"
if [ -n "$images" ]; then
  echo "== removing $(echo "$images" | wc -l) shadow image(s) left by an interrupted run" >&2
  docker rmi -f $images >/dev/null
fi
echo "== type-check" >&2
npx tsc -p tsconfig.json
echo "== dist/ equals a fresh build" >&2
node scripts/bundle.mjs --check
echo "== tests (Node $(node --version))" >&2
reports="$(mktemp -d -t shadowgate-vitest-XXXXXX)"
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$reports/node20.json" "$@" || status=$?
# the action runs on node24 on GitHub: the pure core's tests run there too (the e2e test
# already runs the bundled action on both)
node24="$(bash scripts/ensure-node24.sh)"
echo "== unit tests (Node $("$node24" --version))" >&2
"$node24" node_modules/vitest/vitest.mjs run --project unit --reporter=default --reporter=json --outputFile.json="$reports/node24.json" || status=$?
# one plain closing line that any CI reads: "N passed, N failed[, N skipped]"
node -e '
  const fs = require("fs");
  const total = { passed: 0, failed: 0, skipped: 0, all: 0 };
  for (const file of process.argv.slice(1)) {
    if (!fs.existsSync(file)) { total.failed++; console.error(`no report: ${file}`); continue; }
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    total.passed += r.numPassedTests; total.failed += r.numFailedTests;
    total.skipped += (r.numPendingTests || 0) + (r.numTodoTests || 0); total.all += r.numTotalTests;
  }
  console.log(`${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ""}`);
  if (total.all === 0) { console.error("no test ran"); process.exit(1); }
' "$reports/node20.json" "$reports/node24.json" || status=1
rm -rf "$reports"
exit "$status"
