/**
 * The published protocol for performance prediction of configurable software (DeepPerf
 * ICSE'19, DaL FSE'23): for a sample size N, draw N configurations at random without
 * replacement as the training set, test on ALL remaining configurations, MRE =
 * mean(|predicted − actual| / |actual|) × 100; repeat with different samples and report the
 * mean and the median over the runs. Any tuning happens inside `fit`, on the training
 * sample only: the harness never shows the learner a test row before `predict`.
 *
 * Deterministic: the sample of run r at size N and the learner's seed depend only on
 * (seed, N, r), so `--sizes 16` alone gives the same numbers as 16 within `--sizes 16,32`.
 */
import { markdownTable } from "markdown-table";
import { mean, median, quantile } from "../core/stats.js";
import { deriveSeed, mulberry32 } from "../search/random.js";
import { PerfDataError, type PerfData } from "./perf-data.js";

/** A learner under benchmark: fits rows X (n × p) to targets y; must be deterministic given the seed. */
export type Fit = (X: number[][], y: number[], seed: number) => { predict(X: number[][]): number[] };

export interface BenchOptions {
  /** training sample sizes N, each smaller than the number of rows */
  sizes: readonly number[];
  /** repetitions per size (the papers use 30) */
  runs: number;
  seed: number;
  fit: Fit;
  /** called after every run (progress) */
  onRun?: (progress: { n: number; run: number; runs: number; mre: number; fitMs: number }) => void;
}

/** The outcome at one sample size; MREs are percentages (8.2 means 8.2 %). */
export interface SizeResult {
  n: number;
  runs: number;
  /** test rows per run (all rows not in the training sample) */
  testRows: number;
  mreMean: number;
  mreMedian: number;
  mreP25: number;
  mreP75: number;
  /** the MRE of every run, in run order */
  mreRuns: number[];
  /** wall time of `fit` (training and any tuning), ms */
  fitMsMean: number;
  fitMsMedian: number;
}

export interface BenchResult {
  /** the file's name without folder and extension, e.g. "x264" */
  dataset: string;
  file: string;
  rows: number;
  options: number;
  seed: number;
  results: SizeResult[];
}


/** Mean relative error in percent: mean(|p − a| / |a|) × 100. */
export function mrePercent(predicted: readonly number[], actual: readonly number[]): number {
  if (predicted.length !== actual.length) throw new Error(`MRE: ${predicted.length} predictions for ${actual.length} actual values`);
  let sum = 0;
  for (let i = 0; i < actual.length; i++) sum += Math.abs(predicted[i]! - actual[i]!) / Math.abs(actual[i]!);
  return (sum / actual.length) * 100;
}

/**
 * The rows of one run: `train` N distinct row indices drawn uniformly without replacement
 * (partial Fisher–Yates), `test` all the others in file order.
 */
export function splitSample(rows: number, n: number, seed: number): { train: number[]; test: number[] } {
  const rng = mulberry32(seed);
  const order = Array.from({ length: rows }, (_, i) => i);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(rng() * (rows - i));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const train = order.slice(0, n);
  const inTrain = new Uint8Array(rows);
  for (const i of train) inTrain[i] = 1;
  const test: number[] = [];
  for (let i = 0; i < rows; i++) if (!inTrain[i]) test.push(i);
  return { train, test };
}

/** The seeds of run `run` at size `n`: one for the sample, one for the learner. */
export function runSeeds(seed: number, n: number, run: number): { sample: number; fit: number } {
  return { sample: deriveSeed(seed, `sample:${n}:${run}`), fit: deriveSeed(seed, `fit:${n}:${run}`) };
}

/** The dataset's name as reported: the file name without folder and `.csv`. */
export function datasetName(file: string): string {
  const base = file.split(/[\\/]/).pop() ?? file;
  return base.replace(/\.csv$/i, "");
}

/** Fails (PerfDataError, naming the file) when a size leaves no row to test on. */
export function checkSizes(data: PerfData, sizes: readonly number[]): void {
  const rows = data.y.length;
  for (const n of sizes) {
    if (!(Number.isInteger(n) && n >= 1)) throw new Error(`sample size must be a whole number ≥ 1, got ${n}`);
    if (n >= rows)
      throw new PerfDataError(`${data.file}: ${rows} data rows, too few for a training sample of ${n}: the protocol needs at least ${n + 1} (N to train, the rest to test)`);
  }
}

/** Run the protocol for every size. */
export function benchModel(data: PerfData, options: BenchOptions): BenchResult {
  checkSizes(data, options.sizes);
  if (!(Number.isInteger(options.runs) && options.runs >= 1)) throw new Error(`runs must be a whole number ≥ 1, got ${options.runs}`);
  const rows = data.y.length;
  const results = options.sizes.map((n): SizeResult => {
    const mres: number[] = [];
    const fitMs: number[] = [];
    for (let run = 0; run < options.runs; run++) {
      const seeds = runSeeds(options.seed, n, run);
      const { train, test } = splitSample(rows, n, seeds.sample);
      // fresh copies: a learner that scales or mutates its input cannot touch the table
      const Xtrain = train.map((i) => data.X[i]!.slice());
      const ytrain = train.map((i) => data.y[i]!);
      const t0 = performance.now();
      const model = options.fit(Xtrain, ytrain, seeds.fit);
      const ms = performance.now() - t0;
      const predicted = model.predict(test.map((i) => data.X[i]!.slice()));
      if (!Array.isArray(predicted) || predicted.length !== test.length)
        throw new Error(`the learner returned ${Array.isArray(predicted) ? predicted.length : "no array of"} predictions for ${test.length} test rows (N = ${n}, run ${run + 1})`);
      const bad = predicted.findIndex((p) => typeof p !== "number" || !Number.isFinite(p));
      if (bad >= 0) throw new Error(`the learner predicted ${String(predicted[bad])} for a test row (N = ${n}, run ${run + 1})`);
      const mre = mrePercent(
        predicted,
        test.map((i) => data.y[i]!),
      );
      mres.push(mre);
      fitMs.push(ms);
      options.onRun?.({ n, run: run + 1, runs: options.runs, mre, fitMs: ms });
    }
    return {
      n,
      runs: options.runs,
      testRows: rows - n,
      mreMean: mean(mres),
      mreMedian: median(mres),
      mreP25: quantile(mres, 0.25),
      mreP75: quantile(mres, 0.75),
      mreRuns: mres,
      fitMsMean: mean(fitMs),
      fitMsMedian: median(fitMs),
    };
  });
  return { dataset: datasetName(data.file), file: data.file, rows, options: data.options.length, seed: options.seed, results };
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));

/**
 * The `--json` document: `{"dataset", "results": [{"n", "mre_mean", "mre_median", "runs", …}]}`
 * with the MREs in percent (like the published tables) and the fit times in ms.
 */
export function benchJson(result: BenchResult) {
  return {
    dataset: result.dataset,
    file: result.file,
    rows: result.rows,
    options: result.options,
    seed: result.seed,
    results: result.results.map((r) => ({
      n: r.n,
      mre_mean: round(r.mreMean, 4),
      mre_median: round(r.mreMedian, 4),
      mre_p25: round(r.mreP25, 4),
      mre_p75: round(r.mreP75, 4),
      runs: r.runs,
      test_rows: r.testRows,
      fit_ms_mean: round(r.fitMsMean, 1),
      fit_ms_median: round(r.fitMsMedian, 1),
    })),
  };
}

/** Milliseconds as "850 ms" or "2.4 s". */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(ms < 10 ? 1 : 0)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** The readable report: one line about the data, then one table row per size. */
export function benchTable(result: BenchResult): string {
  const header = ["N", "test rows", "MRE median %", "MRE mean %", "p25 %", "p75 %", "fit median", "fit mean"];
  const body = result.results.map((r) => [
    String(r.n),
    String(r.testRows),
    r.mreMedian.toFixed(2),
    r.mreMean.toFixed(2),
    r.mreP25.toFixed(2),
    r.mreP75.toFixed(2),
    formatMs(r.fitMsMedian),
    formatMs(r.fitMsMean),
  ]);
  const runs = result.results[0]?.runs ?? 0;
  return [
    `${result.dataset}: ${result.rows} configurations, ${result.options} options; ${runs} runs per sample size N (N random training rows, all the others to test), seed ${result.seed}`,
    "",
    markdownTable([header, ...body], { align: header.map(() => "r" as const) }),
    "",
    "MRE = mean(|predicted − actual| / actual) × 100 over the test rows of a run; mean, median and quartiles over the runs.",
  ].join("\n");
}
