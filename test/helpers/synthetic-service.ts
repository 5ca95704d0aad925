/**
 * A synthetic service for the model and recommendation tests: p99 latency depends on the
 * pool size (best near 12) with an interaction with the cache mode, on the CPU share and on
 * gzip; memory grows with the pool. Every KPI is scaled by the run's level (runner drift).
 */
import { KPI_NAMES, type Configuration, type Kpis, type ParameterCatalog } from "../../src/core/types.js";
import type { Rng } from "../../src/search/random.js";

const env = (name: string) => ({ kind: "env" as const, name });

export const catalog: ParameterCatalog = [
  { name: "POOL", type: "int", min: 1, max: 64, scale: "log", apply: env("POOL") },
  { name: "CACHE", type: "enum", values: ["none", "lru", "lfu"], apply: env("CACHE") },
  { name: "cpus", type: "float", min: 0.25, max: 1, scale: "linear", apply: { kind: "cpus" } },
  { name: "GZIP", type: "bool", apply: env("GZIP") },
];

export const current: Configuration = { POOL: 8, CACHE: "lru", cpus: 0.5, GZIP: false };

export function latency(c: Configuration): number {
  const lp = Math.log2(c.POOL as number);
  const cache = c.CACHE === "none" ? 1 : c.CACHE === "lru" ? 0.6 + 0.08 * Math.abs(lp - 3) : 0.8;
  return 10 * (1 + 0.15 * (lp - 4) ** 2) * cache * Math.sqrt(0.5 / (c.cpus as number)) * (c.GZIP ? 1.1 : 1);
}

export const memory = (c: Configuration): number => 50 + 2 * (c.POOL as number);

/** KPIs with ±3% noise at a run level; `errorsAtPool1` adds a 5% error rate at POOL=1. */
export function kpisFor(c: Configuration, level: number, rng: Rng, options: { errorsAtPool1?: boolean } = {}): Kpis {
  const noise = () => 1 + 0.03 * (2 * rng() - 1);
  const kpis = {} as Kpis;
  for (const kpi of KPI_NAMES) kpis[kpi] = latency(c) * level * noise();
  kpis["throughput.rps"] = (1000 / latency(c) / level) * noise();
  kpis["memory.peakMiB"] = memory(c) * noise();
  kpis["errors.rate"] = options.errorsAtPool1 && c.POOL === 1 ? 0.05 : 0;
  kpis["non2xx.rate"] = 0;
  return kpis;
}
