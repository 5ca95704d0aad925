import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ContextError, readRunContext, type RunContext } from "../../src/github/context.js";

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../fixtures/github-events");
const fixture = (name: string) => path.join(FIXTURES, name);
const load = (name: string): Record<string, unknown> => JSON.parse(readFileSync(fixture(name), "utf8")) as Record<string, unknown>;

const MAIN_BEFORE = "6679195a3638705e2ae629effaac5e9e17b1af1e";
const PR7_OPENED = "b1a52d7fc49cf64068379eb43797fa1ad26b77c3";
const PR7_SYNC = "4ace4ecd2582b95e8617544c6642617235e121cd";
const PR8_HEAD = "a4d111b7add634f54bd0a0adad8f0ff1a7f59ad2";
const MAIN_MERGED = "950566f804235dbfb98e75c5b52bf1a1dbde73c2";
const MERGE_REF_SHA = "6e5cc223c6aab9aef0f80464f440fb7e5ba4ef1b";

/** What the runner sets for a run of octo-org/orders; `extra` overrides. */
function env(eventName: string, eventFile: string | undefined, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    GITHUB_EVENT_NAME: eventName,
    GITHUB_REPOSITORY: "octo-org/orders",
    GITHUB_RUN_ID: "19310000001",
    GITHUB_RUN_ATTEMPT: "1",
    GITHUB_SHA: MAIN_MERGED,
    GITHUB_REF: "refs/heads/main",
    GITHUB_WORKSPACE: "/home/runner/work/orders/orders",
    ...(eventFile ? { GITHUB_EVENT_PATH: fixture(eventFile) } : {}),
    ...extra,
  };
}

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A payload written to a temp file, for cases the fixtures do not cover. */
function payloadFile(content: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "shadowgate-event-"));
  tempDirs.push(dir);
  const file = path.join(dir, "event.json");
  writeFileSync(file, content);
  return file;
}

function errorOf(run: () => unknown): ContextError {
  try {
    run();
  } catch (error) {
    if (error instanceof ContextError) return error;
    throw error;
  }
  throw new Error("expected a ContextError");
}

const prEnv = (file: string, n: number) => env("pull_request", file, { GITHUB_REF: `refs/pull/${n}/merge`, GITHUB_SHA: MERGE_REF_SHA });

describe("readRunContext: fixtures", () => {
  it("pull_request opened, same repository: PR 7, not a fork, head branch as the data's branch", () => {
    const context = readRunContext(prEnv("pull_request.opened.same-repo.json", 7));
    expect(context).toEqual<RunContext>({
      eventName: "pull_request",
      repository: { owner: "octo-org", repo: "orders", fullName: "octo-org/orders" },
      apiUrl: "https://api.github.com",
      serverUrl: "https://github.com",
      runId: "19310000001",
      runAttempt: "1",
      sha: MERGE_REF_SHA,
      ref: "refs/pull/7/merge",
      workspace: "/home/runner/work/orders/orders",
      defaultBranch: "main",
      pullRequest: {
        number: 7,
        headSha: PR7_OPENED,
        headRef: "tune-pool",
        headRepoFullName: "octo-org/orders",
        baseRef: "main",
        baseSha: MAIN_BEFORE,
        fromFork: false,
        htmlUrl: "https://github.com/octo-org/orders/pull/7",
      },
      headSha: PR7_OPENED,
      runUrl: "https://github.com/octo-org/orders/actions/runs/19310000001",
      branch: "tune-pool",
      onDefaultBranch: false,
    });
  });

  it("pull_request synchronize: the new head commit, reported against instead of GITHUB_SHA", () => {
    const context = readRunContext(prEnv("pull_request.synchronize.same-repo.json", 7));
    expect(context.pullRequest).toMatchObject({ number: 7, headSha: PR7_SYNC, headRef: "tune-pool", fromFork: false });
    expect(context.headSha).toBe(PR7_SYNC);
    expect(context.sha).toBe(MERGE_REF_SHA);
  });

  it("pull_request from a fork: PR 8 is fromFork, and its `main` is labelled with the fork's owner", () => {
    const context = readRunContext(prEnv("pull_request.opened.fork.json", 8));
    expect(context.pullRequest).toEqual({
      number: 8,
      headSha: PR8_HEAD,
      headRef: "main",
      headRepoFullName: "forker/orders",
      baseRef: "main",
      baseSha: MAIN_BEFORE,
      fromFork: true,
      htmlUrl: "https://github.com/octo-org/orders/pull/8",
    });
    expect(context.branch).toBe("forker:main");
    expect(context.defaultBranch).toBe("main");
    expect(context.onDefaultBranch).toBe(false);
    expect(context.workflowRun).toBeUndefined();
  });

  it("pull_request_target reads the same payload the same way", () => {
    const context = readRunContext(env("pull_request_target", "pull_request.opened.fork.json", { GITHUB_SHA: MAIN_BEFORE }));
    expect(context.eventName).toBe("pull_request_target");
    expect(context.pullRequest).toMatchObject({ number: 8, fromFork: true, headSha: PR8_HEAD });
    expect(context.headSha).toBe(PR8_HEAD);
    expect(context.onDefaultBranch).toBe(false);
  });

  it("push to main: on the default branch", () => {
    const context = readRunContext(env("push", "push.main.json"));
    expect(context).toMatchObject({ defaultBranch: "main", branch: "main", onDefaultBranch: true, headSha: MAIN_MERGED });
    expect(context.pullRequest).toBeUndefined();
    expect(context.workflowRun).toBeUndefined();
  });

  it("push to a feature branch: that branch, not the default one", () => {
    const context = readRunContext(env("push", "push.feature.json", { GITHUB_REF: "refs/heads/tune-pool", GITHUB_SHA: PR7_SYNC }));
    expect(context).toMatchObject({ defaultBranch: "main", branch: "tune-pool", onDefaultBranch: false, headSha: PR7_SYNC });
  });

  it("schedule: the default branch from the payload", () => {
    const context = readRunContext(env("schedule", "schedule.json"));
    expect(context).toMatchObject({ defaultBranch: "main", branch: "main", onDefaultBranch: true });
  });

  it("workflow_run for a same-repository PR: the PR number comes with the event", () => {
    const context = readRunContext(env("workflow_run", "workflow_run.completed.same-repo.json"));
    expect(context.workflowRun).toEqual({
      id: 19283746501,
      name: "Shadowgate measure",
      event: "pull_request",
      headSha: PR7_SYNC,
      headBranch: "tune-pool",
      headRepoFullName: "octo-org/orders",
      conclusion: "success",
      fromFork: false,
      pullRequestNumbers: [7],
    });
    expect(context).toMatchObject({ headSha: PR7_SYNC, sha: MAIN_MERGED, branch: "tune-pool", defaultBranch: "main", onDefaultBranch: false });
    expect(context.pullRequest).toBeUndefined();
  });

  it("workflow_run for a fork PR: fromFork, and no PR numbers (GitHub leaves the list empty)", () => {
    const context = readRunContext(env("workflow_run", "workflow_run.completed.fork.json"));
    expect(context.workflowRun).toMatchObject({ id: 19301128834, headSha: PR8_HEAD, headBranch: "main", headRepoFullName: "forker/orders", fromFork: true, pullRequestNumbers: [] });
    expect(context.branch).toBe("forker:main");
    expect(context.onDefaultBranch).toBe(false);
  });
});

describe("readRunContext: environment", () => {
  it("takes GHES URLs from the environment, without trailing slashes", () => {
    const context = readRunContext(
      env("push", "push.main.json", { GITHUB_API_URL: "https://ghe.example.com/api/v3/", GITHUB_SERVER_URL: "https://ghe.example.com" }),
    );
    expect(context.apiUrl).toBe("https://ghe.example.com/api/v3");
    expect(context.serverUrl).toBe("https://ghe.example.com");
    expect(context.runUrl).toBe("https://ghe.example.com/octo-org/orders/actions/runs/19310000001");
  });

  it("defaults the attempt to 1 and the workspace to the current directory", () => {
    const context = readRunContext(env("push", "push.main.json", { GITHUB_RUN_ATTEMPT: undefined, GITHUB_WORKSPACE: undefined }));
    expect(context.runAttempt).toBe("1");
    expect(context.workspace).toBe(process.cwd());
  });

  it("needs no GITHUB_ACTIONS: the env it is given is enough", () => {
    const given = env("push", "push.main.json");
    expect(given.GITHUB_ACTIONS).toBeUndefined();
    expect(readRunContext(given).repository.fullName).toBe("octo-org/orders");
  });

  it.each([
    ["GITHUB_REPOSITORY", "octo-org", 'GITHUB_REPOSITORY: expected owner/repo, got "octo-org"'],
    ["GITHUB_REPOSITORY", "octo-org/orders/extra", 'GITHUB_REPOSITORY: expected owner/repo, got "octo-org/orders/extra"'],
    ["GITHUB_REPOSITORY", "octo-org/..", 'GITHUB_REPOSITORY: expected owner/repo, got "octo-org/.."'],
    ["GITHUB_REPOSITORY", undefined, "GITHUB_REPOSITORY: expected owner/repo, got nothing"],
    ["GITHUB_SHA", "abc", 'GITHUB_SHA: expected a 40-hex commit SHA, got "abc"'],
    ["GITHUB_RUN_ID", "12,3", 'GITHUB_RUN_ID: expected a run id (digits), got "12,3"'],
    ["GITHUB_API_URL", "ftp://ghe.example.com", 'GITHUB_API_URL: expected an http(s) URL, got "ftp://ghe.example.com"'],
    ["GITHUB_REF", "refs/heads/a..b", 'GITHUB_REF: expected a git ref like refs/heads/main, got "refs/heads/a..b"'],
    ["GITHUB_EVENT_NAME", undefined, "GITHUB_EVENT_NAME: expected an event name like pull_request, got nothing"],
  ])("%s=%j is refused with a located message", (name, value, message) => {
    const error = errorOf(() => readRunContext(env("push", "push.main.json", { [name]: value })));
    expect(error.message).toBe(message);
    expect(error.source).toBe(name);
  });
});

describe("readRunContext: payload", () => {
  it("refuses a non-hex head SHA, naming the file and the field", () => {
    const doc = load("pull_request.opened.same-repo.json");
    (doc.pull_request as { head: { sha: string } }).head.sha = "abc";
    const file = payloadFile(JSON.stringify(doc));
    const error = errorOf(() => readRunContext(env("pull_request", undefined, { GITHUB_EVENT_PATH: file })));
    expect(error.message).toBe(`GITHUB_EVENT_PATH ${file}: pull_request.head.sha: expected a 40-hex commit SHA, got "abc"`);
  });

  it("refuses a pull_request event whose payload has no pull_request object", () => {
    const doc = load("pull_request.opened.same-repo.json");
    delete doc.pull_request;
    const file = payloadFile(JSON.stringify(doc));
    const error = errorOf(() => readRunContext(env("pull_request", undefined, { GITHUB_EVENT_PATH: file })));
    expect(error.message).toBe(`GITHUB_EVENT_PATH ${file}: pull_request: expected an object, got nothing`);
  });

  it("refuses a PR number that is not a positive whole number, and counts the other problems", () => {
    const doc = load("pull_request.opened.same-repo.json");
    const pr = doc.pull_request as { number: unknown; base: { ref: unknown } };
    pr.number = -3;
    pr.base.ref = "main branch";
    const file = payloadFile(JSON.stringify(doc));
    const error = errorOf(() => readRunContext(env("pull_request", undefined, { GITHUB_EVENT_PATH: file })));
    expect(error.message).toBe(`GITHUB_EVENT_PATH ${file}: pull_request.number: expected a positive whole number, got -3 (and 1 more)`);
  });

  it("refuses a workflow_run PR entry with a fractional number, with its index", () => {
    const doc = load("workflow_run.completed.same-repo.json");
    ((doc.workflow_run as { pull_requests: { number: unknown }[] }).pull_requests[0]!).number = 7.5;
    const file = payloadFile(JSON.stringify(doc));
    const error = errorOf(() => readRunContext(env("workflow_run", undefined, { GITHUB_EVENT_PATH: file })));
    expect(error.message).toBe(`GITHUB_EVENT_PATH ${file}: workflow_run.pull_requests[0].number: expected a positive whole number, got 7.5`);
  });

  it("quotes and cuts short the offending string (payload strings are untrusted)", () => {
    const doc = load("pull_request.opened.fork.json");
    (doc.pull_request as { head: { ref: string } }).head.ref = `x\n::error::owned ${"a".repeat(200)}`;
    const file = payloadFile(JSON.stringify(doc));
    const error = errorOf(() => readRunContext(env("pull_request", undefined, { GITHUB_EVENT_PATH: file })));
    expect(error.message).toContain('pull_request.head.ref: expected a git branch name, got "x\\n::error::owned aaa');
    expect(error.message).not.toContain("\n");
    expect(error.message.length).toBeLessThan(file.length + 200);
  });

  it("refuses an unreadable payload file for an event that needs it", () => {
    const missing = path.join(tmpdir(), "shadowgate-no-such-dir", "event.json");
    const error = errorOf(() => readRunContext(env("pull_request", undefined, { GITHUB_EVENT_PATH: missing })));
    expect(error.message).toBe(`GITHUB_EVENT_PATH ${missing}: cannot read the event payload: no such file`);
  });

  it("words other read failures from the injected reader", () => {
    const denied = () => {
      throw Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
    };
    const error = errorOf(() => readRunContext(env("push", undefined, { GITHUB_EVENT_PATH: "/x/event.json" }), denied));
    expect(error.message).toBe("GITHUB_EVENT_PATH /x/event.json: cannot read the event payload: permission denied");
  });

  it("refuses a payload that is not JSON, or not a JSON object", () => {
    const notJson = errorOf(() => readRunContext(env("push", undefined, { GITHUB_EVENT_PATH: "/x/event.json" }), () => "{ not json"));
    expect(notJson.message).toMatch(/^GITHUB_EVENT_PATH \/x\/event\.json: the event payload is not valid JSON: /);
    const list = errorOf(() => readRunContext(env("workflow_run", undefined, { GITHUB_EVENT_PATH: "/x/event.json" }), () => "[]"));
    expect(list.message).toBe("GITHUB_EVENT_PATH /x/event.json: expected the event payload to be a JSON object, got a list");
  });

  it("requires the payload for pull_request and workflow_run events", () => {
    for (const eventName of ["pull_request", "pull_request_target", "workflow_run"]) {
      const error = errorOf(() => readRunContext(env(eventName, undefined)));
      expect(error.message).toBe(`GITHUB_EVENT_PATH: expected the path of the event payload (a ${eventName} event needs it), got nothing`);
    }
  });

  it("tolerates a push without a payload: default branch unknown, so not on it", () => {
    const unset = readRunContext(env("push", undefined));
    expect(unset.defaultBranch).toBeUndefined();
    expect(unset.branch).toBe("main");
    expect(unset.onDefaultBranch).toBe(false);
    const absent = readRunContext(env("push", undefined, { GITHUB_EVENT_PATH: path.join(tmpdir(), "shadowgate-no-such-dir", "event.json") }));
    expect(absent.defaultBranch).toBeUndefined();
    expect(absent.onDefaultBranch).toBe(false);
  });

  it("reads a bare {schedule} payload (older runners): GITHUB_REF is the default branch", () => {
    const context = readRunContext(env("schedule", undefined, { GITHUB_EVENT_PATH: "/x/event.json" }), () => '{"schedule":"0 3 * * *"}');
    expect(context).toMatchObject({ defaultBranch: "main", branch: "main", onDefaultBranch: true });
  });

  it("a workflow_dispatch on another branch is not on the default branch", () => {
    const doc = { inputs: {}, ref: "refs/heads/tune-pool", repository: { full_name: "octo-org/orders", default_branch: "main" } };
    const context = readRunContext(env("workflow_dispatch", undefined, { GITHUB_EVENT_PATH: "/x/event.json", GITHUB_REF: "refs/heads/tune-pool" }), () => JSON.stringify(doc));
    expect(context).toMatchObject({ defaultBranch: "main", branch: "tune-pool", onDefaultBranch: false });
  });

  it("treats a PR whose head repository was deleted as a fork", () => {
    const doc = load("pull_request.opened.fork.json");
    (doc.pull_request as { head: { repo: unknown } }).head.repo = null;
    const context = readRunContext(env("pull_request", undefined, { GITHUB_EVENT_PATH: "/x/event.json" }), () => JSON.stringify(doc));
    expect(context.pullRequest).toMatchObject({ number: 8, headRepoFullName: null, fromFork: true });
    expect(context.branch).toBe("unknown:main");
  });

  it("treats a workflow_run without a head repository as a fork", () => {
    const doc = load("workflow_run.completed.same-repo.json");
    (doc.workflow_run as { head_repository: unknown }).head_repository = null;
    const context = readRunContext(env("workflow_run", undefined, { GITHUB_EVENT_PATH: "/x/event.json" }), () => JSON.stringify(doc));
    expect(context.workflowRun).toMatchObject({ headRepoFullName: null, fromFork: true });
  });

  it("keeps only this repository's PRs from workflow_run.pull_requests", () => {
    const doc = load("workflow_run.completed.same-repo.json");
    const run = doc.workflow_run as { pull_requests: { number: number; base: { repo: { url: string } } }[] };
    const foreign = structuredClone(run.pull_requests[0]!);
    foreign.number = 1234;
    foreign.base.repo.url = "https://api.github.com/repos/someone-else/orders";
    run.pull_requests.push(foreign);
    const context = readRunContext(env("workflow_run", undefined, { GITHUB_EVENT_PATH: "/x/event.json" }), () => JSON.stringify(doc));
    expect(context.workflowRun?.pullRequestNumbers).toEqual([7]);
  });
});
