import { describe, expect, it } from "vitest";
import { BENCHER_MEASURES, toBenchmarkActionJson, toBencherMetricFormat } from "../../src/report/interop.js";
import { KPI_NAMES } from "../../src/core/types.js";
import { sampleResults } from "../helpers/sample-results.js";

describe("github-action-benchmark custom JSON", () => {
  it("exports the current configuration's KPIs measured in this run, split by direction", () => {
    const { smallerIsBetter, biggerIsBetter } = toBenchmarkActionJson(sampleResults());
    expect(smallerIsBetter).toHaveLength(KPI_NAMES.length - 1);
    expect(biggerIsBetter).toHaveLength(1);
    for (const entry of [...smallerIsBetter, ...biggerIsBetter]) {
      expect(Object.keys(entry).sort()).toEqual(expect.arrayContaining(["extra", "name", "unit", "value"]));
      expect(typeof entry.value).toBe("number");
      expect(Number.isFinite(entry.value)).toBe(true);
      expect(entry.name).toMatch(/^orders-api [a-z0-9]+\.[A-Za-z0-9]+$/);
    }
  });

  it("uses the mean of the anchor trials, with ± spread as the range", () => {
    const doc = sampleResults();
    const { smallerIsBetter, biggerIsBetter } = toBenchmarkActionJson(doc);
    const p99 = smallerIsBetter.find((e) => e.name === "orders-api latency.p99")!;
    const anchors = doc.trials.filter((t) => t.anchor);
    expect(p99).toEqual({
      name: "orders-api latency.p99",
      unit: "ms",
      value: (anchors[0]!.kpis["latency.p99"] + anchors[1]!.kpis["latency.p99"]) / 2,
      range: "± 3.15",
      extra: "current configuration (WORKER_POOL=4 CACHE_SIZE=128 BATCH_SIZE=8 cpus=2), mean of 2 anchor trial(s) in run run-4711",
    });
    expect(p99.value).toBe(45);
    expect(biggerIsBetter[0]).toMatchObject({ name: "orders-api throughput.rps", unit: "req/s", value: 400, range: "± 12" });
  });

  it("states units: rates in percent, CPU per request in CPU-ms, no range without a spread", () => {
    const { smallerIsBetter } = toBenchmarkActionJson(sampleResults());
    const by = (kpi: string) => smallerIsBetter.find((e) => e.name === `orders-api ${kpi}`)!;
    expect(by("non2xx.rate")).toMatchObject({ unit: "%", value: 0.2 });
    expect(by("errors.rate")).toMatchObject({ unit: "%", value: 0 });
    expect(by("errors.rate").range).toBeUndefined();
    expect(by("cpu.secondsPerRequest").unit).toBe("CPU-ms/req");
    expect(by("cpu.secondsPerRequest").value).toBeCloseTo(1.218, 3);
    expect(by("cpu.percent").unit).toBe("% of a core");
  });

  it("is empty without an anchor trial and survives a JSON round trip", () => {
    const doc = sampleResults();
    expect(toBenchmarkActionJson({ ...doc, trials: doc.trials.filter((t) => !t.anchor) })).toEqual({ smallerIsBetter: [], biggerIsBetter: [] });
    const json = toBenchmarkActionJson(doc);
    expect(JSON.parse(JSON.stringify(json))).toStrictEqual(json);
  });
});

describe("Bencher Metric Format", () => {
  it("has the current configuration measured and the recommended one predicted", () => {
    const bmf = toBencherMetricFormat(sampleResults());
    expect(Object.keys(bmf)).toEqual(["orders-api/current", "orders-api/recommended"]);
    expect(Object.keys(bmf["orders-api/current"]!).sort()).toEqual(Object.values(BENCHER_MEASURES).sort());
    expect(bmf["orders-api/current"]!["latency-p99-ms"]).toEqual({ value: 45, lower_value: 41.85, upper_value: 48.15 });
    expect(bmf["orders-api/current"]!["throughput-req-per-s"]).toEqual({ value: 400, lower_value: 388, upper_value: 412 });
    expect(bmf["orders-api/current"]!["non2xx-rate-percent"]!.value).toBe(0.2);
    expect(bmf["orders-api/recommended"]!["latency-p99-ms"]).toEqual({ value: 28.4, lower_value: 25.56, upper_value: 31.24 });
  });

  it("matches Bencher's schema: every metric has a numeric value, bounds around it, slugs ≤ 64 characters", () => {
    const bmf = toBencherMetricFormat(sampleResults());
    for (const measures of Object.values(bmf)) {
      for (const [slug, metric] of Object.entries(measures)) {
        expect(slug).toMatch(/^[a-z0-9-]{1,64}$/);
        expect(Number.isFinite(metric.value)).toBe(true);
        expect(metric.lower_value!).toBeLessThanOrEqual(metric.value);
        expect(metric.upper_value!).toBeGreaterThanOrEqual(metric.value);
        expect(metric.lower_value!).toBeGreaterThanOrEqual(0);
      }
    }
  });

  it("has no recommended benchmark when the current configuration is kept, nor a current one without anchors", () => {
    const doc = sampleResults();
    const kept = toBencherMetricFormat(sampleResults({ recommended: { ...doc.recommended, keepCurrent: true, changed: [] } }));
    expect(Object.keys(kept)).toEqual(["orders-api/current"]);
    expect(toBencherMetricFormat({ ...doc, trials: [] })).toEqual({ "orders-api/recommended": expect.any(Object) });
  });
});
