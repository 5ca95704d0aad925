/** The machine-readable results (`--json`, the Action's results-file): a pure function. */
import type { RunResult } from "../pipeline.js";
import { RESULTS_KIND, RESULTS_SCHEMA_VERSION, type GitHubPlace, type ResultsDoc, type Suggestion } from "../results/schema.js";

export { RESULTS_SCHEMA_VERSION };

export interface ResultsExtras {
  /** the recommended change as line edits (see suggest/locate.ts) */
  suggestion?: Suggestion;
  /** where on GitHub the results belong (Action runs) */
  github?: GitHubPlace | null;
}

export function toResultsJson(result: RunResult, extras: ResultsExtras = {}): ResultsDoc {
  const rec = result.recommendation;
  return {
    kind: RESULTS_KIND,
    schemaVersion: RESULTS_SCHEMA_VERSION,
    runId: result.runId,
    workload: result.workload,
    startedAt: result.startedAt,
    finishedAt: result.finishedAt,
    image: result.image,
    objective: result.config.objective,
    slo: result.config.slo,
    // a template's text stays out: the results say where it goes, the repository has the text
    parameters: result.config.parameters.map((p) => ({ ...p, apply: p.apply.kind === "template" ? { kind: "template" as const, path: p.apply.path, ...(p.apply.file !== undefined ? { file: p.apply.file } : {}) } : p.apply })),
    shadows: result.shadows,
    traffic: result.traffic,
    trials: result.trials.map((trial) => ({
      id: trial.id,
      at: trial.at,
      anchor: trial.anchor,
      config: trial.config,
      kpis: trial.kpis,
      spread: trial.spread,
      requests: trial.requests,
      ...(trial.load !== undefined ? { load: trial.load } : {}),
    })),
    failures: result.failures,
    current: { config: rec.current.config, predicted: withoutDraws(rec.current.predicted) },
    recommended: {
      config: rec.recommended,
      predicted: withoutDraws(rec.predicted),
      changed: rec.changed,
      improvement: rec.improvement,
      keepCurrent: rec.keepCurrent,
      feasible: rec.feasible,
      lowConfidence: isLowConfidence(result.model.cvError[result.config.objective.kpi]),
      reason: rec.reason,
      best: { config: rec.best.config, predicted: withoutDraws(rec.best.predicted) },
    },
    sloWarnings: rec.currentBreaches.map((b) => ({ ...b, predicted: stripDraws(b.predicted) })),
    verdict: result.verdict,
    sweep: result.sweep,
    suggestion: extras.suggestion ?? { edits: [], unresolved: [] },
    model: result.model as ResultsDoc["model"],
    history: result.history,
    search: result.search,
    foresight: result.foresight
      ? { ...result.foresight, configs: result.foresight.configs.map((c) => ({ ...c, breaksAt: c.breaksAt ? { ...c.breaksAt, predicted: stripDraws(c.breaksAt.predicted) } : null, atGrowth: c.atGrowth?.map((g) => ({ ...g, predicted: stripDraws(g.predicted) })) ?? null })) }
      : null,
    timings: result.timings,
    github: extras.github ?? null,
  };
}

/** Above this cross-validated error on the objective, a recommendation is flagged low-confidence. */
export const LOW_CONFIDENCE_ERROR = 0.3;

export function isLowConfidence(cvError: number | undefined): boolean {
  return cvError === undefined || !(cvError <= LOW_CONFIDENCE_ERROR);
}

type Predictions = RunResult["recommendation"]["predicted"];

function withoutDraws(predicted: Predictions): ResultsDoc["current"]["predicted"] {
  return Object.fromEntries(Object.entries(predicted).map(([kpi, p]) => [kpi, stripDraws(p!)]));
}

function stripDraws(p: { mean: number; sd: number; lo: number; hi: number }) {
  return { mean: p.mean, sd: p.sd, lo: p.lo, hi: p.hi };
}
