import { describe, expect, it } from "vitest";
import type { Configuration, History, ParameterCatalog, Trial } from "../../src/core/types.js";
import { trainModels } from "../../src/model/forest.js";
import { latinHypercube } from "../../src/search/lhs.js";
import { mulberry32, type Rng } from "../../src/search/random.js";
import { catalog, current, kpisFor as serviceKpis, latency } from "../helpers/synthetic-service.js";

// The synthetic service, with errors at POOL=1.
const kpisFor = (c: Configuration, level: number, rng: Rng) => serviceKpis(c, level, rng, { errorsAtPool1: true });

function run(runId: string, day: number, configs: Configuration[], level: number, rng: Rng, anchors = 1, anchor = current): Trial[] {
  const all = [...Array.from({ length: anchors }, () => anchor), ...configs];
  return all.map((config, i) => {
    const kpis = kpisFor(config, level, rng);
    return {
      id: `${runId}-${i}`,
      runId,
      at: new Date(Date.UTC(2026, 0, day, 12, i)).toISOString(),
      config,
      kpis,
      spread: kpis,
      anchor: i < anchors,
      requests: 1000,
    };
  });
}

const history = (trials: Trial[]): History => ({ version: 1, workload: "synthetic", trials });
const p99 = "latency.p99" as const;

describe("trainModels", () => {
  const rng = mulberry32(7);
  const day1 = latinHypercube(catalog, 30, rng);
  const day2 = latinHypercube(catalog, 30, rng);
  // runner level 1.0 on day 1, 1.4 on day 2 (today)
  const twoRuns = history([...run("r1", 1, day1, 1.0, rng), ...run("r2", 2, day2, 1.4, rng)]);
  const model = trainModels(twoRuns, catalog, { seed: 1 });
  const heldOut = latinHypercube(catalog, 200, mulberry32(99));

  it("recovers the shape on held-out configurations, at today's level (MRE < 15%)", () => {
    expect(model.kpis).toContain(p99);
    expect(model.anchorRunId).toBe("r2");
    const predictions = model.predict(heldOut);
    const errors = heldOut.map((c, i) => Math.abs(predictions[i]![p99]!.mean / (latency(c) * 1.4) - 1));
    const mre = errors.reduce((a, b) => a + b, 0) / errors.length;
    expect(mre).toBeLessThan(0.15);
    // the current configuration is predicted at today's anchor
    const now = model.predict([current])[0]![p99]!;
    expect(now.mean / (latency(current) * 1.4)).toBeGreaterThan(0.95);
    expect(now.mean / (latency(current) * 1.4)).toBeLessThan(1.05);
    // throughput (higher is better) follows the inverse shape
    const rps = model.predict([{ ...current, POOL: 64 }])[0]!["throughput.rps"]!;
    expect(rps.mean).toBeLessThan(model.anchor["throughput.rps"]!);
  });

  it("is not confused by a level shift between runs that coincides with a parameter", () => {
    // day 1 (level 1.0) measures only GZIP=false, day 2 (level 1.4) only GZIP=true:
    // absolute KPIs would make gzip look 54% slower; its true cost is 10%.
    const r = mulberry32(11);
    const plain = latinHypercube(catalog, 30, r).map((c) => ({ ...c, GZIP: false }));
    const gzip = latinHypercube(catalog, 30, r).map((c) => ({ ...c, GZIP: true }));
    const confounded = history([...run("a", 1, plain, 1.0, r), ...run("b", 2, gzip, 1.4, r)]);
    const m = trainModels(confounded, catalog, { seed: 2, kpis: [p99] });
    const probes = latinHypercube(catalog, 100, mulberry32(5));
    const off = m.predict(probes.map((c) => ({ ...c, GZIP: false })));
    const on = m.predict(probes.map((c) => ({ ...c, GZIP: true })));
    const ratios = probes.map((_, i) => on[i]![p99]!.mean / off[i]![p99]!.mean);
    const geo = Math.exp(ratios.reduce((a, x) => a + Math.log(x), 0) / ratios.length);
    expect(geo).toBeGreaterThan(1.0);
    expect(geo).toBeLessThan(1.25);
  });

  it("multiplies back by the anchor it is given", () => {
    const base = model.predict([current, { ...current, POOL: 32 }]);
    const doubled = model.predict([current, { ...current, POOL: 32 }], {
      anchor: { ...model.anchor, [p99]: model.anchor[p99]! * 2 },
    });
    for (let i = 0; i < 2; i++) {
      expect(doubled[i]![p99]!.mean).toBeCloseTo(base[i]![p99]!.mean * 2, 9);
      expect(doubled[i]![p99]!.hi).toBeCloseTo(base[i]![p99]!.hi * 2, 9);
    }
    // a KPI the given anchor lacks is left out
    expect(model.predict([current], { anchor: { [p99]: 5 } })[0]!["latency.p50"]).toBeUndefined();
    // trained with another run as today's anchor: predictions at day 1's level
    const day1Model = trainModels(twoRuns, catalog, { seed: 1, anchorRunId: "r1", kpis: [p99], cv: false });
    const atDay1 = day1Model.predict([current])[0]![p99]!.mean;
    expect(day1Model.anchor[p99]! / latency(current)).toBeGreaterThan(0.97); // day 1's level is 1.0, noise ±3%
    expect(day1Model.anchor[p99]! / latency(current)).toBeLessThan(1.03);
    expect(atDay1 / day1Model.anchor[p99]!).toBeGreaterThan(0.95);
    expect(atDay1 / day1Model.anchor[p99]!).toBeLessThan(1.05);
    expect(() => trainModels(twoRuns, catalog, { seed: 1, anchorRunId: "nope" })).toThrow(/anchorRunId nope/);
  });

  it("is more uncertain away from the measured configurations than at them", () => {
    const r = mulberry32(3);
    const near: Configuration[] = latinHypercube(catalog, 40, r).map((c) => ({ ...c, POOL: Math.min(c.POOL as number, 8), cpus: Math.min(c.cpus as number, 0.5) }));
    const m = trainModels(history(run("x", 1, near, 1, r)), catalog, { seed: 3, kpis: [p99] });
    const [atData, farAway] = m.predict([near[5]!, { POOL: 64, CACHE: near[5]!.CACHE!, cpus: 1, GZIP: near[5]!.GZIP! }]);
    const width = (p: { lo: number; hi: number }) => Math.log(p.hi / p.lo);
    expect(width(farAway![p99]!)).toBeGreaterThan(1.5 * width(atData![p99]!));
    expect(farAway![p99]!.sd / farAway![p99]!.mean).toBeGreaterThan(atData![p99]!.sd / atData![p99]!.mean);
    // intervals contain the mean
    for (const p of [atData![p99]!, farAway![p99]!]) {
      expect(p.lo).toBeLessThanOrEqual(p.mean);
      expect(p.hi).toBeGreaterThanOrEqual(p.mean);
    }
  });

  it("skips runs without an anchor and counts their trials", () => {
    const r = mulberry32(4);
    const orphan = run("orphan", 3, latinHypercube(catalog, 5, r), 3, r).map((t) => ({ ...t, anchor: false }));
    const withOrphan = trainModels(history([...twoRuns.trials, ...orphan]), catalog, { seed: 1, kpis: [p99], cv: false });
    const without = trainModels(twoRuns, catalog, { seed: 1, kpis: [p99], cv: false });
    expect(withOrphan.info.skippedNoAnchor).toBe(6);
    expect(withOrphan.skippedRows).toBe(6);
    expect(withOrphan.trainedOn).toBe(62);
    expect(withOrphan.anchorRunId).toBe("r2");
    expect(withOrphan.predict(heldOut.slice(0, 10))).toEqual(without.predict(heldOut.slice(0, 10)));
    expect(withOrphan.info.notes.join("\n")).toMatch(/6 trial\(s\) skipped: their run measured no anchor/);
  });

  it("bridges runs anchored on different configurations (the current configuration changed)", () => {
    // Day 1 anchored on `current`; on day 2 the recommendation was applied: anchored on
    // `applied` (29% faster). Day-1 ratios are relative to another configuration.
    const applied: Configuration = { ...current, cpus: 1 };
    const mre = (m: ReturnType<typeof trainModels>) => {
      const predictions = m.predict(heldOut);
      return heldOut.reduce((a, c, i) => a + Math.abs(predictions[i]![p99]!.mean / (latency(c) * 1.4) - 1), 0) / heldOut.length;
    };
    const ratio = (m: ReturnType<typeof trainModels>) => {
      const [a, b] = m.predict([current, applied]);
      return a![p99]!.mean / b![p99]!.mean / (latency(current) / latency(applied));
    };
    for (const overlap of [true, false]) {
      const r = mulberry32(21);
      const day2 = latinHypercube(catalog, 30, r);
      if (overlap) day2.push(current); // day 2 also measured the old current: a same-run bridge
      const trials = [...run("d1", 1, latinHypercube(catalog, 30, r), 1.0, r), ...run("d2", 2, day2, 1.4, r, 1, applied)];
      const m = trainModels(history(trials), catalog, { seed: 4, kpis: [p99], cv: false });
      expect(m.info.notes.join("\n")).toMatch(/anchored on 2 different configurations/);
      expect(m.anchor[p99]! / (latency(applied) * 1.4)).toBeCloseTo(1, 1);
      expect(ratio(m)).toBeGreaterThan(overlap ? 0.93 : 0.85);
      expect(ratio(m)).toBeLessThan(overlap ? 1.07 : 1.15);
      expect(mre(m)).toBeLessThan(0.15);
    }
  });

  it("keeps the most recent runs within maxRows", () => {
    const m = trainModels(twoRuns, catalog, { seed: 1, kpis: [p99], cv: false, maxRows: 40 });
    expect(m.trainedOn).toBe(31);
    expect(m.info.droppedOld).toBe(31);
    expect(m.info.notes.join("\n")).toMatch(/31 trial\(s\) of the oldest runs left out \(maxRows 40\)/);
  });

  it("uses the mean of several anchor trials", () => {
    const trials = run("m", 1, latinHypercube(catalog, 4, mulberry32(8)), 1, mulberry32(8), 2);
    trials[0]!.kpis[p99] = 10;
    trials[1]!.kpis[p99] = 12;
    const m = trainModels(history(trials), catalog, { seed: 1, kpis: [p99] });
    expect(m.anchor[p99]).toBe(11);
  });

  it("learns rates absolutely, not relative to the anchor", () => {
    const pred = model.predict([{ ...current, POOL: 1 }, current]);
    expect(pred[0]!["errors.rate"]!.mean).toBeGreaterThan(0.02);
    expect(pred[1]!["errors.rate"]!.mean).toBeLessThan(0.01);
    const scaled = model.predict([{ ...current, POOL: 1 }], { anchor: { "errors.rate": 123 } })[0]!;
    expect(scaled["errors.rate"]!.mean).toBe(pred[0]!["errors.rate"]!.mean);
    // a rate that is always 0 is modelled as a constant 0
    expect(pred[0]!["non2xx.rate"]).toEqual({ mean: 0, sd: 0, lo: 0, hi: 0 });
  });

  it("cross-validates on held-out configurations", () => {
    expect(model.cvError[p99]).toBeGreaterThan(0);
    expect(model.cvError[p99]).toBeLessThan(0.3);
    expect(model.cvError["errors.rate"]).toBeLessThan(0.02);
    expect(trainModels(twoRuns, catalog, { seed: 1, kpis: [p99], cv: false }).cvError).toEqual({});
  });

  it("returns no KPIs with fewer than 3 rows, and still predicts (nothing)", () => {
    const thin = trainModels(history(run("t", 1, [{ ...current, POOL: 2 }], 1, mulberry32(1))), catalog, { seed: 1 });
    expect(thin.kpis).toEqual([]);
    expect(thin.predict([current])).toEqual([{}]);
    expect(thin.info.notes.some((n) => /2 usable row\(s\) \(need 3\)/.test(n))).toBe(true);
    const empty = trainModels(history([]), catalog, { seed: 1 });
    expect(empty.kpis).toEqual([]);
    expect(empty.anchorRunId).toBeUndefined();
  });

  it("works with a single feature", () => {
    const one: ParameterCatalog = [catalog[0]!];
    const r = mulberry32(2);
    const configs = latinHypercube(one, 15, r).map((c) => ({ ...current, ...c }));
    const m = trainModels(history(run("s", 1, configs, 1, r)), one, { seed: 1, kpis: [p99] });
    expect(m.kpis).toEqual([p99]);
    const [small, best] = m.predict([{ POOL: 1 }, { POOL: 12 }]);
    expect(small![p99]!.mean).toBeGreaterThan(best![p99]!.mean);
  });

  it("is deterministic for a seed, with per-tree draws on request, and serialises small", () => {
    const again = trainModels(twoRuns, catalog, { seed: 1 });
    expect(again.predict(heldOut.slice(0, 20))).toEqual(model.predict(heldOut.slice(0, 20)));
    const [p] = model.predict([heldOut[0]!], { draws: true });
    expect(p![p99]!.draws).toHaveLength(100);
    const logMean = p![p99]!.draws!.reduce((a, x) => a + Math.log(x), 0) / 100;
    expect(Math.exp(logMean)).toBeCloseTo(p![p99]!.mean, 6);
    expect(model.predict([heldOut[0]!])[0]![p99]!.draws).toBeUndefined();
    const json = JSON.stringify(model);
    expect(json.length).toBeLessThan(4000);
    expect(JSON.parse(json)).toMatchObject({ kind: "random-forest-per-kpi", anchorRunId: "r2", rows: 62 });
  }, 30_000);
});
