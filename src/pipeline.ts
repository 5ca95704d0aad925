/**
 * The whole loop, written against ports: recorded traffic → shadows → KPIs → history →
 * forest → recommendation. The Action (main.ts) and the CLI (cli.ts) only wire adapters in.
 */
import { shadowSpecFor } from "./core/apply.js";
import { kpisFrom } from "./core/kpis.js";
import { abortReason, errorText } from "./core/errors.js";
import type { HistoryStore, LoadDriver, Logger, ReplayRequest, RunningShadow, ShadowRuntime } from "./core/ports.js";
import type { Configuration, History, KpiName, ParameterCatalog, Trial } from "./core/types.js";
import type { ShadowgateConfig } from "./config/schema.js";
import { sameConfig } from "./search/space.js";
import { restoreAgentState, type AgentState } from "./search/agent.js";
import { SearchLoop, type PlannedTrial, type SearchSummary } from "./search/run-search.js";
import { predictObjective, strategyFor } from "./search/strategies.js";
import { trainModels, type ForestModel } from "./model/forest.js";
import { FEATURE_VERSION, featureEncoder } from "./model/features.js";
import { parseStoredModel, shouldRetune, toStoredModel, type StoredModel } from "./model/stored-model.js";
import { recommend, type Recommendation } from "./decide/recommend.js";
import { gateVerdict, type Verdict } from "./decide/verdict.js";
import { sweepMostInfluential, type Sweep } from "./decide/sweep.js";
import { foresee, type Foresight } from "./decide/foresight.js";
import { atLoad, hasLoadColumn, loadOf, modelCatalog, withLoadColumn } from "./model/load-level.js";
import { describeConfig, formatMeasured, kpiLabel } from "./report/format.js";

export interface PipelineDeps {
  runtime: ShadowRuntime;
  load: LoadDriver;
  store: HistoryStore;
  logger: Logger;
  /** the recorded traffic, already imported, sampled and anonymised */
  traffic: {
    requests: ReplayRequest[];
    total: number;
    skipped: number;
    redactions: Record<string, number>;
    /** routes the recording has (sampling strata) */
    routes?: number;
    /** the external-API mocks' counts, read when the run ends */
    mocks?: () => MockSummary[];
  };
  /** CPUs of the Docker host: shadows side by side never get more quota than this */
  hostCpus?: number;
  /** a free loopback port for each shadow */
  freePort: () => Promise<number>;
  runId: string;
  /** aborts the run (timeout, Ctrl-C); shadows are still stopped */
  signal?: AbortSignal;
  now?: () => Date;
}

/** What one external-API mock did during the run. */
export interface MockSummary {
  host: string;
  /** the variable that gave the workload its URL */
  env: string;
  served: number;
  unmatched: number;
  /** the most frequent unmatched calls, each with its closest recorded call */
  misses: { line: string; count: number }[];
}

export interface FailedTrial {
  config: Configuration;
  error: string;
}

export interface RunResult {
  runId: string;
  workload: string;
  startedAt: string;
  finishedAt: string;
  image: string;
  /** the shadows' share of the primary, and the primary's allocation */
  shadows: { fraction: number; parallel: number; primaryCpus: number; primaryMemoryMiB: number };
  traffic: {
    file: string;
    recorded: number;
    replayed: number;
    skipped: number;
    redactions: Record<string, number>;
    connections: number;
    durationMs: number;
    warmupMs: number;
    routes?: number;
    /** open model: the fixed request rate (from traffic.rate or the pace) */
    rate?: number;
    mocks: MockSummary[];
  };
  config: Pick<ShadowgateConfig, "slo" | "objective" | "current" | "parameters">;
  /** trials measured in this run, in the order measured */
  trials: Trial[];
  failures: FailedTrial[];
  history: { trials: number; runs: number };
  model: { kpis: string[]; cvError: Record<string, number>; trainedOn: number; skippedRows: number };
  recommendation: Recommendation;
  /** the gate: fail when the current configuration, measured now, breaches an SLO */
  verdict: Verdict;
  /** the objective predicted across the most influential parameter (for the chart) */
  sweep: Sweep | null;
  /** how the configurations were chosen, batch by batch */
  search: SearchSummary;
  /** at what load the SLOs are predicted to break (when trials ran at several load levels, or a growth is set) */
  foresight: Foresight | null;
  /** where the wall time went, ms */
  timings: { imageMs: number; startStopMs: number; loadMs: number; trainMs: number; recommendMs: number; totalMs: number };
}

/**
 * Every shadow the pipeline starts is stopped before it returns or throws; the caller owns the
 * runtime and removes whatever an abort left half-started (`runtime.cleanup()` in its finally).
 */
export async function runPipeline(config: ShadowgateConfig, deps: PipelineDeps): Promise<RunResult> {
  const now = deps.now ?? (() => new Date());
  const started = Date.now();
  const startedAt = now().toISOString();
  const { logger, runtime } = deps;
  const timings = { imageMs: 0, startStopMs: 0, loadMs: 0, trainMs: 0, recommendMs: 0, totalMs: 0 };
  const checkAborted = () => {
    if (deps.signal?.aborted) throw abortReason(deps.signal, "run aborted");
  };

  const history = await deps.store.load(config.workload.name);
  logger.info(`history: ${history.trials.length} trials from ${countRuns(history)} earlier runs`);

  let t = Date.now();
  const image = await runtime.prepareImage(config.workload.source, deps.signal);
  timings.imageMs = Date.now() - t;
  logger.info(`image ${image} ready in ${(timings.imageMs / 1000).toFixed(1)} s`);
  checkAborted();

  // When `current` changed since the last run (a recommendation was applied), measure the
  // previous anchor too: it bridges the old runs' ratios to today's anchor exactly.
  const previous = previousAnchor(history, config);
  if (previous) logger.info(`current configuration changed since the last run; also measuring the previous one (${describeConfig(previous)}) to bridge the history`);
  const cpusOf = (c: Configuration) =>
    shadowSpecFor({ workload: config.workload, catalog: config.parameters, config: c, fraction: config.shadows.fraction, image, port: 0, name: "" }).cpus;
  const cpuBudget = config.shadows.cpuBudget ?? deps.hostCpus ?? Infinity;
  const trials: Trial[] = [];
  const failures: FailedTrial[] = [];
  const search = new SearchLoop(
    {
      catalog: config.parameters,
      constraints: config.constraints,
      current: config.current,
      objective: config.objective,
      trials: config.shadows.trials,
      parallel: config.shadows.parallel,
      seed: config.shadows.seed + countRuns(history),
      strategy: config.search.strategy,
      ...(config.search.timeBudgetMs !== undefined ? { timeBudgetMs: config.search.timeBudgetMs } : {}),
    },
    // the search judges configurations at today's load: other levels are for the model only
    todays(history.trials),
    await loadAgent(config, deps),
    { strategyFor, predict: predictObjective, log: (line) => logger.info(line) },
  );
  let done = 0;
  let batchesMeasured = 0;
  // for progress lines: the trials a run without an early stop measures (bridge and repeated anchor included)
  const planned = config.shadows.trials + (previous ? 1 : 0);
  const levels = config.traffic.levels;
  const total = (planned + (Math.ceil(planned / config.shadows.parallel) >= 3 && config.shadows.parallel > 1 ? 1 : 0)) * levels.length;

  /** Measures planned trials in shadow batches (within the CPU budget); returns the measured ones. */
  const measureItems = async (items: PlannedTrial[]): Promise<Trial[]> => {
    const measuredNow: Trial[] = [];
    for (const batch of packByCpu(items, config.shadows.parallel, { cpusOf, cpuBudget })) {
      const measured = await measureBatch(batch, config, deps, image, timings);
      batchesMeasured++;
      for (const outcome of measured) {
        done++;
        if ("error" in outcome) {
          failures.push(outcome);
          logger.warn(`trial ${done}/${total} failed: ${describeConfig(outcome.config)}: ${outcome.error}`);
          continue;
        }
        const trial: Trial = { ...outcome, id: `${deps.runId}-${done}`, runId: deps.runId, at: now().toISOString() };
        trials.push(trial);
        // the search (and "best so far") judge configurations at today's load
        if (loadOf(trial) === 1) measuredNow.push(trial);
        const level = loadOf(trial) === 1 ? "" : ` at ${loadOf(trial)}× load`;
        logger.info(`trial ${done}/${total}${trial.anchor ? " (current)" : ""}${level}: ${describeConfig(trial.config)} → ${describeKpis(trial)}; best so far: ${bestSoFar(trials, config)}`);
        const failing = trial.kpis["errors.rate"] + trial.kpis["non2xx.rate"];
        if (failing > MOSTLY_FAILING && !trial.anchor) {
          logger.warn(`trial ${done}/${total}: ${(failing * 100).toFixed(0)}% of requests failed or got a non-2xx answer`);
        }
      }
      // a shadow whose start or load was cut short by the stop is no measurement
      checkAborted();
      // Everything is measured relative to the anchor: without it the run is worthless, so
      // stop at once rather than measure the other batches for nothing.
      if (batchesMeasured === 1) checkAnchor(trials, failures, config);
    }
    return measuredNow;
  };

  // The anchor again at the end of a run of three or more batches, so the run's anchor spans
  // the run: in the last search batch, or alone when the search stopped early.
  const repeatAnchor = () => batchesMeasured >= 2 && config.shadows.parallel > 1;
  let anchorRepeated = false;
  for (let next = search.nextBatch(previous); next; next = search.nextBatch()) {
    const items = next.items;
    if (next.last && repeatAnchor()) {
      items.push({ config: config.current, anchor: true });
      anchorRepeated = true;
    }
    search.measured(next, await measureItems(items), todays(trials));
  }
  if (!anchorRepeated && search.stoppedEarlyReason !== null && repeatAnchor()) await measureItems([{ config: config.current, anchor: true }]);
  await saveAgent(config, deps, search.agent);

  const updated: History = { ...history, trials: [...history.trials, ...trials] };
  await deps.store.save(updated);

  t = Date.now();
  const catalog = modelCatalog(config.parameters, updated, levels);
  const { model: loadModel, reused } = await trainWithStoredModel(updated, catalog, config, deps);
  // today's answers (recommendation, sweep) at level 1; foresight reads the whole model
  const model = atLoad(loadModel, catalog, 1);
  timings.trainMs = Date.now() - t;
  logger.info(`model: trained on ${model.trainedOn} trials in ${timings.trainMs} ms${reused ? " (hyper-parameters kept from the stored model)" : " (hyper-parameters chosen by cross-validation)"}`);

  t = Date.now();
  const recommendation = recommend({
    model,
    catalog: config.parameters,
    current: config.current,
    slo: config.slo,
    objective: config.objective,
    seed: config.shadows.seed,
    measured: updated.trials.map((trial) => trial.config),
    constraints: config.constraints,
  });
  const sweep = sweepMostInfluential({
    model,
    catalog: config.parameters,
    base: recommendation.recommended,
    heldAt: recommendation.keepCurrent ? "current" : "recommended",
    kpi: config.objective.kpi,
  });
  const measuredLevels = hasLoadColumn(catalog) ? [...new Set(updated.trials.map(loadOf))] : [1];
  const foresight = foresee({
    model: loadModel,
    current: config.current,
    ...(recommendation.keepCurrent ? {} : { recommended: recommendation.recommended }),
    slo: config.slo,
    ...(config.growth !== undefined ? { growth: config.growth } : {}),
    levels: measuredLevels,
  });
  for (const line of foresight?.lines ?? []) logger.info(`foresight: ${line}`);
  timings.recommendMs = Date.now() - t;
  timings.totalMs = Date.now() - started;
  const verdict = gateVerdict({ trials, slo: config.slo, predictedBreaches: recommendation.currentBreaches });

  return {
    runId: deps.runId,
    workload: config.workload.name,
    startedAt,
    finishedAt: now().toISOString(),
    image,
    shadows: {
      fraction: config.shadows.fraction,
      parallel: config.shadows.parallel,
      primaryCpus: config.workload.resources.cpus,
      primaryMemoryMiB: config.workload.resources.memoryMiB,
    },
    traffic: {
      file: config.traffic.file,
      recorded: deps.traffic.total,
      replayed: deps.traffic.requests.length,
      skipped: deps.traffic.skipped,
      redactions: deps.traffic.redactions,
      connections: config.traffic.connections,
      durationMs: config.traffic.durationMs,
      warmupMs: config.traffic.warmupMs,
      ...(deps.traffic.routes !== undefined ? { routes: deps.traffic.routes } : {}),
      ...(config.traffic.rate !== undefined ? { rate: config.traffic.rate } : {}),
      mocks: deps.traffic.mocks?.() ?? [],
    },
    config: { slo: config.slo, objective: config.objective, current: config.current, parameters: config.parameters },
    trials,
    failures,
    history: { trials: updated.trials.length, runs: countRuns(updated) },
    model: { kpis: [...model.kpis], cvError: { ...model.cvError }, trainedOn: model.trainedOn, skippedRows: model.skippedRows },
    recommendation,
    verdict,
    sweep,
    search: search.summary(),
    foresight,
    timings,
  };
}

/**
 * Train on the history, reusing the stored model's hyper-parameters while the history has
 * grown less than RETUNE_GROWTH since they were chosen; an unusable stored model is rebuilt
 * with a warning. The new model's summary is stored for the next run.
 */
async function trainWithStoredModel(history: History, catalog: ParameterCatalog, config: ShadowgateConfig, deps: PipelineDeps): Promise<{ model: ForestModel; reused: boolean }> {
  const { store, logger } = deps;
  const encoder = featureEncoder(catalog);
  const { engine } = config.model;
  let reuse: StoredModel | undefined;
  const raw = store.loadModel ? await store.loadModel(config.workload.name) : undefined;
  if (raw !== undefined) {
    const stored = parseStoredModel(raw, { featureVersion: FEATURE_VERSION, features: encoder.names, engine });
    if (typeof stored === "string") logger.warn(`stored model ignored (${stored}); rebuilt from the history`);
    else if (!shouldRetune(stored, history.trials.length)) reuse = stored;
  }
  const model = trainModels(hasLoadColumn(catalog) ? withLoadColumn(history) : history, catalog, { seed: config.shadows.seed, anchorRunId: deps.runId, engine, ...(reuse ? { reuse: reuse.params } : {}) });
  if (store.saveModel) {
    const tunedAt = reuse ? reuse.tunedAtTrials : history.trials.length;
    await store.saveModel(config.workload.name, toStoredModel(model, history.trials.length, tunedAt, (deps.now ?? (() => new Date()))()));
  }
  return { model, reused: reuse !== undefined };
}

type Measured = Omit<Trial, "id" | "runId" | "at"> | FailedTrial;

/**
 * Start a batch of shadows side by side, load them all at once, stop them all.
 * Configurations measured at the same time see the same machine, which is what makes
 * them comparable.
 */
async function measureBatch(
  batch: { config: Configuration; anchor: boolean }[],
  config: ShadowgateConfig,
  deps: PipelineDeps,
  image: string,
  timings: RunResult["timings"],
): Promise<Measured[]> {
  const { runtime } = deps;
  let t = Date.now();
  const started = await Promise.allSettled(
    batch.map(async (item, i) => {
      const port = await deps.freePort();
      const spec = shadowSpecFor({
        workload: config.workload,
        catalog: config.parameters,
        config: item.config,
        fraction: config.shadows.fraction,
        image,
        port,
        name: `${config.workload.name}-${deps.runId}-${i}`,
      });
      return runtime.start(spec, deps.signal);
    }),
  );
  timings.startStopMs += Date.now() - t;
  const running = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  try {
    t = Date.now();
    const results = await Promise.all(
      batch.map(async (item, i): Promise<Measured[]> => {
        const shadow = started[i]!;
        if (shadow.status === "rejected") return [{ config: item.config, error: errorText(shadow.reason) }];
        return measureLevels(shadow.value, item, config, deps);
      }),
    );
    timings.loadMs += Date.now() - t;
    return results.flat();
  } finally {
    t = Date.now();
    await Promise.allSettled(running.map((shadow) => shadow.stop()));
    timings.startStopMs += Date.now() - t;
  }
}

/**
 * One shadow at each load level in turn (ascending; the warm-up before the first): one
 * measurement per level. The anchor is the current configuration at today's level, 1.
 * A level scales the connections (closed loop) or the rate (when one is set).
 */
async function measureLevels(
  shadow: RunningShadow,
  item: { config: Configuration; anchor: boolean },
  config: ShadowgateConfig,
  deps: PipelineDeps,
): Promise<Measured[]> {
  const out: Measured[] = [];
  const { levels } = config.traffic;
  for (const [i, level] of levels.entries()) {
    const measured = await measureOne(shadow, { config: item.config, anchor: item.anchor && level === 1 }, config, deps, { level, warm: i > 0 });
    out.push(levels.length > 1 ? { ...measured, load: level } : measured);
    // a shadow that failed at one level says nothing more at the next
    if ("error" in measured) break;
  }
  return out;
}

async function measureOne(
  shadow: RunningShadow,
  item: { config: Configuration; anchor: boolean },
  config: ShadowgateConfig,
  deps: PipelineDeps,
  at: { level: number; warm: boolean } = { level: 1, warm: false },
): Promise<Measured> {
  const { traffic } = config;
  try {
    // warm-up runs inside the driver before the measured window; sample only the window
    let sampler: ReturnType<RunningShadow["sampleResources"]> | undefined;
    const load = await deps.load.run(
      shadow.url,
      deps.traffic.requests,
      {
        // closed loop: the level multiplies the concurrency; with a rate, the rate (and the
        // connections, so that a higher rate is not capped by too few of them)
        connections: Math.max(1, Math.round(traffic.connections * at.level)),
        // the level before this one warmed the shadow up (a short settle for the new load)
        warmupMs: at.warm ? Math.min(traffic.warmupMs, 1000) : traffic.warmupMs,
        durationMs: traffic.durationMs,
        windowMs: traffic.windowMs,
        timeoutMs: traffic.timeoutMs,
        ...(traffic.rate !== undefined ? { rate: Math.max(1, traffic.rate * at.level) } : {}),
        onMeasureStart: () => {
          sampler = shadow.sampleResources();
        },
      },
      deps.signal,
    );
    const usage = await (sampler ?? shadow.sampleResources()).stop();
    const { kpis, spread } = kpisFrom(load, usage);
    return { config: item.config, anchor: item.anchor, kpis, spread, requests: load.requests };
  } catch (error) {
    if (deps.signal?.aborted) throw error;
    return { config: item.config, error: errorText(error) };
  }
}

/**
 * A search batch as shadow batches: at most `parallel` side by side, their CPU quotas adding
 * up to no more than `cpuBudget` (a batch always holds at least one), in order.
 */
export function packByCpu(
  items: readonly PlannedTrial[],
  parallel: number,
  budget: { cpusOf: (config: Configuration) => number; cpuBudget: number } = { cpusOf: () => 0, cpuBudget: Infinity },
): PlannedTrial[][] {
  const batches: PlannedTrial[][] = [];
  const fits = (batch: PlannedTrial[], item: PlannedTrial) =>
    batch.length < parallel && batch.reduce((sum, b) => sum + budget.cpusOf(b.config), 0) + budget.cpusOf(item.config) <= budget.cpuBudget + 1e-9;
  for (const item of items) {
    const open = batches[batches.length - 1];
    if (open && fits(open, item)) open.push(item);
    else batches.push([item]);
  }
  return batches;
}

/** The agent's stored state, or a fresh one (and a line saying why, when one was stored). */
async function loadAgent(config: ShadowgateConfig, deps: PipelineDeps): Promise<AgentState> {
  const raw = deps.store.loadAgent ? await deps.store.loadAgent(config.workload.name) : undefined;
  const { state, info, warning } = restoreAgentState(raw);
  if (info) deps.logger.info(info);
  if (warning) deps.logger.warn(warning);
  return state;
}

async function saveAgent(config: ShadowgateConfig, deps: PipelineDeps, state: AgentState): Promise<void> {
  if (deps.store.saveAgent) await deps.store.saveAgent(config.workload.name, state);
}

/** Above this share of failed or non-2xx answers, a measurement says more about the replay than the service. */
const MOSTLY_FAILING = 0.5;

/** The first batch's anchor must have been measured, and must mostly have answered 2xx. */
function checkAnchor(trials: Trial[], failures: FailedTrial[], config: ShadowgateConfig): void {
  const anchor = trials.find((trial) => trial.anchor);
  if (!anchor) {
    throw new Error(`the current configuration (${describeConfig(config.current)}) could not be measured: ${failures.find((f) => sameConfig(config.parameters, f.config, config.current))?.error ?? "no result"}`);
  }
  const { "errors.rate": errors, "non2xx.rate": non2xx } = anchor.kpis;
  if (errors + non2xx > MOSTLY_FAILING) {
    throw new Error(
      `the current configuration answered only ${((1 - errors - non2xx) * 100).toFixed(0)}% of the replayed requests with 2xx (errors ${(errors * 100).toFixed(0)}%, non-2xx ${(non2xx * 100).toFixed(0)}%): check that ${config.traffic.file} matches the service (paths, methods, auth)`,
    );
  }
}

/** The last run's anchor configuration, when it differs from today's and fits the catalog. */
function previousAnchor(history: History, config: ShadowgateConfig): Configuration | undefined {
  const last = [...history.trials].reverse().find((trial) => trial.anchor);
  if (!last || sameConfig(config.parameters, last.config, config.current)) return undefined;
  const names = config.parameters.map((p) => p.name);
  const fits = names.every((name) => last.config[name] !== undefined) && Object.keys(last.config).length === names.length;
  return fits ? last.config : undefined;
}

function countRuns(history: History): number {
  return new Set(history.trials.map((trial) => trial.runId)).size;
}

/** The progress line's KPIs, each with its spread across the measured sub-windows. */
function describeKpis(trial: Trial): string {
  const shown: KpiName[] = ["latency.p50", "latency.p99", "throughput.rps", "errors.rate", "cpu.percent", "memory.peakMiB"];
  return shown.map((kpi) => `${kpiLabel(kpi)} ${formatMeasured(kpi, trial.kpis[kpi], trial.spread[kpi])}`).join(", ");
}

/** The trials measured at today's load (level 1). */
function todays(trials: Trial[]): Trial[] {
  return trials.filter((trial) => loadOf(trial) === 1);
}

function bestSoFar(trials: Trial[], config: ShadowgateConfig): string {
  const { kpi, goal } = config.objective;
  const today = todays(trials);
  if (today.length === 0) return "none yet at today's load";
  const best = today.reduce((a, b) => ((goal === "minimize" ? b.kpis[kpi] < a.kpis[kpi] : b.kpis[kpi] > a.kpis[kpi]) ? b : a));
  return `${kpi} ${formatMeasured(kpi, best.kpis[kpi], best.spread[kpi])} with ${describeConfig(best.config)}`;
}
