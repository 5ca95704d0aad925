import { describe, expect, it } from "vitest";
import { compareKpi, decide, kpiVerdict, looksFor, perLookConfidence, resolvableRegression, type GateRound } from "../../src/gate/compare.js";
import { noiseProfileOf, parseNoiseProfile } from "../../src/gate/noise.js";
import { aggregate, catalogMismatch, outcomeOf } from "../../src/gate/run-gate.js";
import { incompleteBeta, studentTCdf, studentTQuantile } from "../../src/core/stats.js";
import { parseConfig, type ShadowgateConfig } from "../../src/config/schema.js";
import { KPI_NAMES, type Kpis } from "../../src/core/types.js";
import { mulberry32 } from "../../src/search/random.js";

const options = { kpis: ["latency.p99", "throughput.rps"] as const, regression: 0.1, confidence: 0.95 };

function kpis(p99: number, rps: number): Kpis {
  const k = Object.fromEntries(KPI_NAMES.map((n) => [n, 1])) as Kpis;
  return { ...k, "latency.p99": p99, "throughput.rps": rps };
}

/** Rounds whose head/base ratio is `ratio` times lognormal noise of sd `noise` (seeded). */
function rounds(n: number, ratio: number, noise: number, seed = 1): GateRound[] {
  const rng = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(rng() + 1e-12)) * Math.cos(2 * Math.PI * rng());
  return Array.from({ length: n }, () => {
    const drift = Math.exp(0.2 * normal()); // the runner's drift: shared by both sides of a round
    return { base: kpis(50 * drift, 600 / drift), head: kpis(50 * drift * ratio * Math.exp(noise * normal()), (600 / drift / ratio) * Math.exp(noise * normal())) };
  });
}

describe("Student's t", () => {
  it("matches published quantiles", () => {
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.7062, 3);
    expect(studentTQuantile(0.975, 4)).toBeCloseTo(2.7764, 3);
    expect(studentTQuantile(0.995, 10)).toBeCloseTo(3.1693, 3);
    expect(studentTQuantile(0.025, 20)).toBeCloseTo(-2.086, 3);
    expect(studentTCdf(0, 7)).toBe(0.5);
    expect(incompleteBeta(0.5, 2, 2)).toBeCloseTo(0.5, 10);
    expect(() => studentTQuantile(1, 3)).toThrow(/0 < p < 1/);
  });
});

describe("gate statistics", () => {
  it("a head that equals the base passes once the interval rules out 10%", () => {
    const result = compareKpi(rounds(8, 1, 0.03), "latency.p99", options);
    expect(result.verdict).toBe("pass");
    expect(result.ci[0]).toBeLessThan(1);
    expect(result.ci[1]).toBeLessThan(1.1);
    expect(result.observations).toBe(8);
    expect(result.noise).toBeGreaterThan(0.01);
    expect(result.noise).toBeLessThan(0.06);
  });

  it("a 15% slower head fails on latency and on throughput (the direction is the KPI's)", () => {
    const decision = decide(rounds(8, 1.15, 0.03), options);
    expect(decision.verdict).toBe("fail");
    expect(decision.kpis.map((k) => k.verdict)).toEqual(["fail", "fail"]);
    expect(decision.kpis[0]!.ratio).toBeGreaterThan(1.1);
    expect(decision.kpis[1]!.ratio).toBeLessThan(0.9);
  });

  it("the drift shared by both sides of a round cancels: 20% drift, 2% noise, a clear verdict", () => {
    const result = compareKpi(rounds(5, 1, 0.02, 7), "latency.p99", options);
    expect(result.base.sd / result.base.median).toBeGreaterThan(0.05);
    expect(result.verdict).toBe("pass");
  });

  it("is inconclusive with fewer than three rounds, or when the noise is too high for the threshold", () => {
    expect(compareKpi(rounds(2, 1, 0.01), "latency.p99", options).verdict).toBe("inconclusive");
    // head/base per round: ×1.2, ×0.9, ×1.15, ×0.95: the interval spans both 1 and 1.1
    const noisy = [1.2, 0.9, 1.15, 0.95].map((r) => ({ base: kpis(50, 600), head: kpis(50 * r, 600 / r) }));
    const result = compareKpi(noisy, "latency.p99", options);
    expect(result.ci[0]).toBeLessThan(1);
    expect(result.ci[1]).toBeGreaterThan(1.1);
    expect(result.verdict).toBe("inconclusive");
    expect(decide(rounds(2, 2, 0.01), options).verdict).toBe("inconclusive");
  });

  it("a significant regression smaller than the threshold passes (its whole interval is below 10%)", () => {
    const result = compareKpi(rounds(30, 1.03, 0.01), "latency.p99", options);
    expect(result.ci[0]).toBeGreaterThan(1);
    expect(result.verdict).toBe("pass");
  });

  it("the three-way rule on intervals", () => {
    expect(kpiVerdict("latency.p99", [0.95, 1.09], 0.1)).toBe("pass");
    expect(kpiVerdict("latency.p99", [1.02, 1.2], 0.1)).toBe("fail");
    expect(kpiVerdict("latency.p99", [0.98, 1.2], 0.1)).toBe("inconclusive");
    // throughput: lower is worse; 1/0.85 ≈ 1.18 worse
    expect(kpiVerdict("throughput.rps", [0.8, 0.95], 0.1)).toBe("fail");
    expect(kpiVerdict("throughput.rps", [0.95, 1.05], 0.1)).toBe("pass");
  });

  it("A/A over many simulated sequential gates fails in at most 5%, and a 10% regression is caught nearly always", () => {
    // a noisy KPI (8% per round): looking after every round at a plain 95% interval fails A/A far too often
    const gate = (ratio: number, seed: number, looks: number | undefined): string => {
      const all = rounds(30, ratio, 0.08, seed);
      for (let n = 3; n <= all.length; n++) {
        const d = decide(all.slice(0, n), { ...options, kpis: ["latency.p99"], ...(looks ? { looks } : {}) });
        if (d.verdict !== "inconclusive") return d.verdict;
      }
      return "inconclusive";
    };
    const rate = (ratio: number, looks: number | undefined, from: number) => Array.from({ length: 400 }, (_, i) => gate(ratio, from + i, looks)).filter((v) => v === "fail").length / 400;
    const naive = rate(1, undefined, 1);
    const pocock = rate(1, looksFor(30), 1);
    expect(naive).toBeGreaterThan(0.05);
    expect(pocock).toBeLessThanOrEqual(0.05);
    expect(rate(1.1, looksFor(30), 5001)).toBeGreaterThanOrEqual(0.9);
  });

  it("the per-look level for K looks follows Pocock's boundaries", () => {
    expect(perLookConfidence(0.95, 1)).toBe(0.95);
    expect(perLookConfidence(0.95, 5)).toBeCloseTo(1 - 0.0158, 3);
    expect(perLookConfidence(0.95, 10)).toBeCloseTo(1 - 0.0106, 3);
    expect(perLookConfidence(0.95, 20)).toBeCloseTo(1 - 0.0075, 3);
    expect(perLookConfidence(0.95, 40)).toBeGreaterThan(perLookConfidence(0.95, 20));
    expect(perLookConfidence(0.9, 10)).toBeCloseTo(1 - 0.0212, 3);
    expect(looksFor(30)).toBe(28);
  });

  it("resolvable regression shrinks with rounds and grows with noise", () => {
    expect(resolvableRegression(0.03, 10, 0.95)).toBeCloseTo(Math.exp(2.2622 * (0.03 / Math.sqrt(10))) - 1, 3);
    expect(resolvableRegression(0.03, 30, 0.95)).toBeLessThan(resolvableRegression(0.03, 10, 0.95));
    expect(resolvableRegression(0.1, 10, 0.95)).toBeGreaterThan(resolvableRegression(0.03, 10, 0.95));
    expect(resolvableRegression(0.03, 1, 0.95)).toBe(Infinity);
  });

  it("the step's outcome: fail fails; inconclusive follows the setting", () => {
    expect(outcomeOf("fail", "pass")).toBe("fail");
    expect(outcomeOf("pass", "fail")).toBe("pass");
    expect(outcomeOf("inconclusive", "pass")).toBe("pass");
    expect(outcomeOf("inconclusive", "fail")).toBe("fail");
  });
});

const base = {
  workload: { name: "svc", build: { context: "." } },
  traffic: { file: "t.har" },
  parameters: [
    { name: "POOL", type: "int", range: [1, 16], apply: "env" },
    { name: "cpus", type: "float", range: [0.5, 2], apply: "cpus" },
  ],
  current: { POOL: 4, cpus: 1 },
};

function config(extra: Record<string, unknown> = {}): ShadowgateConfig {
  const parsed = parseConfig({ ...base, ...extra });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.config;
}

describe("blocks", () => {
  it("a block is one observation: per side, the geometric mean of its rounds (the mean where a value is 0)", () => {
    const r1 = { base: kpis(40, 500), head: kpis(50, 400) };
    const r2 = { base: kpis(90, 500), head: kpis(80, 625) };
    r1.base["errors.rate"] = 0;
    const block = aggregate([r1, r2]);
    expect(block.base["latency.p99"]).toBeCloseTo(60, 10);
    expect(block.head["latency.p99"]).toBeCloseTo(Math.sqrt(50 * 80), 10);
    expect(block.head["throughput.rps"]).toBeCloseTo(500, 10);
    expect(block.base["errors.rate"]).toBe(0.5);
    // the block's log ratio is the mean of its rounds' log ratios
    expect(Math.log(block.head["latency.p99"] / block.base["latency.p99"])).toBeCloseTo((Math.log(50 / 40) + Math.log(80 / 90)) / 2, 10);
  });
});

describe("gate config", () => {
  it("defaults: duet, 10%, 95%, inconclusive passes, 3 minutes of load, 5 s rounds, four KPIs", () => {
    expect(config().gate).toEqual({
      kpis: ["latency.p99", "latency.p50", "throughput.rps", "cpu.secondsPerRequest"],
      regression: 0.1,
      confidence: 0.95,
      mode: "duet",
      inconclusive: "pass",
      budgetMs: 180_000,
      roundMs: 5000,
    });
  });

  it("reads percentages and durations", () => {
    const gate = config({ gate: { regression: "5%", confidence: "99%", mode: "interleaved", inconclusive: "fail", budget: "2m", round: "3s", kpis: ["latency.p90"] } }).gate;
    expect(gate).toMatchObject({ regression: 0.05, confidence: 0.99, mode: "interleaved", inconclusive: "fail", budgetMs: 120_000, roundMs: 3000, kpis: ["latency.p90"] });
  });

  it("bad gate settings name the field and what was expected", () => {
    const issues = (gate: unknown) => {
      const parsed = parseConfig({ ...base, gate });
      return parsed.ok ? [] : parsed.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    };
    expect(issues({ regression: "150%" })).toEqual([expect.stringMatching(/^gate\.regression: expected a regression threshold like "10%"/)]);
    expect(issues({ confidence: 2 })).toEqual([expect.stringMatching(/^gate\.confidence: expected a confidence like 0\.95/)]);
    expect(issues({ kpis: ["errors.rate"] })).toEqual([expect.stringMatching(/^gate\.kpis\.0: expected KPIs the gate compares by ratio/)]);
    expect(issues({ mode: "fast" })).toEqual([expect.stringMatching(/^gate\.mode: expected "duet"/)]);
    expect(issues({ budget: "10s" })).toEqual([expect.stringMatching(/^gate\.budget: expected at least 78s/)]);
    expect(issues({ round: "500ms", budget: "1m" })).toEqual([expect.stringMatching(/^gate\.round: expected a measured window per round of at least 1s/)]);
  });
});

describe("base and head catalogs", () => {
  it("match when names, types and how values apply agree (ranges may differ)", () => {
    const other = config({ parameters: [{ name: "POOL", type: "int", range: [1, 64], apply: "env" }, base.parameters[1]] });
    expect(catalogMismatch(config(), other)).toBeUndefined();
  });

  it("name each parameter that differs", () => {
    const other = config({ parameters: [{ name: "POOL", type: "float", range: [1, 16], apply: "env" }, { name: "THREADS", type: "int", range: [1, 8], apply: "env" }], current: { POOL: 4, THREADS: 2 } });
    const text = catalogMismatch(config(), other)!;
    expect(text).toMatch(/POOL is float in the base, int in the head/);
    expect(text).toMatch(/cpus only in the head/);
    expect(text).toMatch(/THREADS only in the base/);
  });
});

describe("noise profile", () => {
  it("round-trips and rejects bad documents with the field", () => {
    const result = { mode: "duet", settings: { roundMs: 5000 }, rounds: [{}, {}, {}, {}, {}, {}], blocks: 3, kpis: [{ name: "latency.p99", noise: 0.04, observations: 3 }, { name: "latency.p50", noise: NaN, observations: 3 }] };
    const profile = noiseProfileOf(result as never, "svc", new Date("2026-11-29T12:00:00Z"));
    expect(profile).toEqual({ version: 1, workload: "svc", at: "2026-11-29T12:00:00.000Z", mode: "duet", roundMs: 5000, blocks: 3, kpis: { "latency.p99": 0.04 } });
    expect(parseNoiseProfile(JSON.parse(JSON.stringify(profile)), "svc")).toEqual(profile);
    expect(parseNoiseProfile(profile, "other")).toMatch(/belongs to workload "svc"/);
    expect(parseNoiseProfile({ ...profile, kpis: { "latency.p99": -1 } }, "svc")).toMatch(/kpis\.latency\.p99: expected a number ≥ 0/);
    expect(parseNoiseProfile({ ...profile, kpis: { bogus: 1 } }, "svc")).toMatch(/kpis\.bogus: not a KPI/);
    expect(parseNoiseProfile({ ...profile, blocks: 1 }, "svc")).toMatch(/blocks: expected a whole number ≥ 2/);
    expect(parseNoiseProfile("x", "svc")).toMatch(/not a JSON object/);
  });
});
