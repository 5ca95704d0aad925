/**
 * The report as markdown (job summary, CLI output), and the sections it shares with the PR
 * comment and the check run: pure functions of the results document, which may come from an
 * untrusted fork job, so every string from it is escaped (see format.ts).
 */
import { markdownTable } from "markdown-table";
import { KPI_NAMES, type KpiName } from "../core/types.js";
import { mean } from "../core/stats.js";
import { changedParams } from "../search/space.js";
import type { ResultsDoc } from "../results/schema.js";
import { renderSweepSection } from "./chart.js";
import {
  codeFence,
  describeConfig,
  escapeCell,
  escapeText,
  formatKpi,
  formatMeasured,
  formatPrediction,
  formatValue,
  inlineCode,
  kpiLabel,
  sloBound,
} from "./format.js";

type ParameterDoc = ResultsDoc["parameters"][number];

/** The job summary stops showing a summary over 1 MiB; leave room for anything else in the step's summary. */
export const REPORT_MAX_BYTES = 900_000;

/**
 * The full report. It is cut down like the PR comment only when it would not fit
 * `maxBytes` (UTF-8 bytes; default `REPORT_MAX_BYTES`), which takes hundreds of trials with
 * many parameters.
 */
export function renderReport(doc: ResultsDoc, options: { maxBytes?: number } = {}): string {
  const sections: Section[] = [
    { name: "verdict", ...verdictSection(doc, `# Shadowgate · ${escapeText(doc.workload)}`) },
    { name: "further reasons", text: otherReasons(doc), drop: 7 },
    { name: "SLO warnings", text: sloWarnings(doc), drop: 9 },
    { name: "recommendation", text: recommendationLine(doc), drop: 8 },
    { name: "foresight", text: foresightSection(doc, "##"), drop: 7.5 },
    {
      name: "comparison table",
      text: comparisonSection(doc, "##"),
      drop: 5,
      shrink: (budget, measure) => shrinkComparison(doc, "##", budget, measure),
    },
    { name: "suggested edits", text: editsSection(doc, "##"), drop: 4 },
    { name: "chart", text: renderSweepSection(doc, "##") ?? "", drop: 3 },
    {
      name: "trials table",
      text: trialsSection(doc, { heading: "##" }),
      drop: 1,
      shrink: (budget, measure) => shrinkTrials(doc, budget, measure, (keep) => trialsSection(doc, { heading: "##", keep })),
    },
    { name: "failures", text: failuresSection(doc), drop: 2, shrink: (budget, measure) => shrinkFailures(doc, budget, measure) },
    { name: "model", text: `## Model\n\n${modelParagraph(doc)}`, drop: 6 },
    { name: "run facts", text: `## Run\n\n${runFacts(doc)}`, drop: 2.5 },
  ];
  return fitSections(sections, {
    maxLength: options.maxBytes ?? REPORT_MAX_BYTES,
    measure: utf8Length,
    limit: "the job summary's size limit",
    seeAlso: "the results file",
  });
}

// ---------------------------------------------------------------------------------------------
// Sections shared by the report, the PR comment and the check run.

const VERDICT = {
  pass: { emoji: "✅", word: "Pass" },
  warn: { emoji: "⚠️", word: "Warning" },
  fail: { emoji: "❌", word: "Fail" },
} as const;

/** "✅ Pass", "⚠️ Warning", "❌ Fail". */
export function verdictWord(doc: ResultsDoc): { emoji: string; word: string } {
  return VERDICT[doc.verdict.status];
}

/** "✅ **Pass** — <the first reason>". */
export function verdictLine(doc: ResultsDoc): string {
  const { emoji, word } = verdictWord(doc);
  const reason = doc.verdict.reasons[0];
  return `${emoji} **${word}**${reason ? ` — ${escapeText(reason)}` : ""}`;
}

/**
 * A title (may be "") over the verdict line, as a section that is never dropped: a cut keeps
 * at least the title and "✅ **Pass**".
 */
export function verdictSection(doc: ResultsDoc, title: string): Pick<Section, "text" | "cut"> {
  const { emoji, word } = verdictWord(doc);
  const prefix = title === "" ? "" : `${title}\n\n`;
  return { text: `${prefix}${verdictLine(doc)}`, cut: `${prefix}${emoji} **${word}**`.length };
}

/** The verdict's other reasons, one bullet each ("" when there are none). */
export function otherReasons(doc: ResultsDoc): string {
  return doc.verdict.reasons
    .slice(1)
    .map((reason) => `- ${escapeText(reason)}`)
    .join("\n");
}

/**
 * The model's SLO warnings about the current configuration, as GitHub alerts. Skipped when
 * the verdict is "warn": its reasons are these warnings (decide/verdict.ts), already shown.
 */
export function sloWarnings(doc: ResultsDoc): string {
  if (doc.verdict.status === "warn") return "";
  return doc.sloWarnings
    .map(
      (breach) =>
        `> [!WARNING]\n> The current configuration is ${breach.certainty === "likely" ? "predicted to breach" : "at risk of breaching"} the SLO ${breach.kpi} ${sloBound(breach.kpi)} ${formatKpi(breach.kpi, breach.limit)}: predicted ${formatPrediction(breach.kpi, breach.predicted)}.`,
    )
    .join("\n\n");
}

/** Foresight: at what load each SLO is predicted to break (decide/foresight.ts wrote the sentences). */
export function foresightSection(doc: ResultsDoc, heading: string): string {
  const lines = doc.foresight?.lines ?? [];
  if (lines.length === 0) return "";
  return `${heading} Foresight\n\n${lines.map((line) => `- ${escapeText(line)}`).join("\n")}`;
}

/** What to do: the recommended change and its predicted gain, or why to keep the current configuration. */
export function recommendationLine(doc: ResultsDoc): string {
  const rec = doc.recommended;
  const { kpi } = doc.objective;
  if (rec.keepCurrent || rec.changed.length === 0) {
    const best =
      rec.changed.length === 0 && changedParams(doc.parameters, doc.current.config, rec.best.config).length > 0
        ? ` Most promising to measure next: ${escapeText(describeConfig(rec.best.config))} (${kpi} ${formatPrediction(kpi, rec.best.predicted[kpi])}).`
        : "";
    return `**Keep the current configuration** — ${escapeText(rec.reason)} (current: ${kpi} ${formatPrediction(kpi, doc.current.predicted[kpi])}).${best}`;
  }
  const changes = rec.changed.map((name) => `${inlineCode(name)} ${change(doc, name)}`).join(", ");
  const gain = `${(Math.abs(rec.improvement) * 100).toFixed(1)}%`;
  const feasibility = rec.feasible ? "" : " ⚠️ No configuration is predicted to meet every SLO; this one violates them least.";
  const error = doc.model.cvError[kpi];
  const confidence = rec.lowConfidence
    ? ` ⚠️ Low confidence: the model's cross-validated error on ${kpi} is ${error === undefined ? "not known yet" : `±${Math.round(error * 100)}%`}; measure this configuration before relying on it.`
    : "";
  return `**Recommended: ${changes}** — ${kpi} predicted ${formatPrediction(kpi, rec.predicted[kpi])} vs ${formatPrediction(kpi, doc.current.predicted[kpi])} now (${gain} better).${feasibility}${confidence}`;
}

/** "4 → 2" for a parameter, escaped for text. */
export function change(doc: ResultsDoc, name: string): string {
  return `${escapeText(formatValue(doc.current.config[name] ?? "–"))} → ${escapeText(formatValue(doc.recommended.config[name] ?? "–"))}`;
}

/** "Predicted by the model …; Objective: minimize latency.p99; SLOs: …". */
export function objectiveSentence(doc: ResultsDoc): string {
  const entries = Object.entries(doc.slo) as [KpiName, number][];
  const slo = entries.length === 0 ? "" : `; SLOs: ${entries.map(([kpi, limit]) => `${kpi} ${sloBound(kpi)} ${formatKpi(kpi, limit)}`).join(", ")}`;
  return `Predicted by the model for this run's conditions; intervals are the model's ~90% range. Objective: ${doc.objective.goal} ${doc.objective.kpi}${slo}.`;
}

interface TableRow {
  cells: string[];
  /** lower is kept longer when the table must shrink */
  rank: number;
}

function comparisonRows(doc: ResultsDoc): TableRow[] {
  const anchors = doc.trials.filter((trial) => trial.anchor);
  const rows: TableRow[] = [];
  for (const parameter of doc.parameters) {
    const changed = doc.recommended.changed.includes(parameter.name);
    const recommended = escapeCell(formatValue(doc.recommended.config[parameter.name] ?? "–"));
    rows.push({
      rank: changed ? 1 : 4,
      cells: [
        inlineCode(parameter.name, { inTable: true }),
        escapeCell(formatValue(doc.current.config[parameter.name] ?? "–")),
        changed ? `**${recommended}**` : recommended,
        escapeCell(parameterRange(parameter)),
      ],
    });
  }
  const slo = Object.keys(doc.slo) as KpiName[];
  const shown = new Set<KpiName>([doc.objective.kpi, ...slo, "latency.p50", "latency.p99", "throughput.rps", "cpu.secondsPerRequest"]);
  for (const kpi of shown) {
    const measured = anchors.length > 0 ? mean(anchors.map((t) => t.kpis[kpi])) : undefined;
    const spread = anchors.length > 0 ? mean(anchors.map((t) => t.spread[kpi])) : 0;
    const objective = kpi === doc.objective.kpi;
    rows.push({
      rank: objective ? 0 : slo.includes(kpi) ? 2 : 3,
      cells: [
        kpiLabel(kpi) + (objective ? " (objective)" : ""),
        formatPrediction(kpi, doc.current.predicted[kpi]),
        formatPrediction(kpi, doc.recommended.predicted[kpi]),
        measured === undefined ? "–" : formatMeasured(kpi, measured, spread),
      ],
    });
  }
  return rows;
}

/**
 * Current vs recommended: every parameter (changed ones in bold) and the KPIs that matter,
 * predicted for both, with today's measurement of the current configuration. `keep` limits
 * it to the most important rows (the objective, changed parameters, SLO KPIs first).
 */
export function comparisonTable(doc: ResultsDoc, options: { keep?: number; compact?: boolean } = {}): string {
  const rows = comparisonRows(doc);
  const kept = new Set(
    rows
      .map((row, i) => ({ row, i }))
      .sort((a, b) => a.row.rank - b.row.rank || a.i - b.i)
      .slice(0, options.keep ?? rows.length)
      .map(({ i }) => i),
  );
  const body = rows.filter((_, i) => kept.has(i)).map((row) => row.cells);
  return markdownTable([["", "current", "recommended", "range · measured now"], ...body], {
    align: ["l", "r", "r", "r"],
    alignDelimiters: !options.compact,
  });
}

export function comparisonRowCount(doc: ResultsDoc): number {
  return comparisonRows(doc).length;
}

/** The comparison table under a heading, with the sentence that says what the numbers are. */
export function comparisonSection(doc: ResultsDoc, heading: string, keep?: number, compact = false): string {
  const total = comparisonRowCount(doc);
  const trimmed = keep !== undefined && keep < total ? ` (the ${keep} most important of ${total} rows)` : "";
  return `${heading} Current vs recommended${trimmed}\n\n${comparisonTable(doc, { keep, compact })}\n\n${objectiveSentence(doc)}`;
}

/** The comparison section cut to the rows that fit. */
export function shrinkComparison(doc: ResultsDoc, heading: string, budget: number, measure: Measure, compact = false): Shrunk | undefined {
  const total = comparisonRowCount(doc);
  const fit = largestFitting(total - 1, (k) => comparisonSection(doc, heading, k, compact), budget, measure);
  return fit && { text: fit.text, note: `trimmed to ${fit.k} of ${total} rows` };
}

function parameterRange(parameter: ParameterDoc): string {
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

/**
 * Indices of the trials in the order they are kept when the table must shrink: the anchors
 * (the current configuration measured now), then the best by the objective.
 */
export function trialPriority(doc: ResultsDoc): number[] {
  const { kpi, goal } = doc.objective;
  const sign = goal === "minimize" ? 1 : -1;
  // with load levels, today's rows first: a row at half the load is not a better configuration
  const today = (trial: ResultsDoc["trials"][number]) => Number((trial.load ?? 1) === 1);
  return doc.trials
    .map((trial, i) => ({ trial, i }))
    .sort((a, b) => Number(b.trial.anchor) - Number(a.trial.anchor) || today(b.trial) - today(a.trial) || sign * (a.trial.kpis[kpi] - b.trial.kpis[kpi]) || a.i - b.i)
    .map(({ i }) => i);
}

/** Every trial of the run (or those in `keep`), with spreads; ★ marks the anchors. */
export function trialsTable(doc: ResultsDoc, options: { keep?: ReadonlySet<number>; compact?: boolean } = {}): string {
  const names = doc.parameters.map((p) => p.name);
  // with load levels (foresight), a configuration has one row per level
  const levels = doc.trials.some((trial) => trial.load !== undefined);
  const header = ["#", ...names.map((n) => inlineCode(n, { inTable: true })), ...(levels ? ["load"] : []), ...KPI_NAMES.map(kpiLabel)];
  const rows = doc.trials.flatMap((trial, i) =>
    options.keep && !options.keep.has(i)
      ? []
      : [
          [
            `${i + 1}${trial.anchor ? " ★" : ""}`,
            ...names.map((n) => escapeCell(formatValue(trial.config[n] ?? "–"))),
            ...(levels ? [`${formatValue(trial.load ?? 1)}×`] : []),
            ...KPI_NAMES.map((kpi) => formatMeasured(kpi, trial.kpis[kpi], trial.spread[kpi])),
          ],
        ],
  );
  return markdownTable([header, ...rows], {
    align: ["l", ...names.map(() => "r" as const), ...(levels ? ["r" as const] : []), ...KPI_NAMES.map(() => "r" as const)],
    alignDelimiters: !options.compact,
  });
}

/** The sentence under the trials table: what the numbers are. */
export function trialsFootnote(doc: ResultsDoc): string {
  const s = doc.shadows;
  return `Measured on shadows with ${formatValue(s.fraction * 100)}% of the primary's ${formatValue(s.primaryCpus)} CPUs / ${formatValue(s.primaryMemoryMiB)} MiB, ${s.parallel} side by side; ± is the standard deviation across the measured sub-windows; CPU is in % of one core. ★ marks the current configuration (this run's anchor).`;
}

/** "Trials in this run (8)" or "Trials in this run (showing 120 of 1000: the anchors and the best by p99)". */
export function trialsTitle(doc: ResultsDoc, keep?: ReadonlySet<number>): string {
  const n = doc.trials.length;
  if (!keep || keep.size >= n) return `Trials in this run (${n})`;
  return `Trials in this run (showing ${keep.size} of ${n}: the anchors and the best by ${kpiLabel(doc.objective.kpi)})`;
}

function trialsSection(doc: ResultsDoc, options: { heading: string; keep?: ReadonlySet<number> }): string {
  if (doc.trials.length === 0) return `${options.heading} Trials in this run (0)\n\nNo trial was measured.`;
  return `${options.heading} ${trialsTitle(doc, options.keep)}\n\n${trialsTable(doc, { keep: options.keep })}\n\n${trialsFootnote(doc)}`;
}

/** The trials section (any layout, given by `render`) cut to the trials that fit. */
export function shrinkTrials(doc: ResultsDoc, budget: number, measure: Measure, render: (keep: ReadonlySet<number>) => string): Shrunk | undefined {
  const order = trialPriority(doc);
  const fit = largestFitting(order.length - 1, (k) => render(new Set(order.slice(0, k))), budget, measure);
  return fit && { text: fit.text, note: `trimmed to ${fit.k} of ${order.length} trials` };
}

/** "**2 trial(s) failed** and are not in the model:" and one line each (the error's first line). */
export function failuresSection(doc: ResultsDoc, keep = doc.failures.length): string {
  if (doc.failures.length === 0) return "";
  const shown = doc.failures.slice(0, keep).map((f) => `- ${escapeText(describeConfig(f.config))}: ${escapeText(f.error.split(/\r?\n/)[0]!)}`);
  const more = keep < doc.failures.length ? [`- … and ${doc.failures.length - keep} more (see the results file)`] : [];
  return [`**${doc.failures.length} trial(s) failed** and are not in the model:`, ...shown, ...more].join("\n");
}

export function shrinkFailures(doc: ResultsDoc, budget: number, measure: Measure): Shrunk | undefined {
  const fit = largestFitting(doc.failures.length - 1, (k) => failuresSection(doc, k), budget, measure);
  return fit && { text: fit.text, note: `failures trimmed to ${fit.k} of ${doc.failures.length}` };
}

/** How far to trust the model's predictions of one KPI, from its cross-validated error. */
export function trustWord(relativeError: number): "good" | "fair" | "poor" {
  return relativeError <= 0.15 ? "good" : relativeError <= 0.3 ? "fair" : "poor";
}

/** "p99 ±12% (good), req/s ±5% (good)": the model's cross-validated error per KPI, objective first. */
export function modelTrust(doc: ResultsDoc): string {
  const errors = doc.model.cvError;
  const order = [...new Set<KpiName>([doc.objective.kpi, ...(Object.keys(doc.slo) as KpiName[]), ...KPI_NAMES])];
  return order
    .flatMap((kpi) => {
      const e = errors[kpi];
      return e === undefined ? [] : [`${kpiLabel(kpi)} ±${Math.round(e * 100)}% (${trustWord(e)})`];
    })
    .join(", ");
}

/** One line for the comment: the model's trust in words and what it learned from. */
export function modelTrustLine(doc: ResultsDoc): string {
  const trust = modelTrust(doc);
  const source = `trained on ${doc.model.trainedOn} trials from ${doc.history.runs} run(s)`;
  return trust === ""
    ? `**Model trust:** not yet cross-validated (${source}).`
    : `**Model trust** (cross-validated error, ≤ 15% good, ≤ 30% fair): ${trust}; ${source}.`;
}

export function modelParagraph(doc: ResultsDoc): string {
  const { model, history } = doc;
  const errors = Object.entries(model.cvError) as [KpiName, number][];
  const trust =
    errors.length > 0
      ? ` Cross-validated error (mean relative error, lower is better): ${errors.map(([kpi, e]) => `${kpiLabel(kpi)} ${(e * 100).toFixed(1)}% (${trustWord(e)})`).join(", ")}.`
      : "";
  return `One random forest per KPI, trained on ${model.trainedOn} trials from ${history.runs} run(s), each relative to its own run's measurement of the current configuration.${model.skippedRows > 0 ? ` ${model.skippedRows} trial(s) without an anchor were left out.` : ""}${trust}`;
}

/** Traffic, pseudonymisation, image, run id and where the time went, as a list. */
export function runFacts(doc: ResultsDoc): string {
  const t = doc.timings;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const traffic = doc.traffic;
  const redactions = Object.entries(traffic.redactions);
  const sampled = traffic.replayed < traffic.recorded;
  const load = traffic.rate !== undefined ? `${traffic.rate.toFixed(1)} requests/s (open model)` : `${traffic.connections} connections`;
  return [
    `- Traffic: ${traffic.replayed} of ${traffic.recorded} recorded requests replayed${traffic.routes !== undefined ? ` over ${traffic.routes} route(s)` : ""}${traffic.skipped > 0 ? ` (${traffic.skipped} skipped)` : ""}, ${load}, ${seconds(traffic.warmupMs)} warm-up + ${seconds(traffic.durationMs)} measured per trial.${sampled ? " Sampled by route; latencies re-weighted to the recorded mix." : ""}`,
    redactions.length > 0 ? `- Pseudonymised before replay: ${redactions.map(([name, n]) => `${escapeText(name)} ×${n}`).join(", ")}.` : "- Nothing needed pseudonymising.",
    ...traffic.mocks.map(mockLine),
    `- Image ${inlineCode(doc.image)}; run ${inlineCode(doc.runId)}; ${doc.trials.length} trial(s), ${doc.failures.length} failed.`,
    ...(doc.search ? [`- ${escapeText(capitalise(doc.search.line))}.`] : []),
    `- Time: ${seconds(t.totalMs)} in all — image ${seconds(t.imageMs)}, shadows start/stop ${seconds(t.startStopMs)}, load ${seconds(t.loadMs)}, training ${seconds(t.trainMs)}, recommendation ${seconds(t.recommendMs)}.`,
  ].join("\n");
}

/** One external-API mock: what it answered from the recording, and its closest misses. */
export function mockLine(mock: { host: string; env: string; served: number; unmatched: number; misses: { line: string; count: number }[] }): string {
  const misses = mock.misses.map((miss) => `${inlineCode(miss.line)} ×${miss.count}`).join("; ");
  return `- Mock of ${inlineCode(mock.host)} (${inlineCode(mock.env)}): ${mock.served} call(s) answered from the recording${mock.unmatched > 0 ? `, ${mock.unmatched} unmatched — ${misses}` : ", none unmatched"}.`;
}

const capitalise = (line: string): string => line.charAt(0).toUpperCase() + line.slice(1);

/** Changed parameters that have no line to edit, and why ("" when none). */
export function unresolvedList(doc: ResultsDoc): string {
  return doc.suggestion.unresolved.map((u) => `- ${inlineCode(u.parameter)} ${change(doc, u.parameter)}: ${escapeText(u.reason)}`).join("\n");
}

/** Where the recommended change goes: each edited line as a small diff, and the parameters without one. */
function editsSection(doc: ResultsDoc, heading: string): string {
  const { edits } = doc.suggestion;
  const unresolved = unresolvedList(doc);
  if (edits.length === 0 && unresolved === "") return "";
  const seen = new Set<string>();
  const hunks: string[] = [];
  for (const edit of edits) {
    const key = `${edit.path}:${edit.line}`;
    if (seen.has(key)) continue;
    seen.add(key);
    hunks.push(`@@ ${edit.path}:${edit.line} @@\n-${edit.before}\n+${edit.after}`.replace(/\r/g, ""));
  }
  const parts = [`${heading} Suggested change`];
  if (hunks.length > 0) parts.push(codeFence(hunks.join("\n"), "diff"));
  if (unresolved !== "") parts.push(`Not in a file of the repository:\n${unresolved}`);
  return parts.join("\n\n");
}

// ---------------------------------------------------------------------------------------------
// Fitting a document into a size limit.

/** How long a text is for a limit: characters for GitHub's API bodies, UTF-8 bytes for the job summary. */
export type Measure = (text: string) => number;

export const utf16Length: Measure = (text) => text.length;
export const utf8Length: Measure = (text) => Buffer.byteLength(text, "utf8");

export interface Shrunk {
  text: string;
  /** what it says about itself in the omission note: "trimmed to 120 of 1000 trials" */
  note: string;
}

/** One block of a document that must fit a size limit. */
export interface Section {
  /** named in the omission note: "trials table" */
  name: string;
  /** the full text ("" for nothing to show) */
  text: string;
  /** the order in which detail goes, lowest first; absent: never dropped */
  drop?: number;
  /** a shorter version within `budget`, when there is one */
  shrink?: (budget: number, measure: Measure) => Shrunk | undefined;
  /**
   * for a section that is never dropped: may be cut short with "…" as the very last resort,
   * down to its first `cut` characters (which always stay)
   */
  cut?: number;
}

export interface FitOptions {
  maxLength: number;
  measure?: Measure;
  /** "GitHub's comment limit" */
  limit: string;
  /** "the job summary or the results file" */
  seeAlso: string;
}

/**
 * Join the sections (blank lines between, a newline at the end) within `maxLength`. When the
 * whole does not fit, sections are dropped in `drop` order until it does; then, most important
 * first, each dropped section comes back whole or shortened (`shrink`) if the room left allows.
 * A closing line says what was left out. Sections without `drop` always stay; as the last
 * resort the `cut` ones are cut short. Throws when even the sections that always stay
 * (e.g. the comment's marker) do not fit.
 */
export function fitSections(sections: readonly Section[], options: FitOptions): string {
  const measure = options.measure ?? utf16Length;
  const max = options.maxLength;
  const state = sections.map((section) => ({ section, text: section.text, note: undefined as string | undefined }));
  let shortNote = false;
  const assemble = () => {
    const parts = state.map((s) => s.text).filter((text) => text !== "");
    const notes = state.flatMap((s) => (s.note ? [s.note] : []));
    if (notes.length > 0) {
      parts.push(shortNote ? `_… detail omitted to fit ${options.limit}._` : `_… ${notes.join(", ")} to fit ${options.limit}; see ${options.seeAlso}._`);
    }
    return `${parts.join("\n\n")}\n`;
  };
  const fits = () => measure(assemble()) <= max;
  if (fits()) return assemble();

  // 1. drop detail, least important first, until the rest fits
  const droppable = state.filter((s) => s.section.drop !== undefined && s.text !== "").sort((a, b) => a.section.drop! - b.section.drop!);
  const dropped: typeof state = [];
  for (const s of droppable) {
    if (fits()) break;
    s.text = "";
    s.note = `${s.section.name} omitted`;
    dropped.push(s);
  }

  if (fits()) {
    // 2. bring back what the room allows, most important first
    for (const s of dropped.reverse()) {
      s.text = s.section.text;
      s.note = undefined;
      if (fits()) continue;
      s.text = "";
      s.note = `${s.section.name} omitted`;
      if (!s.section.shrink) continue;
      let budget = max - measure(assemble()) - 2 - 60; // separator; the note may grow by this much
      for (let attempt = 0; attempt < 3 && budget > 0; attempt++) {
        const shorter = s.section.shrink(budget, measure);
        if (!shorter) break;
        s.text = shorter.text;
        s.note = `${s.section.name} ${shorter.note}`;
        const over = measure(assemble()) - max;
        if (over <= 0) break;
        s.text = "";
        s.note = `${s.section.name} omitted`;
        budget -= over;
      }
    }
    return assemble();
  }

  // 3. last resort: cut the sections that may be cut (never below their floor), then shorten the note
  for (const short of [false, true]) {
    shortNote = short;
    for (const s of [...state].reverse()) {
      const floor = s.section.cut;
      if (floor === undefined) continue;
      for (let attempt = 0; attempt < 5 && !fits() && s.text.length > floor; attempt++) {
        const over = measure(assemble()) - max;
        s.text = cutText(s.text, Math.max(floor, s.text.length - over - 1));
        s.note ??= `${s.section.name} cut short`;
      }
    }
    if (fits()) return assemble();
  }
  throw new RangeError(`cannot fit the text into ${max}: what must always stay is longer (raise the limit)`);
}

/** The first `keep` characters and "…" (the whole text when it is not longer), not inside a surrogate pair. */
function cutText(text: string, keep: number): string {
  if (text.length <= keep) return text;
  let end = Math.max(keep, 0);
  if (/[\uD800-\uDBFF]/.test(text[end - 1] ?? "")) end++;
  return end >= text.length ? text : `${text.slice(0, end).trimEnd()}…`;
}

/**
 * The largest k in 1..n whose rendering fits the budget (renderings grow with k), found by
 * bisection; undefined when even k = 1 does not fit.
 */
export function largestFitting(n: number, render: (k: number) => string, budget: number, measure: Measure): { k: number; text: string } | undefined {
  if (n < 1 || budget <= 0) return undefined;
  let best: { k: number; text: string } | undefined;
  let lo = 1;
  let hi = n;
  while (lo <= hi) {
    const k = (lo + hi) >> 1;
    const text = render(k);
    if (measure(text) <= budget) {
      best = { k, text };
      lo = k + 1;
    } else hi = k - 1;
  }
  return best;
}
