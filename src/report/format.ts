/** Number and configuration formatting shared by the renderers and the progress lines. */
import { KPI_INFO, type Configuration, type KpiName, type Prediction } from "../core/types.js";

export function describeConfig(config: Configuration): string {
  const entries = Object.entries(config);
  return entries.length === 0 ? "(defaults)" : entries.map(([name, value]) => `${name}=${formatValue(value)}`).join(" ");
}

export function formatValue(value: unknown): string {
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : trimNumber(value, 3);
  return String(value);
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

function stripUnit(text: string): string {
  return text.replace(/\s*(ms|MiB|CPU-ms)$/, "").replace(/\/s$/, "");
}

function trimNumber(value: number, digits: number): string {
  return Number(value.toFixed(digits)).toString();
}
