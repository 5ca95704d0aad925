/**
 * `shadowgate bench-model` through the bundled CLI (bin/shadowgate.js → dist/cli.js) with the
 * tuned learner: the JSON document and the table on the fixture, and one clear line for
 * every kind of bad input. No Docker involved.
 */
import { describe, expect, it } from "vitest";
import path from "node:path";
import { benchModel } from "../../src/bench/model-bench.js";
import { readPerfData } from "../../src/bench/perf-data.js";
import { ROOT, runNode } from "../helpers/run.js";

const CLI = path.join(ROOT, "bin/shadowgate.js");
const BENCH = path.join(ROOT, "fixtures/bench");
const PERF = path.join(BENCH, "perf.csv");

interface Doc {
  dataset: string;
  results: { n: number; mre_mean: number; mre_median: number; mre_p25: number; mre_p75: number; runs: number; test_rows: number; fit_ms_mean: number; fit_ms_median: number }[];
}

const mres = (doc: Doc) => doc.results.map((r) => [r.n, r.mre_mean, r.mre_median, r.mre_p25, r.mre_p75]);

describe("shadowgate bench-model (bundled CLI)", () => {
  it("prints the JSON of the issue, deterministic given --seed, and beats the mean predictor", async () => {
    const args = [CLI, "bench-model", "--data", PERF, "--sizes", "16,48", "--runs", "5", "--json"];
    const first = await runNode(args);
    expect(first.code, first.stderr).toBe(0);
    const doc = JSON.parse(first.stdout) as Doc;
    expect(doc.dataset).toBe("perf");
    expect(doc.results.map((r) => [r.n, r.runs, r.test_rows])).toEqual([
      [16, 5, 80],
      [48, 5, 48],
    ]);
    for (const r of doc.results) {
      for (const value of [r.mre_mean, r.mre_median, r.mre_p25, r.mre_p75, r.fit_ms_mean, r.fit_ms_median]) {
        expect(Number.isFinite(value)).toBe(true);
        expect(value).toBeGreaterThanOrEqual(0);
      }
      expect(r.mre_p25).toBeLessThanOrEqual(r.mre_median);
      expect(r.mre_median).toBeLessThanOrEqual(r.mre_p75);
    }

    const again = JSON.parse((await runNode(args)).stdout) as Doc;
    expect(mres(again)).toEqual(mres(doc));

    // wiring check: predictions in the wrong order or from the wrong rows would be no better
    // than predicting the training mean
    const data = await readPerfData(PERF);
    const baseline = benchModel(data, {
      sizes: [48],
      runs: 5,
      seed: 1,
      fit: (_X, y) => {
        const m = y.reduce((a, b) => a + b, 0) / y.length;
        return { predict: (X) => X.map(() => m) };
      },
    }).results[0]!;
    expect(doc.results[1]!.mre_median).toBeLessThan(baseline.mreMedian * 0.8);
  });

  it("prints a readable table without --json", async () => {
    const result = await runNode([CLI, "bench-model", "--data", PERF, "--sizes", "16", "--runs", "3", "--seed", "7"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^perf: 96 configurations, 5 options; 3 runs per sample size N .*seed 7/);
    expect(result.stdout).toMatch(/\|\s+N \|\s+test rows \|\s+MRE median % \|\s+MRE mean % \|\s+p25 % \|\s+p75 % \|\s+fit median \|\s+fit mean \|/);
    expect(result.stdout).toMatch(/\|\s+16 \|\s+80 \|\s+[\d.]+ \|\s+[\d.]+ \|/);
  });

  it.each([
    ["a missing file", path.join(BENCH, "does-not-exist.csv"), "8", /does-not-exist\.csv: cannot read the data file: no such file$/],
    ["a non-numeric cell", path.join(BENCH, "non-numeric.csv"), "8", /non-numeric\.csv:14: column "threads": expected a number, got "abc"$/],
    ["a constant target", path.join(BENCH, "constant-target.csv"), "8", /constant-target\.csv: column "time_ms" \(the target\) is constant \(250 on all 20 rows\)/],
    ["a zero target", path.join(BENCH, "zero-target.csv"), "8", /zero-target\.csv:10: column "time_ms" \(the target\): expected a non-zero performance value .*got "0"$/],
    ["fewer rows than the sample size", PERF, "16,100", /perf\.csv: 96 data rows, too few for a training sample of 100/],
  ])("fails with one clear line and exit 1 on %s", async (_name, data, sizes, pattern) => {
    const result = await runNode([CLI, "bench-model", "--data", data, "--sizes", sizes, "--runs", "2"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    const errorLines = result.stderr.split("\n").filter((line) => line.startsWith("shadowgate:"));
    expect(errorLines).toHaveLength(1);
    expect(errorLines[0]).toMatch(/^shadowgate: error: /);
    expect(errorLines[0]).toMatch(pattern);
  });

  it.each([
    ["16,abc", /--sizes: expected comma-separated whole numbers ≥ 1 like 16,32,48, got "16,abc"/],
    ["0", /--sizes: expected comma-separated whole numbers ≥ 1 like 16,32,48, got "0"/],
    ["", /--sizes: expected comma-separated whole numbers ≥ 1 like 16,32,48, got ""/],
  ])("rejects --sizes %j with the usage and exit 2", async (sizes, pattern) => {
    const result = await runNode([CLI, "bench-model", "--data", PERF, "--sizes", sizes]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(pattern);
    expect(result.stderr).toContain("usage: shadowgate bench-model --data FILE.csv --sizes");
  });
});
