/**
 * The Action's persistence across workflow runs, in process: a push to the default branch
 * measures and saves the store with @actions/cache (here an honest fake of its module
 * boundary; the service cannot be reached from here), and a later PR run starts from it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import path from "node:path";
import { run } from "../../src/main.js";
import { ROOT, quickExampleConfig, shadowgateContainers } from "../helpers/run.js";
import { FakeActionsCache } from "../helpers/fake-actions-cache.js";

const EVENTS = path.join(ROOT, "fixtures/github-events");
const saved: Record<string, string | undefined> = {};

beforeAll(() => {
  for (const name of ["GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"]) saved[name] = process.env[name];
});
afterAll(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  process.exitCode = undefined;
});

async function actionRun(dir: string, config: string, cache: FakeActionsCache, event: { file: string; name: string; ref: string; sha: string }) {
  const output = path.join(dir, `output-${event.name}.txt`);
  writeFileSync(output, "");
  writeFileSync(path.join(dir, "summary.md"), "");
  process.env.GITHUB_OUTPUT = output;
  process.env.GITHUB_STEP_SUMMARY = path.join(dir, "summary.md");
  const env: NodeJS.ProcessEnv = {
    GITHUB_EVENT_NAME: event.name,
    GITHUB_EVENT_PATH: path.join(EVENTS, event.file),
    GITHUB_REPOSITORY: "octo-org/orders",
    GITHUB_REF: event.ref,
    GITHUB_SHA: event.sha,
    GITHUB_RUN_ID: String(Date.now()),
    GITHUB_RUN_ATTEMPT: "1",
    GITHUB_WORKSPACE: dir,
    RUNNER_TEMP: dir,
  };
  const inputs: Record<string, string> = { config, "results-file": path.join(dir, `results-${event.name}.json`), "fail-on": "never" };
  process.exitCode = undefined;
  await run((name) => inputs[name] ?? "", { env, cache });
  const failed = process.exitCode;
  process.exitCode = undefined;
  expect(failed, readFileSync(output, "utf8")).toBeUndefined();
  return JSON.parse(readFileSync(inputs["results-file"]!, "utf8"));
}

describe("the store across workflow runs with @actions/cache", () => {
  it("saves from the default branch, restores into a PR run by prefix, and the PR run does not save", async () => {
    const { dir, file } = quickExampleConfig({ trials: 2, slo: "{ latency.p99: 5s }" });
    const store = path.join(dir, "store");
    const cache = new FakeActionsCache();
    cache.workspace = dir;
    try {
      cache.context = { ref: "refs/heads/main", defaultBranch: "main" };
      const onMain = await actionRun(dir, file, cache, { file: "push.main.json", name: "push", ref: "refs/heads/main", sha: "950566f804235dbfb98e75c5b52bf1a1dbde73c2" });
      expect(onMain.history.runs).toBe(1);
      expect(cache.list().map((e) => e.key)).toEqual([expect.stringMatching(/^shadowgate-v1-orders_api-main-\d+-1$/)]);

      // a fresh runner: nothing on disk, only the cache
      rmSync(store, { recursive: true, force: true });
      cache.context = { ref: "refs/pull/7/merge", baseRef: "main", defaultBranch: "main" };
      const onPr = await actionRun(dir, file, cache, { file: "pull_request.synchronize.same-repo.json", name: "pull_request", ref: "refs/pull/7/merge", sha: "1f0c9e4a7b3d2c5e8f9a0b1c2d3e4f5a6b7c8d9e" });
      expect(onPr.history.runs).toBe(2);
      expect(onPr.history.trials).toBe(onMain.history.trials + onPr.trials.length);
      expect(cache.calls.filter((c) => c.method === "restoreCache").at(-1)).toMatchObject({ result: cache.list()[0]!.key });
      // PR runs only read: the cache still holds the one entry from main
      expect(cache.list()).toHaveLength(1);
      expect(existsSync(path.join(store, "shadowgate-store.json"))).toBe(true);
      expect(shadowgateContainers()).toEqual([]);
    } finally {
      cache.dispose();
    }
  });
});
