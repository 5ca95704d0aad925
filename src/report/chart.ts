/**
 * The sweep as a mermaid `xychart-beta` (rendered in PR comments and job summaries): the
 * predicted objective across the most influential parameter, the others held fixed. The
 * tables stay the source of truth; the chart is for the eye.
 */
import type { ResultsDoc } from "../results/schema.js";
import { sameValue } from "../search/space.js";
import { KPI_DISPLAY, codeFence, formatValue, inlineCode, kpiLabel, roundSignificant, toDisplay } from "./format.js";

/** At most this many characters in a category label or title (mermaid does not wrap them). */
const MAX_LABEL = 24;
const MAX_TITLE = 80;

/**
 * A fenced mermaid block: x = the parameter's sampled values (categories, the current and the
 * recommended value marked), a bar per value for the predicted mean and two lines for the
 * model's ~90% interval; undefined when there is no sweep.
 */
export function renderSweepChart(doc: ResultsDoc): string | undefined {
  const sweep = doc.sweep;
  if (!sweep) return undefined;
  const points = sweep.points.filter((p) => [p.predicted.mean, p.predicted.lo, p.predicted.hi].every(Number.isFinite));
  if (points.length === 0) return undefined;
  const { kpi, parameter } = sweep;
  const show = (value: number) => mermaidNumber(toDisplay(kpi, value));
  const los = points.map((p) => toDisplay(kpi, Math.min(p.predicted.lo, p.predicted.mean)));
  const his = points.map((p) => toDisplay(kpi, Math.max(p.predicted.hi, p.predicted.mean)));
  const [yMin, yMax] = niceRange(Math.min(...los), Math.max(...his));
  const labels = points.map((p) => mermaidString(categoryLabel(doc, parameter, p.value)));
  return codeFence(
    [
      "xychart-beta",
      `  title ${mermaidString(`Predicted ${kpi} across ${parameter}`, MAX_TITLE)}`,
      `  x-axis ${mermaidString(parameter, MAX_TITLE)} [${labels.join(", ")}]`,
      `  y-axis ${mermaidString(`${kpi} (${KPI_DISPLAY[kpi].unit})`, MAX_TITLE)} ${mermaidNumber(yMin)} --> ${mermaidNumber(yMax)}`,
      `  bar [${points.map((p) => show(p.predicted.mean)).join(", ")}]`,
      `  line [${points.map((p) => show(Math.min(p.predicted.lo, p.predicted.mean))).join(", ")}]`,
      `  line [${points.map((p) => show(Math.max(p.predicted.hi, p.predicted.mean))).join(", ")}]`,
    ].join("\n"),
    "mermaid",
  );
}

/** The chart under a heading, with the legend mermaid cannot draw. */
export function renderSweepSection(doc: ResultsDoc, heading = "####"): string | undefined {
  const chart = renderSweepChart(doc);
  if (!chart || !doc.sweep) return undefined;
  const { kpi, parameter, heldAt } = doc.sweep;
  return [
    `${heading} What ${inlineCode(parameter)} does to ${kpiLabel(kpi)}`,
    chart,
    `Bars: ${kpi} predicted at each ${inlineCode(parameter)} (in ${KPI_DISPLAY[kpi].unit}), the other parameters at the ${heldAt} configuration; lines: the model's ~90% interval. Predictions, not measurements.`,
  ].join("\n\n");
}

function categoryLabel(doc: ResultsDoc, parameter: string, value: ResultsDoc["current"]["config"][string]): string {
  const isCurrent = sameValue(doc.current.config[parameter], value);
  const isRecommended = !doc.recommended.keepCurrent && doc.recommended.changed.includes(parameter) && sameValue(doc.recommended.config[parameter], value);
  const text = truncateLabel(formatValue(value), MAX_LABEL - 6);
  return isCurrent ? `${text} (now)` : isRecommended ? `${text} (rec.)` : text;
}

/**
 * A quoted mermaid string: no quotes, backslashes, backticks, brackets, braces, angle
 * brackets, line breaks, `%%` or `;` inside, so a value cannot end the string, the list or the
 * fence, nor start a directive, a comment or an entity.
 */
export function mermaidString(text: string, max = MAX_LABEL): string {
  const clean = text
    .replace(/[\r\n\t]+/g, " ")
    .replace(/["`\\]/g, "'")
    .replace(/\[/g, "(")
    .replace(/\]/g, ")")
    .replace(/%{2,}/g, "%")
    .replace(/;/g, ",")
    .replace(/[{}<>]/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  return `"${truncateLabel(clean, max)}"`;
}

/** A plain decimal with at most 4 significant digits (mermaid reads no exponents). */
export function mermaidNumber(value: number): string {
  const rounded = roundSignificant(value, 4);
  const text = String(rounded);
  return /e/i.test(text) ? Number(rounded.toFixed(6)).toString() : text;
}

/** A y range a little wider than the data, on round numbers; from 0 when the data is not negative and close to it. */
export function niceRange(min: number, max: number): [number, number] {
  const span = max - min || Math.abs(max) || 1;
  const step = 10 ** Math.floor(Math.log10(span)) / 2;
  let lo = Math.floor((min - span * 0.1) / step) * step;
  const hi = Math.ceil((max + span * 0.1) / step) * step;
  if (min >= 0 && lo < 0) lo = 0;
  return [roundSignificant(lo, 6), roundSignificant(hi, 6)];
}

function truncateLabel(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
