/**
 * The surrogate of the model-guided search, as in SMAC: a random forest fitted on the
 * observations, its trees' spread standing in for the uncertainty, and expected improvement
 * (minimisation) as the acquisition.
 *
 * The forest's parameters are fixed, not tuned: the search refits it for every batch (so it
 * must be fast) and with tens of observations there is nothing to tune on. Leaves of a
 * single row let the trees disagree between observations, which is where the spread, and
 * so the exploration, comes from.
 */
import { fitNativeForest } from "../model/native-forest.js";
import type { ForestParams } from "../model/regressor.js";

export const SURROGATE_FOREST: Readonly<Omit<ForestParams, "seed">> = {
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

/** Complementary error function (Numerical Recipes' erfcc, relative error < 1.2e-7). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Expected improvement below `best` of a normal(mean, sd) outcome. */
export function expectedImprovement(mean: number, sd: number, best: number): number {
  const gain = best - mean;
  if (!(sd > 1e-12)) return Math.max(0, gain);
  const z = gain / sd;
  const cdf = 0.5 * erfc(-z / Math.SQRT2);
  const pdf = INV_SQRT_2PI * Math.exp(-0.5 * z * z);
  return Math.max(0, gain * cdf + sd * pdf);
}

/** Fits the surrogate on feature rows (featureEncoder) and their values (lower is better). */
export function fitSurrogate(rows: readonly (readonly number[])[], values: readonly number[], seed: number): Surrogate {
  const forest = fitNativeForest(rows, values, { ...SURROGATE_FOREST, seed });
  const best = values.reduce((a, b) => Math.min(a, b), Infinity);
  return {
    best,
    score(X) {
      if (X.length === 0) return { mean: new Float64Array(0), sd: new Float64Array(0), ei: new Float64Array(0) };
      const { mean, sd } = forest.treeStats(X);
      const ei = new Float64Array(X.length);
      for (let i = 0; i < X.length; i++) ei[i] = expectedImprovement(mean[i]!, sd[i]!, best);
      return { mean, sd, ei };
    },
  };
}
