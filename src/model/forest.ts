/**
 * The predictive model: one random forest per KPI (the engine behind regressor.ts), trained
 * on every anchored trial of the history.
 *
 * Anchoring. Absolute KPIs from different runs are not comparable (the same configuration
 * measured in separate runs differed by up to 40%), so the model never learns them. Each
 * run measures the current configuration (its anchor trials); a trial's target is its KPI
 * relative to the mean of its own run's anchor:
 *
 *   target = ln(kpi / anchorKpi)   for positive KPIs (latency, throughput, CPU, memory)
 *   target = kpi                   for rates that can be 0 (errors.rate, non2xx.rate)
 *
 * Trials of runs without an anchor are skipped (counted in `info.skippedNoAnchor`).
 * Predictions multiply back by today's anchor: by default the latest anchored run's (the
 * run being decided, when it is in the history), or the one passed to `predict`.
 *
 * When the current configuration changed between runs (a recommendation was applied), runs
 * are anchored on different configurations and their ratios have different references. They
 * are moved onto today's anchor configuration: through runs that measured both
 * configurations (exact: the level cancels within a run; chains allowed), else by the mean
 * gap between a first model, trained on the linked runs, and the run's own ratios. Measuring
 * the previous current configuration once in the run after a change makes the exact bridge.
 *
 * Uncertainty. Per configuration, the trees' mean and sd in target (log) space, plus an
 * extrapolation term in quadrature: trees cannot extrapolate (away from every measured
 * configuration they all repeat the nearest leaf and agree, which would read as certainty),
 * so the term grows linearly from 0 at a measured configuration to the spread of the target
 * over all trials at three times the typical spacing of the measured configurations.
 * Distances weight each parameter by how much of the KPI's variation it explains, so an
 * unmeasured CPU share does not make memory uncertain (option `extrapolation: false` turns
 * the term off). The interval is mean ± scale × sd, the scale calibrated on held-out
 * configurations in cross-validation (conformal quantile), transformed back to KPI units:
 * on the public benchmark datasets its nominal 90% covered 91.7% of held-out measurements
 * (`npm run bench:intervals`).
 *
 * Persistence. The forests are retrained from the history every run (1,000 trials: ~1.4 s
 * per KPI with the search, see docs/adr/003-forest-engine.md); the hyper-parameters the
 * search chose are stored (stored-model.ts) and reused until the history grows.
 */
import { mean, median } from "../core/stats.js";
import { defaultFolds, fitTuned, type LearnerGrid, type TrendKind } from "./learner.js";
import { fitNativeForest } from "./native-forest.js";
import { fitMlForest } from "./ml-forest-engine.js";
import type { EngineName, FitForest, TreeStats } from "./regressor.js";
import {
  KPI_NAMES,
  type Configuration,
  type History,
  type KpiName,
  type KpiPredictions,
  type Kpis,
  type ParameterCatalog,
  type Prediction,
  type PredictiveModel,
  type PredictOptions,
  type Trial,
} from "../core/types.js";
import { deriveSeed, mulberry32, permutation, shuffleInPlace } from "../search/random.js";
import { FEATURE_VERSION, featureEncoder, type FeatureEncoder } from "./features.js";
import { NearestIndex } from "./nearest.js";
import { LOAD_FEATURE } from "./load-level.js";

/** KPIs learned as absolute values (they can be 0, so no ratio to the anchor). */
export const ABSOLUTE_KPIS: ReadonlySet<KpiName> = new Set<KpiName>(["errors.rate", "non2xx.rate"]);

/** Whether a KPI is learned relative to the anchor (log ratio) rather than absolute. */
export const isRelativeKpi = (kpi: KpiName): boolean => !ABSOLUTE_KPIS.has(kpi);

export interface ForestOptions {
  /** seeds every forest (each KPI gets its own stream derived from it) */
  seed: number;
  /** the forest engine (docs/adr/003-forest-engine.md); default "native" */
  engine?: EngineName;
  /** trees per forest; default 100 */
  nTrees?: number;
  /**
   * hyper-parameter search per KPI, in ms of the native engine on a 2-core machine (a plan
   * fixed before fitting, not a timer, so results depend on data and seed only); default 300
   */
  tuneBudgetMs?: number;
  /** the KPIs to model; default all */
  kpis?: readonly KpiName[];
  /** today's anchor: this run's mean anchor KPIs (default: the latest anchored run) */
  anchorRunId?: string;
  /** today's anchor given directly (overrides anchorRunId) */
  anchor?: Partial<Kpis>;
  /** fewer usable rows than this and a KPI is not modelled; default 3 */
  minRows?: number;
  /** keep at most this many rows, from the most recent runs; default 2000 */
  maxRows?: number;
  /** grouped k-fold cross-validation (a configuration is never split across folds); default: one configuration out up to 30 configurations, 10 folds up to 150, then 5, of 30-tree forests; false to skip */
  cv?: false | { folds?: number; nTrees?: number };
  /** widen intervals away from measured configurations; default true */
  extrapolation?: boolean;
  /** hyper-parameters chosen earlier, per KPI (a stored model): used instead of searching again */
  reuse?: Partial<Record<KpiName, ChosenParams>>;
}

export interface TrainingInfo {
  featureVersion: number;
  features: readonly string[];
  /** rows (trials) trained on, after skipping */
  rows: number;
  /** rows per modelled KPI (a row without a usable value for a KPI is left out of that KPI) */
  rowsPerKpi: Partial<Record<KpiName, number>>;
  runs: number;
  anchoredRuns: number;
  /** trials skipped because their run measured no anchor */
  skippedNoAnchor: number;
  /** trials skipped because their configuration does not fit the catalog */
  skippedInvalid: number;
  /** trials dropped (oldest runs first) to stay within maxRows */
  droppedOld: number;
  /** why KPIs were not modelled, and other remarks */
  notes: string[];
  trainMs: number;
}

/** The JSON summary of a model (the forests themselves are not persisted). */
export interface ForestSummary {
  kind: "random-forest-per-kpi";
  featureVersion: number;
  features: readonly string[];
  kpis: readonly KpiName[];
  anchorRunId: string | undefined;
  anchor: Partial<Kpis>;
  cvError: Partial<Record<KpiName, number>>;
  rows: number;
  skippedNoAnchor: number;
  engine: EngineName;
  /** the hyper-parameters cross-validation chose, per KPI */
  params: Partial<Record<KpiName, ChosenParams>>;
  /** interval calibration per KPI: the 90% quantile of |held-out residual| / predicted sd */
  intervalScale: Partial<Record<KpiName, number>>;
  seed: number;
  note: string;
}

export interface ForestModel extends PredictiveModel {
  /** the anchor predictions are scaled by when `predict` is not given one */
  readonly anchor: Partial<Kpis>;
  /** the run that anchor comes from (undefined when given directly or absent) */
  readonly anchorRunId: string | undefined;
  /**
   * Cross-validated error per KPI, on configurations held out of training: for relative
   * KPIs the mean relative error of the ratio to the anchor (0.08 = 8%), for absolute
   * rates the mean absolute error (in rate units).
   */
  readonly cvError: Partial<Record<KpiName, number>>;
  readonly info: TrainingInfo;
  /** rows trained on (= info.rows) */
  readonly trainedOn: number;
  /** trials left out because their run measured no anchor (= info.skippedNoAnchor) */
  readonly skippedRows: number;
  toJSON(): ForestSummary;
}

// ---------------------------------------------------------------------------------------
// Statistics helpers


function sdPopulation(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) * (x - m), 0) / xs.length);
}


/** Inverse of the standard normal CDF (Acklam's approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const [a0, a1, a2, a3, a4, a5] = a as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = b as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = c as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = d as [number, number, number, number];
  const pl = 0.02425;
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  if (p < pl) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  }
  if (p > 1 - pl) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) / (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1);
}

/** z for the 5th/95th percentiles: the interval is about 90%. */
const Z90 = normalQuantile(0.95);

/** Extrapolation is full at this many typical spacings from the nearest measured configuration. */
const REACH = 3;

// ---------------------------------------------------------------------------------------
// One regressor per target

/** Per-tree predictions: one row per input row, one column per tree. */
interface Regressor {
  treeValues(X: number[][]): number[][];
  treeStats(X: number[][]): TreeStats;
}

interface FitOptions {
  engine: EngineName;
  nTrees: number;
  tuneBudgetMs: number;
}

/** What the search chose for one KPI (stored with the model, reused in cross-validation). */
export interface ChosenParams {
  mtry: number;
  minLeaf: number;
  maxDepth: number | null;
  bootstrap: boolean;
  sampleFraction: number;
  trend: TrendKind;
  /** weight of the ridge trend the trees correct (0 with trend "none") */
  trendWeight: number;
}

const ENGINES: Record<EngineName, FitForest> = { native: fitNativeForest, "ml-random-forest": fitMlForest };

/**
 * A tuned forest for one target (already in log-ratio or rate units, so no transform):
 * hyper-parameters by cross-validation on these rows (see learner.ts), or the given ones.
 */
function fit(X: number[][], y: number[], options: FitOptions, seed: number, chosen?: ChosenParams): { regressor: Regressor; chosen: ChosenParams } {
  // The learner's own choice, by cross-validation, of a ridge trend under the trees: on the
  // benchmark datasets it is what beats the tuned scikit-learn forest everywhere (trees only:
  // 19 of 20 cells, HSMGP at 77 trials 15.9% against 7.0%). Below MIN_ROWS_FOR_TREND rows a
  // trend is a guess the recommendation's search would exploit, so trees only.
  const trendAllowed = X.length >= MIN_ROWS_FOR_TREND;
  const tuned = fitTuned(X, y, {
    seed,
    engine: ENGINES[options.engine],
    transform: "identity",
    nTrees: options.nTrees,
    budgetMs: options.tuneBudgetMs,
    grid: chosen ? gridOf(chosen) : trendAllowed ? {} : { trend: ["none"] },
    // parameters chosen earlier (a stored model, a fold of crossValidate) are not scored again
    ...(chosen ? { score: false as const } : {}),
  });
  const { params } = tuned;
  return {
    regressor: {
      treeValues: (rows) => (rows.length === 0 ? [] : tuned.treeValues(rows)),
      treeStats: (rows) => (rows.length === 0 ? { mean: new Float64Array(0), sd: new Float64Array(0) } : tuned.treeStats(rows)),
    },
    chosen: {
      mtry: params.mtry,
      minLeaf: params.minLeaf,
      maxDepth: Number.isFinite(params.maxDepth) ? params.maxDepth : null,
      bootstrap: params.bootstrap,
      sampleFraction: params.sampleFraction,
      trend: tuned.tuning.trend,
      trendWeight: tuned.trendWeight,
    },
  };
}

const MIN_ROWS_FOR_TREND = 20;

function gridOf(chosen: ChosenParams): Partial<LearnerGrid> {
  return {
    mtry: [chosen.mtry],
    minLeaf: [chosen.minLeaf],
    maxDepth: [chosen.maxDepth ?? Infinity],
    sampling: [{ bootstrap: chosen.bootstrap, sampleFraction: chosen.sampleFraction }],
    trend: [chosen.trend],
    ...(chosen.trend === "ridge" ? { trendWeights: [chosen.trendWeight] } : {}),
  };
}

// ---------------------------------------------------------------------------------------
// Rows

interface Row {
  trial: Trial;
  features: number[];
  /** normalised features, for distances */
  unit: number[];
  key: string;
  /** the configuration without its load level (model/load-level.ts): folds never split one configuration across levels */
  group: string;
  anchor: Partial<Kpis>;
  /** key of the configuration its run anchored on */
  anchorKey: string;
}

function runTime(trials: readonly Trial[]): number {
  let t = -Infinity;
  for (const trial of trials) {
    const ms = Date.parse(trial.at);
    if (Number.isFinite(ms)) t = Math.max(t, ms);
  }
  return t;
}

/** Mean of the anchor trials' KPIs, per KPI over the finite values. */
export function meanAnchor(trials: readonly Trial[]): Partial<Kpis> {
  const anchors = trials.filter((t) => t.anchor);
  const out: Partial<Kpis> = {};
  for (const kpi of KPI_NAMES) {
    const values = anchors.map((t) => t.kpis[kpi]).filter((v) => Number.isFinite(v));
    if (values.length > 0) out[kpi] = mean(values);
  }
  return out;
}

/** The target of one KPI of one row, or undefined when it is not usable. */
function target(kpi: KpiName, value: number | undefined, anchor: number | undefined): number | undefined {
  if (value === undefined || !Number.isFinite(value)) return undefined;
  if (!isRelativeKpi(kpi)) return value;
  if (anchor === undefined || !(anchor > 0) || !(value > 0)) return undefined;
  return Math.log(value / anchor);
}

function fromTarget(kpi: KpiName, t: number, anchor: number): number {
  return isRelativeKpi(kpi) ? anchor * Math.exp(t) : t;
}

type Parameters = FeatureEncoder["parameters"];

/**
 * How much each parameter matters for a target, for the extrapolation distance: the share of
 * the target's variance explained by the parameter alone (correlation ratio over its values,
 * or 5 quantile bins of a numeric one, adjusted for chance), normalised to sum to 1. So a
 * configuration that differs from the measured ones only in a parameter the KPI does not
 * depend on (memory vs CPU share) is not treated as far from the data.
 */
function relevance(units: readonly number[][], y: readonly number[], parameters: Parameters): number[] {
  const n = y.length;
  const m = mean(y);
  const total = y.reduce((a, v) => a + (v - m) * (v - m), 0);
  const raw = parameters.map(({ offset, width }) => {
    if (!(total > 0)) return 1;
    let groupOf: number[];
    if (width > 1) {
      groupOf = units.map((u) => {
        let best = 0;
        for (let k = 1; k < width; k++) if ((u[offset + k] as number) > (u[offset + best] as number)) best = k;
        return best;
      });
    } else {
      const values = units.map((u) => u[offset] as number);
      const distinct = [...new Set(values)].sort((a, b) => a - b);
      if (distinct.length <= 5) {
        groupOf = values.map((v) => distinct.indexOf(v));
      } else {
        const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
        groupOf = new Array<number>(n).fill(0);
        order.forEach(([, i], rank) => {
          groupOf[i] = Math.floor((rank * 5) / n);
        });
      }
    }
    const sums = new Map<number, { sum: number; count: number }>();
    groupOf.forEach((g, i) => {
      const acc = sums.get(g) ?? { sum: 0, count: 0 };
      acc.sum += y[i] as number;
      acc.count++;
      sums.set(g, acc);
    });
    let between = 0;
    for (const { sum, count } of sums.values()) between += count * (sum / count - m) ** 2;
    // adjusted for the groups' fit to noise (like adjusted R²): ~0 for an irrelevant parameter
    const eta2 = between / total;
    const groups = sums.size;
    const adjusted = n > groups ? eta2 - ((groups - 1) / (n - groups)) * (1 - eta2) : 0;
    return Math.max(0, adjusted) + 0.001;
  });
  const sum = raw.reduce((a, b) => a + b, 0);
  return raw.map((r) => r / sum);
}

/** Where a KPI's model has data: for the extrapolation term. */
interface Geometry {
  /** distinct measured configurations */
  count: number;
  /** weighted distance at which the extrapolation term is full */
  reach: number;
  /** the feature columns distances use: those of parameters that matter for the KPI */
  columns: Int32Array;
  /** per used column, √(its parameter's weight): weighted distance = plain distance of scaled rows */
  scale: Float64Array;
  /** the measured configurations' used columns, scaled, for the nearest-measured search */
  index: NearestIndex;
}

/**
 * Parameters with less than this share of the most relevant parameter's weight are left out
 * of distances: a configuration that differs from the measured ones only in parameters the
 * KPI hardly depends on is not far from the data, and fewer dimensions make the nearest
 * search prune (with 20 parameters of which 4 matter: 3× faster).
 */
const MIN_RELATIVE_WEIGHT = 0.02;

function geometry(units: readonly number[][], keys: readonly string[], y: readonly number[], parameters: Parameters): Geometry {
  const weights = relevance(units, y, parameters);
  const distinct = new Map<string, number[]>();
  keys.forEach((key, i) => distinct.set(key, units[i] as number[]));
  const measured = [...distinct.values()];
  const top = Math.max(...weights);
  const columns: number[] = [];
  const scale: number[] = [];
  parameters.forEach(({ offset, width }, p) => {
    const w = weights[p] as number;
    if (w < MIN_RELATIVE_WEIGHT * top) return;
    for (let k = offset; k < offset + width; k++) {
      columns.push(k);
      scale.push(Math.sqrt(w));
    }
  });
  const dims = Math.max(1, columns.length);
  const scaled = new Float64Array(measured.length * dims);
  measured.forEach((row, i) => {
    columns.forEach((k, j) => {
      scaled[i * dims + j] = (row[k] as number) * (scale[j] as number);
    });
  });
  const index = new NearestIndex(scaled, dims);
  // the median distance from a measured configuration to its nearest other one
  const nearest = measured.map((_, i) => Math.sqrt(index.nearestSq(scaled.subarray(i * dims, (i + 1) * dims), Infinity, i)));
  const spacing = nearest.length >= 2 ? median(nearest) : NaN;
  const reach = REACH * (Number.isFinite(spacing) ? Math.min(0.5, Math.max(0.05, spacing)) : 0.25);
  return { count: measured.length, reach, columns: Int32Array.from(columns), scale: Float64Array.from(scale), index };
}

// ---------------------------------------------------------------------------------------
// Bridging runs anchored on different configurations

/**
 * ln(f(anchor config of a run) / f(reference config)) for each anchor configuration that is
 * linked to the reference through runs that measured both (directly or in a chain): within
 * one run the level cancels, so the difference of mean ln(KPI) of the two configurations is
 * their ratio. Anchor configurations no run links are left out (the caller places them).
 */
function bridgeBySameRun(
  kpi: KpiName,
  runs: readonly { anchorKey: string; rows: readonly Row[] }[],
  referenceKey: string,
): Map<string, number> {
  const anchorKeys = new Set(runs.map((r) => r.anchorKey));
  const shift = new Map<string, number>([[referenceKey, 0]]);
  const perRun = runs.map((run) => {
    const acc = new Map<string, { sum: number; count: number }>();
    for (const row of run.rows) {
      const v = row.trial.kpis[kpi];
      if (!anchorKeys.has(row.key) || !(v > 0)) continue;
      const a = acc.get(row.key) ?? { sum: 0, count: 0 };
      a.sum += Math.log(v);
      a.count++;
      acc.set(row.key, a);
    }
    return new Map([...acc].map(([k, { sum, count }]) => [k, sum / count]));
  });
  for (let round = 0; round < anchorKeys.size; round++) {
    const estimates = new Map<string, number[]>();
    for (const means of perRun) {
      for (const [k, v] of means) {
        if (shift.has(k)) continue;
        for (const [known, w] of means) {
          const base = shift.get(known);
          if (base === undefined) continue;
          const list = estimates.get(k) ?? [];
          list.push(base + v - w);
          estimates.set(k, list);
        }
      }
    }
    if (estimates.size === 0) break;
    for (const [k, list] of estimates) shift.set(k, mean(list));
  }
  return shift;
}

// ---------------------------------------------------------------------------------------
// Training

interface KpiModel {
  kpi: KpiName;
  regressor: Regressor;
  /** spread of the target over the training rows: the extrapolation ceiling */
  spread: number;
  geometry: Geometry;
  /** the interval's half-width in predicted sds, calibrated on held-out configurations */
  intervalScale: number;
}

/**
 * Trains one forest per KPI on the anchored trials of the history; see the module comment.
 * Never throws for thin data: KPIs without enough rows are left out of `kpis` (with a note).
 */
export function trainModels(history: History, catalog: ParameterCatalog, options: ForestOptions): ForestModel {
  const started = performance.now();
  const fitOptions: FitOptions = {
    engine: options.engine ?? "native",
    nTrees: Math.max(1, Math.floor(options.nTrees ?? 100)),
    tuneBudgetMs: Math.max(0, options.tuneBudgetMs ?? 300),
  };
  const minRows = Math.max(1, options.minRows ?? 3);
  const maxRows = Math.max(minRows, options.maxRows ?? 2000);
  const wanted = options.kpis ?? KPI_NAMES;
  const encoder = featureEncoder(catalog);
  const notes: string[] = [];

  // Group by run, in order of each run's latest trial (oldest first; stable on ties).
  const runs = new Map<string, Trial[]>();
  for (const trial of history.trials) {
    const list = runs.get(trial.runId);
    if (list) list.push(trial);
    else runs.set(trial.runId, [trial]);
  }
  const ordered = [...runs.entries()]
    .map(([runId, trials], index) => ({ runId, trials, time: runTime(trials), index }))
    .sort((a, b) => (a.time === b.time ? a.index - b.index : a.time - b.time));

  let skippedNoAnchor = 0;
  let skippedInvalid = 0;
  const loadColumn = encoder.parameters.find((p) => p.name === LOAD_FEATURE)?.offset;
  const anchored: { runId: string; anchor: Partial<Kpis>; anchorKey: string; rows: Row[] }[] = [];
  for (const run of ordered) {
    const anchorTrial = run.trials.find((t) => t.anchor);
    if (!anchorTrial) {
      skippedNoAnchor += run.trials.length;
      continue;
    }
    if (encoder.problem(anchorTrial.config) !== undefined) {
      // anchored on a configuration the catalog no longer describes: cannot be bridged
      skippedInvalid += run.trials.length;
      continue;
    }
    const anchor = meanAnchor(run.trials);
    const anchorKey = JSON.stringify(encoder.encode(anchorTrial.config));
    const rows: Row[] = [];
    for (const trial of run.trials) {
      if (encoder.problem(trial.config) !== undefined) {
        skippedInvalid++;
        continue;
      }
      const features = encoder.encode(trial.config);
      const key = JSON.stringify(features);
      const group = loadColumn === undefined ? key : JSON.stringify(features.filter((_, j) => j !== loadColumn));
      rows.push({ trial, features, unit: encoder.normalize(features), key, group, anchor, anchorKey });
    }
    anchored.push({ runId: run.runId, anchor, anchorKey, rows });
  }
  if (skippedNoAnchor > 0) notes.push(`${skippedNoAnchor} trial(s) skipped: their run measured no anchor`);
  if (skippedInvalid > 0) notes.push(`${skippedInvalid} trial(s) skipped: configuration does not fit the catalog`);

  // Most recent runs first until maxRows.
  let rows: Row[] = [];
  let droppedOld = 0;
  for (let i = anchored.length - 1; i >= 0; i--) {
    const run = anchored[i] as (typeof anchored)[number];
    const kept = rows.length + run.rows.length <= maxRows ? run.rows : rows.length === 0 ? run.rows.slice(-maxRows) : [];
    rows = [...kept, ...rows];
    droppedOld += run.rows.length - kept.length;
  }
  if (droppedOld > 0) notes.push(`${droppedOld} trial(s) of the oldest runs left out (maxRows ${maxRows})`);

  // Today's anchor, and the configuration it measures (the reference of every target).
  let anchor: Partial<Kpis> = {};
  let anchorRunId: string | undefined;
  const latest = anchored[anchored.length - 1];
  let referenceKey = latest?.anchorKey;
  if (options.anchor) {
    anchor = { ...options.anchor };
  } else if (options.anchorRunId !== undefined) {
    const run = anchored.find((r) => r.runId === options.anchorRunId);
    if (!run) throw new Error(`trainModels: anchorRunId ${options.anchorRunId} is not an anchored run of the history`);
    anchor = run.anchor;
    anchorRunId = run.runId;
    referenceKey = run.anchorKey;
  } else if (latest) {
    anchor = latest.anchor;
    anchorRunId = latest.runId;
  }
  const anchorKeys = new Set(rows.map((r) => r.anchorKey));
  if (anchorKeys.size > 1) {
    notes.push(`the runs anchored on ${anchorKeys.size} different configurations; their levels are bridged to today's anchor`);
  }

  const models: KpiModel[] = [];
  const cvError: Partial<Record<KpiName, number>> = {};
  const params: Partial<Record<KpiName, ChosenParams>> = {};
  const intervalScale: Partial<Record<KpiName, number>> = {};
  const rowsPerKpi: Partial<Record<KpiName, number>> = {};
  for (const kpi of wanted) {
    if (isRelativeKpi(kpi) && !(anchor[kpi] !== undefined && (anchor[kpi] as number) > 0)) {
      notes.push(`${kpi}: not modelled, no anchor value to scale predictions by`);
      continue;
    }
    const seed = deriveSeed(options.seed, `forest:${kpi}`);
    const X: number[][] = [];
    const units: number[][] = [];
    const y: number[] = [];
    const keys: string[] = [];
    const groups: string[] = [];
    let regressor: Regressor;
    let chosen: ChosenParams;
    try {
      // Targets relative to the run's anchor, moved to today's anchor configuration where a
      // run anchored on another one (the current configuration changed between runs).
      const shift =
        isRelativeKpi(kpi) && anchorKeys.size > 1 && referenceKey !== undefined
          ? bridgeBySameRun(kpi, anchored, referenceKey)
          : new Map<string, number>([...anchorKeys].map((k) => [k, 0]));
      const collect = (accept: (row: Row) => boolean): void => {
        for (const row of rows) {
          const shifted = shift.get(row.anchorKey);
          if (shifted === undefined || !accept(row)) continue;
          const t = target(kpi, row.trial.kpis[kpi], row.anchor[kpi]);
          if (t === undefined) continue;
          X.push(row.features);
          units.push(row.unit);
          y.push(t + shifted);
          keys.push(row.key);
          groups.push(row.group);
        }
      };
      collect(() => true);
      const unbridged = [...anchorKeys].filter((k) => !shift.has(k));
      if (unbridged.length > 0 && X.length >= minRows) {
        // No run links them: a first model (on the linked runs) predicts every trial of those
        // runs; the mean gap between prediction and run-relative target is the run's shift.
        const first = fit(X, y, { ...fitOptions, nTrees: Math.min(fitOptions.nTrees, 20), tuneBudgetMs: 0 }, seed).regressor;
        for (const key of unbridged) {
          const own = rows
            .map((row) => ({ row, t: row.anchorKey === key ? target(kpi, row.trial.kpis[kpi], row.anchor[kpi]) : undefined }))
            .filter((x): x is { row: Row; t: number } => x.t !== undefined);
          if (own.length === 0) continue;
          const predicted = first.treeValues(own.map((x) => x.row.features)).map(mean);
          shift.set(key, mean(own.map((x, i) => (predicted[i] as number) - x.t)));
        }
        const pending = new Set(unbridged);
        collect((row) => pending.has(row.anchorKey));
      }
      if (X.length < minRows) {
        notes.push(`${kpi}: not modelled, ${X.length} usable row(s) (need ${minRows})`);
        continue;
      }
      ({ regressor, chosen } = fit(X, y, fitOptions, seed, options.reuse?.[kpi]));
    } catch (error) {
      notes.push(`${kpi}: not modelled, training failed: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    const geo = geometry(units, keys, y, encoder.parameters);
    let scale = Z90;
    rowsPerKpi[kpi] = X.length;
    params[kpi] = chosen;
    if (options.cv !== false) {
      const cv = crossValidate(kpi, { X, y, keys, groups, units }, fitOptions, chosen, options.cv ?? {}, options.seed, minRows, encoder.parameters, options.extrapolation ?? true);
      if (cv) {
        cvError[kpi] = cv.error;
        scale = cv.intervalScale;
      }
    }
    intervalScale[kpi] = scale;
    models.push({ kpi, regressor, spread: sdPopulation(y), geometry: geo, intervalScale: scale });
  }

  const info: TrainingInfo = {
    featureVersion: FEATURE_VERSION,
    features: encoder.names,
    rows: rows.length,
    rowsPerKpi,
    runs: runs.size,
    anchoredRuns: anchored.length,
    skippedNoAnchor,
    skippedInvalid,
    droppedOld,
    notes,
    trainMs: performance.now() - started,
  };
  return new Forest(models, encoder, options.extrapolation ?? true, anchor, anchorRunId, cvError, info, {
    engine: fitOptions.engine,
    params,
    intervalScale,
    seed: options.seed,
  });
}

/**
 * Grouped k-fold: each distinct configuration is held out whole, so the error is that of
 * predicting a configuration never measured. Folds: see defaultFolds; none under 3 groups.
 * The forests use the hyper-parameters chosen on all rows (no nested search: it would cost
 * the search again per fold for a small optimism).
 *
 * The same held-out predictions calibrate the intervals: the residual of each held-out
 * configuration in units of its predicted sd (trees' spread and, computed on the fold's own
 * measured configurations, the extrapolation term); their conformal 90% quantile is the
 * half-width of the ~90% interval. Fewer than 10 residuals keep the normal 1.645.
 */
function crossValidate(
  kpi: KpiName,
  data: { X: number[][]; y: number[]; keys: string[]; groups: string[]; units: number[][] },
  fitOptions: FitOptions,
  chosen: ChosenParams,
  cv: { folds?: number; nTrees?: number },
  seed: number,
  minRows: number,
  parameters: Parameters,
  extrapolation: boolean,
): { error: number; intervalScale: number } | undefined {
  const { X, y, keys, units } = data;
  // held out by configuration: at every load level at once (a level is not a new configuration)
  const groups = [...new Set(data.groups)];
  if (groups.length < 3) return undefined;
  shuffleInPlace(mulberry32(deriveSeed(seed, `cv-folds:${kpi}`)), groups);
  const folds = Math.min(groups.length, Math.max(2, Math.floor(cv.folds ?? defaultFolds(groups.length))));
  const foldOf = new Map<string, number>(groups.map((g, i) => [g, i % folds]));
  const options = { ...fitOptions, nTrees: Math.max(1, Math.floor(cv.nTrees ?? 30)), tuneBudgetMs: 0 };
  let total = 0;
  let count = 0;
  const scores: number[] = [];
  for (let f = 0; f < folds; f++) {
    const train = { X: [] as number[][], y: [] as number[], units: [] as number[][], keys: [] as string[] };
    const test = { X: [] as number[][], y: [] as number[], units: [] as number[][] };
    keys.forEach((key, i) => {
      const into = foldOf.get(data.groups[i]!) === f ? test : train;
      into.X.push(X[i] as number[]);
      into.y.push(y[i] as number);
      into.units.push(units[i] as number[]);
      if (into === train) train.keys.push(key);
    });
    if (train.X.length < minRows || test.X.length === 0) continue;
    const { regressor } = fit(train.X, train.y, options, deriveSeed(seed, `cv:${kpi}:${f}`), chosen);
    const foldGeometry = geometry(train.units, train.keys, train.y, parameters);
    const foldSpread = sdPopulation(train.y);
    regressor.treeValues(test.X).forEach((trees, i) => {
      const predicted = mean(trees);
      const actual = test.y[i] as number;
      total += isRelativeKpi(kpi) ? Math.abs(Math.exp(predicted - actual) - 1) : Math.abs(predicted - actual);
      count++;
      const extra = foldSpread * remoteness(test.units[i] as number[], foldGeometry, extrapolation);
      const sd = Math.hypot(sdPopulation(trees), extra);
      if (sd > 1e-12) scores.push(Math.abs(actual - predicted) / sd);
    });
  }
  if (count === 0) return undefined;
  const sorted = scores.sort((a, b) => a - b);
  // the conformal quantile: the ⌈0.9 (m + 1)⌉-th smallest of m scores covers a new one with
  // probability ≥ 90% (exchangeability), where the plain 90th percentile under-covers at small m
  const m = sorted.length;
  const conformal = sorted[Math.min(m - 1, Math.ceil(0.9 * (m + 1)) - 1)] as number;
  const intervalScale = m >= MIN_CALIBRATION_RESIDUALS ? Math.min(MAX_INTERVAL_SCALE, Math.max(MIN_INTERVAL_SCALE, conformal)) : Z90;
  return { error: total / count, intervalScale };
}


/** Residuals needed before the interval is calibrated on them rather than assumed normal. */
const MIN_CALIBRATION_RESIDUALS = 10;
/**
 * Floor of the calibrated half-width, in predicted sds. Low on purpose: a forest's trees
 * disagree far more than its mean errs once data is plentiful (the benchmarks' held-out
 * residuals were 0.25–0.35 sd at 80–830 trials), and a floor of 0.5 made those intervals
 * cover 96–99% instead of 90%.
 */
const MIN_INTERVAL_SCALE = 0.1;
const MAX_INTERVAL_SCALE = 20;

/**
 * 0 at a measured configuration, 1 at the KPI's reach and beyond. The nearest measured
 * configuration is searched among pre-scaled rows (a k-d tree, nearest.ts), only within the
 * reach (beyond it the answer is 1 anyway): this runs for every predicted configuration and
 * KPI, up to 100,000 × thousands of measured ones.
 */
/** reused by remoteness (it runs 100,000s of times per prediction) */
let queryBuffer = new Float64Array(0);

function remoteness(unit: readonly number[], { count, reach, columns, scale, index }: Geometry, enabled: boolean): number {
  if (!enabled || count === 0) return enabled ? 1 : 0;
  const query = queryBuffer.length === index.dims ? queryBuffer : (queryBuffer = new Float64Array(index.dims));
  for (let j = 0; j < columns.length; j++) query[j] = (unit[columns[j]!] as number) * scale[j]!;
  return Math.min(1, Math.sqrt(index.nearestSq(query, reach * reach)) / reach);
}

// ---------------------------------------------------------------------------------------
// The model

class Forest implements ForestModel {
  readonly kpis: readonly KpiName[];

  constructor(
    private readonly models: readonly KpiModel[],
    private readonly encoder: FeatureEncoder,
    private readonly extrapolation: boolean,
    readonly anchor: Partial<Kpis>,
    readonly anchorRunId: string | undefined,
    readonly cvError: Partial<Record<KpiName, number>>,
    readonly info: TrainingInfo,
    private readonly options: { engine: EngineName; params: Partial<Record<KpiName, ChosenParams>>; intervalScale: Partial<Record<KpiName, number>>; seed: number },

  ) {
    this.kpis = models.map((m) => m.kpi);
  }

  get trainedOn(): number {
    return this.info.rows;
  }

  get skippedRows(): number {
    return this.info.skippedNoAnchor;
  }


  predict(configs: Configuration[], options?: PredictOptions): Partial<KpiPredictions>[] {
    const anchor = options?.anchor ?? this.anchor;
    const X = configs.map((c) => this.encoder.encode(c));
    const units = X.map((row) => this.encoder.normalize(row));
    const out: Partial<KpiPredictions>[] = configs.map(() => ({}));
    for (const model of this.models) {
      const scale = anchor[model.kpi];
      if (isRelativeKpi(model.kpi) && !(scale !== undefined && scale > 0)) continue;
      const a = scale ?? 1;
      const extra = (i: number): number => model.spread * remoteness(units[i] as number[], model.geometry, this.extrapolation);
      if (options?.draws) {
        model.regressor.treeValues(X).forEach((trees, i) => {
          const e = extra(i);
          const p = summarize(model.kpi, mean(trees), sdPopulation(trees), e, a, model.intervalScale);
          p.draws = draws(model.kpi, trees, e, a, X[i] as number[]);
          (out[i] as Partial<KpiPredictions>)[model.kpi] = p;
        });
      } else {
        const stats = model.regressor.treeStats(X);
        for (let i = 0; i < X.length; i++) {
          (out[i] as Partial<KpiPredictions>)[model.kpi] = summarize(model.kpi, stats.mean[i]!, stats.sd[i]!, extra(i), a, model.intervalScale);
        }
      }
    }
    return out;
  }

  toJSON(): ForestSummary {
    return {
      kind: "random-forest-per-kpi",
      featureVersion: FEATURE_VERSION,
      features: this.encoder.names,
      kpis: this.kpis,
      anchorRunId: this.anchorRunId,
      anchor: this.anchor,
      cvError: this.cvError,
      rows: this.info.rows,
      skippedNoAnchor: this.info.skippedNoAnchor,
      engine: this.options.engine,
      params: this.options.params,
      intervalScale: this.options.intervalScale,
      seed: this.options.seed,
      note: "the forests are retrained from the history each run (see docs/adr/003-forest-engine.md); their chosen hyper-parameters are kept",
    };
  }
}

/**
 * Mean/sd/interval of one KPI from the trees' mean and sd (targets) plus the extrapolation sd. The interval
 * is mean ± scale × sd in target (log) units, `scale` calibrated on held-out configurations.
 */
function summarize(kpi: KpiName, m: number, treeSd: number, extra: number, anchor: number, scale: number): Prediction {
  const s = Math.hypot(treeSd, extra);
  const lo = m - scale * s;
  const hi = m + scale * s;
  if (isRelativeKpi(kpi)) {
    const centre = fromTarget(kpi, m, anchor);
    return { mean: centre, sd: centre * s, lo: fromTarget(kpi, lo, anchor), hi: fromTarget(kpi, hi, anchor) };
  }
  const clampRate = (v: number): number => Math.min(1, Math.max(0, v));
  return { mean: clampRate(m), sd: s, lo: clampRate(lo), hi: clampRate(hi) };
}

const scoreCache = new Map<number, number[]>();

/** The n stratified standard normal scores Φ⁻¹((i + 0.5) / n). */
function normalScores(n: number): number[] {
  let scores = scoreCache.get(n);
  if (!scores) {
    scores = Array.from({ length: n }, (_, i) => normalQuantile((i + 0.5) / n));
    scoreCache.set(n, scores);
  }
  return scores;
}

/**
 * Per-tree draws in KPI units. The extrapolation term enters as stratified normal scores
 * (the same set for every configuration, so the marginal spread is exact) in an order that
 * depends on the configuration: tree parts pair across configurations, extrapolation parts
 * do not, which is what a pairwise comparison needs.
 */
function draws(kpi: KpiName, trees: readonly number[], extra: number, anchor: number, features: number[]): number[] {
  const n = trees.length;
  const order = extra > 0 ? permutation(mulberry32(deriveSeed(n, JSON.stringify(features))), n) : [];
  const scores = extra > 0 ? normalScores(n) : [];
  return trees.map((t, i) => {
    const z = extra > 0 ? (scores[order[i] as number] as number) : 0;
    const v = fromTarget(kpi, t + extra * z, anchor);
    return isRelativeKpi(kpi) ? v : Math.min(1, Math.max(0, v));
  });
}
