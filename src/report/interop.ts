/**
 * The KPIs in the formats of tools users already chart and alert with: pure functions of the
 * results document.
 *
 * - github-action-benchmark (`tool: customSmallerIsBetter` / `customBiggerIsBetter`): a JSON
 *   array of `{ name, unit, value, range?, extra? }` per file, one file per direction.
 * - Bencher Metric Format (`bencher run --adapter json`):
 *   `{ "<benchmark>": { "<measure slug>": { value, lower_value?, upper_value? } } }`.
 *
 * Values are in display units, named in every entry: latencies in ms, throughput in req/s,
 * error and non-2xx rates in percent (0–100, not fractions), CPU in % of one core, memory in
 * MiB, CPU per request in CPU-milliseconds.
 */
import { KPI_INFO, KPI_NAMES, type KpiName } from "../core/types.js";
import { mean } from "../core/stats.js";
import type { ResultsDoc } from "../results/schema.js";
import { KPI_DISPLAY, describeConfig, roundSignificant, toDisplay } from "./format.js";

/** One entry of github-action-benchmark's custom JSON format. */
export interface BenchmarkActionEntry {
  name: string;
  unit: string;
  value: number;
  /** shown as is next to the value; here "± <spread>" */
  range?: string;
  /** free text in the chart's tooltip */
  extra?: string;
}

/**
 * The current configuration's KPIs measured in this run (the mean over its anchor trials;
 * range: ± the mean spread across sub-windows), split by direction: write `smallerIsBetter`
 * to the file of a `customSmallerIsBetter` step and `biggerIsBetter` to a
 * `customBiggerIsBetter` one. Names: "<workload> <kpi>", e.g. "orders-api latency.p99".
 * Empty arrays when the run has no anchor trial.
 */
export function toBenchmarkActionJson(doc: ResultsDoc): { smallerIsBetter: BenchmarkActionEntry[]; biggerIsBetter: BenchmarkActionEntry[] } {
  const out = { smallerIsBetter: [] as BenchmarkActionEntry[], biggerIsBetter: [] as BenchmarkActionEntry[] };
  const anchors = doc.trials.filter((trial) => trial.anchor);
  if (anchors.length === 0) return out;
  const extra = `current configuration (${describeConfig(doc.current.config)}), mean of ${anchors.length} anchor trial(s) in run ${doc.runId}`;
  for (const kpi of KPI_NAMES) {
    const value = mean(anchors.map((t) => t.kpis[kpi]));
    const spread = mean(anchors.map((t) => t.spread[kpi]));
    if (!Number.isFinite(value)) continue;
    const entry: BenchmarkActionEntry = {
      name: `${doc.workload} ${kpi}`,
      unit: KPI_DISPLAY[kpi].unit,
      value: roundSignificant(toDisplay(kpi, value), 6),
      ...(spread > 0 ? { range: `± ${roundSignificant(toDisplay(kpi, spread), 3)}` } : {}),
      extra,
    };
    (KPI_INFO[kpi].better === "higher" ? out.biggerIsBetter : out.smallerIsBetter).push(entry);
  }
  return out;
}

export interface BencherMetric {
  value: number;
  lower_value?: number;
  upper_value?: number;
}
export type BencherMetricFormat = Record<string, Record<string, BencherMetric>>;

/**
 * Bencher measure slugs per KPI, with the unit in the slug: Bencher's built-in `latency` is
 * in nanoseconds and `throughput` in operations per second, so ours are separate measures.
 */
export const BENCHER_MEASURES: Record<KpiName, string> = {
  "latency.p50": "latency-p50-ms",
  "latency.p90": "latency-p90-ms",
  "latency.p99": "latency-p99-ms",
  "latency.max": "latency-max-ms",
  "throughput.rps": "throughput-req-per-s",
  "errors.rate": "error-rate-percent",
  "non2xx.rate": "non2xx-rate-percent",
  "cpu.percent": "cpu-percent-of-core",
  "memory.peakMiB": "memory-peak-mib",
  "cpu.secondsPerRequest": "cpu-ms-per-request",
};

/**
 * Benchmarks "<workload>/current": the current configuration measured in this run (mean over
 * the anchor trials, lower/upper = mean ∓ spread, never below 0); and, when a change is
 * recommended, "<workload>/recommended": the model's prediction for it (mean, lower/upper =
 * the ~90% interval). Measures: `BENCHER_MEASURES`.
 */
export function toBencherMetricFormat(doc: ResultsDoc): BencherMetricFormat {
  const out: BencherMetricFormat = {};
  const anchors = doc.trials.filter((trial) => trial.anchor);
  if (anchors.length > 0) {
    const current: Record<string, BencherMetric> = {};
    for (const kpi of KPI_NAMES) {
      const value = mean(anchors.map((t) => t.kpis[kpi]));
      const spread = mean(anchors.map((t) => t.spread[kpi]));
      if (!Number.isFinite(value)) continue;
      current[BENCHER_MEASURES[kpi]] = metric(kpi, value, Math.max(0, value - spread), value + spread);
    }
    out[`${doc.workload}/current`] = current;
  }
  if (!doc.recommended.keepCurrent && doc.recommended.changed.length > 0) {
    const recommended: Record<string, BencherMetric> = {};
    for (const kpi of KPI_NAMES) {
      const p = doc.recommended.predicted[kpi];
      if (p) recommended[BENCHER_MEASURES[kpi]] = metric(kpi, p.mean, Math.min(p.lo, p.mean), Math.max(p.hi, p.mean));
    }
    if (Object.keys(recommended).length > 0) out[`${doc.workload}/recommended`] = recommended;
  }
  return out;
}

function metric(kpi: KpiName, value: number, lower: number, upper: number): BencherMetric {
  const show = (v: number) => roundSignificant(toDisplay(kpi, v), 6);
  return { value: show(value), lower_value: show(lower), upper_value: show(upper) };
}
