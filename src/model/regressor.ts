/**
 * The seam between the model (forest.ts: anchors, KPIs, intervals) and the forest engine
 * that fits numbers to numbers. Two engines implement it: ml-random-forest (the client's
 * choice, src/model/ml-forest-engine.ts) and Shadowgate's own (src/model/native-forest.ts);
 * docs/adr/003-forest-engine.md says which one is used by default and why.
 */

/** How one forest is grown. */
export interface ForestParams {
  /** trees in the forest */
  nTrees: number;
  /** fraction (0, 1] of the feature columns considered at each split (at least one column) */
  mtry: number;
  /** a node with fewer than 2 × minLeaf rows is a leaf; every leaf holds at least minLeaf rows */
  minLeaf: number;
  /** depth limit (root = 0) */
  maxDepth: number;
  /** rows drawn for each tree, as a fraction (0, 1] of the training rows */
  sampleFraction: number;
  /** draw rows with replacement (bootstrap) or without (subsampling) */
  bootstrap: boolean;
  seed: number;
}

/** A fitted forest. Inputs are rows of numeric features, the same columns as in training. */
export interface ForestRegressor {
  readonly nTrees: number;
  /** per-tree predictions: one row per input row, one value per tree */
  treeValues(X: readonly (readonly number[])[]): number[][];
  /** the mean over trees, per input row */
  predict(X: readonly (readonly number[])[]): number[];
  /**
   * The mean and population sd over trees, per input row, without a per-tree array per row
   * (what prediction intervals need; 100,000 rows × 100 trees of arrays cost seconds)
   */
  treeStats(X: readonly (readonly number[])[]): TreeStats;
  /** compact, versioned JSON (see `loadForest` of the engine) */
  toJSON(): unknown;
}

/** An engine: grows a forest on rows X (n × p) and targets y (n). */
export type FitForest = (X: readonly (readonly number[])[], y: readonly number[], params: ForestParams) => ForestRegressor;

export type EngineName = "native" | "ml-random-forest";

/** Per input row, the mean and the population sd of the trees' predictions. */
export interface TreeStats {
  mean: Float64Array;
  sd: Float64Array;
}

/** TreeStats from per-tree predictions (for engines without a faster way). */
export function statsOfTreeValues(values: readonly (readonly number[])[]): TreeStats {
  const mean = new Float64Array(values.length);
  const sd = new Float64Array(values.length);
  values.forEach((trees, r) => {
    let sum = 0;
    let sumSq = 0;
    for (const v of trees) {
      sum += v;
      sumSq += v * v;
    }
    const m = trees.length > 0 ? sum / trees.length : NaN;
    mean[r] = m;
    sd[r] = trees.length > 1 ? Math.sqrt(Math.max(0, sumSq / trees.length - m * m)) : 0;
  });
  return { mean, sd };
}
