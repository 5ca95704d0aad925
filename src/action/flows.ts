/**
 * What the Action does in each mode:
 * - `run` (default): restore the store from the cache, measure, report on the PR, save the cache;
 * - `measure`: the same measurement, but nothing is written to GitHub; the results file (with
 *   the PR number and head SHA) is the artifact a `workflow_run` workflow reports from. This
 *   is the mode for PRs from forks, whose token is read-only;
 * - `report`: no Docker at all; read that artifact as untrusted data, check it belongs to the
 *   workflow run that triggered us, and comment/check on the right PR and commit.
 */
import path from "node:path";
import { readFileSync, realpathSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import type { Logger } from "../core/ports.js";
import { loadConfig } from "../config/load.js";
import { runGateFromConfig, runShadowgate, writeJsonFile, type GateRunOutput } from "../app.js";
import { checkoutBase } from "./base-checkout.js";
import { parseResults, type GitHubPlace, type ResultsDoc } from "../results/schema.js";
import { renderReport } from "../report/markdown.js";
import { escapeText } from "../report/format.js";
import { errorText } from "../core/errors.js";
import { toBenchmarkActionJson, toBencherMetricFormat } from "../report/interop.js";
import { readRunContext, type RunContext } from "../github/context.js";
import { createGitHubClient, type GitHubClient } from "../github/client.js";
import { COMMENT_LIMIT, findStickyComment, publishResults, type PublishOutcome, type PublishTarget } from "../github/publish.js";
import { gateCommentMarker } from "../gate/report.js";
import { planCache, restoreStore, saveStore, type CacheBackend } from "../store/cache-store.js";
import type { ActionInputs } from "./inputs.js";

export interface FlowDeps {
  env: NodeJS.ProcessEnv;
  logger: Logger;
  cache: CacheBackend;
  /** GitHub client for a token (a seam for nothing but the client's construction) */
  client?: (token: string, apiUrl: string) => GitHubClient;
}

export interface FlowResult {
  doc: ResultsDoc;
  /** the job summary */
  markdown: string;
  resultsFile: string;
  interop?: { smaller: string; bigger: string; bencher: string };
  published?: PublishOutcome;
}

/** `run` and `measure`: the shadows, the model and the recommendation. */
export async function measureFlow(inputs: ActionInputs, deps: FlowDeps): Promise<FlowResult> {
  const { logger } = deps;
  const context = githubContext(deps.env);
  if (inputs.mode === "run" && context?.eventName === "pull_request_target" && context.pullRequest?.fromFork) {
    // pull_request_target runs with a write token and secrets: building and running a fork's
    // code there hands both to the fork
    throw new Error("mode run on pull_request_target would build and run a fork's code with a write token; use mode measure on pull_request and mode report on workflow_run (see the README)");
  }
  const configFile = path.resolve(inputs.configFile);
  const config = await loadConfig(configFile);
  const storePath = path.resolve(inputs.storePath ?? config.store.path);
  const repoRoot = context?.workspace ?? process.cwd();

  const plan = context ? cachePlan(context, config.workload.name, inputs) : undefined;
  if (plan) await restoreStore(deps.cache, storePath, plan, logger);

  const place: GitHubPlace | null = context
    ? {
        repository: context.repository.fullName,
        eventName: context.eventName,
        pullRequest: context.pullRequest?.number ?? null,
        headSha: context.headSha,
        configPath: path.relative(repoRoot, configFile).split(path.sep).join("/"),
      }
    : null;
  const output = await runShadowgate({
    configFile,
    config,
    repoRoot,
    github: place,
    jsonFile: inputs.resultsFile,
    timeoutMs: inputs.timeoutMs,
    storePath,
    ...(inputs.trials ? { trials: inputs.trials } : {}),
    logger,
  });
  const resultsFile = output.jsonFile!;
  const interop = await writeInterop(output.doc, resultsFile);

  let published: PublishOutcome | undefined;
  try {
    if (inputs.mode === "run" && context?.pullRequest) {
      const pr = context.pullRequest;
      published = await publish(inputs, deps, context, output.doc, (file) => readInside(repoRoot, file), {
        owner: context.repository.owner,
        repo: context.repository.repo,
        headSha: pr.headSha,
        pullRequest: { number: pr.number, headRef: pr.headRef, sameRepo: !pr.fromFork },
      });
    } else if (inputs.mode === "measure") {
      logger.info(`mode measure: nothing written to GitHub; upload ${resultsFile} as an artifact and run mode: report from a workflow_run workflow`);
    }
  } catch (error) {
    // the measurement stands whatever happened on the way to GitHub: keep the summary, the
    // outputs and the gate
    logger.warn(`could not report on the pull request: ${errorText(error).split("\n")[0]}`);
    published = { notices: [`Could not report on the pull request: ${errorText(error).split("\n")[0]}`], readOnly: false, denied: [] };
  } finally {
    if (plan) await saveStore(deps.cache, storePath, plan, logger);
  }
  return { doc: output.doc, markdown: withNotices(output.markdown, published), resultsFile, interop, ...(published ? { published } : {}) };
}

/** `report`: post the results an untrusted `measure` job left as an artifact. */
export async function reportFlow(inputs: ActionInputs, deps: FlowDeps): Promise<FlowResult> {
  const context = githubContext(deps.env);
  const run = context?.workflowRun;
  if (!context || !run) {
    throw new Error(`mode report posts the artifact of another workflow's run: run it from a workflow_run workflow (this event is ${context?.eventName ?? "not a GitHub Actions event"})`);
  }
  const resultsFile = path.resolve(inputs.resultsFile);
  const doc = await readResultsFile(resultsFile);
  const place = doc.github;
  const where = `${resultsFile}: github`;
  if (!place) throw new Error(`${where}: missing; the results were not written by mode measure in a GitHub workflow`);
  if (place.repository !== context.repository.fullName) throw new Error(`${where}.repository: expected ${context.repository.fullName}, got ${place.repository}`);
  if (place.headSha !== run.headSha) throw new Error(`${where}.headSha: expected the triggering run's head ${run.headSha}, got ${place.headSha ?? "null"}`);
  if (place.pullRequest === null) throw new Error(`${where}.pullRequest: missing; mode report comments on pull requests`);
  if (!token(inputs, deps.env)) throw new Error(`input token: expected a token with pull-requests: write and checks: write (default: github.token)`);

  const client = makeClient(inputs, deps, context);
  const number = place.pullRequest;
  // For fork PRs workflow_run.pull_requests is empty, so the number comes from the artifact:
  // believe it only if that PR's head is the very commit the triggering run measured.
  if (!run.pullRequestNumbers.includes(number)) {
    const { data: pr } = await client.rest.pulls.get({ owner: context.repository.owner, repo: context.repository.repo, pull_number: number });
    if (pr.head.sha !== run.headSha) throw new Error(`${where}.pullRequest: PR #${number}'s head is ${pr.head.sha}, not the measured ${run.headSha}; not reporting`);
    if (pr.state !== "open") throw new Error(`${where}.pullRequest: PR #${number} is ${pr.state}; not reporting`);
    if (run.headRepoFullName !== null && pr.head.repo?.full_name !== run.headRepoFullName) {
      throw new Error(`${where}.pullRequest: PR #${number} comes from ${pr.head.repo?.full_name ?? "a deleted repository"}, the measured run from ${run.headRepoFullName}; not reporting`);
    }
  }
  // The artifact's verdict is the fork's word; the run's own failure is GitHub's.
  const trusted: ResultsDoc =
    run.conclusion === "failure" && doc.verdict.status !== "fail"
      ? { ...doc, verdict: { status: "fail", reasons: [`The measuring run ${run.id} failed, whatever its results file says.`, ...doc.verdict.reasons] } }
      : doc;
  // nothing from the PR is checked out here: the diff in the comment goes without context lines
  const published = await publish(
    inputs,
    deps,
    context,
    trusted,
    undefined,
    { owner: context.repository.owner, repo: context.repository.repo, headSha: run.headSha, pullRequest: { number, headRef: run.headBranch ?? "", sameRepo: !run.fromFork } },
    run.fromFork ? `the fork's workflow run ${run.id}` : undefined,
  );
  return { doc: trusted, markdown: withNotices(renderReport(trusted), published), resultsFile, published };
}

export async function readResultsFile(file: string): Promise<ResultsDoc> {
  let text: string;
  try {
    const { size } = await stat(file);
    if (size > MAX_RESULTS_BYTES) throw new Error(`expected a results file under ${MAX_RESULTS_BYTES / 1e6} MB, got ${(size / 1e6).toFixed(1)} MB`);
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file (was the artifact downloaded?)" : code ?? errorText(error);
    throw new Error(`${file}: cannot read the results file: ${why}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file}: expected JSON: ${(error as Error).message}`);
  }
  return parseResults(json, file);
}

/** Results files are small (kilobytes); anything huge is not ours. */
const MAX_RESULTS_BYTES = 20e6;

/**
 * `gate`: the PR's base commit (a worktree beside the workspace) against its head, both
 * built and run with the head's current configuration (src/gate/). The base's own config
 * file, when it has one, must declare the same parameters. Nothing is written to GitHub:
 * the job summary, the outputs and the step's result carry the verdict.
 */
export async function gateFlow(inputs: ActionInputs, deps: FlowDeps): Promise<GateRunOutput> {
  const context = githubContext(deps.env);
  const pr = context?.pullRequest;
  if (!context || !pr) throw new Error("mode gate compares a pull request's head with its base: run it on a pull_request event");
  const configFile = path.resolve(inputs.configFile);
  const config = await loadConfig(configFile);
  const workspace = context.workspace ?? process.cwd();
  if (config.workload.source.kind !== "build") throw new Error(`mode gate builds the base from source: ${inputs.configFile} names an image (workload.image); give workload.build instead`);
  const storePath = path.resolve(inputs.storePath ?? config.store.path);
  const plan = cachePlan(context, config.workload.name, inputs);
  // the stored A/A noise comes with the history
  await restoreStore(deps.cache, storePath, plan, deps.logger);
  const base = await checkoutBase(workspace, pr.baseSha, deps.env.RUNNER_TEMP || undefined);
  try {
    const inBase = (file: string) => path.join(base.dir, path.relative(workspace, file));
    const baseConfig = inBase(configFile);
    const hasBaseConfig = await stat(baseConfig).then((s) => s.isFile(), () => false);
    deps.logger.info(`gate: base ${pr.baseSha.slice(0, 7)} (${pr.baseRef}) checked out in ${base.dir}${hasBaseConfig ? "" : `; it has no ${path.relative(workspace, configFile)}`}`);
    const output = await runGateFromConfig({
      configFile,
      config,
      base: { kind: "context", context: inBase(config.workload.source.context) },
      baseConfigFile: hasBaseConfig ? baseConfig : "missing",
      baseBuildFromConfig: true,
      jsonFile: inputs.resultsFile,
      storePath,
      timeoutMs: inputs.timeoutMs,
      logger: deps.logger,
    });
    if (inputs.comment) await postGateComment(output.markdown, config.workload.name, pr.number, inputs, deps, context);
    return output;
  } finally {
    await base.remove();
  }
}

/**
 * The gate's report (the performance verdict and, with gate.diff, the responses) as its own
 * sticky comment on the PR, updated on every run. A token that cannot write (a fork's) only
 * costs the comment: the verdict is the step's result either way.
 */
async function postGateComment(markdown: string, workload: string, pullNumber: number, inputs: ActionInputs, deps: FlowDeps, context: RunContext): Promise<void> {
  if (!token(inputs, deps.env)) {
    deps.logger.info("gate: no token, so no PR comment (the report is in the job summary)");
    return;
  }
  const { owner, repo } = context.repository;
  const marker = gateCommentMarker(workload);
  const body = `${marker}\n${markdown}`.slice(0, COMMENT_LIMIT);
  try {
    const client = makeClient(inputs, deps, context);
    const existing = await findStickyComment(client, owner, repo, pullNumber, marker, inputs.commentAuthor);
    if (existing === undefined) await client.rest.issues.createComment({ owner, repo, issue_number: pullNumber, body });
    else await client.rest.issues.updateComment({ owner, repo, comment_id: existing, body });
  } catch (error) {
    deps.logger.warn(`gate: could not post the PR comment (${errorText(error)}); the report is in the job summary`);
  }
}

/** Where the run is on GitHub; none when run outside a workflow (no event, no repository). */
function githubContext(env: NodeJS.ProcessEnv): RunContext | undefined {
  return env.GITHUB_EVENT_NAME || env.GITHUB_REPOSITORY ? readRunContext(env) : undefined;
}

/** Which cache entries this run restores and whether it saves (store/cache-store.ts decides). */
function cachePlan(context: RunContext, workload: string, inputs: ActionInputs): ReturnType<typeof planCache> {
  return planCache({
    workload,
    eventName: context.eventName,
    ref: context.ref,
    ...(context.branch ? { headRef: context.branch } : {}),
    ...(context.pullRequest ? { baseRef: context.pullRequest.baseRef } : {}),
    ...(context.defaultBranch ? { defaultBranch: context.defaultBranch } : {}),
    runId: context.runId,
    runAttempt: context.runAttempt,
    fromFork: Boolean(context.pullRequest?.fromFork || context.workflowRun?.fromFork),
    policy: inputs.cache,
  });
}

function token(inputs: ActionInputs, env: NodeJS.ProcessEnv): string {
  return inputs.token || env.GITHUB_TOKEN || "";
}

function makeClient(inputs: ActionInputs, deps: FlowDeps, context: RunContext): GitHubClient {
  const make = deps.client ?? ((t: string, apiUrl: string) => createGitHubClient({ token: t, apiUrl, logger: deps.logger }));
  return make(token(inputs, deps.env), context.apiUrl);
}

async function publish(
  inputs: ActionInputs,
  deps: FlowDeps,
  context: RunContext,
  doc: ResultsDoc,
  readRepoFile: ((relativePath: string) => string | undefined) | undefined,
  target: PublishTarget,
  untrustedSource?: string,
): Promise<PublishOutcome | undefined> {
  if (!token(inputs, deps.env)) {
    deps.logger.warn("no token: results are only in the job summary (set the token input)");
    return undefined;
  }
  const outcome = await publishResults(makeClient(inputs, deps, context), doc, target, {
    comment: inputs.comment,
    suggest: inputs.suggest,
    checkRun: inputs.checkRun,
    checkName: `shadowgate / ${doc.workload}`,
    commentAuthor: inputs.commentAuthor,
    detailsUrl: context.runUrl,
    ...(readRepoFile ? { readRepoFile } : {}),
    ...(untrustedSource ? { untrustedSource } : {}),
  }, deps.logger);
  return outcome;
}

/** The KPIs for tools users already chart with: github-action-benchmark and Bencher. */
async function writeInterop(doc: ResultsDoc, resultsFile: string): Promise<FlowResult["interop"]> {
  const base = resultsFile.replace(/\.json$/, "");
  const files = { smaller: `${base}.benchmark-smaller.json`, bigger: `${base}.benchmark-bigger.json`, bencher: `${base}.bmf.json` };
  const benchmark = toBenchmarkActionJson(doc);
  await writeJsonFile(files.smaller, benchmark.smallerIsBetter, "benchmark file");
  await writeJsonFile(files.bigger, benchmark.biggerIsBetter, "benchmark file");
  await writeJsonFile(files.bencher, toBencherMetricFormat(doc), "Bencher file");
  return files;
}

/** A file of the checked-out repository, never one outside it (symlinks resolved) nor in .git. */
function readInside(root: string, relativePath: string): string | undefined {
  try {
    const realRoot = realpathSync(root);
    const file = realpathSync(path.resolve(root, relativePath));
    const inside = path.relative(realRoot, file);
    if (inside.startsWith("..") || path.isAbsolute(inside) || inside.split(path.sep)[0] === ".git") return undefined;
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function withNotices(markdown: string, published: PublishOutcome | undefined): string {
  if (!published || published.notices.length === 0) return markdown;
  return `${markdown}\n## GitHub\n\n${published.notices.map((n) => `- ${escapeText(n)}`).join("\n")}\n`;
}
