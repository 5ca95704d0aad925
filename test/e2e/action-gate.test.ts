/**
 * The bundled action in `mode: gate` the way a pull_request workflow runs it: a shallow
 * checkout of the PR's head as the workspace, the base commit only in the origin, the event
 * payload naming both. The head regresses (EXTRA_WORK_PCT=60): the step fails, and the
 * outputs, the summary, the sticky PR comment (with the response diff beside the verdict, on a
 * fake GitHub that validates every request against the OpenAPI description) and the worktree's
 * removal say so.
 */
import { describe, expect, it } from "vitest";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import path from "node:path";
import { EXAMPLE, ROOT, runNode, shadowgateContainers } from "../helpers/run.js";
import { FAKE_WRITE_TOKEN, startFakeGitHub } from "../helpers/fake-github.js";

const ACTION = path.join(ROOT, "dist/index.js");
const git = (cwd: string, ...args: string[]) => execFileSync("git", ["-C", cwd, "-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { encoding: "utf8" }).trim();

describe("the bundled action, mode gate", () => {
  it("builds the PR's base commit beside the workspace, gates the head against it and fails the step on a regression", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "sg-action-gate-"));
    const upstream = path.join(root, "upstream");
    execFileSync("git", ["init", "-q", "-b", "main", upstream]);
    cpSync(EXAMPLE, path.join(upstream, "service"), { recursive: true, filter: (src) => !src.includes(".shadowgate") });
    const config = path.join(upstream, "service/shadowgate.yml");
    const quick = readFileSync(config, "utf8").replace(/^traffic: .*$/m, "traffic: { file: traffic/recorded.har, connections: 8, warmup: 1s, duration: 2s, window: 500ms }");
    writeFileSync(config, `${quick}\ngate: { round: 2s, budget: 40s, diff: true }\n`);
    git(upstream, "add", ".");
    git(upstream, "commit", "-qm", "base");
    const baseSha = git(upstream, "rev-parse", "HEAD");
    const dockerfile = path.join(upstream, "service/Dockerfile");
    writeFileSync(dockerfile, readFileSync(dockerfile, "utf8").replace(/^ENV NODE_ENV=production PORT=8080$/m, "ENV NODE_ENV=production PORT=8080 EXTRA_WORK_PCT=60"));
    git(upstream, "commit", "-qam", "head: slower");
    const headSha = git(upstream, "rev-parse", "HEAD");
    git(upstream, "config", "uploadpack.allowReachableSHA1InWant", "true");
    const workspace = path.join(root, "workspace");
    execFileSync("git", ["clone", "-q", "--depth=1", `file://${upstream}`, workspace]);

    const event = path.join(root, "event.json");
    writeFileSync(
      event,
      JSON.stringify({
        action: "synchronize",
        number: 7,
        pull_request: {
          number: 7,
          head: { sha: headSha, ref: "slower", repo: { full_name: "octo-org/orders", fork: false } },
          base: { sha: baseSha, ref: "main", repo: { full_name: "octo-org/orders" } },
        },
        repository: { full_name: "octo-org/orders", name: "orders", owner: { login: "octo-org" }, default_branch: "main" },
      }),
    );
    const summary = path.join(root, "summary.md");
    const output = path.join(root, "output.txt");
    writeFileSync(summary, "");
    writeFileSync(output, "");
    const env: NodeJS.ProcessEnv = {
      GITHUB_ACTIONS: "true",
      GITHUB_EVENT_NAME: "pull_request",
      GITHUB_EVENT_PATH: event,
      GITHUB_REPOSITORY: "octo-org/orders",
      GITHUB_REF: "refs/pull/7/merge",
      GITHUB_SHA: headSha,
      GITHUB_RUN_ID: "777",
      GITHUB_RUN_ATTEMPT: "1",
      GITHUB_WORKSPACE: workspace,
      GITHUB_STEP_SUMMARY: summary,
      GITHUB_OUTPUT: output,
      RUNNER_TEMP: root,
      INPUT_MODE: "gate",
      INPUT_CONFIG: path.join(workspace, "service/shadowgate.yml"),
      INPUT_CACHE: "off",
    };
    const github = await startFakeGitHub({ owner: "octo-org", repo: "orders" });
    github.addPullRequest({ number: 7, headSha, headRef: "slower", baseSha, diff: "" });
    env.GITHUB_API_URL = github.url;
    env.INPUT_TOKEN = FAKE_WRITE_TOKEN;
    env.INPUT_COMMENT = "true";
    env["INPUT_COMMENT-AUTHOR"] = github.botLogin;
    const anonymiseKey = "sg-test-anonymise-key-7f3a9c";
    env["INPUT_ANONYMISE-KEY"] = anonymiseKey;
    let result: Awaited<ReturnType<typeof runNode>>;
    try {
      result = await runNode([ACTION], { env, cwd: workspace });
    } finally {
      await github.close();
    }
    // the anonymisation key is masked in the log from the start and never printed otherwise
    expect(result.stdout.split(anonymiseKey)).toHaveLength(2);
    expect(result.stdout).toContain(`::add-mask::${anonymiseKey}`);
    expect(github.comments.map((c) => c.body).join("\n")).not.toContain(anonymiseKey);
    // one sticky comment with the performance verdict and, beside it, the responses compared
    expect(github.violations).toEqual([]);
    expect(github.comments).toHaveLength(1);
    const comment = github.comments[0]!.body;
    expect(comment).toMatch(/^<!-- shadowgate:gate:workload=orders-api -->\n## Shadowgate gate: orders-api — ❌ fail/);
    expect(comment).toMatch(/^### Responses\n\nResponses: same as base on \d+ routes/m);
    // the product pages' timestamp differs between the two bases: noise, not a difference
    const results = JSON.parse(readFileSync(path.join(root, "shadowgate-results.json"), "utf8")) as { diff: { verdict: string; routes: { route: string; ignored: { path: string; reason: string }[] }[] } };
    expect(results.diff.verdict).toBe("same");
    expect(results.diff.routes.find((r) => r.route === "GET /api/products/{id}")?.ignored).toContainEqual(expect.objectContaining({ path: "servedAt", reason: "noise" }));
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(result.stdout).toMatch(/::error::Shadowgate gate fail: The head is worse than the base/);
    expect(result.stdout).toMatch(new RegExp(`gate: base ${baseSha.slice(0, 7)} \\(main\\) checked out in `));
    expect(readFileSync(output, "utf8")).toMatch(/^gate-verdict<<(\S+)\nfail\n\1$/m);
    expect(readFileSync(summary, "utf8")).toMatch(/^## Shadowgate gate: orders-api — ❌ fail/m);
    // the base worktree is gone again, and no shadow is left
    expect(git(workspace, "worktree", "list").split("\n")).toHaveLength(1);
    expect(shadowgateContainers()).toEqual([]);
  });
});
