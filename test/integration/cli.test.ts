/**
 * The bundled CLI end to end against the real Docker engine: a whole run on the example
 * workload, bad input of every kind, and a run interrupted by SIGTERM. After each, no
 * container labelled `shadowgate` may exist.
 */
import { afterEach, describe, expect, it } from "vitest";
import { existsSync, readFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadConfig } from "../../src/config/load.js";
import { AGENT_VERSION } from "../../src/search/agent.js";
import { ROOT, EXAMPLE, quickExampleConfig, runNode, shadowgateContainers, shadowgateImages } from "../helpers/run.js";

const CLI = path.join(ROOT, "bin/shadowgate.js");
const INVALID = path.join(ROOT, "fixtures/invalid");

afterEach(() => {
  expect(shadowgateContainers()).toEqual([]);
  expect(shadowgateImages()).toEqual([]);
});

describe("shadowgate run (bundled CLI, real Docker)", () => {
  it("measures the example workload, learns across two runs and recommends", async () => {
    const { file, dir } = quickExampleConfig({ trials: 3 });
    const json = path.join(dir, "results.json");
    const first = await runNode([CLI, "run", "--config", file, "--json", json]);
    expect(first.stderr).toMatch(/trial 1\/3 \(current\): WORKER_POOL=2 CACHE_SIZE=128 cpus=2 → p50 [\d.]+ ms/);
    expect(first.stderr).toMatch(/best so far: latency\.p99/);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^# Shadowgate · orders-api/);
    expect(first.stdout).toContain("## Trials in this run (3)");
    expect(first.stdout).toMatch(/\*\*(Recommended|Keep the current configuration)/);

    const results = JSON.parse(readFileSync(json, "utf8"));
    expect(results.trials).toHaveLength(3);
    expect(results.trials.filter((t: { anchor: boolean }) => t.anchor)).toHaveLength(1);
    for (const trial of results.trials) {
      const k = trial.kpis;
      expect(k["throughput.rps"]).toBeGreaterThan(10);
      expect(k["latency.p50"]).toBeGreaterThan(0);
      expect(k["latency.p50"]).toBeLessThanOrEqual(k["latency.p90"]);
      expect(k["latency.p90"]).toBeLessThanOrEqual(k["latency.p99"]);
      expect(k["latency.p99"]).toBeLessThanOrEqual(k["latency.max"]);
      expect(k["errors.rate"]).toBeLessThan(0.05);
      expect(k["cpu.percent"]).toBeGreaterThan(1);
      // a shadow gets a quarter of the configuration's CPUs (cpus ≤ 4 → ≤ 1 core)
      expect(k["cpu.percent"]).toBeLessThan(trial.config.cpus * 25 * 1.3 + 5);
      expect(k["memory.peakMiB"]).toBeGreaterThan(5);
      expect(k["memory.peakMiB"]).toBeLessThan(256);
      expect(trial.spread["throughput.rps"]).toBeGreaterThanOrEqual(0);
    }
    expect(Object.keys(results.recommended.config).sort()).toEqual(["CACHE_SIZE", "WORKER_POOL", "cpus"]);
    expect(results.recommended.predicted["latency.p99"].lo).toBeLessThanOrEqual(results.recommended.predicted["latency.p99"].hi);
    expect(results.history).toEqual({ trials: 3, runs: 1 });

    // a second run adds to the history and trains on both runs
    const second = await runNode([CLI, "run", "--config", file, "--json", json, "--trials", "2"]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/history: 3 trials from 1 earlier runs/);
    const again = JSON.parse(readFileSync(json, "utf8"));
    expect(again.history).toEqual({ trials: 5, runs: 2 });
    expect(again.model.trainedOn).toBe(5);
    // the search: three measurements from the first run, so the agent chose a strategy for the
    // second run's batch, said why in the report, and kept what it learned for the next run
    expect(again.search.batches).toHaveLength(1);
    expect(again.search.batches[0].strategy).toMatch(/^(model|halton|random)$/);
    expect(second.stdout).toMatch(/^- Search: the agent chose .+; last because .+\.$/m);
    const agent = JSON.parse(readFileSync(path.join(dir, "store", "orders-api", "agent.json"), "utf8"));
    expect(agent).toMatchObject({ version: AGENT_VERSION, batches: 3 });
  });

  it("foresight: measures each configuration at every load level and says where the SLO breaks", async () => {
    const { file, dir } = quickExampleConfig({ trials: 2, slo: "{ latency.p99: 40ms }", extra: "growth: 1.5x" });
    writeFileSync(file, readFileSync(file, "utf8").replace("window: 500ms }", "window: 500ms, levels: [0.5, 1, 2] }"));
    const json = path.join(dir, "results.json");
    const run = await runNode([CLI, "run", "--config", file, "--json", json]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/trial \d+\/6 \(current\): WORKER_POOL=2 CACHE_SIZE=128 cpus=2 →/);
    expect(run.stderr).toMatch(/trial \d+\/6 at 2× load: /);
    const results = JSON.parse(readFileSync(json, "utf8"));
    expect(results.trials).toHaveLength(6);
    const levelsOf = (config: unknown) => results.trials.filter((t: { config: unknown }) => JSON.stringify(t.config) === JSON.stringify(config)).map((t: { load?: number }) => t.load).sort();
    expect(levelsOf(results.trials[0].config)).toEqual([0.5, 1, 2]);
    // the anchor is the current configuration at today's level
    const anchors = results.trials.filter((t: { anchor: boolean }) => t.anchor);
    expect(anchors).toHaveLength(1);
    expect(anchors[0].load).toBe(1);
    // four times the connections (closed loop): by Little's law, concurrency = throughput ×
    // latency, so their product grows about fourfold — as more throughput, more latency, or both
    const current = results.trials.filter((t: { config: { WORKER_POOL: number; CACHE_SIZE: number } }) => t.config.WORKER_POOL === 2 && t.config.CACHE_SIZE === 128);
    const at = (level: number) => current.find((t: { load: number }) => t.load === level).kpis;
    const concurrency = (level: number) => at(level)["throughput.rps"] * at(level)["latency.p50"];
    expect(concurrency(2)).toBeGreaterThan(concurrency(0.5) * 2);
    expect(results.foresight.maxLevel).toBe(2);
    expect(results.foresight.growth).toBe(1.5);
    expect(results.foresight.configs[0].label).toBe("current");
    expect(run.stdout).toMatch(/^## Foresight\n\n- Current configuration: (p99 predicted to exceed 40 ms at [\d.]+× today's traffic|p99 is predicted to exceed 40 ms already at today's traffic|every SLO is predicted to hold up to 2× today's traffic)/m);
    expect(run.stdout).toMatch(/^- Current configuration at 1\.5× today's traffic \(the expected growth\): p99 [\d.]+ ms/m);
    // the model trains on every level (the load is one of its features)
    expect(results.model.trainedOn).toBe(6);
  });

  it.each([
    ["missing config", () => path.join(INVALID, "does-not-exist.yml"), /does-not-exist\.yml: cannot read the config file: no such file/],
    ["config that is a directory", () => INVALID, /fixtures\/invalid: cannot read the config file: is a directory/],
    ["invalid YAML", () => path.join(INVALID, "not-yaml.yml"), /not-yaml\.yml:\d+:\d+: invalid YAML: /],
    ["unknown parameter type", () => path.join(INVALID, "unknown-type.yml"), /unknown-type\.yml:\d+: parameters\[\d\]\.type: expected one of int, float, enum, bool, got "matrix"/],
    ["range with min > max", () => path.join(INVALID, "range-reversed.yml"), /range-reversed\.yml:\d+: parameters\[\d\]\.range: expected \[min, max\] with min < max, got \[64, 1\]/],
    ["missing workload", () => path.join(INVALID, "missing-workload.yml"), /missing-workload\.yml(:\d+)?: workload: missing/],
    ["a HAR that is not HAR", () => path.join(INVALID, "not-har.yml"), /not-har\.har: not a HAR file: expected an object with log\.entries/],
  ])("fails with one clear line on %s", async (_name, config, pattern) => {
    const result = await runNode([CLI, "run", "--config", config()]);
    expect(result.code).toBe(1);
    const errorLines = result.stderr.split("\n").filter((line) => line.startsWith("shadowgate: error:"));
    expect(errorLines).toHaveLength(1);
    expect(errorLines[0]).toMatch(pattern);
  });

  it("stops after the first batch when the service answers the recording mostly with non-2xx", async () => {
    const result = await runNode([CLI, "run", "--config", path.join(INVALID, "wrong-paths.yml")]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/shadowgate: error: the current configuration answered only 0% of the replayed requests with 2xx \(errors 0%, non-2xx 100%\): check that .*wrong-paths\.har matches the service/);
    // 4 trials in batches of 2: the second batch never started
    expect(result.stderr).not.toMatch(/trial 3\/4/);
  });

  it("fails clearly when no Docker engine answers", async () => {
    const { file } = quickExampleConfig();
    const result = await runNode([CLI, "run", "--config", file], { env: { DOCKER_HOST: "unix:///tmp/shadowgate-no-such-docker.sock" } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/shadowgate: error: no Docker engine answers at unix:\/\/\/tmp\/shadowgate-no-such-docker\.sock.*scripts\/ensure-docker\.sh/);
  });

  it("rejects bad arguments with usage and exit code 2", async () => {
    const result = await runNode([CLI, "run", "--trials", "zero"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--trials: expected a whole number ≥ 1, got "zero"/);
    const failOn = await runNode([CLI, "run", "--fail-on", "sometimes"]);
    expect(failOn.code).toBe(2);
    expect(failOn.stderr).toMatch(/--fail-on: expected one of never, fail, warn, got "sometimes"/);
  });

  it("exits 3 when the gate fails with --fail-on fail, and writes the PR comment for other CI systems", async () => {
    // p99 under 0.1 ms: an SLO no configuration meets, so the measured anchor breaches it
    const { file, dir } = quickExampleConfig({ trials: 2, slo: "{ latency.p99: 0.1ms }" });
    const comment = path.join(dir, "comment.md");
    const result = await runNode([CLI, "run", "--config", file, "--fail-on", "fail", "--comment", comment]);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toMatch(/verdict: fail: The current configuration breaches an SLO: latency\.p99 measured [\d.]+ ms/);
    const body = readFileSync(comment, "utf8");
    expect(body.startsWith("<!-- shadowgate:workload=orders-api -->")).toBe(true);
    expect(body).toMatch(/Fail/);
    expect(body.length).toBeLessThanOrEqual(65_536);
  });

  it("stops and removes every shadow when interrupted with SIGTERM mid-run", async () => {
    const { file } = quickExampleConfig({ trials: 4 });
    let sent = false;
    const result = await runNode([CLI, "run", "--config", file], {
      onStderr: (text, child) => {
        // interrupt while the first batch's shadows are up and under load
        if (!sent && /image .* ready/.test(text)) {
          sent = true;
          setTimeout(() => child.kill("SIGTERM"), 1500);
        }
      },
    });
    expect(sent).toBe(true);
    expect(result.code === 143 || result.signal === "SIGTERM", `exit ${result.code} ${result.signal}\n${result.stderr}`).toBe(true);
    expect(result.stdout).toBe("");
  });

  it("stops everything when the run's timeout expires", async () => {
    const { file } = quickExampleConfig({ trials: 4 });
    const result = await runNode([CLI, "run", "--config", file, "--timeout", "4s"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/shadowgate: error: run timed out after 4 s; shadows stopped/);
  });

  it("fails clearly when the shadows never become ready, leaving nothing running", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "sg-never-ready-"));
    const { file } = quickExampleConfig({ trials: 2, extra: "" });
    // readiness on a path the example does not serve: every start times out
    const config = readFileSync(file, "utf8").replace("ready: { path: /healthz, timeout: 20s }", "ready: { path: /not-a-health-check, timeout: 2s }");
    const broken = path.join(dir, "shadowgate.yml");
    writeFileSync(broken, config);
    const result = await runNode([CLI, "run", "--config", broken]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/warning: trial 2\/2 failed: /);
    expect(result.stderr).toMatch(/shadowgate: error: the current configuration \(.*\) could not be measured: shadow .* not ready at http:\/\/127\.0\.0\.1:\d+\/not-a-health-check after \d+ ms: HTTP 404/);
  });
});

// the example's own config must stay valid as the schema evolves
describe("example config", () => {
  it("loads, and points at a Dockerfile and a recording that exist", async () => {
    const config = await loadConfig(path.join(EXAMPLE, "shadowgate.yml"));
    expect(config.parameters.length).toBeGreaterThanOrEqual(3);
    expect(existsSync(config.traffic.file)).toBe(true);
    expect(config.workload.source.kind).toBe("build");
    if (config.workload.source.kind === "build") expect(existsSync(path.join(config.workload.source.context, config.workload.source.dockerfile))).toBe(true);
  });
});
