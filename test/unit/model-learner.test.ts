import { describe, expect, it } from "vitest";
import { fitRidge, fitTuned, loadTuned, ridgePredict, symmetricEigen, type Candidate } from "../../src/model/learner.js";
import { fitNativeForest } from "../../src/model/native-forest.js";
import type { FitForest } from "../../src/model/regressor.js";
import { mulberry32 } from "../../src/search/random.js";

function rows(n: number, p: number, seed: number): number[][] {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => Array.from({ length: p }, () => rng()));
}

/** Multiplicative, like performance: each option scales the time. */
const multiplicative = (x: readonly number[]): number => 100 * Math.exp(2 * (x[0] as number)) * (1 + 3 * (x[1] as number)) * ((x[2] as number) > 0.5 ? 2 : 1);

const mre = (predicted: readonly number[], actual: readonly number[]): number =>
  predicted.reduce((s, v, i) => s + Math.abs(v - (actual[i] as number)) / Math.abs(actual[i] as number), 0) / predicted.length;

describe("fitTuned", () => {
  const X = rows(120, 4, 1);
  const y = X.map(multiplicative);
  const test = rows(400, 4, 2);
  const truth = test.map(multiplicative);
  const fast = { budgetMs: 300, nTrees: 60 };

  it("learns positive targets in log space, and that beats the untransformed forest", () => {
    // effects that multiply: 1 to 300 over the space
    const wide = (x: readonly number[]): number => (1 + 9 * (x[0] as number)) * (1 + 9 * (x[1] as number)) * ((x[2] as number) > 0.5 ? 3 : 1);
    const yw = X.map(wide);
    const auto = fitTuned(X, yw, { seed: 1, ...fast, grid: { trend: ["none"] } });
    const identity = fitTuned(X, yw, { seed: 1, ...fast, grid: { trend: ["none"] }, transform: "identity" });
    expect(auto.transform).toBe("log");
    expect(identity.transform).toBe("identity");
    expect(mre(auto.predict(test), test.map(wide))).toBeLessThan(0.85 * mre(identity.predict(test), test.map(wide)));
  });

  it("reports a cross-validated relative error close to the error on new rows", () => {
    const model = fitTuned(X, y, { seed: 1, ...fast });
    const heldOut = mre(model.predict(test), truth);
    expect(model.cvError).toBeGreaterThan(0);
    expect(model.cvError).toBeGreaterThan(heldOut / 2.5);
    expect(model.cvError).toBeLessThan(heldOut * 2.5);
    expect(model.tuning.metric).toBe("relative");
    expect(model.tuning.folds).toBe(10);
    expect(model.tuning.candidates).toBeGreaterThan(3);
  });

  it("uses a ridge trend where the effects add up (in log space) and trees alone fall short", () => {
    const Xl = rows(60, 8, 3);
    const additive = (x: readonly number[]): number => Math.exp(x.reduce((s, v, j) => s + (j + 1) * 0.2 * v, 0));
    const yl = Xl.map(additive);
    const testL = rows(300, 8, 4);
    const truthL = testL.map(additive);
    const tuned = fitTuned(Xl, yl, { seed: 2, ...fast });
    const treesOnly = fitTuned(Xl, yl, { seed: 2, ...fast, grid: { trend: ["none"] } });
    expect(tuned.trendWeight).toBeGreaterThan(0);
    expect(tuned.tuning.trend).toBe("ridge");
    expect(treesOnly.trendWeight).toBe(0);
    expect(treesOnly.trend).toBeUndefined();
    expect(mre(tuned.predict(testL), truthL)).toBeLessThan(0.7 * mre(treesOnly.predict(testL), truthL));
  });

  it("uses the identity and the mean absolute error when some target is not positive", () => {
    const yz = X.map((x) => (x[0] as number) - 0.5);
    const model = fitTuned(X, yz, { seed: 1, ...fast });
    expect(model.transform).toBe("identity");
    expect(model.tuning.metric).toBe("absolute");
    expect(model.cvError).toBeLessThan(0.1); // |x0 − 0.5| averages 0.25
    expect(() => fitTuned(X, yz, { seed: 1, transform: "log" })).toThrow(/transform "log" needs every target > 0/);
  });

  it("is deterministic given the seed", () => {
    const a = fitTuned(X, y, { seed: 5, ...fast });
    const b = fitTuned(X, y, { seed: 5, ...fast });
    expect(JSON.stringify(b.toJSON())).toBe(JSON.stringify(a.toJSON()));
    expect(b.predict(test)).toEqual(a.predict(test));
  });

  it("gives per-tree values on the original scale whose geometric mean is the prediction", () => {
    const model = fitTuned(X, y, { seed: 1, ...fast });
    const values = model.treeValues(test.slice(0, 5));
    const predicted = model.predict(test.slice(0, 5));
    values.forEach((trees, i) => {
      expect(trees).toHaveLength(60);
      const geometric = Math.exp(trees.reduce((s, v) => s + Math.log(v), 0) / trees.length);
      expect(geometric).toBeCloseTo(predicted[i] as number, 6);
    });
  });

  it("runs any engine, and scores only on the training rows", () => {
    let fits = 0;
    const seen = new Set<number>();
    const counting: FitForest = (Xs, ys, params) => {
      fits++;
      Xs.forEach((row) => seen.add(row[0] as number));
      return fitNativeForest(Xs, ys, params);
    };
    const model = fitTuned(X, y, { seed: 1, ...fast, engine: counting });
    expect(fits).toBeGreaterThan(model.tuning.folds);
    for (const v of seen) expect(X.some((row) => row[0] === v)).toBe(true);
  });

  it("plans within the budget: a tiny budget scores fewer candidates with fewer folds and trees", () => {
    const big = rows(600, 6, 9);
    const yb = big.map(multiplicative);
    const tiny = fitTuned(big, yb, { seed: 1, budgetMs: 1, nTrees: 10 });
    expect(tiny.tuning.candidates).toBe(1);
    expect(tiny.tuning.folds).toBe(3);
    expect(tiny.tuning.searchTrees).toBe(12);
    const roomy = fitTuned(big, yb, { seed: 1, budgetMs: 800, nTrees: 10 });
    expect(roomy.tuning.candidates).toBeGreaterThan(1);
  });

  it("reports every candidate it scored through trace", () => {
    const seen: { c: Candidate; e: number }[] = [];
    const model = fitTuned(X, y, { seed: 1, ...fast, trace: (c, e) => seen.push({ c, e }) });
    expect(seen).toHaveLength(model.tuning.candidates);
    expect(Math.min(...seen.map((s) => s.e))).toBeCloseTo(model.cvError, 12);
  });

  it("groups identical rows: repeated measurements of a configuration share a fold", () => {
    const configs = rows(12, 3, 6);
    const rng = mulberry32(7);
    const Xr = configs.flatMap((c) => [c, c, c]);
    const yr = Xr.map((x) => multiplicative([...x, 0]) * (1 + 0.02 * (rng() - 0.5)));
    const model = fitTuned(Xr, yr, { seed: 1, ...fast });
    expect(model.tuning.folds).toBe(12); // leave one configuration out, not one of 36 rows
    expect(model.cvError).toBeGreaterThan(0.02); // held-out configurations, not their twins
  });

  it("handles edge cases: one row, a few rows, constant targets, a single feature", () => {
    const one = fitTuned([[1, 2]], [5], { seed: 1 });
    expect(one.predict([[0, 0]])[0]).toBeCloseTo(5, 5);
    expect(one.cvError).toBeNaN();
    expect(one.tuning.folds).toBe(0);
    const three = fitTuned([[1], [2], [3]], [10, 20, 30], { seed: 1 });
    expect(three.tuning.folds).toBe(3);
    expect(Number.isFinite(three.cvError)).toBe(true);
    const dupes = fitTuned([[1], [1], [1]], [10, 11, 12], { seed: 1 });
    expect(dupes.cvError).toBeNaN(); // one configuration: nothing to hold out
    expect(dupes.predict([[1]])[0]).toBeGreaterThan(9.9);
    const constant = fitTuned(X, X.map(() => 42), { seed: 1, ...fast });
    expect(constant.predict(test.slice(0, 3)).map((v) => Number(v.toFixed(6)))).toEqual([42, 42, 42]);
    expect(constant.cvError).toBeCloseTo(0, 6);
    const single = rows(50, 1, 8);
    const ys = single.map((x) => 1 + 10 * (x[0] as number));
    const model = fitTuned(single, ys, { seed: 1, ...fast });
    expect(mre(model.predict([[0.25], [0.75]]), [3.5, 8.5])).toBeLessThan(0.1);
  });

  it("rejects bad input with a clear message", () => {
    expect(() => fitTuned([], [], { seed: 1 })).toThrow(/fitTuned: no training rows/);
    expect(() => fitTuned([[1], [2]], [1], { seed: 1 })).toThrow(/2 rows but 1 targets/);
    expect(() => fitTuned([[1], [NaN]], [1, 2], { seed: 1 })).toThrow(/row 1, feature 0 is not a finite number/);
    expect(() => fitTuned([[1], [2]], [1, NaN], { seed: 1 })).toThrow(/target 1 is not a finite number/);
    expect(() => fitTuned([[1], [2, 3]], [1, 2], { seed: 1 })).toThrow(/row 1 has 2 features, expected 1/);
    expect(() => fitTuned([[1], [2]], [1, 2], { seed: NaN })).toThrow(/seed/);
    expect(() => fitTuned([[1], [2]], [1, 2], { seed: 1, grid: { mtry: [] } })).toThrow(/grid.mtry must be a non-empty array/);
    expect(() => fitTuned([[1], [2]], [1, 2], { seed: 1, grid: { trendWeights: [2] } })).toThrow(/grid.trendWeights: invalid value 2/);
  });
});

describe("toJSON / loadTuned", () => {
  const X = rows(80, 5, 11);
  const y = X.map((x) => multiplicative(x) * (1 + (x[4] as number)));
  const model = fitTuned(X, y, { seed: 3, budgetMs: 300, nTrees: 40, grid: { trendWeights: [1] } });
  const test = rows(300, 5, 12);

  it("round-trips predictions and per-tree values exactly, through JSON text", () => {
    const json = JSON.parse(JSON.stringify(model.toJSON())) as unknown;
    const loaded = loadTuned(json);
    expect(loaded.predict(test)).toEqual(model.predict(test));
    expect(loaded.treeValues(test.slice(0, 10))).toEqual(model.treeValues(test.slice(0, 10)));
    expect(loaded.transform).toBe(model.transform);
    expect(loaded.trendWeight).toBe(model.trendWeight);
    expect(loaded.params).toEqual(model.params);
    expect(loaded.cvError).toBe(model.cvError);
    expect(JSON.stringify(loaded.toJSON())).toBe(JSON.stringify(model.toJSON()));
  });

  it("rejects other documents and damaged ones with a clear message", () => {
    const doc = (): Record<string, unknown> => JSON.parse(JSON.stringify(model.toJSON())) as Record<string, unknown>;
    expect(() => loadTuned("x")).toThrow(/loadTuned: not an object/);
    expect(() => loadTuned({ ...doc(), kind: "native-forest" })).toThrow(/not a tuned forest/);
    expect(() => loadTuned({ ...doc(), version: 9 })).toThrow(/unsupported version 9/);
    expect(() => loadTuned({ ...doc(), transform: "sqrt" })).toThrow(/unknown transform "sqrt"/);
    expect(() => loadTuned({ ...doc(), forest: { kind: "native-forest", version: 2 } })).toThrow(/loadTuned: forest: loadNativeForest: unsupported version 2/);
    if (model.trendWeight > 0) {
      expect(() => loadTuned({ ...doc(), trend: { ...(doc().trend as object), coef: [1] } })).toThrow(/trend is damaged/);
      expect(() => loadTuned({ ...doc(), trend: null })).toThrow(/trendWeight > 0 but no trend/);
    }
  });
});

describe("ridge trend", () => {
  it("recovers a linear function, and picks logs for a power law", () => {
    const X = rows(40, 3, 13);
    const t = X.map((x) => 1 + 2 * (x[0] as number) - 3 * (x[1] as number));
    const trend = fitRidge(X, t);
    for (const row of rows(20, 3, 14)) expect(ridgePredict(trend, row)).toBeCloseTo(1 + 2 * (row[0] as number) - 3 * (row[1] as number), 2);
    const cores = [1, 2, 4, 8, 16, 32, 64].flatMap((c) => [[c, 0], [c, 1]]);
    const logTime = cores.map(([c, b]) => Math.log(100 / (c as number)) + 0.3 * (b as number));
    const power = fitRidge(cores, logTime);
    expect(power.basis.log).toEqual([0]);
    expect(ridgePredict(power, [128, 0])).toBeCloseTo(Math.log(100 / 128), 1);
  });

  it("decomposes a symmetric matrix", () => {
    const A = Float64Array.from([4, 1, 2, 1, 3, 0, 2, 0, 5]);
    const { d, V } = symmetricEigen(A, 3);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += (V[i * 3 + k] as number) * (d[k] as number) * (V[j * 3 + k] as number);
        expect(s).toBeCloseTo(A[i * 3 + j] as number, 10);
      }
  });
});
