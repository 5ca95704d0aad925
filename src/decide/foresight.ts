/**
 * Foresight: at what load the SLOs are predicted to break, for the current and the
 * recommended configuration, from a model that has the load level as a feature
 * (model/load-level.ts). Pure: the model is read, never trained here.
 *
 * The model is read at the levels measured: a forest is a step function between them, so
 * between two levels the prediction follows a power law through the two (latency and CPU grow
 * roughly so with load until saturation). It does not extrapolate: beyond the highest level
 * measured, a growth is said to be unknown rather than predicted.
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

/** A prediction between two levels, by a power law through the two (log-log; linear where a value is not positive). */
function interpolate(x0: number, p0: Prediction, x1: number, p1: Prediction, x: number): Prediction {
  const t = (Math.log(x) - Math.log(x0)) / (Math.log(x1) - Math.log(x0));
  const mix = (a: number, b: number): number => (a > 0 && b > 0 ? Math.exp(Math.log(a) + t * (Math.log(b) - Math.log(a))) : a + t * (b - a));
  return { mean: mix(p0.mean, p1.mean), sd: mix(p0.sd, p1.sd), lo: mix(p0.lo, p1.lo), hi: mix(p0.hi, p1.hi) };
}

/** Where a power law through (x0, v0) and (x1, v1) reaches `limit` (between x0 and x1 when it crosses there). */
function crossing(x0: number, v0: number, x1: number, v1: number, limit: number): number {
  const t = v0 > 0 && v1 > 0 && limit > 0 ? (Math.log(limit) - Math.log(v0)) / (Math.log(v1) - Math.log(v0)) : (limit - v0) / (v1 - v0);
  return Math.exp(Math.log(x0) + Math.min(1, Math.max(0, t)) * (Math.log(x1) - Math.log(x0)));
}

export function foresee(input: {
  /** the model with the load column (trained with modelCatalog) */
  model: PredictiveModel;
  current: Configuration;
  /** absent when the recommendation is to keep the current configuration */
  recommended?: Configuration;
  slo: Slo;
  growth?: number;
  /** the load levels measured so far (any order; 1 is today's) */
  levels: readonly number[];
}): Foresight | null {
  const kpis = (Object.keys(input.slo) as KpiName[]).filter((k) => input.slo[k] !== undefined && input.model.kpis.includes(k));
  const growth = input.growth ?? null;
  // the model is read at measured levels only (a forest is a step function between them);
  // between two, a power law through the two predictions
  const levels = [...new Set([1, ...input.levels.filter((l) => l >= 1)])].sort((a, b) => a - b);
  const maxLevel = levels[levels.length - 1]!;
  if (kpis.length === 0) return null;
  if (maxLevel <= 1) {
    if (growth === null) return null;
    return { maxLevel, growth, configs: [], lines: [`No load level above today's was measured, so the SLOs at ${times(growth)} today's traffic cannot be predicted: add traffic.levels, e.g. [1, ${Math.max(2, Math.ceil(growth * 2) / 2)}].`] };
  }
  const breached = (kpi: KpiName, value: number): boolean => (KPI_INFO[kpi].better === "higher" ? value < input.slo[kpi]! : value > input.slo[kpi]!);
  const targets: { label: ConfigForesight["label"]; config: Configuration }[] = [{ label: "current", config: input.current }];
  if (input.recommended) targets.push({ label: "recommended", config: input.recommended });
  const growthKnown = growth !== null && growth <= maxLevel + 1e-9;

  const configs = targets.map(({ label, config }): ConfigForesight => {
    const predictions = input.model.predict(levels.map((level) => ({ ...config, [LOAD_FEATURE]: level })));
    const at = (i: number, kpi: KpiName): Prediction | undefined => predictions[i]?.[kpi];
    let breaksAt: ConfigForesight["breaksAt"] = null;
    for (let i = 0; i < levels.length && !breaksAt; i++) {
      // the first KPI to break between the previous level and this one, by where it crosses
      const crossings = kpis.flatMap((kpi) => {
        const p = at(i, kpi);
        if (!p || !breached(kpi, p.mean)) return [];
        const before = i > 0 ? at(i - 1, kpi) : undefined;
        if (i === 0 || !before) return [{ kpi, level: levels[i]!, predicted: p }];
        const level = crossing(levels[i - 1]!, before.mean, levels[i]!, p.mean, input.slo[kpi]!);
        return [{ kpi, level, predicted: interpolate(levels[i - 1]!, before, levels[i]!, p, level) }];
      });
      const first = crossings.sort((a, b) => a.level - b.level)[0];
      if (first) breaksAt = { kpi: first.kpi, limit: input.slo[first.kpi]!, level: first.level, predicted: first.predicted };
    }
    let atGrowth: ConfigForesight["atGrowth"] = null;
    if (growthKnown) {
      const j = Math.max(1, levels.findIndex((l) => l >= growth! - 1e-9));
      atGrowth = kpis.flatMap((kpi) => {
        const p0 = at(j - 1, kpi);
        const p1 = at(j, kpi);
        if (!p0 || !p1) return [];
        const p = interpolate(levels[j - 1]!, p0, levels[j]!, p1, growth!);
        const worst = KPI_INFO[kpi].better === "higher" ? p.lo : p.hi;
        return [{ kpi, limit: input.slo[kpi]!, predicted: p, breach: breached(kpi, p.mean) ? ("likely" as const) : breached(kpi, worst) ? ("possible" as const) : ("no" as const) }];
      });
    }
    return { label, config, breaksAt, atGrowth };
  });

  const lines: string[] = [];
  for (const c of configs) {
    const who = c.label === "current" ? "Current configuration" : "Recommended configuration";
    if (c.breaksAt) {
      const { kpi, limit, level } = c.breaksAt;
      const verb = KPI_INFO[kpi].better === "higher" ? "fall below" : "exceed";
      lines.push(
        level <= 1
          ? `${who}: ${kpiLabel(kpi)} is predicted to ${verb} ${formatKpi(kpi, limit)} already at today's traffic (predicted ${formatKpi(kpi, c.breaksAt.predicted.mean)}).`
          : `${who}: ${kpiLabel(kpi)} predicted to ${verb} ${formatKpi(kpi, limit)} at ${times(level)} today's traffic.`,
      );
    } else {
      lines.push(`${who}: every SLO is predicted to hold up to ${times(maxLevel)} today's traffic, the highest load measured.`);
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
    lines.push(`The expected growth ${times(growth)} is beyond the highest load measured (${times(maxLevel)}), and the model does not extrapolate: add a level of at least ${times(growth)} to traffic.levels.`);
  }
  return { maxLevel, growth, configs, lines };
}

function times(level: number): string {
  return `${Number(level.toFixed(2))}×`;
}
