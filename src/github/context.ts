/**
 * Where the Action runs: the GITHUB_* variables the runner sets and the event payload at
 * GITHUB_EVENT_PATH, read once, validated, and reduced to the few facts the rest of the
 * program needs. This is the only module that reads them.
 *
 * The payload is data. On `pull_request` from a fork and on `workflow_run` it carries
 * strings chosen by whoever opened the PR (branch names, titles); every field used here is
 * checked against what GitHub can actually send, and nothing from it is ever executed.
 * Every failure is a ContextError whose message names the variable, or the payload file and
 * the field, and says what was expected and what was there.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { errorText, whyUnreadable } from "../core/errors.js";

/** The PR a `pull_request` / `pull_request_target` event is about. */
export interface PullRequestContext {
  number: number;
  /** the commit to report against (check runs, review comments): not GITHUB_SHA, which is the merge commit */
  headSha: string;
  /** the branch name in the head repository; chosen by the PR author, so data only */
  headRef: string;
  /** `owner/repo` of the head repository; null when that repository was deleted */
  headRepoFullName: string | null;
  baseRef: string;
  baseSha: string;
  /** true unless the head repository is this repository; a deleted head repository counts as a fork */
  fromFork: boolean;
  htmlUrl?: string;
}

/** The run a `workflow_run` event reports on (the run that measured; this run reports). */
export interface WorkflowRunContext {
  id: number;
  name?: string;
  /** the event that started that run, e.g. `pull_request` */
  event: string;
  headSha: string;
  headBranch?: string;
  /** `owner/repo` of the head repository; null when absent (deleted fork) */
  headRepoFullName: string | null;
  conclusion?: string | null;
  /** true unless the head repository is this repository; a missing head repository counts as a fork */
  fromFork: boolean;
  /**
   * PRs of this repository whose head is that run's commit. GitHub leaves the list EMPTY for
   * PRs from forks: the number then has to travel in the artifact (and be validated there).
   */
  pullRequestNumbers: number[];
}

export interface RunContext {
  /** GITHUB_EVENT_NAME */
  eventName: string;
  /** GITHUB_REPOSITORY: the repository the workflow runs in (the base repository of a PR) */
  repository: { owner: string; repo: string; fullName: string };
  /** GITHUB_API_URL (GHES: https://HOST/api/v3), without a trailing slash */
  apiUrl: string;
  /** GITHUB_SERVER_URL, without a trailing slash */
  serverUrl: string;
  runId: string;
  runAttempt: string;
  /** GITHUB_SHA: for pull_request events the merge commit, for workflow_run the default branch's tip */
  sha: string;
  /** GITHUB_REF; empty when the event has no branch or tag */
  ref: string;
  /** GITHUB_WORKSPACE, else the current directory */
  workspace: string;
  /** payload repository.default_branch; unknown when a push/schedule run has no payload */
  defaultBranch?: string;
  /** set for pull_request and pull_request_target events */
  pullRequest?: PullRequestContext;
  /** set for workflow_run events */
  workflowRun?: WorkflowRunContext;
  /**
   * The commit this run's results are about, for check runs and statuses: the PR head for
   * pull_request events, workflow_run.head_sha for workflow_run events, GITHUB_SHA otherwise.
   */
  headSha: string;
  /** `${serverUrl}/${fullName}/actions/runs/${runId}` */
  runUrl: string;
  /**
   * The branch this run's data belongs to, for cache keys and display: the PR head branch
   * (`owner:branch` when it comes from a fork, as GitHub labels it, so a fork's `main` never
   * reads as this repository's `main`), the triggering run's head branch for workflow_run, the
   * pushed branch for push, the default branch for schedule. Undefined for tags and unknowns.
   */
  branch?: string;
  /**
   * A push, schedule or workflow_dispatch run whose GITHUB_REF is refs/heads/<default branch>:
   * the only runs whose data may be saved for others to read. False when the default
   * branch is unknown, and always false for pull_request* and workflow_run.
   */
  onDefaultBranch: boolean;
}

export class ContextError extends Error {
  override name = "ContextError";
  /** the variable, or `GITHUB_EVENT_PATH <file>`, the message is about */
  readonly source: string;
  constructor(source: string, message: string) {
    super(`${source}: ${message}`);
    this.source = source;
  }
}

const PULL_REQUEST_EVENTS = new Set(["pull_request", "pull_request_target"]);
/** Events whose meaning is in the payload: without it there is nothing to report on. */
const PAYLOAD_EVENTS = new Set([...PULL_REQUEST_EVENTS, "workflow_run"]);
/** Events that may run on the default branch and then own its data. */
const DEFAULT_BRANCH_EVENTS = new Set(["push", "schedule", "workflow_dispatch"]);

const SHA_RE = /^[0-9a-f]{40}$/;
const REPO_RE = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,99})\/([A-Za-z0-9_.-]{1,100})$/;
const EVENT_RE = /^[a-z][a-z_]{0,63}$/;
const DIGITS_RE = /^[1-9][0-9]{0,19}$/;

const MSG = {
  sha: "expected a 40-hex commit SHA",
  repo: "expected owner/repo",
  branch: "expected a git branch name",
  number: "expected a positive whole number",
  url: "expected an http(s) URL",
  event: "expected an event name like pull_request",
  object: "expected an object",
  objectOrNull: "expected an object or null",
  list: "expected a list",
} as const;

/** `owner/repo` as GitHub spells it; `.` and `..` are not repository names. */
function parseFullName(text: string): { owner: string; repo: string } | undefined {
  const match = REPO_RE.exec(text);
  if (!match || match[2] === "." || match[2] === "..") return undefined;
  return { owner: match[1]!, repo: match[2]! };
}

/**
 * A name git accepts as a ref (git check-ref-format): no control characters, spaces or
 * `~^:?*[\`, no `..`, `@{` or `//`, no component starting with `.` or ending with `.lock`.
 * Everything GitHub can send passes; anything else is not a branch.
 */
export function isRefName(name: string): boolean {
  if (name.length === 0 || name.length > 1000 || name === "@") return false;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f~^:?*[\\]/.test(name)) return false;
  if (name.includes("..") || name.includes("@{") || name.includes("//")) return false;
  if (name.startsWith("/") || name.endsWith("/") || name.endsWith(".")) return false;
  return name.split("/").every((part) => !part.startsWith(".") && !part.endsWith(".lock"));
}

function isHttpUrl(text: string): boolean {
  if (text.length > 2000) return false;
  try {
    const url = new URL(text);
    return url.protocol === "https:" || url.protocol === "http:";
  } catch {
    return false;
  }
}

// ---- payload schemas: only the fields used, each with the message a user should read ----

const sha = z.string({ error: MSG.sha }).regex(SHA_RE, { error: MSG.sha });
const fullName = z.string({ error: MSG.repo }).refine((s) => parseFullName(s) !== undefined, { error: MSG.repo });
const branchName = z.string({ error: MSG.branch }).refine(isRefName, { error: MSG.branch });
const positive = z.int({ error: MSG.number }).positive({ error: MSG.number });
const httpUrl = z.string({ error: MSG.url }).refine(isHttpUrl, { error: MSG.url });
const text = (max: number) => {
  const message = `expected text of at most ${max} characters`;
  return z.string({ error: message }).max(max, { error: message });
};
const object = <S extends z.core.$ZodLooseShape>(shape: S) => z.object(shape, { error: MSG.object });
const objectOrNull = <S extends z.core.$ZodLooseShape>(shape: S) => z.object(shape, { error: MSG.objectOrNull }).nullable();

/** `repository` at the payload's top level: the repository the workflow runs in. Absent in old schedule payloads. */
const topRepository = object({ default_branch: branchName.optional() }).optional();

const pullRequestPayload = object({
  pull_request: object({
    number: positive,
    html_url: httpUrl.optional(),
    head: object({ ref: branchName, sha, repo: objectOrNull({ full_name: fullName }) }),
    base: object({ ref: branchName, sha, repo: object({ full_name: fullName, default_branch: branchName.optional() }) }),
  }),
  repository: topRepository,
});

const workflowRunPayload = object({
  workflow_run: object({
    id: positive,
    name: text(1000).nullable().optional(),
    event: z.string({ error: MSG.event }).regex(EVENT_RE, { error: MSG.event }),
    head_sha: sha,
    head_branch: branchName.nullable().optional(),
    head_repository: objectOrNull({ full_name: fullName }).optional(),
    conclusion: text(100).nullable().optional(),
    pull_requests: z
      .array(
        object({
          number: positive,
          base: object({ repo: object({ url: httpUrl.optional() }).optional() }).optional(),
        }),
        { error: MSG.list },
      )
      .max(100, { error: "expected at most 100 pull requests" }),
  }),
  repository: topRepository,
});

const otherPayload = object({ repository: topRepository });

// ---- reading ----

/**
 * Read the run's context from `env` (normally process.env) and the payload file it names.
 * Works outside Actions too: it uses whatever env it is given and never looks at GITHUB_ACTIONS.
 */
export function readRunContext(env: NodeJS.ProcessEnv, readFile: (path: string) => string = (path) => readFileSync(path, "utf8")): RunContext {
  const eventName = envText(env, "GITHUB_EVENT_NAME", MSG.event, (v) => EVENT_RE.test(v));
  const fullNameText = envText(env, "GITHUB_REPOSITORY", MSG.repo, (v) => parseFullName(v) !== undefined);
  const { owner, repo } = parseFullName(fullNameText)!;
  const apiUrl = envUrl(env, "GITHUB_API_URL", "https://api.github.com");
  const serverUrl = envUrl(env, "GITHUB_SERVER_URL", "https://github.com");
  const runId = envText(env, "GITHUB_RUN_ID", "expected a run id (digits)", (v) => DIGITS_RE.test(v));
  const runAttempt = env.GITHUB_RUN_ATTEMPT ? envText(env, "GITHUB_RUN_ATTEMPT", "expected a run attempt (digits)", (v) => DIGITS_RE.test(v)) : "1";
  const envSha = envText(env, "GITHUB_SHA", MSG.sha, (v) => SHA_RE.test(v));
  const ref = env.GITHUB_REF ? envText(env, "GITHUB_REF", "expected a git ref like refs/heads/main", (v) => v.startsWith("refs/") && isRefName(v)) : "";
  const workspace = env.GITHUB_WORKSPACE || process.cwd();

  const payload = readPayload(env, eventName, readFile);
  const refBranch = ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : undefined;

  let defaultBranch: string | undefined;
  let pullRequest: PullRequestContext | undefined;
  let workflowRun: WorkflowRunContext | undefined;
  let branch: string | undefined;

  if (PULL_REQUEST_EVENTS.has(eventName)) {
    const { pull_request: pr, repository } = validate(pullRequestPayload, payload!, env);
    const headRepoFullName = pr.head.repo?.full_name ?? null;
    const fromFork = headRepoFullName === null || headRepoFullName !== pr.base.repo.full_name || headRepoFullName !== fullNameText;
    pullRequest = {
      number: pr.number,
      headSha: pr.head.sha,
      headRef: pr.head.ref,
      headRepoFullName,
      baseRef: pr.base.ref,
      baseSha: pr.base.sha,
      fromFork,
      ...(pr.html_url !== undefined ? { htmlUrl: pr.html_url } : {}),
    };
    defaultBranch = repository?.default_branch ?? pr.base.repo.default_branch;
    branch = forkLabel(pr.head.ref, fromFork, headRepoFullName);
  } else if (eventName === "workflow_run") {
    const { workflow_run: run, repository } = validate(workflowRunPayload, payload!, env);
    const headRepoFullName = run.head_repository?.full_name ?? null;
    const fromFork = headRepoFullName === null || headRepoFullName !== fullNameText;
    const headBranch = run.head_branch ?? undefined;
    workflowRun = {
      id: run.id,
      ...(run.name ? { name: run.name } : {}),
      event: run.event,
      headSha: run.head_sha,
      ...(headBranch !== undefined ? { headBranch } : {}),
      headRepoFullName,
      ...(run.conclusion !== undefined ? { conclusion: run.conclusion } : {}),
      fromFork,
      // GitHub can list PRs of other repositories whose head has the same commit; only ours count.
      pullRequestNumbers: run.pull_requests.filter((p) => belongsTo(p.base?.repo?.url, fullNameText)).map((p) => p.number),
    };
    defaultBranch = repository?.default_branch;
    branch = headBranch === undefined ? undefined : forkLabel(headBranch, fromFork, headRepoFullName);
  } else {
    const { repository } = payload ? validate(otherPayload, payload, env) : { repository: undefined };
    defaultBranch = repository?.default_branch;
    // A schedule runs on the default branch (GITHUB_REF is it), so an old-style payload
    // without `repository` still tells us which branch that is.
    if (eventName === "schedule") defaultBranch ??= refBranch;
    branch = eventName === "schedule" ? (defaultBranch ?? refBranch) : refBranch;
  }

  const onDefaultBranch = DEFAULT_BRANCH_EVENTS.has(eventName) && defaultBranch !== undefined && ref === `refs/heads/${defaultBranch}`;

  return {
    eventName,
    repository: { owner, repo, fullName: fullNameText },
    apiUrl,
    serverUrl,
    runId,
    runAttempt,
    sha: envSha,
    ref,
    workspace,
    ...(defaultBranch !== undefined ? { defaultBranch } : {}),
    ...(pullRequest ? { pullRequest } : {}),
    ...(workflowRun ? { workflowRun } : {}),
    headSha: pullRequest?.headSha ?? workflowRun?.headSha ?? envSha,
    runUrl: `${serverUrl}/${fullNameText}/actions/runs/${runId}`,
    ...(branch !== undefined ? { branch } : {}),
    onDefaultBranch,
  };

}

/** The payload's fields, or a ContextError naming the file, the first bad field and what it held. */
function validate<T>(schema: z.ZodType<T>, doc: Record<string, unknown>, env: NodeJS.ProcessEnv): T {
  const parsed = schema.safeParse(doc);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues;
  const first = issues[0]!;
  const field = first.path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
  throw new ContextError(`GITHUB_EVENT_PATH ${env.GITHUB_EVENT_PATH}`, `${field}: ${first.message}, got ${describe(valueAt(doc, first.path))}${more}`);
}

/** `owner:branch` for a fork's branch (GitHub's head label), the bare branch otherwise. */
function forkLabel(branchName: string, fromFork: boolean, headRepoFullName: string | null): string {
  if (!fromFork) return branchName;
  const owner = headRepoFullName ? parseFullName(headRepoFullName)!.owner : "unknown";
  return `${owner}:${branchName}`;
}

/** Whether a PR entry's base repository API URL (when given) is `fullName`'s. */
function belongsTo(repoApiUrl: string | undefined, fullName: string): boolean {
  if (repoApiUrl === undefined) return true;
  return repoApiUrl.toLowerCase().replace(/\/+$/, "").endsWith(`/repos/${fullName.toLowerCase()}`);
}

function envText(env: NodeJS.ProcessEnv, name: string, expected: string, ok: (value: string) => boolean): string {
  const value = env[name];
  if (!value || !ok(value)) throw new ContextError(name, `${expected}, got ${describe(value || undefined)}`);
  return value;
}

function envUrl(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const value = env[name];
  if (!value) return fallback;
  if (!isHttpUrl(value)) throw new ContextError(name, `${MSG.url}, got ${describe(value)}`);
  return value.replace(/\/+$/, "");
}

/**
 * The payload as a JSON object, or undefined when an event that can do without it has none
 * (GITHUB_EVENT_PATH unset, or the file absent). A file that is there but unreadable or not
 * a JSON object is an error for every event.
 */
function readPayload(env: NodeJS.ProcessEnv, eventName: string, readFile: (path: string) => string): Record<string, unknown> | undefined {
  const file = env.GITHUB_EVENT_PATH;
  const needed = PAYLOAD_EVENTS.has(eventName);
  if (!file) {
    if (needed) throw new ContextError("GITHUB_EVENT_PATH", `expected the path of the event payload (a ${eventName} event needs it), got nothing`);
    return undefined;
  }
  const source = `GITHUB_EVENT_PATH ${file}`;
  let raw: string;
  try {
    raw = readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && !needed) return undefined;
    throw new ContextError(source, `cannot read the event payload: ${whyUnreadable(error)}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (error) {
    throw new ContextError(source, `the event payload is not valid JSON: ${errorText(error)}`);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    throw new ContextError(source, `expected the event payload to be a JSON object, got ${describe(doc)}`);
  }
  return doc as Record<string, unknown>;
}

function valueAt(doc: unknown, path: readonly PropertyKey[]): unknown {
  let value: unknown = doc;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** What was found, for messages; strings quoted, escaped and cut short (they are untrusted). */
function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  return String(value);
}
