import { describe, expect, it } from "vitest";
import type { Configuration, ParameterCatalog } from "../../src/core/types.js";
import { initialDesign, latinHypercube, latinHypercubeUnit, minPairwiseDistance } from "../../src/search/lhs.js";
import { deriveSeed, mulberry32 } from "../../src/search/random.js";
import {
  changedParams,
  configKey,
  decode,
  decodeValue,
  encodeUnit,
  SpaceError,
} from "../../src/search/space.js";
import { env, mixedCatalog, mixedCurrent } from "../helpers/mixed-catalog.js";


const catalog = mixedCatalog;
const current = mixedCurrent;

describe("random", () => {
  it("mulberry32 is deterministic, in [0, 1), and seeds differ", () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(Math.abs(xs.reduce((s, x) => s + x, 0) / xs.length - 0.5)).toBeLessThan(0.05);
    expect(mulberry32(43)()).not.toBe(mulberry32(42)());
  });

  it("deriveSeed gives distinct non-negative 31-bit integers per label", () => {
    const seeds = ["latency.p99", "latency.p50", "throughput.rps"].map((l) => deriveSeed(1, l));
    for (const s of seeds) {
      expect(Number.isInteger(s)).toBe(true);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThan(2 ** 31);
    }
    expect(new Set(seeds).size).toBe(3);
    expect(deriveSeed(1, "x")).toBe(deriveSeed(1, "x"));
    expect(deriveSeed(2, "x")).not.toBe(deriveSeed(1, "x"));
  });
});

describe("space", () => {
  it("decodes ints rounded and clamped to [min, max], whatever the coordinate", () => {
    const spec = catalog[1]!; // WORKERS 1..8 linear
    expect(decodeValue(spec, 0)).toBe(1);
    expect(decodeValue(spec, 1)).toBe(8);
    expect(decodeValue(spec, -3)).toBe(1);
    expect(decodeValue(spec, 7)).toBe(8);
    expect(decodeValue(spec, Number.NaN)).toBeGreaterThanOrEqual(1);
    for (let u = 0; u <= 1; u += 0.01) {
      const v = decodeValue(spec, u) as number;
      expect(Number.isInteger(v)).toBe(true);
      expect(v).toBeGreaterThanOrEqual(1);
      expect(v).toBeLessThanOrEqual(8);
    }
    const log = catalog[0]!;
    for (let u = 0; u <= 1; u += 0.01) {
      const v = decodeValue(log, u) as number;
      expect(Number.isInteger(v)).toBe(true);
      expect(v).toBeGreaterThanOrEqual(1);
      expect(v).toBeLessThanOrEqual(64);
    }
    expect(decodeValue(log, 1)).toBe(64);
  });

  it("gives every integer of a linear int range an equal slice", () => {
    const spec = catalog[1]!;
    const counts = new Map<number, number>();
    for (let i = 0; i < 800; i++) {
      const v = decodeValue(spec, (i + 0.5) / 800) as number;
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const c of counts.values()) expect(c).toBe(100);
  });

  it("round-trips configurations through the unit cube", () => {
    const configs = [current, { POOL_SIZE: 1, WORKERS: 8, CACHE_MODE: "lfu", GZIP: true, cpus: 1, TIMEOUT_MS: 1000 }];
    for (const c of configs) {
      const back = decode(catalog, encodeUnit(catalog, c));
      expect(back.POOL_SIZE).toBe(c.POOL_SIZE);
      expect(back.WORKERS).toBe(c.WORKERS);
      expect(back.CACHE_MODE).toBe(c.CACHE_MODE);
      expect(back.GZIP).toBe(c.GZIP);
      expect(back.cpus as number).toBeCloseTo(c.cpus as number, 9);
      expect(back.TIMEOUT_MS as number).toBeCloseTo(c.TIMEOUT_MS as number, 6);
    }
    // out-of-range ints are clamped, numeric strings accepted
    expect(decode(catalog, encodeUnit(catalog, { ...current, POOL_SIZE: 500, WORKERS: "3" })).POOL_SIZE).toBe(64);
    expect(decode(catalog, encodeUnit(catalog, { ...current, WORKERS: "3" })).WORKERS).toBe(3);
  });

  it("names the parameter when a configuration does not fit", () => {
    expect(() => encodeUnit(catalog, { ...current, CACHE_MODE: "arc" })).toThrow(/CACHE_MODE: expected one of none, lru, lfu, got "arc"/);
    expect(() => encodeUnit(catalog, { ...current, GZIP: "yes" })).toThrow(SpaceError);
    const { cpus: _cpus, ...missing } = current;
    expect(() => encodeUnit(catalog, missing)).toThrow(/cpus: missing/);
    expect(() => decode(catalog, [0.5])).toThrow(/expected 6 coordinates/);
  });

  it("lists changed parameters, floats to a relative tolerance", () => {
    expect(changedParams(catalog, current, { ...current, cpus: 0.5 + 1e-12 })).toEqual([]);
    expect(changedParams(catalog, current, { ...current, cpus: 0.75, GZIP: true })).toEqual(["GZIP", "cpus"]);
  });
});

describe("latinHypercube", () => {
  it("hits each of the n strata exactly once in every dimension", () => {
    for (const n of [1, 2, 7, 50]) {
      const points = latinHypercubeUnit(5, n, mulberry32(n));
      expect(points).toHaveLength(n);
      for (let d = 0; d < 5; d++) {
        const strata = points.map((p) => Math.floor(p[d]! * n)).sort((a, b) => a - b);
        expect(strata).toEqual(Array.from({ length: n }, (_, i) => i));
      }
    }
  });

  it("keeps the stratification through the catalog: a float hits each stratum of its range once", () => {
    const n = 20;
    const configs = latinHypercube(catalog, n, mulberry32(3));
    const cpus = configs.map((c) => Math.floor((((c.cpus as number) - 0.25) / 0.75) * n)).sort((a, b) => a - b);
    expect(cpus).toEqual(Array.from({ length: n }, (_, i) => i));
    // log scale: strata are equal in log space
    const timeouts = configs.map((c) => Math.floor((Math.log10(c.TIMEOUT_MS as number) / 3) * n)).sort((a, b) => a - b);
    expect(timeouts).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it("samples log-scale parameters uniformly in log space", () => {
    const configs = latinHypercube(catalog, 900, mulberry32(5));
    const share = (lo: number, hi: number) => configs.filter((c) => (c.TIMEOUT_MS as number) >= lo && (c.TIMEOUT_MS as number) < hi).length / 900;
    expect(share(1, 10)).toBeCloseTo(1 / 3, 2);
    expect(share(10, 100)).toBeCloseTo(1 / 3, 2);
    expect(share(100, 1000.0001)).toBeCloseTo(1 / 3, 2);
    // a linear-scale sampler would put ~90% above 100
    const pools = configs.map((c) => c.POOL_SIZE as number);
    expect(pools.filter((p) => p <= 8).length / 900).toBeGreaterThan(0.4);
  });

  it("covers every enum value and both booleans, evenly when n is a multiple", () => {
    const configs = latinHypercube(catalog, 30, mulberry32(9));
    const modes = new Map<string, number>();
    for (const c of configs) modes.set(c.CACHE_MODE as string, (modes.get(c.CACHE_MODE as string) ?? 0) + 1);
    expect(Object.fromEntries(modes)).toEqual({ none: 10, lru: 10, lfu: 10 });
    expect(configs.filter((c) => c.GZIP === true)).toHaveLength(15);
    const workers = new Set(configs.map((c) => c.WORKERS));
    expect(workers.size).toBe(8);
  });

  it("is deterministic for a seed and differs between seeds", () => {
    expect(latinHypercube(catalog, 12, mulberry32(1))).toEqual(latinHypercube(catalog, 12, mulberry32(1)));
    expect(latinHypercube(catalog, 12, mulberry32(1))).not.toEqual(latinHypercube(catalog, 12, mulberry32(2)));
  });

  it("maximin restarts spread the points at least as well as one draw", () => {
    let better = 0;
    for (let s = 0; s < 10; s++) {
      const one = minPairwiseDistance(latinHypercubeUnit(3, 12, mulberry32(s), { restarts: 1 }));
      const many = minPairwiseDistance(latinHypercubeUnit(3, 12, mulberry32(s), { restarts: 20 }));
      expect(many).toBeGreaterThanOrEqual(one);
      if (many > one) better++;
    }
    expect(better).toBeGreaterThan(5);
  });
});

describe("initialDesign", () => {
  it("starts with the current configuration, then n-1 distinct LHS points", () => {
    const design = initialDesign(catalog, current, 12, 7);
    expect(design).toHaveLength(12);
    expect(design[0]).toEqual(current);
    const keys = design.map((c) => configKey(catalog, c));
    expect(new Set(keys).size).toBe(12);
    expect(initialDesign(catalog, current, 12, 7)).toEqual(design);
    expect(initialDesign(catalog, current, 12, 8)).not.toEqual(design);
  });

  it("replaces duplicates after rounding, and stops at the size of a small space", () => {
    const small: ParameterCatalog = [
      { name: "A", type: "int", min: 1, max: 3, scale: "linear", apply: env("A") },
      { name: "B", type: "bool", apply: env("B") },
    ];
    const six = initialDesign(small, { A: 2, B: true }, 6, 1);
    expect(six).toHaveLength(6);
    expect(new Set(six.map((c) => configKey(small, c))).size).toBe(6);
    const tooMany = initialDesign(small, { A: 2, B: true }, 10, 1);
    expect(tooMany).toHaveLength(6);
    expect(initialDesign(small, { A: 2, B: true }, 1, 1)).toEqual([{ A: 2, B: true }]);
    expect(initialDesign(small, { A: 2, B: true }, 0, 1)).toEqual([]);
  });

  it("never repeats the current configuration", () => {
    const tiny: ParameterCatalog = [{ name: "A", type: "int", min: 1, max: 2, scale: "linear", apply: env("A") }];
    expect(initialDesign(tiny, { A: 1 }, 5, 3)).toEqual([{ A: 1 }, { A: 2 }]);
  });
});
