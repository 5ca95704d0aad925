import { describe, expect, it } from "vitest";
import type { Configuration, History, KpiPredictions, Prediction, PredictiveModel, Trial } from "../../src/core/types.js";
import { recommend, sloBreaches, sloViolation } from "../../src/decide/recommend.js";
import { trainModels } from "../../src/model/forest.js";
import { latinHypercube } from "../../src/search/lhs.js";
import { mulberry32, type Rng } from "../../src/search/random.js";
import { configKey } from "../../src/search/space.js";
import { compileConstraints } from "../../src/search/constraints.js";
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

  it("never recommends a configuration that breaks a declared constraint", () => {
    // the unconstrained optimum has cpus ≈ 1; the rule keeps the CPU share below it
    const rule = compileConstraints(["cpus <= 0.75"], catalog);
    const rec = recommend({ model, catalog, current, slo: {}, objective, seed: 1, measured, constraints: rule });
    expect(rec.recommended.cpus as number).toBeLessThanOrEqual(0.75);
    expect(rec.best.config.cpus as number).toBeLessThanOrEqual(0.75);
    expect(rule[0]!.holds(rec.recommended)).toBe(true);
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
    // The situation of a model trained on a single run: the anchor (the current configuration,
    // p99 72.9 ms), a poor configuration and a clearly better one measured at 19.1 ms, against
    // an SLO of p99 ≤ 60 ms. The intervals are so wide that the current and the better
    // configuration share the same pessimistic bound: they tie on the pessimistic violation,
    // and must not be judged equal. A hand-built model stands for it, so that the decision
    // logic is tested independently of any forest's quirks.
    const better: Configuration = { POOL: 12, CACHE: "lru", cpus: 1, GZIP: false };
    const slo = { [p99]: 60 };
    const TREES = 20;

    interface Scenario {
      /** predicted p99 mean and pessimistic bound of the current configuration */
      currentMean: number;
      currentHi: number;
      /** pessimistic p99 bound of the configurations near `better` */
      betterHi: number;
      /** trees (of TREES) in which a configuration near `better` is NOT better than the current one */
      losing: number;
    }

    /**
     * A PredictiveModel for any configuration: the current one as given; configurations near
     * `better` (lru, no gzip, POOL 10–16, cpus ≥ 0.75) at 19.1 ms for `better` itself, rising
     * to ≈ 27 ms away from it; every other one far worse (160 ms, bound 400 ms). Per-tree draws
     * are paired by index: in the first `losing` trees the current configuration is predicted
     * low and the configurations near `better` high (they lose there), elsewhere the reverse.
     * Draws average to the mean.
     */
    const stubModel = (scenario: Scenario): PredictiveModel => {
      const { currentMean, currentHi, betterHi, losing } = scenario;
      // `losing` trees at `first` times the mean, the others scaled so that all average to 1
      const pattern = (first: number): number[] => {
        const rest = (TREES - losing * first) / (TREES - losing);
        return Array.from({ length: TREES }, (_, i) => (i < losing ? first : rest));
      };
      const currentPattern = pattern(0.5); // low where the others lose
      const betterPattern = pattern(2.5); // high where they lose
      const flat = Array.from({ length: TREES }, () => 1);
      const sdOf = (draws: number[]): number => {
        const m = draws.reduce((a, b) => a + b, 0) / draws.length;
        return Math.sqrt(draws.reduce((a, b) => a + (b - m) ** 2, 0) / (draws.length - 1));
      };
      const prediction = (mean: number, lo: number, hi: number, factors: number[], draws: boolean): Prediction => {
        const values = factors.map((f) => mean * f);
        return { mean, sd: sdOf(values), lo, hi, ...(draws ? { draws: values } : {}) };
      };
      const nearBetter = (c: Configuration): boolean =>
        c.CACHE === "lru" && c.GZIP === false && (c.POOL as number) >= 10 && (c.POOL as number) <= 16 && (c.cpus as number) >= 0.75;
      const predictOne = (c: Configuration, draws: boolean): Partial<KpiPredictions> => {
        let latencyP: Prediction;
        if (configKey(catalog, c) === configKey(catalog, current)) {
          latencyP = prediction(currentMean, 20, currentHi, currentPattern, draws);
        } else if (nearBetter(c)) {
          // strictly smallest at `better` itself
          const mean = 19.1 + 8 * Math.abs(Math.log2((c.POOL as number) / 12)) + 20 * (1 - (c.cpus as number));
          latencyP = prediction(mean, 5, betterHi, betterPattern, draws);
        } else {
          latencyP = prediction(160, 90, 400, flat, draws);
        }
        const rps: Prediction = {
          mean: 1000 / latencyP.mean,
          sd: (1000 / latencyP.mean) * (latencyP.sd / latencyP.mean),
          lo: 1000 / latencyP.hi,
          hi: 1000 / latencyP.lo,
          ...(latencyP.draws ? { draws: latencyP.draws.map((d) => 1000 / d) } : {}),
        };
        const mib = 50 + 2 * (c.POOL as number);
        const memoryP = prediction(mib, 0.95 * mib, 1.05 * mib, flat, draws);
        return { [p99]: latencyP, "throughput.rps": rps, "memory.peakMiB": memoryP };
      };
      return {
        kpis: [p99, "throughput.rps", "memory.peakMiB"],
        predict: (configs, options) => configs.map((c) => predictOne(c, options?.draws === true)),
        toJSON: () => ({ stub: scenario }),
      };
    };

    // one run: the pessimistic bounds tie; the better configuration wins 70% of paired draws
    const three = stubModel({ currentMean: 72.9, currentHi: 170, betterHi: 170, losing: 6 });
    const measured = [current, { POOL: 64, CACHE: "none", cpus: 0.25, GZIP: true }, better];

    it("reproduces the tie: no configuration meets the SLO pessimistically, the current one breaches it on the mean", () => {
      const [now, other] = three.predict([current, better]);
      expect(now![p99]!.hi).toBe(other![p99]!.hi);
      expect(now![p99]!.hi).toBeGreaterThan(60);
      expect(now![p99]!.mean).toBeGreaterThan(60);
      expect(other![p99]!.mean).toBeLessThan(60);
      // as recommend() sees it: tied on the pessimistic side, apart on the means
      expect(sloViolation(now!, slo, "pessimistic")).toBeGreaterThan(0);
      expect(sloViolation(other!, slo, "pessimistic")).toBe(sloViolation(now!, slo, "pessimistic"));
      expect(sloViolation(now!, slo, "mean")).toBeGreaterThan(0);
      expect(sloViolation(other!, slo, "mean")).toBe(0);
      expect(sloBreaches(now!, slo)).toMatchObject([{ kpi: p99, certainty: "likely" }]);
      expect(sloBreaches(other!, slo)).toMatchObject([{ kpi: p99, certainty: "possible" }]);
      // the paired draws: better in 70% of the trees
      const [nowDraws, otherDraws] = three.predict([current, better], { draws: true });
      const a = nowDraws![p99]!.draws!;
      const b = otherDraws![p99]!.draws!;
      expect(b).toHaveLength(a.length);
      expect(a.filter((x, i) => b[i]! < x).length / a.length).toBe(0.7);
    });

    it("ranks the configuration that meets the SLO on the mean first, and says why it is (not) taken", () => {
      const rec = recommend({ model: three, catalog, current, slo, objective, seed: 1, measured });
      expect(rec.reason).not.toMatch(/violate them less/);
      expect(rec.feasible).toBe(false);
      expect(rec.currentBreaches).toMatchObject([{ kpi: p99, certainty: "likely" }]);
      // the search's best is the better configuration, meeting the SLO on the mean
      expect(rec.best.config).toEqual(better);
      expect(rec.best.meetsSlo).toBe(false);
      expect(sloViolation(rec.best.predicted, slo, "mean")).toBe(0);
      // better in only 70% of the paired draws: the default 90% is not reached
      expect(rec.best.probabilityBetter).toBeCloseTo(0.7, 12);
      expect(rec.keepCurrent).toBe(true);
      expect(rec.recommended).toEqual(current);
      expect(rec.changed).toEqual([]);
      expect(rec.improvement).toBe(0);
      expect(rec.meetsSlo).toBe(false);
      expect(rec.meetsSloOnMean).toBe(false);
      expect(rec.reason).toMatch(/meets them there is better on latency.p99 in only 70% of paired tree predictions \(needs ≥ 90%\)/);
      // with the paired draws passing the configured share, it is recommended
      const confident = recommend({ model: three, catalog, current, slo, objective, seed: 1, measured, confidence: 0.6 });
      expect(confident.keepCurrent).toBe(false);
      expect(confident.recommended).toEqual(better);
      expect(confident.feasible).toBe(false);
      expect(confident.meetsSlo).toBe(false);
      expect(confident.meetsSloOnMean).toBe(true);
      expect(confident.predicted[p99]!.mean).toBeLessThan(60);
      expect(confident.improvement).toBeCloseTo(1 - 19.1 / 72.9, 9);
      expect(confident.changed.sort()).toEqual(["POOL", "cpus"]);
      expect(confident.reason).toMatch(
        /the current one breaches them on the predicted mean, this one meets them there and is predicted 73\.8% better on latency.p99 in 70% of paired tree predictions/,
      );
      // ... but not above the share the draws give it
      const tooConfident = recommend({ model: three, catalog, current, slo, objective, seed: 1, measured, confidence: 0.75 });
      expect(tooConfident.keepCurrent).toBe(true);
    });

    it("recommends the better configuration from four rows, consistent about the SLO", () => {
      // A second measurement of the current configuration: its pessimistic bound is now clearly
      // (≥ 10% of the violation) above the better configuration's, which wins 95% of the draws.
      const four = stubModel({ currentMean: 72.25, currentHi: 170, betterHi: 140, losing: 1 });
      const rec = recommend({ model: four, catalog, current, slo, objective, seed: 1, measured: [current, ...measured] });
      expect(rec.keepCurrent).toBe(false);
      expect(rec.recommended).toEqual(better);
      expect(rec.best.probabilityBetter).toBeCloseTo(0.95, 12);
      expect(rec.feasible).toBe(false);
      expect(rec.meetsSlo).toBe(false);
      expect(rec.meetsSloOnMean).toBe(true);
      expect(rec.meetsSloOnMean).toBe(sloViolation(rec.predicted, slo, "mean") === 0);
      expect(rec.meetsSlo).toBe(sloViolation(rec.predicted, slo, "pessimistic") === 0);
      expect(sloViolation(rec.predicted, slo, "pessimistic")).toBeLessThan(0.9 * sloViolation(rec.current.predicted, slo, "pessimistic"));
      expect(rec.currentBreaches).toMatchObject([{ kpi: p99, certainty: "likely" }]);
      expect(rec.reason).toMatch(/violates them least and meets them on the predicted means/);
    });
  });
});
