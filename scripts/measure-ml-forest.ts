/**
 * npx tsx scripts/measure-ml-forest.ts — can ml-random-forest 2.1.0 (src/model/ml-forest-engine.ts)
 * meet the model targets on this machine? The evidence for docs/adr/003-forest-engine.md.
 *
 *  1. Speed and size on 1,000 synthetic trials × 20 features (10 binary flags, 4 integer-level
 *     and 6 continuous parameters, a latency-like target with interactions and 3% noise):
 *     training time (median of repetitions) over trees 20/50/100, depth 6/10/∞, minNumSamples
 *     2/5/10, rows per tree (the library's bagging of all 1,000 rows, or a subsample drawn by
 *     the engine) and features per tree; prediction time for 100,000 rows (the engine's
 *     compiled walk of the library's trees, and the library's own `predictionValues` for a
 *     few settings); `JSON.stringify(toJSON()).length` and its gzip size; and the MRE on 2,000
 *     held-out synthetic rows (trained on ln y, predicted exp).
 *     Settings whose forest would take more than ~4 s are timed on 5-tree forests and scaled
 *     linearly in the number of trees (trees are grown independently); those rows say "≈".
 *  2. Accuracy on the shared datasets under the published protocol (N random rows train, all
 *     the rest test, MRE = mean |pred − actual| / actual × 100, median over runs), at the
 *     README's five sample sizes per system, with settings that also meet the speed target,
 *     target log-transformed; beside scikit-learn's tuned RF (published medians).
 *
 *  3. (argument `unbudgeted`) The same protocol without the speed target on the four largest
 *     cells (HSMGP 480/864, VP8 467/830): every tree on the library's bagging of all N rows.
 *
 * Prints markdown; asserts nothing. Arguments: `speed`, `accuracy` (default both), `unbudgeted`.
 * On the 2-core machine: speed ~10 min, accuracy ~8 min, unbudgeted ~4 min.
 * Environment: MEASURE_RUNS (accuracy runs per cell, default 10), MEASURE_REPS (timing
 * repetitions, default 5), MEASURE_UNBUDGETED_RUNS (default 5), MEASURE_SEED (default 1), MEASURE_DATA (default
 * /work/shared/datasets/perf-prediction), MEASURE_OUT (JSON of everything, default
 * /tmp/shadowgate-measure-ml-forest.json).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { fitMlForestWith, type MlForestRegressor, type MlForestTuning } from "../src/model/ml-forest-engine.js";
import type { ForestParams } from "../src/model/regressor.js";
import { deriveSeed, mulberry32, randomInt, type Rng } from "../src/search/random.js";

const DATA = process.env.MEASURE_DATA ?? "/work/shared/datasets/perf-prediction";
const OUT = process.env.MEASURE_OUT ?? "/tmp/shadowgate-measure-ml-forest.json";
const RUNS = whole("MEASURE_RUNS", 10);
const REPS = whole("MEASURE_REPS", 5);
const SEED = whole("MEASURE_SEED", 1);
const UNBUDGETED_RUNS = whole("MEASURE_UNBUDGETED_RUNS", 5);
const args = process.argv.slice(2);
const doSpeed = args.length === 0 || args.includes("speed");
const doAccuracy = args.length === 0 || args.includes("accuracy");
for (const a of args) if (!["speed", "accuracy", "unbudgeted"].includes(a)) throw new Error(`unknown argument "${a}" (expected speed, accuracy, unbudgeted)`);
/** a forest predicted to take longer than this is timed on 5 trees and scaled */
const DIRECT_LIMIT_MS = 4000;

function whole(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name}: expected a whole number ≥ 1, got ${raw}`);
  return v;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const fmtMs = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const fmtBytes = (b: number): string => (b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : `${(b / 1e3).toFixed(0)} kB`);
const depthLabel = (d: number): string => (Number.isFinite(d) ? String(d) : "∞");
const mre = (pred: readonly number[], actual: readonly number[]): number =>
  (pred.reduce((s, p, i) => s + Math.abs(p - (actual[i] as number)) / Math.abs(actual[i] as number), 0) / pred.length) * 100;

const require = createRequire(import.meta.url);
const version = (pkg: string): string => (require(`${pkg}/package.json`) as { version: string }).version;
const out: Record<string, unknown> = {
  generated: new Date().toISOString(),
  machine: {
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    node: process.version,
    loadavgAtStart: os.loadavg(),
    "ml-random-forest": version("ml-random-forest"),
    "ml-cart": version("ml-cart"),
  },
};
console.log(`# ml-random-forest ${version("ml-random-forest")} (ml-cart ${version("ml-cart")}) on this machine\n`);
console.log(`${os.cpus()[0]?.model ?? "?"}, ${os.cpus().length} cores, Node ${process.version}, load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(" / ")}\n`);

// ---------------------------------------------------------------------------------------
// 1. Synthetic trials

/**
 * n configurations × 20 features and a latency-like KPI (ms): 10 on/off flags, 4 integer
 * parameters (pool 1–64 in powers of two, workers 1–8, batch 1/10/100/1000, retries 0–5)
 * and 6 continuous ones (CPU share, memory MiB, timeout, cache MiB, GC ratio, compression),
 * with interactions (pool × CPU, cache flag × cache size, two flags together, a memory
 * cliff) and 3% log-normal noise.
 */
function synthetic(n: number, rng: Rng): { X: number[][]; y: number[] } {
  const X: number[][] = [];
  const y: number[] = [];
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  for (let i = 0; i < n; i++) {
    const flags = Array.from({ length: 10 }, () => (rng() < 0.5 ? 1 : 0));
    const pool = 2 ** randomInt(rng, 7);
    const workers = 1 + randomInt(rng, 8);
    const batch = 10 ** randomInt(rng, 4);
    const retries = randomInt(rng, 6);
    const cpu = 0.25 + rng() * 3.75;
    const mem = 128 + rng() * 3968;
    const timeout = 50 + rng() * 4950;
    const cache = rng() * 1024;
    const gc = rng();
    const compression = 1 + rng() * 8;
    const [f0, f1, f2, f3, f4, f5] = flags as [number, number, number, number, number, number];
    let ms = 20;
    ms *= 1 + 6 / (Math.min(pool, 4 * workers) * cpu); // queueing: pool × CPU × workers
    ms *= f0 ? 1 - 0.5 * Math.min(1, cache / 512) : 1; // cache only helps when enabled
    ms *= f1 && f2 ? 1.35 : 1; // two flags that clash
    ms *= mem < 512 ? 1.8 : 1; // memory cliff
    ms *= 1 + 0.04 * compression * (f3 ? 1 : 0.3);
    ms *= 1 + 0.15 * Math.log10(batch) * (f4 ? -0.5 : 1);
    ms *= 1 + 0.05 * retries * (timeout < 500 ? 1 : 0.2);
    ms *= 1 + 0.2 * gc * gc + 0.1 * f5;
    ms *= Math.exp(0.03 * normal());
    X.push([...flags, pool, workers, batch, retries, cpu, mem, timeout, cache, gc, compression]);
    y.push(ms);
  }
  return { X, y };
}

interface Setting {
  nTrees: number;
  /** rows per tree; undefined: the library's bagging of all rows */
  rows?: number;
  bootstrap?: boolean;
  maxDepth: number;
  minNumSamples: number;
  features: number;
}

const P = 20;
const N = 1000;
const paramsFor = (s: Setting, n: number, seed: number): ForestParams => ({
  nTrees: s.nTrees,
  mtry: s.features / P,
  minLeaf: 1,
  maxDepth: s.maxDepth,
  sampleFraction: s.rows === undefined ? 1 : Math.min(1, s.rows / n),
  bootstrap: s.rows === undefined ? true : (s.bootstrap ?? false),
  seed,
});
const tuningFor = (s: Setting): MlForestTuning => ({ minNumSamples: s.minNumSamples });
const label = (s: Setting): string =>
  `${s.rows === undefined ? "bagging 1000" : `${s.rows} ${s.bootstrap ? "bootstrap" : "subsample"}`} | ${s.features} | ${depthLabel(s.maxDepth)} | ${s.minNumSamples}`;

interface SpeedRow {
  setting: Setting;
  scaled: boolean;
  trainMs: number;
  /** CPU time of this process (user + system): less sensitive to other jobs on the machine */
  trainCpuMs: number;
  trainReps: number;
  predictMs: number;
  jsonBytes: number;
  gzipBytes: number;
  nodes: number;
  mre: number | undefined;
}

function measureSpeed(): void {
  const rng = mulberry32(deriveSeed(SEED, "synthetic"));
  const train = synthetic(N, rng);
  const test = synthetic(2000, rng);
  const grid = synthetic(100_000, rng).X;
  const lnY = train.y.map(Math.log);
  console.log(`## 1. Speed and size: ${N} trials × ${P} features, 100,000 rows predicted\n`);

  const timeFit = (s: Setting, trees: number, seed: number): { ms: number; cpuMs: number; model: MlForestRegressor } => {
    const cpu = process.cpuUsage();
    const started = performance.now();
    const model = fitMlForestWith(train.X, lnY, paramsFor({ ...s, nTrees: trees }, N, seed), tuningFor(s));
    const ms = performance.now() - started;
    const used = process.cpuUsage(cpu);
    return { ms, cpuMs: (used.user + used.system) / 1000, model };
  };
  const timePredict = (model: MlForestRegressor, reps: number): number => {
    const times: number[] = [];
    for (let r = 0; r < reps; r++) {
      const started = performance.now();
      model.predict(grid);
      times.push(performance.now() - started);
    }
    return median(times);
  };
  const sizes = (model: MlForestRegressor): { json: number; gzip: number } => {
    const text = JSON.stringify(model.toJSON());
    return { json: text.length, gzip: gzipSync(text).length };
  };
  const holdout = (model: MlForestRegressor): number => mre(model.predict(test.X).map(Math.exp), test.y);

  const rows: SpeedRow[] = [];
  const probeCache = new Map<string, { perTreeMs: number; perTreeCpuMs: number; model: MlForestRegressor; reps: number }>();
  const measure = (s: Setting): SpeedRow => {
    const key = label(s);
    let probe = probeCache.get(key);
    if (!probe) {
      const first = timeFit(s, 5, 1);
      probe = { perTreeMs: first.ms / 5, perTreeCpuMs: first.cpuMs / 5, model: first.model, reps: 1 };
      probeCache.set(key, probe);
    }
    const expected = probe.perTreeMs * s.nTrees;
    let row: SpeedRow;
    if (expected > DIRECT_LIMIT_MS) {
      // scaled from 5-tree forests: median of 3 (the probe and two more)
      if (probe.reps < 3) {
        const more = [timeFit(s, 5, 2), timeFit(s, 5, 3)];
        probe.perTreeMs = median([probe.perTreeMs * 5, ...more.map((f) => f.ms)]) / 5;
        probe.perTreeCpuMs = median([probe.perTreeCpuMs * 5, ...more.map((f) => f.cpuMs)]) / 5;
        probe.reps = 3;
      }
      const size = sizes(probe.model);
      const k = s.nTrees / 5;
      row = {
        setting: s,
        scaled: true,
        trainMs: probe.perTreeMs * s.nTrees,
        trainCpuMs: probe.perTreeCpuMs * s.nTrees,
        trainReps: 3,
        predictMs: timePredict(probe.model, 3) * k,
        jsonBytes: size.json * k,
        gzipBytes: size.gzip * k,
        nodes: probe.model.nodeCount * k,
        mre: undefined,
      };
    } else {
      const reps = expected * REPS <= 20_000 ? REPS : 3;
      const times: number[] = [];
      const cpuTimes: number[] = [];
      let model: MlForestRegressor | undefined;
      for (let r = 0; r < reps; r++) {
        const fit = timeFit(s, s.nTrees, 1 + r);
        times.push(fit.ms);
        cpuTimes.push(fit.cpuMs);
        model ??= fit.model;
      }
      const m = model as MlForestRegressor;
      const size = sizes(m);
      row = {
        setting: s,
        scaled: false,
        trainMs: median(times),
        trainCpuMs: median(cpuTimes),
        trainReps: reps,
        predictMs: timePredict(m, REPS),
        jsonBytes: size.json,
        gzipBytes: size.gzip,
        nodes: m.nodeCount,
        mre: holdout(m),
      };
    }
    rows.push(row);
    process.stderr.write(`  ${s.nTrees} trees | ${key}: ${fmtMs(row.trainMs)} (CPU ${fmtMs(row.trainCpuMs)})${row.scaled ? " (scaled)" : ""}, load ${os.loadavg()[0]?.toFixed(2)}\n`);
    return row;
  };

  const header =
    "| trees | rows per tree | features per tree | maxDepth | minNumSamples | train, wall (median) | train, CPU (median) | predict 100k (median) | JSON | gzip | nodes | holdout MRE % |\n|---|---|---|---|---|---|---|---|---|---|---|---|";
  const line = (r: SpeedRow): string =>
    `| ${r.setting.nTrees} | ${label(r.setting)} | ${r.scaled ? "≈ " : ""}${fmtMs(r.trainMs)} (${r.trainReps}×) | ${r.scaled ? "≈ " : ""}${fmtMs(r.trainCpuMs)} | ${r.scaled ? "≈ " : ""}${fmtMs(r.predictMs)} | ${r.scaled ? "≈ " : ""}${fmtBytes(r.jsonBytes)} | ${r.scaled ? "≈ " : ""}${fmtBytes(r.gzipBytes)} | ${r.scaled ? "≈ " : ""}${Math.round(r.nodes)} | ${r.mre === undefined ? "–" : r.mre.toFixed(2)} |`;

  // A. every tree on a bootstrap of all 1,000 rows (the library's bagging)
  console.log("### A. The library's bagging (every tree grown on a bootstrap sample of all 1,000 rows)\n");
  console.log(header);
  for (const features of [20, 10, 5]) {
    for (const maxDepth of features === 20 ? [Infinity, 10, 6] : [Infinity]) {
      for (const minNumSamples of features === 20 ? [2, 5, 10] : [2]) {
        for (const nTrees of [20, 50, 100]) console.log(line(measure({ nTrees, maxDepth, minNumSamples, features })));
      }
    }
  }
  {
    // one real forest to check the linear scaling, and its accuracy
    const s: Setting = { nTrees: 20, maxDepth: Infinity, minNumSamples: 2, features: 20 };
    const fit = timeFit(s, 20, 1);
    const size = sizes(fit.model);
    console.log(
      `\nCheck of the scaling: a real 20-tree forest (bagging 1000, 20 features, depth ∞, minNumSamples 2) trained in ${fmtMs(fit.ms)}, CPU ${fmtMs(fit.cpuMs)} (scaled estimate ${fmtMs(
        (probeCache.get(label(s))?.perTreeMs ?? NaN) * 20,
      )}); predict 100k ${fmtMs(timePredict(fit.model, 3))}; JSON ${fmtBytes(size.json)} (gzip ${fmtBytes(size.gzip)}); holdout MRE ${holdout(fit.model).toFixed(2)}%.`,
    );
    out.scalingCheck = { trainMs: fit.ms, json: size.json, gzip: size.gzip };
  }

  // B. rows per tree drawn by the engine
  console.log("\n### B. Rows per tree drawn by the engine (without replacement unless marked), all 20 features, depth ∞, minNumSamples 2\n");
  console.log(header);
  for (const r of [500, 400, 300, 250, 200, 150, 100]) {
    for (const nTrees of [20, 50, 100]) console.log(line(measure({ nTrees, rows: r, maxDepth: Infinity, minNumSamples: 2, features: 20 })));
  }
  for (const nTrees of [50, 100]) console.log(line(measure({ nTrees, rows: 250, bootstrap: true, maxDepth: Infinity, minNumSamples: 2, features: 20 })));

  // C. limits on top of subsampling
  console.log("\n### C. Subsampling (250 rows per tree) with depth, leaf and feature limits (50 trees)\n");
  console.log(header);
  for (const [maxDepth, minNumSamples, features] of [
    [10, 2, 20],
    [6, 2, 20],
    [Infinity, 5, 20],
    [Infinity, 10, 20],
    [10, 5, 20],
    [6, 10, 20],
    [Infinity, 2, 14],
    [Infinity, 2, 10],
  ] as const) {
    console.log(line(measure({ nTrees: 50, rows: 250, maxDepth, minNumSamples, features })));
  }

  // E. the settings used for the accuracy runs, at 1,000 × 20
  console.log("\n### E. The settings of the accuracy runs (section 2), at 1,000 × 20\n");
  console.log(header);
  for (const c of CANDIDATES) {
    const s: Setting = {
      nTrees: c.nTrees,
      rows: Math.min(Math.ceil(c.maxFraction * N), c.rowsCap),
      bootstrap: c.bootstrap,
      maxDepth: c.maxDepth,
      minNumSamples: 2 * c.minLeaf - 1,
      features: Math.max(1, Math.floor(c.mtry * P + 1e-9)),
    };
    console.log(line(measure(s)));
  }

  // D. the library's own prediction path
  console.log("\n### D. Predicting 100,000 rows: the library's `predictionValues` vs the engine's compiled walk of the same trees\n");
  console.log("| forest | library predictionValues (median of 3) | compiled walk (median of 5) | identical per-tree values |\n|---|---|---|---|");
  const libraryRows: unknown[] = [];
  for (const s of [
    { nTrees: 20, rows: 250, maxDepth: Infinity, minNumSamples: 2, features: 20 },
    { nTrees: 50, rows: 250, maxDepth: Infinity, minNumSamples: 2, features: 20 },
    { nTrees: 30, rows: 300, maxDepth: Infinity, minNumSamples: 1, features: 20 },
    { nTrees: 50, rows: 200, maxDepth: Infinity, minNumSamples: 1, features: 20 },
    { nTrees: 100, rows: 150, maxDepth: Infinity, minNumSamples: 2, features: 20 },
  ] satisfies Setting[]) {
    const params = paramsFor(s, N, 1);
    const compiled = fitMlForestWith(train.X, lnY, params, tuningFor(s));
    const library = fitMlForestWith(train.X, lnY, params, { ...tuningFor(s), predictor: "library" });
    const times: number[] = [];
    for (let r = 0; r < 3; r++) {
      const started = performance.now();
      library.predict(grid);
      times.push(performance.now() - started);
    }
    const sample = grid.slice(0, 2000);
    const same = JSON.stringify(compiled.treeValues(sample)) === JSON.stringify(library.treeValues(sample));
    const compiledMs = timePredict(compiled, REPS);
    console.log(`| ${s.nTrees} trees, ${s.rows} rows per tree | ${fmtMs(median(times))} | ${fmtMs(compiledMs)} | ${same ? "yes" : "NO"} (2,000 rows) |`);
    libraryRows.push({ setting: s, libraryMs: median(times), compiledMs, same });
  }
  out.speed = rows;
  out.libraryPredict = libraryRows;
}

// ---------------------------------------------------------------------------------------
// 2. Accuracy on the shared datasets

interface Dataset {
  system: string;
  X: number[][];
  y: number[];
}

function readCsv(system: string): Dataset {
  const lines = readFileSync(path.join(DATA, `${system}.csv`), "utf8").trim().split(/\r?\n/);
  const X: number[][] = [];
  const y: number[] = [];
  for (const line of lines.slice(1)) {
    const values = line.split(",").map(Number);
    if (values.some((v) => !Number.isFinite(v))) throw new Error(`${system}.csv: a non-numeric value in "${line}"`);
    y.push(values.pop() as number);
    X.push(values);
  }
  return { system, X, y };
}

interface Published {
  system: string;
  n: number;
  method: string;
  statistic: string;
  mre: number;
}

function readPublished(): Published[] {
  const lines = readFileSync(path.join(DATA, "published_mre.csv"), "utf8").trim().split(/\r?\n/);
  return lines.slice(1).map((line) => {
    const [system, n, , method, statistic, value] = line.split(",");
    return { system: system as string, n: Number(n), method: method as string, statistic: statistic as string, mre: Number(value) };
  });
}

const SIZES: Record<string, number[]> = {
  x264: [16, 32, 48, 64, 80],
  Apache: [9, 18, 27, 36, 45],
  LLVM: [11, 22, 33, 44, 55],
  HSMGP: [77, 173, 384, 480, 864],
  VP8: [121, 273, 356, 467, 830],
};

/**
 * Settings that meet the speed target at 1,000 × 20 (section 1): the rows per tree are capped.
 * Each tree gets min(maxFraction · n, rowsCap) rows, drawn without replacement (or with, when
 * `bootstrap`; maxFraction 1 with bootstrap is the library's own bagging).
 */
interface Candidate {
  name: string;
  nTrees: number;
  rowsCap: number;
  maxFraction: number;
  bootstrap: boolean;
  mtry: number;
  minLeaf: number;
  maxDepth: number;
}

const CANDIDATES: Candidate[] = [
  { name: "50 trees, subsample min(90%, 200 rows) per tree, all features", nTrees: 50, rowsCap: 200, maxFraction: 0.9, bootstrap: false, mtry: 1, minLeaf: 1, maxDepth: Infinity },
  { name: "30 trees, subsample min(90%, 300 rows) per tree, all features", nTrees: 30, rowsCap: 300, maxFraction: 0.9, bootstrap: false, mtry: 1, minLeaf: 1, maxDepth: Infinity },
  { name: "50 trees, bootstrap of min(n, 200) rows per tree, all features", nTrees: 50, rowsCap: 200, maxFraction: 1, bootstrap: true, mtry: 1, minLeaf: 1, maxDepth: Infinity },
  { name: "50 trees, subsample min(90%, 250 rows) per tree, 70% of the features per tree", nTrees: 50, rowsCap: 250, maxFraction: 0.9, bootstrap: false, mtry: 0.7, minLeaf: 1, maxDepth: Infinity },
];

function candidateParams(c: Candidate, n: number, seed: number): ForestParams {
  return {
    nTrees: c.nTrees,
    mtry: c.mtry,
    minLeaf: c.minLeaf,
    maxDepth: c.maxDepth,
    sampleFraction: Math.min(c.maxFraction, c.rowsCap / n),
    bootstrap: c.bootstrap,
    seed,
  };
}

/** Without the speed target: every tree on a bootstrap of all n rows (the library's bagging). */
const UNBUDGETED: Candidate = { name: "unbudgeted: 50 trees, the library's bagging of all n rows, all features", nTrees: 50, rowsCap: Infinity, maxFraction: 1, bootstrap: true, mtry: 1, minLeaf: 1, maxDepth: Infinity };

function measureAccuracy(candidates: readonly Candidate[], runs: number, only?: (system: string, n: number) => boolean): void {
  const published = readPublished();
  const rfMedian = (system: string, n: number): number | undefined =>
    published.find((p) => p.system === system && p.n === n && p.method === "RF" && p.statistic === "median")?.mre;
  console.log(`\n## ${only ? "3. Accuracy without the speed target (largest cells)" : "2. Accuracy on the shared datasets"}: the published protocol, ${runs} runs per cell, target ln y\n`);
  console.log("MRE % (median over runs) beside scikit-learn's tuned RandomForest (published median, DaL FSE'23; none published for LLVM). Fit time: median per forest.\n");
  const results: unknown[] = [];
  for (const candidate of candidates) {
    console.log(`### ${candidate.name}, depth ${depthLabel(candidate.maxDepth)}, minLeaf ${candidate.minLeaf} (minNumSamples ${2 * candidate.minLeaf - 1})\n`);
    console.log("| system | N | MRE median | MRE p25–p75 | RF (published) | ≤ RF | fit (median) |\n|---|---|---|---|---|---|---|");
    let atOrBelow = 0;
    let compared = 0;
    for (const [system, sizes] of Object.entries(SIZES)) {
      const data = readCsv(system);
      for (const n of sizes) {
        if (only && !only(system, n)) continue;
        const errors: number[] = [];
        const fitTimes: number[] = [];
        for (let run = 0; run < runs; run++) {
          const rng = mulberry32(deriveSeed(SEED, `${system}:${n}:${run}`));
          const order = Array.from({ length: data.X.length }, (_, i) => i);
          for (let i = 0; i < n; i++) {
            const j = i + randomInt(rng, order.length - i);
            [order[i], order[j]] = [order[j] as number, order[i] as number];
          }
          const trainIdx = order.slice(0, n);
          const testIdx = order.slice(n);
          const started = performance.now();
          const model = fitMlForestWith(
            trainIdx.map((i) => data.X[i] as number[]),
            trainIdx.map((i) => Math.log(data.y[i] as number)),
            candidateParams(candidate, n, deriveSeed(SEED, `fit:${system}:${n}:${run}`)),
          );
          fitTimes.push(performance.now() - started);
          const predicted = model.predict(testIdx.map((i) => data.X[i] as number[])).map(Math.exp);
          errors.push(mre(predicted, testIdx.map((i) => data.y[i] as number)));
        }
        const sorted = [...errors].sort((a, b) => a - b);
        const q = (p: number): number => sorted[Math.min(sorted.length - 1, Math.round(p * (sorted.length - 1)))] as number;
        const ours = median(errors);
        const rf = rfMedian(system, n);
        const ok = rf === undefined ? undefined : Number(ours.toFixed(2)) <= rf;
        if (ok !== undefined) {
          compared++;
          if (ok) atOrBelow++;
        }
        console.log(
          `| ${system} | ${n} | ${ours.toFixed(2)} | ${q(0.25).toFixed(2)}–${q(0.75).toFixed(2)} | ${rf ?? "–"} | ${ok === undefined ? "–" : ok ? "yes" : "**no**"} | ${fmtMs(median(fitTimes))} |`,
        );
        results.push({ candidate: candidate.name, system, n, median: ours, runs: errors, rf, fitMsMedian: median(fitTimes) });
      }
    }
    console.log(`\nAt or below the published RF median in ${atOrBelow} of ${compared} cells.\n`);
  }
  out[only ? "accuracyUnbudgeted" : "accuracy"] = results;
}

if (doSpeed) measureSpeed();
if (doAccuracy) measureAccuracy(CANDIDATES, RUNS);
if (args.includes("unbudgeted")) {
  const largest = new Set(["HSMGP:480", "HSMGP:864", "VP8:467", "VP8:830"]);
  measureAccuracy([UNBUDGETED], UNBUDGETED_RUNS, (system, n) => largest.has(`${system}:${n}`));
}
(out.machine as Record<string, unknown>).loadavgAtEnd = os.loadavg();
writeFileSync(OUT, JSON.stringify(out, null, 1));
console.log(`\nLoad average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(" / ")}. Everything in ${OUT}.`);
