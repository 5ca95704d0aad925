import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ConfigError, loadConfig, parseConfigText } from "../../src/config/load.js";
import { templatePlaceholders } from "../../src/core/apply.js";

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
    // no parameters: the generic catalog, the CPU quota and memory limit around the primary's
    expect(config.parameters).toEqual([
      { name: "cpus", type: "float", min: 0.5, max: 2, scale: "log", apply: { kind: "cpus" } },
      { name: "memory", type: "int", min: 256, max: 1024, scale: "log", apply: { kind: "memory" } },
    ]);
    expect(config.current).toEqual({ cpus: 1, memory: 512 });
    expect(config.constraints).toEqual([]);
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
    ["apply misspelt", "parameters:\n  - { name: P, type: bool, apply: environment }\ncurrent: { P: true }", /parameters\[0\]\.apply: expected one of "env", "arg", "cpus", "memory", or \{env: NAME\} \/ \{arg: "--flag=\{value\}"\} \/ \{template: \{file: FILE, path: \/PATH\/IN\/CONTAINER\}\}, got "environment"/],
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

  it("still loads a config of the previous version whose category is free text, when it defines its own parameters", () => {
    const java = "workload: { name: api, category: java }\ntraffic: { file: traffic.har }\n";
    const text = `${java}parameters:\n  - { name: P, type: bool }\ncurrent: { P: true }\n`;
    const config = parseConfigText(text, "shadowgate.yml");
    expect(config.workload.category).toBe("java");
    expect(config.parameters.map((p) => p.name)).toEqual(["P"]);
    // without parameters of its own it needs a catalog, and says which exist
    expect(() => parseConfigText(java, "shadowgate.yml")).toThrow(/workload\.category: expected one of the known categories generic, node-http/);
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

  it("reads sampling, pace, anonymisation rules, mocks and the response diff, with defaults", () => {
    const defaults = parseConfigText(minimal, "shadowgate.yml");
    expect(defaults.traffic).toMatchObject({ sample: 1, floor: 3, pace: "closed" });
    expect(defaults.anonymise).toEqual({ headers: [], fields: [], keep: [], rules: [] });
    expect(defaults.mocks).toEqual({});
    expect(defaults.gate.diff).toBeUndefined();

    const config = parseConfigText(
      `workload: { name: api }
traffic: { file: t.har, sample: 2000, floor: 5, openapi: api.yaml, pace: 2x }
anonymise:
  headers: [x-tenant]
  fields: [customerRef]
  keep: [token_type]
  rules: [{ name: employee-id, pattern: 'EMP-\\d{6}', in: [body, path] }]
mocks: { api.rates.example: { env: RATES_API_URL }, "pay.internal:8443": { env: PAY_URL, latency: 0.5x } }
gate: { diff: { requests: 4, fail: true } }
`,
      "shadowgate.yml",
    );
    expect(config.traffic).toMatchObject({ sample: 2000, floor: 5, openapi: "api.yaml", pace: 2 });
    expect(config.anonymise).toEqual({ headers: ["x-tenant"], fields: ["customerRef"], keep: ["token_type"], rules: [{ name: "employee-id", pattern: "EMP-\\d{6}", in: ["body", "path"], flags: "" }] });
    expect(config.mocks).toEqual({ "api.rates.example": { env: "RATES_API_URL", latency: "recorded" }, "pay.internal:8443": { env: "PAY_URL", latency: 0.5 } });
    expect(config.gate.diff).toEqual({ perRoute: 4, unsafe: false, fail: true });
    expect(parseConfigText(`${minimal.trim()}\ngate: { diff: true }\n`, "shadowgate.yml").gate.diff).toEqual({ perRoute: 10, unsafe: false, fail: false });
    expect(parseConfigText("workload: { name: api }\ntraffic: { file: t.har, pace: recorded }\n", "shadowgate.yml").traffic.pace).toBe(1);
  });

  it("names the field and what was expected for bad sampling, pace, rules and mocks", () => {
    expect(errorOf("workload: { name: api }\ntraffic: { file: t.har, sample: 2.5 }\n").message).toMatch(/traffic\.sample: expected a fraction of the recorded requests in \(0, 1\] or a whole number of requests above 1/);
    expect(errorOf("workload: { name: api }\ntraffic: { file: t.har, pace: fast }\n").message).toMatch(/traffic\.pace: expected "closed" \(a closed loop of connections\), "recorded" \(the recorded request rate\) or a multiple of it like "2x", got "fast"/);
    expect(errorOf("workload: { name: api }\ntraffic: { file: t.har, pace: 2x, rate: 50 }\n").message).toMatch(/traffic\.pace: expected either a fixed rate \(traffic\.rate\) or a pace relative to the recording, not both/);
    expect(errorOf(`${minimal.trim()}\nanonymise: { rules: [{ name: bad, pattern: "(unclosed" }] }\n`).message).toMatch(/anonymise\.rules\[0\]\.pattern: expected a valid regular expression: /);
    expect(errorOf(`${minimal.trim()}\nanonymise: { rules: [{ name: empty, pattern: "x*" }] }\n`).message).toMatch(/anonymise\.rules\[0\]\.pattern: expected a pattern that matches at least one character/);
    expect(errorOf(`${minimal.trim()}\nanonymise: { rules: [{ name: r, pattern: x, in: [cookies] }] }\n`).message).toMatch(/anonymise\.rules\[0\]\.in\[0\]: expected where it applies: headers, query, path, body, response/);
    expect(errorOf(`${minimal.trim()}\nanonymise: { rules: [{ name: r, pattern: x, flags: g }] }\n`).message).toMatch(/anonymise\.rules\[0\]\.flags: expected any of the regular-expression flags i, m, s, u, each once/);
    expect(errorOf(`${minimal.trim()}\nanonymise: { rules: [{ name: r, pattern: x }, { name: r, pattern: y }] }\n`).message).toMatch(/anonymise\.rules\[1\]\.name: expected each rule name once/);
    expect(errorOf(`${minimal.trim()}\nmocks: { api.x: { env: A }, API.X: { env: B } }\n`).message).toMatch(/mocks\.API\.X: expected each host once: "API\.X" is "api\.x" again/);
    expect(errorOf(`${minimal.trim()}\nmocks: { api.rates.example: { url: x } }\n`).message).toMatch(/mocks\.api\.rates\.example/);
    expect(errorOf(`${minimal.trim()}\nmocks: { "http://api.x": { env: X } }\n`).message).toMatch(/mocks\.http:\/\/api\.x: expected a map of external hosts as recorded \(like "api\.rates\.example"/);
    expect(errorOf(`${minimal.trim()}\nmocks: { api.x: { env: X, latency: slow } }\n`).message).toMatch(/mocks\.api\.x\.latency: expected "recorded", "none" or a multiple of the recorded latency like "0\.5x", got "slow"/);
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

describe("config: catalog parameters", () => {
  const jvm = "workload: { name: api, category: jvm, resources: { cpus: 2, memory: 2g } }\ntraffic: { file: t.har }\n";

  it("takes a catalog parameter by name, with overrides of its range, values, scale, apply and target", () => {
    const config = parseConfigText(
      `${jvm}parameters:
  - { use: heap, range: [256, 1024], scale: linear }
  - { use: gc, values: [G1GC, ZGC, ShenandoahGC] }
  - { use: gc_threads, apply: { env: GC_THREADS }, target: { file: .env, key: GC_THREADS } }
  - use: cpus
  - { name: POOL, type: int, range: [1, 8] }
current: { heap: 512, gc: ZGC, gc_threads: 2, POOL: 4 }
`,
      "shadowgate.yml",
    );
    expect(config.parameters).toEqual([
      { name: "heap", type: "int", min: 256, max: 1024, scale: "linear", apply: { kind: "env", name: "JAVA_TOOL_OPTIONS", template: "-Xmx{value}m", append: true } },
      { name: "gc", type: "enum", values: ["G1GC", "ZGC", "ShenandoahGC"], apply: { kind: "env", name: "JAVA_TOOL_OPTIONS", template: "-XX:+Use{value}", append: true } },
      { name: "gc_threads", type: "int", min: 1, max: 16, scale: "log", apply: { kind: "env", name: "GC_THREADS" }, target: { file: ".env", key: "GC_THREADS" } },
      { name: "cpus", type: "float", min: 1, max: 4, scale: "log", apply: { kind: "cpus" } },
      { name: "POOL", type: "int", min: 1, max: 8, scale: "linear", apply: { kind: "env", name: "POOL" } },
    ]);
    expect(config.current).toEqual({ heap: 512, gc: "ZGC", gc_threads: 2, cpus: 2, POOL: 4 });
  });

  it("falls back to a catalog parameter's default for the current configuration", () => {
    const config = parseConfigText("workload: { name: api, category: python-wsgi }\nparameters: [{ use: workers }, { use: worker_class }]\ncurrent: { workers: 3 }\ntraffic: { file: t.har }\n", "shadowgate.yml");
    expect(config.current).toEqual({ workers: 3, worker_class: "sync" });
  });

  it("keeps env options of several parameters apart: template, append", () => {
    const config = parseConfigText(
      `workload: { name: api }\nparameters:\n  - { name: A, type: int, range: [1, 8], apply: { env: OPTS, template: "--a={value}", append: true } }\n  - { name: B, type: int, range: [1, 8], apply: { env: OPTS, append: true } }\ncurrent: { A: 1, B: 2 }\ntraffic: { file: t.har }\n`,
      "shadowgate.yml",
    );
    expect(config.parameters.map((p) => p.apply)).toEqual([
      { kind: "env", name: "OPTS", template: "--a={value}", append: true },
      { kind: "env", name: "OPTS", append: true },
    ]);
  });

  it.each([
    ["an unknown category", "workload: { name: api, category: rust }", /^shadowgate\.yml:1: workload\.category: expected one of the known categories generic, node-http, jvm, go-http, nginx, python-wsgi, got "rust"$/],
    ["an unknown catalog parameter", "workload: { name: api, category: jvm }\nparameters: [{ use: xmx }]", /^shadowgate\.yml:2: parameters\[0\]\.use: expected a parameter of the jvm catalog \(heap, gc, gc_threads, cpus, memory\), got "xmx"$/],
    ["a generic catalog parameter", "workload: { name: api }\nparameters: [{ use: GOGC }]", /^shadowgate\.yml:2: parameters\[0\]\.use: expected a parameter of the generic catalog \(cpus, memory\), got "GOGC"$/],
    ["a range whose overrides leave min ≥ max", "workload: { name: api, category: jvm }\nparameters:\n  - { use: heap, range: [512, 512] }\ncurrent: { heap: 512 }", /^shadowgate\.yml:3: parameters\[0\]\.range: heap: expected \[min, max\] with min < max, got \[512, 512\]$/],
    ["a log scale from zero after an override", "workload: { name: api, category: nginx }\nparameters:\n  - { use: worker_connections, range: [0, 64] }", /^shadowgate\.yml:3: parameters\[0\]\.scale: worker_connections: expected min > 0 for a log scale, got min 0/],
    ["a range for an enum", "workload: { name: api, category: jvm }\nparameters:\n  - { use: gc, range: [1, 2] }\ncurrent: { gc: G1GC }", /^shadowgate\.yml:3: parameters\[0\]\.range: gc: expected no range for a enum parameter \(use values\)$/],
    ["values for an int", "workload: { name: api, category: jvm }\nparameters:\n  - { use: heap, values: [1, 2] }\ncurrent: { heap: 512 }", /^shadowgate\.yml:3: parameters\[0\]\.values: heap: expected no values for a int parameter \(use range\)$/],
    ["a name with use", "workload: { name: api, category: jvm }\nparameters:\n  - { use: heap, name: HEAP }\ncurrent: { heap: 512 }", /^shadowgate\.yml:3: parameters\[0\]\.name: heap: expected no name with use: a catalog parameter keeps its catalog name$/],
    ["a parameter used twice", "workload: { name: api, category: jvm }\nparameters:\n  - use: heap\n  - use: heap\ncurrent: { heap: 512 }", /^shadowgate\.yml:4: parameters\[1\]\.use: expected a unique name, "heap" is declared twice$/],
    ["an entry with neither use nor name", "parameters:\n  - { type: int, range: [1, 2] }", /^shadowgate\.yml:4: parameters\[0\]\.name: missing; expected a parameter name, or use: NAME for a parameter of the category's catalog$/],
    ["an empty list", "workload: { name: api, category: python-wsgi }\nparameters: []", /^shadowgate\.yml:2: parameters: expected at least one parameter: an empty list leaves nothing to search \(leave parameters out to search the whole python-wsgi catalog: workers, threads, worker_class, cpus, memory\)$/],
    ["a default outside the overridden range", "workload: { name: api, category: node-http }\nparameters:\n  - { use: UV_THREADPOOL_SIZE, range: [8, 64] }", /^shadowgate\.yml:3: current\.UV_THREADPOOL_SIZE: expected a value in \[8, 64\], got 4 \(the catalog's default: give the value in use\)$/],
    ["a catalog parameter without a default left out of current", "workload: { name: api, category: jvm }\nparameters:\n  - use: heap", /^shadowgate\.yml:3: current: expected a value for heap \(the configuration in use is measured as the anchor; the jvm catalog has no default for it\)$/],
    ["two parameters setting one variable", "parameters:\n  - { name: A, type: bool, apply: { env: X } }\n  - { name: B, type: bool, apply: { env: X, append: true } }\ncurrent: { A: true, B: true }", /^shadowgate\.yml:5: parameters\[1\]\.apply: B: expected its own environment variable, X is also set by parameters\[0\] \(A\) \(options of one variable need append: true on each\)$/],
    ["an env template without {value}", "parameters:\n  - { name: A, type: int, range: [1, 2], apply: { env: X, template: -Xmx } }\ncurrent: { A: 1 }", /^shadowgate\.yml:4: parameters\[0\]\.apply\.template: expected a template containing \{value\}, like "-Xmx\{value\}m", got "-Xmx"$/],
  ])("names the field and what was expected: %s", (_name, head, pattern) => {
    const text = head.startsWith("workload") ? `${head}\ntraffic: { file: t.har }\n` : `${minimal.trim()}\n${head}\n`;
    const error = errorOf(text);
    expect(error.message).toMatch(pattern);
  });

  it("keeps configs without a category working: a full definition needs no catalog", () => {
    const config = parseConfigText(`${minimal.trim()}\nparameters:\n  - { name: cpus, type: float, range: [1, 4], apply: cpus }\n`, "shadowgate.yml");
    expect(config.parameters).toEqual([{ name: "cpus", type: "float", min: 1, max: 4, scale: "linear", apply: { kind: "cpus" } }]);
    expect(config.current).toEqual({ cpus: 1 });
  });
});

describe("config: constraints", () => {
  const wsgi = `workload: { name: api, category: python-wsgi, resources: { cpus: 2 } }
parameters:
  - { use: workers, range: [1, 16] }
  - { use: threads, range: [1, 8] }
  - use: worker_class
  - use: cpus
traffic: { file: t.har }
`;

  it("compiles the config's constraints, then the catalog's own that apply", () => {
    const config = parseConfigText(`${wsgi}constraints:\n  - "threads * workers <= 64"\n  - "workers <= 2 * cpus + 1"\ncurrent: { workers: 4, threads: 1 }\n`, "shadowgate.yml");
    expect(config.constraints.map((c) => c.source)).toEqual(["threads * workers <= 64", "workers <= 2 * cpus + 1", "threads == 1 or worker_class == 'gthread'"]);
    expect(config.constraints[1]!.holds({ ...config.current, workers: 6 })).toBe(false);
    expect(config.constraints[2]!.holds({ ...config.current, threads: 4 })).toBe(false);
  });

  it("leaves out a catalog rule whose parameters are not all searched, or whose values were overridden", () => {
    const partial = parseConfigText("workload: { name: api, category: python-wsgi }\nparameters: [{ use: threads }]\ntraffic: { file: t.har }\n", "shadowgate.yml");
    expect(partial.constraints).toEqual([]);
    const narrowed = parseConfigText("workload: { name: api, category: python-wsgi }\nparameters: [{ use: threads }, { use: worker_class, values: [sync, gevent] }]\ntraffic: { file: t.har }\n", "shadowgate.yml");
    expect(narrowed.constraints).toEqual([]);
  });

  it("does not hold the current configuration to a catalog rule (it only prunes equivalent proposals)", () => {
    const config = parseConfigText(`${wsgi}current: { workers: 4, threads: 4, worker_class: sync }\n`, "shadowgate.yml");
    expect(config.constraints[0]!.holds(config.current)).toBe(false);
  });

  it.each([
    ["an unparsable constraint", 'constraints: ["workers <= "]', /^shadowgate\.yml:8: constraints\[0\]: constraint "workers <= ", column 12: expected a number, a parameter, a quoted text, true, false or "\(", got the end of the constraint$/],
    ["an unknown parameter", 'constraints:\n  - "workers <= 4"\n  - "workres <= 4"', /^shadowgate\.yml:10: constraints\[1\]: constraint "workres <= 4", column 1: unknown parameter "workres"; expected one of workers, threads, worker_class, cpus, a number, a quoted text, true or false$/],
    ["a catalog parameter that is not searched", 'constraints: ["memory >= 512"]', /^shadowgate\.yml:8: constraints\[0\]: constraint "memory >= 512", column 1: unknown parameter "memory"; .*; memory is in the python-wsgi catalog: add \{use: memory\} to parameters$/],
    ["a constraint that is not text", "constraints: [{ workers: 4 }]", /^shadowgate\.yml:8: constraints\[0\]: expected a rule such as "threads \* workers <= 64", got \{"workers":4\}$/],
    ["contradictory constraints", 'constraints:\n  - "workers > 8"\n  - "threads >= 2"\n  - "workers * threads < 8"\ncurrent: { workers: 2 }', /^shadowgate\.yml:9: constraints: contradictory constraints: none of \d+ sampled configurations satisfies "workers > 8" and "workers \* threads < 8" together within the parameters' ranges$/],
    ["the current configuration violating one", 'constraints:\n  - "workers <= 2 * cpus + 1"\n  - "threads * workers <= 64"\ncurrent: { workers: 16, threads: 8, worker_class: gthread }', /^shadowgate\.yml:9: constraints\[0\]: expected the current configuration to satisfy "workers <= 2 \* cpus \+ 1", but it has workers: 16, cpus: 2 \(and 1 more\)$/],
  ])("names the line, the field and what was expected: %s", (_name, extra, pattern) => {
    const error = errorOf(`${wsgi}${extra}\n`);
    expect(error.message).toMatch(pattern);
    expect(error.message.split("\n")).toHaveLength(1);
  });

  it("names every constraint the current configuration violates", () => {
    const error = errorOf(`${wsgi}constraints:\n  - "workers <= 2 * cpus + 1"\n  - "threads * workers <= 64"\ncurrent: { workers: 16, threads: 8, worker_class: gthread }\n`);
    expect(error.issues).toEqual([
      'shadowgate.yml:9: constraints[0]: expected the current configuration to satisfy "workers <= 2 * cpus + 1", but it has workers: 16, cpus: 2',
      'shadowgate.yml:10: constraints[1]: expected the current configuration to satisfy "threads * workers <= 64", but it has threads: 8, workers: 16',
    ]);
  });

  it.each([
    ["unknown-category.yml", /unknown-category\.yml:4: workload\.category: expected one of the known categories .*, got "rust-axum"$/],
    ["contradictory-constraints.yml", /contradictory-constraints\.yml:10: constraints: contradictory constraints: .* "workers > 8" and "workers \* threads < 8" together/],
    ["current-violates-constraint.yml", /current-violates-constraint\.yml:11: constraints\[0\]: expected the current configuration to satisfy "threads \* workers <= 64", but it has threads: 8, workers: 16$/],
    ["unknown-placeholder.yml", /unknown-placeholder\.yml:7: parameters\[0\]\.apply\.template\.file: unknown-placeholder\.conf\.tmpl:3: unknown placeholder \{\{worker_proceses\}\}; expected one of worker_processes, worker_connections, keepalive_timeout, gzip, gzip_comp_level$/],
  ])("reports fixtures/invalid/%s in one line", async (file, pattern) => {
    await expect(loadConfig(path.resolve("fixtures/invalid", file))).rejects.toThrow(pattern);
  });
});

describe("config: templates", () => {
  const dir = path.resolve("fixtures/catalog/nginx-template");

  it("reads a template once, relative to the config file, and shares it between its parameters", async () => {
    const config = await loadConfig(path.join(dir, "shadowgate.yml"));
    const applies = config.parameters.map((p) => p.apply);
    expect(new Set(applies.map((a) => JSON.stringify(a))).size).toBe(1);
    const apply = applies[0]!;
    expect(apply).toMatchObject({ kind: "template", path: "/etc/nginx/nginx.conf", file: path.join(dir, "nginx.conf.tmpl") });
    // the unsearched catalog parameter is filled with its default; the searched ones stay placeholders
    const content = apply.kind === "template" ? apply.content : "";
    expect(content).toContain("keepalive_timeout  75;");
    expect(content).toContain("worker_processes  {{worker_processes}};");
    expect(content).toContain("proxy_buffers  {{proxy_buffers}} 8k;");
  });

  it("fills the catalog's own template for any subset of its parameters", () => {
    const config = parseConfigText("workload: { name: edge, category: nginx }\nparameters: [{ use: worker_connections }]\ntraffic: { file: t.har }\n", "shadowgate.yml");
    const apply = config.parameters[0]!.apply;
    expect(apply.kind === "template" && templatePlaceholders(apply.content).map((p) => p.name)).toEqual(["worker_connections"]);
    expect(apply).not.toHaveProperty("file");
  });

  function withTemplate(template: string, parameters: string, current = "{ P: 1 }"): ConfigError {
    const dir = mkdtempSync(path.join(tmpdir(), "sg-template-"));
    writeFileSync(path.join(dir, "app.conf.tmpl"), template);
    const file = path.join(dir, "shadowgate.yml");
    writeFileSync(file, `workload: { name: api, category: nginx }\nparameters:\n${parameters}\ncurrent: ${current}\ntraffic: { file: t.har }\n`);
    try {
      parseConfigText(readFileSync(file, "utf8"), file);
    } catch (error) {
      if (error instanceof ConfigError) return error;
      throw error;
    }
    throw new Error("expected a ConfigError");
  }
  const conf = "{ template: { file: app.conf.tmpl, path: /etc/app.conf } }";

  it.each([
    ["an unknown placeholder", "a {{P}}\nb {{ Q }}\n", `  - { name: P, type: int, range: [1, 4], apply: ${conf} }`, /shadowgate\.yml:3: parameters\[0\]\.apply\.template\.file: app\.conf\.tmpl:2: unknown placeholder \{\{Q\}\}; expected one of P, worker_processes, worker_connections, keepalive_timeout, gzip, gzip_comp_level$/],
    ["a missing template file", "", `  - { name: P, type: int, range: [1, 4], apply: { template: { file: missing.tmpl, path: /etc/app.conf } } }`, /shadowgate\.yml:3: parameters\[0\]\.apply\.template\.file: cannot read the template file "missing\.tmpl": no such file$/],
    ["a relative container path", "", `  - { name: P, type: int, range: [1, 4], apply: { template: { file: app.conf.tmpl, path: etc/app.conf } } }`, /shadowgate\.yml:3: parameters\[0\]\.apply\.template\.path: expected the file's absolute path in the container, like "\/etc\/nginx\/nginx\.conf", got "etc\/app\.conf"$/],
    ["two templates for one container path", "{{P}}", `  - { name: P, type: int, range: [1, 4], apply: ${conf} }\n  - { use: gzip, apply: { template: { file: other.tmpl, path: /etc/app.conf } } }`, /shadowgate\.yml:4: parameters\[1\]\.apply: gzip: expected one template per file, \/etc\/app\.conf is also rendered for parameters\[0\] \(P\)$/],
  ])("names the template file and line: %s", (_name, template, parameters, pattern) => {
    const error = withTemplate(template, parameters);
    expect(error.issues.find((issue) => pattern.test(issue)), error.issues.join("\n")).toBeDefined();
  });
});
