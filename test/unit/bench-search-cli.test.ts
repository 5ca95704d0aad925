import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli.js";

const BENCH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../fixtures/bench");
const PERF = path.join(BENCH, "perf.csv");

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(["bench-search", ...args], { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}

describe("shadowgate bench-search (in process, the real strategies and agent)", () => {
  it("--json prints the issue's document, every strategy reaching the target on a small table", async () => {
    const result = await cli(["--data", PERF, "--budget", "30", "--seeds", "4", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const doc = JSON.parse(result.stdout) as { dataset: string; budget: number; target: number; strategies: Record<string, { median_trials: number; success_rate: number }> };
    expect(doc.dataset).toBe(PERF);
    expect(doc.budget).toBe(30);
    expect(doc.target).toBe(0.05);
    expect(Object.keys(doc.strategies)).toEqual(["random", "lhs", "model", "adaptive"]);
    for (const outcome of Object.values(doc.strategies)) {
      expect(outcome.median_trials).toBeGreaterThanOrEqual(1);
      expect(outcome.median_trials).toBeLessThanOrEqual(31);
      expect(outcome.success_rate).toBeGreaterThanOrEqual(0);
      expect(outcome.success_rate).toBeLessThanOrEqual(1);
    }
    // the same arguments, the same numbers
    expect((await cli(["--data", PERF, "--budget", "30", "--seeds", "4", "--json"])).stdout).toBe(result.stdout);
  });

  it("prints a table by default, and counts a failed search as budget + 1", async () => {
    const result = await cli(["--data", PERF, "--budget", "1", "--seeds", "3", "--target", "0"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/\| strategy \| median trials to target \| success rate \|/);
    expect(result.stdout).toMatch(/\| random \| (> 1|1) \| \d+% \|/);
  });

  it("rejects bad arguments and bad data with one clear line", async () => {
    const cases: [string[], RegExp, number][] = [
      [[], /bench-search: --data FILE\.csv is required/, 2],
      [["--data", PERF, "--budget", "0"], /--budget: expected a whole number ≥ 1, got "0"/, 2],
      [["--data", PERF, "--seeds", "x"], /--seeds: expected a whole number ≥ 1, got "x"/, 2],
      [["--data", PERF, "--target", "1.5"], /--target: expected a fraction from 0 to below 1 like 0\.05, got "1\.5"/, 2],
      [["--data", PERF, "--minimize", "--maximize"], /--minimize and --maximize exclude each other/, 2],
      [["--data", path.join(BENCH, "missing.csv")], /missing\.csv/, 1],
      [["--data", path.join(BENCH, "non-numeric.csv")], /non-numeric\.csv:\d+/, 1],
    ];
    for (const [args, message, code] of cases) {
      const result = await cli(args);
      expect(result.code, args.join(" ")).toBe(code);
      expect(result.stderr.split("\n")[0], args.join(" ")).toMatch(message);
    }
  });
});
