/**
 * The ml-random-forest engine behind `FitForest` / `ForestRegressor` (src/model/regressor.ts):
 * ml-random-forest 2.1.0 (trees from ml-cart 2.1.1) used as well as it can be, with its
 * pitfalls guarded. Measurements and the engine decision: docs/adr/003-forest-engine.md;
 * `npx tsx scripts/measure-ml-forest.ts` reproduces them.
 *
 * How `ForestParams` map onto the library:
 *  - nTrees → `nEstimators`.
 *  - mtry → `maxFeatures` as a whole count max(1, ⌊mtry·p⌋), drawn once per TREE (the
 *    library has no per-split sampling; a tree that misses an important column is just
 *    worse, so mtry < 1 hurts more here than in a per-split forest). The count 1 is passed
 *    as the fraction 1.5/p: the library reads any maxFeatures ≤ 1 as a fraction of the
 *    columns, so a literal 1 would mean all of them.
 *  - minLeaf → `treeOptions.minNumSamples` = 2·minLeaf − 1: ml-cart makes a node with
 *    ≤ minNumSamples rows a leaf, i.e. nodes with fewer than 2·minLeaf rows. ml-cart has no
 *    minimum leaf size, so a split may still leave fewer than minLeaf rows on one side.
 *  - maxDepth → `treeOptions.maxDepth` (root = 0; Infinity allowed).
 *  - sampleFraction = 1 → one library forest; bootstrap → its own bagging
 *    (`useSampleBagging: true`), else every tree sees all rows. sampleFraction < 1 → each
 *    tree is grown as a one-tree forest (`useSampleBagging: false`) on ⌈sampleFraction·n⌉
 *    rows drawn here (with replacement when bootstrap), and the trees are joined into one
 *    library model with `RandomForestRegression.load` — one model, one JSON. (The library's
 *    own `maxSamples` is no substitute: it keeps the FIRST rows of the data, once.)
 *  - `noOOB: true` always (the out-of-bag step throws "input must not be empty" with few
 *    trees or rows, and costs time); `seed` → a 31-bit integer (the library rejects others).
 *  - `treeOptions.gainThreshold: -1`: ml-cart's regression tree refuses a split whose two
 *    children are both pure (zero squared error: `gain > gainThreshold` with threshold 0),
 *    so it cannot fit a noise-free step or separate a bootstrap duplicate from its
 *    neighbour. A negative threshold allows those splits below the root; at the root
 *    ml-cart still compares with a parent "gain" of 0, so a sample whose best split is
 *    perfectly pure (e.g. two distinct rows, or a noise-free step on one column) stays a
 *    single leaf holding the mean.
 *
 * Guards: rows of unequal width, non-finite values and empty input throw errors that say
 * what is wrong; predicting zero rows returns [] (the library throws "column indices are out
 * of range" for an empty or narrower matrix, and silently reads wider rows); a constant
 * target gives a constant forest without calling the library.
 *
 * Prediction. The library's `predictionValues` copies the input into a matrix and walks
 * each tree through column-selection views: 100,000 rows × 50 trees take ~2.5 s here. The
 * regressor therefore flattens the library's fitted trees once (after fit or load) into
 * typed arrays and walks those — the same comparisons (`x[col] < splitValue` → left) on
 * the same numbers, so per-tree values are identical to `predictionValues` (tested).
 * `predictor: "library"` keeps the library's own path.
 *
 * JSON. `toJSON()` is `{ format, version, columns, nTrees, model }` where `model` is the
 * library's own `toJSON()` (an object holding the library's live trees: serialise it, do not
 * mutate it), loadable by `RandomForestRegression.load`. It is large: every ml-cart node
 * repeats its options, ~180–190 bytes per node: 3.6 MB (gzip 0.28 MB) for 50 trees of 200
 * rows each at minNumSamples 1, 10.8 MB (gzip 0.89 MB) for 50 trees bagged from 1,000 rows
 * (ADR 003 has sizes per setting). Predictions round-trip exactly; the text shrinks ~6% once
 * for a forest fitted by the library's own bagging (its `load` drops `numberSamples`).
 */
import { RandomForestRegression } from "ml-random-forest";
import { deriveSeed, mulberry32, randomInt } from "../search/random.js";
import { statsOfTreeValues, type EngineName, type FitForest, type ForestParams, type ForestRegressor, type TreeStats } from "./regressor.js";

export const ML_FOREST_FORMAT = "shadowgate/ml-random-forest";
export const ML_FOREST_FORMAT_VERSION = 1;

/** Engine-specific knobs beyond `ForestParams` (for measurements and experiments). */
export interface MlForestTuning {
  /** ml-cart's `minNumSamples` given directly (a node with this many rows or fewer is a leaf); default 2·minLeaf − 1 */
  minNumSamples?: number;
  /** draw each tree's feature columns with replacement (the library's `replacement`); default false */
  featureReplacement?: boolean;
  /** let ml-cart split into two pure children (`gainThreshold: -1`, see the module comment); default true */
  pureSplits?: boolean;
  /** "compiled" (default): walk the library's trees flattened to typed arrays; "library": its `predictionValues` */
  predictor?: "compiled" | "library";
}

/** The options handed to `new RandomForestRegression(...)`. */
export interface MlForestLibraryOptions {
  nEstimators: number;
  maxFeatures: number;
  replacement: boolean;
  useSampleBagging: boolean;
  noOOB: true;
  seed: number;
  selectionMethod: "mean";
  treeOptions: { maxDepth: number; minNumSamples: number; gainThreshold?: number };
}

/** How a forest will be grown on n rows × p columns. */
export interface MlForestPlan {
  /** options of the library forest (nEstimators 1 per tree when `ownSampling`) */
  options: MlForestLibraryOptions;
  /** feature columns each tree sees */
  featuresPerTree: number;
  /** rows each tree is grown on */
  rowsPerTree: number;
  /** rows drawn here, one one-tree library forest per tree (else one library forest: its bagging, or all rows) */
  ownSampling: boolean;
  /** with replacement (bootstrap) */
  bootstrap: boolean;
}

/** The persisted form: the library's own JSON in a small versioned envelope. */
export interface MlForestJSON {
  format: typeof ML_FOREST_FORMAT;
  version: typeof ML_FOREST_FORMAT_VERSION;
  /** feature columns of the training rows */
  columns: number;
  nTrees: number;
  /** a constant target: no library model */
  constant?: number;
  /** `RandomForestRegression#toJSON()` */
  model?: unknown;
}

// ---------------------------------------------------------------------------------------
// Validation and the mapping

const fail = (what: string, expected: string, got: unknown): never => {
  throw new RangeError(`ml-random-forest engine: ${what}: expected ${expected}, got ${String(got)}`);
};

function checkParams(params: ForestParams): void {
  if (!Number.isInteger(params.nTrees) || params.nTrees < 1) fail("params.nTrees", "an integer ≥ 1", params.nTrees);
  if (!(params.mtry > 0 && params.mtry <= 1)) fail("params.mtry", "a fraction in (0, 1]", params.mtry);
  if (!Number.isInteger(params.minLeaf) || params.minLeaf < 1) fail("params.minLeaf", "an integer ≥ 1", params.minLeaf);
  if (!(params.maxDepth >= 0)) fail("params.maxDepth", "a number ≥ 0 (Infinity for no limit)", params.maxDepth);
  if (!(params.sampleFraction > 0 && params.sampleFraction <= 1)) fail("params.sampleFraction", "a fraction in (0, 1]", params.sampleFraction);
  if (!Number.isFinite(params.seed)) fail("params.seed", "a finite number", params.seed);
}

/** A seed the library accepts (random-js wants an integer; 31 bits keeps it positive). */
const librarySeed = (seed: number): number => deriveSeed(Math.trunc(seed) >>> 0, "ml-random-forest");

/** The library's `maxFeatures` for a whole count k of p columns (values ≤ 1 are read as fractions). */
export function maxFeaturesOption(k: number, p: number): number {
  if (!Number.isInteger(k) || k < 1 || k > p) fail("feature count", `an integer in [1, ${p}]`, k);
  return k === 1 && p > 1 ? 1.5 / p : k;
}

/** Rows per tree in `mlForestBudgetParams`: ml-cart's split search is O(rows²) per column and node. */
export const ML_FOREST_BUDGET_ROWS = 200;

/**
 * Settings with which ml-random-forest trains 1,000 rows × 20 features within the 2 s target
 * on the 2-core machine (ADR 003: 1.4–1.5 s there): 50 trees, each on min(90% of n, 200)
 * rows drawn without replacement, all columns, no depth limit, minLeaf 1. They cost accuracy
 * where n is large (the trees see a fraction of the rows): see the ADR before relying on them.
 */
export function mlForestBudgetParams(n: number, seed: number): ForestParams {
  if (!Number.isInteger(n) || n < 1) fail("n", "an integer ≥ 1", n);
  return { nTrees: 50, mtry: 1, minLeaf: 1, maxDepth: Infinity, sampleFraction: Math.min(0.9, ML_FOREST_BUDGET_ROWS / n), bootstrap: false, seed };
}

/** The plan for n rows × p columns: what the engine passes to the library. */
export function mlForestPlan(n: number, p: number, params: ForestParams, tuning: MlForestTuning = {}): MlForestPlan {
  checkParams(params);
  const featuresPerTree = Math.min(p, Math.max(1, Math.floor(params.mtry * p + 1e-9)));
  const minNumSamples = tuning.minNumSamples ?? 2 * params.minLeaf - 1;
  if (!Number.isInteger(minNumSamples) || minNumSamples < 0) fail("tuning.minNumSamples", "an integer ≥ 0", minNumSamples);
  const rowsPerTree = Math.min(n, Math.max(1, Math.ceil(params.sampleFraction * n - 1e-9)));
  const ownSampling = rowsPerTree < n;
  return {
    options: {
      nEstimators: ownSampling ? 1 : params.nTrees,
      maxFeatures: maxFeaturesOption(featuresPerTree, p),
      replacement: tuning.featureReplacement ?? false,
      useSampleBagging: !ownSampling && params.bootstrap,
      noOOB: true,
      seed: librarySeed(params.seed),
      selectionMethod: "mean",
      treeOptions: {
        maxDepth: params.maxDepth,
        minNumSamples,
        ...((tuning.pureSplits ?? true) ? { gainThreshold: -1 } : {}),
      },
    },
    featuresPerTree,
    rowsPerTree,
    ownSampling,
    bootstrap: params.bootstrap,
  };
}

function checkRows(what: string, X: readonly (readonly number[])[], columns: number | undefined): number {
  let p = columns;
  for (let i = 0; i < X.length; i++) {
    const row = X[i] as readonly number[];
    if (!Array.isArray(row)) fail(`${what}[${i}]`, "an array of numbers", row);
    if (p === undefined) p = row.length;
    if (row.length !== p) fail(`${what}[${i}]`, `${p} columns`, `${row.length}`);
    for (let j = 0; j < row.length; j++) {
      if (!Number.isFinite(row[j])) fail(`${what}[${i}][${j}]`, "a finite number", row[j]);
    }
  }
  return p ?? 0;
}

// ---------------------------------------------------------------------------------------
// The library's trees, flattened

/** An ml-cart regression node as trained or loaded (the fields `classify` reads). */
interface CartNode {
  left?: CartNode;
  right?: CartNode;
  splitColumn?: number;
  splitValue?: number;
  distribution?: unknown;
}

/** The parts of a library forest this module reads (not all are in its type declarations). */
interface LibraryForest {
  nEstimators: number;
  indexes: number[][];
  estimators: { root: CartNode }[];
  predictionValues(X: number[][]): { to2DArray(): number[][] };
  toJSON(): unknown;
}

/** One tree in arrays: internal nodes have feature ≥ 0, leaves feature −1 and `value`. */
interface FlatTree {
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  value: Float64Array;
}

function countNodes(root: CartNode): number {
  let count = 0;
  const stack: CartNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop() as CartNode;
    count++;
    if (node.left && node.right) stack.push(node.left, node.right);
  }
  return count;
}

/** Flattens one ml-cart tree, mapping its columns through the tree's feature indexes. */
function flatten(root: CartNode, columns: readonly number[]): FlatTree {
  const size = countNodes(root);
  const tree: FlatTree = {
    feature: new Int32Array(size),
    threshold: new Float64Array(size),
    left: new Int32Array(size),
    right: new Int32Array(size),
    value: new Float64Array(size),
  };
  let next = 0;
  const place = (node: CartNode): number => {
    const at = next++;
    if (node.left && node.right) {
      // ml-cart's classify: row[splitColumn] < splitValue → left, else right
      const column = columns[node.splitColumn as number];
      if (column === undefined) throw new Error(`ml-random-forest engine: a tree splits on column ${node.splitColumn} it does not have`);
      tree.feature[at] = column;
      tree.threshold[at] = node.splitValue as number;
      tree.left[at] = place(node.left);
      tree.right[at] = place(node.right);
    } else {
      tree.feature[at] = -1;
      tree.value[at] = Number(node.distribution);
    }
    return at;
  };
  place(root);
  return tree;
}

function evaluate(tree: FlatTree, row: readonly number[]): number {
  const { feature, threshold, left, right, value } = tree;
  let i = 0;
  for (;;) {
    const f = feature[i] as number;
    if (f < 0) return value[i] as number;
    i = (row[f] as number) < (threshold[i] as number) ? (left[i] as number) : (right[i] as number);
  }
}

// ---------------------------------------------------------------------------------------
// The regressor

export class MlForestRegressor implements ForestRegressor {
  readonly nTrees: number;
  /** feature columns of the training rows (inputs must have exactly these) */
  readonly columns: number;
  /** nodes over all trees (0 for a constant forest) */
  readonly nodeCount: number;
  private readonly trees: readonly FlatTree[];

  constructor(
    columns: number,
    nTrees: number,
    /** the library model, or a constant for a target that does not vary */
    private readonly source: { forest: LibraryForest } | { constant: number },
    private readonly predictor: "compiled" | "library" = "compiled",
  ) {
    this.columns = columns;
    this.nTrees = nTrees;
    if ("forest" in source) {
      const { forest } = source;
      if (forest.estimators.length !== nTrees || forest.indexes.length !== nTrees) {
        throw new Error(`ml-random-forest engine: the model has ${forest.estimators.length} trees, expected ${nTrees}`);
      }
      this.trees = forest.estimators.map((est, t) => flatten(est.root, forest.indexes[t] as number[]));
      this.nodeCount = this.trees.reduce((s, tree) => s + tree.feature.length, 0);
    } else {
      this.trees = [];
      this.nodeCount = 0;
    }
  }

  /** The library model (undefined for a constant forest). */
  get library(): RandomForestRegression | undefined {
    return "forest" in this.source ? (this.source.forest as unknown as RandomForestRegression) : undefined;
  }

  treeValues(X: readonly (readonly number[])[]): number[][] {
    if (X.length === 0) return [];
    checkRows("X", X, this.columns);
    if ("constant" in this.source) {
      const c = this.source.constant;
      return X.map(() => new Array<number>(this.nTrees).fill(c));
    }
    if (this.predictor === "library") return this.source.forest.predictionValues(X as number[][]).to2DArray();
    const trees = this.trees;
    return X.map((row) => trees.map((tree) => evaluate(tree, row)));
  }

  treeStats(X: readonly (readonly number[])[]): TreeStats {
    return statsOfTreeValues(this.treeValues(X));
  }

  predict(X: readonly (readonly number[])[]): number[] {
    if (X.length === 0) return [];
    checkRows("X", X, this.columns);
    if ("constant" in this.source) return new Array<number>(X.length).fill(this.source.constant);
    if (this.predictor === "library") return this.treeValues(X).map((values) => values.reduce((a, b) => a + b, 0) / values.length);
    const trees = this.trees;
    const out = new Array<number>(X.length);
    for (let i = 0; i < X.length; i++) {
      const row = X[i] as readonly number[];
      let sum = 0;
      for (let t = 0; t < trees.length; t++) sum += evaluate(trees[t] as FlatTree, row);
      out[i] = sum / trees.length;
    }
    return out;
  }

  toJSON(): MlForestJSON {
    const base = { format: ML_FOREST_FORMAT, version: ML_FOREST_FORMAT_VERSION, columns: this.columns, nTrees: this.nTrees } as const;
    return "constant" in this.source ? { ...base, constant: this.source.constant } : { ...base, model: this.source.forest.toJSON() };
  }
}

// ---------------------------------------------------------------------------------------
// Fitting and loading

/** `fitMlForest` with engine-specific knobs. */
export function fitMlForestWith(
  X: readonly (readonly number[])[],
  y: readonly number[],
  params: ForestParams,
  tuning: MlForestTuning = {},
): MlForestRegressor {
  if (X.length === 0) fail("X", "at least one row", "none");
  if (y.length !== X.length) fail("y", `${X.length} values (one per row of X)`, y.length);
  const p = checkRows("X", X, undefined);
  if (p === 0) fail("X", "at least one feature column", 0);
  y.forEach((v, i) => {
    if (!Number.isFinite(v)) fail(`y[${i}]`, "a finite number", v);
  });
  const plan = mlForestPlan(X.length, p, params, tuning);

  let lo = Infinity;
  let hi = -Infinity;
  for (const v of y) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (lo === hi) return new MlForestRegressor(p, params.nTrees, { constant: lo }, tuning.predictor);

  const rows = X as number[][];
  const values = y as number[];
  if (!plan.ownSampling) {
    const forest = new RandomForestRegression(plan.options);
    forest.train(rows, values);
    return new MlForestRegressor(p, params.nTrees, { forest: forest as unknown as LibraryForest }, tuning.predictor);
  }

  // One one-tree forest per tree on rows drawn here, joined into one library model.
  const rng = mulberry32(deriveSeed(Math.trunc(params.seed) >>> 0, "ml-random-forest:rows"));
  const n = X.length;
  const m = plan.rowsPerTree;
  const order = Array.from({ length: n }, (_, i) => i);
  const estimators: unknown[] = [];
  const indexes: number[][] = [];
  for (let t = 0; t < params.nTrees; t++) {
    let pick: number[];
    if (plan.bootstrap) {
      pick = Array.from({ length: m }, () => randomInt(rng, n));
    } else {
      // partial Fisher–Yates: the first m of a fresh permutation
      for (let i = 0; i < m; i++) {
        const j = i + randomInt(rng, n - i);
        const tmp = order[i] as number;
        order[i] = order[j] as number;
        order[j] = tmp;
      }
      pick = order.slice(0, m);
    }
    const tree = new RandomForestRegression({ ...plan.options, seed: deriveSeed(plan.options.seed, `tree:${t}`) });
    tree.train(
      pick.map((i) => rows[i] as number[]),
      pick.map((i) => values[i] as number),
    );
    const base = (tree.toJSON() as unknown as { baseModel: { estimators: unknown[]; indexes: number[][] } }).baseModel;
    estimators.push(base.estimators[0]);
    indexes.push(base.indexes[0] as number[]);
  }
  const forest = RandomForestRegression.load({
    name: "RFRegression",
    selectionMethod: "mean",
    baseModel: {
      indexes,
      n: plan.featuresPerTree,
      replacement: plan.options.replacement,
      maxFeatures: plan.options.maxFeatures,
      nEstimators: params.nTrees,
      treeOptions: plan.options.treeOptions,
      isClassifier: false,
      seed: plan.options.seed,
      estimators,
      useSampleBagging: false,
    },
  } as unknown as Parameters<typeof RandomForestRegression.load>[0]);
  return new MlForestRegressor(p, params.nTrees, { forest: forest as unknown as LibraryForest }, tuning.predictor);
}

/** The ml-random-forest engine (see the module comment for how `params` map onto the library). */
export const fitMlForest: FitForest = (X, y, params) => fitMlForestWith(X, y, params);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * A regressor from `toJSON()` (a JSON round trip is exact). Also accepts the library's bare
 * `RandomForestRegression#toJSON()` (`name: "RFRegression"`); its column count is then taken
 * as one more than the largest column a tree uses, unless `columns` is given.
 */
export function loadMlForest(json: unknown, options: { columns?: number; predictor?: "compiled" | "library" } = {}): MlForestRegressor {
  const bad = (why: string): never => {
    throw new Error(`loadMlForest: ${why}`);
  };
  if (!isRecord(json)) return bad("expected an object");
  let model: unknown;
  let columns: number | undefined = options.columns;
  let nTrees: number | undefined;
  if (json.format === ML_FOREST_FORMAT) {
    if (json.version !== ML_FOREST_FORMAT_VERSION) bad(`unsupported version ${String(json.version)} (expected ${ML_FOREST_FORMAT_VERSION})`);
    if (!Number.isInteger(json.columns) || (json.columns as number) < 1) bad("columns: expected an integer ≥ 1");
    if (!Number.isInteger(json.nTrees) || (json.nTrees as number) < 1) bad("nTrees: expected an integer ≥ 1");
    columns = json.columns as number;
    nTrees = json.nTrees as number;
    if (json.constant !== undefined) {
      if (typeof json.constant !== "number" || !Number.isFinite(json.constant)) bad("constant: expected a finite number");
      return new MlForestRegressor(columns, nTrees, { constant: json.constant as number }, options.predictor);
    }
    model = json.model;
  } else if (json.name === "RFRegression") {
    model = json;
  } else {
    return bad(`not an ml-random-forest model (format ${String(json.format)}, name ${String(json.name)})`);
  }
  if (!isRecord(model) || model.name !== "RFRegression" || !isRecord(model.baseModel)) return bad("model: expected RandomForestRegression#toJSON()");
  const base = model.baseModel;
  if (!Array.isArray(base.estimators) || !Array.isArray(base.indexes) || base.estimators.length !== base.indexes.length || base.estimators.length === 0) {
    bad("model.baseModel: expected as many estimators as feature index lists (at least one)");
  }
  const used = (base.indexes as unknown[]).flatMap((list) => (Array.isArray(list) ? (list as unknown[]) : [NaN]));
  if (!used.every((c) => Number.isInteger(c) && (c as number) >= 0)) bad("model.baseModel.indexes: expected lists of column numbers");
  const widest = Math.max(...(used as number[])) + 1;
  columns ??= widest;
  if (widest > columns) bad(`the trees use column ${widest - 1} of ${columns}`);
  nTrees ??= (base.estimators as unknown[]).length;
  const forest = RandomForestRegression.load(model as unknown as Parameters<typeof RandomForestRegression.load>[0]);
  return new MlForestRegressor(columns, nTrees, { forest: forest as unknown as LibraryForest }, options.predictor);
}
