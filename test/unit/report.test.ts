import { describe, expect, it } from "vitest";
import { renderReport } from "../../src/report/markdown.js";
import { toResultsJson } from "../../src/report/json.js";
import { resultsSchema, type ResultsDoc } from "../../src/results/schema.js";
import type { RunResult } from "../../src/pipeline.js";
import type { Kpis, Prediction, Trial } from "../../src/core/types.js";
import type { Recommendation } from "../../src/decide/recommend.js";
import { sampleManyTrials, samplePrediction, sampleResults } from "../helpers/sample-results.js";

/** A document with an enum parameter whose values need escaping in a table. */
function withMode(overrides: Partial<ResultsDoc> = {}): ResultsDoc {
  const doc = sampleResults();
  return sampleResults({
    parameters: [...doc.parameters, { name: "MODE", type: "enum", values: ["a|b", "c"], apply: { kind: "env", name: "MODE" } }],
    trials: doc.trials.map((t) => ({ ...t, config: { ...t.config, MODE: "a|b" } })),
    current: { ...doc.current, config: { ...doc.current.config, MODE: "a|b" } },
    ...overrides,
  });
}

describe("sample results", () => {
  it("is a valid results document, nothing stripped", () => {
    const doc = sampleResults();
    expect(resultsSchema.parse(doc)).toStrictEqual(doc);
    expect(resultsSchema.parse(sampleResults({ trials: sampleManyTrials(1000) })).trials).toHaveLength(1000);
  });
});

describe("markdown report", () => {
  it("leads with the verdict, then the recommendation with its predicted gain and the changed parameters", () => {
    const lines = renderReport(sampleResults()).split("\n");
    expect(lines[0]).toBe("# Shadowgate · orders-api");
    expect(lines[2]).toMatch(/^✅ \*\*Pass\*\* — Every SLO is met by the current configuration: latency\.p99 measured 45 ms/);
    expect(lines[4]).toBe(
      "**Recommended: `WORKER_POOL` 4 → 2, `CACHE_SIZE` 128 → 1024** — latency.p99 predicted 28.4 ms (25.6–31.2) vs 45.3 ms (40.8–49.8) now (37.3% better).",
    );
  });

  it("shows a failing verdict with every reason", () => {
    const text = renderReport(
      sampleResults({ verdict: { status: "fail", reasons: ["The current configuration breaches an SLO: latency.p99 measured 72 ms.", "Second reason."] } }),
    );
    expect(text).toContain("❌ **Fail** — The current configuration breaches an SLO: latency.p99 measured 72 ms.");
    expect(text).toContain("\n- Second reason.");
  });

  it("shows every trial with spreads, marks the anchors and escapes pipes in cells", () => {
    const text = renderReport(withMode());
    expect(text).toContain("## Trials in this run (8)");
    expect(text).toMatch(/\| 1 ★ +\| +4 \| +128 \| +8 \| +2 \| +a\\\|b \|/);
    expect(text).toMatch(/\| 44\.2 ms ± 3\.09 +\|/);
    expect(text).toContain("**1 trial(s) failed** and are not in the model:");
    expect(text).toContain("- WORKER_POOL=16 CACHE_SIZE=16 BATCH_SIZE=256 cpus=1: shadow sg-run-4711-9 not ready at http://127.0.0.1:41234/healthz after 30000 ms");
    expect(text).not.toContain("last log lines");
  });

  it("compares current and recommended, with today's measurement of the current configuration", () => {
    const text = renderReport(sampleResults());
    expect(text).toMatch(/\| `CACHE_SIZE` +\| +128 \| +\*\*1024\*\* \| +range 16–4096 \(log\) \|/);
    expect(text).toMatch(/\| p99 \(objective\) \| +45\.3 ms \(40\.8–49\.8\) \| +28\.4 ms \(25\.6–31\.2\) \| +45 ms ± 3\.15 \|/);
  });

  it("words SLOs as bounds in the right direction and warns about the current configuration", () => {
    const text = renderReport(
      sampleResults({
        slo: { "latency.p99": 40, "throughput.rps": 420 },
        verdict: { status: "fail", reasons: ["The current configuration breaches an SLO: latency.p99 measured 45 ms against the SLO ≤ 40 ms."] },
        sloWarnings: [
          { kpi: "latency.p99", limit: 40, predicted: samplePrediction(45.3), certainty: "likely" },
          { kpi: "throughput.rps", limit: 420, predicted: samplePrediction(401), certainty: "possible" },
        ],
      }),
    );
    expect(text).toContain("SLOs: latency.p99 ≤ 40 ms, throughput.rps ≥ 420/s");
    expect(text).toContain("> The current configuration is predicted to breach the SLO latency.p99 ≤ 40 ms: predicted 45.3 ms (40.8–49.8).");
    expect(text).toContain("> The current configuration is at risk of breaching the SLO throughput.rps ≥ 420/s");
  });

  it("does not repeat SLO warnings that are the verdict's reasons", () => {
    const text = renderReport(
      sampleResults({
        verdict: { status: "warn", reasons: ["The current configuration is predicted to breach the SLO latency.p99 ≤ 40 ms."] },
        sloWarnings: [{ kpi: "latency.p99", limit: 40, predicted: samplePrediction(45.3), certainty: "likely" }],
      }),
    );
    expect(text).toContain("⚠️ **Warning** — The current configuration is predicted to breach the SLO latency.p99 ≤ 40 ms.");
    expect(text).not.toContain("[!WARNING]");
  });

  it("says keep-current with the reason and the most promising point to measure next", () => {
    const doc = sampleResults();
    const text = renderReport(
      sampleResults({
        recommended: { ...doc.recommended, config: doc.current.config, keepCurrent: true, changed: [], reason: "no candidate is better in 90% of draws" },
      }),
    );
    expect(text.split("\n")[4]).toMatch(
      /^\*\*Keep the current configuration\*\* — no candidate is better in 90% of draws \(current: latency\.p99 45\.3 ms \(40\.8–49\.8\)\)\. Most promising to measure next: WORKER_POOL=2 CACHE_SIZE=1024/,
    );
  });

  it("flags an infeasible recommendation", () => {
    const doc = sampleResults();
    expect(renderReport(sampleResults({ recommended: { ...doc.recommended, feasible: false } }))).toContain("No configuration is predicted to meet every SLO");
  });

  it("reports the model's trust, the chart, the suggested edit and where the time went", () => {
    const text = renderReport(sampleResults());
    expect(text).toContain("trained on 22 trials from 3 run(s)");
    expect(text).toContain("p99 12.0% (good)");
    expect(text).toContain("non-2xx 41.0% (poor)");
    expect(text).toContain("```mermaid\nxychart-beta");
    expect(text).toContain("## Suggested change");
    expect(text).toContain("@@ fixtures/example/shadowgate.yml:21 @@\n-current: { WORKER_POOL: 4, CACHE_SIZE: 128, BATCH_SIZE: 8, cpus: 2 }\n+current: { WORKER_POOL: 2,");
    expect(text).toContain("Time: 53.5 s in all — image 0.9 s, shadows start/stop 4.2 s, load 46.0 s");
    expect(text).toContain("448 of 450 recorded requests replayed over 5 route(s) (2 skipped), 8 connections");
    expect(text).toContain("Sampled by route; latencies re-weighted to the recorded mix.");
    expect(text).toContain("- Mock of `api.rates.example` (`RATES_API_URL`): 96 call(s) answered from the recording, 2 unmatched — `GET /v1/rates?base=EUR&symbols=JPY: no recorded call matches;");
  });

  it("stays within the job summary's size when asked for less, keeping the verdict", () => {
    const text = renderReport(sampleResults({ trials: sampleManyTrials(1000) }), { maxBytes: 50_000 });
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(50_000);
    expect(text).toContain("✅ **Pass**");
    expect(text).toMatch(/trials table trimmed to \d+ of 1000 trials to fit the job summary's size limit/);
  });
});

// ---------------------------------------------------------------------------------------------
// The pipeline's result → the results document → the report.

const kpis = (p99: number, rps: number): Kpis => ({
  "latency.p50": p99 / 5,
  "latency.p90": p99 / 2,
  "latency.p99": p99,
  "latency.max": p99 * 2,
  "throughput.rps": rps,
  "errors.rate": 0,
  "non2xx.rate": 0.01,
  "cpu.percent": 40,
  "memory.peakMiB": 50,
  "cpu.secondsPerRequest": 0.0012,
});
const zero = Object.fromEntries(Object.keys(kpis(1, 1)).map((k) => [k, 0])) as Kpis;
const p = (mean: number): Prediction => ({ mean, sd: mean * 0.05, lo: mean * 0.9, hi: mean * 1.1, draws: [mean] });

function trial(config: Record<string, number | string>, p99: number, anchor = false): Trial {
  return { id: "t", runId: "r", at: "2026-11-29T00:00:00Z", config, kpis: kpis(p99, 500), spread: { ...zero, "latency.p99": 1.5 }, anchor, requests: 5000 };
}

function runResult(): RunResult {
  const current = { POOL: 4, MODE: "a|b" };
  const rec: Recommendation = {
    recommended: { POOL: 2, MODE: "a|b" },
    predicted: { "latency.p99": p(10), "throughput.rps": p(600) },
    current: { config: current, predicted: { "latency.p99": p(20), "throughput.rps": p(400) } },
    improvement: 0.5,
    meetsSlo: true,
    meetsSloOnMean: true,
    feasible: true,
    keepCurrent: false,
    best: { config: { POOL: 2, MODE: "a|b" }, predicted: { "latency.p99": p(10) }, improvement: 0.5, meetsSlo: true, probabilityBetter: 0.99 },
    currentBreaches: [],
    changed: ["POOL"],
    unchecked: [],
    reason: "predicted 50% better in 99% of draws",
    evaluated: 2000,
  };
  return {
    runId: "run-1",
    workload: "orders-api",
    startedAt: "2026-11-29T00:00:00Z",
    finishedAt: "2026-11-29T00:01:00Z",
    image: "shadowgate/example:run-1",
    shadows: { fraction: 0.25, parallel: 2, primaryCpus: 2, primaryMemoryMiB: 1024 },
    traffic: { file: "t.har", recorded: 450, replayed: 450, skipped: 2, redactions: { authorization: 10 }, connections: 8, durationMs: 8000, warmupMs: 3000, mocks: [] },
    config: {
      slo: { "latency.p99": 25, "throughput.rps": 300 },
      objective: { kpi: "latency.p99", goal: "minimize" },
      current,
      parameters: [
        { name: "POOL", type: "int", min: 1, max: 16, scale: "log", apply: { kind: "env", name: "POOL" } },
        { name: "MODE", type: "enum", values: ["a|b", "c"], apply: { kind: "env", name: "MODE" } },
      ],
    },
    trials: [trial(current, 21, true), trial({ POOL: 2, MODE: "c" }, 11)],
    failures: [{ config: { POOL: 16, MODE: "c" }, error: "shadow x not ready\nlog tail" }],
    history: { trials: 8, runs: 3 },
    model: { kpis: ["latency.p99"], cvError: { "latency.p99": 0.12 }, trainedOn: 8, skippedRows: 0 },
    recommendation: rec,
    verdict: { status: "pass", reasons: ["Every SLO is met by the current configuration."] },
    sweep: { parameter: "POOL", kpi: "latency.p99", heldAt: "recommended", points: [1, 2, 4].map((value) => ({ value, predicted: p(10 + value) })) },
    search: { strategy: "random", batches: [{ strategy: "random", reason: "random: set in the config (search.strategy)", trials: 2, improved: true }], stoppedEarly: null, line: "search: fixed strategy: random ×1; last because set in the config (search.strategy)" },
    foresight: null,
    timings: { imageMs: 500, startStopMs: 1000, loadMs: 20000, trainMs: 300, recommendMs: 200, totalMs: 22500 },
  };
}

describe("JSON results", () => {
  it("is a valid results document the report renders", () => {
    const json = toResultsJson(runResult());
    const doc = resultsSchema.parse(JSON.parse(JSON.stringify(json)));
    expect(doc.trials).toHaveLength(2);
    expect(doc.trials[0]).toMatchObject({ anchor: true, config: { POOL: 4 }, kpis: { "latency.p99": 21 } });
    expect(doc.recommended).toMatchObject({ config: { POOL: 2, MODE: "a|b" }, changed: ["POOL"], keepCurrent: false });
    expect(doc.current.predicted["latency.p99"]).toEqual({ mean: 20, sd: 1, lo: 18, hi: 22 });
    const text = renderReport(doc);
    expect(text).toContain("**Recommended: `POOL` 4 → 2** — latency.p99 predicted 10 ms (9–11) vs 20 ms (18–22) now (50.0% better).");
    expect(text).toContain("- POOL=16 MODE=c: shadow x not ready");
  });
});
