/**
 * One run's search, batch by batch: which configurations the next batch of shadows measures,
 * chosen by the agent (or one fixed strategy), within a trial budget and an optional time
 * budget, stopping early when the model expects no worthwhile improvement.
 *
 * The first batch always measures the current configuration (the run's anchor) and, when it
 * changed since the last run, the previous one (the bridge); the rest of every batch is the
 * chosen strategy's proposals. The pipeline measures what `nextBatch` returns and reports
 * back with `measured`; this module never touches Docker, so it is tested on its own.
 */
import type { Configuration, Objective, ParameterCatalog, Trial } from "../core/types.js";
import { meanAnchor } from "../model/forest.js";
import { decide, learn, objectiveSpread, strategyLabel, type AgentState } from "./agent.js";
import { objectiveValue, observationsOf } from "./observations.js";
import { deriveSeed } from "./random.js";
import { configKey } from "./space.js";
import { expectedImprovement } from "./surrogate.js";
import { StrategyError, type Constraint, type Observation, type ProposeContext, type Strategy, type StrategyName } from "./types.js";

export interface SearchSettings {
  catalog: ParameterCatalog;
  constraints: readonly Constraint[];
  current: Configuration;
  objective: Objective;
  /** configurations this run measures, the current one included (the bridge is extra) */
  trials: number;
  /** shadows side by side in one batch */
  parallel: number;
  seed: number;
  /** stop starting batches that would end after this long (ms from the start of the search) */
  timeBudgetMs?: number;
  /** "adaptive": the agent chooses per batch; else this strategy for every batch */
  strategy: "adaptive" | StrategyName;
}

export interface SearchDeps {
  strategyFor: (name: StrategyName) => Strategy;
  /** the objective predicted (mean, sd; lower is better) from observations, or undefined without a model */
  predict?: (ctx: ProposeContext, configs: Configuration[]) => { mean: number; sd: number }[] | undefined;
  /** ms clock (tests) */
  now?: () => number;
  log?: (line: string) => void;
}

export interface PlannedTrial {
  config: Configuration;
  anchor: boolean;
}

export interface NextBatch {
  index: number;
  items: PlannedTrial[];
  /** the strategy behind the proposals (none for a batch of the anchor alone) */
  strategy?: StrategyName;
  reason?: string;
  proposals: Configuration[];
  /** the model's predictions for the proposals before they ran */
  predicted?: number[];
  /** no batch follows (budget spent) */
  last: boolean;
}

export interface SearchSummary {
  strategy: "adaptive" | StrategyName;
  batches: { strategy: StrategyName | null; reason: string; trials: number; improved: boolean }[];
  /** why the search ended before its trial budget, if it did */
  stoppedEarly: string | null;
  /** one line for the report: what was chosen and why */
  line: string;
}

/** Expected improvement (in the objective's log ratio) below which model-guided batches stop: 0.5%. */
const NEGLIGIBLE_IMPROVEMENT = 0.005;

export class SearchLoop {
  private readonly observations: Observation[];
  private planned = 0;
  private batchIndex = 0;
  private readonly started: number;
  /** the longest batch so far (ms): whether another one fits the time budget */
  private longestBatchMs = 0;
  private batchStarted = 0;
  private readonly batches: SearchSummary["batches"] = [];
  private stoppedEarly: string | null = null;
  private finished = false;
  private runAnchor: number | undefined;
  /** planned in this run (measured or failed): never proposed again in it */
  private readonly excluded: Configuration[] = [];

  constructor(
    private readonly settings: SearchSettings,
    historyTrials: readonly Trial[],
    public agent: AgentState,
    private readonly deps: SearchDeps,
  ) {
    this.observations = observationsOf(historyTrials, settings.catalog, settings.objective);
    this.started = this.now();
  }

  private now(): number {
    return this.deps.now ? this.deps.now() : Date.now();
  }

  /** The next batch to measure, or undefined when the search is over. */
  nextBatch(previousAnchor?: Configuration): NextBatch | undefined {
    if (this.finished) return undefined;
    const { settings } = this;
    const first = this.batchIndex === 0;
    const fixed: PlannedTrial[] = first ? [{ config: settings.current, anchor: true }, ...(previousAnchor ? [{ config: previousAnchor, anchor: false }] : [])] : [];
    const left = settings.trials - this.planned - (first ? 1 : 0);
    if (!first && left <= 0) return this.finish(null);
    if (!first && this.outOfTime()) return this.finish(`the time budget (${(settings.timeBudgetMs! / 1000).toFixed(settings.timeBudgetMs! < 10_000 ? 1 : 0)} s) would be exceeded by another batch`);
    const room = Math.max(0, Math.min(left, settings.parallel - fixed.length));
    const next: NextBatch = { index: this.batchIndex, items: fixed, proposals: [], last: false };
    // the anchor and the bridge are measured in this batch: not proposed a second time
    for (const item of fixed) this.excluded.push(item.config);
    if (room > 0) {
      const { strategy, reason } = this.choose();
      const ctx = this.context();
      let proposals: Configuration[];
      try {
        proposals = this.deps.strategyFor(strategy).propose(ctx, room);
      } catch (error) {
        // e.g. constraints only a sliver of the space satisfies: what was measured is kept
        if (!(error instanceof StrategyError)) throw error;
        if (!first) return this.finish(`${strategyLabel(strategy)} found nothing to propose: ${error.message}`);
        this.deps.log?.(`batch 1: ${strategyLabel(strategy)} found nothing to propose (${error.message}); measuring the current configuration only`);
        this.stoppedEarly = `${strategyLabel(strategy)} found nothing to propose: ${error.message}`;
        this.finished = true;
        proposals = [];
      }
      const predictions = proposals.length > 0 ? this.deps.predict?.(ctx, proposals) : undefined;
      if (strategy === "model" && predictions && !first) {
        const best = this.observations.reduce((a, o) => Math.min(a, o.value), Infinity);
        const gain = Math.max(...predictions.map((p) => expectedImprovement(p.mean, p.sd, best)));
        if (gain < NEGLIGIBLE_IMPROVEMENT) {
          return this.finish(`expected improvement negligible (best candidate: ${(gain * 100).toFixed(2)}%, below ${NEGLIGIBLE_IMPROVEMENT * 100}%)`);
        }
      }
      if (proposals.length === 0 && !first) return this.finish("no unmeasured configuration left that satisfies the constraints");
      proposals = proposals.slice(0, room);
      next.items = [...fixed, ...proposals.map((config) => ({ config, anchor: false }))];
      next.proposals = proposals;
      next.strategy = strategy;
      next.reason = reason;
      if (predictions) next.predicted = predictions.slice(0, proposals.length).map((p) => p.mean);
      this.deps.log?.(`batch ${this.batchIndex + 1}: ${reason}`);
    }
    this.excluded.push(...next.proposals);
    this.planned += (first ? 1 : 0) + next.proposals.length;
    next.last = this.planned >= settings.trials;
    this.batchIndex++;
    this.batchStarted = this.now();
    return next;
  }

  /** The batch's measurements (failed trials are absent); `runTrials`: all of this run's so far. */
  measured(batch: NextBatch, trials: readonly Trial[], runTrials: readonly Trial[]): void {
    this.longestBatchMs = Math.max(this.longestBatchMs, this.now() - this.batchStarted);
    const { kpi, goal } = this.settings.objective;
    // every batch of the run is valued against the first batch's anchor (a repeated anchor later
    // would move the reference under the values already taken)
    this.runAnchor ??= meanAnchor(runTrials)[kpi];
    const before = this.observations.map((o) => o.value);
    const bestBefore = before.reduce((a, b) => Math.min(a, b), Infinity);
    const proposalAt = new Map(batch.proposals.map((c, i) => [configKey(this.settings.catalog, c), i]));
    const values: number[] = [];
    const predicted: number[] = [];
    for (const trial of trials) {
      const value = this.runAnchor === undefined ? undefined : objectiveValue(kpi, goal, trial.kpis[kpi], this.runAnchor);
      if (value === undefined) continue;
      this.observations.push({ config: trial.config, value });
      const at = trial.anchor ? undefined : proposalAt.get(configKey(this.settings.catalog, trial.config));
      if (at === undefined) continue;
      values.push(value);
      if (batch.predicted) predicted.push(batch.predicted[at]!);
    }
    const improved = values.length > 0 && Math.min(...values) < bestBefore;
    this.batches.push({ strategy: batch.strategy ?? null, reason: batch.reason ?? "the current configuration (the run's anchor)", trials: trials.length, improved });
    // a batch whose proposals all failed still teaches the agent: reward 0
    if (batch.strategy && batch.proposals.length > 0) {
      this.agent = learn(this.agent, {
        strategy: batch.strategy,
        values,
        ...(predicted.length === values.length ? { predicted } : {}),
        before,
        scale: objectiveSpread(this.observations.map((o) => o.value)),
      });
    }
  }

  /** why the search ended before its trial budget, or null */
  get stoppedEarlyReason(): string | null {
    return this.stoppedEarly;
  }

  summary(): SearchSummary {
    const chosen = this.batches.filter((b) => b.strategy !== null);
    const counts = new Map<StrategyName, number>();
    for (const b of chosen) counts.set(b.strategy!, (counts.get(b.strategy!) ?? 0) + 1);
    const lastReason = chosen[chosen.length - 1]?.reason;
    const mix = [...counts].map(([name, k]) => `${strategyLabel(name)} ×${k}`).join(", ");
    const who = this.settings.strategy === "adaptive" ? "the agent chose" : "fixed strategy:";
    const line = chosen.length === 0
      ? "search: only the current configuration was measured"
      : `search: ${who} ${mix}; last because ${lastReason?.replace(/^[^:]*: /, "") ?? "?"}${this.stoppedEarly ? `; stopped early: ${this.stoppedEarly}` : ""}`;
    return { strategy: this.settings.strategy, batches: this.batches, stoppedEarly: this.stoppedEarly, line };
  }

  private choose(): { strategy: StrategyName; reason: string } {
    if (this.settings.strategy !== "adaptive") return { strategy: this.settings.strategy, reason: `${strategyLabel(this.settings.strategy)}: set in the config (search.strategy)` };
    const distinct = new Set(this.observations.map((o) => configKey(this.settings.catalog, o.config))).size;
    return decide(this.agent, distinct);
  }

  private context(): ProposeContext {
    return {
      catalog: this.settings.catalog,
      constraints: this.settings.constraints,
      current: this.settings.current,
      observations: this.observations,
      exclude: this.excluded,
      seed: deriveSeed(this.settings.seed, `batch:${this.batchIndex}`),
    };
  }

  private outOfTime(): boolean {
    const budget = this.settings.timeBudgetMs;
    if (budget === undefined) return false;
    return this.now() - this.started + this.longestBatchMs > budget;
  }

  private finish(reason: string | null): undefined {
    this.finished = true;
    this.stoppedEarly = reason;
    if (reason) this.deps.log?.(`search stopped: ${reason}`);
    return undefined;
  }
}
