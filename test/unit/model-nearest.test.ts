import { describe, expect, it } from "vitest";
import { NearestIndex } from "../../src/model/nearest.js";
import { mulberry32 } from "../../src/search/random.js";

function bruteNearestSq(points: Float64Array, dims: number, query: ArrayLike<number>, limitSq: number, skip: number): number {
  let best = limitSq;
  for (let i = 0; i < points.length / dims; i++) {
    if (i === skip) continue;
    let d2 = 0;
    for (let k = 0; k < dims; k++) d2 += (query[k]! - points[i * dims + k]!) ** 2;
    best = Math.min(best, d2);
  }
  return best;
}

describe("NearestIndex", () => {
  const rng = mulberry32(11);
  // mixed coordinates: binary ones (many ties), a continuous one, and weak ones
  const point = (): number[] => [rng() < 0.5 ? 0.7 : 0, rng() < 0.5 ? 0.3 : 0, rng() * 0.5, rng() * 0.05, rng() < 0.3 ? 0.02 : 0];
  const dims = 5;
  const n = 700;
  const points = Float64Array.from({ length: n * dims }, () => 0);
  for (let i = 0; i < n; i++) points.set(point(), i * dims);
  const index = new NearestIndex(points, dims);

  it("finds the exact nearest distance, as a scan over all points does", () => {
    for (let q = 0; q < 500; q++) {
      const query = point();
      expect(index.nearestSq(query)).toBeCloseTo(bruteNearestSq(points, dims, query, Infinity, -1), 12);
    }
  });

  it("stops at the limit: no point nearer than it gives the limit itself", () => {
    for (let q = 0; q < 200; q++) {
      const query = point().map((v) => v + 0.2);
      const limitSq = 0.01;
      expect(index.nearestSq(query, limitSq)).toBeCloseTo(bruteNearestSq(points, dims, query, limitSq, -1), 12);
    }
  });

  it("can skip a point (its own) and finds duplicates at distance 0", () => {
    for (let i = 0; i < 50; i++) {
      const own = points.subarray(i * dims, (i + 1) * dims);
      expect(index.nearestSq(own)).toBe(0);
      expect(index.nearestSq(own, Infinity, i)).toBeCloseTo(bruteNearestSq(points, dims, own, Infinity, i), 12);
    }
    const twins = new NearestIndex(Float64Array.from([1, 1, 1, 1, 5, 5]), 2);
    expect(twins.nearestSq([1, 1], Infinity, 0)).toBe(0);
  });

  it("handles an empty set, all-equal points and bad shapes", () => {
    expect(new NearestIndex(new Float64Array(0), 3).nearestSq([0, 0, 0], 4)).toBe(4);
    const same = new NearestIndex(new Float64Array(40).fill(2), 2);
    expect(same.nearestSq([2, 3])).toBe(1);
    expect(() => new NearestIndex(new Float64Array(5), 2)).toThrow(/5 values are not rows of 2/);
    expect(() => index.nearestSq([1, 2])).toThrow(/query has 2 coordinates, expected 5/);
  });
});
