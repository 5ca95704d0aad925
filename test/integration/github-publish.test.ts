/**
 * The GitHub side against an honest fake: every request the real Octokit client (with its
 * retry and throttling plugins) sends is validated against GitHub's OpenAPI description plus
 * the limits the schema misses; `fake.violations` must stay empty.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FAKE_READ_TOKEN, FAKE_WRITE_TOKEN, startFakeGitHub, type FakeGitHub } from "../helpers/fake-github.js";
import { SAMPLE_AFTER, SAMPLE_BEFORE, SAMPLE_CONFIG_PATH, SAMPLE_LINE, sampleManyTrials, sampleResults } from "../helpers/sample-results.js";
import { ROOT } from "../helpers/run.js";
import { createGitHubClient } from "../../src/github/client.js";
import { commentMarker, publishResults, type PublishOptions, type PublishTarget } from "../../src/github/publish.js";
import type { Logger } from "../../src/core/ports.js";
import type { ResultsDoc } from "../../src/results/schema.js";

const HEAD = "4ace4ecd2582b95e8617544c6642617235e121cd";
const CONFIG_TEXT = readFileSync(path.join(ROOT, SAMPLE_CONFIG_PATH), "utf8");

/** A PR whose diff changed the config's `current:` line (so a suggestion can go on it). */
function diffTouchingCurrentLine(): string {
  const lines = CONFIG_TEXT.split("\n");
  const at = SAMPLE_LINE;
  return [
    `diff --git a/${SAMPLE_CONFIG_PATH} b/${SAMPLE_CONFIG_PATH}`,
    "index 1111111..2222222 100644",
    `--- a/${SAMPLE_CONFIG_PATH}`,
    `+++ b/${SAMPLE_CONFIG_PATH}`,
    `@@ -${at - 1},3 +${at - 1},3 @@`,
    ` ${lines[at - 2]}`,
    `-current: { WORKER_POOL: 8, CACHE_SIZE: 128, BATCH_SIZE: 8, cpus: 2 }`,
    `+${lines[at - 1]}`,
    ` ${lines[at]}`,
    "",
  ].join("\n");
}

/** A PR that changed something else only. */
const UNRELATED_DIFF = ["diff --git a/README.md b/README.md", "index 1111111..2222222 100644", "--- a/README.md", "+++ b/README.md", "@@ -1,1 +1,2 @@", " # orders", "+more words", ""].join("\n");

let fake: FakeGitHub;
const logs: string[] = [];
const logger: Logger = { info: (m) => logs.push(`info ${m}`), warn: (m) => logs.push(`warn ${m}`), debug: () => {} };
const options: PublishOptions = { comment: true, suggest: "review", checkRun: true, checkName: "shadowgate / orders-api", commentAuthor: "github-actions[bot]" };

function target(number = 7, sameRepo = true): PublishTarget {
  return { owner: fake.owner, repo: fake.repo, headSha: fake.headShaOf(number) ?? HEAD, pullRequest: { number, headRef: sameRepo ? "tune-pool" : "main", sameRepo } };
}

function client(token = FAKE_WRITE_TOKEN) {
  return createGitHubClient({ token, apiUrl: fake.url, logger });
}

function doc(overrides: Partial<ResultsDoc> = {}): ResultsDoc {
  return sampleResults(overrides);
}

beforeEach(async () => {
  logs.length = 0;
  fake = await startFakeGitHub();
});
afterEach(async () => {
  expect(fake.violations).toEqual([]);
  await fake.close();
});

describe("publishing to a pull request", () => {
  it("keeps one sticky comment, posts the suggestion on the right line once, and a check run", async () => {
    fake.addPullRequest({ number: 7, headSha: HEAD, headRef: "tune-pool", diff: diffTouchingCurrentLine(), files: { [SAMPLE_CONFIG_PATH]: CONFIG_TEXT } });
    const first = await publishResults(client(), doc(), target(), options, logger);
    const second = await publishResults(client(), doc({ runId: "run-4712" }), target(), options, logger);

    expect(first.comment?.action).toBe("created");
    expect(second.comment?.action).toBe("updated");
    expect(second.comment?.id).toBe(first.comment?.id);
    expect(fake.comments).toHaveLength(1);
    expect(fake.comments[0]!.body).toContain(commentMarker("orders-api"));
    expect(fake.comments[0]!.body).toContain("run-4712");

    // one review, on the config's current: line, holding the recommended values
    expect(fake.reviews).toHaveLength(1);
    const review = fake.reviews[0]!;
    expect(review).toMatchObject({ pullNumber: 7, commitId: HEAD, event: "COMMENT", state: "COMMENTED" });
    expect(review.comments).toHaveLength(1);
    expect(review.comments[0]).toMatchObject({ path: SAMPLE_CONFIG_PATH, line: SAMPLE_LINE, side: "RIGHT" });
    expect(review.comments[0]!.body).toMatch(new RegExp("```suggestion\\n" + SAMPLE_AFTER.replace(/[{}]/g, "\\$&") + "\\n```"));
    expect(second.review).toBeUndefined();
    expect(second.notices.join(" ")).toMatch(/already suggested/);

    // a check run per publish, on the PR head, with an annotation on that line
    expect(fake.checkRuns).toHaveLength(2);
    expect(fake.checkRuns[0]).toMatchObject({ name: "shadowgate / orders-api", headSha: HEAD, status: "completed", conclusion: "success" });
    expect(fake.checkRuns[0]!.output?.annotations).toEqual([expect.objectContaining({ path: SAMPLE_CONFIG_PATH, start_line: SAMPLE_LINE, end_line: SAMPLE_LINE })]);
  });

  it("puts a unified diff in the comment when the lines are not in the PR's diff", async () => {
    fake.addPullRequest({ number: 7, headSha: HEAD, headRef: "tune-pool", diff: UNRELATED_DIFF });
    const outcome = await publishResults(client(), doc(), target(), { ...options, readRepoFile: (file) => readFileSync(path.join(ROOT, file), "utf8") }, logger);
    expect(fake.reviews).toHaveLength(0);
    expect(outcome.review).toBeUndefined();
    const body = fake.comments[0]!.body;
    expect(body).toMatch(/```diff\n(diff --git .*\n)?--- a\/fixtures\/example\/shadowgate.yml\n\+\+\+ b\/fixtures\/example\/shadowgate.yml\n@@ /);
    expect(body).toContain(`-${SAMPLE_BEFORE}`);
    expect(body).toContain(`+${SAMPLE_AFTER}`);
  });

  it("finds its comment past the first page, and never takes over a human's comment that quotes the marker", async () => {
    fake.addPullRequest({ number: 7, headSha: HEAD, headRef: "tune-pool", diff: UNRELATED_DIFF });
    const marker = commentMarker("orders-api");
    fake.addComment({ issueNumber: 7, body: `quoting the bot: ${marker}`, user: { login: "octocat", type: "User" } });
    for (let i = 0; i < 140; i++) fake.addComment({ issueNumber: 7, body: `comment ${i}` });
    const ours = fake.addComment({ issueNumber: 7, body: `${marker}\nold results`, user: { login: "github-actions[bot]", type: "Bot" } });
    const outcome = await publishResults(client(), doc(), target(), options, logger);
    expect(outcome.comment).toMatchObject({ id: ours.id, action: "updated" });
    expect(fake.comments).toHaveLength(142);
    expect(fake.comments.find((c) => c.user.login === "octocat")!.body).toBe(`quoting the bot: ${marker}`);
    const listPages = fake.requests.filter((r) => r.operationId === "issues/list-comments");
    expect(listPages.length).toBeGreaterThanOrEqual(2);
  });

  it("degrades on a read-only token: notices, nothing written, no throw", async () => {
    fake.addPullRequest({ number: 8, headSha: HEAD, headRef: "main", headRepoFullName: "forker/orders", diff: diffTouchingCurrentLine() });
    const outcome = await publishResults(client(FAKE_READ_TOKEN), doc(), target(8, false), options, logger);
    expect(outcome.readOnly).toBe(true);
    expect(outcome.notices[0]).toMatch(/HTTP 403.*two-phase mode/);
    expect(fake.comments).toHaveLength(0);
    expect(fake.reviews).toHaveLength(0);
    expect(fake.checkRuns).toHaveLength(0);
    // one refused attempt per permission (pull-requests for the review, so the comment is not
    // tried; checks for the check run), nothing more
    const writes = fake.requests.filter((r) => r.method !== "GET");
    expect(writes.map((w) => [w.operationId, w.status])).toEqual([["pulls/create-review", 403], ["checks/create", 403]]);
    expect(outcome.denied).toEqual(["review", "check"]);
    expect(outcome.notices[1]).toMatch(/needs `checks: write`/);
  });

  it("trims an over-long report under GitHub's 65,536-character limit, keeping the verdict", async () => {
    fake.addPullRequest({ number: 7, headSha: HEAD, headRef: "tune-pool", diff: UNRELATED_DIFF });
    const long = doc({ trials: sampleManyTrials(1000) });
    await publishResults(client(), long, target(), { ...options, suggest: "none" }, logger);
    const body = fake.comments[0]!.body;
    expect(body.length).toBeLessThanOrEqual(65_536);
    expect(body.length).toBeGreaterThan(10_000);
    expect(body).toContain(commentMarker("orders-api"));
    expect(body).toMatch(/Pass/);
    expect(body).toMatch(/trimmed|omitted/);
  });

  it("sends more than 50 annotations in batches of 50", async () => {
    fake.addPullRequest({ number: 7, headSha: HEAD, headRef: "tune-pool", diff: UNRELATED_DIFF });
    const edits = Array.from({ length: 120 }, (_, i) => ({ parameter: `P${i}`, path: `conf/${i}.env`, line: 1, before: `P${i}=1`, after: `P${i}=2` }));
    const outcome = await publishResults(client(), doc({ suggestion: { edits, unresolved: [] } }), target(), { ...options, comment: false, suggest: "none" }, logger);
    expect(outcome.checkRun?.annotations).toBe(120);
    expect(fake.checkRuns).toHaveLength(1);
    expect(fake.checkRuns[0]!.output?.annotations).toHaveLength(120);
    expect(fake.requests.filter((r) => r.operationId === "checks/update")).toHaveLength(2);
  });

  it("writes no comment when the comments cannot be listed (it might make a second one)", async () => {
    fake.addPullRequest({ number: 7, headSha: HEAD, headRef: "tune-pool", diff: UNRELATED_DIFF });
    fake.failNext({ method: "GET", operationId: "issues/list-comments" }, { status: 500, body: { message: "Server Error" } }, 10);
    const outcome = await publishResults(client(), doc(), target(), { ...options, checkRun: false }, logger);
    expect(outcome.comment).toBeUndefined();
    expect(fake.comments).toHaveLength(0);
    expect(outcome.notices.join(" ")).toMatch(/Could not list the PR's comments: HTTP 500/);
  });

  it("shows a diff instead of suggestions when the PR moved on since the measured commit", async () => {
    fake.addPullRequest({ number: 7, headSha: "b1a52d7fc49cf64068379eb43797fa1ad26b77c3", headRef: "tune-pool", diff: diffTouchingCurrentLine() });
    const outcome = await publishResults(client(), doc(), { ...target(), headSha: HEAD }, { ...options, checkRun: false }, logger);
    expect(fake.reviews).toHaveLength(0);
    expect(outcome.notices.join(" ")).toMatch(/moved on to b1a52d7 since 4ace4ec/);
    expect(fake.comments[0]!.body).toContain(`+${SAMPLE_AFTER}`);
  });

  it("labels results from a fork's run as unverified and suggests only on the config file", async () => {
    fake.addPullRequest({ number: 8, headSha: HEAD, headRef: "main", headRepoFullName: "forker/orders", diff: diffTouchingCurrentLine() });
    const sneaky = { parameter: "X", path: ".github/workflows/ci.yml", line: 1, before: "name: ci", after: "name: pwned" };
    const base = doc();
    const fromFork = doc({ suggestion: { edits: [...base.suggestion.edits, sneaky], unresolved: [] } });
    await publishResults(client(), fromFork, target(8, false), { ...options, untrustedSource: "the fork's workflow run 1" }, logger);
    expect(fake.reviews[0]!.comments.map((c) => c.path)).toEqual([SAMPLE_CONFIG_PATH]);
    expect(fake.checkRuns[0]!.output?.title).toMatch(/^\[unverified\] /);
    expect(fake.comments[0]!.body).toMatch(/unverified/);
    expect(fake.comments[0]!.body).not.toContain("pwned");
  });

  it("retries a 502 and still posts", async () => {
    fake.addPullRequest({ number: 7, headSha: HEAD, headRef: "tune-pool", diff: UNRELATED_DIFF });
    fake.failNext({ method: "POST", operationId: "issues/create-comment" }, { status: 502, body: { message: "Bad Gateway" } });
    const outcome = await publishResults(client(), doc(), target(), { ...options, checkRun: false }, logger);
    expect(outcome.comment?.action).toBe("created");
    expect(fake.requests.filter((r) => r.operationId === "issues/create-comment").map((r) => r.status)).toEqual([502, 201]);
  });
});

describe("suggest: commit", () => {
  it("pushes one commit with the recommended values to the PR branch", async () => {
    const head = fake.addCommit({ files: { [SAMPLE_CONFIG_PATH]: CONFIG_TEXT, "README.md": "# orders\n" }, branch: "tune-pool" });
    fake.addPullRequest({ number: 7, headSha: head, headRef: "tune-pool", diff: diffTouchingCurrentLine() });
    const outcome = await publishResults(client(), doc(), target(), { ...options, suggest: "commit" }, logger);
    expect(outcome.commit?.files).toEqual([SAMPLE_CONFIG_PATH]);
    const pushed = fake.resolveRef("heads/tune-pool");
    expect(pushed).toBe(outcome.commit?.sha);
    expect(pushed).not.toBe(head);
    const text = fake.fileAt("heads/tune-pool", SAMPLE_CONFIG_PATH)!;
    expect(text.split("\n")[SAMPLE_LINE - 1]).toBe(SAMPLE_AFTER);
    expect(text.replace(SAMPLE_AFTER, SAMPLE_BEFORE)).toBe(CONFIG_TEXT);
    expect(fake.fileAt("heads/tune-pool", "README.md")).toBe("# orders\n");
    expect(fake.reviews).toHaveLength(0);
    expect(fake.comments[0]!.body).toContain(`Pushed ${outcome.commit!.sha.slice(0, 7)}`);
  });

  it("falls back to a review for a PR from a fork", async () => {
    fake.addPullRequest({ number: 8, headSha: HEAD, headRef: "main", headRepoFullName: "forker/orders", diff: diffTouchingCurrentLine() });
    const outcome = await publishResults(client(), doc(), target(8, false), { ...options, suggest: "commit" }, logger);
    expect(outcome.commit).toBeUndefined();
    expect(fake.reviews).toHaveLength(1);
    expect(outcome.notices.join(" ")).toMatch(/fork/);
  });
});
