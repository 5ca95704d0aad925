/**
 * Latin hypercube designs over the parameter space (see space.ts for the unit encoding).
 *
 * Each dimension is split into n equal strata and every stratum holds exactly one point;
 * the strata are paired across dimensions by independent random permutations. Of a few
 * such designs the one with the largest minimum pairwise distance (maximin) is kept,
 * measured after snapping to the catalog (ints, enums, bools), which spreads the points.
 */
import type { Configuration, ParameterCatalog } from "../core/types.js";
import { deriveSeed, mulberry32, permutation, type Rng } from "./random.js";
import { checkCatalog, configKey, decode, encodeUnit } from "./space.js";

export interface LhsOptions {
  /** designs drawn, keeping the maximin one; default 8 for n <= 256, else 1 (the check is O(n^2)) */
  restarts?: number;
}

/** One Latin hypercube in [0, 1]^dims: n points, each stratum of each dimension hit once. */
function oneDesign(dims: number, n: number, rng: Rng): number[][] {
  const points = Array.from({ length: n }, () => new Array<number>(dims).fill(0));
  for (let d = 0; d < dims; d++) {
    const perm = permutation(rng, n);
    for (let i = 0; i < n; i++) {
      (points[i] as number[])[d] = ((perm[i] as number) + rng()) / n;
    }
  }
  return points;
}

/** Squared Euclidean distance of two points. */
export function squaredDistance(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) {
    const d = (a[k] as number) - (b[k] as number);
    s += d * d;
  }
  return s;
}

/** The smallest pairwise Euclidean distance of a set of points (Infinity for fewer than 2). */
export function minPairwiseDistance(points: readonly (readonly number[])[]): number {
  let best = Infinity;
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) {
      best = Math.min(best, squaredDistance(points[i] as number[], points[j] as number[]));
    }
  }
  return Math.sqrt(best);
}

/** The squared distance from a point to the nearest of a set (Infinity for an empty set). */
export function nearestSquaredDistance(point: readonly number[], points: readonly (readonly number[])[]): number {
  let best = Infinity;
  for (const p of points) best = Math.min(best, squaredDistance(point, p));
  return best;
}

/** The distance from a point to the nearest of a set (Infinity for an empty set). */
export function nearestDistance(point: readonly number[], points: readonly (readonly number[])[]): number {
  return Math.sqrt(nearestSquaredDistance(point, points));
}

function restartsFor(n: number, options?: LhsOptions): number {
  return Math.max(1, Math.floor(options?.restarts ?? (n <= 256 ? 8 : 1)));
}

/**
 * A Latin hypercube of n points in [0, 1]^dims. `snap` maps a point to the one the maximin
 * criterion should measure (e.g. after rounding to the catalog); identity by default.
 */
export function latinHypercubeUnit(
  dims: number,
  n: number,
  rng: Rng,
  options?: LhsOptions,
  snap: (point: number[]) => number[] = (p) => p,
): number[][] {
  if (n <= 0 || dims <= 0) return Array.from({ length: Math.max(0, n) }, () => []);
  const restarts = restartsFor(n, options);
  let best: number[][] = [];
  let bestScore = -Infinity;
  for (let r = 0; r < restarts; r++) {
    const design = oneDesign(dims, n, rng);
    if (restarts === 1) return design;
    const score = minPairwiseDistance(design.map(snap));
    if (score > bestScore) {
      best = design;
      bestScore = score;
    }
  }
  return best;
}

/** n configurations from a Latin hypercube over the catalog (duplicates possible after rounding). */
export function latinHypercube(catalog: ParameterCatalog, n: number, rng: Rng, options?: LhsOptions): Configuration[] {
  checkCatalog(catalog);
  const snap = (p: number[]): number[] => encodeUnit(catalog, decode(catalog, p));
  return latinHypercubeUnit(catalog.length, n, rng, options, snap).map((p) => decode(catalog, p));
}

/**
 * The first design of a run: the current configuration first (as given), then n-1 Latin
 * hypercube points. Points equal to an earlier one after rounding are replaced by fresh
 * random points chosen to be far from those already taken; when the space has fewer than n
 * distinct configurations, fewer are returned. Deterministic given the seed.
 */
export function initialDesign(
  catalog: ParameterCatalog,
  current: Configuration,
  n: number,
  seed: number,
): Configuration[] {
  checkCatalog(catalog);
  if (n <= 0) return [];
  const rng = mulberry32(deriveSeed(seed, "initialDesign"));
  const chosen: Configuration[] = [{ ...current }];
  const chosenUnit: number[][] = [encodeUnit(catalog, current)];
  const seen = new Set<string>([configKey(catalog, decode(catalog, chosenUnit[0] as number[]))]);

  const take = (config: Configuration): boolean => {
    const key = configKey(catalog, config);
    if (seen.has(key)) return false;
    seen.add(key);
    chosen.push(config);
    chosenUnit.push(encodeUnit(catalog, config));
    return true;
  };

  for (const config of latinHypercube(catalog, n - 1, rng)) take(config);

  // Replace duplicates: from fresh batches, greedily add the point farthest from those taken.
  for (let round = 0; round < 20 && chosen.length < n; round++) {
    const missing = n - chosen.length;
    const batch = latinHypercube(catalog, Math.max(16, 4 * missing), rng, { restarts: 1 }).filter(
      (c) => !seen.has(configKey(catalog, c)),
    );
    let added = false;
    while (chosen.length < n && batch.length > 0) {
      let bestIndex = -1;
      let bestDistance = -1;
      batch.forEach((c, i) => {
        const d = nearestDistance(encodeUnit(catalog, c), chosenUnit);
        if (d > bestDistance) {
          bestDistance = d;
          bestIndex = i;
        }
      });
      const [pick] = batch.splice(bestIndex, 1);
      if (pick && take(pick)) added = true;
    }
    if (!added && round >= 5) break;
  }
  return chosen;
}
