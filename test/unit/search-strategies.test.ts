import { describe, expect, it } from "vitest";
import type { Configuration, ParameterCatalog } from "../../src/core/types.js";
import { featureEncoder } from "../../src/model/features.js";
import { mulberry32 } from "../../src/search/random.js";
import { changedParams, configKey } from "../../src/search/space.js";
import { predictObjective, STRATEGIES, strategyFor } from "../../src/search/strategies.js";
import { STRATEGY_NAMES, StrategyError, type Constraint, type Observation, type ProposeContext } from "../../src/search/types.js";
import { env, mixedCatalog, mixedCurrent } from "../helpers/mixed-catalog.js";


const catalog = mixedCatalog;
const current = mixedCurrent;

/** A synthetic objective (lower is better), best at POOL_SIZE 16, WORKERS 6, lfu, gzip, cpus 0.75. */
const objective = (c: Configuration): number =>
  (Math.log2(Number(c.POOL_SIZE)) - 4) ** 2 +
  (Number(c.WORKERS) - 6) ** 2 / 4 +
  (c.CACHE_MODE === "lfu" ? 0 : 2) +
  (c.GZIP === true ? 0 : 0.5) +
  3 * (Number(c.cpus) - 0.75) ** 2 +
  0.1 * Math.abs(Math.log10(Number(c.TIMEOUT_MS)) - 2);

const observed = (configs: Configuration[]): Observation[] => configs.map((config) => ({ config, value: objective(config) }));

const observations = observed([
  current,
  { ...current, WORKERS: 4 },
  { ...current, CACHE_MODE: "lfu" },
  { ...current, POOL_SIZE: 32, GZIP: true },
  { POOL_SIZE: 2, WORKERS: 7, CACHE_MODE: "none", GZIP: true, cpus: 0.9, TIMEOUT_MS: 5 },
  { POOL_SIZE: 64, WORKERS: 1, CACHE_MODE: "lfu", GZIP: false, cpus: 0.3, TIMEOUT_MS: 900 },
]);

const ctxOf = (over: Partial<ProposeContext> = {}): ProposeContext => ({ catalog, constraints: [], current, observations, seed: 1, ...over });
const key = (c: Configuration): string => configKey(catalog, c);

const workersVsPool: Constraint = {
  source: "WORKERS * 2 <= POOL_SIZE",
  parameters: ["WORKERS", "POOL_SIZE"],
  holds: (c) => Number(c.WORKERS) * 2 <= Number(c.POOL_SIZE),
};
const gzipNeedsCache: Constraint = {
  source: "GZIP implies CACHE_MODE != none",
  parameters: ["GZIP", "CACHE_MODE"],
  holds: (c) => c.GZIP !== true || c.CACHE_MODE !== "none",
};
const impossible: Constraint = {
  source: "cpus > 2",
  parameters: ["cpus"],
  holds: (c) => Number(c.cpus) > 2,
};

/** Distinct configurations of a coarse grid (13,440 of them), in seeded order. */
function candidateSet(count: number, seed: number): Configuration[] {
  const rng = mulberry32(seed);
  const seen = new Set<string>();
  const out: Configuration[] = [];
  while (out.length < count) {
    const c: Configuration = {
      POOL_SIZE: 2 ** Math.floor(rng() * 7),
      WORKERS: 1 + Math.floor(rng() * 8),
      CACHE_MODE: ["none", "lru", "lfu"][Math.floor(rng() * 3)]!,
      GZIP: rng() < 0.5,
      cpus: [0.25, 0.5, 0.75, 1][Math.floor(rng() * 4)]!,
      TIMEOUT_MS: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000][Math.floor(rng() * 10)]!,
    };
    if (!seen.has(key(c))) {
      seen.add(key(c));
      out.push(c);
    }
  }
  return out;
}

/** Every catalog value is of its parameter's type and range. */
function expectValid(c: Configuration): void {
  for (const spec of catalog) {
    const v = c[spec.name];
    if (spec.type === "bool") expect(typeof v).toBe("boolean");
    else if (spec.type === "enum") expect(spec.values).toContain(v);
    else {
      expect(typeof v).toBe("number");
      expect(v as number).toBeGreaterThanOrEqual(spec.min);
      expect(v as number).toBeLessThanOrEqual(spec.max);
      if (spec.type === "int") expect(Number.isInteger(v)).toBe(true);
    }
  }
}

function expectDistinctAndNew(proposals: Configuration[], measured: readonly Observation[]): void {
  const keys = proposals.map(key);
  expect(new Set(keys).size).toBe(keys.length);
  const old = new Set(measured.map((o) => key(o.config)));
  for (const k of keys) expect(old.has(k)).toBe(false);
}

describe.each(STRATEGY_NAMES)("strategy %s: the shared rules", (name) => {
  const strategy = STRATEGIES[name];

  it("is named and found by name", () => {
    expect(strategy.name).toBe(name);
    expect(strategyFor(name)).toBe(strategy);
  });

  it("is deterministic given the context and seed, and seeds differ", () => {
    for (const measured of [observations, []]) {
      const a = strategy.propose(ctxOf({ observations: measured }), 6);
      expect(strategy.propose(ctxOf({ observations: measured }), 6)).toEqual(a);
      expect(strategy.propose(ctxOf({ observations: measured, seed: 2 }), 6)).not.toEqual(a);
    }
  });

  it("proposes n distinct, unmeasured configurations of valid int, float (linear, log), enum and bool values", () => {
    const proposals = strategy.propose(ctxOf(), 12);
    expect(proposals).toHaveLength(12);
    expectDistinctAndNew(proposals, observations);
    proposals.forEach(expectValid);
  });

  it("reads measured values given as strings when avoiding them", () => {
    const asStrings = observations.map((o) => ({ ...o, config: Object.fromEntries(Object.entries(o.config).map(([k, v]) => [k, String(v)])) }));
    const proposals = strategy.propose(ctxOf({ observations: asStrings }), 12);
    expectDistinctAndNew(proposals, observations);
  });

  it("satisfies every constraint", () => {
    const constraints = [workersVsPool, gzipNeedsCache];
    const proposals = strategy.propose(ctxOf({ constraints }), 10);
    expect(proposals).toHaveLength(10);
    expectDistinctAndNew(proposals, observations);
    for (const p of proposals) for (const c of constraints) expect(c.holds(p)).toBe(true);
  });

  it("proposes from the candidates only, within the constraints", () => {
    const candidates = candidateSet(300, 5);
    const measured = observed(candidates.slice(0, 10));
    const allowed = new Set(candidates.map(key));
    const proposals = strategy.propose(ctxOf({ candidates, observations: measured, constraints: [workersVsPool] }), 8);
    expect(proposals).toHaveLength(8);
    expectDistinctAndNew(proposals, measured);
    for (const p of proposals) {
      expect(allowed.has(key(p))).toBe(true);
      expect(workersVsPool.holds(p)).toBe(true);
    }
  });

  it("returns fewer only when the candidates run out", () => {
    const candidates = candidateSet(12, 6);
    const measured = observed(candidates.slice(0, 4));
    const feasible = candidates.slice(4).filter((c) => gzipNeedsCache.holds(c));
    const proposals = strategy.propose(ctxOf({ candidates, observations: measured, constraints: [gzipNeedsCache] }), 20);
    expect(proposals.map(key).sort()).toEqual(feasible.map(key).sort());
    expect(strategy.propose(ctxOf({ candidates: [], observations: measured }), 3)).toEqual([]);
  });

  it("exhausts a small discrete space exactly", () => {
    const small: ParameterCatalog = [
      { name: "MODE", type: "enum", values: ["a", "b", "c"], apply: env("MODE") },
      { name: "ON", type: "bool", apply: env("ON") },
      { name: "LEVEL", type: "int", min: 1, max: 3, scale: "linear", apply: env("LEVEL") },
    ];
    const base: Configuration = { MODE: "a", ON: false, LEVEL: 1 };
    const measured: Observation[] = [base, { MODE: "b", ON: true, LEVEL: 2 }, { MODE: "c", ON: false, LEVEL: 3 }].map((config, i) => ({ config, value: i }));
    const proposals = strategy.propose({ catalog: small, constraints: [], current: base, observations: measured, seed: 3 }, 40);
    expect(proposals).toHaveLength(3 * 2 * 3 - 3);
    expect(new Set(proposals.map((p) => configKey(small, p))).size).toBe(15);
  });

  it("throws a StrategyError naming a constraint nothing satisfies", () => {
    for (const over of [{}, { candidates: candidateSet(50, 7) }]) {
      const run = () => strategy.propose(ctxOf({ ...over, constraints: [gzipNeedsCache, impossible] }), 3);
      expect(run).toThrow(StrategyError);
      expect(run).toThrow(/"cpus > 2"/);
    }
  });

  it("proposes nothing for n = 0", () => {
    expect(strategy.propose(ctxOf(), 0)).toEqual([]);
  });
});

describe("strategyFor", () => {
  it("rejects an unknown name", () => {
    expect(() => strategyFor("annealing")).toThrow(StrategyError);
  });
});

describe("grid", () => {
  it("stays on a few levels per numeric parameter, log-spaced where the scale is log", () => {
    const proposals = STRATEGIES.grid.propose(ctxOf({ observations: [] }), 30);
    for (const p of proposals) {
      expect([1, 8, 64]).toContain(p.POOL_SIZE);
      expect([1, 5, 8]).toContain(p.WORKERS);
      expect([1, 31.6, 1000]).toContain(p.TIMEOUT_MS);
    }
  });

  it("visits the grid spread out, not in lexicographic order", () => {
    const [first, second] = STRATEGIES.grid.propose(ctxOf({ observations: [] }), 2);
    expect(changedParams(catalog, first!, second!).length).toBe(catalog.length);
  });
});

describe("lhs", () => {
  it("stratifies each parameter: 8 points hit each of 8 integers once", () => {
    const proposals = STRATEGIES.lhs.propose(ctxOf({ observations: [] }), 8);
    expect(proposals.map((p) => p.WORKERS).sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});

describe("halton", () => {
  it("spreads over the space: 16 points cover both halves of every numeric range", () => {
    const proposals = STRATEGIES.halton.propose(ctxOf({ observations: [] }), 16);
    for (const name of ["WORKERS", "cpus"]) {
      const values = proposals.map((p) => p[name] as number);
      const mid = name === "WORKERS" ? 4.5 : 0.625;
      expect(values.filter((v) => v < mid).length).toBeGreaterThanOrEqual(5);
      expect(values.filter((v) => v > mid).length).toBeGreaterThanOrEqual(5);
    }
  });
});

describe("history", () => {
  it("proposes neighbours of the best observations: one or two parameters changed", () => {
    const best = [...observations].sort((a, b) => a.value - b.value).slice(0, 3);
    const proposals = STRATEGIES.history.propose(ctxOf(), 9);
    for (const p of proposals) {
      const distance = Math.min(...best.map((o) => changedParams(catalog, o.config, p).length));
      expect(distance).toBeGreaterThanOrEqual(1);
      expect(distance).toBeLessThanOrEqual(2);
    }
    // the best observation is the first one whose neighbourhood is visited
    expect(changedParams(catalog, best[0]!.config, proposals[0]!)).toHaveLength(1);
  });

  it("starts from the configuration in use when nothing was measured", () => {
    const proposals = STRATEGIES.history.propose(ctxOf({ observations: [] }), 5);
    expect(proposals[0]).toEqual(current);
    for (const p of proposals.slice(1)) expect(changedParams(catalog, current, p).length).toBeLessThanOrEqual(2);
  });

  it("takes the nearest candidates of the best observation", () => {
    const candidates = candidateSet(300, 8);
    const measured = observed(candidates.slice(0, 20));
    const best = [...measured].sort((a, b) => a.value - b.value)[0]!;
    const [first] = STRATEGIES.history.propose(ctxOf({ candidates, observations: measured }), 1);
    const minChanged = Math.min(...candidates.slice(20).map((c) => changedParams(catalog, best.config, c).length));
    expect(changedParams(catalog, best.config, first!).length).toBe(minChanged);
  });
});

describe("model", () => {
  /** Trials until the best candidate is measured, proposing one at a time. */
  function trialsToBest(name: "model" | "random", candidates: Configuration[], seed: number): number {
    const best = Math.min(...candidates.map(objective));
    const measured: Observation[] = [];
    while (measured.length < candidates.length) {
      const [next] = STRATEGIES[name].propose(ctxOf({ candidates, observations: measured, seed }), 1);
      measured.push({ config: next!, value: objective(next!) });
      if (objective(next!) === best) break;
    }
    return measured.length;
  }

  it("finds the best of 500 candidates in far fewer trials than random", () => {
    const candidates = candidateSet(500, 9);
    const seeds = [1, 2, 3, 4, 5];
    const mean = (name: "model" | "random") => seeds.reduce((s, seed) => s + trialsToBest(name, candidates, seed), 0) / seeds.length;
    const model = mean("model");
    const random = mean("random");
    expect(model).toBeLessThan(random / 2);
    expect(model).toBeLessThan(100);
  });

  it("spreads a batch: its picks are not all next to each other", () => {
    const candidates = candidateSet(300, 10);
    const encoder = featureEncoder(catalog);
    const point = (c: Configuration) => encoder.normalize(encoder.encode(c));
    for (const over of [{}, { candidates, observations: observed(candidates.slice(0, 20)) }]) {
      const batch = STRATEGIES.model.propose(ctxOf(over), 4).map(point);
      expect(batch).toHaveLength(4);
      for (let i = 0; i < batch.length; i++) {
        for (let j = i + 1; j < batch.length; j++) {
          const d = Math.hypot(...batch[i]!.map((x, k) => x - batch[j]![k]!));
          expect(d).toBeGreaterThan(0.15);
        }
      }
    }
  });

  it("proposes a Latin hypercube while fewer than 3 distinct configurations were measured", () => {
    const few = [observations[0]!, observations[0]!, observations[1]!];
    expect(STRATEGIES.model.propose(ctxOf({ observations: few }), 4)).toEqual(STRATEGIES.lhs.propose(ctxOf({ observations: few }), 4));
  });

  it("samples a candidate set larger than it scores exactly, still only from the set", () => {
    const candidates = candidateSet(6000, 11);
    const measured = observed(candidates.slice(0, 30));
    const allowed = new Set(candidates.map(key));
    const proposals = STRATEGIES.model.propose(ctxOf({ candidates, observations: measured }), 4);
    expect(proposals).toHaveLength(4);
    expectDistinctAndNew(proposals, measured);
    for (const p of proposals) expect(allowed.has(key(p))).toBe(true);
  });
});

describe("predictObjective", () => {
  it("has no prediction before 3 distinct configurations are measured", () => {
    expect(predictObjective(ctxOf({ observations: observations.slice(0, 2) }), [current])).toBeUndefined();
  });

  it("predicts the objective's mean and spread, ranking a good configuration above a bad one", () => {
    const candidates = candidateSet(300, 12);
    const measured = observed(candidates.slice(0, 120));
    const good: Configuration = { POOL_SIZE: 16, WORKERS: 6, CACHE_MODE: "lfu", GZIP: true, cpus: 0.75, TIMEOUT_MS: 100 };
    const bad: Configuration = { POOL_SIZE: 1, WORKERS: 1, CACHE_MODE: "none", GZIP: false, cpus: 0.25, TIMEOUT_MS: 1000 };
    const [g, b] = predictObjective(ctxOf({ observations: measured }), [good, bad])!;
    expect(g!.mean).toBeLessThan(b!.mean);
    expect(g!.sd).toBeGreaterThanOrEqual(0);
  });
});
