import { describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { renderTemplate, shadowSpecFor, templatePlaceholders } from "../../src/core/apply.js";
import { kpisFrom } from "../../src/core/kpis.js";
import { packByCpu } from "../../src/pipeline.js";
import { LocalFolderStore, emptyHistory } from "../../src/store/local-store.js";
import type { ParameterCatalog, WorkloadProfile, Trial } from "../../src/core/types.js";
import type { LoadResult } from "../../src/core/ports.js";

const workload: WorkloadProfile = {
  name: "api",
  category: "node-http",
  source: { kind: "image", image: "x" },
  port: 8080,
  portEnv: "PORT",
  env: { LOG: "warn" },
  command: ["node", "/app/server.js"],
  ready: { path: "/healthz", timeoutMs: 5000 },
  resources: { cpus: 2, memoryMiB: 1024 },
};
const catalog: ParameterCatalog = [
  { name: "POOL", type: "int", min: 1, max: 16, scale: "log", apply: { kind: "env", name: "POOL_SIZE" } },
  { name: "threads", type: "int", min: 1, max: 8, scale: "linear", apply: { kind: "arg", template: "--threads={value}" } },
  { name: "cpus", type: "float", min: 0.5, max: 4, scale: "linear", apply: { kind: "cpus" } },
  { name: "mem", type: "int", min: 256, max: 4096, scale: "log", apply: { kind: "memory" } },
];

describe("applying a configuration to a shadow", () => {
  it("sets env, appends args and scales CPU and memory by the fraction", () => {
    const spec = shadowSpecFor({ workload, catalog, config: { POOL: 4, threads: 3, cpus: 3, mem: 2048 }, fraction: 0.25, image: "img", port: 41000, name: "s1" });
    expect(spec.env).toEqual({ LOG: "warn", PORT: "41000", POOL_SIZE: "4" });
    expect(spec.command).toEqual(["node", "/app/server.js", "--threads=3"]);
    expect(spec.cpus).toBe(0.75);
    expect(spec.memoryMiB).toBe(512);
  });

  it("uses the primary's resources when no parameter sets them", () => {
    const spec = shadowSpecFor({ workload, catalog: [catalog[0]!], config: { POOL: 2 }, fraction: 0.5, image: "img", port: 1, name: "s" });
    expect(spec.cpus).toBe(1);
    expect(spec.memoryMiB).toBe(512);
  });

  it("refuses a configuration that misses a parameter", () => {
    expect(() => shadowSpecFor({ workload, catalog, config: { POOL: 2 }, fraction: 0.5, image: "img", port: 1, name: "s" })).toThrow(/no value for parameter threads/);
  });

  it("renders env templates and joins appended options after the workload's own, in catalog order", () => {
    const jvm: ParameterCatalog = [
      { name: "heap", type: "int", min: 64, max: 4096, scale: "log", apply: { kind: "env", name: "JAVA_TOOL_OPTIONS", template: "-Xmx{value}m", append: true } },
      { name: "limit", type: "int", min: 16, max: 4096, scale: "log", apply: { kind: "env", name: "GOMEMLIMIT", template: "{value}MiB" } },
      { name: "gc", type: "enum", values: ["G1GC", "ZGC"], apply: { kind: "env", name: "JAVA_TOOL_OPTIONS", template: "-XX:+Use{value}", append: true } },
      { name: "verbose", type: "bool", apply: { kind: "env", name: "NODE_OPTIONS", append: true } },
    ];
    const config = { heap: 512, limit: 200, gc: "ZGC", verbose: true };
    const spec = shadowSpecFor({ workload: { ...workload, env: { JAVA_TOOL_OPTIONS: "-Dfile.encoding=UTF-8" } }, catalog: jvm, config, fraction: 0.25, image: "img", port: 1, name: "s" });
    expect(spec.env).toEqual({ PORT: "1", JAVA_TOOL_OPTIONS: "-Dfile.encoding=UTF-8 -Xmx512m -XX:+UseZGC", GOMEMLIMIT: "200MiB", NODE_OPTIONS: "true" });
    expect(spec).not.toHaveProperty("files");
  });
});

describe("rendering config-file templates", () => {
  const template = "worker_processes {{worker_processes}};\nevents { worker_connections {{ worker_connections }}; }\n# {{not_a_parameter}} {{}} {value}\n";
  const conf = { kind: "template", path: "/etc/nginx/nginx.conf", content: template, file: "/repo/nginx.conf.tmpl" } as const;
  const nginx: ParameterCatalog = [
    { name: "worker_processes", type: "int", min: 1, max: 8, scale: "log", apply: conf },
    { name: "worker_connections", type: "int", min: 64, max: 4096, scale: "log", apply: conf },
    { name: "not_a_parameter", type: "enum", values: ["a", "b"], apply: { kind: "template", path: "/etc/other.conf", content: "mode={{not_a_parameter}} cpus={{cpus}}" } },
    { name: "cpus", type: "float", min: 0.5, max: 4, scale: "linear", apply: { kind: "cpus" } },
  ];

  it("lists the placeholders with their lines", () => {
    expect(templatePlaceholders(template)).toEqual([
      { name: "worker_processes", line: 1 },
      { name: "worker_connections", line: 2 },
      { name: "not_a_parameter", line: 3 },
    ]);
  });

  it("replaces the placeholders it has values for and leaves the others as written", () => {
    expect(renderTemplate(template, { worker_processes: 4 })).toBe("worker_processes 4;\nevents { worker_connections {{ worker_connections }}; }\n# {{not_a_parameter}} {{}} {value}\n");
  });

  it("renders each template once per configuration, with any parameter's value", () => {
    const spec = shadowSpecFor({ workload, catalog: nginx, config: { worker_processes: 2, worker_connections: 1024, not_a_parameter: "b", cpus: 1.5 }, fraction: 0.5, image: "img", port: 1, name: "s" });
    expect(spec.files).toEqual([
      { path: "/etc/nginx/nginx.conf", content: "worker_processes 2;\nevents { worker_connections 1024; }\n# b {{}} {value}\n" },
      { path: "/etc/other.conf", content: "mode=b cpus=1.5" },
    ]);
    expect(spec.cpus).toBe(0.75);
    expect(spec.env).toEqual({ LOG: "warn", PORT: "1" });
  });

  it("refuses a configuration without a value for a placeholder", () => {
    const orphan: ParameterCatalog = [{ name: "P", type: "int", min: 1, max: 2, scale: "linear", apply: { kind: "template", path: "/etc/p.conf", content: "p={{P}}\nq={{Q}}" } }];
    expect(() => shadowSpecFor({ workload, catalog: orphan, config: { P: 1 }, fraction: 0.5, image: "img", port: 1, name: "s" })).toThrow("template for /etc/p.conf, line 2: configuration has no value for {{Q}}");
  });
});

describe("KPIs from a measured window", () => {
  const load: LoadResult = {
    requests: 1000,
    durationS: 5,
    rps: 200,
    latency: { p50: 1.5, p90: 3, p99: 8, max: 20, mean: 2 },
    errors: 10,
    non2xx: 50,
    windows: [
      { requests: 190, rps: 190, p50: 1.4, p90: 2.9, p99: 7, max: 15 },
      { requests: 210, rps: 210, p50: 1.6, p90: 3.1, p99: 9, max: 20 },
    ],
  };
  it("derives rates, CPU per request and spreads", () => {
    const { kpis, spread } = kpisFrom(load, { cpuPercent: 40, cpuSeconds: 2, memoryPeakMiB: 60, samples: 5, cpuPercentSd: 3 });
    expect(kpis["errors.rate"]).toBeCloseTo(10 / 1010);
    expect(kpis["non2xx.rate"]).toBeCloseTo(0.05);
    expect(kpis["cpu.secondsPerRequest"]).toBeCloseTo(0.002);
    expect(kpis["throughput.rps"]).toBe(200);
    expect(spread["throughput.rps"]).toBeCloseTo(Math.SQRT2 * 10);
    expect(spread["latency.p99"]).toBeCloseTo(Math.SQRT2);
    expect(spread["cpu.percent"]).toBe(3);
  });
  it("refuses a window with no answers", () => {
    expect(() => kpisFrom({ ...load, requests: 0, errors: 7, rps: 0, windows: [] }, { cpuPercent: 0, cpuSeconds: 0, memoryPeakMiB: 1, samples: 1 })).toThrow("no response in the measured window (7 errors)");
  });
});

describe("packing a search batch into shadow batches", () => {
  const items = [1, 2, 3, 4, 5].map((P, i) => ({ config: { P }, anchor: i === 0 }));
  it("keeps the order and puts at most `parallel` side by side", () => {
    const batches = packByCpu(items, 2);
    expect(batches.map((b) => b.map((i) => `${i.config.P}${i.anchor ? "*" : ""}`))).toEqual([["1*", "2"], ["3", "4"], ["5"]]);
    expect(packByCpu([], 3)).toEqual([]);
  });
});

describe("local history store", () => {
  const logger = { info: () => {}, debug: () => {}, warnings: [] as string[], warn(m: string) { this.warnings.push(m); } };
  const trial: Trial = {
    id: "r1-1", runId: "r1", at: "2026-11-29T00:00:00Z", config: { P: 1 }, anchor: true, requests: 10,
    kpis: { "latency.p50": 1, "latency.p90": 2, "latency.p99": 3, "latency.max": 4, "throughput.rps": 5, "errors.rate": 0, "non2xx.rate": 0, "cpu.percent": 6, "memory.peakMiB": 7, "cpu.secondsPerRequest": 0.001 },
    spread: { "latency.p50": 0, "latency.p90": 0, "latency.p99": 0, "latency.max": 0, "throughput.rps": 0, "errors.rate": 0, "non2xx.rate": 0, "cpu.percent": 0, "memory.peakMiB": 0, "cpu.secondsPerRequest": 0 },
  };
  it("round-trips a history and starts empty", async () => {
    const store = new LocalFolderStore(mkdtempSync(path.join(tmpdir(), "sg-store-")), logger);
    expect(await store.load("api")).toEqual(emptyHistory("api"));
    await store.save({ ...emptyHistory("api"), trials: [trial] });
    expect((await store.load("api")).trials).toEqual([trial]);
  });
  it("moves a corrupted or incompatible file aside with a warning", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "sg-store-"));
    const store = new LocalFolderStore(dir, logger);
    mkdirSync(path.join(dir, "api"));
    for (const [content, why] of [["{not json", /not valid JSON/], ['{"version":2,"workload":"api","trials":[]}', /schema version 2, expected 1/]] as const) {
      writeFileSync(store.fileFor("api"), content);
      logger.warnings.length = 0;
      expect(await store.load("api")).toEqual(emptyHistory("api"));
      expect(logger.warnings[0]).toMatch(why);
    }
    expect(readdirSync(path.join(dir, "api")).filter((f) => f.includes("unreadable"))).toHaveLength(2);
    // the folder is cached across runs: only the newest two set-aside files are kept
    writeFileSync(store.fileFor("api"), "garbage");
    await store.load("api");
    const kept = readdirSync(path.join(dir, "api")).filter((f) => f.includes("unreadable"));
    expect(kept).toHaveLength(2);
  });
});

describe("batch plan within a CPU budget", () => {
  const current = { cpus: 0.5 };
  const design = [{ cpus: 0.5 }, { cpus: 0.75 }, { cpus: 0.25 }, { cpus: 1.5 }, { cpus: 0.2 }];
  const budget = { cpusOf: (c: Record<string, unknown>) => Number(c.cpus), cpuBudget: 1 };
  it("never puts more CPU quota side by side than the budget, and always runs each trial", () => {
    const batches = packByCpu([{ config: current, anchor: true }, ...design.slice(1).map((config) => ({ config, anchor: false }))], 3, budget);
    for (const batch of batches) {
      const sum = batch.reduce((s, b) => s + Number(b.config.cpus), 0);
      expect(batch.length === 1 || sum <= 1).toBe(true);
    }
    expect(batches.flat().filter((b) => !b.anchor).map((b) => b.config.cpus).sort()).toEqual([0.2, 0.25, 0.75, 1.5]);
    expect(batches[0]![0]).toEqual({ config: current, anchor: true });
    // a trial larger than the whole budget still runs, alone
    expect(batches.find((b) => b.some((i) => i.config.cpus === 1.5))).toHaveLength(1);
  });
});
