/**
 * Number, configuration and markdown formatting shared by the renderers and the progress lines.
 * Everything that puts a string from the results document into markdown goes through the
 * escapers at the bottom: the document can come from an untrusted fork job.
 */
import { KPI_INFO, type Configuration, type KpiName, type Prediction } from "../core/types.js";

export function describeConfig(config: Configuration): string {
  const entries = Object.entries(config);
  return entries.length === 0 ? "(defaults)" : entries.map(([name, value]) => `${name}=${formatValue(value)}`).join(" ");
}

export function formatValue(value: unknown): string {
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : trimNumber(value, 3);
  return String(value);
}

/**
 * How each KPI is shown to people and exported to other tools: the unit, and the factor from
 * the stored value (stored: latencies in ms, rates as fractions, CPU per request in seconds).
 */
export const KPI_DISPLAY: Record<KpiName, { unit: string; factor: number }> = {
  "latency.p50": { unit: "ms", factor: 1 },
  "latency.p90": { unit: "ms", factor: 1 },
  "latency.p99": { unit: "ms", factor: 1 },
  "latency.max": { unit: "ms", factor: 1 },
  "throughput.rps": { unit: "req/s", factor: 1 },
  "errors.rate": { unit: "%", factor: 100 },
  "non2xx.rate": { unit: "%", factor: 100 },
  "cpu.percent": { unit: "% of a core", factor: 1 },
  "memory.peakMiB": { unit: "MiB", factor: 1 },
  "cpu.secondsPerRequest": { unit: "CPU-ms/req", factor: 1000 },
};

/** A stored KPI value in its display unit (see `KPI_DISPLAY`). */
export function toDisplay(kpi: KpiName, value: number): number {
  return value * KPI_DISPLAY[kpi].factor;
}

/** A KPI value in its display unit: latencies in ms, rates in %, CPU per request in CPU-ms. */
export function formatKpi(kpi: KpiName, value: number): string {
  switch (kpi) {
    case "errors.rate":
    case "non2xx.rate":
      return `${trimNumber(value * 100, 2)}%`;
    case "cpu.secondsPerRequest":
      return `${trimNumber(value * 1000, 3)} CPU-ms`;
    case "throughput.rps":
      return `${trimNumber(value, value >= 100 ? 0 : 1)}/s`;
    case "cpu.percent":
      return `${trimNumber(value, 1)}%`;
    case "memory.peakMiB":
      return `${trimNumber(value, 1)} MiB`;
    default:
      return `${trimNumber(value, value >= 100 ? 0 : value >= 10 ? 1 : 2)} ms`;
  }
}

/** "4.21 ms ± 0.30": a measured value with its spread across sub-windows. */
export function formatMeasured(kpi: KpiName, value: number, spread: number): string {
  if (!(spread > 0)) return formatKpi(kpi, value);
  return `${formatKpi(kpi, value)} ± ${stripUnit(formatKpi(kpi, spread))}`;
}

/** "4.2 ms (3.1–5.6)": a prediction with its interval. */
export function formatPrediction(kpi: KpiName, prediction: Prediction | undefined): string {
  if (!prediction) return "–";
  return `${formatKpi(kpi, prediction.mean)} (${stripUnit(formatKpi(kpi, prediction.lo))}–${stripUnit(formatKpi(kpi, prediction.hi))})`;
}

export function kpiLabel(kpi: KpiName): string {
  return KPI_INFO[kpi].label;
}

/** SLOs are upper bounds, except for KPIs where higher is better (throughput). */
export function sloBound(kpi: KpiName): "≥" | "≤" {
  return KPI_INFO[kpi].better === "higher" ? "≥" : "≤";
}

/** A number rounded to a few significant digits, for charts and exports ("0.00123", "412", "45.3"). */
export function roundSignificant(value: number, digits = 4): number {
  if (!Number.isFinite(value) || value === 0) return value;
  return Number(value.toPrecision(digits));
}

function stripUnit(text: string): string {
  return text.replace(/\s*(ms|MiB|CPU-ms)$/, "").replace(/\/s$/, "");
}

function trimNumber(value: number, digits: number): string {
  return Number(value.toFixed(digits)).toString();
}

// ---------------------------------------------------------------------------------------------
// Escaping: every string that comes from the results document passes through one of these.

/**
 * Text in a markdown paragraph, list item or heading: one line, no HTML (`<`, `>` become
 * entities, so no `<script>` and no `</details>` that would close our block), no character
 * references (`&` becomes `&amp;`, so `&#64;` cannot spell an `@`), no code spans (backticks
 * are escaped, so nothing can open or close a fence), and no `@mentions` (see
 * `neutraliseMentions`): the bot must not ping people or teams a fork's results name.
 */
export function escapeText(text: string): string {
  return neutraliseMentions(
    text
      .replace(/\r\n?|\n/g, " ")
      .replace(/[&<>]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : "&gt;"))
      .replace(/`/g, "\\`"),
  );
}

/** Invisible where GitHub renders text, and not a character a login can start with. */
const ZERO_WIDTH_JOINER = "\u200D";

/**
 * `@login` and `@org/team` made inert: GitHub links and notifies a mention when `@` is directly
 * followed by a letter or digit and not preceded by one (text-node start, space, punctuation,
 * `_`, `*`, non-ASCII…). A zero-width joiner after such an `@` keeps the text readable but no
 * longer a mention. E-mail-like `a@b.c` (a letter or digit before the `@`) is not a mention
 * and is left alone. Code spans and fences need none of this: GitHub ignores mentions there.
 */
export function neutraliseMentions(text: string): string {
  return text.replace(/(?<![A-Za-z0-9])@(?=[A-Za-z0-9])/g, `@${ZERO_WIDTH_JOINER}`);
}

/** Text in a table cell: as `escapeText`, and pipes, which would end the cell. */
export function escapeCell(text: string): string {
  return escapeText(text).replace(/\|/g, "\\|");
}

/**
 * A code span holding any text: the fence is one backtick longer than the longest run inside,
 * so the text cannot end it (CommonMark); inside a span `<` and `>` are shown, not parsed.
 * Use `inTable: true` in table cells (pipes are escaped, which GFM honours inside code).
 */
export function inlineCode(text: string, options: { inTable?: boolean } = {}): string {
  let flat = text.replace(/\r\n?|\n/g, " ");
  if (options.inTable) flat = flat.replace(/\|/g, "\\|");
  if (flat.trim() === "") return '""';
  const longest = Math.max(0, ...(flat.match(/`+/g) ?? []).map((run) => run.length));
  const ticks = "`".repeat(longest + 1);
  const pad = flat.startsWith("`") || flat.endsWith("`") ? " " : "";
  return `${ticks}${pad}${flat}${pad}${ticks}`;
}

/**
 * A fenced code block whose content cannot close it: the fence is longer than any backtick
 * run in the content (at least three).
 */
export function codeFence(content: string, info = ""): string {
  const longest = Math.max(2, ...(content.match(/`{3,}/g) ?? []).map((run) => run.length));
  const ticks = "`".repeat(longest + 1);
  return `${ticks}${info}\n${content.replace(/\r\n?/g, "\n").replace(/\n+$/, "")}\n${ticks}`;
}

/** Cut a string to at most `max` characters, ending with "…" when cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return "";
  return `${text.slice(0, max - 1)}…`;
}
