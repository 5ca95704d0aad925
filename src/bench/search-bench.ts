/**
 * The search benchmark (`shadowgate bench-search`): a table of measured configurations
 * (perf-data.ts) played as a workload. A trial returns the measured value of the chosen
 * configuration; configurations the file did not measure are never proposed (they are the
 * strategies' `candidates`). For each strategy and seed, the search runs until it measures a
 * configuration within `target` of the file's best, or the budget is spent; the result is the
 * median number of trials (an unsuccessful seed counts as budget + 1) and the success rate.
 */
import type { Configuration, ParameterCatalog, ParameterSpec } from "../core/types.js";
import { configKey } from "../search/space.js";
import { deriveSeed } from "../search/random.js";
import type { Observation, ProposeContext, Strategy, StrategyName } from "../search/types.js";
import type { SearchDeps } from "../search/run-search.js";
import { decide, learn, newAgentState, objectiveSpread, type AgentState } from "../search/agent.js";
import { optionParameter, type PerfData } from "./perf-data.js";
import { quantile } from "../core/stats.js";

/** The strategies the benchmark compares: three fixed ones and the agent choosing among all. */
export const BENCH_STRATEGIES = ["random", "lhs", "model", "adaptive"] as const;
export type BenchStrategy = (typeof BENCH_STRATEGIES)[number];

export interface SearchBenchOptions {
  /** trials per search */
  budget: number;
  /** searches per strategy, seeds 1..seeds (derived from `seed`) */
  seeds: number;
  /** success: within this fraction of the best value (0.05 = 5%) */
  target: number;
  goal: "minimize" | "maximize";
  /** trials proposed at once (a batch of shadows side by side); default 1 */
  batch?: number;
  seed?: number;
  strategies?: readonly BenchStrategy[];
  /** called after each search, for progress */
  onSearch?: (strategy: BenchStrategy, seed: number, trials: number | undefined) => void;
}

export interface SearchBenchDeps {
  strategyFor: (name: StrategyName) => Strategy;
  /** the model's predictions before a batch runs (the agent's accuracy reward), as SearchDeps.predict */
  predict?: SearchDeps["predict"];
}

export interface StrategyOutcome {
  /** median trials to reach the target; unsuccessful seeds count as budget + 1 */
  medianTrials: number;
  successRate: number;
  /** per seed: trials to reach the target, or null */
  trials: (number | null)[];
  /** for the adaptive agent: how often it chose each strategy, over all batches */
  choices?: Partial<Record<StrategyName, number>>;
}

export interface SearchBenchResult {
  dataset: string;
  configurations: number;
  options: number;
  budget: number;
  target: number;
  goal: "minimize" | "maximize";
  best: number;
  /** configurations within the target of the best: the chance a random trial succeeds */
  withinTarget: number;
  strategies: Partial<Record<BenchStrategy, StrategyOutcome>>;
}

/** A measurement table as a search space: a catalog, its finite candidate set, and the value of each. */
export interface TableSpace {
  catalog: ParameterCatalog;
  candidates: Configuration[];
  valueOf(config: Configuration): number;
}

/**
 * The catalog of a table: an option with values 0 and 1 only is a bool; otherwise an int
 * (whole numbers) or a float over its observed range. A configuration measured more than once
 * takes the mean of its values.
 */
export function tableSpace(data: PerfData): TableSpace {
  const catalog: ParameterCatalog = data.options.map((_, j): ParameterSpec => {
    const { name, values, min, max } = optionParameter(data, j);
    const apply = { kind: "env", name } as const;
    if (values.every((v) => v === 0 || v === 1)) return { name, type: "bool", apply };
    return { name, type: values.every(Number.isInteger) ? "int" : "float", min, max, scale: "linear", apply };
  });
  const sums = new Map<string, { config: Configuration; sum: number; count: number }>();
  data.X.forEach((row, i) => {
    const config: Configuration = Object.fromEntries(catalog.map((spec, j) => [spec.name, spec.type === "bool" ? row[j] === 1 : row[j]!]));
    const key = configKey(catalog, config);
    const entry = sums.get(key) ?? { config, sum: 0, count: 0 };
    entry.sum += data.y[i]!;
    entry.count++;
    sums.set(key, entry);
  });
  const value = new Map([...sums].map(([key, { sum, count }]) => [key, sum / count]));
  return {
    catalog,
    candidates: [...sums.values()].map((entry) => entry.config),
    valueOf(config) {
      const v = value.get(configKey(catalog, config));
      if (v === undefined) throw new Error(`bench-search: a strategy proposed a configuration the table did not measure: ${JSON.stringify(config)}`);
      return v;
    },
  };
}

/** Runs every strategy over every seed; see the module comment. */
export function benchSearch(data: PerfData, options: SearchBenchOptions, deps: SearchBenchDeps): SearchBenchResult {
  const space = tableSpace(data);
  const values = space.candidates.map((c) => space.valueOf(c));
  const best = options.goal === "minimize" ? Math.min(...values) : Math.max(...values);
  const good = (v: number): boolean => (options.goal === "minimize" ? v <= best + Math.abs(best) * options.target : v >= best - Math.abs(best) * options.target);
  // as in a run (search/observations.ts): the log of a positive KPI, negated when maximised
  const positive = values.every((v) => v > 0);
  const orient = (v: number): number => (options.goal === "minimize" ? 1 : -1) * (positive ? Math.log(v) : v);
  const strategies: SearchBenchResult["strategies"] = {};
  for (const name of options.strategies ?? BENCH_STRATEGIES) {
    const trials: (number | null)[] = [];
    const choices: Partial<Record<StrategyName, number>> = {};
    for (let s = 1; s <= options.seeds; s++) {
      const seed = deriveSeed(options.seed ?? 1, `bench-search:${s}`);
      const found = searchOnce(space, name, seed, options, good, orient, deps, choices);
      trials.push(found);
      options.onSearch?.(name, s, found ?? undefined);
    }
    const counted = trials.map((t) => t ?? options.budget + 1);
    strategies[name] = {
      medianTrials: quantile(counted, 0.5),
      successRate: trials.filter((t) => t !== null).length / trials.length,
      trials,
      ...(name === "adaptive" ? { choices } : {}),
    };
  }
  return {
    dataset: data.file,
    configurations: space.candidates.length,
    options: space.catalog.length,
    budget: options.budget,
    target: options.target,
    goal: options.goal,
    best,
    withinTarget: values.filter(good).length / values.length,
    strategies,
  };
}

/** One search: the trial (1-based) that first reached the target, or null within the budget. */
function searchOnce(
  space: TableSpace,
  name: BenchStrategy,
  seed: number,
  options: SearchBenchOptions,
  good: (v: number) => boolean,
  orient: (v: number) => number,
  deps: SearchBenchDeps,
  choices: Partial<Record<StrategyName, number>>,
): number | null {
  const observations: Observation[] = [];
  let agent: AgentState = newAgentState();
  const batchSize = Math.max(1, Math.floor(options.batch ?? 1));
  for (let round = 0; observations.length < options.budget; round++) {
    const ctx: ProposeContext = {
      catalog: space.catalog,
      constraints: [],
      current: space.candidates[0]!,
      observations,
      candidates: space.candidates,
      seed: deriveSeed(seed, `round:${round}`),
    };
    const n = Math.min(batchSize, options.budget - observations.length);
    const strategy: StrategyName = name === "adaptive" ? decide(agent, observations.length).strategy : name;
    const proposals = deps.strategyFor(strategy).propose(ctx, n);
    if (proposals.length === 0) break;
    const predicted = name === "adaptive" ? deps.predict?.(ctx, proposals)?.map((p) => p.mean) : undefined;
    const before = observations.map((o) => o.value);
    const measured = proposals.map((config) => ({ config, raw: space.valueOf(config) }));
    for (const { config, raw } of measured) {
      observations.push({ config, value: orient(raw) });
      if (good(raw)) return observations.length;
    }
    if (name === "adaptive") {
      choices[strategy] = (choices[strategy] ?? 0) + 1;
      agent = learn(agent, {
        strategy,
        values: measured.map((m) => orient(m.raw)),
        ...(predicted ? { predicted } : {}),
        before,
        scale: objectiveSpread(observations.map((o) => o.value)),
      });
    }
  }
  return null;
}


/** The JSON of `--json`, as the issue specifies it. */
export function searchBenchJson(result: SearchBenchResult): unknown {
  return {
    dataset: result.dataset,
    budget: result.budget,
    target: result.target,
    strategies: Object.fromEntries(
      Object.entries(result.strategies).map(([name, o]) => [name, { median_trials: o.medianTrials, success_rate: o.successRate }]),
    ),
  };
}

/** The text table of one dataset. */
export function searchBenchTable(result: SearchBenchResult): string {
  const lines = [
    `${result.dataset}: ${result.configurations} configurations, ${result.options} options; ${result.goal} (best ${result.best}); within ${(result.target * 100).toFixed(0)}%: ${(result.withinTarget * 100).toFixed(1)}% of the configurations; budget ${result.budget}`,
    "",
    "| strategy | median trials to target | success rate |",
    "|---|---:|---:|",
  ];
  for (const [name, o] of Object.entries(result.strategies)) {
    const choices = o.choices ? ` (chose ${Object.entries(o.choices).map(([s, k]) => `${s} ${k}`).join(", ")})` : "";
    lines.push(`| ${name}${choices} | ${o.medianTrials > result.budget ? `> ${result.budget}` : o.medianTrials} | ${(o.successRate * 100).toFixed(0)}% |`);
  }
  return lines.join("\n");
}
