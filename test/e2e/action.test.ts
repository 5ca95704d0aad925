/**
 * The bundled action (dist/index.js) run the way the Actions runner runs it: INPUT_*
 * variables, GITHUB_STEP_SUMMARY and GITHUB_OUTPUT files — on Node 20 (this machine) and on
 * Node 24 (the runtime action.yml declares), against the real Docker engine.
 */
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT, quickExampleConfig, runNode, shadowgateContainers, shadowgateImages } from "../helpers/run.js";

const ACTION = path.join(ROOT, "dist/index.js");
const node24 = execFileSync("bash", [path.join(ROOT, "scripts/ensure-node24.sh")], { encoding: "utf8" }).trim();

/** Parse the runner's GITHUB_OUTPUT file format (name<<DELIM / value / DELIM). */
function readOutputs(file: string): Record<string, string> {
  const text = readFileSync(file, "utf8");
  const outputs: Record<string, string> = {};
  const pattern = /^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (const match of text.matchAll(pattern)) outputs[match[1]!] = match[3]!;
  return outputs;
}

function runnerEnv(dir: string, inputs: Record<string, string>): NodeJS.ProcessEnv {
  const summary = path.join(dir, "summary.md");
  const output = path.join(dir, "output.txt");
  writeFileSync(summary, "");
  writeFileSync(output, "");
  const env: NodeJS.ProcessEnv = {
    GITHUB_STEP_SUMMARY: summary,
    GITHUB_OUTPUT: output,
    RUNNER_TEMP: dir,
    GITHUB_ACTIONS: "true",
    GITHUB_RUN_ID: "4242",
    GITHUB_RUN_ATTEMPT: "1",
  };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] = value;
  return env;
}

describe.each([
  ["node 20", process.execPath],
  ["node 24", node24],
])("the bundled action on %s", (_label, node) => {
  it("runs the loop and writes the job summary, outputs and results file", async () => {
    // an SLO it always meets: this test is about the plumbing, not the gate (see github.test.ts)
    const { file, dir } = quickExampleConfig({ trials: 3, slo: "{ latency.p99: 5s }" });
    const env = runnerEnv(dir, { config: file, timeout: "10m" });
    const result = await runNode([ACTION], { node, env });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).not.toMatch(/::error::/);
    expect(result.stdout).toMatch(/trial 3\/3/);

    const summary = readFileSync(env.GITHUB_STEP_SUMMARY!, "utf8");
    expect(summary).toMatch(/^# Shadowgate · orders-api/);
    expect(summary).toMatch(/\| #\s+\| `WORKER_POOL` \| `CACHE_SIZE` \| `cpus` \|\s+p50 \|/);
    expect(summary).toMatch(/## Current vs recommended/);

    const outputs = readOutputs(env.GITHUB_OUTPUT!);
    const recommended = JSON.parse(outputs["recommended-config"]!);
    expect(Object.keys(recommended).sort()).toEqual(["CACHE_SIZE", "WORKER_POOL", "cpus"]);
    expect(recommended.WORKER_POOL).toBeGreaterThanOrEqual(1);
    expect(recommended.WORKER_POOL).toBeLessThanOrEqual(8);
    expect(JSON.parse(outputs["current-config"]!)).toEqual({ WORKER_POOL: 2, CACHE_SIZE: 128, cpus: 2 });
    expect(["true", "false"]).toContain(outputs["keep-current"]);
    expect(outputs["results-file"]).toBe(path.join(dir, "shadowgate-results.json"));
    expect(outputs.verdict).toBe("pass");

    const results = JSON.parse(readFileSync(outputs["results-file"]!, "utf8"));
    expect(results.trials).toHaveLength(3);
    expect(results.runId).toMatch(/^4242-1-/);
    expect(results.recommended.config).toEqual(recommended);
    expect(shadowgateContainers()).toEqual([]);
    expect(shadowgateImages()).toEqual([]);
  });

  it("fails the step with one annotated error on a bad config, leaving nothing running", async () => {
    const { dir } = quickExampleConfig();
    const env = runnerEnv(dir, { config: path.join(ROOT, "fixtures/invalid/range-reversed.yml") });
    const result = await runNode([ACTION], { node, env });
    expect(result.code).toBe(1);
    const errors = result.stdout.split("\n").filter((line) => line.startsWith("::error::"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/range-reversed\.yml:\d+: parameters\[\d\]\.range: expected \[min, max\] with min < max, got \[64, 1\]/);
    expect(shadowgateContainers()).toEqual([]);
  });
});
