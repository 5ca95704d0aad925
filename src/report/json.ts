/** The machine-readable results (`--json`, the Action's results-file): a pure function. */
import type { RunResult } from "../pipeline.js";

export const RESULTS_SCHEMA_VERSION = 1;

export function toResultsJson(result: RunResult) {
  const rec = result.recommendation;
  return {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    runId: result.runId,
    workload: result.workload,
    startedAt: result.startedAt,
    finishedAt: result.finishedAt,
    image: result.image,
    objective: result.config.objective,
    slo: result.config.slo,
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
    })),
    failures: result.failures,
    current: { config: rec.current.config, predicted: rec.current.predicted },
    recommended: {
      config: rec.recommended,
      predicted: rec.predicted,
      changed: rec.changed,
      improvement: rec.improvement,
      keepCurrent: rec.keepCurrent,
      feasible: rec.feasible,
    },
    sloWarnings: rec.currentBreaches,
    model: result.model,
    history: result.history,
    timings: result.timings,
  };
}
