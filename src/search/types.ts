/**
 * The vocabulary of the search: where the next trials come from. Strategies (strategies.ts)
 * propose configurations; the agent (agent.ts) picks the strategy for each batch; constraints
 * (constraints.ts) say which configurations may be proposed at all.
 */
import type { Configuration, ParameterCatalog } from "../core/types.js";

/** A declared rule between parameters, compiled (constraints.ts). */
export interface Constraint {
  /** the rule as written, e.g. "WORKER_POOL <= 8 * cpus" */
  readonly source: string;
  /** the parameters it mentions */
  readonly parameters: readonly string[];
  /** whether a configuration satisfies it */
  holds(config: Configuration): boolean;
}

/** One measured configuration, as the search sees it. */
export interface Observation {
  config: Configuration;
  /**
   * The objective, oriented so that lower is better (a maximised KPI is negated) and on a
   * scale comparable across runs (the pipeline passes the anchored log ratio; a benchmark
   * passes the measured value).
   */
  value: number;
}

/** The strategies, in the order the report lists them. */
export const STRATEGY_NAMES = ["grid", "random", "lhs", "halton", "history", "model"] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

export interface ProposeContext {
  catalog: ParameterCatalog;
  /** every proposal satisfies all of them */
  constraints: readonly Constraint[];
  /** the configuration in use */
  current: Configuration;
  /** everything measured so far (earlier runs and this one); never proposed again */
  observations: readonly Observation[];
  /**
   * Configurations not to propose although they have no value: already planned in this run
   * (the anchor, the bridge) or failed to measure.
   */
  exclude?: readonly Configuration[];
  /**
   * A finite set of allowed configurations (a benchmark: the configurations its file
   * measured); proposals are taken from it only. Absent: the whole space of the catalog.
   */
  candidates?: readonly Configuration[];
  /** seeds every random choice: the same context and seed give the same proposals */
  seed: number;
}

export interface Strategy {
  readonly name: StrategyName;
  /**
   * Up to n distinct configurations, none measured before (by configKey), all satisfying
   * every constraint and inside the candidates when given; fewer only when the space (or
   * the candidate set) runs out. Deterministic given ctx and ctx.seed.
   */
  propose(ctx: ProposeContext, n: number): Configuration[];
}

/** Why a strategy could not be used (e.g. "model" with too few observations). */
export class StrategyError extends Error {
  override readonly name = "StrategyError";
}
