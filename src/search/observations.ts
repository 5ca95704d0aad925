/**
 * Measured trials as the search sees them: one number per trial, lower is better, comparable
 * across runs. Absolute KPIs from different runs are not comparable (see model/forest.ts), so
 * a trial's value is ln(objective / its own run's anchor): the same reference the model
 * learns. Runs without an anchor, and trials whose configuration no longer fits the catalog,
 * are left out. (Runs anchored on a different current configuration are not bridged here: a
 * small bias the model-guided strategy tolerates, since it ranks rather than predicts.)
 */
import type { KpiName, Objective, ParameterCatalog, Trial } from "../core/types.js";
import { meanAnchor } from "../model/forest.js";
import { encodeUnit } from "./space.js";
import type { Observation } from "./types.js";

export function observationsOf(trials: readonly Trial[], catalog: ParameterCatalog, objective: Objective): Observation[] {
  const byRun = new Map<string, Trial[]>();
  for (const trial of trials) {
    const list = byRun.get(trial.runId);
    if (list) list.push(trial);
    else byRun.set(trial.runId, [trial]);
  }
  const out: Observation[] = [];
  for (const run of byRun.values()) {
    const anchor = meanAnchor(run)[objective.kpi];
    if (anchor === undefined || !(anchor > 0)) continue;
    for (const trial of run) {
      const value = objectiveValue(trial, objective.kpi, anchor);
      if (value === undefined || !fits(catalog, trial)) continue;
      out.push({ config: trial.config, value: objective.goal === "minimize" ? value : -value });
    }
  }
  return out;
}

function objectiveValue(trial: Trial, kpi: KpiName, anchor: number): number | undefined {
  const v = trial.kpis[kpi];
  return Number.isFinite(v) && v > 0 ? Math.log(v / anchor) : undefined;
}

function fits(catalog: ParameterCatalog, trial: Trial): boolean {
  try {
    encodeUnit(catalog, trial.config);
    return true;
  } catch {
    return false;
  }
}
