import { createHash } from "node:crypto";
import { getOctokit } from "@actions/github";
import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  FAKE_READ_TOKEN,
  FAKE_WRITE_TOKEN,
  githubOpenApiInfo,
  parseUnifiedDiff,
  startFakeGitHub,
  type FakeGitHub,
} from "../helpers/fake-github.js";

const OWNER = "octo-org";
const REPO = "orders";
const REPO_ARGS = { owner: OWNER, repo: REPO };
const HEAD = "1".repeat(40);
const BASE = "2".repeat(40);
const MARKER = "<!-- shadowgate:report -->";

// Two hunks in src/orders.ts, one new file. RIGHT-side lines: 1-6 and 21-24 of src/orders.ts,
// 1-2 of README.md. LEFT-side lines: 1-5 and 20-23 of src/orders.ts.
const DIFF = [
  "diff --git a/src/orders.ts b/src/orders.ts",
  "index 3b18e51..a9c4f2d 100644",
  "--- a/src/orders.ts",
  "+++ b/src/orders.ts",
  "@@ -1,5 +1,6 @@",
  ' import { db } from "./db";',
  "-const LIMIT = 10;",
  "+const LIMIT = 50;",
  "+const TIMEOUT_MS = 2000;",
  " ",
  " export function list() {",
  "   return db.query(LIMIT);",
  "@@ -20,4 +21,4 @@ export function get(id: string) {",
  " export function remove(id: string) {",
  "-  return db.delete(id);",
  "+  return db.delete(id, { timeout: TIMEOUT_MS });",
  " }",
  " ",
  "diff --git a/README.md b/README.md",
  "new file mode 100644",
  "index 0000000..8f3b2c1",
  "--- /dev/null",
  "+++ b/README.md",
  "@@ -0,0 +1,2 @@",
  "+# Orders",
  "+Service.",
  "",
].join("\n");

const ORDERS_TS = 'import { db } from "./db";\nconst LIMIT = 50;\nconst TIMEOUT_MS = 2000;\n';

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/** Plain fetch against the fake; `body` is JSON-encoded unless `rawBody` is given. */
async function call(
  fake: FakeGitHub,
  method: string,
  path: string,
  options: { token?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { accept: "application/vnd.github+json", ...options.headers };
  const token = options.token === undefined ? FAKE_WRITE_TOKEN : options.token;
  if (token !== null) headers.authorization = `token ${token}`;
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["content-type"] ??= "application/json; charset=utf-8";
  }
  const res = await fetch(`${fake.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

function message(answer: Answer): string {
  return String((answer.json as { message?: unknown } | undefined)?.message ?? "");
}

function repoPath(suffix: string): string {
  return `/repos/${OWNER}/${REPO}${suffix}`;
}

describe("fake GitHub: OpenAPI description", () => {
  it("loads GitHub's description by path, quickly", () => {
    const info = githubOpenApiInfo();
    expect(info.path).toMatch(/\.cache\/github-openapi-[\d.]+\/api\.github\.com\.json$/);
    expect(info.operationCount).toBeGreaterThan(800);
    expect(info.loadMs).toBeLessThan(5000);
  });

  it("parses unified diffs into hunks with both sides' line numbers and positions", () => {
    const files = parseUnifiedDiff(DIFF);
    expect(files.map((f) => [f.path, f.status, f.additions, f.deletions])).toEqual([
      ["src/orders.ts", "modified", 3, 2],
      ["README.md", "added", 2, 0],
    ]);
    const [orders] = files;
    const rightLines = orders?.hunks.map((h) => h.lines.flatMap((l) => (l.newLine === undefined ? [] : [l.newLine])));
    const leftLines = orders?.hunks.map((h) => h.lines.flatMap((l) => (l.oldLine === undefined ? [] : [l.oldLine])));
    expect(rightLines).toEqual([[1, 2, 3, 4, 5, 6], [21, 22, 23, 24]]);
    expect(leftLines).toEqual([[1, 2, 3, 4, 5], [20, 21, 22, 23]]);
    // position counts the second "@@" header: hunk 2 starts at position 9.
    expect(orders?.hunks[1]?.lines[0]?.position).toBe(9);
  });
});

describe("fake GitHub", () => {
  let fake: FakeGitHub;
  let gh: ReturnType<typeof getOctokit>;

  beforeEach(async () => {
    fake = await startFakeGitHub();
    fake.addPullRequest({ number: 7, headSha: HEAD, headRef: "feature", baseSha: BASE, diff: DIFF, files: { "src/orders.ts": ORDERS_TS, "README.md": "# Orders\nService.\n" } });
    gh = getOctokit(FAKE_WRITE_TOKEN, { baseUrl: fake.url });
  });

  afterEach(async () => {
    await fake.close();
  });

  describe("sticky PR comment", () => {
    it("creates, finds by marker and updates a comment through Octokit", async () => {
      fake.addComment({ issueNumber: 7, body: `a human quoting ${MARKER}`, user: { login: "alice", type: "User" } });
      const created = await gh.rest.issues.createComment({ ...REPO_ARGS, issue_number: 7, body: `${MARKER}\nfirst` });
      expect(created.status).toBe(201);
      expect(created.data.user).toMatchObject({ login: "github-actions[bot]", type: "Bot" });
      expect(created.data.html_url).toContain("/pull/7#issuecomment-");

      const listed = await gh.rest.issues.listComments({ ...REPO_ARGS, issue_number: 7 });
      const mine = listed.data.find((c) => c.user?.login === "github-actions[bot]" && c.body?.includes(MARKER));
      expect(listed.data).toHaveLength(2);
      expect(mine?.id).toBe(created.data.id);

      const updated = await gh.rest.issues.updateComment({ ...REPO_ARGS, comment_id: created.data.id, body: `${MARKER}\nsecond` });
      expect(updated.data.body).toBe(`${MARKER}\nsecond`);
      expect(fake.comments.filter((c) => c.user.login === "github-actions[bot]")).toMatchObject([{ id: created.data.id, issueNumber: 7, body: `${MARKER}\nsecond` }]);
      expect(fake.requests.map((r) => r.operationId)).toEqual(["issues/create-comment", "issues/list-comments", "issues/update-comment"]);
      expect(fake.violations).toEqual([]);
    });

    it("paginates 150 seeded comments with a Link header Octokit follows", async () => {
      for (let i = 0; i < 150; i++) fake.addComment({ issueNumber: 7, body: `comment ${i}` });
      const all = await gh.paginate(gh.rest.issues.listComments, { ...REPO_ARGS, issue_number: 7, per_page: 100 });
      expect(all.map((c) => c.body)).toEqual(Array.from({ length: 150 }, (_, i) => `comment ${i}`));
      expect(fake.requests.filter((r) => r.operationId === "issues/list-comments").map((r) => r.query.page ?? "1")).toEqual(["1", "2"]);

      const first = await call(fake, "GET", repoPath("/issues/7/comments?per_page=100"));
      expect(first.headers.get("link")).toBe(
        `<${fake.url}${repoPath("/issues/7/comments")}?per_page=100&page=2>; rel="next", <${fake.url}${repoPath("/issues/7/comments")}?per_page=100&page=2>; rel="last"`,
      );
      const byDefault = await call(fake, "GET", repoPath("/issues/7/comments"));
      expect((byDefault.json as unknown[]).length).toBe(30);
      expect(byDefault.headers.get("link")).toContain('page=5>; rel="last"');
      const last = await call(fake, "GET", repoPath("/issues/7/comments?per_page=100&page=2"));
      expect((last.json as unknown[]).length).toBe(50);
      expect(last.headers.get("link")).not.toContain('rel="next"');
      expect(fake.violations).toEqual([]);
    });

    it("answers at most 100 items like GitHub when per_page > 100, and records it", async () => {
      for (let i = 0; i < 150; i++) fake.addComment({ issueNumber: 7, body: `c${i}` });
      const answer = await call(fake, "GET", repoPath("/issues/7/comments?per_page=150"));
      expect(answer.status).toBe(200);
      expect((answer.json as unknown[]).length).toBe(100);
      expect(fake.violations).toEqual([expect.stringContaining("per_page=150 exceeds GitHub's maximum of 100")]);
    });

    it("rejects a comment body over 65,536 characters with GitHub's 422 and stores nothing", async () => {
      const ok = await call(fake, "POST", repoPath("/issues/7/comments"), { body: { body: "x".repeat(65_536) } });
      expect(ok.status).toBe(201);
      expect(fake.violations).toEqual([]);

      const tooLong = await call(fake, "POST", repoPath("/issues/7/comments"), { body: { body: "x".repeat(65_537) } });
      expect(tooLong.status).toBe(422);
      expect(tooLong.json).toMatchObject({
        message: "Validation Failed",
        errors: [{ resource: "IssueComment", message: "Body is too long (maximum is 65536 characters)" }],
      });
      const id = (ok.json as { id: number }).id;
      const update = await call(fake, "PATCH", repoPath(`/issues/comments/${id}`), { body: { body: "y".repeat(70_000) } });
      expect(update.status).toBe(422);
      expect(fake.comments).toHaveLength(1);
      expect(fake.comments[0]?.body).toBe("x".repeat(65_536));
      expect(fake.violations).toHaveLength(2);
      expect(fake.violations.every((v) => v.includes("Body is too long"))).toBe(true);
    });

    it("rejects bodies that violate the OpenAPI schema, malformed JSON and bad parameters", async () => {
      const noBody = await call(fake, "POST", repoPath("/issues/7/comments"), { body: { text: "hi" } });
      expect(noBody.status).toBe(422);
      expect(message(noBody)).toContain('"body" wasn\'t supplied');
      const notJson = await call(fake, "POST", repoPath("/issues/7/comments"), { rawBody: "{body:", headers: { "content-type": "application/json" } });
      expect(notJson.status).toBe(400);
      expect(message(notJson)).toBe("Problems parsing JSON");
      const wrongType = await call(fake, "POST", repoPath("/issues/7/comments"), { rawBody: "hello", headers: { "content-type": "text/plain" } });
      expect(wrongType.status).toBe(415);
      const badNumber = await call(fake, "GET", repoPath("/issues/seven/comments"));
      expect(badNumber.status).toBe(422);
      expect(message(badNumber)).toContain("is not an integer");
      const badSince = await call(fake, "GET", repoPath("/issues/7/comments?since=yesterday"));
      expect(badSince.status).toBe(422);
      expect(fake.comments).toHaveLength(0);
      expect(fake.violations).toHaveLength(5);
      expect(fake.violations[0]).toMatch(/^POST \/repos\/octo-org\/orders\/issues\/7\/comments \(issues\/create-comment\): /);
      expect(fake.violations[3]).toContain("path parameter issue_number");
    });

    it("answers 404 and records a violation for a request that matches no GitHub operation", async () => {
      const unknownPath = await call(fake, "GET", repoPath("/pulls/7/shadowgate"));
      const unknownMethod = await call(fake, "PUT", repoPath("/issues/comments/1"), { body: { body: "x" } });
      expect([unknownPath.status, unknownMethod.status]).toEqual([404, 404]);
      expect(fake.violations).toEqual([
        expect.stringContaining("no operation in GitHub's OpenAPI description matches"),
        expect.stringContaining("the method does not exist for this path"),
      ]);
    });

    it("answers 404 (not a violation) for another repository or a missing issue", async () => {
      const otherRepo = await call(fake, "GET", "/repos/someone/else/issues/7/comments");
      const missingIssue = await call(fake, "POST", repoPath("/issues/99/comments"), { body: { body: "x" } });
      expect([otherRepo.status, missingIssue.status]).toEqual([404, 404]);
      expect(fake.violations).toEqual([]);
    });
  });

  describe("tokens", () => {
    it("gives a read-only token 403 on every write while reads still work", async () => {
      const readOnly = getOctokit(FAKE_READ_TOKEN, { baseUrl: fake.url });
      const pr = await readOnly.rest.pulls.get({ ...REPO_ARGS, pull_number: 7 });
      expect(pr.data.head.sha).toBe(HEAD);
      await expect(readOnly.rest.issues.listComments({ ...REPO_ARGS, issue_number: 7 })).resolves.toMatchObject({ status: 200 });
      await expect(readOnly.rest.issues.createComment({ ...REPO_ARGS, issue_number: 7, body: "hi" })).rejects.toMatchObject({
        status: 403,
        message: expect.stringContaining("Resource not accessible by integration"),
      });
      const check = await call(fake, "POST", repoPath("/check-runs"), { token: FAKE_READ_TOKEN, body: { name: "sg", head_sha: HEAD } });
      expect(check.status).toBe(403);
      expect(check.json).toMatchObject({ message: "Resource not accessible by integration", documentation_url: expect.stringContaining("docs.github.com") });
      expect(check.headers.get("x-accepted-github-permissions")).toBe("checks=write");
      expect(fake.comments).toHaveLength(0);
      expect(fake.checkRuns).toHaveLength(0);
      expect(fake.violations).toEqual([]);
    });

    it("answers 401 to a missing or unknown token, with Bearer accepted too", async () => {
      expect((await call(fake, "GET", repoPath("/pulls/7"), { token: null })).status).toBe(401);
      const unknown = await call(fake, "GET", repoPath("/pulls/7"), { token: "ghp_nope" });
      expect(unknown.status).toBe(401);
      expect(message(unknown)).toBe("Bad credentials");
      const bearer = await call(fake, "GET", repoPath("/pulls/7"), { token: null, headers: { authorization: `Bearer ${FAKE_WRITE_TOKEN}` } });
      expect(bearer.status).toBe(200);
    });

    it("uses the tokens and bot login given as options", async () => {
      const custom = await startFakeGitHub({ owner: "acme", repo: "shop", tokens: { secret: "write" }, botLogin: "shadowgate[bot]" });
      try {
        custom.addIssue(3);
        const octokit = getOctokit("secret", { baseUrl: custom.url });
        const comment = await octokit.rest.issues.createComment({ owner: "acme", repo: "shop", issue_number: 3, body: "hi" });
        expect(comment.data.user?.login).toBe("shadowgate[bot]");
        await expect(getOctokit(FAKE_WRITE_TOKEN, { baseUrl: custom.url }).rest.issues.listComments({ owner: "acme", repo: "shop", issue_number: 3 })).rejects.toMatchObject({ status: 401 });
        expect(custom.violations).toEqual([]);
      } finally {
        await custom.close();
      }
    });
  });

  describe("pull requests and review suggestions", () => {
    it("answers pulls.get as JSON, and as the diff text with the diff media type", async () => {
      const json = await gh.rest.pulls.get({ ...REPO_ARGS, pull_number: 7 });
      expect(json.data).toMatchObject({
        number: 7,
        state: "open",
        head: { sha: HEAD, ref: "feature", repo: { full_name: `${OWNER}/${REPO}`, fork: false } },
        base: { sha: BASE, ref: "main", repo: { full_name: `${OWNER}/${REPO}` } },
        html_url: `https://github.com/${OWNER}/${REPO}/pull/7`,
        changed_files: 2,
        additions: 5,
        deletions: 2,
      });
      const diff = await gh.rest.pulls.get({ ...REPO_ARGS, pull_number: 7, mediaType: { format: "diff" } });
      expect(diff.data as unknown).toBe(DIFF);
      const plain = await call(fake, "GET", repoPath("/pulls/7"), { headers: { accept: "application/vnd.github.diff" } });
      expect(plain.headers.get("content-type")).toMatch(/^application\/vnd\.github\.diff/);
      expect(plain.text).toBe(DIFF);
      expect(fake.violations).toEqual([]);
    });

    it("describes a fork PR as a fork whose branch is not in the base repository", async () => {
      fake.addPullRequest({ number: 8, headSha: "3".repeat(40), headRef: "patch-1", headRepoFullName: "mallory/orders", diff: DIFF });
      const pr = await gh.rest.pulls.get({ ...REPO_ARGS, pull_number: 8 });
      expect(pr.data.head).toMatchObject({ label: "mallory:patch-1", sha: "3".repeat(40), repo: { full_name: "mallory/orders", fork: true } });
      expect(fake.resolveRef("heads/patch-1")).toBeUndefined();
      expect(fake.violations).toEqual([]);
    });

    it("accepts review comments on RIGHT and LEFT lines of a hunk", async () => {
      const review = await gh.rest.pulls.createReview({
        ...REPO_ARGS,
        pull_number: 7,
        commit_id: HEAD,
        event: "COMMENT",
        body: "Shadowgate suggestions",
        comments: [
          { path: "src/orders.ts", line: 2, side: "RIGHT", body: "```suggestion\nconst LIMIT = 20;\n```" },
          { path: "src/orders.ts", start_line: 2, start_side: "RIGHT", line: 3, side: "RIGHT", body: "multi-line" },
          { path: "src/orders.ts", line: 24, side: "RIGHT", body: "context line at the end of hunk 2" },
          { path: "src/orders.ts", line: 21, side: "LEFT", body: "a deleted line" },
          { path: "README.md", line: 1, body: "side defaults to RIGHT" },
        ],
      });
      expect(review.data.state).toBe("COMMENTED");
      expect(fake.reviews).toHaveLength(1);
      expect(fake.reviews[0]).toMatchObject({ pullNumber: 7, commitId: HEAD, event: "COMMENT", state: "COMMENTED" });
      expect(fake.reviews[0]?.comments.map((c) => c.line)).toEqual([2, 3, 24, 21, 1]);
      expect(fake.violations).toEqual([]);
    });

    it("rejects the whole review when one comment is outside the diff", async () => {
      const answer = await call(fake, "POST", repoPath("/pulls/7/reviews"), {
        body: {
          commit_id: HEAD,
          event: "COMMENT",
          body: "x",
          comments: [
            { path: "src/orders.ts", line: 2, side: "RIGHT", body: "fine" },
            { path: "src/orders.ts", line: 10, side: "RIGHT", body: "between the hunks" },
          ],
        },
      });
      expect(answer.status).toBe(422);
      expect(answer.json).toMatchObject({
        message: "Unprocessable Entity",
        errors: ["Pull request review thread line must be part of the diff and Pull request review thread diff hunk can't be blank"],
      });
      expect(fake.reviews).toEqual([]);
      expect(fake.violations).toEqual([expect.stringContaining("review comment 1 (src/orders.ts:10 RIGHT): line must be part of the diff")]);
    });

    it("rejects a start line in another hunk, a start line not before the line, a bad side and an unknown path", async () => {
      const post = (comment: Record<string, unknown>) =>
        call(fake, "POST", repoPath("/pulls/7/reviews"), { body: { commit_id: HEAD, event: "COMMENT", body: "x", comments: [{ path: "src/orders.ts", body: "b", ...comment }] } });
      const otherHunk = await post({ start_line: 5, line: 22, side: "RIGHT" });
      expect((otherHunk.json as { errors: string[] }).errors[0]).toContain("start line must be part of the same hunk as the line.");
      const notBefore = await post({ start_line: 3, line: 3 });
      expect((notBefore.json as { errors: string[] }).errors[0]).toContain("start line must precede the end line");
      const lowerCase = await post({ line: 2, side: "right" });
      const startSide = await post({ line: 3, start_line: 2, start_side: "MIDDLE" });
      const unknownPath = await post({ path: "src/other.ts", line: 1 });
      expect([otherHunk.status, notBefore.status, lowerCase.status, startSide.status, unknownPath.status]).toEqual([422, 422, 422, 422, 422]);
      expect(fake.reviews).toEqual([]);
      expect(fake.violations).toHaveLength(5);
      expect(fake.violations[2]).toContain("side must be LEFT or RIGHT");
      expect(fake.violations[3]).toContain("start side must be LEFT or RIGHT");
    });

    it("rejects a review comment whose line is not an integer (OpenAPI schema)", async () => {
      const answer = await call(fake, "POST", repoPath("/pulls/7/reviews"), {
        body: { commit_id: HEAD, event: "COMMENT", comments: [{ path: "src/orders.ts", line: "x", side: "RIGHT", body: "b" }] },
      });
      expect(answer.status).toBe(422);
      expect(message(answer)).toContain(`For 'body/comments/0/line', "x" is not an integer.`);
      expect(fake.violations).toEqual([expect.stringContaining("request body does not match the OpenAPI schema")]);
    });

    it("requires the PR head as commit_id", async () => {
      const answer = await call(fake, "POST", repoPath("/pulls/7/reviews"), { body: { commit_id: BASE, event: "COMMENT", body: "x" } });
      expect(answer.status).toBe(422);
      expect(fake.reviews).toEqual([]);
      expect(fake.violations).toEqual([expect.stringContaining("is not the head of pull request #7")]);
    });

    it("keeps a review without event PENDING, and allows only one pending review", async () => {
      const pending = await gh.rest.pulls.createReview({ ...REPO_ARGS, pull_number: 7, commit_id: HEAD, comments: [{ path: "README.md", line: 2, body: "b" }] });
      expect(pending.data.state).toBe("PENDING");
      expect(pending.data.submitted_at).toBeUndefined();
      expect(fake.reviews).toMatchObject([{ state: "PENDING" }]);
      expect(fake.reviews[0]?.event).toBeUndefined();
      const second = await call(fake, "POST", repoPath("/pulls/7/reviews"), { body: { commit_id: HEAD } });
      expect(second.status).toBe(422);
      expect(second.json).toMatchObject({ errors: ["User can only have one pending review per pull request"] });
      expect(fake.violations).toHaveLength(1);
    });
  });

  describe("check runs and commit statuses", () => {
    const annotation = (line: number) => ({ path: "src/orders.ts", start_line: line, end_line: line, annotation_level: "warning" as const, message: `m${line}` });

    it("creates and updates a check run, accumulating annotations across requests", async () => {
      const created = await gh.rest.checks.create({
        ...REPO_ARGS,
        name: "Shadowgate",
        head_sha: HEAD,
        status: "in_progress",
        output: { title: "Measuring", summary: "…", annotations: Array.from({ length: 50 }, (_, i) => annotation(i + 1)) },
      });
      expect(created.status).toBe(201);
      expect(created.data).toMatchObject({ name: "Shadowgate", head_sha: HEAD, status: "in_progress", conclusion: null, output: { annotations_count: 50 } });
      expect(created.data.pull_requests.map((p) => p.number)).toEqual([7]);
      const updated = await gh.rest.checks.update({
        ...REPO_ARGS,
        check_run_id: created.data.id,
        status: "completed",
        conclusion: "failure",
        output: { title: "p99 +40%", summary: "regression", text: "details", annotations: Array.from({ length: 30 }, (_, i) => annotation(i + 51)) },
      });
      expect(updated.data).toMatchObject({ status: "completed", conclusion: "failure", output: { title: "p99 +40%", annotations_count: 80 } });
      expect(updated.data.completed_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(fake.checkRuns).toHaveLength(1);
      expect(fake.checkRuns[0]).toMatchObject({ headSha: HEAD, status: "completed", conclusion: "failure", updates: 1 });
      expect(fake.checkRuns[0]?.output?.annotations).toHaveLength(80);
      expect(fake.violations).toEqual([]);
    });

    it("rejects check runs the schema or GitHub's rules forbid", async () => {
      const post = (body: Record<string, unknown>) => call(fake, "POST", repoPath("/check-runs"), { body: { name: "sg", head_sha: HEAD, ...body } });
      const great = await post({ conclusion: "great" });
      expect(great.status).toBe(422);
      expect(message(great)).toContain(`"great" is not a member of`);
      const noConclusion = await post({ status: "completed" });
      expect(noConclusion.status).toBe(422);
      const tooMany = await post({ status: "in_progress", output: { title: "t", summary: "s", annotations: Array.from({ length: 51 }, (_, i) => annotation(i + 1)) } });
      expect(tooMany.status).toBe(422);
      const longTitle = await post({ output: { title: "t".repeat(65_536), summary: "s" } });
      expect(longTitle.status).toBe(422);
      const longSummary = await post({ output: { title: "t", summary: "s".repeat(65_536) } });
      expect(longSummary.status).toBe(422);
      const columns = await post({ output: { title: "t", summary: "s", annotations: [{ ...annotation(1), end_line: 2, start_column: 1, end_column: 2 }] } });
      expect(columns.status).toBe(422);
      const unknownCommit = await post({ head_sha: "9".repeat(40), conclusion: "success" });
      expect(unknownCommit.status).toBe(422);
      expect(message(unknownCommit)).toBe(`No commit found for SHA: ${"9".repeat(40)}`);
      expect(fake.checkRuns).toEqual([]);
      expect(fake.violations).toHaveLength(7);
      expect(fake.violations[1]).toContain('conclusion is required when status is "completed"');
      expect(fake.violations[3]).toContain("output.title is longer than 65535 characters");

      const ok = await post({ status: "queued" });
      expect(ok.status).toBe(201);
      const id = (ok.json as { id: number }).id;
      const updateWithoutConclusion = await call(fake, "PATCH", repoPath(`/check-runs/${id}`), { body: { status: "completed" } });
      expect(updateWithoutConclusion.status).toBe(422);
      expect(fake.checkRuns[0]).toMatchObject({ status: "queued", updates: 0 });
    });

    it("completes a run when a conclusion comes with another status, like GitHub, but records it", async () => {
      const answer = await call(fake, "POST", repoPath("/check-runs"), { body: { name: "sg", head_sha: HEAD, status: "in_progress", conclusion: "success" } });
      expect(answer.status).toBe(201);
      expect(answer.json).toMatchObject({ status: "completed", conclusion: "success" });
      expect(fake.violations).toEqual([expect.stringContaining('conclusion "success" sent with status "in_progress"')]);
    });

    it("creates commit statuses and rejects a description over 140 characters", async () => {
      const ok = await gh.rest.repos.createCommitStatus({ ...REPO_ARGS, sha: HEAD, state: "failure", context: "shadowgate", description: "d".repeat(140), target_url: "https://example.com/run" });
      expect(ok.data).toMatchObject({ state: "failure", context: "shadowgate", creator: { login: "github-actions[bot]" } });
      await expect(gh.rest.repos.createCommitStatus({ ...REPO_ARGS, sha: HEAD, state: "failure", context: "shadowgate", description: "d".repeat(141) })).rejects.toMatchObject({
        status: 422,
        response: { data: { errors: [{ resource: "Status", field: "description", message: "description is too long (maximum is 140 characters)" }] } },
      });
      const badState = await call(fake, "POST", repoPath(`/statuses/${HEAD}`), { body: { state: "passed" } });
      expect(badState.status).toBe(422);
      expect(fake.statuses).toEqual([expect.objectContaining({ sha: HEAD, state: "failure", context: "shadowgate", targetUrl: "https://example.com/run" })]);
      expect(fake.violations).toHaveLength(2);
    });
  });

  describe("git data", () => {
    it("lets a bot commit a file change on the PR branch", async () => {
      const content = await gh.rest.repos.getContent({ ...REPO_ARGS, path: "src/orders.ts", ref: "feature" });
      const file = content.data as { content: string; encoding: string; sha: string };
      expect(Buffer.from(file.content, "base64").toString("utf8")).toBe(ORDERS_TS);
      const ref = await gh.rest.git.getRef({ ...REPO_ARGS, ref: "heads/feature" });
      expect(ref.data).toMatchObject({ ref: "refs/heads/feature", object: { sha: HEAD, type: "commit" } });
      const commit = await gh.rest.git.getCommit({ ...REPO_ARGS, commit_sha: ref.data.object.sha });
      const tree = await gh.rest.git.createTree({
        ...REPO_ARGS,
        base_tree: commit.data.tree.sha,
        tree: [{ path: "src/orders.ts", mode: "100644", type: "blob", content: "const LIMIT = 20;\n" }, { path: "shadowgate.yml", mode: "100644", type: "blob", content: "hello\n" }],
      });
      const created = await gh.rest.git.createCommit({ ...REPO_ARGS, message: "Apply Shadowgate recommendation", tree: tree.data.sha, parents: [HEAD] });
      expect(created.data.parents.map((p) => p.sha)).toEqual([HEAD]);
      await gh.rest.git.updateRef({ ...REPO_ARGS, ref: "heads/feature", sha: created.data.sha });

      expect(fake.fileAt("feature", "src/orders.ts")).toBe("const LIMIT = 20;\n");
      expect(fake.fileAt("feature", "README.md")).toBe("# Orders\nService.\n");
      expect(fake.fileAt(HEAD, "src/orders.ts")).toBe(ORDERS_TS);
      expect(fake.headShaOf(7)).toBe(created.data.sha);
      const pr = await gh.rest.pulls.get({ ...REPO_ARGS, pull_number: 7 });
      expect(pr.data.head.sha).toBe(created.data.sha);
      const reread = await gh.rest.repos.getContent({ ...REPO_ARGS, path: "shadowgate.yml", ref: "feature" });
      // Blob SHAs are git's own (`printf 'hello\n' | git hash-object --stdin`).
      expect((reread.data as { sha: string }).sha).toBe("ce013625030ba8dba906f756967f9e9ca394464a");
      expect(createHash("sha1").update("blob 6\0hello\n").digest("hex")).toBe("ce013625030ba8dba906f756967f9e9ca394464a");
      expect(fake.violations).toEqual([]);
    });

    it("refuses a non-fast-forward ref update unless forced, and unknown trees or parents", async () => {
      const baseCommit = await gh.rest.git.getCommit({ ...REPO_ARGS, commit_sha: BASE });
      const sideways = await gh.rest.git.createCommit({ ...REPO_ARGS, message: "sideways", tree: baseCommit.data.tree.sha, parents: [BASE] });
      const refused = await call(fake, "PATCH", repoPath("/git/refs/heads/feature"), { body: { sha: sideways.data.sha } });
      expect(refused.status).toBe(422);
      expect(message(refused)).toBe("Update is not a fast forward");
      expect(fake.resolveRef("feature")).toBe(HEAD);
      const forced = await call(fake, "PATCH", repoPath("/git/refs/heads/feature"), { body: { sha: sideways.data.sha, force: true } });
      expect(forced.status).toBe(200);
      expect(fake.resolveRef("feature")).toBe(sideways.data.sha);
      const badTree = await call(fake, "POST", repoPath("/git/commits"), { body: { message: "m", tree: "f".repeat(40), parents: [HEAD] } });
      const badBase = await call(fake, "POST", repoPath("/git/trees"), { body: { base_tree: HEAD, tree: [{ path: "a", mode: "100644", type: "blob", content: "x" }] } });
      const bothShaAndContent = await call(fake, "POST", repoPath("/git/trees"), { body: { tree: [{ path: "a", mode: "100644", type: "blob", content: "x", sha: "e".repeat(40) }] } });
      expect([badTree.status, badBase.status, bothShaAndContent.status]).toEqual([422, 422, 422]);
      expect(fake.violations).toHaveLength(4);
    });

    it("lists a directory and deletes files with a null sha", async () => {
      const dir = await gh.rest.repos.getContent({ ...REPO_ARGS, path: "src", ref: HEAD });
      expect(Array.isArray(dir.data) && dir.data.map((e) => [e.name, e.type])).toEqual([["orders.ts", "file"]]);
      const commit = await gh.rest.git.getCommit({ ...REPO_ARGS, commit_sha: HEAD });
      const tree = await gh.rest.git.createTree({ ...REPO_ARGS, base_tree: commit.data.tree.sha, tree: [{ path: "README.md", mode: "100644", type: "blob", sha: null }] });
      expect(tree.data.tree.map((e) => e.path)).toEqual(["src", "src/orders.ts"]);
      await expect(gh.rest.repos.getContent({ ...REPO_ARGS, path: "missing.txt", ref: HEAD })).rejects.toMatchObject({ status: 404 });
      expect(fake.violations).toEqual([]);
    });
  });

  describe("failNext", () => {
    it("injects failures for the next matching requests only", async () => {
      fake.failNext({ method: "POST", operationId: "issues/create-comment" }, { status: 502 }, 2);
      const other = await call(fake, "GET", repoPath("/issues/7/comments"));
      expect(other.status).toBe(200);
      const first = await call(fake, "POST", repoPath("/issues/7/comments"), { body: { body: "x" } });
      const second = await call(fake, "POST", repoPath("/issues/7/comments"), { body: { body: "x" } });
      const third = await call(fake, "POST", repoPath("/issues/7/comments"), { body: { body: "x" } });
      expect([first.status, second.status, third.status]).toEqual([502, 502, 201]);
      expect(message(first)).toBe("Server Error");
      expect(fake.comments).toHaveLength(1);
      expect(fake.requests.map((r) => r.status)).toEqual([200, 502, 502, 201]);
      expect(fake.violations).toEqual([]);
    });

    it("sends rate-limit headers and bodies as given", async () => {
      const reset = String(Math.floor(Date.now() / 1000) + 60);
      fake.failNext({ method: "GET" }, { status: 403, headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset }, body: { message: "API rate limit exceeded" } });
      fake.failNext({ method: "GET" }, { status: 429, headers: { "retry-after": "7" } });
      const limited = await call(fake, "GET", repoPath("/pulls/7"));
      expect(limited.status).toBe(403);
      expect(limited.headers.get("x-ratelimit-remaining")).toBe("0");
      expect(limited.headers.get("x-ratelimit-reset")).toBe(reset);
      expect(limited.json).toEqual({ message: "API rate limit exceeded" });
      const secondary = await call(fake, "GET", repoPath("/pulls/7"));
      expect(secondary.status).toBe(429);
      expect(secondary.headers.get("retry-after")).toBe("7");
      expect((await call(fake, "GET", repoPath("/pulls/7"))).status).toBe(200);
    });

    it("drives Octokit's retry and throttling plugins", async () => {
      const calls: number[] = [];
      const octokit = getOctokit(
        FAKE_WRITE_TOKEN,
        {
          baseUrl: fake.url,
          retry: { retryAfterBaseValue: 1 },
          throttle: {
            retryAfterBaseValue: 1,
            onRateLimit: (retryAfter: number) => {
              calls.push(retryAfter);
              return true;
            },
            onSecondaryRateLimit: () => false,
          },
        },
        retry,
        throttling,
      );
      fake.failNext({ method: "GET", operationId: "pulls/get" }, { status: 500 });
      const pr = await octokit.rest.pulls.get({ ...REPO_ARGS, pull_number: 7 });
      expect(pr.data.number).toBe(7);
      fake.failNext(
        { method: "GET", operationId: "issues/list-comments" },
        { status: 403, headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(Math.floor(Date.now() / 1000)) } },
      );
      const comments = await octokit.rest.issues.listComments({ ...REPO_ARGS, issue_number: 7 });
      expect(comments.status).toBe(200);
      expect(calls).toHaveLength(1);
      expect(fake.requests.map((r) => `${r.operationId} ${r.status}`)).toEqual(["pulls/get 500", "pulls/get 200", "issues/list-comments 403", "issues/list-comments 200"]);
      expect(fake.violations).toEqual([]);
    });
  });
});
