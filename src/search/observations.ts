/**
 * Measured trials as the search sees them: one number per trial, lower is better, comparable
 * across runs. Absolute KPIs from different runs are not comparable (see model/forest.ts), so
 * a trial's value is taken against its own run's anchor, as the model learns it (see
 * objectiveValue). Runs without an anchor, and trials whose configuration no longer fits the catalog,
 * are left out. (Runs anchored on a different current configuration are not bridged here: a
 * small bias the model-guided strategy tolerates, since it ranks rather than predicts.)
 */
import type { KpiName, Objective, ParameterCatalog, Trial } from "../core/types.js";
import { isRelativeKpi, meanAnchor } from "../model/forest.js";
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
    if (anchor === undefined) continue;
    for (const trial of run) {
      const value = objectiveValue(objective.kpi, objective.goal, trial.kpis[objective.kpi], anchor);
      if (value === undefined || !fits(catalog, trial)) continue;
      out.push({ config: trial.config, value });
    }
  }
  return out;
}

/**
 * A trial's objective as the search compares it, lower is better: ln(value / anchor) for a
 * KPI learned relative to the anchor, the value minus the anchor's for a rate that can be 0
 * (errors.rate, non2xx.rate: as the model learns them); negated when maximised.
 */
export function objectiveValue(kpi: KpiName, goal: Objective["goal"], value: number, anchor: number): number | undefined {
  if (!Number.isFinite(value) || !Number.isFinite(anchor)) return undefined;
  let v: number;
  if (isRelativeKpi(kpi)) {
    if (!(value > 0 && anchor > 0)) return undefined;
    v = Math.log(value / anchor);
  } else v = value - anchor;
  return goal === "minimize" ? v : -v;
}

function fits(catalog: ParameterCatalog, trial: Trial): boolean {
  try {
    encodeUnit(catalog, trial.config);
    return true;
  } catch {
    return false;
  }
}
