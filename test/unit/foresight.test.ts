import { describe, expect, it } from "vitest";
import { foresee } from "../../src/decide/foresight.js";
import { atLoad, LOAD_FEATURE, loadOf, modelCatalog, withLoadColumn } from "../../src/model/load-level.js";
import { trainModels } from "../../src/model/forest.js";
import { parseConfig } from "../../src/config/schema.js";
import { KPI_NAMES, type History, type Kpis, type ParameterCatalog, type Trial } from "../../src/core/types.js";
import { mulberry32 } from "../../src/search/random.js";

const catalog: ParameterCatalog = [{ name: "POOL", type: "int", min: 1, max: 16, scale: "log", apply: { kind: "env", name: "POOL" } }];
const current = { POOL: 4 };
const LEVELS = [0.5, 1, 1.5, 2, 3];

/** p99 grows with the square of the load; POOL 8 is 30% faster than POOL 1..4 (a known truth). */
function p99(pool: number, load: number): number {
  return 30 * load * load * (pool >= 8 ? 0.7 : 1);
}

function history(): History {
  const rng = mulberry32(5);
  const trials: Trial[] = [];
  let id = 0;
  for (const pool of [1, 2, 4, 8, 16]) {
    for (const load of LEVELS) {
      const value = p99(pool, load) * (1 + 0.02 * (rng() - 0.5));
      const kpis = Object.fromEntries(KPI_NAMES.map((k) => [k, 1])) as Kpis;
      kpis["latency.p99"] = value;
      trials.push({ id: `t${id++}`, runId: "r1", at: "2026-11-29T10:00:00Z", config: { POOL: pool }, kpis, spread: { ...kpis }, anchor: pool === 4 && load === 1, requests: 1000, ...(load !== 1 ? { load } : {}) });
    }
  }
  return { version: 1, workload: "svc", trials };
}

function trained() {
  const h = history();
  const cat = modelCatalog(catalog, h, LEVELS);
  return { cat, model: trainModels(withLoadColumn(h), cat, { seed: 1, kpis: ["latency.p99"] }) };
}

describe("load level as a model feature", () => {
  it("adds the load column only when some trial ran at another level than 1", () => {
    const today: History = { ...history(), trials: history().trials.filter((t) => loadOf(t) === 1) };
    expect(modelCatalog(catalog, today)).toBe(catalog);
    const cat = modelCatalog(catalog, history(), LEVELS);
    expect(cat.map((p) => p.name)).toEqual(["POOL", LOAD_FEATURE]);
    expect(cat[1]).toMatchObject({ type: "float", min: 0.5, max: 3, scale: "log" });
    expect(withLoadColumn(history()).trials.map((t) => t.config[LOAD_FEATURE])).toContain(1);
  });

  it("a model pinned at a level predicts that level; today's is 1", () => {
    const { cat, model } = trained();
    const at = (level: number) => atLoad(model, cat, level).predict([current])[0]!["latency.p99"]!.mean;
    expect(at(1)).toBeGreaterThan(25);
    expect(at(1)).toBeLessThan(36);
    expect(at(2)).toBeGreaterThan(at(1) * 2.5);
    expect(atLoad(model, catalog, 2)).toBe(model);
    expect(atLoad(model, cat, 1).kpis).toEqual(model.kpis);
  });
});

describe("foresee", () => {
  it("finds the load at which the SLO breaks, for the current and the recommended configuration", () => {
    const { model } = trained();
    // truth: 30 L² = 80 → L ≈ 1.63 for POOL 4; 21 L² = 80 → L ≈ 1.95 for POOL 8
    const f = foresee({ model, current, recommended: { POOL: 8 }, slo: { "latency.p99": 80 }, levels: LEVELS })!;
    const [cur, rec] = f.configs;
    expect(cur!.breaksAt!.kpi).toBe("latency.p99");
    expect(cur!.breaksAt!.level).toBeGreaterThan(1.4);
    expect(cur!.breaksAt!.level).toBeLessThan(1.85);
    expect(rec!.breaksAt!.level).toBeGreaterThan(cur!.breaksAt!.level);
    expect(f.lines[0]).toMatch(/^Current configuration: p99 predicted to exceed 80 ms at 1\.\d+× today's traffic/);
    expect(f.lines[1]).toMatch(/^Recommended configuration: p99 predicted to exceed 80 ms at [12](\.\d+)?×/);
  });

  it("says whether the SLO holds at the expected growth, and that it holds up to the top level when it never breaks", () => {
    const { model } = trained();
    const f = foresee({ model, current, slo: { "latency.p99": 1000 }, growth: 1.5, levels: LEVELS })!;
    expect(f.configs[0]!.breaksAt).toBeNull();
    expect(f.configs[0]!.atGrowth![0]!.breach).toBe("no");
    expect(f.lines).toEqual([
      "Current configuration: every SLO is predicted to hold up to 3× today's traffic, the highest load measured.",
      expect.stringMatching(/^Current configuration at 1\.5× today's traffic \(the expected growth\): p99 [\d.]+ ms \([\d.]+ ms–[\d.]+ ms\) meets ≤ 1000 ms\.$/),
    ]);
    const tight = foresee({ model, current, slo: { "latency.p99": 50 }, growth: 1.5, levels: LEVELS })!;
    expect(tight.configs[0]!.atGrowth![0]!.breach).toBe("likely");
  });

  it("does not predict beyond the highest level measured, and asks for levels when there are none", () => {
    const { model } = trained();
    const beyond = foresee({ model, current, slo: { "latency.p99": 1000 }, growth: 5, levels: LEVELS })!;
    expect(beyond.configs[0]!.atGrowth).toBeNull();
    expect(beyond.lines.at(-1)).toMatch(/expected growth 5× is beyond the highest load measured \(3×\).*add a level of at least 5× to traffic\.levels/);
    const none = foresee({ model, current, slo: { "latency.p99": 80 }, growth: 1.5, levels: [1] })!;
    expect(none.lines[0]).toMatch(/No load level above today's was measured.*traffic\.levels, e\.g\. \[1, 2\]/);
    expect(foresee({ model, current, slo: { "latency.p99": 80 }, levels: [1] })).toBeNull();
    expect(foresee({ model, current, slo: {}, growth: 2, levels: LEVELS })).toBeNull();
  });

  it("between two measured levels follows a power law through them, not the trees' split point", () => {
    // only 1× and 2× measured: the trees step at about 1.41×; the truth 30 L² reaches 80 at 1.63×
    const h = history();
    const two: History = { ...h, trials: h.trials.filter((t) => loadOf(t) === 1 || loadOf(t) === 2) };
    const cat = modelCatalog(catalog, two, [1, 2]);
    const model = trainModels(withLoadColumn(two), cat, { seed: 1, kpis: ["latency.p99"] });
    const f = foresee({ model, current, slo: { "latency.p99": 80 }, growth: 1.5, levels: [1, 2] })!;
    expect(f.configs[0]!.breaksAt!.level).toBeGreaterThan(1.5);
    expect(f.configs[0]!.breaksAt!.level).toBeLessThan(1.78);
    // at 1.5×: 67.5 ms by the truth
    expect(f.configs[0]!.atGrowth![0]!.predicted.mean).toBeGreaterThan(58);
    expect(f.configs[0]!.atGrowth![0]!.predicted.mean).toBeLessThan(78);
  });
});

describe("config: traffic.levels and growth", () => {
  const base = { workload: { name: "svc" }, traffic: { file: "t.har" }, parameters: [{ name: "POOL", type: "int", range: [1, 16] }], current: { POOL: 4 } };
  const parse = (extra: Record<string, unknown>) => parseConfig({ ...base, ...extra });

  it("reads levels (sorted, deduplicated) and growth as 1.5x, 150% or 1.5", () => {
    const parsed = parse({ traffic: { file: "t.har", levels: [2, 1, 0.5, 1] }, slo: { "latency.p99": "80ms" }, growth: "1.5x" });
    expect(parsed.ok && parsed.config.traffic.levels).toEqual([0.5, 1, 2]);
    expect(parsed.ok && parsed.config.growth).toBe(1.5);
    for (const g of ["150%", 1.5, "1.5×"]) {
      const p = parse({ slo: { "latency.p99": 80 }, growth: g });
      expect(p.ok && p.config.growth).toBe(1.5);
    }
    const plain = parse({});
    expect(plain.ok && plain.config.traffic.levels).toEqual([1]);
    expect(plain.ok && plain.config.growth).toBeUndefined();
  });

  it("names the field and what was expected", () => {
    const issues = (extra: Record<string, unknown>) => {
      const p = parse(extra);
      return p.ok ? [] : p.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    };
    expect(issues({ traffic: { file: "t.har", levels: [0.5, 2] } })).toEqual([expect.stringMatching(/^traffic\.levels: expected today's level 1 among the load levels/)]);
    expect(issues({ traffic: { file: "t.har", levels: [1, -2] } })).toEqual([expect.stringMatching(/^traffic\.levels\.1: expected load levels as multiples/)]);
    expect(issues({ slo: { "latency.p99": 80 }, growth: "0.5x" })).toEqual([expect.stringMatching(/^growth: expected the expected traffic growth as a multiple above 1/)]);
    expect(issues({ growth: "2x" })).toEqual([expect.stringMatching(/^growth: expected an slo as well/)]);
  });
});
