import { describe, expect, it } from "vitest";
import { gateVerdict } from "../../src/decide/verdict.js";
import { sweepMostInfluential, sweepValues } from "../../src/decide/sweep.js";
import type { Configuration, Kpis, ParameterCatalog, PredictiveModel, Trial } from "../../src/core/types.js";
import { sampleKpis, sampleSpread } from "../helpers/sample-results.js";

function trial(p99: number, rps: number, anchor: boolean): Trial {
  const kpis: Kpis = sampleKpis(p99, rps, 40);
  return { id: "t", runId: "r", at: "2026-11-29T00:00:00Z", config: {}, kpis, spread: sampleSpread(kpis), anchor, requests: 1000 };
}
const p = (mean: number) => ({ mean, sd: 1, lo: mean * 0.8, hi: mean * 1.2 });

describe("gate verdict", () => {
  it("fails on the current configuration's measured breach (mean of its anchors), naming KPI, value and bound", () => {
    const verdict = gateVerdict({ trials: [trial(58, 500, true), trial(70, 500, true), trial(10, 900, false)], slo: { "latency.p99": 60 }, predictedBreaches: [] });
    expect(verdict.status).toBe("fail");
    expect(verdict.reasons[0]).toMatch(/^The current configuration breaches an SLO: latency\.p99 measured 64 ms ± [\d.]+ against the SLO ≤ 60 ms\.$/);
  });

  it("treats throughput as a lower bound", () => {
    expect(gateVerdict({ trials: [trial(10, 400, true)], slo: { "throughput.rps": 500 }, predictedBreaches: [] }).status).toBe("fail");
    expect(gateVerdict({ trials: [trial(10, 600, true)], slo: { "throughput.rps": 500 }, predictedBreaches: [] }).status).toBe("pass");
  });

  it("warns when the model predicts a breach the measurement does not show, passes otherwise", () => {
    const breach = { kpi: "latency.p99" as const, limit: 60, predicted: p(62), certainty: "likely" as const };
    const warn = gateVerdict({ trials: [trial(55, 500, true)], slo: { "latency.p99": 60 }, predictedBreaches: [breach] });
    expect(warn.status).toBe("warn");
    expect(warn.reasons[0]).toMatch(/predicted to breach the SLO latency\.p99 ≤ 60 ms \(predicted 62 ms/);
    const pass = gateVerdict({ trials: [trial(55, 500, true), trial(90, 500, false)], slo: { "latency.p99": 60 }, predictedBreaches: [] });
    expect(pass).toEqual({ status: "pass", reasons: [expect.stringMatching(/^Every SLO is met by the current configuration: latency\.p99 measured 55 ms/)] });
    expect(gateVerdict({ trials: [trial(55, 500, true)], slo: {}, predictedBreaches: [] }).reasons[0]).toMatch(/No SLO is set/);
  });
});

describe("sweep of the most influential parameter", () => {
  const catalog: ParameterCatalog = [
    { name: "POOL", type: "int", min: 1, max: 16, scale: "log", apply: { kind: "env", name: "POOL" } },
    { name: "cpus", type: "float", min: 1, max: 4, scale: "linear", apply: { kind: "cpus" } },
    { name: "MODE", type: "enum", values: ["a", "b"], apply: { kind: "env", name: "MODE" } },
  ];
  // p99 falls steeply with cpus, a little with POOL, not at all with MODE
  const model: PredictiveModel = {
    kpis: ["latency.p99"],
    predict: (configs: Configuration[]) => configs.map((c) => ({ "latency.p99": p(100 / (c.cpus as number) + 2 / (c.POOL as number)) })),
    toJSON: () => ({}),
  };

  it("picks the parameter that moves the objective most, holding the others", () => {
    const sweep = sweepMostInfluential({ model, catalog, base: { POOL: 4, cpus: 2, MODE: "a" }, heldAt: "recommended", kpi: "latency.p99" })!;
    expect(sweep.parameter).toBe("cpus");
    expect(sweep.points.map((pt) => pt.value)).toEqual([1, 1.38, 1.75, 2.13, 2.5, 2.88, 3.25, 3.63, 4]);
    expect(sweep.points[0]!.predicted.mean).toBeCloseTo(100.5, 5);
    expect(sweep.points.at(-1)!.predicted.mean).toBeCloseTo(25.5, 5);
  });

  it("gives distinct values on each parameter's own scale, and none for a KPI the model lacks", () => {
    // 16^(i/8) rounded: 1, 1.4, 2, 2.8, 4, 5.7, 8, 11.3, 16 → duplicates dropped
    expect(sweepValues(catalog[0]!)).toEqual([1, 2, 3, 4, 6, 8, 11, 16]);
    expect(sweepValues(catalog[2]!)).toEqual(["a", "b"]);
    expect(sweepMostInfluential({ model, catalog, base: { POOL: 4, cpus: 2, MODE: "a" }, heldAt: "current", kpi: "throughput.rps" })).toBeNull();
  });
});
