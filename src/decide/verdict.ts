/**
 * The gate's verdict for one run: fail when the configuration in use, measured in this run,
 * breaches an SLO; warn when the model predicts it will (or may); pass otherwise. The step
 * fails on "fail", which is what makes Shadowgate usable as a required status check.
 */
import { KPI_INFO, type KpiName, type Slo, type Trial } from "../core/types.js";
import { mean } from "../core/stats.js";
import type { SloBreach } from "./recommend.js";
import { formatKpi, formatMeasured } from "../report/format.js";

export interface Verdict {
  status: "pass" | "warn" | "fail";
  /** one sentence each, most important first */
  reasons: string[];
}

export function gateVerdict(input: { trials: readonly Trial[]; slo: Slo; predictedBreaches: readonly SloBreach[] }): Verdict {
  const anchors = input.trials.filter((trial) => trial.anchor);
  const failures: string[] = [];
  const met: string[] = [];
  for (const [kpi, limit] of Object.entries(input.slo) as [KpiName, number][]) {
    if (anchors.length === 0) continue;
    const measured = mean(anchors.map((t) => t.kpis[kpi]));
    const spread = mean(anchors.map((t) => t.spread[kpi]));
    const higherIsBetter = KPI_INFO[kpi].better === "higher";
    const breached = higherIsBetter ? measured < limit : measured > limit;
    const text = `${kpi} measured ${formatMeasured(kpi, measured, spread)} against the SLO ${higherIsBetter ? "≥" : "≤"} ${formatKpi(kpi, limit)}`;
    (breached ? failures : met).push(text);
  }
  if (failures.length > 0) {
    return { status: "fail", reasons: failures.map((f) => `The current configuration breaches an SLO: ${f}.`) };
  }
  const warnings = input.predictedBreaches.map(
    (b) =>
      `The current configuration is ${b.certainty === "likely" ? "predicted to breach" : "at risk of breaching"} the SLO ${b.kpi} ${KPI_INFO[b.kpi].better === "higher" ? "≥" : "≤"} ${formatKpi(b.kpi, b.limit)} (predicted ${formatKpi(b.kpi, b.predicted.mean)}, interval ${formatKpi(b.kpi, b.predicted.lo)}–${formatKpi(b.kpi, b.predicted.hi)}).`,
  );
  if (warnings.length > 0) return { status: "warn", reasons: warnings };
  if (met.length === 0) return { status: "pass", reasons: ["No SLO is set; nothing to gate on."] };
  return { status: "pass", reasons: [`Every SLO is met by the current configuration: ${met.join("; ")}.`] };
}
