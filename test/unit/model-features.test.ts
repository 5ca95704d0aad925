import { describe, expect, it } from "vitest";
import type { Configuration, ParameterCatalog } from "../../src/core/types.js";
import { FEATURE_VERSION, FeatureError, featureEncoder } from "../../src/model/features.js";
import { latinHypercube } from "../../src/search/lhs.js";
import { mulberry32 } from "../../src/search/random.js";

const env = (name: string) => ({ kind: "env" as const, name });
const catalog: ParameterCatalog = [
  { name: "POOL_SIZE", type: "int", min: 1, max: 64, scale: "log", apply: env("POOL_SIZE") },
  { name: "CACHE_MODE", type: "enum", values: ["none", "lru", "lfu"], apply: env("CACHE_MODE") },
  { name: "GZIP", type: "bool", apply: env("GZIP") },
  { name: "cpus", type: "float", min: 0.25, max: 1, scale: "linear", apply: { kind: "cpus" } },
];
const current: Configuration = { POOL_SIZE: 8, CACHE_MODE: "lru", GZIP: true, cpus: 0.5 };

describe("featureEncoder", () => {
  const encoder = featureEncoder(catalog);

  it("encodes numbers (log10 where log), bools as 0/1 and enums one-hot", () => {
    expect(encoder.version).toBe(FEATURE_VERSION);
    expect(encoder.names).toEqual(["POOL_SIZE:log10", "CACHE_MODE=none", "CACHE_MODE=lru", "CACHE_MODE=lfu", "GZIP", "cpus"]);
    const row = encoder.encode(current);
    expect(row[0]).toBeCloseTo(Math.log10(8), 12);
    expect(row.slice(1, 4)).toEqual([0, 1, 0]);
    expect(row[4]).toBe(1);
    expect(row[5]).toBe(0.5);
    expect(encoder.encode({ ...current, GZIP: false, CACHE_MODE: "lfu" }).slice(1, 5)).toEqual([0, 0, 1, 0]);
  });

  it("round-trips every configuration of a design, and encodes the same twice", () => {
    for (const config of latinHypercube(catalog, 50, mulberry32(4))) {
      const row = encoder.encode(config);
      expect(encoder.encode(config)).toEqual(row);
      const back = encoder.decode(row);
      expect(back.POOL_SIZE).toBe(config.POOL_SIZE);
      expect(back.CACHE_MODE).toBe(config.CACHE_MODE);
      expect(back.GZIP).toBe(config.GZIP);
      expect(back.cpus as number).toBeCloseTo(config.cpus as number, 12);
    }
  });

  it("normalises to the unit range, a different enum value at distance 1", () => {
    const lo = encoder.normalize(encoder.encode({ POOL_SIZE: 1, CACHE_MODE: "none", GZIP: false, cpus: 0.25 }));
    const hi = encoder.normalize(encoder.encode({ POOL_SIZE: 64, CACHE_MODE: "lfu", GZIP: true, cpus: 1 }));
    expect(lo[0]).toBeCloseTo(0, 12);
    expect(hi[0]).toBeCloseTo(1, 12);
    expect(lo[5]).toBeCloseTo(0, 12);
    expect(hi[5]).toBeCloseTo(1, 12);
    const enumDistance = Math.hypot(...lo.slice(1, 4).map((x, i) => x - hi[1 + i]!));
    expect(enumDistance).toBeCloseTo(1, 12);
  });

  it("explains configurations it cannot encode, naming the parameter", () => {
    expect(encoder.problem(current)).toBeUndefined();
    expect(encoder.problem({ ...current, CACHE_MODE: "arc" })).toMatch(/CACHE_MODE: expected one of none, lru, lfu/);
    expect(encoder.problem({ ...current, POOL_SIZE: 0 })).toMatch(/POOL_SIZE: log-scale parameter needs a value > 0/);
    expect(encoder.problem({ POOL_SIZE: 8, CACHE_MODE: "lru", GZIP: true })).toMatch(/cpus: missing/);
    expect(() => encoder.encode({ ...current, GZIP: "maybe" })).toThrow(FeatureError);
    // extra keys are ignored
    expect(encoder.encode({ ...current, OTHER: 3 })).toEqual(encoder.encode(current));
  });
});
