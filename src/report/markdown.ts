/**
 * The report as markdown (job summary, CLI output): a pure function of the run's result.
 */
import { markdownTable } from "markdown-table";
import { KPI_INFO, KPI_NAMES, type KpiName, type ParameterSpec } from "../core/types.js";
import type { RunResult } from "../pipeline.js";
import { mean } from "../core/stats.js";
import { changedParams } from "../search/space.js";
import { describeConfig, formatKpi, formatMeasured, formatPrediction, formatValue, kpiLabel } from "./format.js";

/** KPIs shown in the trials table, in order: all of them. */
const TRIAL_KPIS: readonly KpiName[] = KPI_NAMES;

export function renderReport(result: RunResult): string {
  return [
    `# Shadowgate · ${escapeText(result.workload)}`,
    "",
    verdictLine(result),
    ...sloWarnings(result),
    "",
    "## Current vs recommended",
    "",
    comparisonTable(result),
    "",
    `Predicted by the model for this run's conditions; intervals are the model's ~90% range. Objective: ${result.config.objective.goal} ${result.config.objective.kpi}${sloText(result)}.`,
    "",
    `## Trials in this run (${result.trials.length})`,
    "",
    trialsTable(result),
    "",
    `Measured on shadows with ${formatValue(result.shadows.fraction * 100)}% of the primary's ${formatValue(result.shadows.primaryCpus)} CPUs / ${formatValue(result.shadows.primaryMemoryMiB)} MiB, ${result.shadows.parallel} side by side; ± is the standard deviation across the measured sub-windows; CPU is in % of one core. ★ marks the current configuration (this run's anchor).`,
    ...failuresSection(result),
    "",
    "## Model",
    "",
    modelSection(result),
    "",
    "## Run",
    "",
    runSection(result),
    "",
  ].join("\n");
}

function verdictLine(result: RunResult): string {
  const rec = result.recommendation;
  const { kpi } = result.config.objective;
  if (rec.keepCurrent) {
    const best = rec.changed.length === 0 && rec.best && changedParams(result.config.parameters, result.config.current, rec.best.config).length > 0
      ? ` Most promising to measure next: ${escapeText(describeConfig(rec.best.config))} (${kpi} ${formatPrediction(kpi, rec.best.predicted[kpi])}).`
      : "";
    return `**Keep the current configuration** — ${escapeText(rec.reason)} (current: ${kpi} ${formatPrediction(kpi, rec.current.predicted[kpi])}).${best}`;
  }
  const changes = rec.changed
    .map((name) => `\`${escapeText(name)}\` ${formatValue(result.config.current[name])} → ${formatValue(rec.recommended[name])}`)
    .join(", ");
  const gain = `${(Math.abs(rec.improvement) * 100).toFixed(1)}%`;
  const feasibility = rec.feasible ? "" : " ⚠️ No configuration is predicted to meet every SLO; this one violates them least.";
  return `**Recommended: ${changes}** — ${kpi} predicted ${formatPrediction(kpi, rec.predicted[kpi])} vs ${formatPrediction(kpi, rec.current.predicted[kpi])} now (${gain} better).${feasibility}`;
}

function sloWarnings(result: RunResult): string[] {
  return result.recommendation.currentBreaches.map(
    (breach) =>
      `\n> [!WARNING]\n> The current configuration is ${breach.certainty === "likely" ? "predicted to breach" : "at risk of breaching"} the SLO ${breach.kpi} ${bound(breach.kpi)} ${formatKpi(breach.kpi, breach.limit)}: predicted ${formatPrediction(breach.kpi, breach.predicted)}.`,
  );
}

function sloText(result: RunResult): string {
  const entries = Object.entries(result.config.slo) as [KpiName, number][];
  if (entries.length === 0) return "";
  return `; SLOs: ${entries.map(([kpi, limit]) => `${kpi} ${bound(kpi)} ${formatKpi(kpi, limit)}`).join(", ")}`;
}

/** SLOs are upper bounds, except for KPIs where higher is better (throughput). */
function bound(kpi: KpiName): string {
  return KPI_INFO[kpi].better === "higher" ? "≥" : "≤";
}

function comparisonTable(result: RunResult): string {
  const rec = result.recommendation;
  const anchor = result.trials.filter((trial) => trial.anchor);
  const rows: string[][] = [["", "current", "recommended", "range · measured now"]];
  for (const parameter of result.config.parameters) {
    const changed = rec.changed.includes(parameter.name);
    rows.push([
      `\`${escapeCell(parameter.name)}\``,
      escapeCell(formatValue(result.config.current[parameter.name])),
      escapeCell(changed ? `**${formatValue(rec.recommended[parameter.name])}**` : formatValue(rec.recommended[parameter.name])),
      escapeCell(parameterRange(parameter)),
    ]);
  }
  const shown = new Set<KpiName>([result.config.objective.kpi, ...(Object.keys(result.config.slo) as KpiName[]), "latency.p50", "latency.p99", "throughput.rps", "cpu.secondsPerRequest"]);
  for (const kpi of shown) {
    const measured = anchor.length > 0 ? mean(anchor.map((t) => t.kpis[kpi])) : undefined;
    const spread = anchor.length > 0 ? mean(anchor.map((t) => t.spread[kpi])) : 0;
    rows.push([
      kpiLabel(kpi) + (kpi === result.config.objective.kpi ? " (objective)" : ""),
      escapeCell(formatPrediction(kpi, rec.current.predicted[kpi])),
      escapeCell(formatPrediction(kpi, rec.predicted[kpi])),
      measured === undefined ? "–" : escapeCell(formatMeasured(kpi, measured, spread)),
    ]);
  }
  return markdownTable(rows, { align: ["l", "r", "r", "r"] });
}

function parameterRange(parameter: ParameterSpec): string {
  switch (parameter.type) {
    case "int":
    case "float":
      return `range ${formatValue(parameter.min)}–${formatValue(parameter.max)}${parameter.scale === "log" ? " (log)" : ""}`;
    case "enum":
      return `one of ${parameter.values.join(", ")}`;
    case "bool":
      return "true / false";
  }
}

function trialsTable(result: RunResult): string {
  const names = result.config.parameters.map((p) => p.name);
  const header = ["#", ...names.map((n) => `\`${escapeCell(n)}\``), ...TRIAL_KPIS.map(kpiLabel)];
  const rows = result.trials.map((trial, i) => [
    `${i + 1}${trial.anchor ? " ★" : ""}`,
    ...names.map((n) => escapeCell(formatValue(trial.config[n]))),
    ...TRIAL_KPIS.map((kpi) => escapeCell(formatMeasured(kpi, trial.kpis[kpi], trial.spread[kpi]))),
  ]);
  return markdownTable([header, ...rows], { align: ["l", ...names.map(() => "r" as const), ...TRIAL_KPIS.map(() => "r" as const)] });
}

function failuresSection(result: RunResult): string[] {
  if (result.failures.length === 0) return [];
  return ["", `**${result.failures.length} trial(s) failed** and are not in the model:`, ...result.failures.map((f) => `- ${escapeText(describeConfig(f.config))}: ${escapeText(f.error.split("\n")[0]!)}`)];
}

function modelSection(result: RunResult): string {
  const { model, history } = result;
  const errors = Object.entries(model.cvError) as [KpiName, number][];
  const trust = errors.length > 0 ? ` Cross-validated error (mean relative error, lower is better): ${errors.map(([kpi, e]) => `${kpiLabel(kpi)} ${(e * 100).toFixed(1)}%`).join(", ")}.` : "";
  return `One random forest per KPI, trained on ${model.trainedOn} trials from ${history.runs} run(s), each relative to its own run's measurement of the current configuration.${model.skippedRows > 0 ? ` ${model.skippedRows} trial(s) without an anchor were left out.` : ""}${trust}`;
}

function runSection(result: RunResult): string {
  const t = result.timings;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const redactions = Object.entries(result.traffic.redactions);
  return [
    `- Traffic: ${result.traffic.replayed} of ${result.traffic.recorded} recorded requests replayed${result.traffic.skipped > 0 ? ` (${result.traffic.skipped} skipped)` : ""}, ${result.traffic.connections} connections, ${seconds(result.traffic.warmupMs)} warm-up + ${seconds(result.traffic.durationMs)} measured per trial.`,
    redactions.length > 0 ? `- Pseudonymised before replay: ${redactions.map(([name, n]) => `${name} ×${n}`).join(", ")}.` : "- Nothing needed pseudonymising.",
    `- Image \`${escapeText(result.image)}\`; run \`${escapeText(result.runId)}\`.`,
    `- Time: ${seconds(t.totalMs)} in all — image ${seconds(t.imageMs)}, shadows start/stop ${seconds(t.startStopMs)}, load ${seconds(t.loadMs)}, training ${seconds(t.trainMs)}, recommendation ${seconds(t.recommendMs)}.`,
  ].join("\n");
}

/** Pipes would end a table cell; newlines would end the row. */
export function escapeCell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

function escapeText(text: string): string {
  return text.replace(/[<>]/g, (c) => (c === "<" ? "&lt;" : "&gt;"));
}
