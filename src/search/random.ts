/**
 * A small seeded PRNG and the helpers built on it. Everything random in the pure core
 * (designs, search, forest seeds) draws from here, so a run is reproducible from its seed.
 */

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

/** mulberry32: 32-bit state, fast, good enough for sampling designs (not for cryptography). */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a hash of a string to an unsigned 32-bit integer. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A new seed derived from a seed and a label, so independent consumers of one run seed
 * (e.g. one forest per KPI) get independent streams. Non-negative and below 2^31, which
 * is what ml-random-forest's `seed` (a 32-bit integer for random-js) accepts.
 */
export function deriveSeed(seed: number, label: string): number {
  const rng = mulberry32((hashString(label) ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0);
  rng();
  return Math.floor(rng() * 0x7fffffff);
}

/** Uniform integer in [0, n). */
export function randomInt(rng: Rng, n: number): number {
  return Math.min(n - 1, Math.floor(rng() * n));
}

/** Fisher–Yates shuffle in place; returns the array. */
export function shuffleInPlace<T>(rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    const tmp = items[i] as T;
    items[i] = items[j] as T;
    items[j] = tmp;
  }
  return items;
}

/** A random permutation of 0..n-1. */
export function permutation(rng: Rng, n: number): number[] {
  return shuffleInPlace(
    rng,
    Array.from({ length: n }, (_, i) => i),
  );
}
