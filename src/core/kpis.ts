/**
 * One trial's KPIs from what the load driver and the resource sampler measured,
 * with each KPI's spread across the measured sub-windows.
 */
import type { LoadResult, ResourceUsage, WindowStats } from "./ports.js";
import { KPI_NAMES, type Kpis } from "./types.js";
import { stdev } from "./stats.js";

export function kpisFrom(load: LoadResult, usage: ResourceUsage): { kpis: Kpis; spread: Kpis } {
  if (load.requests === 0) throw new Error(`no response in the measured window (${load.errors} errors)`);
  const attempts = load.requests + load.errors;
  const kpis: Kpis = {
    "latency.p50": load.latency.p50,
    "latency.p90": load.latency.p90,
    "latency.p99": load.latency.p99,
    "latency.max": load.latency.max,
    "throughput.rps": load.rps,
    "errors.rate": attempts > 0 ? load.errors / attempts : 1,
    "non2xx.rate": load.requests > 0 ? load.non2xx / load.requests : 0,
    "cpu.percent": usage.cpuPercent,
    "memory.peakMiB": usage.memoryPeakMiB,
    "cpu.secondsPerRequest": load.requests > 0 ? usage.cpuSeconds / load.requests : 0,
  };
  // windows with too few responses say little about tail latency
  const windows = load.windows.filter((w) => w.requests >= 5);
  const sd = (pick: (w: WindowStats) => number) => (windows.length >= 2 ? stdev(windows.map(pick)) : 0);
  const rpsSd = sd((w) => w.rps);
  const spread: Kpis = {
    "latency.p50": sd((w) => w.p50),
    "latency.p90": sd((w) => w.p90),
    "latency.p99": sd((w) => w.p99),
    "latency.max": sd((w) => w.max),
    "throughput.rps": rpsSd,
    "errors.rate": 0,
    "non2xx.rate": 0,
    "cpu.percent": usage.cpuPercentSd ?? 0,
    "memory.peakMiB": 0,
    // CPU per request moves with throughput at a steady CPU use
    "cpu.secondsPerRequest": load.rps > 0 ? (kpis["cpu.secondsPerRequest"] * rpsSd) / load.rps : 0,
  };
  for (const name of KPI_NAMES) {
    if (!Number.isFinite(kpis[name])) throw new Error(`measured ${name} is not a number (${kpis[name]})`);
  }
  return { kpis, spread };
}
