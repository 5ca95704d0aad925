import { describe, expect, it } from "vitest";
import {
  fitMlForest,
  fitMlForestWith,
  loadMlForest,
  maxFeaturesOption,
  mlForestBudgetParams,
  mlForestPlan,
  ML_FOREST_FORMAT,
  type MlForestJSON,
} from "../../src/model/ml-forest-engine.js";
import type { ForestParams } from "../../src/model/regressor.js";
import { mulberry32 } from "../../src/search/random.js";

const params = (over: Partial<ForestParams> = {}): ForestParams => ({
  nTrees: 20,
  mtry: 1,
  minLeaf: 1,
  maxDepth: Infinity,
  sampleFraction: 1,
  bootstrap: true,
  seed: 7,
  ...over,
});

/** A smooth function of two numeric columns and a flag, plus a column of noise. */
function data(n: number, seed: number): { X: number[][]; y: number[] } {
  const rng = mulberry32(seed);
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = rng() * 4;
    const b = rng() * 4;
    const flag = rng() < 0.5 ? 1 : 0;
    X.push([a, b, flag, rng()]);
    y.push(10 + 3 * Math.sin(a) + b * b * 0.5 + 4 * flag * (b > 2 ? 1 : 0));
  }
  return { X, y };
}

const mae = (p: readonly number[], y: readonly number[]): number => p.reduce((s, v, i) => s + Math.abs(v - (y[i] as number)), 0) / p.length;
const sd = (y: readonly number[]): number => {
  const m = y.reduce((a, b) => a + b, 0) / y.length;
  return Math.sqrt(y.reduce((a, b) => a + (b - m) ** 2, 0) / y.length);
};

describe("fitMlForest (ml-random-forest behind ForestRegressor)", () => {
  const train = data(300, 1);
  const test = data(200, 2);

  it("fits a simple function: held-out error far below the target's spread", () => {
    const model = fitMlForest(train.X, train.y, params());
    expect(model.nTrees).toBe(20);
    const error = mae(model.predict(test.X), test.y);
    expect(error).toBeLessThan(0.25 * sd(test.y));
  });

  it("fits with rows drawn per tree (subsample and bootstrap), joined into one library model", () => {
    for (const bootstrap of [false, true]) {
      const model = fitMlForestWith(train.X, train.y, params({ sampleFraction: 0.5, bootstrap }));
      expect(mlForestPlan(300, 4, params({ sampleFraction: 0.5, bootstrap }))).toMatchObject({ ownSampling: true, rowsPerTree: 150 });
      expect(mae(model.predict(test.X), test.y)).toBeLessThan(0.3 * sd(test.y));
      expect((model.toJSON().model as { baseModel: { nEstimators: number } }).baseModel.nEstimators).toBe(20);
    }
  });

  it("treeValues has one value per tree, predict is their mean, and both equal the library's own predictionValues", () => {
    for (const over of [{}, { sampleFraction: 0.6, bootstrap: false }, { mtry: 0.5, maxDepth: 4, minLeaf: 2 }] as Partial<ForestParams>[]) {
      const compiled = fitMlForestWith(train.X, train.y, params(over));
      const library = fitMlForestWith(train.X, train.y, params(over), { predictor: "library" });
      const values = compiled.treeValues(test.X);
      expect(values).toHaveLength(test.X.length);
      expect(values[0]).toHaveLength(20);
      expect(values).toEqual(library.treeValues(test.X));
      const means = values.map((v) => v.reduce((a, b) => a + b, 0) / v.length);
      compiled.predict(test.X).forEach((p, i) => expect(p).toBeCloseTo(means[i] as number, 12));
    }
  });

  it("is reproducible from the seed and differs across seeds", () => {
    const a = fitMlForest(train.X, train.y, params()).predict(test.X);
    expect(fitMlForest(train.X, train.y, params()).predict(test.X)).toEqual(a);
    expect(fitMlForest(train.X, train.y, params({ seed: 8 })).predict(test.X)).not.toEqual(a);
  });

  it("splits a noise-free step below the root (ml-cart alone refuses splits into two pure children)", () => {
    // y: 0 | 5 | 10 over x; the first split leaves a mixed side, the second one is pure on both sides
    const X = Array.from({ length: 60 }, (_, i) => [i / 60]);
    const y = X.map(([x]) => ((x as number) < 0.5 ? 0 : (x as number) < 0.75 ? 5 : 10));
    const p = params({ nTrees: 1, sampleFraction: 1, bootstrap: false });
    const allowed = fitMlForest(X, y, p).predict([[0.1], [0.6], [0.9]]);
    expect(allowed).toEqual([0, 5, 10]);
    const refused = fitMlForestWith(X, y, p, { pureSplits: false }).predict([[0.1], [0.6], [0.9]]);
    expect(refused[1]).not.toBe(5);
  });

  it("a constant target gives a constant forest (exactly), without the library", () => {
    const y = train.y.map(() => 4.2);
    const model = fitMlForestWith(train.X, y, params());
    expect(model.predict(test.X.slice(0, 3))).toEqual([4.2, 4.2, 4.2]);
    expect(model.treeValues([test.X[0] as number[]])).toEqual([new Array(20).fill(4.2)]);
    expect(model.library).toBeUndefined();
    const json = JSON.parse(JSON.stringify(model.toJSON())) as MlForestJSON;
    expect(json).toEqual({ format: ML_FOREST_FORMAT, version: 1, columns: 4, nTrees: 20, constant: 4.2 });
    expect(loadMlForest(json).predict([[1, 2, 0, 0]])).toEqual([4.2]);
  });

  it("handles tiny n: one row, two rows, three rows, with every sampling mode", () => {
    const X = [[0, 1], [1, 0], [1, 1]];
    const y = [1, 2, 4];
    for (const n of [1, 2, 3]) {
      for (const over of [{}, { bootstrap: false }, { sampleFraction: 0.5 }, { sampleFraction: 0.5, bootstrap: false }, { minLeaf: 5 }] as Partial<ForestParams>[]) {
        const model = fitMlForest(X.slice(0, n), y.slice(0, n), params({ nTrees: 3, ...over }));
        const predicted = model.predict(X);
        expect(predicted).toHaveLength(3);
        for (const v of predicted) {
          expect(Number.isFinite(v)).toBe(true);
          expect(v).toBeGreaterThanOrEqual(1);
          expect(v).toBeLessThanOrEqual(4);
        }
      }
    }
    expect(fitMlForest([[3]], [5], params()).predict([[0]])).toEqual([5]);
  });

  it("maxFeatures edge cases do not crash: every mtry on 1, 2 and 20 columns, and count 1 means one column", () => {
    for (const p of [1, 2, 20]) {
      const rng = mulberry32(p);
      const X = Array.from({ length: 30 }, () => Array.from({ length: p }, () => rng()));
      const y = X.map((row) => (row[0] as number) * 10 + rng());
      for (const mtry of [1, 1.0, 0.999, 0.5, 0.05, Number.EPSILON]) {
        for (const n of [2, 5, 30]) {
          const model = fitMlForest(X.slice(0, n), y.slice(0, n), params({ mtry, nTrees: 4 }));
          expect(model.predict(X).every(Number.isFinite)).toBe(true);
        }
      }
    }
    // the library reads maxFeatures ≤ 1 as a fraction: a count of 1 must not become "all columns"
    expect(maxFeaturesOption(1, 20)).toBeCloseTo(0.075, 12);
    expect(maxFeaturesOption(1, 1)).toBe(1);
    expect(maxFeaturesOption(20, 20)).toBe(20);
    expect(mlForestPlan(100, 20, params({ mtry: 0.05 })).featuresPerTree).toBe(1);
    expect(mlForestPlan(100, 20, params({ mtry: 0.3 })).featuresPerTree).toBe(6);
    const one = fitMlForestWith(data(50, 3).X, data(50, 3).y, params({ mtry: 0.25, nTrees: 5 }));
    const indexes = (one.toJSON().model as { baseModel: { indexes: number[][] } }).baseModel.indexes;
    expect(indexes.every((list) => list.length === 1)).toBe(true);
  });

  it("predicting zero rows returns [] (the library throws 'column indices are out of range')", () => {
    const model = fitMlForest(train.X, train.y, params({ nTrees: 3 }));
    expect(model.predict([])).toEqual([]);
    expect(model.treeValues([])).toEqual([]);
  });

  it("rejects bad input with errors that name it", () => {
    const model = fitMlForest(train.X, train.y, params({ nTrees: 3 }));
    expect(() => model.predict([[1, 2]])).toThrow(/X\[0\]: expected 4 columns, got 2/);
    expect(() => model.predict([[1, 2, 3, 4, 5]])).toThrow(/expected 4 columns/);
    expect(() => fitMlForest([], [], params())).toThrow(/X: expected at least one row/);
    expect(() => fitMlForest([[1], [2]], [1], params())).toThrow(/y: expected 2 values/);
    expect(() => fitMlForest([[1], [2, 3]], [1, 2], params())).toThrow(/X\[1\]: expected 1 columns/);
    expect(() => fitMlForest([[1], [NaN]], [1, 2], params())).toThrow(/X\[1\]\[0\]: expected a finite number/);
    expect(() => fitMlForest([[1], [2]], [1, Infinity], params())).toThrow(/y\[1\]: expected a finite number/);
    expect(() => fitMlForest([[1], [2]], [1, 2], params({ mtry: 0 }))).toThrow(/params.mtry/);
    expect(() => fitMlForest([[1], [2]], [1, 2], params({ nTrees: 0 }))).toThrow(/params.nTrees/);
    expect(() => fitMlForest([[1], [2]], [1, 2], params({ sampleFraction: 1.5 }))).toThrow(/params.sampleFraction/);
    expect(() => fitMlForest([[1], [2]], [1, 2], params({ minLeaf: 0 }))).toThrow(/params.minLeaf/);
  });

  it("toJSON → JSON text → loadMlForest round-trips exactly, for both kinds of sampling", () => {
    for (const over of [{}, { sampleFraction: 0.5, bootstrap: false, maxDepth: 6 }] as Partial<ForestParams>[]) {
      const model = fitMlForestWith(train.X, train.y, params(over));
      const text = JSON.stringify(model.toJSON());
      const json = JSON.parse(text) as MlForestJSON;
      expect(json).toMatchObject({ format: ML_FOREST_FORMAT, version: 1, columns: 4, nTrees: 20 });
      expect((json.model as { name: string }).name).toBe("RFRegression");
      const loaded = loadMlForest(json);
      expect(loaded.nTrees).toBe(20);
      expect(loaded.treeValues(test.X)).toEqual(model.treeValues(test.X));
      expect(loaded.predict(test.X)).toEqual(model.predict(test.X));
      // the library drops `numberSamples` when it loads a tree, so the text shrinks once and is then stable
      const again = JSON.stringify(loaded.toJSON());
      expect(again.length).toBeLessThanOrEqual(text.length);
      expect(JSON.stringify(loadMlForest(JSON.parse(again)).toJSON())).toBe(again);
      // the library's bare JSON loads too
      expect(loadMlForest(json.model).predict(test.X)).toEqual(model.predict(test.X));
    }
  });

  it("the budget settings cap the rows per tree at 200 (90% below that)", () => {
    expect(mlForestPlan(1000, 20, mlForestBudgetParams(1000, 1))).toMatchObject({ rowsPerTree: 200, featuresPerTree: 20, ownSampling: true, bootstrap: false });
    expect(mlForestPlan(100, 20, mlForestBudgetParams(100, 1))).toMatchObject({ rowsPerTree: 90, ownSampling: true });
    expect(mlForestPlan(1, 3, mlForestBudgetParams(1, 1))).toMatchObject({ rowsPerTree: 1 });
    const model = fitMlForest(train.X, train.y, mlForestBudgetParams(train.X.length, 3));
    expect(mae(model.predict(test.X), test.y)).toBeLessThan(0.3 * sd(test.y));
  });

  it("loadMlForest rejects what it cannot load", () => {
    expect(() => loadMlForest(null)).toThrow(/expected an object/);
    expect(() => loadMlForest({ format: "other" })).toThrow(/not an ml-random-forest model/);
    expect(() => loadMlForest({ format: ML_FOREST_FORMAT, version: 2, columns: 1, nTrees: 1 })).toThrow(/unsupported version 2/);
    expect(() => loadMlForest({ format: ML_FOREST_FORMAT, version: 1, columns: 1, nTrees: 1, model: { name: "RFClassifier" } })).toThrow(/RandomForestRegression/);
    const model = fitMlForest(train.X, train.y, params({ nTrees: 2 }));
    const json = JSON.parse(JSON.stringify(model.toJSON())) as MlForestJSON;
    expect(() => loadMlForest({ ...json, columns: 2 })).toThrow(/the trees use column 3 of 2/);
  });
});
