/**
 * The model benchmark (`shadowgate bench-model`): CSV reading and validation, the published
 * protocol (N random training rows without replacement, test on all the rest, MRE in %,
 * runs, mean/median/quartiles), the published table, and the command's arguments and output,
 * all with trivial learners so nothing here depends on the tuned learner.
 */
import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PerfDataError, parseCsv, parseNumber, parsePerfData, readPerfData, type PerfData } from "../../src/bench/perf-data.js";
import { benchJson, benchModel, benchTable, checkSizes, datasetName, mrePercent, runSeeds, splitSample, type Fit } from "../../src/bench/model-bench.js";
import { parsePublished, publishedMre, publishedSizes, readPublished } from "../../src/bench/published.js";
import { main, parseSizes } from "../../src/cli.js";
import { quantile } from "../../src/core/stats.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BENCH = path.join(ROOT, "fixtures/bench");
const SHARED_PUBLISHED = "/work/shared/datasets/perf-prediction/published_mre.csv";

/** Predicts the mean of the training targets. */
const meanLearner: Fit = (_X, y) => {
  const m = y.reduce((a, b) => a + b, 0) / y.length;
  return { predict: (X) => X.map(() => m) };
};

/** Nearest neighbour (squared Euclidean distance, first on ties). */
const nearestNeighbour: Fit = (X, y) => ({
  predict: (Q) =>
    Q.map((q) => {
      let best = 0;
      let bestDistance = Infinity;
      X.forEach((x, i) => {
        const d = x.reduce((s, v, j) => s + (v - q[j]!) ** 2, 0);
        if (d < bestDistance) {
          bestDistance = d;
          best = i;
        }
      });
      return y[best]!;
    }),
});

/** A table whose first option is the row's id, target 100 + 10 × id. */
function idTable(rows: number, file = "ids.csv"): PerfData {
  const X = Array.from({ length: rows }, (_, i) => [i, i % 3]);
  return { file, options: ["id", "mod3"], target: "perf", X, y: X.map(([id]) => 100 + 10 * id!) };
}

describe("parseCsv", () => {
  it("reads quoted cells, doubled quotes, CRLF, a BOM and skips blank lines, keeping line numbers", () => {
    const text = '\uFEFFa,b,c\r\n1,"x, y",3\r\n\r\n"say ""hi""",,"multi\nline"\n4,5,6\n\n';
    expect(parseCsv(text)).toEqual([
      { line: 1, cells: ["a", "b", "c"] },
      { line: 2, cells: ["1", "x, y", "3"] },
      { line: 4, cells: ['say "hi"', "", "multi\nline"] },
      { line: 6, cells: ["4", "5", "6"] },
    ]);
  });

  it("keeps a trailing empty cell and reads a file without a final newline", () => {
    expect(parseCsv("a,b\n1,")).toEqual([
      { line: 1, cells: ["a", "b"] },
      { line: 2, cells: ["1", ""] },
    ]);
  });

  it("rejects a quote left open and text after a closing quote", () => {
    expect(() => parseCsv('a,b\n1,"open\n')).toThrow(/^2: a quoted cell is never closed/);
    expect(() => parseCsv('a,b\n1,"x"y\n')).toThrow(/^2: unexpected text after a closing quote/);
  });
});

describe("parseNumber", () => {
  it.each([
    ["12", 12],
    [" -0.5 ", -0.5],
    ["1e3", 1000],
    [".25", 0.25],
    ["7.", 7],
    ["+3", 3],
  ])("reads %j", (text, value) => expect(parseNumber(text)).toBe(value));

  it.each(["", " ", "abc", "0x10", "Infinity", "NaN", "1,5", "1e", "--1", "1 2"])("rejects %j", (text) => expect(parseNumber(text)).toBeUndefined());
});

describe("parsePerfData", () => {
  it("takes every column but the last as options and the last as the target", () => {
    const data = parsePerfData("threads,cache,perf\n1,0,10.5\n2,1,8\n4,1,7.25\n", "t.csv");
    expect(data).toEqual({ file: "t.csv", options: ["threads", "cache"], target: "perf", X: [[1, 0], [2, 1], [4, 1]], y: [10.5, 8, 7.25] });
  });

  it("reads the shared datasets' header quirks (a target named <$performance) and negative options", () => {
    const data = parsePerfData("a,<$performance\r\n-1,3\r\n2,4\r\n", "vp8.csv");
    expect(data.target).toBe("<$performance");
    expect(data.X).toEqual([[-1], [2]]);
  });

  it.each([
    ["a non-numeric cell", "a,threads,perf\n1,2,3\n1,abc,4\n", 'x.csv:3: column "threads": expected a number, got "abc"'],
    ["an empty cell", "a,b,perf\n1,,3\n2,1,4\n", 'x.csv:2: column "b": expected a number, got ""'],
    ["a non-numeric target", "a,perf\n1,fast\n2,3\n", 'x.csv:2: column "perf": expected a number, got "fast"'],
    ["a hexadecimal cell", "a,perf\n0x1,2\n2,3\n", 'x.csv:2: column "a": expected a number, got "0x1"'],
    ["a row with too few cells", "a,b,perf\n1,2,3\n1,2\n", "x.csv:3: expected 3 cells like the header, got 2"],
    ["a row with too many cells", "a,b,perf\n1,2,3,4\n", "x.csv:2: expected 3 cells like the header, got 4"],
    ["a zero target", "a,perf\n1,2\n2,0\n", 'x.csv:3: column "perf" (the target): expected a non-zero performance value (the relative error divides by it), got "0"'],
    ["a zero target written 0.0", "a,perf\n1,2\n2,0.0\n", 'x.csv:3: column "perf" (the target): expected a non-zero performance value (the relative error divides by it), got "0.0"'],
    ["a constant target", "a,perf\n1,5\n2,5\n3,5\n", 'x.csv: column "perf" (the target) is constant (5 on all 3 rows): nothing to learn, expected measurements that vary'],
    ["a single row (constant by definition)", "a,perf\n1,5\n", 'x.csv: column "perf" (the target) is constant (5 on all 1 rows): nothing to learn, expected measurements that vary'],
    ["an empty file", "", "x.csv: empty file: expected a header row (options…, target) and rows of numbers"],
    ["a header only", "a,perf\n", "x.csv: no data rows after the header"],
    ["a single column", "perf\n1\n2\n", "x.csv:1: expected a header with at least 2 columns (options…, target), got 1"],
    ["no header row", "1,2\n3,4\n", 'x.csv:1: expected a header row of column names as the first line, got the number "1" in column 1'],
    ["a header cell without a name", "a,,perf\n1,2,3\n", "x.csv:1: column 2 of the header has no name"],
    ["an unclosed quote", 'a,perf\n1,"2\n', "x.csv:2: a quoted cell is never closed"],
  ])("rejects %s with one line naming the file and line", (_name, text, message) => {
    let error: unknown;
    try {
      parsePerfData(text, "x.csv");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PerfDataError);
    expect((error as Error).message).toBe(message);
    expect((error as Error).message).not.toContain("\n");
  });

  it("cuts a long bad cell in the message", () => {
    expect(() => parsePerfData(`a,perf\n${"z".repeat(100)},1\n2,3\n`, "x.csv")).toThrow(`x.csv:2: column "a": expected a number, got "${"z".repeat(40)}…"`);
  });

  it("says when the file is missing or a directory", async () => {
    await expect(readPerfData(path.join(BENCH, "nope.csv"))).rejects.toThrow(`${path.join(BENCH, "nope.csv")}: cannot read the data file: no such file`);
    await expect(readPerfData(BENCH)).rejects.toThrow(`${BENCH}: cannot read the data file: is a directory`);
  });

  it("reads the fixture", async () => {
    const data = await readPerfData(path.join(BENCH, "perf.csv"));
    expect(data.options).toEqual(["compress", "keepalive", "cache", "threads", "level"]);
    expect(data.target).toBe("time_ms");
    expect(data.y).toHaveLength(96);
  });

  it.each([
    ["non-numeric.csv", /non-numeric\.csv:14: column "threads": expected a number, got "abc"$/],
    ["zero-target.csv", /zero-target\.csv:10: column "time_ms" \(the target\): expected a non-zero/],
    ["constant-target.csv", /constant-target\.csv: column "time_ms" \(the target\) is constant \(250 on all 20 rows\)/],
  ])("rejects the bad fixture %s", async (file, pattern) => {
    await expect(readPerfData(path.join(BENCH, file))).rejects.toThrow(pattern);
  });
});

describe("the protocol's pieces", () => {
  it("MRE is mean(|p − a| / |a|) × 100", () => {
    expect(mrePercent([110, 90, 200], [100, 100, 100])).toBeCloseTo(((0.1 + 0.1 + 1) / 3) * 100, 12);
    expect(mrePercent([-90], [-100])).toBeCloseTo(10, 12);
    expect(() => mrePercent([1], [1, 2])).toThrow(/1 predictions for 2/);
  });

  it("quantiles interpolate linearly between order statistics (numpy's default)", () => {
    expect(quantile([4, 1, 3, 2], 0.25)).toBeCloseTo(1.75, 12);
    expect(quantile([4, 1, 3, 2], 0.5)).toBeCloseTo(2.5, 12);
    expect(quantile([4, 1, 3, 2], 0.75)).toBeCloseTo(3.25, 12);
    expect(quantile([7], 0.25)).toBe(7);
  });

  it("draws N distinct training rows and tests on all the others, reproducibly", () => {
    for (let seed = 0; seed < 50; seed++) {
      const { train, test } = splitSample(20, 7, seed);
      expect(train).toHaveLength(7);
      expect(new Set(train).size).toBe(7);
      expect(test).toHaveLength(13);
      expect([...train, ...test].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(test).toEqual([...test].sort((a, b) => a - b));
      expect(splitSample(20, 7, seed)).toEqual({ train, test });
    }
  });

  it("gives every row the same chance to be drawn", () => {
    const counts = new Array<number>(10).fill(0);
    const draws = 4000;
    for (let seed = 0; seed < draws; seed++) for (const i of splitSample(10, 3, runSeeds(seed, 3, 0).sample).train) counts[i]!++;
    // expected 1200 per row; ± 4.5 standard deviations (≈ 29)
    for (const count of counts) expect(Math.abs(count - 1200)).toBeLessThan(130);
  });

  it("derives different seeds per size, run and purpose", () => {
    const seeds = new Set<number>();
    for (const n of [5, 6]) for (let run = 0; run < 10; run++) for (const s of Object.values(runSeeds(1, n, run))) seeds.add(s);
    expect(seeds.size).toBe(40);
    expect(runSeeds(1, 5, 3)).toEqual(runSeeds(1, 5, 3));
    expect(runSeeds(2, 5, 3)).not.toEqual(runSeeds(1, 5, 3));
  });

  it("names the dataset after the file", () => {
    expect(datasetName("/data/x264.csv")).toBe("x264");
    expect(datasetName("C:\\data\\Apache.CSV")).toBe("Apache");
    expect(datasetName("plain")).toBe("plain");
  });

  it("needs more rows than the largest sample size", () => {
    const data = idTable(10, "small.csv");
    expect(() => checkSizes(data, [3, 9])).not.toThrow();
    expect(() => checkSizes(data, [3, 10])).toThrow(new PerfDataError("small.csv: 10 data rows, too few for a training sample of 10: the protocol needs at least 11 (N to train, the rest to test)"));
    expect(() => checkSizes(data, [40])).toThrow(/small\.csv: 10 data rows, too few for a training sample of 40/);
  });
});

describe("benchModel", () => {
  it("trains on N rows of the table and predicts exactly the remaining rows, every run", () => {
    const data = idTable(30);
    const seen: { train: number[]; test: number[]; seed: number }[] = [];
    const spy: Fit = (X, y, seed) => {
      const train = X.map(([id]) => id!);
      // the training pairs are rows of the table
      X.forEach((row, i) => expect(y[i]).toBe(100 + 10 * row[0]!));
      return {
        predict: (Q) => {
          seen.push({ train, test: Q.map(([id]) => id!), seed });
          return Q.map(() => 1);
        },
      };
    };
    const result = benchModel(data, { sizes: [4, 12], runs: 5, seed: 7, fit: spy });
    expect(seen).toHaveLength(10);
    seen.forEach(({ train, test }, k) => {
      const n = k < 5 ? 4 : 12;
      expect(new Set(train).size).toBe(n);
      expect(test).toHaveLength(30 - n);
      expect(test.some((id) => train.includes(id))).toBe(false);
    });
    // different samples and learner seeds in different runs
    expect(new Set(seen.map((s) => s.train.join(","))).size).toBe(10);
    expect(new Set(seen.map((s) => s.seed)).size).toBe(10);
    expect(result.results.map((r) => [r.n, r.runs, r.testRows, r.mreRuns.length])).toEqual([
      [4, 5, 26, 5],
      [12, 5, 18, 5],
    ]);
  });

  it("reports the MRE of each run and their mean, median and quartiles, in percent", () => {
    const data = idTable(40);
    // a learner whose relative error in a run is k %, k = training rows with id < 20
    const expected: number[] = [];
    const skewed: Fit = (X) => {
      const k = X.filter(([id]) => id! < 20).length;
      expected.push(k);
      return { predict: (Q) => Q.map(([id]) => (100 + 10 * id!) * (1 + k / 100)) };
    };
    const result = benchModel(data, { sizes: [10], runs: 9, seed: 3, fit: skewed });
    const [r] = result.results;
    expect(r!.mreRuns.map((m) => Number(m.toFixed(9)))).toEqual(expected);
    const sorted = [...expected].sort((a, b) => a - b);
    expect(r!.mreMedian).toBeCloseTo(sorted[4]!, 9);
    expect(r!.mreMean).toBeCloseTo(expected.reduce((a, b) => a + b, 0) / 9, 9);
    expect(r!.mreP25).toBeCloseTo(sorted[2]!, 9);
    expect(r!.mreP75).toBeCloseTo(sorted[6]!, 9);
    expect(new Set(expected).size).toBeGreaterThan(1);
  });

  it("computes the mean predictor's MRE over the held-out rows", () => {
    const data = idTable(12);
    const result = benchModel(data, { sizes: [3], runs: 4, seed: 11, fit: meanLearner });
    const manual = [0, 1, 2, 3].map((run) => {
      const { train, test } = splitSample(12, 3, runSeeds(11, 3, run).sample);
      const m = train.reduce((s, i) => s + data.y[i]!, 0) / 3;
      return test.reduce((s, i) => s + Math.abs(m - data.y[i]!) / data.y[i]!, 0) / test.length * 100;
    });
    result.results[0]!.mreRuns.forEach((mre, i) => expect(mre).toBeCloseTo(manual[i]!, 10));
  });

  it("is deterministic given the seed, and a size's numbers do not depend on the other sizes", () => {
    const data = idTable(50);
    const a = benchModel(data, { sizes: [5, 10], runs: 6, seed: 1, fit: nearestNeighbour });
    const b = benchModel(data, { sizes: [5, 10], runs: 6, seed: 1, fit: nearestNeighbour });
    const alone = benchModel(data, { sizes: [10], runs: 6, seed: 1, fit: nearestNeighbour });
    const other = benchModel(data, { sizes: [5, 10], runs: 6, seed: 2, fit: nearestNeighbour });
    expect(b.results.map((r) => r.mreRuns)).toEqual(a.results.map((r) => r.mreRuns));
    expect(alone.results[0]!.mreRuns).toEqual(a.results[1]!.mreRuns);
    expect(other.results[0]!.mreRuns).not.toEqual(a.results[0]!.mreRuns);
  });

  it("does not let the learner change the table", () => {
    const data = idTable(20);
    const before = JSON.stringify(data);
    const vandal: Fit = (X, y) => {
      for (const row of X) row.fill(0);
      y.fill(1);
      return { predict: (Q) => Q.map((row) => (row.fill(0), 1)) };
    };
    benchModel(data, { sizes: [5], runs: 3, seed: 1, fit: vandal });
    expect(JSON.stringify(data)).toBe(before);
  });

  it("fails clearly when the learner predicts the wrong number of values or a non-number", () => {
    const data = idTable(20);
    expect(() => benchModel(data, { sizes: [5], runs: 1, seed: 1, fit: () => ({ predict: () => [1] }) })).toThrow("the learner returned 1 predictions for 15 test rows (N = 5, run 1)");
    expect(() => benchModel(data, { sizes: [5], runs: 1, seed: 1, fit: () => ({ predict: (Q) => Q.map(() => NaN) }) })).toThrow("the learner predicted NaN for a test row (N = 5, run 1)");
  });

  it("rejects sizes that leave nothing to test and a run count below 1", () => {
    const data = idTable(20);
    expect(() => benchModel(data, { sizes: [20], runs: 3, seed: 1, fit: meanLearner })).toThrow(PerfDataError);
    expect(() => benchModel(data, { sizes: [5], runs: 0, seed: 1, fit: meanLearner })).toThrow(/runs must be a whole number/);
  });

  it("learns something on the fixture: nearest neighbour beats the mean predictor", async () => {
    const data = await readPerfData(path.join(BENCH, "perf.csv"));
    const nn = benchModel(data, { sizes: [48], runs: 10, seed: 1, fit: nearestNeighbour }).results[0]!;
    const mean = benchModel(data, { sizes: [48], runs: 10, seed: 1, fit: meanLearner }).results[0]!;
    expect(nn.mreMedian).toBeLessThan(mean.mreMedian);
    expect(nn.fitMsMedian).toBeGreaterThanOrEqual(0);
  });
});

describe("the reports", () => {
  const data = idTable(30, "/data/sys.csv");
  const result = benchModel(data, { sizes: [5, 10], runs: 4, seed: 1, fit: nearestNeighbour });

  it("JSON: the issue's fields, MREs in percent", () => {
    const json = benchJson(result);
    expect(json.dataset).toBe("sys");
    expect(json.results.map((r) => Object.keys(r))).toEqual([
      ["n", "mre_mean", "mre_median", "mre_p25", "mre_p75", "runs", "test_rows", "fit_ms_mean", "fit_ms_median"],
      ["n", "mre_mean", "mre_median", "mre_p25", "mre_p75", "runs", "test_rows", "fit_ms_mean", "fit_ms_median"],
    ]);
    expect(json.results[0]).toMatchObject({ n: 5, runs: 4, test_rows: 25 });
    expect(json.results[0]!.mre_mean).toBeCloseTo(result.results[0]!.mreMean, 3);
    expect(json.results[1]!.mre_median).toBeCloseTo(result.results[1]!.mreMedian, 3);
  });

  it("table: one row per size", () => {
    const table = benchTable(result);
    expect(table).toMatch(/^sys: 30 configurations, 2 options; 4 runs per sample size N/);
    expect(table).toMatch(/\|\s+N \|\s+test rows \|\s+MRE median % \|\s+MRE mean % \|/);
    expect(table).toMatch(new RegExp(`\\|\\s+5 \\|\\s+25 \\|\\s+${result.results[0]!.mreMedian.toFixed(2)} \\|`));
    expect(table).toMatch(new RegExp(`\\|\\s+10 \\|\\s+20 \\|\\s+${result.results[1]!.mreMedian.toFixed(2)} \\|`));
  });
});

describe("published results", () => {
  const TEXT =
    'system,n_train,size_label,method,statistic,MRE_percent,spread,spread_kind,n_runs,source\r\n' +
    'x264,16,1n,DeepPerf,mean,10.43,2.28,margin95,30,DeepPerf README\r\n' +
    'x264,16,S1,RF,median,8.18,2.78,IQR,30,"DaL Table 4 (Gong & Chen FSE23, Table 4 full)"\r\n' +
    'x264,32,S2,RF,median,6.42,,IQR,30,"DaL, again"\r\n' +
    'LLVM,11,1n,DeepPerf,mean,5.09,0.8,margin95,30,DeepPerf README\r\n';

  it("reads the rows, typed", () => {
    const rows = parsePublished(TEXT, "p.csv");
    expect(rows).toHaveLength(4);
    expect(rows[1]).toEqual({ system: "x264", nTrain: 16, sizeLabel: "S1", method: "RF", statistic: "median", mrePercent: 8.18, spread: 2.78, spreadKind: "IQR", nRuns: 30, source: "DaL Table 4 (Gong & Chen FSE23, Table 4 full)" });
    expect(rows[2]!.spread).toBeUndefined();
    expect(publishedMre(rows, { system: "x264", n: 16, method: "RF", statistic: "median" })).toBe(8.18);
    expect(publishedMre(rows, { system: "x264", n: 16, method: "RF", statistic: "mean" })).toBeUndefined();
    expect(publishedSizes(rows)).toEqual(new Map([["x264", [16, 32]], ["LLVM", [11]]]));
  });

  it("rejects a missing column and a bad number or statistic", () => {
    expect(() => parsePublished("system,n_train\nx,1\n", "p.csv")).toThrow('p.csv:1: missing column "size_label"');
    expect(() => parsePublished(TEXT.replace("10.43", "ten"), "p.csv")).toThrow('p.csv:2: column "MRE_percent": expected a number, got "ten"');
    expect(() => parsePublished(TEXT.replace(",mean,", ",avg,"), "p.csv")).toThrow('p.csv:2: column "statistic": expected mean or median, got "avg"');
  });

  it.skipIf(!existsSync(SHARED_PUBLISHED))("reads the shared published_mre.csv: the README's systems and sample sizes", async () => {
    const rows = await readPublished(SHARED_PUBLISHED);
    expect(rows.length).toBeGreaterThan(100);
    expect(Object.fromEntries(publishedSizes(rows))).toEqual({
      x264: [16, 32, 48, 64, 80],
      Apache: [9, 18, 27, 36, 45],
      LLVM: [11, 22, 33, 44, 55],
      HSMGP: [77, 173, 384, 480, 864],
      VP8: [121, 273, 356, 467, 830],
    });
    expect(publishedMre(rows, { system: "VP8", n: 830, method: "RF", statistic: "median" })).toBe(0.85);
  });
});

describe("shadowgate bench-model (in process, with a trivial learner)", () => {
  async function cli(args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(["bench-model", ...args], { out: (t) => out.push(t), err: (t) => err.push(t) }, { fit: nearestNeighbour });
    return { code, stdout: out.join("\n"), stderr: err.join("\n") };
  }
  const PERF = path.join(BENCH, "perf.csv");

  it("--json prints the issue's document", async () => {
    const result = await cli(["--data", PERF, "--sizes", "8,16,24", "--runs", "5", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc.dataset).toBe("perf");
    expect(doc.results.map((r: { n: number; runs: number }) => [r.n, r.runs])).toEqual([
      [8, 5],
      [16, 5],
      [24, 5],
    ]);
    for (const r of doc.results) {
      expect(r.mre_mean).toBeGreaterThan(0);
      expect(r.mre_median).toBeGreaterThan(0);
    }
    // same seed, same numbers; another seed, others
    const mres = (d: { results: { mre_mean: number; mre_median: number; mre_p25: number; mre_p75: number }[] }) => d.results.map((r) => [r.mre_mean, r.mre_median, r.mre_p25, r.mre_p75]);
    expect(mres(JSON.parse((await cli(["--data", PERF, "--sizes", "8,16,24", "--runs", "5", "--json"])).stdout))).toEqual(mres(doc));
    const other = JSON.parse((await cli(["--data", PERF, "--sizes", "8,16,24", "--runs", "5", "--seed", "2", "--json"])).stdout);
    expect(mres(other)).not.toEqual(mres(doc));
  });

  it("prints a table by default, 30 runs unless told otherwise", async () => {
    const result = await cli(["--data", PERF, "--sizes", "10"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^perf: 96 configurations, 5 options; 30 runs per sample size N/);
    expect(result.stdout).toMatch(/\|\s+10 \|\s+86 \|\s+[\d.]+ \|/);
    expect(result.stderr).toMatch(/perf\.csv: 96 configurations, 5 options, target "time_ms"; sizes 10; 30 runs each; seed 1/);
  });

  it.each([
    ["a missing file", [path.join(BENCH, "nope.csv"), "8"], /nope\.csv: cannot read the data file: no such file$/],
    ["a non-numeric cell", [path.join(BENCH, "non-numeric.csv"), "8"], /non-numeric\.csv:14: column "threads": expected a number, got "abc"$/],
    ["a constant target", [path.join(BENCH, "constant-target.csv"), "8"], /constant-target\.csv: column "time_ms" \(the target\) is constant/],
    ["a zero target", [path.join(BENCH, "zero-target.csv"), "8"], /zero-target\.csv:10: column "time_ms" \(the target\): expected a non-zero/],
    ["fewer rows than the sample size", [PERF, "8,96"], /perf\.csv: 96 data rows, too few for a training sample of 96/],
  ])("exits 1 with one line on %s", async (_name, [data, sizes], pattern) => {
    const result = await cli(["--data", data!, "--sizes", sizes!, "--runs", "2"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    const lines = result.stderr.split("\n").filter((l) => l.startsWith("shadowgate:"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^shadowgate: error: /);
    expect(lines[0]).toMatch(pattern);
  });

  it.each([
    [["--sizes", "8"], /--data FILE\.csv is required/],
    [["--data", "x.csv"], /--sizes is required/],
    [["--data", "x.csv", "--sizes", "8,abc"], /--sizes: expected comma-separated whole numbers ≥ 1 like 16,32,48, got "8,abc"/],
    [["--data", "x.csv", "--sizes", "0"], /--sizes: expected .* got "0"/],
    [["--data", "x.csv", "--sizes", "1.5"], /--sizes: expected .* got "1\.5"/],
    [["--data", "x.csv", "--sizes", "8,,16"], /--sizes: expected .* got "8,,16"/],
    [["--data", "x.csv", "--sizes", "8", "--runs", "0"], /--runs: expected a whole number ≥ 1, got "0"/],
    [["--data", "x.csv", "--sizes", "8", "--seed", "-1"], /--seed/],
    [["--data", "x.csv", "--sizes", "8", "--bogus"], /Unknown option '--bogus'/],
    [["--data", "x.csv", "--sizes", "8", "stray"], /unexpected argument "stray"/],
  ])("exits 2 with the usage on bad arguments %j", async (args, pattern) => {
    const result = await cli(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(pattern);
    expect(result.stderr).toContain("usage: shadowgate bench-model --data FILE.csv --sizes");
  });

  it("--help prints the usage and exits 0; the top-level usage lists every command", async () => {
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stderr).toMatch(/every mre_\* is a percentage/);
    const err: string[] = [];
    expect(await main([], { out: () => {}, err: (t) => err.push(t) })).toBe(2);
    expect(err.join("\n")).toMatch(/usage: shadowgate run .*\n\s+shadowgate gate .*--base-image IMAGE.*\n\s+shadowgate bench-model --data FILE\.csv.*\n\s+shadowgate bench-search --data FILE\.csv/);
    const unknown: string[] = [];
    expect(await main(["bench"], { out: () => {}, err: (t) => unknown.push(t) })).toBe(2);
    expect(unknown[0]).toMatch(/unknown command "bench"; expected "run", "gate", "bench-model" or "bench-search"/);
  });

  it("parses --sizes", () => {
    expect(parseSizes("16,32,48")).toEqual([16, 32, 48]);
    expect(parseSizes(" 16 , 32 ")).toEqual([16, 32]);
    expect(parseSizes("32,16,32")).toEqual([32, 16]);
    for (const bad of ["", ",", "16,", "-1", "0", "1e2", "x"]) expect(parseSizes(bad)).toBeUndefined();
  });
});

describe("fixtures", () => {
  it("a CSV written by hand with CRLF reads like the LF one", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "sg-bench-"));
    const file = path.join(dir, "crlf.csv");
    writeFileSync(file, "a,b,perf\r\n1,2,3\r\n4,5,6\r\n");
    expect((await readPerfData(file)).X).toEqual([
      [1, 2],
      [4, 5],
    ]);
  });
});
