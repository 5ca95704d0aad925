/**
 * The learning agent: for each batch of trials it chooses which strategy generates the
 * configurations, and learns from what the batch brought.
 *
 * A multi-armed bandit (discounted UCB1) over three arms: `model` (expected improvement from
 * the forest, with SMAC's local search around the best configurations), `halton` (space
 * filling) and `random`. Until the search has enough distinct measurements for a model to
 * mean anything, it fills the space (Latin hypercube) instead.
 *
 * `history` (neighbours of the best) is a strategy of its own but not an arm: the model
 * already weighs those neighbours by expected improvement (in the open space its local
 * search climbs from the same incumbents; in a finite pool it scores every member,
 * neighbours included), so as an arm history only spent trials on less informed versions of
 * the model's picks (on the benchmark datasets, with the rank reward below, it took over
 * HSMGP: 11 trials to the target where the model alone needs 9).
 *
 * Rewards, in [0, 1], combine two things the issue asks for:
 * - improvement of the primary objective, as a rank: per trial, 1 when it beats the best so
 *   far, else the share of the earlier measurements it beats; the batch's mean. Most trials
 *   of a good search do not set a new best, so a reward of "new best or nothing" was zero
 *   for most batches, and one unlucky model batch sent the bandit to an exploring arm; the
 *   rank still tells a trial among the best few from one among the worst;
 * - how accurately the model predicted the batch's trials before they ran (1 − mean
 *   absolute error in spreads). An accurate model makes the exploiting arm (`model`) worth
 *   more; an inaccurate one makes the exploring arms (`halton`, `random`) worth more, since
 *   their measurements are what the model lacks.
 * reward = 0.7 × improvement + 0.3 × (accuracy or 1 − accuracy).
 *
 * Statistics decay by DISCOUNT per batch, so the agent follows a workload whose behaviour
 * changes; its state is stored with the history and carries over from run to run (and pull
 * request to pull request). Every decision is deterministic given the state.
 */
import { stdev } from "../core/stats.js";
import type { StrategyName } from "./types.js";

export const AGENT_VERSION = 2;
/** What the current version changed, for the line that says an older state is not used. */
export const AGENT_CHANGES = "rewards by rank, three arms";

/** The arms the bandit chooses between (the initial design uses "lhs"). */
export const AGENT_ARMS = ["model", "halton", "random"] as const satisfies readonly StrategyName[];
export type AgentArm = (typeof AGENT_ARMS)[number];

const EXPLOITING: ReadonlySet<AgentArm> = new Set<AgentArm>(["model"]);

/** Discounted pulls and reward sum of one arm. */
export interface ArmStats {
  pulls: number;
  reward: number;
}

export interface AgentState {
  version: typeof AGENT_VERSION;
  arms: Record<AgentArm, ArmStats>;
  /** batches learned from, over all runs */
  batches: number;
  /** the last batch's reward parts, for the report */
  last?: { arm: AgentArm; reward: number; improvement: number; accuracy: number | null };
}

/**
 * What each arm is believed worth before any evidence, as pseudo-observations: the model
 * leads (it is what wins on the benchmark datasets), random trails. Two pseudo-pulls each, so
 * a few real batches outweigh them.
 */
const PRIOR: Record<AgentArm, ArmStats> = {
  model: { pulls: 2, reward: 1.3 },
  halton: { pulls: 2, reward: 0.6 },
  random: { pulls: 2, reward: 0.5 },
};

/** Per batch, every arm's statistics are multiplied by this (older evidence fades). */
const DISCOUNT = 0.95;
/** UCB exploration weight, for rewards in [0, 1]. */
const EXPLORATION = 0.15;
const IMPROVEMENT_WEIGHT = 0.7;

export function newAgentState(): AgentState {
  return { version: AGENT_VERSION, arms: structuredClone(PRIOR), batches: 0 };
}

/** A stored state, or why it cannot be used (the caller starts afresh with a warning). */
export function parseAgentState(raw: unknown): AgentState | string {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return "expected an object";
  const doc = raw as Record<string, unknown>;
  if (doc.version !== AGENT_VERSION) return `version ${JSON.stringify(doc.version)} is not ${AGENT_VERSION}`;
  if (!(typeof doc.batches === "number" && Number.isInteger(doc.batches) && doc.batches >= 0)) return "batches: expected a whole number ≥ 0";
  const arms = doc.arms as Record<string, unknown> | undefined;
  if (typeof arms !== "object" || arms === null) return "arms: expected an object";
  const parsed = {} as Record<AgentArm, ArmStats>;
  for (const arm of AGENT_ARMS) {
    const stats = arms[arm] as Record<string, unknown> | undefined;
    const pulls = stats?.pulls;
    const reward = stats?.reward;
    if (!(typeof pulls === "number" && pulls >= 0 && Number.isFinite(pulls) && typeof reward === "number" && reward >= 0 && reward <= pulls + 1e-9)) {
      return `arms.${arm}: expected {pulls ≥ 0, 0 ≤ reward ≤ pulls}`;
    }
    parsed[arm] = { pulls, reward };
  }
  return { version: AGENT_VERSION, arms: parsed, batches: doc.batches };
}

/**
 * The agent a run starts with, from what the store held: the stored state, or a fresh one
 * with a line saying why. A state from an earlier version is no damage (it learned with other
 * rewards or arms, which do not carry over), so that is an info line; anything else unusable
 * is a warning.
 */
export function restoreAgentState(raw: unknown): { state: AgentState; info?: string; warning?: string } {
  if (raw === undefined) return { state: newAgentState() };
  const version = (raw as { version?: unknown } | null)?.version;
  if (typeof version === "number" && Number.isInteger(version) && version >= 1 && version < AGENT_VERSION) {
    return { state: newAgentState(), info: `search agent: the stored state is from version ${version} (now ${AGENT_VERSION}: ${AGENT_CHANGES}); it starts afresh` };
  }
  const state = parseAgentState(raw);
  if (typeof state === "string") return { state: newAgentState(), warning: `stored search agent ignored (${state}); it starts afresh` };
  return { state };
}

/**
 * Distinct measurements before the model may guide: a space-filling design first. Three, as
 * the model-guided strategy itself needs: on the benchmark datasets a longer design (5, or
 * half the parameters) cost the agent 1–3 trials to the target and bought nothing.
 */
export const INITIAL_DESIGN = 3;

export interface Decision {
  strategy: StrategyName;
  /** one line for the report: what was chosen and why */
  reason: string;
}

const ARM_LABEL: Record<StrategyName, string> = {
  model: "model-guided (expected improvement)",
  history: "neighbours of the best so far",
  halton: "space filling (Halton)",
  random: "random",
  lhs: "space filling (Latin hypercube)",
  grid: "grid",
};

export const strategyLabel = (name: StrategyName): string => ARM_LABEL[name];

/** The strategy for the next batch. `distinct`: distinct configurations measured so far (the history's and this run's). */
export function decide(state: AgentState, distinct: number): Decision {
  const needed = INITIAL_DESIGN;
  if (distinct < needed) {
    return { strategy: "lhs", reason: `${strategyLabel("lhs")}: ${distinct} of ${needed} measurements needed before a model can guide` };
  }
  const total = AGENT_ARMS.reduce((sum, arm) => sum + state.arms[arm].pulls, 0);
  let best: AgentArm = AGENT_ARMS[0];
  let bestScore = -Infinity;
  const scores = {} as Record<AgentArm, { mean: number; score: number }>;
  for (const arm of AGENT_ARMS) {
    const { pulls, reward } = state.arms[arm];
    const mean = pulls > 0 ? reward / pulls : 0;
    const score = pulls > 0 ? mean + EXPLORATION * Math.sqrt(Math.log(Math.max(total, 1.0001)) / pulls) : Infinity;
    scores[arm] = { mean, score };
    if (score > bestScore) {
      bestScore = score;
      best = arm;
    }
  }
  const runnerUp = AGENT_ARMS.filter((arm) => arm !== best).sort((a, b) => scores[b].score - scores[a].score)[0]!;
  const why = state.batches === 0
    ? "the prior favours it before any evidence"
    : `mean reward ${scores[best].mean.toFixed(2)} over ${state.arms[best].pulls.toFixed(1)} recent batches (next: ${runnerUp} ${scores[runnerUp].mean.toFixed(2)})`;
  return { strategy: best, reason: `${strategyLabel(best)}: ${why}` };
}

/** What one batch brought, for learning. Values are oriented lower-is-better. */
export interface BatchOutcome {
  strategy: StrategyName;
  /** the measured objective of the batch's trials */
  values: readonly number[];
  /** what the model predicted for them before they ran, when a model existed */
  predicted?: readonly number[];
  /** the values measured before the batch (none at the start) */
  before: readonly number[];
  /** the objective's spread so far (e.g. its sd over the measurements), > 0 */
  scale: number;
}

/** The reward of a batch and its two parts (see the module comment). */
export function rewardOf(outcome: BatchOutcome): { reward: number; improvement: number; accuracy: number | null } {
  const scale = outcome.scale > 0 && Number.isFinite(outcome.scale) ? outcome.scale : 1;
  const { before, values } = outcome;
  const bestBefore = before.reduce((a, b) => Math.min(a, b), Infinity);
  let improvement: number;
  // no value at all (every trial failed) is no improvement; the first measurements rank in the middle
  if (values.length === 0) improvement = 0;
  else if (before.length === 0) improvement = 0.5;
  else improvement = values.reduce((sum, v) => sum + (v < bestBefore ? 1 : before.filter((b) => b > v).length / before.length), 0) / values.length;
  let accuracy: number | null = null;
  const predicted = outcome.predicted;
  if (predicted && predicted.length === outcome.values.length && predicted.length > 0) {
    const error = predicted.reduce((sum, p, i) => sum + Math.abs(p - outcome.values[i]!), 0) / predicted.length / scale;
    accuracy = Math.max(0, 1 - error);
  }
  if (accuracy === null) return { reward: improvement, improvement, accuracy };
  const arm = outcome.strategy as AgentArm;
  const trust = EXPLOITING.has(arm) ? accuracy : 1 - accuracy;
  return { reward: IMPROVEMENT_WEIGHT * improvement + (1 - IMPROVEMENT_WEIGHT) * trust, improvement, accuracy };
}

/**
 * The state after a batch: every arm decays and the chosen one gains the reward. A batch of
 * the initial design (not an arm) is counted but teaches nothing, so it does not wear the
 * evidence down either.
 */
export function learn(state: AgentState, outcome: BatchOutcome): AgentState {
  if (!(AGENT_ARMS as readonly string[]).includes(outcome.strategy)) return { ...state, arms: structuredClone(state.arms), batches: state.batches + 1 };
  const arms = {} as Record<AgentArm, ArmStats>;
  for (const arm of AGENT_ARMS) {
    const { pulls, reward } = state.arms[arm];
    arms[arm] = { pulls: pulls * DISCOUNT, reward: reward * DISCOUNT };
  }
  const parts = rewardOf(outcome);
  const arm = outcome.strategy as AgentArm;
  arms[arm] = { pulls: arms[arm].pulls + 1, reward: arms[arm].reward + parts.reward };
  return { version: AGENT_VERSION, arms, batches: state.batches + 1, last: { arm, ...parts } };
}

/** The objective's spread for rewards: the sample sd of the values so far, 1 when undefined or 0. */
export function objectiveSpread(values: readonly number[]): number {
  const sd = stdev(values);
  return sd > 0 ? sd : 1;
}
