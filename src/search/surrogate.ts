/**
 * The surrogate of the model-guided search, as in SMAC: a random forest fitted on the
 * observations (over a ridge trend, from a few observations on), its trees' spread standing
 * in for the uncertainty, and expected improvement (minimisation) as the acquisition.
 *
 * The forest's parameters are fixed, not tuned: the search refits it for every batch (so it
 * must be fast) and with tens of observations there is nothing to tune on. Leaves of a
 * single row let the trees disagree between observations, which is where the spread, and
 * so the exploration, comes from.
 */
import { normalCdf } from "../core/stats.js";
import { fitNativeForest } from "../model/native-forest.js";
import { fitRidge, ridgePredictMany } from "../model/learner.js";
import type { ForestParams } from "../model/regressor.js";

const SURROGATE_FOREST: Readonly<Omit<ForestParams, "seed">> = {
  nTrees: 40,
  mtry: 5 / 6,
  minLeaf: 1,
  maxDepth: 20,
  sampleFraction: 1,
  bootstrap: true,
};

/** Per scored row: the forest's mean and sd, and the expected improvement over the best value. */
export interface Scores {
  mean: Float64Array;
  sd: Float64Array;
  ei: Float64Array;
}

export interface Surrogate {
  /** the lowest observed value: what expected improvement improves on */
  readonly best: number;
  score(rows: readonly (readonly number[])[]): Scores;
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);


/** Expected improvement below `best` of a normal(mean, sd) outcome. */
export function expectedImprovement(mean: number, sd: number, best: number): number {
  const gain = best - mean;
  if (!(sd > 1e-12)) return Math.max(0, gain);
  const z = gain / sd;
  const cdf = normalCdf(z);
  const pdf = INV_SQRT_2PI * Math.exp(-0.5 * z * z);
  return Math.max(0, gain * cdf + sd * pdf);
}

/**
 * Observations from which the forest learns the residuals of a ridge trend (basis and penalty
 * chosen by leave-one-out, model/learner.ts), as the KPI model does: trees alone cannot
 * extrapolate a gradient, so before this the search stepped towards an optimum at the edge
 * of the space one leaf at a time. On the benchmark datasets (bench:search, 30 seeds) it cut
 * the model-guided median trials to the target from 8 / 5.5 / 8.5 / 18 / 8.5 to
 * 7.5 / 5.5 / 7.5 / 9 / 7 (Apache, x264, LLVM, HSMGP, VP8). Below 6, leave-one-out has too
 * little to choose the penalty on.
 */
const TREND_MIN_OBSERVATIONS = 6;

/** Fits the surrogate on feature rows (featureEncoder) and their values (lower is better). */
export function fitSurrogate(rows: readonly (readonly number[])[], values: readonly number[], seed: number): Surrogate {
  const trend = rows.length >= TREND_MIN_OBSERVATIONS ? fitRidge(rows, values) : undefined;
  const fitted = trend ? ridgePredictMany(trend, rows) : undefined;
  const forest = fitNativeForest(rows, fitted ? values.map((v, i) => v - fitted[i]!) : values, { ...SURROGATE_FOREST, seed });
  const best = values.reduce((a, b) => Math.min(a, b), Infinity);
  return {
    best,
    score(X) {
      if (X.length === 0) return { mean: new Float64Array(0), sd: new Float64Array(0), ei: new Float64Array(0) };
      const { mean, sd } = forest.treeStats(X);
      if (trend) {
        const t = ridgePredictMany(trend, X);
        for (let i = 0; i < X.length; i++) mean[i]! += t[i]!;
      }
      const ei = new Float64Array(X.length);
      for (let i = 0; i < X.length; i++) ei[i] = expectedImprovement(mean[i]!, sd[i]!, best);
      return { mean, sd, ei };
    },
  };
}
