/**
 * Scrambled Halton sequences: a low-discrepancy stream of points in [0, 1]^dims for
 * space-filling proposals that, unlike a Latin hypercube, can be extended a point at a time.
 *
 * Dimension d takes the d-th prime as its base. Plain Halton points correlate badly in the
 * higher dimensions (bases 61 and 67 walk in lockstep for the first thousands of indices), so
 * each dimension permutes its digits with its own seeded permutation, and the sequence starts
 * at a seeded index: different seeds give different, equally even, point sets.
 */
import { permutation, randomInt, type Rng } from "./random.js";

/** Seeded starting indices are drawn below this. */
const MAX_START = 1 << 12;

/** The first `count` primes. */
function firstPrimes(count: number): number[] {
  const primes: number[] = [];
  for (let k = 2; primes.length < count; k++) {
    if (primes.every((p) => p * p > k || k % p !== 0)) primes.push(k);
  }
  return primes;
}

/** The digits of index in the base, permuted and mirrored about the radix point. */
function radicalInverse(index: number, base: number, digits: readonly number[]): number {
  let u = 0;
  let weight = 1 / base;
  for (let i = index; i > 0; i = Math.floor(i / base)) {
    u += digits[i % base]! * weight;
    weight /= base;
  }
  return u;
}

/** A generator of the successive points of a scrambled Halton sequence in [0, 1)^dims. */
export function scrambledHalton(dims: number, rng: Rng): () => number[] {
  const bases = firstPrimes(dims);
  // Permutations keep 0 fixed: the zero digits above an index's highest digit stay zero,
  // so every point is a finite sum.
  const digits = bases.map((base) => [0, ...permutation(rng, base - 1).map((d) => d + 1)]);
  let index = 1 + randomInt(rng, MAX_START);
  return () => {
    const point = bases.map((base, d) => radicalInverse(index, base, digits[d]!));
    index++;
    return point;
  };
}
