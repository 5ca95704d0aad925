/**
 * The bundled action (dist/index.js, on Node 24 as the runner runs it) inside GitHub: real
 * event payloads at GITHUB_EVENT_PATH, GITHUB_API_URL pointing at the fake GitHub server that
 * validates every request against GitHub's OpenAPI description, and the real Docker engine.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT, quickExampleConfig, runNode, shadowgateContainers, shadowgateImages, type ProcessResult } from "../helpers/run.js";
import { FAKE_READ_TOKEN, FAKE_WRITE_TOKEN, startFakeGitHub, type FakeGitHub } from "../helpers/fake-github.js";
import { commentMarker } from "../../src/github/publish.js";

const ACTION = path.join(ROOT, "dist/index.js");
const EVENTS = path.join(ROOT, "fixtures/github-events");
const node24 = execFileSync("bash", [path.join(ROOT, "scripts/ensure-node24.sh")], { encoding: "utf8" }).trim();

const PR7_HEAD = "4ace4ecd2582b95e8617544c6642617235e121cd";
const PR8_HEAD = "a4d111b7add634f54bd0a0adad8f0ff1a7f59ad2";
const MAIN_MERGE = "950566f804235dbfb98e75c5b52bf1a1dbde73c2";
/** a lenient SLO the example always meets, and one nothing can meet (p99 under 0.1 ms) */
const PASSING_SLO = "{ latency.p99: 5s }";
const FAILING_SLO = "{ latency.p99: 0.1ms }";

let fake: FakeGitHub;

beforeAll(async () => {
  fake = await startFakeGitHub({ owner: "octo-org", repo: "orders" });
});
afterAll(async () => {
  await fake?.close();
});
afterEach(() => {
  expect(fake.violations).toEqual([]);
  expect(shadowgateContainers()).toEqual([]);
  expect(shadowgateImages()).toEqual([]);
});

/** A workspace (the checked-out repository) holding a quick config at its root. */
function workspace(slo = PASSING_SLO, tuning: { trials?: number; current?: string } = {}): { dir: string; config: string; currentLine: number } {
  const { file, dir } = quickExampleConfig({ trials: tuning.trials ?? 2, slo, ...(tuning.current ? { current: tuning.current } : {}) });
  const currentLine = readFileSync(file, "utf8").split("\n").findIndex((line) => line.startsWith("current:")) + 1;
  return { dir, config: file, currentLine };
}

/** A PR diff whose added lines include the config's `current:` line (so suggestions can land). */
function diffAddingConfig(config: string): string {
  const lines = readFileSync(config, "utf8").replace(/\n$/, "").split("\n");
  return [`diff --git a/shadowgate.yml b/shadowgate.yml`, "new file mode 100644", "index 0000000..1111111", "--- /dev/null", "+++ b/shadowgate.yml", `@@ -0,0 +1,${lines.length} @@`, ...lines.map((l) => `+${l}`), ""].join("\n");
}

function readOutputs(file: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  for (const match of readFileSync(file, "utf8").matchAll(/^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm)) outputs[match[1]!] = match[3]!;
  return outputs;
}

interface ActionRun extends ProcessResult {
  outputs: Record<string, string>;
  summary: string;
}

async function runAction(options: { event: string; eventName: string; ref: string; sha: string; dir: string; inputs: Record<string, string>; runId?: string }): Promise<ActionRun> {
  const summary = path.join(options.dir, `summary-${Date.now()}.md`);
  const output = path.join(options.dir, `output-${Date.now()}.txt`);
  writeFileSync(summary, "");
  writeFileSync(output, "");
  const env: NodeJS.ProcessEnv = {
    GITHUB_ACTIONS: "true",
    GITHUB_EVENT_NAME: options.eventName,
    GITHUB_EVENT_PATH: path.join(EVENTS, options.event),
    GITHUB_REPOSITORY: "octo-org/orders",
    GITHUB_REF: options.ref,
    GITHUB_SHA: options.sha,
    GITHUB_RUN_ID: options.runId ?? "555001",
    GITHUB_RUN_ATTEMPT: "1",
    GITHUB_WORKSPACE: options.dir,
    GITHUB_API_URL: fake.url,
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_STEP_SUMMARY: summary,
    GITHUB_OUTPUT: output,
    RUNNER_TEMP: options.dir,
  };
  for (const [name, value] of Object.entries(options.inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  const result = await runNode([ACTION], { node: node24, env, cwd: options.dir });
  return { ...result, outputs: readOutputs(output), summary: readFileSync(summary, "utf8") };
}

const writesTo = (number: number) => fake.requests.filter((r) => r.method !== "GET" && (r.path.includes(`/issues/${number}/`) || r.path.includes(`/pulls/${number}/`)));

describe("the bundled action on GitHub", () => {
  it("on a same-repo PR: one sticky comment across two runs, a check run on the head, suggestions on the config's lines", async () => {
    // a starved current configuration (a quarter core) and enough trials to see it: a change is likely
    const ws = workspace(PASSING_SLO, { trials: 4, current: "{ WORKER_POOL: 2, CACHE_SIZE: 128, cpus: 1 }" });
    fake.addPullRequest({ number: 7, headSha: PR7_HEAD, headRef: "tune-pool", diff: diffAddingConfig(ws.config) });
    const pr7 = { event: "pull_request.synchronize.same-repo.json", eventName: "pull_request", ref: "refs/pull/7/merge", sha: "1f0c9e4a7b3d2c5e8f9a0b1c2d3e4f5a6b7c8d9e", dir: ws.dir };
    const first = await runAction({ ...pr7, inputs: { config: ws.config, token: FAKE_WRITE_TOKEN } });
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const second = await runAction({ ...pr7, runId: "555002", inputs: { config: ws.config, token: FAKE_WRITE_TOKEN } });
    expect(second.code, second.stdout + second.stderr).toBe(0);

    const comments = fake.comments.filter((c) => c.issueNumber === 7);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toContain(commentMarker("orders-api"));
    expect(comments[0]!.body).toContain("555002");
    expect(first.outputs["comment-url"]).toBe(second.outputs["comment-url"]);
    expect(second.outputs.verdict).toBe("pass");

    const checks = fake.checkRuns.filter((c) => c.headSha === PR7_HEAD);
    expect(checks).toHaveLength(2);
    expect(checks.every((c) => c.status === "completed" && c.conclusion === "success")).toBe(true);
    expect(second.outputs["check-run-id"]).toBe(String(checks[1]!.id));

    // the recommended values as a one-click suggestion on the config's current: line, never twice
    const results = JSON.parse(readFileSync(second.outputs["results-file"]!, "utf8"));
    const reviews = fake.reviews.filter((r) => r.pullNumber === 7);
    const suggested = [first, second].some((run) => JSON.parse(readFileSync(run.outputs["results-file"]!, "utf8")).suggestion.edits.length > 0);
    // a quarter core against up to a whole one: every run so far recommended more CPU (the
    // placement rules themselves are covered deterministically in test/integration/github-publish.test.ts)
    expect(suggested).toBe(true);
    expect(reviews.length).toBeGreaterThanOrEqual(1);
    expect(reviews.length).toBeLessThanOrEqual(2);
    for (const review of reviews) {
      expect(review).toMatchObject({ commitId: PR7_HEAD, event: "COMMENT" });
      expect(review.comments).toEqual([expect.objectContaining({ path: "shadowgate.yml", line: ws.currentLine, side: "RIGHT" })]);
      expect(review.comments[0]!.body).toMatch(/```suggestion\ncurrent: \{/);
    }
    expect(results.github).toMatchObject({ repository: "octo-org/orders", pullRequest: 7, headSha: PR7_HEAD, configPath: "shadowgate.yml" });

    // interop files for charting tools, and the job summary
    const smaller = JSON.parse(readFileSync(second.outputs["benchmark-smaller-file"]!, "utf8"));
    expect(smaller).toEqual(expect.arrayContaining([expect.objectContaining({ name: "orders-api latency.p99", unit: "ms" })]));
    expect(JSON.parse(readFileSync(second.outputs["benchmark-bigger-file"]!, "utf8"))[0]).toMatchObject({ name: "orders-api throughput.rps" });
    expect(Object.keys(JSON.parse(readFileSync(second.outputs["bencher-file"]!, "utf8")))).toContain("orders-api/current");
    expect(second.summary).toMatch(/^# Shadowgate · orders-api/);
    // outside Actions' cache service the cache is skipped, not an error
    expect(second.stdout).toMatch(/cache/i);
    expect(second.stdout).not.toMatch(/::error::/);
  });

  it("on a fork PR with a read-only token: job summary, a notice, and the failing step as the check", async () => {
    const ws = workspace(FAILING_SLO);
    fake.addPullRequest({ number: 8, headSha: PR8_HEAD, headRef: "main", headRepoFullName: "forker/orders", diff: diffAddingConfig(ws.config) });
    const before = fake.requests.length;
    const run = await runAction({ event: "pull_request.opened.fork.json", eventName: "pull_request", ref: "refs/pull/8/merge", sha: "2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d", dir: ws.dir, inputs: { config: ws.config, token: FAKE_READ_TOKEN } });

    expect(run.code).toBe(1);
    const errors = run.stdout.split("\n").filter((l) => l.startsWith("::error::"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/gate fail: The current configuration breaches an SLO: latency.p99 measured/);
    expect(run.stdout).toMatch(/::notice::.*HTTP 403.*two-phase mode/);
    expect(run.summary).toMatch(/# Shadowgate · orders-api/);
    expect(run.summary).toMatch(/HTTP 403/);
    expect(run.outputs.verdict).toBe("fail");
    // refused writes (one per permission), nothing stored
    const writes = fake.requests.slice(before).filter((r) => r.method !== "GET");
    expect(writes.length).toBeGreaterThanOrEqual(1);
    expect(writes.length).toBeLessThanOrEqual(2);
    expect(writes.every((w) => w.status === 403)).toBe(true);
    expect(writes8()).toEqual([]);
  });

  it("two-phase: measure on the fork PR writes the artifact; report from workflow_run posts it on PR 8", async () => {
    const ws = workspace();
    if (!fake.pullRequests.has(8)) fake.addPullRequest({ number: 8, headSha: PR8_HEAD, headRef: "main", headRepoFullName: "forker/orders", diff: diffAddingConfig(ws.config) });
    const before = fake.requests.length;
    const artifact = path.join(ws.dir, "artifact/results.json");
    const measure = await runAction({ event: "pull_request.opened.fork.json", eventName: "pull_request", ref: "refs/pull/8/merge", sha: "2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d", dir: ws.dir, inputs: { mode: "measure", config: ws.config, "results-file": artifact } });
    expect(measure.code, measure.stdout + measure.stderr).toBe(0);
    expect(fake.requests.length).toBe(before); // no token, no request
    const doc = JSON.parse(readFileSync(artifact, "utf8"));
    expect(doc.github).toMatchObject({ pullRequest: 8, headSha: PR8_HEAD, repository: "octo-org/orders" });

    // phase 2 runs the default branch's code with a write token; nothing of the PR is checked out
    const reportDir = quickExampleConfig().dir;
    const report = await runAction({ event: "workflow_run.completed.fork.json", eventName: "workflow_run", ref: "refs/heads/main", sha: MAIN_MERGE, dir: reportDir, inputs: { mode: "report", "results-file": artifact, token: FAKE_WRITE_TOKEN } });
    expect(report.code, report.stdout + report.stderr).toBe(0);
    const comments = fake.comments.filter((c) => c.issueNumber === 8);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toContain(doc.runId);
    expect(fake.checkRuns.filter((c) => c.headSha === PR8_HEAD)).toHaveLength(1);
    // the PR number came from the artifact, so the action checked that PR's head is the measured commit
    expect(fake.requests.some((r) => r.method === "GET" && r.operationId === "pulls/get" && r.path.endsWith("/pulls/8"))).toBe(true);
    expect(report.summary).toMatch(/# Shadowgate · orders-api/);

    // a tampered artifact pointing at another PR is refused before anything is written
    fake.addPullRequest({ number: 9, headSha: "9999999999999999999999999999999999999999", headRef: "other", diff: "" });
    const tampered = path.join(ws.dir, "artifact/tampered.json");
    writeFileSync(tampered, JSON.stringify({ ...doc, github: { ...doc.github, pullRequest: 9 } }));
    const writesBefore = fake.requests.filter((r) => r.method !== "GET").length;
    const refused = await runAction({ event: "workflow_run.completed.fork.json", eventName: "workflow_run", ref: "refs/heads/main", sha: MAIN_MERGE, dir: reportDir, inputs: { mode: "report", "results-file": tampered, token: FAKE_WRITE_TOKEN } });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/::error::.*tampered\.json: github\.pullRequest: PR #9's head is 9{40}, not the measured a4d111b7/);
    expect(fake.requests.filter((r) => r.method !== "GET").length).toBe(writesBefore);

    // and a malformed one names the field
    const malformed = path.join(ws.dir, "artifact/malformed.json");
    writeFileSync(malformed, JSON.stringify({ ...doc, trials: [{ ...doc.trials[0], requests: -1 }] }));
    const bad = await runAction({ event: "workflow_run.completed.fork.json", eventName: "workflow_run", ref: "refs/heads/main", sha: MAIN_MERGE, dir: reportDir, inputs: { mode: "report", "results-file": malformed, token: FAKE_WRITE_TOKEN } });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/::error::.*malformed\.json: trials\[0\]\.requests: /);
  });

  it("on a nightly schedule: measured on the default branch, nothing written to GitHub", async () => {
    const ws = workspace();
    const before = fake.requests.length;
    const run = await runAction({ event: "schedule.json", eventName: "schedule", ref: "refs/heads/main", sha: MAIN_MERGE, dir: ws.dir, inputs: { config: ws.config, token: FAKE_WRITE_TOKEN, trials: "3" } });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(fake.requests.length).toBe(before);
    expect(run.stdout).toMatch(/trial 3\/3/);
    expect(JSON.parse(readFileSync(run.outputs["results-file"]!, "utf8")).github).toMatchObject({ eventName: "schedule", pullRequest: null });
  });

  it("on a push to the default branch: no PR, so nothing is written to GitHub", async () => {
    const ws = workspace();
    const before = fake.requests.length;
    const run = await runAction({ event: "push.main.json", eventName: "push", ref: "refs/heads/main", sha: MAIN_MERGE, dir: ws.dir, inputs: { config: ws.config, token: FAKE_WRITE_TOKEN } });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(fake.requests.length).toBe(before);
    expect(run.outputs.verdict).toBe("pass");
    expect(existsSync(run.outputs["results-file"]!)).toBe(true);
    expect(JSON.parse(readFileSync(run.outputs["results-file"]!, "utf8")).github).toMatchObject({ eventName: "push", pullRequest: null, headSha: MAIN_MERGE });
  });
});

function writes8() {
  return writesTo(8).filter((r) => r.status < 300);
}
