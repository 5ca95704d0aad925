import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ConfigError, loadConfig, parseConfigText } from "../../src/config/load.js";

const minimal = `
workload: { name: api }
traffic: { file: traffic.har }
`;

function errorOf(text: string): ConfigError {
  try {
    parseConfigText(text, "shadowgate.yml");
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("config", () => {
  it("fills every default from a five-line file", () => {
    const config = parseConfigText(minimal, "shadowgate.yml");
    expect(config.workload).toMatchObject({
      name: "api",
      category: "generic",
      source: { kind: "build", context: ".", dockerfile: "Dockerfile" },
      port: 8080,
      portEnv: "PORT",
      ready: { path: "/healthz", timeoutMs: 30_000 },
      resources: { cpus: 1, memoryMiB: 512 },
    });
    expect(config.shadows).toEqual({ fraction: 0.25, parallel: 2, trials: 6, seed: 1 });
    expect(config.traffic).toMatchObject({ connections: 8, warmupMs: 3000, durationMs: 10_000, windowMs: 1000, sample: 1 });
    expect(config.objective).toEqual({ kpi: "latency.p99", goal: "minimize" });
    expect(config.parameters).toEqual([]);
  });

  it("normalises parameters, units, current values and SLOs", () => {
    const config = parseConfigText(
      `
workload:
  name: api
  resources: { cpus: 2, memory: 1g }
  command: [node, server.js]
parameters:
  - { name: POOL, type: int, range: [1, 64], scale: log }
  - { name: MODE, type: enum, values: [lru, lfu] }
  - { name: FAST, type: bool, apply: { env: FAST_PATH } }
  - { name: threads, type: int, range: [1, 8], apply: { arg: "--threads={value}" } }
  - { name: cpus, type: float, range: [0.5, 4], apply: cpus }
current: { POOL: 8, MODE: lru, FAST: false, threads: 2 }
traffic: { file: t.har, duration: 1m, warmup: 500ms }
slo: { latency.p99: 200ms, errors.rate: 1%, throughput.rps: 500 }
objective: { maximize: throughput.rps }
`,
      "shadowgate.yml",
    );
    expect(config.workload.resources).toEqual({ cpus: 2, memoryMiB: 1024 });
    expect(config.parameters[0]).toEqual({ name: "POOL", type: "int", min: 1, max: 64, scale: "log", apply: { kind: "env", name: "POOL" } });
    expect(config.parameters[2]!.apply).toEqual({ kind: "env", name: "FAST_PATH" });
    expect(config.parameters[3]!.apply).toEqual({ kind: "arg", template: "--threads={value}" });
    expect(config.current).toEqual({ POOL: 8, MODE: "lru", FAST: false, threads: 2, cpus: 2 });
    expect(config.traffic.durationMs).toBe(60_000);
    expect(config.traffic.warmupMs).toBe(500);
    expect(config.slo).toEqual({ "latency.p99": 200, "errors.rate": 0.01, "throughput.rps": 500 });
    expect(config.objective).toEqual({ kpi: "throughput.rps", goal: "maximize" });
  });

  it.each([
    ["range with min > max", "parameters:\n  - { name: P, type: int, range: [64, 1] }\ncurrent: { P: 2 }", /shadowgate\.yml:\d+: parameters\[0\]\.range: expected \[min, max\] with min < max, got \[64, 1\]/],
    ["unknown parameter type", "parameters:\n  - { name: P, type: matrix, range: [1, 2] }", /shadowgate\.yml:4: parameters\[0\]\.type: expected one of int, float, enum, bool, got "matrix"/],
    ["unknown field", "shadows: { trails: 4 }", /shadowgate\.yml:3: shadows: unknown field "trails"/],
    ["current out of range", "parameters:\n  - { name: P, type: int, range: [1, 8] }\ncurrent: { P: 9 }", /current\.P: expected a value in \[1, 8\], got 9/],
    ["missing current value", "parameters:\n  - { name: P, type: int, range: [1, 8] }", /current: expected a value for P/],
    ["log scale from zero", "parameters:\n  - { name: P, type: int, range: [0, 8], scale: log }\ncurrent: { P: 1 }", /parameters\[0\]\.scale: expected min > 0 for a log scale/],
    ["bad duration", "shadows: { trials: 2 }\nslo: { latency.p99: fast }", /slo\.latency\.p99: expected a bound for latency\.p99 like "200ms", got "fast"/],
    ["unknown KPI", "objective: { minimize: latency.p42 }", /objective/],
    ["enum with one value", "parameters:\n  - { name: M, type: enum, values: [a] }\ncurrent: { M: a }", /parameters\[0\]\.values: expected a list of at least two values/],
    ["duplicate name", "parameters:\n  - { name: P, type: bool }\n  - { name: P, type: bool }\ncurrent: { P: true }", /parameters\[1\]\.name: expected a unique name/],
    ["fraction above one", "shadows: { fraction: 1.5 }", /shadows\.fraction: expected a fraction in \(0, 1\], got 1\.5/],
    ["apply misspelt", "parameters:\n  - { name: P, type: bool, apply: environment }\ncurrent: { P: true }", /parameters\[0\]\.apply: expected one of "env", "arg", "cpus", "memory", or \{env: NAME\} \/ \{arg: "--flag=\{value\}"\}, got "environment"/],
    ["error rate above 100%", "slo: { errors.rate: 150% }", /slo\.errors\.rate: expected a rate between 0 and 100%, got "150%"/],
    ["maximising a latency", "objective: { maximize: latency.p99 }", /objective\.maximize: expected minimize for latency\.p99 \(lower is better\)/],
    ["a CPU parameter whose shadow share is too small", "parameters:\n  - { name: c, type: float, range: [0.02, 1], apply: cpus }", /parameters\[0\]\.range: expected a minimum of at least 0\.04: a shadow gets × 0\.25, and Docker needs ≥ 0\.01 CPUs/],
    ["arg without command", "parameters:\n  - { name: P, type: int, range: [1, 8], apply: arg }\ncurrent: { P: 2 }", /parameters\[0\]\.apply: expected workload\.command/],
    ["target in an unsupported file kind", "parameters:\n  - { name: P, type: int, range: [1, 8], target: { file: x.toml, key: P } }\ncurrent: { P: 2 }", /^shadowgate\.yml:4: parameters\[0\]\.target\.file: expected a \.env, \.yml\/\.yaml file or a Dockerfile, got "x\.toml"$/],
    ["target as a string", "parameters:\n  - { name: P, type: int, range: [1, 8], target: x.env }\ncurrent: { P: 2 }", /^shadowgate\.yml:4: parameters\[0\]\.target: expected \{file: PATH, key: KEY\}.*, got "x\.env"$/],
    ["target without a key", "parameters:\n  - { name: P, type: int, range: [1, 8], target: { file: v.yaml } }\ncurrent: { P: 2 }", /parameters\[0\]\.target\.key: missing; expected the key that holds the value$/],
    ["target with an empty file", "parameters:\n  - { name: P, type: int, range: [1, 8], target: { file: '', key: P } }\ncurrent: { P: 2 }", /parameters\[0\]\.target\.file: expected the path of a \.env, \.yml\/\.yaml file or a Dockerfile, got ""/],
    ["a .env target whose key is not a variable name", "parameters:\n  - { name: P, type: int, range: [1, 8], target: { file: .env, key: 'a b' } }\ncurrent: { P: 2 }", /parameters\[0\]\.target\.key: expected a variable name like POOL_SIZE for a \.env file, got "a b"/],
    ["a YAML target with an empty key segment", "parameters:\n  - { name: P, type: int, range: [1, 8], target: { file: v.yaml, key: 'a..b' } }\ncurrent: { P: 2 }", /parameters\[0\]\.target\.key: expected a dotted key path like worker\.pool or env\.0\.value, got "a\.\.b"/],
  ])("names the field and what was expected: %s", (_name, extra, pattern) => {
    const error = errorOf(`${minimal.trim()}\n${extra}\n`);
    expect(error.message).toMatch(pattern);
    expect(error.message.split("\n")).toHaveLength(1);
  });

  it("names an unknown field of a target", () => {
    const error = errorOf(`${minimal.trim()}\nparameters:\n  - { name: P, type: int, range: [1, 8], target: { file: .env, key: P, path: x } }\ncurrent: { P: 2 }\n`);
    expect(error.message).toBe('shadowgate.yml:4: parameters[0].target: unknown field "path"');
  });

  it("keeps each parameter's target, accepting .env, YAML and Dockerfile names", () => {
    const files = [".env", ".env.production", "deploy/prod.env", "chart/values.yaml", "k8s/app.yml", "Dockerfile", "docker/api.Dockerfile", "Dockerfile.prod"];
    const config = parseConfigText(
      `${minimal.trim()}\nparameters:\n${files.map((file, i) => `  - { name: P${i}, type: bool, target: { file: "${file}", key: ${file.endsWith("ml") ? "a.b.0" : "P"} } }`).join("\n")}\ncurrent: { ${files.map((_, i) => `P${i}: true`).join(", ")} }\n`,
      "shadowgate.yml",
    );
    expect(config.parameters.map((p) => p.target)).toEqual(files.map((file) => ({ file, key: file.endsWith("ml") ? "a.b.0" : "P" })));
    expect(parseConfigText(`${minimal.trim()}\nparameters:\n  - { name: P, type: bool }\ncurrent: { P: true }\n`, "shadowgate.yml").parameters[0]).not.toHaveProperty("target");
  });

  it("resolves target files against the config file's folder", async () => {
    const file = path.resolve("fixtures/suggest/shadowgate.yml");
    const config = await loadConfig(file);
    const targets = Object.fromEntries(config.parameters.map((p) => [p.name, p.target]));
    expect(targets).toEqual({
      WORKER_POOL: { file: path.resolve("fixtures/suggest/.env"), key: "WORKER_POOL" },
      CACHE_MODE: { file: path.resolve("fixtures/suggest/.env"), key: "CACHE_MODE" },
      CACHE_SIZE: { file: path.resolve("fixtures/suggest/chart/values.yaml"), key: "cache.size" },
      BATCH_SIZE: { file: path.resolve("fixtures/suggest/chart/values.yaml"), key: "worker.env.0.value" },
      GC_MODE: { file: path.resolve("fixtures/suggest/Dockerfile"), key: "GC_MODE" },
      LOG_LEVEL: { file: path.resolve("fixtures/suggest/Dockerfile"), key: "LOG_LEVEL" },
      cpus: undefined,
      memory: undefined,
    });
  });

  it("refuses a request rate below 1/s and a shadow memory below Docker's minimum", () => {
    expect(errorOf("workload: { name: api }\ntraffic: { file: t.har, rate: 0.5 }\n").message).toMatch(/traffic\.rate: expected a request rate ≥ 1 per second, got 0\.5/);
    expect(errorOf("workload: { name: api, resources: { memory: 16m } }\ntraffic: { file: t.har }\n").message).toMatch(
      /workload\.resources\.memory: expected at least 24 MiB: a shadow gets × 0\.25, and Docker needs ≥ 6 MiB/,
    );
  });

  it("reports invalid YAML with its line and column", () => {
    const error = errorOf("workload:\n  name: [unclosed\ntraffic: { file: x }\n");
    expect(error.message).toMatch(/^shadowgate\.yml:\d+:\d+: invalid YAML: /);
  });

  it("rejects a file that is not a mapping", () => {
    expect(errorOf("- a\n- b\n").message).toMatch(/shadowgate\.yml:1: expected a mapping/);
  });

  it("requires the workload and traffic sections", () => {
    const error = errorOf("shadows: { trials: 3 }\n");
    expect(error.issues.join("\n")).toMatch(/workload: missing/);
    expect(error.issues.join("\n")).toMatch(/traffic: missing/);
  });

  it("loads a file, resolving paths against its folder, and names unreadable files", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "sg-config-"));
    const file = path.join(dir, "shadowgate.yml");
    writeFileSync(file, `${minimal}workload_extra: 1\n`.replace("workload_extra: 1\n", ""));
    const config = await loadConfig(file);
    expect(config.traffic.file).toBe(path.join(dir, "traffic.har"));
    expect(config.workload.source).toEqual({ kind: "build", context: dir, dockerfile: "Dockerfile" });
    expect(config.store.path).toBe(path.join(dir, ".shadowgate"));

    await expect(loadConfig(path.join(dir, "missing.yml"))).rejects.toThrow(`${path.join(dir, "missing.yml")}: cannot read the config file: no such file`);
    if (process.getuid?.() !== 0) {
      chmodSync(file, 0);
      await expect(loadConfig(file)).rejects.toThrow(/permission denied/);
    }
    await expect(loadConfig(dir)).rejects.toThrow(/is a directory/);
  });
});
