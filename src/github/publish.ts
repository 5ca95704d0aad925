/**
 * Puts a run's results where reviewers look: the sticky PR comment, the recommended change
 * (review suggestions or a commit), and a check run on the PR head. Every write degrades:
 * a read-only token (fork PRs) or any API failure becomes a notice, never a crash, so the
 * job summary and the step's own result still carry the verdict.
 */
import type { Logger } from "../core/ports.js";
import type { Edit, ResultsDoc } from "../results/schema.js";
import { commentMarker, renderComment } from "../report/comment.js";
import { renderCheckRun } from "../report/check.js";
import { parsePullRequestDiff, placeEdits } from "../suggest/diff.js";
import { suggestionBody, unifiedDiff } from "../suggest/render.js";
import { errorText } from "../core/errors.js";
import { httpStatus, type GitHubClient } from "./client.js";

export type SuggestMode = "review" | "commit" | "none";

/** Where the results go: the repository, and the PR and commit they are about. */
export interface PublishTarget {
  owner: string;
  repo: string;
  /** the PR head commit (for pull_request events, not GITHUB_SHA, which is the merge commit) */
  headSha: string;
  pullRequest?: {
    number: number;
    /** head branch, for `suggest: commit` */
    headRef: string;
    /** the head lives in this repository (commits can be pushed to it) */
    sameRepo: boolean;
  };
}

export interface PublishOptions {
  comment: boolean;
  suggest: SuggestMode;
  checkRun: boolean;
  /** the check run's name, e.g. "shadowgate / orders-api" */
  checkName: string;
  /** login of the account the token acts as; sticky comments are found by marker AND author */
  commentAuthor: string;
  /** link shown in the check run (the workflow run) */
  detailsUrl?: string;
  /**
   * The results come from a job that cannot be trusted (a fork's measure run, in report mode):
   * say so in the check run and the comment, and suggest changes only to the config file.
   */
  untrustedSource?: string;
  /** reads a repository file (path relative to the root), for context lines in the comment's diff */
  readRepoFile?: (relativePath: string) => string | undefined;
}

export interface PublishOutcome {
  comment?: { id: number; url: string; action: "created" | "updated" };
  review?: { id: number; suggestions: number };
  commit?: { sha: string; files: string[] };
  checkRun?: { id: number; url: string; annotations: number };
  /** one line each, for the log and the job summary */
  notices: string[];
  /** some write answered 403 (`denied` is not empty): the token cannot write everything here */
  readOnly: boolean;
  /** kinds of write the token was refused (each is tried once; "where the token allows") */
  denied: WriteKind[];
}

/** Writes needing different permissions: pull-requests/issues, checks, contents. */
export type WriteKind = "comment" | "review" | "check" | "commit";
const PERMISSION: Record<WriteKind, string> = { comment: "pull-requests: write", review: "pull-requests: write", check: "checks: write", commit: "contents: write" };

/** GitHub's hard limit for issue comments (422 "Body is too long" beyond). */
export const COMMENT_LIMIT = 65_536;
/** Check run annotations per request. */
const ANNOTATIONS_PER_REQUEST = 50;

export { commentMarker };

export async function publishResults(
  client: GitHubClient,
  doc: ResultsDoc,
  target: PublishTarget,
  options: PublishOptions,
  logger: Logger,
): Promise<PublishOutcome> {
  const outcome: PublishOutcome = { notices: [], readOnly: false, denied: [] };
  const { owner, repo } = target;
  const pr = target.pullRequest;

  /**
   * Run one write. A 403 marks the token read-only for that kind of write (skipping the rest of
   * that kind); other kinds are still tried, since a token may allow checks but not comments.
   */
  const write = async <T>(kind: WriteKind, what: string, action: () => Promise<T>): Promise<T | undefined> => {
    const sameScope = (k: WriteKind) => PERMISSION[k] === PERMISSION[kind];
    if (outcome.denied.some(sameScope)) return undefined;
    try {
      return await action();
    } catch (error) {
      const status = httpStatus(error);
      if (status === 403) {
        const first = outcome.denied.length === 0;
        outcome.denied.push(kind);
        outcome.notices.push(
          `Could not ${what}: the token cannot write to ${owner}/${repo} (HTTP ${status}: ${firstLine(error)}; needs \`${PERMISSION[kind]}\`).${
            first ? " Pull requests from forks get a read-only token: use the two-phase mode (`mode: measure` here, `mode: report` from a workflow_run workflow) — see the README." : ""
          }`,
        );
      } else {
        outcome.notices.push(`Could not ${what}: ${status ? `HTTP ${status}: ` : ""}${firstLine(error)}`);
      }
      logger.warn(outcome.notices[outcome.notices.length - 1]!);
      return undefined;
    }
  };

  let edits = doc.recommended.keepCurrent ? [] : doc.suggestion.edits;
  if (options.untrustedSource) {
    edits = edits.filter((edit) => edit.path === doc.github?.configPath);
    outcome.notices.push(`These results were measured by ${options.untrustedSource}, which the PR's author controls: treat them as unverified. The gate is that job's own result.`);
  }
  let outside: Edit[] = [];
  if (pr && edits.length > 0 && options.suggest !== "none") {
    let suggest = options.suggest;
    if (suggest === "commit" && !pr.sameRepo) {
      outcome.notices.push("`suggest: commit` only pushes to branches of this repository; this PR comes from a fork, so the change is suggested in a review instead.");
      suggest = "review";
    }
    if (suggest === "commit") {
      const pushed = await write("commit", "push the recommended configuration", () => pushCommit(client, doc, target, edits));
      if (pushed) {
        outcome.commit = pushed;
        outcome.notices.push(
          `Pushed ${pushed.sha.slice(0, 7)} to \`${pr.headRef}\` with the recommended configuration (${pushed.files.join(", ")}). A push made with the workflow's own GITHUB_TOKEN starts no workflow: to have checks run on it, give \`token\` a GitHub App or personal token.`,
        );
        edits = [];
      } else {
        suggest = "review";
      }
    }
    if (suggest === "review" && edits.length > 0) {
      // Suggestions are judged against the measured head: if the PR moved on, its diff no longer
      // describes those lines, so the change goes in the comment as a diff instead.
      const head = await read("read the PR", () => client.rest.pulls.get({ owner, repo, pull_number: pr.number }), outcome, logger);
      const moved = head !== undefined && head.data.head.sha !== target.headSha;
      if (moved) outcome.notices.push(`The PR moved on to ${head.data.head.sha.slice(0, 7)} since ${target.headSha.slice(0, 7)} was measured; the change is shown as a diff instead of suggestions.`);
      const diffText = head === undefined || moved ? undefined : await read("read the PR's diff", () => pullRequestDiff(client, owner, repo, pr.number), outcome, logger);
      const placed = diffText === undefined ? { review: [], outside: edits } : placeEdits(edits, parsePullRequestDiff(diffText));
      outside = placed.outside;
      const fresh = placed.review.length > 0 ? await withoutRepeats(client, target, pr.number, placed.review, options.commentAuthor, outcome, logger) : [];
      if (fresh.length > 0) {
        const review = await write("review", "post the suggestions as a review", async () => {
          const { data } = await client.rest.pulls.createReview({
            owner,
            repo,
            pull_number: pr.number,
            commit_id: target.headSha,
            // COMMENT: a review without an event stays pending, and its suggestions cannot be applied
            event: "COMMENT",
            body: `Shadowgate recommends a configuration change for \`${doc.workload}\`: ${fresh.length} suggestion(s) below, each can be committed with one click.`,
            comments: fresh.map((c) => ({ path: c.path, line: c.line, side: "RIGHT" as const, body: c.body })),
          });
          return { id: data.id, suggestions: fresh.length };
        });
        if (review) outcome.review = review;
        else outside = [...outside, ...fresh.map((c) => c.edit)];
      }
      if (placed.review.length > 0 && fresh.length === 0) outcome.notices.push("The suggested lines were already suggested in an earlier review.");
    }
  }

  if (pr && options.comment) {
    const diff = outside.length > 0 ? unifiedDiff(outside, options.readRepoFile) : undefined;
    const body = renderComment(doc, { marker: commentMarker(doc.workload), ...(diff ? { diff } : {}), notes: outcome.notices, maxLength: COMMENT_LIMIT });
    const listed = await read(
      "list the PR's comments",
      async () => ({ id: await findStickyComment(client, owner, repo, pr.number, commentMarker(doc.workload), options.commentAuthor) }),
      outcome,
      logger,
    );
    // without the list we cannot know whether our comment exists: writing could make a second one
    const existing = listed?.id;
    const comment = listed === undefined ? undefined : await write("comment", existing ? "update the PR comment" : "comment on the PR", async () => {
      if (existing) {
        const { data } = await client.rest.issues.updateComment({ owner, repo, comment_id: existing, body });
        return { id: data.id, url: data.html_url, action: "updated" as const };
      }
      const { data } = await client.rest.issues.createComment({ owner, repo, issue_number: pr.number, body });
      return { id: data.id, url: data.html_url, action: "created" as const };
    });
    if (comment) {
      outcome.comment = comment;
      logger.info(`PR comment ${comment.action}: ${comment.url}`);
    }
  }

  if (options.checkRun) {
    const rendered = renderCheckRun(doc, { name: options.checkName });
    const check = options.untrustedSource ? { ...rendered, title: `[unverified] ${rendered.title}`.slice(0, 255) } : rendered;
    const checkRun = await write("check", "create the check run", async () => {
      const first = check.annotations.slice(0, ANNOTATIONS_PER_REQUEST);
      const { data } = await client.rest.checks.create({
        owner,
        repo,
        name: options.checkName,
        head_sha: target.headSha,
        status: "completed",
        conclusion: check.conclusion,
        completed_at: new Date().toISOString(),
        ...(options.detailsUrl ? { details_url: options.detailsUrl } : {}),
        output: { title: check.title, summary: check.summary, text: check.text, annotations: first },
      });
      return { id: data.id, url: data.html_url ?? "", annotations: first.length };
    });
    if (checkRun) {
      outcome.checkRun = checkRun;
      // GitHub takes at most 50 annotations per request; the rest go in updates
      for (let i = ANNOTATIONS_PER_REQUEST; i < check.annotations.length; i += ANNOTATIONS_PER_REQUEST) {
        const batch = check.annotations.slice(i, i + ANNOTATIONS_PER_REQUEST);
        const updated = await write("check", "add annotations to the check run", () =>
          client.rest.checks.update({ owner, repo, check_run_id: checkRun.id, output: { title: check.title, summary: check.summary, annotations: batch } }),
        );
        if (!updated) break;
        checkRun.annotations += batch.length;
      }
    }
  }
  outcome.readOnly = outcome.denied.length > 0;
  return outcome;
}

/** A read that may fail (network, permissions): a notice and undefined instead of a throw. */
async function read<T>(what: string, action: () => Promise<T>, outcome: PublishOutcome, logger: Logger): Promise<T | undefined> {
  try {
    return await action();
  } catch (error) {
    const status = httpStatus(error);
    outcome.notices.push(`Could not ${what}: ${status ? `HTTP ${status}: ` : ""}${firstLine(error)}`);
    logger.warn(outcome.notices[outcome.notices.length - 1]!);
    return undefined;
  }
}

/** The PR's diff as git prints it (the media type GitHub documents for pulls.get). */
async function pullRequestDiff(client: GitHubClient, owner: string, repo: string, pullNumber: number): Promise<string> {
  const response = await client.rest.pulls.get({ owner, repo, pull_number: pullNumber, mediaType: { format: "diff" } });
  return response.data as unknown as string;
}

/** Our sticky comment: carries the marker and was written by the token's account (never a user's quote of it). */
export async function findStickyComment(client: GitHubClient, owner: string, repo: string, issueNumber: number, marker: string, author: string): Promise<number | undefined> {
  const comments = await client.paginate(client.rest.issues.listComments, { owner, repo, issue_number: issueNumber, per_page: 100 });
  const ours = comments.filter((c) => c.user?.login === author && (c.body ?? "").includes(marker));
  // if a race ever made two, keep updating the oldest one
  return ours.sort((a, b) => a.id - b.id)[0]?.id;
}

type PlacedComment = { path: string; line: number; body: string; edit: Edit };

/** Suggestions already posted by us on the same line with the same text are not posted again. */
async function withoutRepeats(
  client: GitHubClient,
  target: PublishTarget,
  pullNumber: number,
  placed: { path: string; line: number; edit: Edit }[],
  author: string,
  outcome: PublishOutcome,
  logger: Logger,
): Promise<PlacedComment[]> {
  const withBodies = placed.map((c) => ({ ...c, body: suggestionBody(c.edit) }));
  const earlier = await read(
    "list earlier review comments",
    () => client.paginate(client.rest.pulls.listReviewComments, { owner: target.owner, repo: target.repo, pull_number: pullNumber, per_page: 100 }),
    outcome,
    logger,
  );
  if (!earlier) return withBodies;
  // outdated comments (line null: the line changed since) do not count as suggested
  const seen = new Set(earlier.filter((c) => c.user?.login === author && typeof c.line === "number").map((c) => `${c.path}\n${c.line}\n${c.body}`));
  return withBodies.filter((c) => !seen.has(`${c.path}\n${c.line}\n${c.body}`));
}

/**
 * `suggest: commit`: one commit on the PR branch that applies the edits to the files as they
 * are at the PR head. Refuses when the branch moved since the run measured it.
 */
async function pushCommit(client: GitHubClient, doc: ResultsDoc, target: PublishTarget, edits: Edit[]): Promise<{ sha: string; files: string[] }> {
  const { owner, repo, headSha } = target;
  const branch = target.pullRequest!.headRef;
  const { data: ref } = await client.rest.git.getRef({ owner, repo, ref: `heads/${branch}` });
  if (ref.object.sha !== headSha) throw new Error(`branch ${branch} moved to ${ref.object.sha.slice(0, 7)} since ${headSha.slice(0, 7)} was measured; not pushing`);
  const { data: head } = await client.rest.git.getCommit({ owner, repo, commit_sha: headSha });
  const byFile = new Map<string, Edit[]>();
  for (const edit of edits) byFile.set(edit.path, [...(byFile.get(edit.path) ?? []), edit]);
  const tree: { path: string; mode: "100644"; type: "blob"; content: string }[] = [];
  for (const [file, fileEdits] of byFile) {
    const { data } = await client.rest.repos.getContent({ owner, repo, path: file, ref: headSha });
    if (Array.isArray(data) || data.type !== "file" || !("content" in data)) throw new Error(`${file} is not a file at ${headSha.slice(0, 7)}`);
    const text = Buffer.from(data.content, "base64").toString("utf8");
    tree.push({ path: file, mode: "100644", type: "blob", content: applyEdits(text, fileEdits, file) });
  }
  const { data: newTree } = await client.rest.git.createTree({ owner, repo, base_tree: head.tree.sha, tree });
  const changed = doc.recommended.changed.map((name) => `${name} ${String(doc.current.config[name])} → ${String(doc.recommended.config[name])}`).join(", ");
  const { data: commit } = await client.rest.git.createCommit({
    owner,
    repo,
    message: `Apply Shadowgate's recommended configuration for ${doc.workload}\n\n${changed}\n\nPredicted ${doc.objective.kpi}: ${(Math.abs(doc.recommended.improvement) * 100).toFixed(1)}% better (run ${doc.runId}).`,
    tree: newTree.sha,
    parents: [headSha],
  });
  await client.rest.git.updateRef({ owner, repo, ref: `heads/${branch}`, sha: commit.sha });
  return { sha: commit.sha, files: [...byFile.keys()] };
}

/** Replace whole lines; each edit's line must still read `before` (else it is found by its text). */
export function applyEdits(text: string, edits: Edit[], file: string): string {
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const lines = text.split(/\r?\n/);
  for (const edit of edits) {
    let index = edit.line - 1;
    if (lines[index] !== edit.before) {
      const matches = lines.flatMap((line, i) => (line === edit.before ? [i] : []));
      if (matches.length !== 1) throw new Error(`${file}:${edit.line}: expected the line ${JSON.stringify(edit.before)}, the file at the PR head differs`);
      index = matches[0]!;
    }
    lines[index] = edit.after;
  }
  return lines.join(eol);
}

function firstLine(error: unknown): string {
  return errorText(error).split("\n")[0]!;
}
