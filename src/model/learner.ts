/**
 * The tuned learner: a random forest (any engine; the native one by default) whose
 * hyper-parameters are chosen by cross-validation on the training rows only.
 *
 * Target. Positive targets (times, throughputs, sizes) are learned as ln(y) by default
 * (`transform: "auto"`): performance effects are mostly multiplicative, and the error that
 * matters is relative. Predictions are exp(mean over trees), the geometric mean of the trees'
 * predictions; `treeValues` gives each tree's prediction on the original scale.
 *
 * Trend. Trees cannot add up many small effects from a few rows: a forest learns an additive
 * function one step at a time, and extrapolates none of it. So the forest may learn what a
 * ridge regression leaves over (a regression-enhanced random forest): the prediction is
 * w · trend(x) + forest(x), with the trend weight w in [0, 1] a hyper-parameter like the
 * others (0 = a plain forest; in between shrinks the trend towards what the trees say). The
 * trees learn t − w · trend₋ᵢ(xᵢ), the trend's leave-one-out predictions: a flexible trend
 * nearly interpolates its own rows, and out of sample is how it errs on new ones. The ridge
 * chooses its own basis — the features as given or with the logs of positive multi-valued
 * ones; then with pairwise products and squares of multi-valued features, shrunk harder than
 * the main effects (a second-order response surface) — and its penalty, by exact
 * leave-one-out (closed form through one eigen-decomposition per basis).
 *
 * Tuning. Grouped k-fold cross-validation: identical rows (repeated measurements of one
 * configuration) always fall in the same fold, so the score is that of predicting an
 * unmeasured configuration. Few distinct rows: leave-one-group-out; up to 150: 10 folds; else
 * 5. Inside each fold the trend is refitted from the fold's training rows (nested), so its
 * choices are scored too. Every candidate sees the same folds and the same tree seeds (common
 * random numbers). The score is the mean relative error on the original scale (mean absolute
 * error when some y ≤ 0). The search is coordinate-wise: first every trend weight with the
 * first forest parameters of the grid, then every forest combination with the best weight;
 * the best three are then scored on more repetitions of the k-fold (fresh folds, fresh trees)
 * and the best mean wins. Search forests are small (`searchTrees`); the chosen parameters are
 * refitted on every row with `nTrees` trees.
 *
 * Budget. The plan (folds, repetitions, search trees, how many candidates) is fixed before any
 * fit from a cost model of the native engine on this class of machine, so the result depends
 * on the data and the seed only, never on the machine's speed or load.
 */
import { deriveSeed, mulberry32, shuffleInPlace } from "../search/random.js";
import { fitNativeForest, loadNativeForest } from "./native-forest.js";
import type { FitForest, ForestParams, ForestRegressor, TreeStats } from "./regressor.js";

export const TUNED_KIND = "tuned-forest";
export const TUNED_VERSION = 1;

export type Transform = "log" | "identity";

/** How rows are drawn for each tree. */
export interface Sampling {
  bootstrap: boolean;
  sampleFraction: number;
}

/** The candidate values of each hyper-parameter. */
export interface LearnerGrid {
  /** fraction of the features tried at each split */
  mtry: number[];
  minLeaf: number[];
  sampling: Sampling[];
  maxDepth: number[];
  /** "none": a plain forest (trend weight 0); "ridge": the forest corrects a ridge trend, at each of `trendWeights` */
  trend: TrendKind[];
  /** the weights w in (0, 1] tried with "ridge" */
  trendWeights: number[];
}

export type TrendKind = "none" | "ridge";

export const DEFAULT_GRID: Readonly<LearnerGrid> = {
  mtry: [1, 0.6, 0.35],
  minLeaf: [1, 2, 5],
  sampling: [{ bootstrap: false, sampleFraction: 0.7 }],
  maxDepth: [Infinity],
  trend: ["none", "ridge"],
  trendWeights: [0.25, 0.5, 0.75, 1],
};

export interface LearnerOptions {
  seed: number;
  /** the forest engine; default the native one */
  engine?: FitForest;
  /** tuning budget in ms of the native engine on this class of machine (a plan, not a timer); default 1200 */
  budgetMs?: number;
  /**
   * false: the grid's first values are used without cross-validating them (the caller fixed
   * the parameters, e.g. a stored choice); cvError is then NaN. Default: score and choose.
   */
  score?: false;
  /** cross-validation folds; default by the number of distinct rows (leave-one-out up to 30, then 10, above 150 5) */
  folds?: number;
  /** "auto": log when every y > 0; default "auto" */
  transform?: "auto" | Transform;
  grid?: Partial<LearnerGrid>;
  /** trees of the final forest; default 100 */
  nTrees?: number;
  /** trees of each forest grown during the search; default 32 (fewer when the budget is short) */
  searchTrees?: number;
  /** called with every candidate's cross-validated error (diagnostics) */
  trace?: (candidate: Candidate, cvError: number, repeats: number) => void;
}

/** One point of the search: forest parameters (but trees and seed) and a trend weight. */
export type Candidate = Omit<ForestParams, "nTrees" | "seed"> & { trendWeight: number };

export interface TunedForest {
  /** the final forest, in transformed units (it learned t − trendWeight · the trend's leave-one-out predictions) */
  readonly forest: ForestRegressor;
  readonly transform: Transform;
  readonly params: ForestParams;
  /** the weight of the ridge trend (0: none) */
  readonly trendWeight: number;
  /** the ridge trend (undefined when the weight is 0) */
  readonly trend: RidgeTrend | undefined;
  /**
   * Cross-validated error of the chosen parameters: the mean relative error on the original
   * scale (0.08 = 8%) when every y > 0, else the mean absolute error; NaN when there were
   * too few distinct rows to hold any out. Slightly optimistic: it is the best of the scores.
   */
  readonly cvError: number;
  /** how the parameters were chosen */
  readonly tuning: TuningSummary;
  /** predictions on the original scale (exp of the mean log for the log transform) */
  predict(X: readonly (readonly number[])[]): number[];
  /** per input row, one prediction per tree, on the original scale */
  treeValues(X: readonly (readonly number[])[]): number[][];
  /** per input row, the mean and sd over trees in transformed units (log for the log transform) */
  treeStats(X: readonly (readonly number[])[]): TreeStats;
  toJSON(): TunedForestJson;
}

export interface TuningSummary {
  /** "relative" (MRE) or "absolute" (MAE) */
  metric: "relative" | "absolute";
  /** 0 when nothing was cross-validated */
  folds: number;
  /** repetitions of the k-fold for the finalists */
  repeats: number;
  searchTrees: number;
  /** candidates scored */
  candidates: number;
  /** the search's cost by the plan's model, ms (the budget caps this, not the wall time) */
  plannedMs: number;
  /** "ridge" when the forest corrects a trend (trendWeight > 0) */
  trend: TrendKind;
  trendWeight: number;
}

export interface TunedForestJson {
  kind: typeof TUNED_KIND;
  version: typeof TUNED_VERSION;
  transform: Transform;
  /** maxDepth null = unlimited */
  params: ForestParams;
  trendWeight: number;
  /** the ridge trend, null when the weight is 0 */
  trend: RidgeTrend | null;
  /** null when not estimated */
  cvError: number | null;
  tuning: TuningSummary;
  nFeatures: number;
  forest: unknown;
}

// ---------------------------------------------------------------------------------------
// Cost model (native engine, this 2-core class of machine): ms ≈ K × trees × n log2(2n) × (p + 2)

const COST_MS_PER_UNIT = 1.6e-5;
const COST_MS_PER_TREE = 0.01;

function fitCost(trees: number, n: number, p: number): number {
  return trees * (COST_MS_PER_UNIT * n * Math.log2(2 * n) * (2 + p) + COST_MS_PER_TREE);
}

/** The ridge trend: about 3 n q² + 6 q³ flops per pairwise basis tried, ~1 flop per ns. */
function ridgeCost(n: number, p: number): number {
  const q = p + (p * (p - 1)) / 2;
  const pairwise = p >= 2 && p <= PAIRWISE_MAX_FEATURES ? PAIR_WEIGHTS.length * (3 * n * q * q + 6 * q * q * q) : 0;
  return 1e-6 * (pairwise + 9 * n * p * p);
}

// ---------------------------------------------------------------------------------------
// Input checks, folds, grid

const fail = (what: string): never => {
  throw new Error(`fitTuned: ${what}`);
};

function checkData(X: readonly (readonly number[])[], y: readonly number[]): number {
  if (!Array.isArray(X) || !Array.isArray(y)) fail("X and y must be arrays");
  if (X.length === 0) fail("no training rows");
  if (X.length !== y.length) fail(`${X.length} rows but ${y.length} targets`);
  const p = Array.isArray(X[0]) ? (X[0] as readonly number[]).length : -1;
  X.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== p) fail(`row ${i} has ${Array.isArray(row) ? row.length : "no"} features, expected ${p}`);
    row.forEach((v, j) => {
      if (typeof v !== "number" || !Number.isFinite(v)) fail(`row ${i}, feature ${j} is not a finite number (${String(v)})`);
    });
  });
  y.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isFinite(v)) fail(`target ${i} is not a finite number (${String(v)})`);
  });
  return p;
}

interface Fold {
  train: number[];
  test: number[];
}

/** Row indices grouped by identical features. */
function groupRows(X: readonly (readonly number[])[]): number[][] {
  const groupOf = new Map<string, number[]>();
  X.forEach((row, i) => {
    const key = row.join(",");
    const list = groupOf.get(key);
    if (list) list.push(i);
    else groupOf.set(key, [i]);
  });
  return [...groupOf.values()];
}

/** `repeats` grouped k-fold partitions: rows with identical features share a fold. */
function makeFolds(groups: number[][], folds: number, repeats: number, seed: number): Fold[][] {
  const out: Fold[][] = [];
  for (let r = 0; r < repeats; r++) {
    const order = shuffleInPlace(mulberry32(deriveSeed(seed, `learner:folds:${r}`)), groups.map((_, i) => i));
    const k = Math.min(folds, groups.length);
    const assignment = new Array<number>(groups.length);
    order.forEach((g, i) => {
      assignment[g] = i % k;
    });
    const repeat: Fold[] = [];
    for (let f = 0; f < k; f++) {
      const train: number[] = [];
      const test: number[] = [];
      groups.forEach((rows, g) => {
        (assignment[g] === f ? test : train).push(...rows);
      });
      if (train.length > 0 && test.length > 0) repeat.push({ train, test });
    }
    out.push(repeat);
  }
  return out;
}

function gridOf(options: LearnerOptions): LearnerGrid {
  const g = { ...DEFAULT_GRID, ...(options.grid ?? {}) };
  const nonEmpty = <T>(name: string, values: T[], ok: (v: T) => boolean): T[] => {
    if (!Array.isArray(values) || values.length === 0) fail(`grid.${name} must be a non-empty array`);
    for (const v of values) if (!ok(v)) fail(`grid.${name}: invalid value ${JSON.stringify(v)}`);
    return values;
  };
  return {
    mtry: nonEmpty("mtry", g.mtry, (v) => v > 0 && v <= 1),
    minLeaf: nonEmpty("minLeaf", g.minLeaf, (v) => Number.isInteger(v) && v >= 1),
    sampling: nonEmpty("sampling", g.sampling, (v) => typeof v === "object" && v !== null && typeof v.bootstrap === "boolean" && v.sampleFraction > 0 && v.sampleFraction <= 1),
    maxDepth: nonEmpty("maxDepth", g.maxDepth, (v) => v >= 0),
    trend: nonEmpty("trend", g.trend, (v) => v === "none" || v === "ridge"),
    trendWeights: nonEmpty("trendWeights", g.trendWeights, (v) => v > 0 && v <= 1),
  };
}

/** The trend weights of a grid, in order: 0 for "none", then the weights for "ridge". */
function weightsOf(grid: LearnerGrid): number[] {
  const out: number[] = [];
  for (const kind of grid.trend) out.push(...(kind === "none" ? [0] : grid.trendWeights));
  return [...new Set(out)];
}

/** Forest parameter combinations, in grid order, without duplicates (mtry values giving the same feature count are one). */
function forestCombos(grid: LearnerGrid, p: number): Omit<Candidate, "trendWeight">[] {
  const out: Omit<Candidate, "trendWeight">[] = [];
  const seen = new Set<string>();
  for (const minLeaf of grid.minLeaf)
    for (const mtry of grid.mtry)
      for (const sampling of grid.sampling)
        for (const maxDepth of grid.maxDepth) {
          const k = Math.min(p, Math.max(1, Math.round(mtry * Math.max(1, p))));
          const key = `${minLeaf}|${k}|${sampling.bootstrap}|${sampling.sampleFraction}|${maxDepth}`;
          if (seen.has(key)) continue;
          seen.add(key);
          out.push({ mtry, minLeaf, maxDepth, bootstrap: sampling.bootstrap, sampleFraction: sampling.sampleFraction });
        }
  return out;
}

// ---------------------------------------------------------------------------------------
// Ridge trend: standardised columns, unpenalised intercept; basis and penalty chosen by exact
// leave-one-out (see the module comment).

/** Which features the trend sees. */
export interface TrendBasis {
  /** features entered as ln(max(x, floor)) */
  log: number[];
  /** the training minimum of each logged feature (values below it are raised to it) */
  floor: number[];
  /** add the products of every pair of (transformed) features */
  pairwise: boolean;
  /**
   * weight of the standardised products against the features (penalising them by 1/weight²
   * relative to the main effects); 1 when not pairwise
   */
  pairWeight: number;
  /** with the products: the squares of these (multi-valued) features too */
  squares: number[];
}

export interface RidgeTrend {
  basis: TrendBasis;
  intercept: number;
  /** per basis column: centre, scale (0 = unused) and coefficient of the standardised column */
  centre: number[];
  scale: number[];
  coef: number[];
  /** the chosen penalty, as a multiple of the row count */
  lambda: number;
}

const RIDGE_LAMBDAS = [1e-4, 1e-3, 1e-2, 0.03, 0.1, 0.3, 1, 3, 10, 100];
/** pairwise products only up to this many features (p(p-1)/2 columns) */
const PAIRWISE_MAX_FEATURES = 16;
/** relative weights of the products tried */
const PAIR_WEIGHTS = [0.3, 0.1, 0.03];

function expandRow(row: readonly number[], basis: TrendBasis): number[] {
  const base = [...row];
  basis.log.forEach((j, k) => {
    base[j] = Math.log(Math.max(row[j] as number, basis.floor[k] as number));
  });
  if (!basis.pairwise) return base;
  const out = [...base];
  for (let a = 0; a < base.length; a++) for (let b = a + 1; b < base.length; b++) out.push((base[a] as number) * (base[b] as number));
  for (const j of basis.squares) out.push((base[j] as number) * (base[j] as number));
  return out;
}

/**
 * Eigen-decomposition of a symmetric q × q matrix (row-major A, not modified): eigenvalues d
 * and eigenvectors as the columns of V (row-major). Householder tridiagonalisation and the
 * implicit QL method (tred2 / tql2 of EISPACK, as in JAMA).
 */
export function symmetricEigen(A: Float64Array, q: number): { d: Float64Array; V: Float64Array } {
  const V = Float64Array.from(A);
  const d = new Float64Array(q);
  const e = new Float64Array(q);
  if (q === 0) return { d, V };
  // tred2
  for (let j = 0; j < q; j++) d[j] = V[(q - 1) * q + j]!;
  for (let i = q - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = V[(i - 1) * q + j]!;
        V[i * q + j] = 0;
        V[j * q + i] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k]! /= scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        V[j * q + i] = f;
        g = e[j]! + V[j * q + j]! * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[k * q + j]! * d[k]!;
          e[k]! += V[k * q + j]! * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j]! /= h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j]! -= hh * d[j]!;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        for (let k = j; k <= i - 1; k++) V[k * q + j]! -= f * e[k]! + g * d[k]!;
        d[j] = V[(i - 1) * q + j]!;
        V[i * q + j] = 0;
      }
    }
    d[i] = h;
  }
  for (let i = 0; i < q - 1; i++) {
    V[(q - 1) * q + i] = V[i * q + i]!;
    V[i * q + i] = 1;
    const h = d[i + 1]!;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[k * q + i + 1]! / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[k * q + i + 1]! * V[k * q + j]!;
        for (let k = 0; k <= i; k++) V[k * q + j]! -= g * d[k]!;
      }
    }
    for (let k = 0; k <= i; k++) V[k * q + i + 1] = 0;
  }
  for (let j = 0; j < q; j++) {
    d[j] = V[(q - 1) * q + j]!;
    V[(q - 1) * q + j] = 0;
  }
  V[(q - 1) * q + q - 1] = 1;
  e[0] = 0;
  // tql2
  for (let i = 1; i < q; i++) e[i - 1] = e[i]!;
  e[q - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = Number.EPSILON;
  for (let l = 0; l < q; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < q) {
      if (Math.abs(e[m]!) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 200) break; // does not happen for symmetric input; guards a pathological loop
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < q; i++) d[i]! -= h;
        f += h;
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          for (let k = 0; k < q; k++) {
            const row = k * q;
            h = V[row + i + 1]!;
            V[row + i + 1] = s * V[row + i]! + c * h;
            V[row + i] = c * V[row + i]! - s * h;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > eps * tst1);
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }
  return { d, V };
}

/** The best penalty for one basis, with its leave-one-out sum of squares. */
function ridgeForBasis(X: readonly (readonly number[])[], t: readonly number[], basis: TrendBasis): RidgeFit {
  const n = X.length;
  const rows = X.map((row) => expandRow(row, basis));
  const q0 = (rows[0] as number[]).length;
  const p0 = (X[0] as readonly number[]).length;
  const tMean = t.reduce((a, b) => a + b, 0) / n;
  const centre: number[] = [];
  const scale: number[] = [];
  const used: number[] = [];
  for (let j = 0; j < q0; j++) {
    let m = 0;
    for (const row of rows) m += row[j] as number;
    m /= n;
    let v = 0;
    for (const row of rows) v += ((row[j] as number) - m) ** 2;
    const sd = Math.sqrt(v / n);
    const ok = sd > 1e-9 * Math.max(1, Math.abs(m));
    centre.push(m);
    // a product column is shrunk harder when its weight is below 1
    scale.push(ok ? (j >= p0 ? sd / basis.pairWeight : sd) : 0);
    if (ok) used.push(j);
  }
  const q = used.length;
  const coef = new Array<number>(q0).fill(0);
  const tc = t.map((v) => v - tMean);
  let tss = 0;
  for (const v of tc) tss += v * v;
  // The intercept-only model's leave-one-out residuals are (t - mean) · n / (n - 1).
  let best = {
    loo: n > 1 ? tss * (n / (n - 1)) ** 2 : Infinity,
    lambda: Infinity,
    beta: new Float64Array(q) as Float64Array<ArrayBufferLike>,
    residuals: Float64Array.from(tc, (v) => (n > 1 ? (v * n) / (n - 1) : 0)) as Float64Array<ArrayBufferLike>,
  };
  if (q > 0 && n > 2) {
    const Z = new Float64Array(n * q);
    for (let i = 0; i < n; i++)
      for (let k = 0; k < q; k++) {
        const j = used[k]!;
        Z[i * q + k] = (((rows[i] as number[])[j] as number) - centre[j]!) / scale[j]!;
      }
    const G = new Float64Array(q * q);
    const b = new Float64Array(q);
    for (let i = 0; i < n; i++) {
      const ti = tc[i] as number;
      const off = i * q;
      for (let a = 0; a < q; a++) {
        const za = Z[off + a]!;
        b[a]! += za * ti;
        const ga = a * q;
        for (let c = 0; c <= a; c++) G[ga + c]! += za * Z[off + c]!;
      }
    }
    for (let a = 0; a < q; a++) for (let c = 0; c < a; c++) G[c * q + a] = G[a * q + c]!;
    // G = V diag(d) Vᵀ: every penalty then costs O(n q) (fitted values and hat diagonal via U = Z V).
    const { d, V } = symmetricEigen(G, q);
    const cb = new Float64Array(q);
    for (let k = 0; k < q; k++) {
      let s = 0;
      for (let a = 0; a < q; a++) s += V[a * q + k]! * b[a]!;
      cb[k] = s;
      if (!(d[k]! > 0)) d[k] = 0;
    }
    const U = new Float64Array(n * q);
    for (let i = 0; i < n; i++) {
      const off = i * q;
      for (let a = 0; a < q; a++) {
        const z = Z[off + a]!;
        if (z === 0) continue;
        const va = a * q;
        for (let k = 0; k < q; k++) U[off + k]! += z * V[va + k]!;
      }
    }
    const inv = new Float64Array(q);
    for (const rel of RIDGE_LAMBDAS) {
      const lambda = rel * n;
      for (let k = 0; k < q; k++) inv[k] = 1 / (d[k]! + lambda);
      let loo = 0;
      const residuals = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const off = i * q;
        let fit = 0;
        let h = 1 / n;
        for (let k = 0; k < q; k++) {
          const u = U[off + k]!;
          fit += u * cb[k]! * inv[k]!;
          h += u * u * inv[k]!;
        }
        const e = ((tc[i] as number) - fit) / Math.max(1e-6, 1 - h);
        residuals[i] = e;
        loo += e * e;
      }
      if (loo < best.loo) {
        const beta = new Float64Array(q);
        for (let a = 0; a < q; a++) {
          let s = 0;
          for (let k = 0; k < q; k++) s += V[a * q + k]! * cb[k]! * inv[k]!;
          beta[a] = s;
        }
        best = { loo, lambda: rel, beta, residuals };
      }
    }
  }
  used.forEach((j, k) => {
    coef[j] = best.beta[k]!;
  });
  return { loo: best.loo, residuals: best.residuals, trend: { basis, intercept: tMean, centre, scale, coef, lambda: best.lambda } };
}

interface RidgeFit {
  /** leave-one-out sum of squares */
  loo: number;
  /** leave-one-out residuals: t_i minus the trend fitted without row i, at row i */
  residuals: Float64Array;
  trend: RidgeTrend;
}

/** A ridge trend of t on X, basis and penalty chosen by leave-one-out. */
export function fitRidge(X: readonly (readonly number[])[], t: readonly number[]): RidgeTrend {
  return fitRidgeLoo(X, t).trend;
}

/** fitRidge, with the leave-one-out residuals of the chosen trend. */
function fitRidgeLoo(X: readonly (readonly number[])[], t: readonly number[]): RidgeFit {
  const p = (X[0] as readonly number[]).length;
  const logged: number[] = [];
  const floor: number[] = [];
  const multi: number[] = [];
  for (let j = 0; j < p; j++) {
    const values = new Set(X.map((row) => row[j] as number));
    const min = Math.min(...values);
    if (values.size >= 3) multi.push(j);
    if (min > 0 && values.size >= 3) {
      logged.push(j);
      floor.push(min);
    }
  }
  // Linear, then (if some feature can be logged) linear in the logs, then the better of the
  // two with pairwise products.
  let best = ridgeForBasis(X, t, { log: [], floor: [], pairwise: false, pairWeight: 1, squares: [] });
  if (logged.length > 0) {
    const withLogs = ridgeForBasis(X, t, { log: logged, floor, pairwise: false, pairWeight: 1, squares: [] });
    if (withLogs.loo < best.loo) best = withLogs;
  }
  if (p >= 2 && p <= PAIRWISE_MAX_FEATURES) {
    const linear = best.trend.basis;
    for (const pairWeight of PAIR_WEIGHTS) {
      const pairs = ridgeForBasis(X, t, { ...linear, pairwise: true, pairWeight, squares: multi });
      if (pairs.loo < best.loo) best = pairs;
    }
  }
  return best;
}

export function ridgePredict(trend: RidgeTrend, row: readonly number[]): number {
  return ridgePredictMany(trend, [row])[0] as number;
}

/** The trend at every row (no per-row allocation: prediction grids can be large). */
export function ridgePredictMany(trend: RidgeTrend, X: readonly (readonly number[])[]): number[] {
  const { basis, coef, centre, scale, intercept } = trend;
  const p = X.length > 0 ? (X[0] as readonly number[]).length : 0;
  // per column: the weight on the raw column value (coef / scale) and the constant it implies
  const w = coef.map((c, j) => ((scale[j] as number) > 0 ? c / (scale[j] as number) : 0));
  let constant = intercept;
  w.forEach((wj, j) => {
    constant -= wj * (centre[j] as number);
  });
  const base = new Float64Array(p);
  const out = new Array<number>(X.length);
  for (let i = 0; i < X.length; i++) {
    const row = X[i] as readonly number[];
    for (let j = 0; j < p; j++) base[j] = row[j] as number;
    basis.log.forEach((j, k) => {
      base[j] = Math.log(Math.max(row[j] as number, basis.floor[k] as number));
    });
    let v = constant;
    for (let j = 0; j < p; j++) v += (w[j] as number) * base[j]!;
    if (basis.pairwise) {
      let c = p;
      for (let a = 0; a < p; a++) {
        const xa = base[a]!;
        for (let b = a + 1; b < p; b++) v += (w[c++] as number) * xa * base[b]!;
      }
      for (const j of basis.squares) v += (w[c++] as number) * base[j]! * base[j]!;
    }
    out[i] = v;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The tuned forest

class Tuned implements TunedForest {
  constructor(
    readonly forest: ForestRegressor,
    readonly transform: Transform,
    readonly params: ForestParams,
    readonly trendWeight: number,
    readonly trend: RidgeTrend | undefined,
    readonly cvError: number,
    readonly tuning: TuningSummary,
    private readonly nFeatures: number,
  ) {}

  /** the trend part of each row's prediction (transformed units); undefined for trees only */
  private offsets(X: readonly (readonly number[])[]): number[] | undefined {
    const trend = this.trend;
    const w = this.trendWeight;
    return trend && w > 0 ? ridgePredictMany(trend, X).map((v) => w * v) : undefined;
  }

  private back(v: number): number {
    return this.transform === "log" ? Math.exp(v) : v;
  }

  predict(X: readonly (readonly number[])[]): number[] {
    const raw = this.forest.predict(X);
    const offsets = this.offsets(X);
    return raw.map((v, i) => this.back(v + (offsets?.[i] ?? 0)));
  }

  treeValues(X: readonly (readonly number[])[]): number[][] {
    const raw = this.forest.treeValues(X);
    const offsets = this.offsets(X);
    return raw.map((trees, i) => trees.map((v) => this.back(v + (offsets?.[i] ?? 0))));
  }

  treeStats(X: readonly (readonly number[])[]): TreeStats {
    const stats = this.forest.treeStats(X);
    const offsets = this.offsets(X);
    if (offsets) for (let i = 0; i < offsets.length; i++) stats.mean[i]! += offsets[i]!;
    return stats;
  }

  toJSON(): TunedForestJson {
    return {
      kind: TUNED_KIND,
      version: TUNED_VERSION,
      transform: this.transform,
      params: { ...this.params, maxDepth: Number.isFinite(this.params.maxDepth) ? this.params.maxDepth : (null as unknown as number) },
      trendWeight: this.trendWeight,
      trend: this.trend ? { ...this.trend, lambda: Number.isFinite(this.trend.lambda) ? this.trend.lambda : (null as unknown as number) } : null,
      cvError: Number.isFinite(this.cvError) ? this.cvError : null,
      tuning: this.tuning,
      nFeatures: this.nFeatures,
      forest: this.forest.toJSON(),
    };
  }
}

/** Error of one prediction (transformed units) against a target on the original scale. */
function errorOf(predicted: number, actual: number, transform: Transform, relative: boolean): number {
  const value = transform === "log" ? Math.exp(predicted) : predicted;
  return relative ? Math.abs(value - actual) / actual : Math.abs(value - actual);
}

const DEFAULT_BUDGET_MS = 1200;
/** leave-one-group-out up to this many distinct rows */
const LOO_MAX_GROUPS = 30;
/** 10 folds up to this many distinct rows, then 5 */
const TEN_FOLD_MAX_GROUPS = 150;
const MAX_REPEATS = 4;
const FINALISTS = 3;

/** How the search is run: fixed from n, p, the grid and the options before any fit. */
interface Plan {
  folds: number;
  /** repetitions of the k-fold for the finalists (the first one scores every candidate) */
  repeats: number;
  searchTrees: number;
  /** trend weights tried (round 1), forest combinations tried (round 2) */
  weights: number[];
  combos: Omit<Candidate, "trendWeight">[];
  plannedMs: number;
}

/**
 * Folds for grouped cross-validation of `groups` distinct configurations: one left out each
 * up to LOO_MAX_GROUPS, 10 up to TEN_FOLD_MAX_GROUPS, then 5. The fold models should train
 * on nearly as much as the final one: the learning curve is steep at small n.
 */
export function defaultFolds(groups: number): number {
  return groups <= LOO_MAX_GROUPS ? groups : groups <= TEN_FOLD_MAX_GROUPS ? 10 : 5;
}

function planSearch(grid: LearnerGrid, n: number, groups: number, p: number, options: LearnerOptions): Plan | undefined {
  if (groups < 2) return undefined;
  const budget = Math.max(0, options.budgetMs ?? DEFAULT_BUDGET_MS);
  // Many folds on small samples: the learning curve is steep there, and folds that train on
  // 80% of 50 rows misjudge what 50 rows can do.
  const given = options.folds !== undefined;
  let folds = Math.min(
    groups,
    given ? Math.max(2, Math.floor(options.folds as number)) : defaultFolds(groups),
  );
  let searchTrees = Math.max(1, Math.floor(options.searchTrees ?? 32));
  let weights = weightsOf(grid);
  let combos = forestCombos(grid, p);
  const withTrend = weights.some((w) => w > 0);
  const count = (): number => weights.length + combos.length - 1;
  const costOf = (trees: number, k: number, candidates: number): number => {
    const rows = n * (1 - 1 / k);
    return candidates * k * fitCost(trees, rows, p) + (withTrend ? k * ridgeCost(rows, p) : 0);
  };
  // The first pass scores every candidate within ~60% of the budget: fewer search trees
  // (down to 12), fewer folds (down to 3, unless given), then the grid's last values go.
  const share = 0.6 * budget;
  while (costOf(searchTrees, folds, count()) > share && searchTrees > 12) searchTrees = Math.max(12, Math.floor(searchTrees * 0.8));
  while (costOf(searchTrees, folds, count()) > share && folds > 3 && !given) folds = folds > 10 ? 10 : folds - 1;
  while (costOf(searchTrees, folds, count()) > share && combos.length > 1) combos = combos.slice(0, -1);
  // weights go middle first: the plain forest and the full trend are the ones to keep
  const drop = [0.25, 0.75, 0.5];
  while (costOf(searchTrees, folds, count()) > share && weights.length > 1) {
    const victim = drop.find((d) => weights.includes(d)) ?? weights[weights.length - 1];
    weights = weights.filter((w) => w !== victim);
  }
  // What is left buys repetitions for the finalists.
  const spent = costOf(searchTrees, folds, count());
  const finalists = Math.min(FINALISTS, count());
  let repeats = 1;
  while (repeats < MAX_REPEATS && spent + costOf(searchTrees, folds, finalists) * repeats <= budget) repeats++;
  const plannedMs = spent + costOf(searchTrees, folds, finalists) * (repeats - 1);
  return { folds, repeats, searchTrees, weights, combos, plannedMs };
}

/**
 * The trend the trees correct, at the training rows: the leave-one-out predictions, not the
 * fitted values. A flexible trend nearly interpolates its training rows, and the trees would
 * then learn nothing from them; out of sample is how the trend errs on new rows.
 */
function trendForTrees(ridge: RidgeFit, t: readonly number[]): number[] {
  return t.map((v, i) => v - (ridge.residuals[i] as number));
}

const keyOf = (c: Candidate): string => JSON.stringify([c.mtry, c.minLeaf, c.maxDepth, c.bootstrap, c.sampleFraction, c.trendWeight]);

/**
 * Fits a forest with hyper-parameters chosen by cross-validation on (X, y) alone.
 * Throws on empty, ragged or non-finite input, and on `transform: "log"` with some y ≤ 0.
 */
export function fitTuned(X: readonly (readonly number[])[], y: readonly number[], options: LearnerOptions): TunedForest {
  if (typeof options !== "object" || options === null || typeof options.seed !== "number" || !Number.isFinite(options.seed)) {
    fail("options.seed must be a finite number");
  }
  const p = checkData(X, y);
  const engine = options.engine ?? fitNativeForest;
  const positive = y.every((v) => v > 0);
  const wanted = options.transform ?? "auto";
  if (wanted !== "auto" && wanted !== "log" && wanted !== "identity") fail(`unknown transform ${JSON.stringify(wanted)}`);
  if (wanted === "log" && !positive) fail('transform "log" needs every target > 0');
  const transform: Transform = wanted === "auto" ? (positive ? "log" : "identity") : wanted;
  const relative = positive;
  const t = transform === "log" ? y.map(Math.log) : [...y];
  const nTrees = Math.max(1, Math.floor(options.nTrees ?? 100));
  const grid = gridOf(options);
  const n = X.length;
  const groups = groupRows(X);
  // `score: false` (the caller fixed the parameters): nothing to choose, so nothing is scored
  const plan = options.score === false ? undefined : planSearch(grid, n, groups.length, p, options);

  // Without anything to hold out: the grid's first values.
  let chosen: Candidate = { ...(forestCombos(grid, p)[0] as Omit<Candidate, "trendWeight">), trendWeight: weightsOf(grid)[0] as number };
  let cvError = NaN;
  let scored = 0;
  if (plan) {
    const partitions = makeFolds(groups, plan.folds, plan.repeats, options.seed);
    // Per fold: its rows, and the trend fitted on its training rows (shared by candidates).
    const withTrend = plan.weights.some((w) => w > 0);
    const prepared = partitions.map((repeat) =>
      repeat.map((fold) => {
        const trainX = fold.train.map((i) => X[i] as readonly number[]);
        const trainT = fold.train.map((i) => t[i] as number);
        const testX = fold.test.map((i) => X[i] as readonly number[]);
        const ridge = withTrend ? fitRidgeLoo(trainX, trainT) : undefined;
        return {
          test: fold.test,
          trainX,
          trainT,
          testX,
          trainTrend: ridge ? trendForTrees(ridge, trainT) : [],
          testTrend: ridge ? ridgePredictMany(ridge.trend, testX) : [],
        };
      }),
    );
    const sums = new Map<string, { candidate: Candidate; total: number; count: number; repeats: number }>();
    /** adds a candidate's errors over repeat r */
    const score = (candidate: Candidate, r: number): void => {
      const key = keyOf(candidate);
      const entry = sums.get(key) ?? { candidate, total: 0, count: 0, repeats: 0 };
      sums.set(key, entry);
      const { trendWeight: w, ...forestParams } = candidate;
      (prepared[r] ?? []).forEach((prep, f) => {
        const target = w > 0 ? prep.trainT.map((v, k) => v - w * (prep.trainTrend[k] as number)) : prep.trainT;
        const forest = engine(prep.trainX, target, { ...forestParams, nTrees: plan.searchTrees, seed: deriveSeed(options.seed, `learner:cv:${r}:${f}`) });
        const predicted = forest.predict(prep.testX);
        prep.test.forEach((i, k) => {
          const v = (predicted[k] as number) + (w > 0 ? w * (prep.testTrend[k] as number) : 0);
          entry.total += errorOf(v, y[i] as number, transform, relative);
          entry.count++;
        });
      });
      entry.repeats++;
    };
    const meanOf = (e: { total: number; count: number }): number => (e.count > 0 ? e.total / e.count : Infinity);
    /** the best entry so far (ties: the earlier candidate) */
    const best = (): { candidate: Candidate; total: number; count: number; repeats: number } => {
      let top: { candidate: Candidate; total: number; count: number; repeats: number } | undefined;
      for (const e of sums.values()) if (!top || meanOf(e) < meanOf(top)) top = e;
      return top as { candidate: Candidate; total: number; count: number; repeats: number };
    };
    // Round 1: every trend weight with the first forest parameters.
    const first = plan.combos[0] as Omit<Candidate, "trendWeight">;
    for (const w of plan.weights) score({ ...first, trendWeight: w }, 0);
    // Round 2: every forest combination with the best weight.
    const weight = best().candidate.trendWeight;
    for (const combo of plan.combos.slice(1)) score({ ...combo, trendWeight: weight }, 0);
    // Round 3: the finalists on more repetitions.
    const finalists = [...sums.values()].sort((a, b) => meanOf(a) - meanOf(b)).slice(0, FINALISTS);
    for (let r = 1; r < plan.repeats; r++) for (const e of finalists) score(e.candidate, r);
    const winner = finalists.reduce((a, b) => (meanOf(b) < meanOf(a) ? b : a));
    chosen = winner.candidate;
    cvError = meanOf(winner);
    if (!Number.isFinite(cvError)) cvError = NaN;
    scored = sums.size;
    if (options.trace) for (const e of sums.values()) options.trace(e.candidate, meanOf(e), e.repeats);
  }
  const { trendWeight, ...forestParams } = chosen;
  const params: ForestParams = { ...forestParams, nTrees, seed: deriveSeed(options.seed, "learner:final") };
  const ridge = trendWeight > 0 ? fitRidgeLoo(X, t) : undefined;
  const trend = ridge?.trend;
  const trendAt = ridge ? trendForTrees(ridge, t) : [];
  const target = ridge ? t.map((v, i) => v - trendWeight * (trendAt[i] as number)) : t;
  const forest = engine(X, target, params);
  const tuning: TuningSummary = {
    metric: relative ? "relative" : "absolute",
    folds: plan?.folds ?? 0,
    repeats: plan?.repeats ?? 0,
    searchTrees: plan?.searchTrees ?? 0,
    candidates: scored,
    plannedMs: Math.round(plan?.plannedMs ?? 0),
    trend: trend ? "ridge" : "none",
    trendWeight: trend ? trendWeight : 0,
  };
  return new Tuned(forest, transform, params, trend ? trendWeight : 0, trend, cvError, tuning, p);
}

// ---------------------------------------------------------------------------------------
// Loading

function checkTrend(json: unknown, p: number): RidgeTrend {
  const damaged = (what: string): never => {
    throw new Error(`loadTuned: trend is damaged (${what})`);
  };
  if (typeof json !== "object" || json === null) damaged("not an object");
  const t = json as Partial<Record<keyof RidgeTrend, unknown>>;
  const basis = t.basis as Partial<TrendBasis> | undefined;
  const isNumbers = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === "number" && Number.isFinite(x));
  if (typeof basis !== "object" || basis === null || !isNumbers(basis.log) || !isNumbers(basis.floor) || typeof basis.pairwise !== "boolean" || !(typeof basis.pairWeight === "number" && basis.pairWeight > 0)) damaged("basis");
  const { log, floor, pairwise, pairWeight, squares } = basis as TrendBasis;
  if (!isNumbers(squares) || squares.some((j) => !Number.isInteger(j) || j < 0 || j >= p)) damaged("squares");
  if (log.length !== floor.length || log.some((j) => !Number.isInteger(j) || j < 0 || j >= p) || floor.some((f) => !(f > 0))) damaged("logged features");
  const columns = pairwise ? p + (p * (p - 1)) / 2 + squares.length : p;
  for (const key of ["centre", "scale", "coef"] as const) {
    const v = t[key];
    if (!isNumbers(v) || v.length !== columns) damaged(`${key} must hold ${columns} numbers`);
  }
  if (typeof t.intercept !== "number" || !Number.isFinite(t.intercept)) damaged("intercept");
  return {
    basis: { log: [...log], floor: [...floor], pairwise, pairWeight, squares: [...squares] },
    intercept: t.intercept as number,
    centre: t.centre as number[],
    scale: t.scale as number[],
    coef: t.coef as number[],
    lambda: typeof t.lambda === "number" ? t.lambda : Infinity,
  };
}

/**
 * Rebuilds a tuned forest from its `toJSON()`. The forest inside is read by `loadForest`
 * (default: the native engine's loader). Throws on another kind or version, or a damaged document.
 */
export function loadTuned(json: unknown, loadForest: (json: unknown) => ForestRegressor = loadNativeForest): TunedForest {
  const bad = (what: string): never => {
    throw new Error(`loadTuned: ${what}`);
  };
  if (typeof json !== "object" || json === null) bad("not an object");
  const doc = json as Partial<Record<keyof TunedForestJson, unknown>>;
  if (doc.kind !== TUNED_KIND) bad(`not a tuned forest (kind ${JSON.stringify(doc.kind)}, expected "${TUNED_KIND}")`);
  if (doc.version !== TUNED_VERSION) bad(`unsupported version ${JSON.stringify(doc.version)} (this build reads version ${TUNED_VERSION}); refit the model`);
  if (doc.transform !== "log" && doc.transform !== "identity") bad(`unknown transform ${JSON.stringify(doc.transform)}`);
  if (doc.cvError !== null && typeof doc.cvError !== "number") bad("cvError must be a number or null");
  const p = doc.nFeatures;
  if (typeof p !== "number" || !Number.isInteger(p) || p < 0) bad("nFeatures must be a non-negative integer");
  if (typeof doc.params !== "object" || doc.params === null) bad("params missing");
  if (typeof doc.tuning !== "object" || doc.tuning === null) bad("tuning missing");
  const w = doc.trendWeight;
  if (typeof w !== "number" || !(w >= 0 && w <= 1)) bad("trendWeight must be a number in [0, 1]");
  if ((w as number) > 0 && (doc.trend === null || doc.trend === undefined)) bad("trendWeight > 0 but no trend");
  const trend = doc.trend === null || doc.trend === undefined ? undefined : checkTrend(doc.trend, p as number);
  let forest: ForestRegressor;
  try {
    forest = loadForest(doc.forest);
  } catch (error) {
    return bad(`forest: ${(error as Error).message}`);
  }
  const raw = doc.params as Record<string, unknown>;
  const params = { ...(raw as unknown as ForestParams), maxDepth: raw.maxDepth === null ? Infinity : (raw.maxDepth as number) };
  return new Tuned(
    forest,
    doc.transform as Transform,
    params,
    w as number,
    trend,
    doc.cvError === null ? NaN : (doc.cvError as number),
    doc.tuning as TuningSummary,
    p as number,
  );
}
