/**
 * `npm run bench:search`: the search benchmark (src/bench/search-bench.ts, the same code as
 * `shadowgate bench-search`) over the shared datasets, each minimised (they are run times),
 * then the targets checked per dataset:
 * - the adaptive agent's median trials ≤ half of random's,
 * - its success rate ≥ 90% within the budget,
 * - its median trials ≤ 1.2 × the best single strategy's.
 * Then the time to propose one model-guided batch with 20 parameters and 1,000 trials.
 *
 * Environment: BENCH_SEEDS (default 100: at 30 seeds random search's median, which the
 * first target halves, moves by a trial or more between seed sets), BENCH_BUDGET (default
 * 40), BENCH_DATA (default /work/shared/datasets/perf-prediction), BENCH_DATASETS
 * (comma-separated names in BENCH_DATA, or paths to other CSV files; default the five).
 */
import path from "node:path";
import { readPerfData } from "../src/bench/perf-data.js";
import { benchSearch, searchBenchTable, type SearchBenchResult } from "../src/bench/search-bench.js";
import { quantile } from "../src/core/stats.js";
import { predictObjective, strategyFor } from "../src/search/strategies.js";
import type { Configuration, ParameterCatalog } from "../src/core/types.js";
import type { Observation } from "../src/search/types.js";
import { mulberry32 } from "../src/search/random.js";

const DATA = process.env.BENCH_DATA ?? "/work/shared/datasets/perf-prediction";
const SEEDS = Number(process.env.BENCH_SEEDS ?? 100);
const BUDGET = Number(process.env.BENCH_BUDGET ?? 40);
const DATASETS = (process.env.BENCH_DATASETS ?? "Apache,x264,LLVM,HSMGP,VP8").split(",");

async function main(): Promise<void> {
  console.log(`# Search benchmark: ${SEEDS} seeds, budget ${BUDGET}, target within 5% of the best\n`);
  const results: SearchBenchResult[] = [];
  for (const name of DATASETS) {
    const data = await readPerfData(name.endsWith(".csv") ? name : path.join(DATA, `${name}.csv`));
    const started = performance.now();
    const result = benchSearch(
      data,
      { budget: BUDGET, seeds: SEEDS, target: 0.05, goal: "minimize" },
      { strategyFor, predict: predictObjective },
    );
    results.push(result);
    console.log(searchBenchTable({ ...result, dataset: name }));
    console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
  }

  console.log("## Targets\n");
  console.log("| dataset | random | best single | adaptive | ≤ ½ random | success ≥ 90% | ≤ 1.2 × best single |");
  console.log("|---|---:|---:|---:|:-:|:-:|:-:|");
  const show = (t: number): string => (t > BUDGET ? `> ${BUDGET}` : String(t));
  results.forEach((r, i) => {
    const s = r.strategies;
    const random = s.random!.medianTrials;
    const singles = (["random", "lhs", "model"] as const).map((k) => [k, s[k]!.medianTrials] as const).sort((a, b) => a[1] - b[1]);
    const [bestName, best] = singles[0]!;
    const adaptive = s.adaptive!;
    const mark = (ok: boolean): string => (ok ? "yes" : "**no**");
    console.log(
      `| ${DATASETS[i]} | ${show(random)} | ${show(best)} (${bestName}) | ${show(adaptive.medianTrials)} (${(adaptive.successRate * 100).toFixed(0)}%) | ${mark(adaptive.medianTrials <= random / 2)} | ${mark(adaptive.successRate >= 0.9)} | ${mark(adaptive.medianTrials <= 1.2 * best)} |`,
    );
  });

  // Proposing the next batch: model-guided, 20 parameters, 1,000 trials of history.
  const rng = mulberry32(3);
  const catalog: ParameterCatalog = Array.from({ length: 20 }, (_, j) =>
    j < 8
      ? { name: `B${j}`, type: "bool", apply: { kind: "env", name: `B${j}` } }
      : j < 12
        ? { name: `E${j}`, type: "enum", values: ["a", "b", "c"], apply: { kind: "env", name: `E${j}` } }
        : { name: `N${j}`, type: j % 2 === 0 ? "int" : "float", min: 1, max: 256, scale: "log", apply: { kind: "env", name: `N${j}` } },
  );
  const random = (): Configuration =>
    Object.fromEntries(
      catalog.map((p) => [p.name, p.type === "bool" ? rng() < 0.5 : p.type === "enum" ? p.values[Math.floor(rng() * 3)]! : p.type === "int" ? Math.round(Math.exp(rng() * Math.log(256))) : Math.exp(rng() * Math.log(256))]),
    );
  const observations: Observation[] = Array.from({ length: 1000 }, () => {
    const config = random();
    return { config, value: (config.B0 ? 0.3 : 0) + Math.log(config.N12 as number) / 5 + (config.E8 === "b" ? -0.2 : 0) + 0.05 * rng() };
  });
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    strategyFor("model").propose({ catalog, constraints: [], current: observations[0]!.config, observations, seed: r + 1 }, 4);
    times.push(performance.now() - t);
  }
  console.log(`\n## Proposing a batch\n\n- model-guided, batch of 4, 20 parameters, 1,000 trials of history: median of 5 ${quantile(times, 0.5).toFixed(0)} ms (min ${Math.min(...times).toFixed(0)}, max ${Math.max(...times).toFixed(0)})`);
}

await main();
