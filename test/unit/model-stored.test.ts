import { mkdtempSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseStoredModel, shouldRetune, toStoredModel } from "../../src/model/stored-model.js";
import { trainModels } from "../../src/model/forest.js";
import { FEATURE_VERSION, featureEncoder } from "../../src/model/features.js";
import { LocalFolderStore } from "../../src/store/local-store.js";
import type { History, Kpis, ParameterCatalog, Trial } from "../../src/core/types.js";

const catalog: ParameterCatalog = [
  { name: "POOL", type: "int", min: 1, max: 16, scale: "log", apply: { kind: "env", name: "POOL" } },
  { name: "cpus", type: "float", min: 0.5, max: 2, scale: "linear", apply: { kind: "cpus" } },
];
function history(n: number): History {
  const trials: Trial[] = Array.from({ length: n }, (_, i) => {
    const config = { POOL: 1 + (i % 16), cpus: 0.5 + ((i * 7) % 16) / 10.7 };
    const p99 = 10 + 40 / (config.cpus as number) + Math.abs((config.POOL as number) - 6);
    const kpis = { "latency.p99": p99, "throughput.rps": 1000 / p99 } as Kpis;
    return { id: `t${i}`, runId: "r1", at: "2026-11-29T00:00:00Z", config: i === 0 ? { POOL: 4, cpus: 1 } : config, kpis, spread: kpis, anchor: i === 0, requests: 100 };
  });
  return { version: 1, workload: "api", trials };
}
const expected = { featureVersion: FEATURE_VERSION, features: featureEncoder(catalog).names, engine: "native" };
const logger = { warnings: [] as string[], info: () => {}, debug: () => {}, warn(m: string) { this.warnings.push(m); } };

describe("the stored model", () => {
  const h = history(40);
  const model = trainModels(h, catalog, { seed: 1, kpis: ["latency.p99", "throughput.rps"] });
  const stored = toStoredModel(model, 40, 40, new Date("2026-11-29T00:00:00Z"));

  it("round-trips through JSON and is small", () => {
    const text = JSON.stringify(stored);
    expect(text.length).toBeLessThan(2000);
    expect(parseStoredModel(JSON.parse(text), expected)).toEqual(stored);
    expect(["none", "ridge"]).toContain(stored.params["latency.p99"]!.trend);
  });

  it("refuses another version, another encoding or engine, and garbage, saying why", () => {
    expect(parseStoredModel({ ...stored, version: 2 }, expected)).toMatch(/^version: /);
    expect(parseStoredModel({ ...stored, featureVersion: FEATURE_VERSION + 1 }, expected)).toMatch(/feature encoding version/);
    expect(parseStoredModel({ ...stored, features: ["OTHER"] }, expected)).toMatch(/trained on features OTHER/);
    expect(parseStoredModel(stored, { ...expected, engine: "ml-random-forest" })).toMatch(/native engine, configured ml-random-forest/);
    expect(parseStoredModel("garbage", expected)).toMatch(/document/);
  });

  it("keeps the chosen hyper-parameters until the history grows by a quarter", () => {
    expect(shouldRetune(stored, 45)).toBe(false);
    expect(shouldRetune(stored, 51)).toBe(true);
    expect(shouldRetune(stored, 30)).toBe(true);
    // reusing them skips the search and gives the same parameters
    const again = trainModels(h, catalog, { seed: 1, kpis: ["latency.p99", "throughput.rps"], reuse: stored.params });
    expect((again.toJSON() as { params: unknown }).params).toEqual(stored.params);
    // and the same forests: the final fit depends on the parameters, not on the search
    const configs = h.trials.slice(0, 5).map((t) => t.config);
    expect(again.predict(configs)).toEqual(model.predict(configs));
  });

  it("is moved aside with a warning when its file is not JSON (then rebuilt from the history)", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "sg-model-"));
    const store = new LocalFolderStore(dir, logger);
    mkdirSync(path.join(dir, "api"));
    writeFileSync(store.modelFileFor("api"), "{not json");
    expect(await store.loadModel("api")).toBeUndefined();
    expect(logger.warnings.at(-1)).toMatch(/model\.json: not valid JSON; moved to .*rebuilt from the history/);
    expect(readdirSync(path.join(dir, "api")).some((f) => f.startsWith("model.json.unreadable-"))).toBe(true);
    await store.saveModel("api", stored);
    expect(await store.loadModel("api")).toEqual(JSON.parse(JSON.stringify(stored)));
  });
});
