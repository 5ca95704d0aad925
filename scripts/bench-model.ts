/**
 * npm run bench:model — the model benchmark over the shared performance datasets, beside the
 * published numbers. For every system of published_mre.csv whose CSV is in the data folder,
 * at the papers' sample sizes (the n_train values of that table, = the README's), it runs the
 * published protocol (src/bench/model-bench.ts: N random training rows, test on all the
 * rest, MRE in %, 30 runs) with the tuned learner (src/model/learner.ts) and prints per
 * dataset: n | ours median | ours mean | RF median | DeepPerf median | DeepPerf mean |
 * ours ≤ RF? | ours ≤ DeepPerf?, then how many cells are at or below RF and DeepPerf.
 * Ours is compared at the published precision (rounded to 2 decimals); against DeepPerf like
 * for like (median with median, mean with mean; both must hold where both are published).
 * Also writes everything, per-run MREs included, to /tmp/shadowgate-bench-model.json.
 * Prints numbers; asserts nothing.
 *
 * Environment: BENCH_RUNS (default 30), BENCH_SEED (default 1), BENCH_DATASETS (e.g.
 * "x264,Apache"; default all), BENCH_BUDGET_MS (passed to the learner as budgetMs),
 * BENCH_DATA (default /work/shared/datasets/perf-prediction), BENCH_TREES_ONLY=1 (no ridge
 * trend: the forest as the KPI model uses it, see src/model/forest.ts).
 */
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { benchModel, formatMs, type BenchResult, type Fit, type SizeResult } from "../src/bench/model-bench.js";
import { readPerfData } from "../src/bench/perf-data.js";
import { publishedMre, publishedSizes, readPublished, type PublishedMre } from "../src/bench/published.js";
import { fitTuned } from "../src/model/learner.js";

const DATA = process.env.BENCH_DATA ?? "/work/shared/datasets/perf-prediction";
const OUT = "/tmp/shadowgate-bench-model.json";
const RUNS = wholeEnv("BENCH_RUNS", 30, 1);
const SEED = wholeEnv("BENCH_SEED", 1, 0);
const BUDGET_MS = process.env.BENCH_BUDGET_MS === undefined ? undefined : wholeEnv("BENCH_BUDGET_MS", 0, 1);
const ONLY = process.env.BENCH_DATASETS?.split(",").map((s) => s.trim()).filter(Boolean);

const TREES_ONLY = process.env.BENCH_TREES_ONLY === "1";
const fit: Fit = (X, y, seed) =>
  fitTuned(X, y, { seed, ...(BUDGET_MS === undefined ? {} : { budgetMs: BUDGET_MS }), ...(TREES_ONLY ? { grid: { trend: ["none"] } } : {}) });

const published = await readPublished(path.join(DATA, "published_mre.csv"));
const systems = [...publishedSizes(published)].filter(([system]) => (ONLY ? ONLY.includes(system) : true));
if (ONLY) for (const name of ONLY) if (!systems.some(([system]) => system === name)) fail(`BENCH_DATASETS: no published results for "${name}" (known: ${[...publishedSizes(published).keys()].join(", ")})`);

interface Cell {
  n: number;
  ours: { median: number; mean: number; p25: number; p75: number; fitMsMedian: number; fitMsMean: number; runs: number[] };
  published: Record<string, { mean?: number; median?: number }>;
  leRf: boolean | undefined;
  leDeepPerf: boolean | undefined;
}

const report: { generated: string; runs: number; seed: number; budgetMs: number | undefined; data: string; datasets: { dataset: string; file: string; rows: number; options: number; elapsedMs: number; cells: Cell[] }[]; summary?: unknown } = {
  generated: new Date().toISOString(),
  runs: RUNS,
  seed: SEED,
  budgetMs: BUDGET_MS,
  data: DATA,
  datasets: [],
};
const totals = { rf: { at: 0, of: 0 }, deepPerf: { at: 0, of: 0 } };

console.log(`# Model benchmark: the published protocol, ${RUNS} runs per cell, seed ${SEED}${BUDGET_MS === undefined ? "" : `, learner budget ${BUDGET_MS} ms`}\n`);
console.log("MRE in %. RF: scikit-learn RandomForest tuned by grid search, medians (DaL FSE'23); DeepPerf medians (DaL FSE'23) and means (DeepPerf ICSE'19). ≤ compares ours rounded to 2 decimals; vs DeepPerf like for like (both statistics where both are published).");

for (const [system, sizes] of systems) {
  const file = path.join(DATA, `${system}.csv`);
  if (!existsSync(file)) {
    console.error(`skipping ${system}: ${file} does not exist`);
    continue;
  }
  const data = await readPerfData(file);
  const t0 = performance.now();
  let tn = performance.now();
  const result: BenchResult = benchModel(data, {
    sizes,
    runs: RUNS,
    seed: SEED,
    fit,
    onRun: ({ n, run, runs }) => {
      if (run < runs) return;
      console.error(`${system} N=${n}: ${runs} runs in ${formatMs(performance.now() - tn)}`);
      tn = performance.now();
    },
  });
  const elapsedMs = performance.now() - t0;
  const cells = result.results.map((r) => cellOf(system, r, published));

  console.log(`\n## ${system} (${data.y.length} configurations, ${data.options.length} options; ${formatMs(elapsedMs)})\n`);
  console.log("| n | ours median | ours mean | RF median (published) | DeepPerf median | DeepPerf mean | ours ≤ RF? | ours ≤ DeepPerf? |");
  console.log("|---:|---:|---:|---:|---:|---:|:---:|:---:|");
  for (const c of cells) {
    const rf = c.published.RF?.median;
    const dp = c.published.DeepPerf ?? {};
    console.log(`| ${c.n} | ${c.ours.median.toFixed(2)} | ${c.ours.mean.toFixed(2)} | ${show(rf)} | ${show(dp.median)} | ${show(dp.mean)} | ${yesNo(c.leRf)} | ${yesNo(c.leDeepPerf)} |`);
  }
  console.log(`\nfit time (median per fit): ${cells.map((c) => `N=${c.n} ${formatMs(c.ours.fitMsMedian)}`).join(", ")}`);

  report.datasets.push({ dataset: system, file, rows: data.y.length, options: data.options.length, elapsedMs: Math.round(elapsedMs), cells });
  writeFileSync(OUT, JSON.stringify(report, null, 2));
}

report.summary = totals;
writeFileSync(OUT, JSON.stringify(report, null, 2));
console.log(`\n## Summary\n`);
console.log(`ours ≤ RF (published median): ${totals.rf.at} of ${totals.rf.of} cells`);
console.log(`ours ≤ DeepPerf (published median and/or mean): ${totals.deepPerf.at} of ${totals.deepPerf.of} cells`);
console.error(`written to ${OUT}`);

function cellOf(system: string, r: SizeResult, rows: readonly PublishedMre[]): Cell {
  const methods = [...new Set(rows.filter((p) => p.system === system && p.nTrain === r.n).map((p) => p.method))];
  const pub: Cell["published"] = {};
  for (const method of methods) {
    const mean = publishedMre(rows, { system, n: r.n, method, statistic: "mean" });
    const median = publishedMre(rows, { system, n: r.n, method, statistic: "median" });
    pub[method] = { ...(mean === undefined ? {} : { mean }), ...(median === undefined ? {} : { median }) };
  }
  const ours = { median: round2(r.mreMedian), mean: round2(r.mreMean) };
  const rfMedian = pub.RF?.median;
  const leRf = rfMedian === undefined ? undefined : ours.median <= rfMedian;
  const dp = pub.DeepPerf ?? {};
  const checks = [dp.median === undefined ? undefined : ours.median <= dp.median, dp.mean === undefined ? undefined : ours.mean <= dp.mean].filter((x): x is boolean => x !== undefined);
  const leDeepPerf = checks.length === 0 ? undefined : checks.every(Boolean);
  if (leRf !== undefined) {
    totals.rf.of++;
    if (leRf) totals.rf.at++;
  }
  if (leDeepPerf !== undefined) {
    totals.deepPerf.of++;
    if (leDeepPerf) totals.deepPerf.at++;
  }
  return {
    n: r.n,
    ours: { median: r.mreMedian, mean: r.mreMean, p25: r.mreP25, p75: r.mreP75, fitMsMedian: r.fitMsMedian, fitMsMean: r.fitMsMean, runs: r.mreRuns },
    published: pub,
    leRf,
    leDeepPerf,
  };
}

function round2(value: number): number {
  return Number(value.toFixed(2));
}

function show(value: number | undefined): string {
  return value === undefined ? "—" : value.toFixed(2);
}

function yesNo(value: boolean | undefined): string {
  return value === undefined ? "—" : value ? "yes" : "no";
}

function wholeEnv(name: string, fallback: number, min: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || !/^\d+$/.test(text.trim())) fail(`${name}: expected a whole number ≥ ${min}, got "${text}"`);
  return value;
}

function fail(message: string): never {
  console.error(`bench:model: ${message}`);
  process.exit(2);
}
