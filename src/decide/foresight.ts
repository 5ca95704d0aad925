/**
 * Foresight: at what load the SLOs are predicted to break, for the current and the
 * recommended configuration, from a model that has the load level as a feature
 * (model/load-level.ts). Pure: the model is read, never trained here.
 *
 * The forest does not extrapolate: beyond the highest level measured it predicts the same as
 * at that level, so the scan stops there, and a growth beyond it is said to be unknown rather
 * than predicted.
 */
import { KPI_INFO, type Configuration, type KpiName, type Prediction, type PredictiveModel, type Slo } from "../core/types.js";
import { LOAD_FEATURE } from "../model/load-level.js";
import { formatKpi, kpiLabel } from "../report/format.js";

export interface ConfigForesight {
  label: "current" | "recommended";
  config: Configuration;
  /** the lowest level (from 1, up to the highest measured) at which an SLO KPI's predicted mean breaches it */
  breaksAt: { kpi: KpiName; limit: number; level: number; predicted: Prediction } | null;
  /** each SLO KPI at the expected growth: its prediction and whether it breaches (by the mean, or only by the interval) */
  atGrowth: { kpi: KpiName; limit: number; predicted: Prediction; breach: "likely" | "possible" | "no" }[] | null;
}

export interface Foresight {
  /** the highest load level measured so far */
  maxLevel: number;
  growth: number | null;
  configs: ConfigForesight[];
  /** one sentence each, for reports */
  lines: string[];
}

/** Levels scanned: from 1 up in steps of 2.5%, the top level included. */
export function scanLevels(maxLevel: number): number[] {
  const levels: number[] = [];
  for (let level = 1; level < maxLevel - 1e-9; level *= 1.025) levels.push(level);
  levels.push(maxLevel);
  return levels;
}

export function foresee(input: {
  /** the model with the load column (trained with modelCatalog) */
  model: PredictiveModel;
  current: Configuration;
  /** absent when the recommendation is to keep the current configuration */
  recommended?: Configuration;
  slo: Slo;
  growth?: number;
  /** the highest load level measured */
  maxLevel: number;
  /** the history's level range starts above 1 only if today's level was never measured */
}): Foresight | null {
  const kpis = (Object.keys(input.slo) as KpiName[]).filter((k) => input.slo[k] !== undefined && input.model.kpis.includes(k));
  const growth = input.growth ?? null;
  if (kpis.length === 0) return null;
  if (input.maxLevel <= 1) {
    if (growth === null) return null;
    return { maxLevel: input.maxLevel, growth, configs: [], lines: [`No load level above today's was measured, so the SLOs at ${times(growth)} today's traffic cannot be predicted: add traffic.levels, e.g. [1, ${Math.max(2, Math.ceil(growth * 2) / 2)}].`] };
  }
  const levels = scanLevels(input.maxLevel);
  const breached = (kpi: KpiName, value: number): boolean => (KPI_INFO[kpi].better === "higher" ? value < input.slo[kpi]! : value > input.slo[kpi]!);
  const targets: { label: ConfigForesight["label"]; config: Configuration }[] = [{ label: "current", config: input.current }];
  if (input.recommended) targets.push({ label: "recommended", config: input.recommended });
  const growthKnown = growth !== null && growth <= input.maxLevel + 1e-9;

  const configs = targets.map(({ label, config }): ConfigForesight => {
    const at = (level: number) => ({ ...config, [LOAD_FEATURE]: level });
    const predictions = input.model.predict([...levels.map(at), ...(growthKnown ? [at(growth!)] : [])]);
    let breaksAt: ConfigForesight["breaksAt"] = null;
    for (let i = 0; i < levels.length && !breaksAt; i++) {
      for (const kpi of kpis) {
        const p = predictions[i]?.[kpi];
        if (p && breached(kpi, p.mean)) {
          breaksAt = { kpi, limit: input.slo[kpi]!, level: levels[i]!, predicted: p };
          break;
        }
      }
    }
    const atGrowth = growthKnown
      ? kpis.flatMap((kpi) => {
          const p = predictions[levels.length]?.[kpi];
          if (!p) return [];
          const worst = KPI_INFO[kpi].better === "higher" ? p.lo : p.hi;
          return [{ kpi, limit: input.slo[kpi]!, predicted: p, breach: breached(kpi, p.mean) ? ("likely" as const) : breached(kpi, worst) ? ("possible" as const) : ("no" as const) }];
        })
      : null;
    return { label, config, breaksAt, atGrowth };
  });

  const lines: string[] = [];
  for (const c of configs) {
    const who = c.label === "current" ? "Current configuration" : "Recommended configuration";
    if (c.breaksAt) {
      const { kpi, limit, level, predicted } = c.breaksAt;
      const verb = KPI_INFO[kpi].better === "higher" ? "fall below" : "exceed";
      lines.push(`${who}: ${kpiLabel(kpi)} predicted to ${verb} ${formatKpi(kpi, limit)} at ${times(level)} today's traffic (predicted ${formatKpi(kpi, predicted.mean)} there)${level <= 1 ? ": it is at or over the limit already" : ""}.`);
    } else {
      lines.push(`${who}: every SLO is predicted to hold up to ${times(input.maxLevel)} today's traffic, the highest load measured.`);
    }
    if (c.atGrowth && growth !== null) {
      const parts = c.atGrowth.map(
        (g) =>
          `${kpiLabel(g.kpi)} ${formatKpi(g.kpi, g.predicted.mean)} (${formatKpi(g.kpi, g.predicted.lo)}–${formatKpi(g.kpi, g.predicted.hi)}) ${g.breach === "likely" ? "breaches" : g.breach === "possible" ? "may breach" : "meets"} ${KPI_INFO[g.kpi].better === "higher" ? "≥" : "≤"} ${formatKpi(g.kpi, g.limit)}`,
      );
      lines.push(`${who} at ${times(growth)} today's traffic (the expected growth): ${parts.join("; ")}.`);
    }
  }
  if (growth !== null && !growthKnown) {
    lines.push(`The expected growth ${times(growth)} is beyond the highest load measured (${times(input.maxLevel)}), and the model does not extrapolate: add a level of at least ${times(growth)} to traffic.levels.`);
  }
  return { maxLevel: input.maxLevel, growth, configs, lines };
}

function times(level: number): string {
  return `${Number(level.toFixed(2))}×`;
}
