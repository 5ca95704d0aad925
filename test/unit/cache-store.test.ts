import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  MANIFEST_FILE,
  STORE_FORMAT,
  actionsCache,
  cachePaths,
  planCache,
  restoreStore,
  saveStore,
  type CachePlan,
  type CachePlanInput,
} from "../../src/store/cache-store.js";
import { LocalFolderStore, emptyHistory } from "../../src/store/local-store.js";
import type { Trial } from "../../src/core/types.js";
import { FakeActionsCache, type FakeRunContext } from "../helpers/fake-actions-cache.js";

function recordingLogger() {
  const lines = { info: [] as string[], warn: [] as string[], debug: [] as string[] };
  return {
    lines,
    info: (m: string) => void lines.info.push(m),
    warn: (m: string) => void lines.warn.push(m),
    debug: (m: string) => void lines.debug.push(m),
  };
}

const base: CachePlanInput = {
  workload: "api",
  eventName: "push",
  ref: "refs/heads/main",
  defaultBranch: "main",
  runId: "100",
  runAttempt: "1",
  fromFork: false,
  policy: "auto",
};

function trial(runId: string): Trial {
  const zero = { "latency.p50": 0, "latency.p90": 0, "latency.p99": 0, "latency.max": 0, "throughput.rps": 0, "errors.rate": 0, "non2xx.rate": 0, "cpu.percent": 0, "memory.peakMiB": 0, "cpu.secondsPerRequest": 0 };
  return { id: `${runId}-1`, runId, at: "2026-11-29T00:00:00Z", config: { P: 1 }, anchor: true, requests: 10, kpis: { ...zero, "latency.p50": 1 }, spread: zero };
}

describe("planCache", () => {
  it("saves from a push on the default branch under a unique key, restoring by prefix", () => {
    const plan = planCache(base);
    expect(plan).toMatchObject({
      enabled: true,
      save: true,
      primaryKey: `shadowgate-v${STORE_FORMAT}-api-main-100-1`,
      restoreKeys: [`shadowgate-v${STORE_FORMAT}-api-main-`, `shadowgate-v${STORE_FORMAT}-api-`],
    });
    expect(plan.why).toMatch(/push run on the default branch main/);
  });

  it("saves from schedule and workflow_dispatch runs on the default branch", () => {
    expect(planCache({ ...base, eventName: "schedule" }).save).toBe(true);
    expect(planCache({ ...base, eventName: "workflow_dispatch" }).save).toBe(true);
    expect(planCache({ ...base, eventName: "workflow_dispatch", ref: "refs/heads/dev" }).save).toBe(false);
  });

  it("only restores on other branches: own branch, then default, then any", () => {
    const plan = planCache({ ...base, ref: "refs/heads/feature/login" });
    expect(plan.save).toBe(false);
    expect(plan.restoreKeys).toEqual(["shadowgate-v1-api-feature/login-", "shadowgate-v1-api-main-", "shadowgate-v1-api-"]);
    expect(plan.why).toMatch(/only restores/);
  });

  it("only restores in a same-repository PR: the PR, then its base, then the default branch, then any", () => {
    const plan = planCache({ ...base, eventName: "pull_request", ref: "refs/pull/7/merge", headRef: "feature", baseRef: "release", runId: "200" });
    expect(plan.save).toBe(false);
    expect(plan.primaryKey).toBe("shadowgate-v1-api-pull/7-200-1");
    expect(plan.restoreKeys).toEqual(["shadowgate-v1-api-pull/7-", "shadowgate-v1-api-release-", "shadowgate-v1-api-main-", "shadowgate-v1-api-"]);
    expect(plan.why).toMatch(/pull_request run on pull\/7 \(feature\) only restores/);
    // `always` saves from a same-repository PR (visible to that PR only)
    expect(planCache({ ...base, eventName: "pull_request", ref: "refs/pull/7/merge", baseRef: "main", policy: "always" }).save).toBe(true);
  });

  it("never saves data that came from a fork, whatever the policy", () => {
    for (const policy of ["auto", "always", "read-only"] as const) {
      for (const eventName of ["pull_request", "pull_request_target", "workflow_run"]) {
        const ref = eventName === "pull_request" ? "refs/pull/7/merge" : "refs/heads/main";
        const plan = planCache({ ...base, eventName, ref, baseRef: "main", fromFork: true, policy });
        expect(plan).toMatchObject({ enabled: true, save: false });
        expect(plan.why).toMatch(/fork/);
      }
    }
    // even a push-like event on the default branch
    expect(planCache({ ...base, fromFork: true, policy: "always" }).save).toBe(false);
  });

  it("workflow_run and pull_request_target (same repository) restore only under auto, save under always", () => {
    for (const eventName of ["workflow_run", "pull_request_target"]) {
      expect(planCache({ ...base, eventName }).save).toBe(false);
      expect(planCache({ ...base, eventName, policy: "always" }).save).toBe(true);
    }
  });

  it("policies: read-only restores only, off does neither, auto without a default branch never saves", () => {
    expect(planCache({ ...base, policy: "read-only" })).toMatchObject({ enabled: true, save: false });
    expect(planCache({ ...base, policy: "off" })).toMatchObject({ enabled: false, save: false });
    const { defaultBranch: _, ...noDefault } = base;
    const plan = planCache(noDefault);
    expect(plan.save).toBe(false);
    expect(plan.why).toMatch(/default branch is unknown/);
    expect(plan.restoreKeys).toEqual(["shadowgate-v1-api-main-", "shadowgate-v1-api-"]);
  });

  it("accepts refs/heads/ in base and default branch names, and tags", () => {
    const plan = planCache({ ...base, eventName: "pull_request", ref: "refs/pull/3/merge", baseRef: "refs/heads/main", defaultBranch: "refs/heads/main" });
    expect(plan.restoreKeys).toEqual(["shadowgate-v1-api-pull/3-", "shadowgate-v1-api-main-", "shadowgate-v1-api-"]);
    expect(planCache({ ...base, ref: "refs/tags/v1.2" }).primaryKey).toBe("shadowgate-v1-api-tag/v1.2-100-1");
  });

  it("sanitises keys: no commas, no '-' inside a part, at most 512 characters", () => {
    const plan = planCache({ ...base, workload: "my api,v2", ref: "refs/heads/feat/add-login,x" });
    expect(plan.primaryKey).toBe("shadowgate-v1-my_api_v2-feat/add_login_x-100-1");
    // a prefix of workload `api` cannot match the entries of workload `api-v2`
    expect(planCache({ ...base, workload: "api-v2" }).primaryKey.startsWith(plan.restoreKeys.at(-1)!)).toBe(false);
    expect(planCache({ ...base, workload: "api-v2" }).primaryKey.startsWith(planCache(base).restoreKeys.at(-1)!)).toBe(false);

    const long = (c: string) => c.repeat(2000);
    const a = planCache({ ...base, workload: long("w"), ref: `refs/heads/${long("b")}1`, baseRef: long("c"), runId: long("9"), runAttempt: long("1") });
    const b = planCache({ ...base, workload: long("w"), ref: `refs/heads/${long("b")}2`, baseRef: long("c"), runId: long("9"), runAttempt: long("1") });
    for (const key of [a.primaryKey, ...a.restoreKeys]) {
      expect(key.length).toBeLessThanOrEqual(512);
      expect(key).not.toContain(",");
    }
    expect(a.restoreKeys[0]).not.toBe(b.restoreKeys[0]); // cut parts keep a hash: still distinct
    expect(1 + a.restoreKeys.length).toBeLessThanOrEqual(10);
  });
});

describe("restoreStore / saveStore with an honest fake cache", () => {
  let workspace: string;
  let folder: string;
  let fake: FakeActionsCache;

  beforeEach(() => {
    workspace = mkdtempSync(path.join(tmpdir(), "sg-ws-"));
    folder = path.join(workspace, ".shadowgate");
    fake = new FakeActionsCache();
    fake.workspace = workspace;
  });
  afterEach(() => {
    fake.dispose();
    rmSync(workspace, { recursive: true, force: true });
  });

  /** a fresh runner: the folder does not exist before the restore */
  async function simulateRun(context: FakeRunContext, input: Partial<CachePlanInput>, work?: (store: LocalFolderStore) => Promise<void>) {
    rmSync(folder, { recursive: true, force: true });
    fake.context = context;
    const logger = recordingLogger();
    const plan = planCache({ ...base, ...input });
    const restored = await restoreStore(fake, folder, plan, logger);
    const store = new LocalFolderStore(folder, logger);
    const history = await store.load("api");
    if (work) await work(store);
    const saved = await saveStore(fake, folder, plan, logger);
    return { plan, restored, history, saved, logger };
  }
  const main: FakeRunContext = { ref: "refs/heads/main", defaultBranch: "main" };
  const pr7: FakeRunContext = { ref: "refs/pull/7/merge", baseRef: "main", defaultBranch: "main" };
  const prInput: Partial<CachePlanInput> = { eventName: "pull_request", ref: "refs/pull/7/merge", baseRef: "main" };

  it("round trip: main saves, a PR restores it, a second main run saves a new key, the newest wins", async () => {
    const first = await simulateRun(main, { runId: "100" }, (store) => store.save({ ...emptyHistory("api"), trials: [trial("100")] }));
    expect(first.restored).toEqual({});
    expect(first.logger.lines.info.some((l) => /nothing restored/.test(l))).toBe(true);
    expect(first.saved).toEqual({ saved: true, key: "shadowgate-v1-api-main-100-1" });
    expect(JSON.parse(readFileSync(path.join(folder, MANIFEST_FILE), "utf8"))).toMatchObject({ format: STORE_FORMAT, key: "shadowgate-v1-api-main-100-1" });

    const pr = await simulateRun(pr7, { ...prInput, runId: "101" }, (store) => store.save({ ...emptyHistory("api"), trials: [trial("100"), trial("101")] }));
    expect(pr.restored.restoredKey).toBe("shadowgate-v1-api-main-100-1");
    expect(pr.history.trials.map((t) => t.runId)).toEqual(["100"]);
    expect(pr.saved).toEqual({ saved: false });
    expect(pr.logger.lines.info).toContainEqual(expect.stringMatching(/not saving the store: this pull_request run .* only restores it/));

    const second = await simulateRun(main, { runId: "102" }, async (store) => {
      const history = await store.load("api");
      await store.save({ ...history, trials: [...history.trials, trial("102")] });
    });
    expect(second.restored.restoredKey).toBe("shadowgate-v1-api-main-100-1");
    expect(second.saved).toEqual({ saved: true, key: "shadowgate-v1-api-main-102-1" });

    const later = await simulateRun(pr7, { ...prInput, runId: "103" });
    expect(later.restored.restoredKey).toBe("shadowgate-v1-api-main-102-1");
    expect(later.history.trials.map((t) => t.runId)).toEqual(["100", "102"]);

    // restore and save always passed the identical paths array
    const paths = fake.calls.filter((c) => c.method !== "isFeatureAvailable").map((c) => ("paths" in c ? c.paths : []));
    expect(paths.length).toBe(6);
    for (const p of paths) expect(p).toEqual(cachePaths(folder));
    expect(fake.list().map((e) => e.key)).toEqual(["shadowgate-v1-api-main-102-1", "shadowgate-v1-api-main-100-1"]);
  });

  it("a PR's own entry (policy always) comes first for that PR, and is never seen from main", async () => {
    await simulateRun(main, { runId: "100" }, (store) => store.save({ ...emptyHistory("api"), trials: [trial("100")] }));
    const pr = await simulateRun(pr7, { ...prInput, runId: "101", policy: "always" }, (store) => store.save({ ...emptyHistory("api"), trials: [trial("101")] }));
    expect(pr.saved).toEqual({ saved: true, key: "shadowgate-v1-api-pull/7-101-1" });
    const again = await simulateRun(pr7, { ...prInput, runId: "102", policy: "read-only" });
    expect(again.restored.restoredKey).toBe("shadowgate-v1-api-pull/7-101-1");
    const onMain = await simulateRun(main, { runId: "103", policy: "read-only" });
    expect(onMain.restored.restoredKey).toBe("shadowgate-v1-api-main-100-1");
  });

  it("an existing key is not a crash: a warning, saved false", async () => {
    mkdirSync(folder, { recursive: true });
    const logger = recordingLogger();
    const plan = planCache(base);
    expect(await saveStore(fake, folder, plan, logger)).toEqual({ saved: true, key: plan.primaryKey });
    expect(await saveStore(fake, folder, plan, logger)).toEqual({ saved: false });
    expect(logger.lines.warn).toEqual([expect.stringMatching(/shadowgate-v1-api-main-100-1 was not saved/)]);
    expect(fake.log).toContainEqual({ level: "info", message: expect.stringMatching(/^Failed to save: Unable to reserve cache with key shadowgate-v1-api-main-100-1/) });
  });

  it("outside Actions: skipped with one info line, the cache is not called", async () => {
    fake.available = false;
    const logger = recordingLogger();
    const plan = planCache(base);
    expect(await restoreStore(fake, folder, plan, logger)).toEqual({});
    expect(await saveStore(fake, folder, plan, logger)).toEqual({ saved: false });
    expect(logger.lines.info).toEqual([expect.stringMatching(/Actions cache service is not available/)]);
    expect(logger.lines.warn).toEqual([]);
    expect(fake.calls.map((c) => c.method)).toEqual(["isFeatureAvailable", "isFeatureAvailable"]);
    expect(existsSync(folder)).toBe(false);
  });

  it("policy off: neither restore nor save, one info line", async () => {
    const logger = recordingLogger();
    const plan = planCache({ ...base, policy: "off" });
    await restoreStore(fake, folder, plan, logger);
    await saveStore(fake, folder, plan, logger);
    expect(logger.lines.info).toEqual([expect.stringMatching(/cache: off/)]);
    expect(fake.calls).toEqual([]);
  });

  it("restore or save throwing is a warning and the run goes on with an empty store", async () => {
    await simulateRun(main, { runId: "100" }, (store) => store.save({ ...emptyHistory("api"), trials: [trial("100")] }));
    fake.failNextRestore(new Error("socket hang up"));
    fake.failNextSave(new Error("ETIMEDOUT"));
    const run = await simulateRun(main, { runId: "101" });
    expect(run.restored).toEqual({});
    expect(run.history).toEqual(emptyHistory("api"));
    expect(run.saved).toEqual({ saved: false });
    expect(run.logger.lines.warn).toEqual([
      expect.stringMatching(/restore failed \(socket hang up\); starting with an empty store/),
      expect.stringMatching(/save failed \(ETIMEDOUT\)/),
    ]);
  });

  it("a cache service failure the module suppresses is a miss, then -1 on save", async () => {
    await simulateRun(main, { runId: "100" });
    fake.failNextRestore("service-down");
    fake.failNextSave("service-down");
    const run = await simulateRun(main, { runId: "101" });
    expect(run.restored).toEqual({});
    expect(run.saved).toEqual({ saved: false });
    expect(run.logger.lines.warn).toEqual([expect.stringMatching(/was not saved/)]);
    expect(fake.log.filter((l) => l.level === "warning").map((l) => l.message)).toEqual([
      expect.stringMatching(/^Failed to restore/),
      expect.stringMatching(/^Failed to save/),
    ]);
  });

  it("a key the module rejects (ValidationError thrown) is a warning, not a crash", async () => {
    const logger = recordingLogger();
    const plan: CachePlan = { ...planCache(base), primaryKey: "a,b", restoreKeys: Array.from({ length: 10 }, (_, i) => `k${i}`) };
    await expect(restoreStore(fake, folder, plan, logger)).resolves.toEqual({});
    mkdirSync(folder, { recursive: true });
    await expect(saveStore(fake, folder, plan, logger)).resolves.toEqual({ saved: false });
    expect(logger.lines.warn).toEqual([expect.stringMatching(/Keys are limited to a maximum of 10/), expect.stringMatching(/cannot contain commas/)]);
  });

  /** an entry of the main branch with these files, as if saved by some run */
  async function seed(key: string, files: Record<string, string>): Promise<void> {
    rmSync(folder, { recursive: true, force: true });
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(folder, name)), { recursive: true });
      writeFileSync(path.join(folder, name), content);
    }
    fake.context = main;
    expect(await fake.saveCache(cachePaths(folder), key)).toBeGreaterThan(0);
    rmSync(folder, { recursive: true, force: true });
  }
  const goodHistory = JSON.stringify({ ...emptyHistory("api"), trials: [trial("1")] });

  it.each([
    ["another store format", JSON.stringify({ format: STORE_FORMAT + 1, savedAt: "x", key: "k" }), /store format 2, expected 1/],
    ["an unparsable manifest", "{nope", /not valid JSON/],
    ["no manifest", undefined, /no shadowgate-store.json/],
  ])("an entry with %s is moved aside with a warning and the run starts empty", async (_, manifest, why) => {
    await seed("shadowgate-v1-api-main-1-1", { "api/history.json": goodHistory, ...(manifest === undefined ? {} : { [MANIFEST_FILE]: manifest }) });
    const run = await simulateRun(main, { runId: "2" });
    expect(run.restored.restoredKey).toBeUndefined();
    expect(run.logger.lines.warn).toEqual([expect.stringMatching(why)]);
    expect(run.logger.lines.warn[0]).toContain(run.restored.movedAside);
    expect(path.basename(run.restored.movedAside!)).toMatch(/^\.shadowgate\.incompatible-/);
    expect(readFileSync(path.join(run.restored.movedAside!, "api/history.json"), "utf8")).toBe(goodHistory);
    expect(run.history).toEqual(emptyHistory("api"));
    // and this run saved a fresh, compatible store that the next run restores
    expect(run.saved.saved).toBe(true);
    const next = await simulateRun(main, { runId: "3", policy: "read-only" });
    expect(next.restored.restoredKey).toBe("shadowgate-v1-api-main-2-1");
    expect(next.logger.lines.warn).toEqual([]);
  });

  it("a corrupted history.json inside a good entry: LocalFolderStore.load warns and returns an empty history", async () => {
    await seed("shadowgate-v1-api-main-1-1", {
      [MANIFEST_FILE]: JSON.stringify({ format: STORE_FORMAT, savedAt: "2026-11-29T00:00:00Z", key: "shadowgate-v1-api-main-1-1" }),
      "api/history.json": "\u0000garbage{",
    });
    const run = await simulateRun(main, { runId: "2", policy: "read-only" });
    expect(run.restored.restoredKey).toBe("shadowgate-v1-api-main-1-1");
    expect(run.history).toEqual(emptyHistory("api"));
    expect(run.logger.lines.warn).toEqual([expect.stringMatching(/history\.json: ignored \(not valid JSON\); moved to/)]);
    expect(readdirSync(path.join(folder, "api")).some((f) => f.startsWith("history.json.unreadable-"))).toBe(true);
  });

  it("a corrupted archive is a miss; a partially extracted one is moved aside", async () => {
    const manifest = JSON.stringify({ format: STORE_FORMAT, savedAt: "x", key: "k" });
    await seed("shadowgate-v1-api-main-1-1", { [MANIFEST_FILE]: manifest, "api/history.json": goodHistory });
    await fake.corrupt("shadowgate-v1-api-main-1-1", "garbage");
    const garbage = await simulateRun(main, { runId: "2", policy: "read-only" });
    expect(garbage.restored).toEqual({});
    expect(garbage.history).toEqual(emptyHistory("api"));
    expect(fake.log.at(-1)).toMatchObject({ level: "warning", message: expect.stringMatching(/^Failed to restore/) });

    // names sort: api/history.json, then the big model file that the cut falls into
    await seed("shadowgate-v1-api-main-3-1", { [MANIFEST_FILE]: manifest, "api/history.json": goodHistory, "api/model.bin": "m".repeat(200_000) });
    await fake.corrupt("shadowgate-v1-api-main-3-1", "truncate");
    const partial = await simulateRun(main, { runId: "4", policy: "read-only" });
    expect(partial.restored.restoredKey).toBeUndefined();
    expect(path.basename(partial.restored.movedAside!)).toMatch(/^\.shadowgate\.partial-/);
    expect(partial.logger.lines.warn).toEqual([expect.stringMatching(/a failed restore left files in it/)]);
    expect(partial.history).toEqual(emptyHistory("api"));
  });
});

describe("the fake keeps @actions/cache's rules", () => {
  let dir: string;
  let fake: FakeActionsCache;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "sg-ws-"));
    fake = new FakeActionsCache();
    fake.workspace = dir;
    writeFileSync(path.join(dir, "a.txt"), "A");
  });
  afterEach(() => {
    fake.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("validates keys and paths like the real module", async () => {
    const file = path.join(dir, "a.txt");
    await expect(fake.saveCache([file], "x".repeat(513))).rejects.toThrow(/cannot be larger than 512 characters/);
    await expect(fake.saveCache([file], "a,b")).rejects.toThrow(/cannot contain commas/);
    await expect(fake.restoreCache([file], "k", Array.from({ length: 10 }, (_, i) => `r${i}`))).rejects.toThrow(/maximum of 10/);
    await expect(fake.restoreCache([], "k")).rejects.toThrow(/At least one directory or file path is required/);
    await expect(fake.saveCache([path.join(dir, "missing")], "k")).rejects.toThrow(/Path Validation Error/);
  });

  it("restores the exact key, else the newest by prefix; other paths miss", async () => {
    const file = path.join(dir, "a.txt");
    expect(await fake.saveCache([file], "p-1")).toBe(1);
    writeFileSync(file, "B");
    expect(await fake.saveCache([file], "p-2")).toBe(2);
    writeFileSync(file, "C");
    expect(await fake.restoreCache([file], "p-1", ["p-"])).toBe("p-1");
    expect(readFileSync(file, "utf8")).toBe("A");
    expect(await fake.restoreCache([file], "q-1", ["q-", "p-"])).toBe("p-2");
    expect(readFileSync(file, "utf8")).toBe("B");
    expect(await fake.restoreCache([file, path.join(dir, "other")], "p-1", ["p-"])).toBeUndefined();
    expect(await fake.saveCache([file], "p-2")).toBe(-1);
  });
});

describe("the real @actions/cache outside Actions", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it("isFeatureAvailable() is false and restoreStore/saveStore skip cleanly", async () => {
    for (const name of ["ACTIONS_CACHE_URL", "ACTIONS_RESULTS_URL", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_CACHE_SERVICE_V2"]) vi.stubEnv(name, undefined);
    const written: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
    const dir = mkdtempSync(path.join(tmpdir(), "sg-real-"));
    const folder = path.join(dir, "store");
    mkdirSync(folder);
    try {
      expect(actionsCache.isFeatureAvailable()).toBe(false);
      const logger = recordingLogger();
      const plan = planCache(base);
      expect(await restoreStore(actionsCache, folder, plan, logger)).toEqual({});
      expect(await saveStore(actionsCache, folder, plan, logger)).toEqual({ saved: false });
      expect(logger.lines.info).toEqual([expect.stringMatching(/not available/)]);
      expect(logger.lines.warn).toEqual([]);
      // the module never ran: no "::warning::Failed to restore" on stdout, no manifest written
      expect(written.join("")).not.toMatch(/::(warning|error)::/);
      expect(readdirSync(folder)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
