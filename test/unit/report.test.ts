import { describe, expect, it } from "vitest";
import { renderReport } from "../../src/report/markdown.js";
import { toResultsJson } from "../../src/report/json.js";
import type { RunResult } from "../../src/pipeline.js";
import type { Kpis, Prediction, Trial } from "../../src/core/types.js";
import type { Recommendation } from "../../src/decide/recommend.js";

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
const p = (mean: number): Prediction => ({ mean, sd: mean * 0.05, lo: mean * 0.9, hi: mean * 1.1 });

function trial(config: Record<string, number | string>, p99: number, anchor = false): Trial {
  return { id: "t", runId: "r", at: "2026-11-29T00:00:00Z", config, kpis: kpis(p99, 500), spread: { ...zero, "latency.p99": 1.5 }, anchor, requests: 5000 };
}

function result(recommendation: Partial<Recommendation>): RunResult {
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
    ...recommendation,
  };
  return {
    runId: "run-1",
    workload: "orders-api",
    startedAt: "2026-11-29T00:00:00Z",
    finishedAt: "2026-11-29T00:01:00Z",
    image: "shadowgate/example:run-1",
    shadows: { fraction: 0.25, parallel: 2, primaryCpus: 2, primaryMemoryMiB: 1024 },
    traffic: { file: "t.har", recorded: 450, replayed: 450, skipped: 2, redactions: { authorization: 10 }, connections: 8, durationMs: 8000, warmupMs: 3000 },
    config: {
      slo: { "latency.p99": 15, "throughput.rps": 300 },
      objective: { kpi: "latency.p99", goal: "minimize" },
      current,
      parameters: [
        { name: "POOL", type: "int", min: 1, max: 16, scale: "log", apply: { kind: "env", name: "POOL" } },
        { name: "MODE", type: "enum", values: ["a|b", "c"], apply: { kind: "env", name: "MODE" } },
      ],
    },
    trials: [trial(current, 21, true), trial({ POOL: 2, MODE: "c" }, 11)],
    failures: [{ config: { POOL: 16, MODE: "c" }, error: "shadow x not ready at http://127.0.0.1:1/healthz after 2000 ms\nlog tail" }],
    history: { trials: 8, runs: 3 },
    model: { kpis: ["latency.p99"], cvError: { "latency.p99": 0.12 }, trainedOn: 8, skippedRows: 0 },
    recommendation: rec,
    timings: { imageMs: 500, startStopMs: 1000, loadMs: 20000, trainMs: 300, recommendMs: 200, totalMs: 22500 },
  };
}

describe("markdown report", () => {
  it("leads with the recommendation, its predicted gain and the changed parameter", () => {
    const text = renderReport(result({}));
    const lines = text.split("\n");
    expect(lines[0]).toBe("# Shadowgate · orders-api");
    expect(lines[2]).toBe("**Recommended: `POOL` 4 → 2** — latency.p99 predicted 10 ms (9–11) vs 20 ms (18–22) now (50.0% better).");
  });

  it("shows every trial with spreads, marks the anchor and escapes pipes in cells", () => {
    const text = renderReport(result({}));
    expect(text).toContain("## Trials in this run (2)");
    expect(text).toMatch(/\| 1 ★ +\| +4 \| +a\\\|b \|/);
    expect(text).toMatch(/\| 21 ms ± 1.5 +\|/);
    expect(text).toContain("**1 trial(s) failed** and are not in the model:");
    expect(text).toContain("- POOL=16 MODE=c: shadow x not ready at http://127.0.0.1:1/healthz after 2000 ms");
    expect(text).not.toContain("log tail");
  });

  it("words SLOs as bounds in the right direction and warns about the current configuration", () => {
    const text = renderReport(
      result({ currentBreaches: [{ kpi: "latency.p99", limit: 15, predicted: p(20), certainty: "likely" }, { kpi: "throughput.rps", limit: 300, predicted: p(290), certainty: "possible" }] }),
    );
    expect(text).toContain("SLOs: latency.p99 ≤ 15 ms, throughput.rps ≥ 300/s");
    expect(text).toContain("> The current configuration is predicted to breach the SLO latency.p99 ≤ 15 ms: predicted 20 ms (18–22).");
    expect(text).toContain("> The current configuration is at risk of breaching the SLO throughput.rps ≥ 300/s");
  });

  it("says keep-current with the reason and the most promising point to measure next", () => {
    const text = renderReport(result({ keepCurrent: true, changed: [], recommended: { POOL: 4, MODE: "a|b" }, reason: "no candidate is better in 90% of draws" }));
    expect(text.split("\n")[2]).toMatch(/^\*\*Keep the current configuration\*\* — no candidate is better in 90% of draws \(current: latency\.p99 20 ms \(18–22\)\)\. Most promising to measure next: POOL=2 MODE=a\|b/);
  });

  it("flags an infeasible recommendation", () => {
    expect(renderReport(result({ feasible: false }))).toContain("No configuration is predicted to meet every SLO");
  });

  it("reports the model's trust and where the time went", () => {
    const text = renderReport(result({}));
    expect(text).toContain("trained on 8 trials from 3 run(s)");
    expect(text).toContain("p99 12.0%");
    expect(text).toContain("Time: 22.5 s in all — image 0.5 s, shadows start/stop 1.0 s, load 20.0 s");
    expect(text).toContain("450 of 450 recorded requests replayed (2 skipped)");
  });
});

describe("JSON results", () => {
  it("carries trials, current and recommended configurations with predictions", () => {
    const json = toResultsJson(result({}));
    expect(json.schemaVersion).toBe(1);
    expect(json.trials).toHaveLength(2);
    expect(json.trials[0]).toMatchObject({ anchor: true, config: { POOL: 4 }, kpis: { "latency.p99": 21 } });
    expect(json.recommended).toMatchObject({ config: { POOL: 2, MODE: "a|b" }, changed: ["POOL"], keepCurrent: false });
    expect(json.current.predicted["latency.p99"]).toEqual(p(20));
    // nothing JSON cannot carry (undefined, NaN, functions): strict equality after a round trip
    expect(JSON.parse(JSON.stringify(json))).toStrictEqual(json);
  });
});
