/**
 * A realistic results document for tests of the renderers and the GitHub side: the bundled
 * orders-api example (fixtures/example/shadowgate.yml) after a run on a pull request. Every
 * call returns fresh objects; `overrides` replace top-level fields.
 */
import type { Kpis, KpiName } from "../../src/core/types.js";
import { RESULTS_KIND, RESULTS_SCHEMA_VERSION, type ResultsDoc } from "../../src/results/schema.js";

type Prediction = { mean: number; sd: number; lo: number; hi: number };
type Config = ResultsDoc["current"]["config"];

export const SAMPLE_CONFIG_PATH = "fixtures/example/shadowgate.yml";
/** the `current:` line of the example config, and the same line with the recommended values */
export const SAMPLE_LINE = 21;
export const SAMPLE_BEFORE = "current: { WORKER_POOL: 4, CACHE_SIZE: 128, BATCH_SIZE: 8, cpus: 2 }";
export const SAMPLE_AFTER = "current: { WORKER_POOL: 2, CACHE_SIZE: 1024, BATCH_SIZE: 8, cpus: 2 }";

const CURRENT: Config = { WORKER_POOL: 4, CACHE_SIZE: 128, BATCH_SIZE: 8, cpus: 2 };
const RECOMMENDED: Config = { WORKER_POOL: 2, CACHE_SIZE: 1024, BATCH_SIZE: 8, cpus: 2 };

/** KPIs of one trial from its p99 (ms), throughput (req/s) and CPU (% of a core). */
export function sampleKpis(p99: number, rps: number, cpuPercent: number, cacheSize = 128): Kpis {
  return {
    "latency.p50": round(p99 * 0.31),
    "latency.p90": round(p99 * 0.68),
    "latency.p99": p99,
    "latency.max": round(p99 * 1.9),
    "throughput.rps": rps,
    "errors.rate": 0,
    "non2xx.rate": 0.002,
    "cpu.percent": cpuPercent,
    "memory.peakMiB": round(58 + cacheSize / 64),
    "cpu.secondsPerRequest": round(cpuPercent / 100 / rps, 7),
  };
}

/** Spreads across sub-windows: a few percent of each KPI, more for the tail. */
export function sampleSpread(kpis: Kpis): Kpis {
  const rel: Record<KpiName, number> = {
    "latency.p50": 0.03,
    "latency.p90": 0.05,
    "latency.p99": 0.07,
    "latency.max": 0.15,
    "throughput.rps": 0.03,
    "errors.rate": 0,
    "non2xx.rate": 0.2,
    "cpu.percent": 0.04,
    "memory.peakMiB": 0.01,
    "cpu.secondsPerRequest": 0.04,
  };
  return Object.fromEntries(Object.entries(kpis).map(([k, v]) => [k, round(v * rel[k as KpiName], 7)])) as Kpis;
}

function trial(n: number, config: Config, p99: number, rps: number, cpu: number, anchor = false): ResultsDoc["trials"][number] {
  const kpis = sampleKpis(p99, rps, cpu, Number(config.CACHE_SIZE));
  return {
    id: `run-4711-t${n}`,
    at: new Date(Date.UTC(2026, 10, 29, 7, 30) + n * 12_000).toISOString(),
    anchor,
    config: { ...config },
    kpis,
    spread: sampleSpread(kpis),
    requests: Math.round(rps * 8),
  };
}

/** A prediction with an interval about ±`rel` around the mean. */
export function samplePrediction(mean: number, rel = 0.1): Prediction {
  return { mean, sd: round(mean * rel * 0.6, 7), lo: round(mean * (1 - rel), 7), hi: round(mean * (1 + rel), 7) };
}

function predictions(p99: number, rps: number, cpu: number): ResultsDoc["current"]["predicted"] {
  const k = sampleKpis(p99, rps, cpu);
  return Object.fromEntries(Object.entries(k).map(([kpi, v]) => [kpi, samplePrediction(v, kpi === "latency.p99" ? 0.1 : 0.06)]));
}

export function sampleResults(overrides: Partial<ResultsDoc> = {}): ResultsDoc {
  const sweepP99: [number, number][] = [
    [16, 41.2],
    [32, 39],
    [64, 36.1],
    [128, 33.4],
    [256, 31],
    [512, 29.5],
    [1024, 28.4],
    [2048, 28.1],
    [4096, 28.6],
  ];
  const doc: ResultsDoc = {
    kind: RESULTS_KIND,
    schemaVersion: RESULTS_SCHEMA_VERSION,
    runId: "run-4711",
    workload: "orders-api",
    startedAt: "2026-11-29T07:30:00.000Z",
    finishedAt: "2026-11-29T07:31:54.000Z",
    image: "shadowgate/orders-api:run-4711",
    objective: { kpi: "latency.p99", goal: "minimize" },
    slo: { "latency.p99": 60, "errors.rate": 0.01 },
    parameters: [
      { name: "WORKER_POOL", type: "int", min: 1, max: 16, scale: "log", apply: { kind: "env", name: "WORKER_POOL" } },
      { name: "CACHE_SIZE", type: "int", min: 16, max: 4096, scale: "log", apply: { kind: "env", name: "CACHE_SIZE" } },
      { name: "BATCH_SIZE", type: "int", min: 1, max: 256, scale: "log", apply: { kind: "env", name: "BATCH_SIZE" } },
      { name: "cpus", type: "float", min: 1, max: 4, scale: "linear", apply: { kind: "cpus" } },
    ],
    shadows: { fraction: 0.25, parallel: 2, primaryCpus: 2, primaryMemoryMiB: 1024 },
    traffic: {
      file: "traffic/recorded.har",
      recorded: 450,
      replayed: 448,
      skipped: 2,
      redactions: { "header:authorization": 120, "field:email": 37 },
      connections: 8,
      durationMs: 8000,
      warmupMs: 3000,
      routes: 5,
      mocks: [{ host: "api.rates.example", env: "RATES_API_URL", served: 96, unmatched: 2, misses: [{ line: "GET /v1/rates?base=EUR&symbols=JPY: no recorded call matches; closest GET /v1/rates?base=EUR&symbols=USD (query symbols: recorded USD, got JPY)", count: 2 }] }],
    },
    trials: [
      trial(1, CURRENT, 44.2, 402, 48.5, true),
      trial(2, { WORKER_POOL: 2, CACHE_SIZE: 1024, BATCH_SIZE: 4, cpus: 2 }, 27.1, 561, 49.1),
      trial(3, { WORKER_POOL: 16, CACHE_SIZE: 16, BATCH_SIZE: 1, cpus: 2 }, 58.7, 318, 47.2),
      trial(4, { WORKER_POOL: 1, CACHE_SIZE: 512, BATCH_SIZE: 32, cpus: 1.5 }, 41.3, 377, 37.4),
      trial(5, { WORKER_POOL: 8, CACHE_SIZE: 2048, BATCH_SIZE: 2, cpus: 3 }, 24.6, 540, 71.8),
      trial(6, CURRENT, 45.8, 398, 48.9, true),
      trial(7, { WORKER_POOL: 3, CACHE_SIZE: 256, BATCH_SIZE: 16, cpus: 2.5 }, 33.9, 455, 60.2),
      trial(8, { WORKER_POOL: 2, CACHE_SIZE: 4096, BATCH_SIZE: 64, cpus: 1.2 }, 52.4, 341, 29.7),
    ],
    failures: [
      {
        config: { WORKER_POOL: 16, CACHE_SIZE: 16, BATCH_SIZE: 256, cpus: 1 },
        error: "shadow sg-run-4711-9 not ready at http://127.0.0.1:41234/healthz after 30000 ms\nlast log lines: …",
      },
    ],
    current: { config: { ...CURRENT }, predicted: predictions(45.3, 401, 48.6) },
    recommended: {
      config: { ...RECOMMENDED },
      predicted: predictions(28.4, 548, 49),
      changed: ["WORKER_POOL", "CACHE_SIZE"],
      improvement: 0.373,
      keepCurrent: false,
      feasible: true,
      lowConfidence: false,
      reason: "predicted 37% lower p99 in 97% of the model's draws",
      best: { config: { ...RECOMMENDED }, predicted: predictions(28.4, 548, 49) },
    },
    sloWarnings: [],
    verdict: {
      status: "pass",
      reasons: ["Every SLO is met by the current configuration: latency.p99 measured 45 ms ± 3.1 against the SLO ≤ 60 ms; errors.rate measured 0% against the SLO ≤ 1%."],
    },
    sweep: {
      parameter: "CACHE_SIZE",
      kpi: "latency.p99",
      heldAt: "recommended",
      points: sweepP99.map(([value, p99]) => ({ value, predicted: samplePrediction(p99, 0.12) })),
    },
    suggestion: {
      // both parameters live on the same line of the example config (a flow mapping): one edit naming both
      edits: [{ parameter: "WORKER_POOL,CACHE_SIZE", path: SAMPLE_CONFIG_PATH, line: SAMPLE_LINE, before: SAMPLE_BEFORE, after: SAMPLE_AFTER }],
      unresolved: [],
    },
    model: {
      kpis: ["latency.p50", "latency.p90", "latency.p99", "latency.max", "throughput.rps", "errors.rate", "non2xx.rate", "cpu.percent", "memory.peakMiB", "cpu.secondsPerRequest"],
      cvError: {
        "latency.p99": 0.12,
        "latency.p50": 0.08,
        "latency.p90": 0.1,
        "latency.max": 0.22,
        "throughput.rps": 0.05,
        "non2xx.rate": 0.41,
        "cpu.percent": 0.07,
        "memory.peakMiB": 0.03,
        "cpu.secondsPerRequest": 0.06,
      },
      trainedOn: 22,
      skippedRows: 0,
    },
    history: { trials: 22, runs: 3 },
    search: {
      strategy: "adaptive",
      batches: [
        { strategy: "lhs", reason: "space filling (Latin hypercube): 3 of 6 measurements needed before a model can guide", trials: 4, improved: true },
        { strategy: "model", reason: "model-guided (expected improvement): mean reward 0.61 over 3.2 recent batches (next: halton 0.30)", trials: 4, improved: true },
      ],
      stoppedEarly: null,
      line: "search: the agent chose space filling (Latin hypercube) ×1, model-guided (expected improvement) ×1; last because mean reward 0.61 over 3.2 recent batches (next: halton 0.30)",
    },
    foresight: {
      maxLevel: 2,
      growth: 1.5,
      configs: [
        {
          label: "current",
          config: { WORKER_POOL: 4, CACHE_SIZE: 128, BATCH_SIZE: 8, cpus: 2 },
          breaksAt: { kpi: "latency.p99", limit: 80, level: 1.38, predicted: { mean: 81.2, sd: 6, lo: 71, hi: 92 } },
          atGrowth: [{ kpi: "latency.p99", limit: 80, predicted: { mean: 95, sd: 8, lo: 80, hi: 110 }, breach: "likely" }],
        },
      ],
      lines: [
        "Current configuration: p99 predicted to exceed 80 ms at 1.38× today's traffic (predicted 81.2 ms there).",
        "Current configuration at 1.5× today's traffic (the expected growth): p99 95 ms (80 ms–110 ms) breaches ≤ 80 ms.",
        "Recommended configuration: every SLO is predicted to hold up to 2× today's traffic, the highest load measured.",
      ],
    },
    timings: { imageMs: 900, startStopMs: 4200, loadMs: 46000, trainMs: 1800, recommendMs: 600, totalMs: 53500 },
    github: {
      repository: "acme/orders-api",
      eventName: "pull_request",
      pullRequest: 42,
      headSha: "0123456789abcdef0123456789abcdef01234567",
      configPath: SAMPLE_CONFIG_PATH,
    },
  };
  return { ...doc, ...overrides };
}

function round(value: number, digits = 2): number {
  return Number(value.toFixed(digits));
}

/**
 * `n` trials spread over the example's parameter space (two of them anchors), deterministic,
 * for tests of size limits: `sampleResults({ trials: sampleManyTrials(1000) })`.
 */
export function sampleManyTrials(n: number): ResultsDoc["trials"] {
  const pools = [1, 2, 3, 4, 6, 8, 12, 16];
  const caches = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
  const batches = [1, 2, 4, 8, 16, 32, 64, 128, 256];
  return Array.from({ length: n }, (_, i) => {
    const anchor = i === 0 || i === n - 1;
    const config: Config = anchor
      ? { ...CURRENT }
      : { WORKER_POOL: pools[i % pools.length]!, CACHE_SIZE: caches[(i * 7) % caches.length]!, BATCH_SIZE: batches[(i * 5) % batches.length]!, cpus: round(1 + ((i * 37) % 300) / 100) };
    const p99 = anchor ? 45 : round(20 + ((i * 53) % 400) / 10);
    return trial(i + 1, config, p99, round(300 + ((i * 31) % 300)), round(30 + ((i * 17) % 40)), anchor);
  });
}
