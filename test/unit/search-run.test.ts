import { describe, expect, it } from "vitest";
import type { Configuration, Kpis, ParameterCatalog, Trial } from "../../src/core/types.js";
import { newAgentState } from "../../src/search/agent.js";
import { SearchLoop, type SearchSettings } from "../../src/search/run-search.js";
import { expectedImprovement } from "../../src/search/surrogate.js";
import { StrategyError, type Strategy, type StrategyName } from "../../src/search/types.js";
import { tableSpace, benchSearch, searchBenchJson } from "../../src/bench/search-bench.js";
import type { PerfData } from "../../src/bench/perf-data.js";

const catalog: ParameterCatalog = [{ name: "P", type: "int", min: 1, max: 64, scale: "linear", apply: { kind: "env", name: "P" } }];

/** Proposes P = 2, 3, 4, … (skipping measured values), recording what it was asked for. */
function countingStrategy(name: StrategyName, asked: { name: StrategyName; n: number }[]): Strategy {
  return {
    name,
    propose(ctx, n) {
      asked.push({ name, n });
      const taken = new Set(ctx.observations.map((o) => o.config.P));
      const out: Configuration[] = [];
      for (let p = 2; p <= 64 && out.length < n; p++) if (!taken.has(p)) out.push({ P: p });
      return out;
    },
  };
}

const settings = (over: Partial<SearchSettings> = {}): SearchSettings => ({
  catalog,
  constraints: [],
  current: { P: 1 },
  objective: { kpi: "latency.p99", goal: "minimize" },
  trials: 7,
  parallel: 3,
  seed: 1,
  strategy: "adaptive",
  ...over,
});

let ids = 0;
function trial(config: Configuration, p99: number, anchor: boolean, runId = "now"): Trial {
  const kpis = { "latency.p99": p99 } as Kpis;
  return { id: `t${ids++}`, runId, at: "2026-11-29T00:00:00Z", config, kpis, spread: kpis, anchor, requests: 100 };
}

/** Runs the loop against a fake measurement: p99 = 100 / P (bigger pools are faster). */
function run(loop: SearchLoop, previous?: Configuration) {
  const all: Trial[] = [];
  const batches = [];
  for (let next = loop.nextBatch(previous); next; next = loop.nextBatch()) {
    batches.push(next);
    const measured = next.items.map((item) => trial(item.config, 100 / (item.config.P as number), item.anchor));
    all.push(...measured);
    loop.measured(next, measured, all);
  }
  return { batches, all };
}

describe("SearchLoop", () => {
  it("measures the anchor first, fills batches to `parallel`, and stops at the trial budget", () => {
    const asked: { name: StrategyName; n: number }[] = [];
    const loop = new SearchLoop(settings(), [], newAgentState(), { strategyFor: (name) => countingStrategy(name, asked) });
    const { batches } = run(loop);
    expect(batches.map((b) => b.items.length)).toEqual([3, 3, 1]);
    expect(batches[0]!.items[0]).toEqual({ config: { P: 1 }, anchor: true });
    expect(batches.flatMap((b) => b.proposals).length).toBe(6);
    expect(batches.at(-1)!.last).toBe(true);
    // too few measurements for a model: the agent fills the space first
    expect(asked[0]).toEqual({ name: "lhs", n: 2 });
    const summary = loop.summary();
    expect(summary.stoppedEarly).toBeNull();
    expect(summary.batches.map((b) => b.improved)).toEqual([true, true, true]);
    expect(summary.line).toMatch(/^search: the agent chose space filling \(Latin hypercube\) ×\d/);
  });

  it("adds the previous anchor to the first batch (the bridge) without counting it against the budget", () => {
    const loop = new SearchLoop(settings({ trials: 3, parallel: 4 }), [], newAgentState(), { strategyFor: (name) => countingStrategy(name, []) });
    const { batches } = run(loop, { P: 40 });
    expect(batches[0]!.items.map((i) => i.config.P)).toEqual([1, 40, 2, 3]);
    expect(batches).toHaveLength(1);
  });

  it("uses the configured strategy for every batch and says so", () => {
    const asked: { name: StrategyName; n: number }[] = [];
    const loop = new SearchLoop(settings({ strategy: "random" }), [], newAgentState(), { strategyFor: (name) => countingStrategy(name, asked) });
    run(loop);
    expect(new Set(asked.map((a) => a.name))).toEqual(new Set(["random"]));
    expect(loop.summary().line).toMatch(/^search: fixed strategy: random ×3; last because set in the config/);
  });

  it("stops when another batch would pass the time budget", () => {
    let clock = 0;
    const loop = new SearchLoop(settings({ trials: 20, parallel: 2, timeBudgetMs: 250 }), [], newAgentState(), {
      strategyFor: (name) => countingStrategy(name, []),
      now: () => clock,
    });
    const all: Trial[] = [];
    let batches = 0;
    for (let next = loop.nextBatch(); next; next = loop.nextBatch()) {
      batches++;
      clock += 100; // every batch takes 100 ms
      const measured = next.items.map((item) => trial(item.config, 10, item.anchor));
      all.push(...measured);
      loop.measured(next, measured, all);
    }
    expect(batches).toBe(2);
    expect(loop.summary().stoppedEarly).toMatch(/time budget \(0\.3 s\) would be exceeded by another batch/);
  });

  it("stops model-guided search when the model expects no worthwhile improvement", () => {
    const history = [trial({ P: 1 }, 10, true, "old"), ...[2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((p) => trial({ P: p }, 10, false, "old"))];
    const loop = new SearchLoop(settings({ trials: 10, parallel: 2 }), history, newAgentState(), {
      strategyFor: (name) => countingStrategy(name, []),
      // the model is sure nothing beats the best (value 0 = the anchor's level)
      predict: (_ctx, configs) => configs.map(() => ({ mean: 0.5, sd: 0.01 })),
    });
    const { batches } = run(loop);
    expect(batches).toHaveLength(1);
    expect(loop.summary().stoppedEarly).toMatch(/^expected improvement negligible/);
  });

  it("learns: the agent's state records each batch's reward", () => {
    const loop = new SearchLoop(settings(), [], newAgentState(), { strategyFor: (name) => countingStrategy(name, []) });
    run(loop);
    expect(loop.agent.batches).toBe(3);
  });
});

describe("SearchLoop when things go wrong", () => {
  it("ends the search with a reason, keeping what was measured, when a strategy finds nothing to propose", () => {
    let calls = 0;
    const flaky: Strategy = {
      name: "random",
      propose(ctx, n) {
        calls++;
        if (calls === 2) throw new StrategyError('no configuration satisfies the constraint "X == 4096" (6300 configurations checked)');
        return countingStrategy("random", []).propose(ctx, n);
      },
    };
    const loop = new SearchLoop(settings({ strategy: "random" }), [], newAgentState(), { strategyFor: () => flaky });
    const { batches } = run(loop);
    expect(batches).toHaveLength(1);
    expect(loop.summary().stoppedEarly).toMatch(/^random found nothing to propose: no configuration satisfies the constraint "X == 4096"/);
    // in the first batch: the current configuration is still measured
    const failing: Strategy = { name: "lhs", propose: () => { throw new StrategyError("nothing fits"); } };
    const first = new SearchLoop(settings(), [], newAgentState(), { strategyFor: () => failing });
    const measured = run(first);
    expect(measured.batches.map((b) => b.items)).toEqual([[{ config: { P: 1 }, anchor: true }]]);
    expect(first.summary().stoppedEarly).toMatch(/found nothing to propose: nothing fits/);
  });

  it("never proposes the anchor, the bridge or a configuration that failed to measure", () => {
    const seen: Configuration[][] = [];
    const recording: Strategy = {
      name: "random",
      propose(ctx, n) {
        seen.push([...(ctx.exclude ?? [])]);
        return countingStrategy("random", []).propose({ ...ctx, observations: [...ctx.observations, ...(ctx.exclude ?? []).map((config) => ({ config, value: 0 }))] }, n);
      },
    };
    const loop = new SearchLoop(settings({ strategy: "random", trials: 5, parallel: 3 }), [], newAgentState(), { strategyFor: () => recording });
    const all: Trial[] = [];
    const proposed: number[] = [];
    for (let next = loop.nextBatch({ P: 9 }); next; next = loop.nextBatch()) {
      proposed.push(...next.proposals.map((c) => c.P as number));
      // P = 2 never starts: it is left out of the measured trials
      const measured = next.items.filter((item) => item.config.P !== 2).map((item) => trial(item.config, 10, item.anchor));
      all.push(...measured);
      loop.measured(next, measured, all);
    }
    expect(seen[0]).toEqual([{ P: 1 }, { P: 9 }]);
    expect(seen[1]).toContainEqual({ P: 2 });
    expect(proposed.filter((p) => p === 2)).toHaveLength(1);
    expect(proposed).not.toContain(1);
    expect(proposed).not.toContain(9);
  });

  it("values a rate objective (errors.rate) against the anchor without a logarithm", () => {
    const loop = new SearchLoop(settings({ objective: { kpi: "errors.rate", goal: "minimize" }, trials: 5, parallel: 2 }), [], newAgentState(), {
      strategyFor: (name) => countingStrategy(name, []),
    });
    const all: Trial[] = [];
    for (let next = loop.nextBatch(); next; next = loop.nextBatch()) {
      const measured = next.items.map((item) => {
        const t = trial(item.config, 10, item.anchor);
        t.kpis["errors.rate"] = item.anchor ? 0 : 0.01 * (item.config.P as number);
        return t;
      });
      all.push(...measured);
      loop.measured(next, measured, all);
    }
    // the rates (0 at the anchor) count as measurements: after three the agent leaves the initial design
    expect(loop.summary().batches.map((b) => b.strategy)).toEqual(["lhs", "lhs", "model"]);
  });
});

describe("expectedImprovement", () => {
  it("is the gain below the best for a certain prediction, and positive under uncertainty", () => {
    expect(expectedImprovement(1, 0, 3)).toBe(2);
    expect(expectedImprovement(5, 0, 3)).toBe(0);
    expect(expectedImprovement(3, 1, 3)).toBeCloseTo(1 / Math.sqrt(2 * Math.PI), 6);
    expect(expectedImprovement(10, 1, 3)).toBeLessThan(1e-6);
  });
});

describe("bench-search's table space", () => {
  const data: PerfData = {
    file: "t.csv",
    options: ["on", "size", "3x"],
    target: "time",
    X: [
      [0, 1, 0.5],
      [1, 2, 0.5],
      [1, 2, 0.5],
      [0, 4, 1.5],
    ],
    y: [10, 20, 30, 5],
  };

  it("makes bools of 0/1 options, ints and floats of the rest, and averages repeated configurations", () => {
    const space = tableSpace(data);
    expect(space.catalog.map((p) => [p.name, p.type])).toEqual([
      ["on", "bool"],
      ["size", "int"],
      ["o2_3x", "float"],
    ]);
    expect(space.candidates).toHaveLength(3);
    expect(space.valueOf({ on: true, size: 2, o2_3x: 0.5 })).toBe(25);
    expect(() => space.valueOf({ on: true, size: 3, o2_3x: 0.5 })).toThrow(/did not measure/);
  });

  it("counts trials to the target per seed and prints the issue's JSON", () => {
    // a strategy that walks the candidates in file order finds the best (5, the 3rd distinct) at trial 3
    const inOrder: Strategy = {
      name: "random",
      propose: (ctx, n) => ctx.candidates!.filter((c) => !ctx.observations.some((o) => JSON.stringify(o.config) === JSON.stringify(c))).slice(0, n),
    };
    const result = benchSearch(data, { budget: 2, seeds: 3, target: 0.05, goal: "minimize", strategies: ["random"] }, { strategyFor: () => inOrder });
    expect(result.strategies.random).toMatchObject({ medianTrials: 3, successRate: 0, trials: [null, null, null] });
    const wide = benchSearch(data, { budget: 5, seeds: 2, target: 0.05, goal: "minimize", strategies: ["random"] }, { strategyFor: () => inOrder });
    expect(searchBenchJson(wide)).toEqual({ dataset: "t.csv", budget: 5, target: 0.05, strategies: { random: { median_trials: 3, success_rate: 1 } } });
  });
});
