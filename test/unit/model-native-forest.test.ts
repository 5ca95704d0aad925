import { deflateRawSync, inflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { fitNativeForest, loadNativeForest, type NativeForest } from "../../src/model/native-forest.js";
import type { ForestParams } from "../../src/model/regressor.js";
import { threadCounters } from "../../src/model/tree-walk.js";
import { mulberry32 } from "../../src/search/random.js";

const params = (over: Partial<ForestParams> = {}): ForestParams => ({
  nTrees: 50,
  mtry: 1,
  minLeaf: 1,
  maxDepth: Infinity,
  sampleFraction: 1,
  bootstrap: true,
  seed: 1,
  ...over,
});

function uniformRows(n: number, p: number, seed: number): number[][] {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => Array.from({ length: p }, () => rng()));
}

const target = (x: readonly number[]): number => 3 * (x[0] as number) + ((x[1] as number) > 0.5 ? 2 : 0);
const meanAbs = (a: readonly number[], b: readonly number[]): number => a.reduce((s, v, i) => s + Math.abs(v - (b[i] as number)), 0) / a.length;

describe("fitNativeForest", () => {
  const X = uniformRows(400, 4, 1);
  const y = X.map(target);
  const test = uniformRows(500, 4, 2);
  const truth = test.map(target);

  it("fits y = 3·x0 + 2·[x1 > 0.5] with a small error on new rows", () => {
    const forest = fitNativeForest(X, y, params());
    // the target spans 0..5; a constant would be off by ~1.25 on average
    expect(meanAbs(forest.predict(test), truth)).toBeLessThan(0.12);
    expect(forest.nTrees).toBe(50);
  });

  it("is deterministic given the seed, and the seed matters", () => {
    const a = fitNativeForest(X, y, params({ mtry: 0.5, bootstrap: false, sampleFraction: 0.6 }));
    const b = fitNativeForest(X, y, params({ mtry: 0.5, bootstrap: false, sampleFraction: 0.6 }));
    const c = fitNativeForest(X, y, params({ mtry: 0.5, bootstrap: false, sampleFraction: 0.6, seed: 2 }));
    expect(b.predict(test)).toEqual(a.predict(test));
    expect(JSON.stringify(b.toJSON())).toBe(JSON.stringify(a.toJSON()));
    expect(c.predict(test)).not.toEqual(a.predict(test));
  });

  it("grows each tree from its own stream: the first k trees are the forest of k trees", () => {
    const big = fitNativeForest(X, y, params({ nTrees: 20 }));
    const small = fitNativeForest(X, y, params({ nTrees: 5 }));
    const bigTrees = big.treeValues(test.slice(0, 20)).map((row) => row.slice(0, 5));
    expect(small.treeValues(test.slice(0, 20))).toEqual(bigTrees);
  });

  it("samples features per split: with one feature per split every tree still finds the informative one", () => {
    // only x0 matters, among 10 features; mtry 0.1 = one candidate feature at each split
    const Xw = uniformRows(300, 10, 3);
    const yw = Xw.map((x) => 10 * (x[0] as number));
    const forest = fitNativeForest(Xw, yw, params({ mtry: 0.1, nTrees: 40 })) as NativeForest;
    const roots = new Set(Array.from({ length: forest.nTrees }, (_, t) => forest.splitFeatures(t)[0]));
    expect(roots.size).toBeGreaterThan(3); // the root's single candidate is drawn at random...
    for (let t = 0; t < forest.nTrees; t++) expect(forest.splitFeatures(t)).toContain(0); // ...but every tree splits on x0 somewhere
    const counts = forest.splitCounts();
    expect(counts).toHaveLength(10);
    expect(counts.reduce((a, b) => a + b, 0)).toBe((forest.nodeCount - forest.nTrees) / 2); // binary trees: splits = (nodes - trees) / 2
    // a constant is off by 2.5 on average; per-tree sampling of one feature would leave 90% of
    // the trees blind to x0 (≈ 2.3)
    const testW = uniformRows(300, 10, 4);
    expect(meanAbs(forest.predict(testW), testW.map((x) => 10 * (x[0] as number)))).toBeLessThan(1.6);
  });

  it("puts thresholds at midpoints between distinct values", () => {
    const Xs = [[0], [0], [1], [1]];
    const ys = [0, 0, 10, 10];
    const forest = fitNativeForest(Xs, ys, params({ nTrees: 1, bootstrap: false }));
    expect(forest.predict([[0.49], [0.5], [0.51], [-3], [7]])).toEqual([0, 0, 10, 0, 10]);
  });

  it("respects minLeaf and maxDepth", () => {
    const Xs = uniformRows(60, 2, 5);
    const ys = Xs.map((x) => (x[0] as number) + (x[1] as number));
    const leafy = fitNativeForest(Xs, ys, params({ nTrees: 3, minLeaf: 10, bootstrap: false }));
    const perTree = leafy.treeValues(uniformRows(2000, 2, 6));
    for (let t = 0; t < 3; t++) expect(new Set(perTree.map((row) => row[t])).size).toBeLessThanOrEqual(6); // ≤ 60 / 10 leaves
    const stump = fitNativeForest(Xs, ys, params({ nTrees: 3, maxDepth: 1, bootstrap: false }));
    for (let t = 0; t < 3; t++) expect(stump.splitFeatures(t)).toHaveLength(1);
    const flat = fitNativeForest(Xs, ys, params({ nTrees: 2, maxDepth: 0, bootstrap: false }));
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
    expect(flat.predict([[0.1, 0.9]])[0]).toBeCloseTo(mean, 5);
  });

  it("handles a constant target, a single row, duplicate rows and no features", () => {
    const constant = fitNativeForest(X, X.map(() => 7.25), params({ nTrees: 5 }));
    expect(constant.predict(test.slice(0, 3))).toEqual([7.25, 7.25, 7.25]);
    expect(constant.nodeCount).toBe(5); // one leaf per tree
    expect(fitNativeForest([[1, 2]], [3], params({ nTrees: 4 })).predict([[0, 0]])).toEqual([3]);
    const dup = fitNativeForest([[1], [1], [1], [2]], [1, 2, 3, 10], params({ nTrees: 1, bootstrap: false }));
    expect(dup.predict([[1], [2]])).toEqual([2, 10]);
    expect(fitNativeForest([[], [], []], [1, 2, 3], params({ nTrees: 1, bootstrap: false })).predict([[]])).toEqual([2]);
  });

  it("returns per-tree values whose mean is the prediction", () => {
    const forest = fitNativeForest(X, y, params({ nTrees: 7 }));
    const values = forest.treeValues(test.slice(0, 10));
    const predicted = forest.predict(test.slice(0, 10));
    values.forEach((trees, i) => {
      expect(trees).toHaveLength(7);
      expect(trees.reduce((a, b) => a + b, 0) / 7).toBeCloseTo(predicted[i] as number, 10);
    });
    expect(forest.predict([])).toEqual([]);
    expect(forest.treeValues([])).toEqual([]);
  });

  it("gives each row's mean and sd over trees (treeStats) as the per-tree values do", () => {
    const forest = fitNativeForest(X, y, params({ nTrees: 9 }));
    const rows = test.slice(0, 37);
    const stats = forest.treeStats(rows);
    forest.treeValues(rows).forEach((trees, i) => {
      const m = trees.reduce((a, b) => a + b, 0) / trees.length;
      const sd = Math.sqrt(trees.reduce((a, v) => a + (v - m) ** 2, 0) / trees.length);
      expect(stats.mean[i]).toBeCloseTo(m, 10);
      expect(stats.sd[i]).toBeCloseTo(sd, 8);
    });
    expect(forest.treeStats([]).mean).toHaveLength(0);
  });

  it("predicts the same with worker threads as on one thread (large inputs are split across threads)", () => {
    const forest = fitNativeForest(X, y, params({ nTrees: 50 }));
    // 50 trees × 30,001 rows is above the threshold for threads; an odd count splits unevenly
    const many = uniformRows(30_001, 4, 5);
    const saved = process.env.SHADOWGATE_MODEL_THREADS;
    try {
      process.env.SHADOWGATE_MODEL_THREADS = "1";
      const single = forest.treeStats(many);
      process.env.SHADOWGATE_MODEL_THREADS = "3";
      const before = { ...threadCounters };
      const threaded = forest.treeStats(many);
      // two helpers walked two thirds of the rows; none had to be taken back
      expect(threadCounters.rowsByWorkers - before.rowsByWorkers).toBe(20_001);
      expect(threadCounters.rowsTakenBack).toBe(before.rowsTakenBack);
      expect(Array.from(threaded.mean)).toEqual(Array.from(single.mean));
      expect(Array.from(threaded.sd)).toEqual(Array.from(single.sd));
      expect(forest.predict(many.slice(29_990))).toEqual(Array.from(single.mean.subarray(29_990)));
    } finally {
      if (saved === undefined) delete process.env.SHADOWGATE_MODEL_THREADS;
      else process.env.SHADOWGATE_MODEL_THREADS = saved;
    }
  });

  it("rejects bad input and parameters with a clear message", () => {
    expect(() => fitNativeForest([], [], params())).toThrow(/no training rows/);
    expect(() => fitNativeForest([[1], [2]], [1], params())).toThrow(/2 rows but 1 targets/);
    expect(() => fitNativeForest([[1], [2, 3]], [1, 2], params())).toThrow(/row 1 has 2 features, expected 1/);
    expect(() => fitNativeForest([[1], [NaN]], [1, 2], params())).toThrow(/row 1, feature 0 is not a finite number/);
    expect(() => fitNativeForest([[1], [2]], [1, Infinity], params())).toThrow(/target 1 is not a finite number/);
    expect(() => fitNativeForest([[1], [2]], [1, 2], params({ mtry: 0 }))).toThrow(/mtry/);
    expect(() => fitNativeForest([[1], [2]], [1, 2], params({ minLeaf: 0 }))).toThrow(/minLeaf/);
    expect(() => fitNativeForest([[1], [2]], [1, 2], params({ nTrees: 0 }))).toThrow(/nTrees/);
    expect(() => fitNativeForest([[1], [2]], [1, 2], params({ sampleFraction: 1.5 }))).toThrow(/sampleFraction/);
    const forest = fitNativeForest([[1], [2]], [1, 2], params({ nTrees: 2 }));
    expect(() => forest.predict([[1, 2]])).toThrow(/row 0 has 2 features, expected 1/);
    expect(() => forest.predict([[NaN]])).toThrow(/not a finite number/);
  });
});

describe("toJSON / loadNativeForest", () => {
  const X = uniformRows(300, 6, 7);
  const y = X.map((x) => Math.exp(x[0] as number) * 1000 + (x[3] as number));
  const forest = fitNativeForest(X, y, params({ nTrees: 30, mtry: 0.5, maxDepth: 12 }));
  const json = forest.toJSON();
  const test = uniformRows(1000, 6, 8);

  it("round-trips predictions exactly, through JSON text", () => {
    const loaded = loadNativeForest(JSON.parse(JSON.stringify(json)));
    expect(loaded.predict(test)).toEqual(forest.predict(test));
    expect(loaded.treeValues(test.slice(0, 50))).toEqual(forest.treeValues(test.slice(0, 50)));
    expect(JSON.stringify(loaded.toJSON())).toBe(JSON.stringify(json));
    expect(loaded.params).toEqual(forest.params);
  });

  it("keeps an unlimited depth through JSON", () => {
    const deep = fitNativeForest(X, y, params({ nTrees: 2 }));
    const loaded = loadNativeForest(JSON.parse(JSON.stringify(deep.toJSON())));
    expect(loaded.params.maxDepth).toBe(Infinity);
    expect(loaded.predict(test)).toEqual(deep.predict(test));
  });

  it("is compact: a few bytes per node", () => {
    const size = JSON.stringify(json).length;
    expect(size).toBeLessThan(forest.nodeCount * 5 + 1000);
    expect(json).toMatchObject({ kind: "native-forest", version: 1, nFeatures: 6, nTrees: 30, featureBytes: 1, compression: "deflate-raw" });
  });

  it("rejects other documents and damaged ones with a clear message", () => {
    const copy = (): Record<string, unknown> => JSON.parse(JSON.stringify(json)) as Record<string, unknown>;
    expect(() => loadNativeForest(null)).toThrow(/loadNativeForest: not an object/);
    expect(() => loadNativeForest({ ...copy(), kind: "ml-random-forest" })).toThrow(/not a native forest/);
    expect(() => loadNativeForest({ ...copy(), version: 2 })).toThrow(/unsupported version 2/);
    expect(() => loadNativeForest({ ...copy(), compression: "gzip" })).toThrow(/unknown compression "gzip"/);
    expect(() => loadNativeForest({ ...copy(), value: "abc" })).toThrow(/value is not base64/);
    expect(() => loadNativeForest({ ...copy(), value: Buffer.from("not deflate at all").toString("base64") })).toThrow(/value does not inflate/);
    // well-formed blocks with the wrong content
    const pack = (bytes: Buffer): string => deflateRawSync(bytes).toString("base64");
    const features = inflateRawSync(Buffer.from(json.feature, "base64"));
    const values = inflateRawSync(Buffer.from(json.value, "base64"));
    expect(() => loadNativeForest({ ...copy(), value: pack(values.subarray(4)) })).toThrow(/value holds .* bytes, expected/);
    const counts = copy();
    counts.nodes = [...(counts.nodes as number[]).slice(0, -1), 1];
    expect(() => loadNativeForest(counts)).toThrow(/feature holds .* bytes|value .* bytes|truncated|beyond its last leaf/);
    const badFeature = Buffer.from(features);
    badFeature[0] = 9; // the root of tree 0 splits on feature 9 of 6
    expect(() => loadNativeForest({ ...copy(), feature: pack(badFeature) })).toThrow(/splits on feature 9, but there are 6/);
    const leafRoot = Buffer.from(features);
    leafRoot[0] = 255; // tree 0 becomes a lone leaf followed by orphans
    expect(() => loadNativeForest({ ...copy(), feature: pack(leafRoot) })).toThrow(/tree 0 has \d+ node\(s\) beyond its last leaf/);
    const nan = Buffer.from(values);
    nan.writeFloatLE(NaN, 0);
    expect(() => loadNativeForest({ ...copy(), value: pack(nan) })).toThrow(/node 0 holds a non-finite value/);
    expect(() => loadNativeForest({ ...copy(), params: { ...(copy().params as object), mtry: 3 } })).toThrow(/params: .*mtry/);
  });
});

describe("native forest size and speed (1,000 × 20, 100 trees)", () => {
  it("stores under 1 MB", () => {
    const X = uniformRows(1000, 20, 9);
    const y = X.map((x) => 3 * (x[0] as number) + Math.sin(6 * (x[1] as number)));
    const forest = fitNativeForest(X, y, params({ nTrees: 100, mtry: 1 / 3 }));
    expect(JSON.stringify(forest.toJSON()).length).toBeLessThan(1_000_000);
  });
});
