import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { INPUTS, OUTPUTS, failsStep, readInputs } from "../../src/action/inputs.js";
import { ROOT } from "../helpers/run.js";

const action = parse(readFileSync(path.join(ROOT, "action.yml"), "utf8")) as { inputs: Record<string, { default?: string }>; outputs: Record<string, unknown> };
const inputs = (values: Record<string, string>) => readInputs((name) => values[name] ?? "", { RUNNER_TEMP: "/runner/tmp" });

describe("action inputs", () => {
  it("declares in action.yml exactly the inputs and outputs the code reads and sets", () => {
    expect(Object.keys(action.inputs).sort()).toEqual(Object.values(INPUTS).sort());
    expect(Object.keys(action.outputs).sort()).toEqual(Object.values(OUTPUTS).sort());
  });

  it("uses action.yml's defaults when inputs are empty", () => {
    const parsed = inputs({});
    expect(parsed).toMatchObject({ mode: "run", configFile: "shadowgate.yml", suggest: "review", comment: true, checkRun: true, cache: "auto", failOn: "fail", commentAuthor: "github-actions[bot]", timeoutMs: 3_600_000 });
    expect(parsed.resultsFile).toBe("/runner/tmp/shadowgate-results.json");
    for (const [name, key] of [["mode", "mode"], ["suggest", "suggest"], ["cache", "cache"], ["fail-on", "failOn"]] as const) {
      expect(String(parsed[key])).toBe(action.inputs[name]!.default);
    }
  });

  it("names the input and what was expected for bad values", () => {
    expect(() => inputs({ mode: "publish" })).toThrow('input mode: expected one of run, measure, report, gate, got "publish"');
    expect(() => inputs({ suggest: "push" })).toThrow('input suggest: expected one of review, commit, none, got "push"');
    expect(() => inputs({ comment: "yes" })).toThrow('input comment: expected true or false, got "yes"');
    expect(() => inputs({ trials: "2.5" })).toThrow('input trials: expected a whole number ≥ 1, got "2.5"');
    expect(() => inputs({ timeout: "soon" })).toThrow('input timeout: expected a duration like "30m", got "soon"');
    expect(() => inputs({ cache: "sometimes" })).toThrow("input cache: expected one of auto, always, read-only, off");
  });

  it("fails the step according to fail-on", () => {
    expect([failsStep("fail", "fail"), failsStep("warn", "fail"), failsStep("pass", "fail")]).toEqual([true, false, false]);
    expect([failsStep("fail", "warn"), failsStep("warn", "warn"), failsStep("pass", "warn")]).toEqual([true, true, false]);
    expect([failsStep("fail", "never"), failsStep("warn", "never")]).toEqual([false, false]);
  });
});
