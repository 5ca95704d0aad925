import { describe, expect, it } from "vitest";
import { KPI_NAMES, type Configuration, type History, type Kpis, type Trial } from "../../src/core/types.js";
import { recommend, sloBreaches, sloViolation } from "../../src/decide/recommend.js";
import { trainModels } from "../../src/model/forest.js";
import { latinHypercube } from "../../src/search/lhs.js";
import { mulberry32, type Rng } from "../../src/search/random.js";
import { catalog, current, kpisFor, latency, memory } from "../helpers/synthetic-service.js";

// cpus=1, GZIP=false is the optimum (≈4.7 ms at level 1) of the synthetic service.
const optimum: Configuration = { POOL: 12, CACHE: "lru", cpus: 1, GZIP: false };
const p99 = "latency.p99" as const;

function run(runId: string, day: number, anchor: Configuration, configs: Configuration[], level: number, rng: Rng): Trial[] {
  return [anchor, anchor, ...configs].map((config, i) => {
    const kpis = kpisFor(config, level, rng);
    const at = new Date(Date.UTC(2026, 0, day, 12, i)).toISOString();
    return { id: `${runId}-${i}`, runId, at, config, kpis, spread: kpis, anchor: i < 2, requests: 1000 };
  });
}

/** Three runs of 40 LHS trials each at levels 1.0, 1.4 and 0.8 (today), anchored on `anchor`. */
function modelFor(anchor: Configuration, seed = 7) {
  const rng = mulberry32(seed);
  const trials = [
    ...run("r1", 1, anchor, latinHypercube(catalog, 40, rng), 1.0, rng),
    ...run("r2", 2, anchor, latinHypercube(catalog, 40, rng), 1.4, rng),
    ...run("r3", 3, anchor, latinHypercube(catalog, 40, rng), 0.8, rng),
  ];
  const history: History = { version: 1, workload: "synthetic", trials };
  const kpis = [p99, "throughput.rps", "memory.peakMiB"] as const;
  return { model: trainModels(history, catalog, { seed, kpis }), measured: trials.map((t) => t.config) };
}

const objective = { kpi: p99, goal: "minimize" as const };

describe("recommend", () => {
  const { model, measured } = modelFor(current);

  it("finds the known optimum within tolerance", () => {
    const rec = recommend({ model, catalog, current, slo: {}, objective, seed: 1, measured });
    expect(rec.keepCurrent).toBe(false);
    expect(rec.feasible).toBe(true);
    expect(rec.meetsSlo).toBe(true);
    expect(rec.recommended.CACHE).toBe("lru");
    expect(rec.recommended.GZIP).toBe(false);
    expect(rec.recommended.cpus as number).toBeGreaterThan(0.85);
    expect(rec.recommended.POOL as number).toBeGreaterThanOrEqual(6);
    expect(rec.recommended.POOL as number).toBeLessThanOrEqual(24);
    // within 10% of the true optimum (true latencies, not the model's), and no worse than
    // the best configuration measured
    expect(latency(rec.recommended)).toBeLessThan(1.1 * latency(optimum));
    expect(latency(rec.recommended)).toBeLessThanOrEqual(Math.min(...measured.map(latency)) * 1.02);
    expect(rec.changed).toContain("cpus");
    expect(rec.changed).not.toContain("CACHE");
    // predicted improvement close to the true one (≈32%)
    const trueImprovement = 1 - latency(rec.recommended) / latency(current);
    expect(rec.improvement).toBeGreaterThan(trueImprovement - 0.1);
    expect(rec.improvement).toBeLessThan(trueImprovement + 0.1);
    expect(rec.predicted[p99]!.mean).toBeLessThan(rec.current.predicted[p99]!.mean);
    expect(rec.best.probabilityBetter).toBeGreaterThanOrEqual(0.9);
    expect(rec.evaluated).toBeGreaterThan(2000);
  });

  it("respects an SLO on another KPI, on the pessimistic side of the interval", () => {
    const slo = { "memory.peakMiB": 70 }; // POOL ≤ 10
    const rec = recommend({ model, catalog, current, slo, objective, seed: 1, measured });
    expect(rec.meetsSlo).toBe(true);
    expect(rec.meetsSloOnMean).toBe(true);
    expect(rec.predicted["memory.peakMiB"]!.hi).toBeLessThanOrEqual(70);
    expect(memory(rec.recommended)).toBeLessThanOrEqual(70);
    expect(rec.keepCurrent).toBe(false);
    expect(latency(rec.recommended)).toBeLessThan(latency(current));
    // a tighter SLO that the current configuration already breaks moves the pool down
    const tight = recommend({ model, catalog, current, slo: { "memory.peakMiB": 62 }, objective, seed: 1, measured });
    expect(tight.currentBreaches.map((b) => b.kpi)).toEqual(["memory.peakMiB"]);
    expect(tight.keepCurrent).toBe(false);
    expect(memory(tight.recommended)).toBeLessThanOrEqual(62);
    expect(tight.recommended.POOL as number).toBeLessThan(8);
  });

  it("flags the current configuration breaching an SLO: likely on the mean, possible on the interval", () => {
    const now = model.predict([current])[0]!;
    const mean = now[p99]!.mean;
    const hi = now[p99]!.hi;
    expect(hi).toBeGreaterThan(mean);
    const likely = recommend({ model, catalog, current, slo: { [p99]: 0.8 * mean }, objective, seed: 1, measured });
    expect(likely.currentBreaches).toEqual([{ kpi: p99, limit: 0.8 * mean, predicted: expect.objectContaining({ mean }), certainty: "likely" }]);
    const possible = recommend({ model, catalog, current, slo: { [p99]: (mean + hi) / 2 }, objective, seed: 1, measured });
    expect(possible.currentBreaches.map((b) => [b.kpi, b.certainty])).toEqual([[p99, "possible"]]);
    const fine = recommend({ model, catalog, current, slo: { [p99]: 2 * hi }, objective, seed: 1, measured });
    expect(fine.currentBreaches).toEqual([]);
    // throughput is higher-is-better: its SLO is a lower bound
    const rps = now["throughput.rps"]!.mean;
    expect(sloBreaches(now, { "throughput.rps": rps * 2 })).toMatchObject([{ kpi: "throughput.rps", certainty: "likely" }]);
    expect(sloBreaches(now, { "throughput.rps": rps / 2 })).toEqual([]);
    expect(sloViolation(now, { "throughput.rps": rps * 2 }, "mean")).toBeCloseTo(0.5, 9);
  });

  it("recommends the least violation, and says so, when no configuration can meet the SLOs", () => {
    const rec = recommend({ model, catalog, current, slo: { [p99]: 1 }, objective, seed: 1, measured });
    expect(rec.feasible).toBe(false);
    expect(rec.meetsSlo).toBe(false);
    expect(rec.keepCurrent).toBe(false);
    expect(rec.reason).toMatch(/no configuration is predicted to meet every SLO/);
    expect(latency(rec.recommended)).toBeLessThan(1.2 * latency(optimum));
    expect(rec.currentBreaches[0]?.certainty).toBe("likely");
  });

  it("keeps the current configuration when it is already the optimum", () => {
    const at = modelFor(optimum, 13);
    const rec = recommend({ model: at.model, catalog, current: optimum, slo: {}, objective, seed: 1, measured: at.measured });
    expect(rec.keepCurrent).toBe(true);
    expect(rec.recommended).toEqual(optimum);
    expect(rec.changed).toEqual([]);
    expect(rec.improvement).toBe(0);
    expect(rec.reason).toMatch(/no configuration is predicted better|within the model's uncertainty/);
  });

  it("keeps the current configuration when the model cannot predict the objective", () => {
    const thin = trainModels({ version: 1, workload: "w", trials: run("t", 1, current, [], 1, mulberry32(1)) }, catalog, { seed: 1 });
    const rec = recommend({ model: thin, catalog, current, slo: { [p99]: 5 }, objective, seed: 1 });
    expect(rec.keepCurrent).toBe(true);
    expect(rec.reason).toMatch(/cannot predict the objective latency.p99/);
    expect(rec.unchecked).toEqual([p99]);
  });

  it("maximises a higher-is-better objective and is deterministic for a seed", () => {
    const input = { model, catalog, current, slo: {}, objective: { kpi: "throughput.rps" as const, goal: "maximize" as const }, seed: 5, measured, candidates: 500 };
    const rec = recommend(input);
    expect(rec.keepCurrent).toBe(false);
    expect(rec.improvement).toBeGreaterThan(0.2);
    expect(rec.predicted["throughput.rps"]!.mean).toBeGreaterThan(rec.current.predicted["throughput.rps"]!.mean);
    expect(recommend(input)).toEqual(rec);
  });

  describe("with very few trials (wide intervals)", () => {
    // One run: the anchor (the current configuration, p99 72.9 ms), a poor configuration and
    // a clearly better one measured at 19.1 ms, against an SLO of p99 ≤ 60 ms. The intervals
    // are so wide that the current and the better configuration share the same pessimistic
    // bound: they tie on the pessimistic violation, and must not be judged equal.
    const better: Configuration = { POOL: 12, CACHE: "lru", cpus: 1, GZIP: false };
    const poor: Configuration = { POOL: 64, CACHE: "none", cpus: 0.25, GZIP: true };
    const slo = { [p99]: 60 };
    const measuredKpis = (ms: number): Kpis => {
      const kpis = {} as Kpis;
      for (const kpi of KPI_NAMES) kpis[kpi] = ms;
      kpis["throughput.rps"] = 1000 / ms;
      kpis["memory.peakMiB"] = 60;
      kpis["errors.rate"] = 0;
      kpis["non2xx.rate"] = 0;
      return kpis;
    };
    const thinModel = (rows: [Configuration, number, boolean][]) => {
      const trials: Trial[] = rows.map(([config, ms, anchor], i) => ({
        id: `few-${i}`,
        runId: "few",
        at: new Date(Date.UTC(2026, 0, 1, 12, i)).toISOString(),
        config,
        kpis: measuredKpis(ms),
        spread: measuredKpis(ms * 0.02),
        anchor,
        requests: 1000,
      }));
      const model = trainModels({ version: 1, workload: "few", trials }, catalog, { seed: 1, kpis: [p99, "throughput.rps", "memory.peakMiB"] });
      return { model, measured: trials.map((t) => t.config) };
    };
    const three = thinModel([
      [current, 72.9, true],
      [poor, 158.9, false],
      [better, 19.1, false],
    ]);
    const four = thinModel([
      [current, 72.9, true],
      [current, 71.6, true],
      [poor, 158.9, false],
      [better, 19.1, false],
    ]);

    it("reproduces the tie: no configuration meets the SLO pessimistically, the current one breaches it on the mean", () => {
      const [now, other] = three.model.predict([current, better]);
      expect(now![p99]!.hi).toBe(other![p99]!.hi);
      expect(now![p99]!.hi).toBeGreaterThan(60);
      expect(now![p99]!.mean).toBeGreaterThan(60);
      expect(other![p99]!.mean).toBeLessThan(60);
    });

    it("ranks the configuration that meets the SLO on the mean first, and says why it is (not) taken", () => {
      const rec = recommend({ model: three.model, catalog, current, slo, objective, seed: 1, measured: three.measured });
      expect(rec.reason).not.toMatch(/violate them less/);
      expect(rec.feasible).toBe(false);
      expect(rec.currentBreaches).toMatchObject([{ kpi: p99, certainty: "likely" }]);
      // the search's best is the better configuration, meeting the SLO on the mean
      expect(rec.best.config).toEqual(better);
      expect(rec.best.meetsSlo).toBe(false);
      expect(sloViolation(rec.best.predicted, slo, "mean")).toBe(0);
      // 3 rows: most trees cannot tell the two apart, so the default 90% is not reached
      expect(rec.best.probabilityBetter).toBeLessThan(0.9);
      expect(rec.keepCurrent).toBe(true);
      expect(rec.meetsSlo).toBe(false);
      expect(rec.meetsSloOnMean).toBe(false);
      expect(rec.reason).toMatch(/meets them there is better on latency.p99 in only \d+% of paired tree predictions \(needs ≥ 90%\)/);
      // with the paired draws passing the configured share, it is recommended
      const confident = recommend({ model: three.model, catalog, current, slo, objective, seed: 1, measured: three.measured, confidence: 0.6 });
      expect(confident.keepCurrent).toBe(false);
      expect(confident.recommended).toEqual(better);
      expect(confident.feasible).toBe(false);
      expect(confident.meetsSlo).toBe(false);
      expect(confident.meetsSloOnMean).toBe(true);
      expect(confident.predicted[p99]!.mean).toBeLessThan(60);
      expect(confident.improvement).toBeGreaterThan(0);
      expect(confident.changed.sort()).toEqual(["POOL", "cpus"]);
      expect(confident.reason).toMatch(/the current one breaches them on the predicted mean, this one meets them there/);
    });

    it("recommends the better configuration from four rows, consistent about the SLO", () => {
      const rec = recommend({ model: four.model, catalog, current, slo, objective, seed: 1, measured: four.measured });
      expect(rec.keepCurrent).toBe(false);
      expect(rec.recommended).toEqual(better);
      expect(rec.feasible).toBe(false);
      expect(rec.meetsSlo).toBe(false);
      expect(rec.meetsSloOnMean).toBe(true);
      expect(rec.meetsSloOnMean).toBe(sloViolation(rec.predicted, slo, "mean") === 0);
      expect(rec.meetsSlo).toBe(sloViolation(rec.predicted, slo, "pessimistic") === 0);
      expect(rec.reason).toMatch(/violates them least and meets them on the predicted means/);
    });
  });
});
