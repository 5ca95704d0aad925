/**
 * An honest fake of the GitHub REST API for tests.
 *
 * A local HTTP server (127.0.0.1, random port) that implements the endpoints Shadowgate uses and
 * checks every request against GitHub's own OpenAPI description (`@octokit/openapi`'s
 * `api.github.com.json`, fetched by `scripts/ensure-github-openapi.sh`):
 *
 * - the method + path must match an operation of the description (otherwise 404 + violation);
 * - path/query parameters are checked against their schemas (integers, enums, required, per_page ≤ 100);
 * - a JSON body must be sent as JSON and must match the operation's requestBody schema (ajv);
 * - the limits the description does not state are checked by hand (comment length, status
 *   description length, review comment sides and diff lines, check run conclusion/annotations…);
 * - the fake's own 2xx JSON answers are checked against the operation's response schema, so code
 *   reading them sees what GitHub would send.
 *
 * Every failed check answers like GitHub (422, or 400 for malformed JSON) and is recorded in
 * `violations`; tests assert that list is empty. State is plain data that tests can seed and inspect.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import ajvFormats from "ajv-formats";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

export type TokenPermission = "write" | "read";

/** Tokens accepted when `tokens` is not given. */
export const FAKE_WRITE_TOKEN = "ghs_fakeGitHubWriteToken";
export const FAKE_READ_TOKEN = "ghs_fakeGitHubReadToken";

export interface FakeGitHubOptions {
  /** Repository served by the fake; requests for any other repository answer 404. */
  owner?: string;
  repo?: string;
  /**
   * Accepted tokens (`Authorization: token X` or `Bearer X`). Read tokens get 403 "Resource not
   * accessible by integration" on every write. Unknown or missing token: 401.
   * Default: `{ [FAKE_WRITE_TOKEN]: "write", [FAKE_READ_TOKEN]: "read" }`.
   */
  tokens?: Record<string, TokenPermission>;
  /** Author (user.type "Bot") of comments, reviews, statuses and commits created through the API. */
  botLogin?: string;
  /** Default branch of the repository (used by get-content without `ref`). Default "main". */
  defaultBranch?: string;
  /** Clock for created_at/updated_at. Default `() => new Date()`. */
  now?: () => Date;
  /** Check the fake's own 2xx JSON answers against the response schemas (violations). Default true. */
  validateResponses?: boolean;
}

export interface FakeUser {
  login: string;
  /** "User", "Bot" or "Organization". */
  type: string;
}

export interface FakeComment {
  id: number;
  issueNumber: number;
  body: string;
  user: FakeUser;
  createdAt: string;
  updatedAt: string;
}

export interface FakeReviewComment {
  path: string;
  line?: number;
  side?: string;
  start_line?: number;
  start_side?: string;
  position?: number;
  body: string;
}

export type FakeReviewState = "PENDING" | "COMMENTED" | "APPROVED" | "CHANGES_REQUESTED";

export interface FakeReview {
  id: number;
  pullNumber: number;
  commitId: string;
  /** As sent; undefined for a pending review. */
  event?: "APPROVE" | "REQUEST_CHANGES" | "COMMENT";
  state: FakeReviewState;
  body: string;
  comments: FakeReviewComment[];
  user: FakeUser;
  submittedAt?: string;
}

export interface FakeCheckRunOutput {
  title?: string;
  summary?: string;
  text?: string;
  /** Accumulated across create + updates, like GitHub. */
  annotations: unknown[];
}

export interface FakeCheckRun {
  id: number;
  name: string;
  headSha: string;
  status: string;
  conclusion?: string;
  startedAt?: string;
  completedAt?: string;
  detailsUrl?: string;
  externalId?: string;
  output?: FakeCheckRunOutput;
  /** Number of successful PATCH …/check-runs/{id}. */
  updates: number;
}

export interface FakeStatus {
  id: number;
  sha: string;
  state: string;
  context: string;
  description?: string;
  targetUrl?: string;
  createdAt: string;
  creator: FakeUser;
}

export interface FakeGitPerson {
  name: string;
  email: string;
  date: string;
}

export interface FakeCommit {
  sha: string;
  /** SHA of the (flat) tree in `trees`. */
  tree: string;
  parents: string[];
  message: string;
  author: FakeGitPerson;
  committer: FakeGitPerson;
}

export interface FakeTreeEntry {
  /** Blob SHA (key of `blobs`). */
  sha: string;
  mode: string;
}

export interface FakeRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  operationId?: string;
  status: number;
  /** Parsed JSON body (the raw text when it was not JSON). */
  body?: unknown;
  token?: string;
  accept?: string;
}

export interface FakePullRequestSeed {
  number: number;
  headSha: string;
  headRef: string;
  /** Default: the default branch. */
  baseRef?: string;
  /** Default: the base branch's current commit, or a new commit of `baseFiles`. */
  baseSha?: string;
  /** A fork when it differs from "<owner>/<repo>". */
  headRepoFullName?: string;
  /** Unified git diff of the PR (what `pulls/get` answers with the diff media type). */
  diff: string;
  /** File contents at the head commit. */
  files?: Record<string, string>;
  /** File contents at the base commit (only used when the base commit is created here). */
  baseFiles?: Record<string, string>;
  title?: string;
  body?: string;
  /** Login of the PR author (a "User"). Default "octocat". */
  author?: string;
}

export interface FakePullRequest extends Required<Omit<FakePullRequestSeed, "files" | "baseFiles" | "headRepoFullName">> {
  headRepoFullName: string;
  fork: boolean;
  diffFiles: DiffFile[];
  createdAt: string;
}

export interface FakeFailure {
  status: number;
  headers?: Record<string, string>;
  /** JSON body; default a GitHub-like `{message, documentation_url, status}`. */
  body?: unknown;
}

export interface FakeFailureMatch {
  method: string;
  operationId?: string;
}

export interface OpenApiInfo {
  /** Absolute path of api.github.com.json. */
  path: string;
  /** `info.version` of the description. */
  version: string;
  /** Milliseconds to read, parse, convert and register the description (once per process). */
  loadMs: number;
  operationCount: number;
}

export interface FakeGitHub {
  /** http://127.0.0.1:<port> — pass as `baseUrl` to Octokit. */
  readonly url: string;
  readonly owner: string;
  readonly repo: string;
  readonly botLogin: string;
  readonly openapi: OpenApiInfo;
  close(): Promise<void>;

  // --- state (plain data; seed or inspect freely) ---
  readonly comments: FakeComment[];
  readonly reviews: FakeReview[];
  readonly checkRuns: FakeCheckRun[];
  readonly statuses: FakeStatus[];
  readonly pullRequests: Map<number, FakePullRequest>;
  /** Issue numbers that exist besides pull requests (see `addIssue`). */
  readonly issues: Set<number>;
  readonly commits: Map<string, FakeCommit>;
  /** Flat trees: tree SHA → file path → entry. Directory trees are registered too. */
  readonly trees: Map<string, Map<string, FakeTreeEntry>>;
  /** Blob SHA (git's own blob hash) → UTF-8 content. */
  readonly blobs: Map<string, string>;
  /** "heads/main", "tags/v1", "pull/7/head" → commit SHA. */
  readonly refs: Map<string, string>;
  readonly requests: FakeRequest[];
  readonly violations: string[];

  // --- seeding helpers ---
  addPullRequest(pr: FakePullRequestSeed): FakePullRequest;
  /** An issue (not a PR) that comments may be posted on. */
  addIssue(issueNumber: number): void;
  /** Seed a comment (e.g. a human's, or many to force pagination); id and dates are generated. */
  addComment(comment: { issueNumber: number; body: string; user?: FakeUser; createdAt?: string; updatedAt?: string }): FakeComment;
  /** Seed a commit of `files`; returns its SHA. `branch` ("feature") points heads/<branch> at it. */
  addCommit(commit: { files: Record<string, string>; parents?: string[]; message?: string; sha?: string; branch?: string }): string;

  // --- reading helpers ---
  /** Commit SHA for a SHA (full or ≥ 7-char prefix), branch, tag or "heads/x"/"refs/heads/x". */
  resolveRef(refOrSha: string): string | undefined;
  /** File content at a ref or SHA, undefined when absent. */
  fileAt(refOrSha: string, filePath: string): string | undefined;
  /** Current head SHA of a PR (follows its branch for same-repo PRs). */
  headShaOf(pullNumber: number): string | undefined;

  /** Answer the next `times` (default 1) requests matching `match` with `response`, without touching state. */
  failNext(match: FakeFailureMatch, response: FakeFailure, times?: number): void;
}

// ---------------------------------------------------------------------------------------------
// OpenAPI description: loading, operation matching, validators
// ---------------------------------------------------------------------------------------------

type JsonObject = Record<string, unknown>;

interface SpecParam {
  name: string;
  in: string;
  required: boolean;
  multiSegment: boolean;
  schema: JsonObject;
  /** ajv reference of the parameter schema. */
  schemaRef: string;
}

interface SpecOperation {
  method: string;
  template: string;
  operationId: string;
  docsUrl: string;
  params: SpecParam[];
  regex: RegExp;
  pathParamNames: string[];
  literalChars: number;
  body?: { required: boolean; jsonSchemaRef?: string; contentTypes: string[] };
  /** status → ajv reference of the application/json response schema. */
  responses: Map<string, string>;
}

const SPEC_ID = "github-openapi";

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function pointer(parts: Array<string | number>): string {
  return `${SPEC_ID}#/${parts.map((p) => encodeURIComponent(String(p).replace(/~/g, "~0").replace(/\//g, "~1"))).join("/")}`;
}

/**
 * OpenAPI 3.0's `nullable` is not JSON Schema. Rewrite it in place:
 * `{type: X, nullable: true}` → `{type: [X, "null"]}` (and `null` added to an `enum`);
 * nullable schemas without a type (oneOf/allOf/anyOf/$ref) → `{anyOf: [schema, {type: "null"}]}`.
 */
function convertNullable(node: unknown): unknown {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) node[i] = convertNullable(node[i]);
    return node;
  }
  if (!isObject(node)) return node;
  for (const key of Object.keys(node)) node[key] = convertNullable(node[key]);
  if (!("nullable" in node)) return node;
  const nullable = node.nullable === true;
  delete node.nullable;
  if (!nullable) return node;
  if (typeof node.type === "string") {
    node.type = [node.type, "null"];
    if (Array.isArray(node.enum) && !node.enum.includes(null)) node.enum = [...node.enum, null];
    return node;
  }
  const annotations = new Set(["description", "title", "example", "examples", "readOnly", "writeOnly", "deprecated"]);
  if (Object.keys(node).every((k) => annotations.has(k) || k.startsWith("x-"))) return node; // any value already
  return { anyOf: [node, { type: "null" }] };
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

class GitHubOpenApi {
  readonly info: OpenApiInfo;
  private readonly operations: SpecOperation[] = [];
  private readonly ajv: Ajv;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(file: string) {
    const started = performance.now();
    const doc = JSON.parse(readFileSync(file, "utf8")) as JsonObject;
    convertNullable(doc);
    this.ajv = new Ajv({ strict: false, allErrors: true, logger: false, validateSchema: false });
    ajvFormats.default(this.ajv);
    this.ajv.addFormat("repo.nwo", /^[^/\s]+\/[^/\s]+$/);
    this.ajv.addFormat("timestamp", true);
    this.ajv.addSchema(doc, SPEC_ID);
    const paths = doc.paths;
    const components = isObject(doc.components) ? doc.components : {};
    if (!isObject(paths)) throw new Error(`${file}: no paths`);
    for (const [template, item] of Object.entries(paths)) {
      if (!isObject(item)) continue;
      for (const [method, op] of Object.entries(item)) {
        if (!isObject(op) || typeof op.operationId !== "string") continue;
        this.operations.push(this.indexOperation(template, method.toUpperCase(), op, components));
      }
    }
    const info = isObject(doc.info) ? doc.info : {};
    this.info = {
      path: file,
      version: String(info.version ?? "unknown"),
      loadMs: Math.round(performance.now() - started),
      operationCount: this.operations.length,
    };
  }

  private indexOperation(template: string, method: string, op: JsonObject, components: JsonObject): SpecOperation {
    const lower = method.toLowerCase();
    const params: SpecParam[] = [];
    const rawParams = Array.isArray(op.parameters) ? op.parameters : [];
    rawParams.forEach((raw, index) => {
      let param: unknown = raw;
      let schemaRef = pointer(["paths", template, lower, "parameters", index, "schema"]);
      if (isObject(raw) && typeof raw.$ref === "string") {
        const name = raw.$ref.replace("#/components/parameters/", "");
        param = isObject(components.parameters) ? components.parameters[name] : undefined;
        schemaRef = pointer(["components", "parameters", name, "schema"]);
      }
      if (!isObject(param) || typeof param.name !== "string" || typeof param.in !== "string") return;
      params.push({
        name: param.name,
        in: param.in,
        required: param.required === true,
        multiSegment: param["x-multi-segment"] === true,
        schema: isObject(param.schema) ? param.schema : {},
        schemaRef,
      });
    });
    const pathParamNames: string[] = [];
    let literalChars = 0;
    const source = template.replace(/\{([^}]+)\}|([^{]+)/g, (_m, name: string | undefined, literal: string | undefined) => {
      if (name !== undefined) {
        pathParamNames.push(name);
        return params.find((p) => p.name === name && p.in === "path")?.multiSegment ? "(.+)" : "([^/]+)";
      }
      literalChars += (literal ?? "").length;
      return escapeRegex(literal ?? "");
    });
    let body: SpecOperation["body"];
    if (isObject(op.requestBody)) {
      const content = isObject(op.requestBody.content) ? op.requestBody.content : {};
      body = {
        required: op.requestBody.required === true,
        contentTypes: Object.keys(content),
        ...("application/json" in content
          ? { jsonSchemaRef: pointer(["paths", template, lower, "requestBody", "content", "application/json", "schema"]) }
          : {}),
      };
    }
    const responses = new Map<string, string>();
    for (const [status, response] of Object.entries(isObject(op.responses) ? op.responses : {})) {
      let base: Array<string | number> = ["paths", template, lower, "responses", status];
      let resolved: unknown = response;
      if (isObject(response) && typeof response.$ref === "string") {
        const name = response.$ref.replace("#/components/responses/", "");
        base = ["components", "responses", name];
        resolved = isObject(components.responses) ? components.responses[name] : undefined;
      }
      if (isObject(resolved) && isObject(resolved.content) && isObject(resolved.content["application/json"])) {
        if ("schema" in resolved.content["application/json"]) responses.set(status, pointer([...base, "content", "application/json", "schema"]));
      }
    }
    const docs = isObject(op.externalDocs) && typeof op.externalDocs.url === "string" ? op.externalDocs.url : "https://docs.github.com/rest";
    return {
      method,
      template,
      operationId: op.operationId as string,
      docsUrl: docs.replace(/^https:\/\/docs\.github\.com\/(?:en\/)?rest\/(.*?)(?:\?apiVersion=[^#]*)?(#.*)?$/, "https://docs.github.com/rest/$1$2"),
      params,
      regex: new RegExp(`^${source}$`),
      pathParamNames,
      literalChars,
      body,
      responses,
    };
  }

  /** The operation for a method + raw (still percent-encoded) path; the most literal template wins. */
  match(method: string, rawPath: string): { operation: SpecOperation; pathParams: Record<string, string> } | { allowed: string[] } {
    let best: { operation: SpecOperation; pathParams: Record<string, string> } | undefined;
    const allowed: string[] = [];
    for (const operation of this.operations) {
      const m = operation.regex.exec(rawPath);
      if (!m) continue;
      if (operation.method !== method) {
        allowed.push(`${operation.method} ${operation.template}`);
        continue;
      }
      if (best && best.operation.literalChars >= operation.literalChars) continue;
      const pathParams: Record<string, string> = {};
      operation.pathParamNames.forEach((name, i) => {
        const raw = m[i + 1] ?? "";
        try {
          pathParams[name] = decodeURIComponent(raw);
        } catch {
          pathParams[name] = raw;
        }
      });
      best = { operation, pathParams };
    }
    return best ?? { allowed };
  }

  operation(operationId: string): SpecOperation | undefined {
    return this.operations.find((o) => o.operationId === operationId);
  }

  /** Compiled (lazily, cached) validator for an ajv reference into the description. */
  validator(ref: string): ValidateFunction {
    let validate = this.validators.get(ref);
    if (!validate) {
      validate = this.ajv.compile({ $ref: ref });
      this.validators.set(ref, validate);
    }
    return validate;
  }
}

let openApiCache: GitHubOpenApi | undefined;

/** Path of GitHub's OpenAPI description, from scripts/ensure-github-openapi.sh (fetches it once). */
export function githubOpenApiPath(): string {
  const out = execFileSync("bash", [path.join(ROOT, "scripts/ensure-github-openapi.sh")], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const file = out.trim().split("\n").pop()?.trim();
  if (!file) throw new Error("ensure-github-openapi.sh printed no path");
  return file;
}

function loadOpenApi(): GitHubOpenApi {
  openApiCache ??= new GitHubOpenApi(githubOpenApiPath());
  return openApiCache;
}

/** Load (once per process) and describe GitHub's OpenAPI description. */
export function githubOpenApiInfo(): OpenApiInfo {
  return loadOpenApi().info;
}

// ---------------------------------------------------------------------------------------------
// Unified diff parsing (for review comment lines)
// ---------------------------------------------------------------------------------------------

export interface DiffLine {
  kind: "context" | "add" | "del";
  /** Line number on the LEFT (base) side: context and deleted lines. */
  oldLine?: number;
  /** Line number on the RIGHT (head) side: context and added lines. */
  newLine?: number;
  /** GitHub's legacy `position`: lines below the file's first "@@" header (later headers count). */
  position: number;
}

export interface DiffHunk {
  oldStart: number;
  oldCount: number;
  newStart: number;
  newCount: number;
  lines: DiffLine[];
}

export interface DiffFile {
  oldPath: string | null;
  newPath: string | null;
  /** newPath, or oldPath for a deleted file. */
  path: string;
  status: "added" | "removed" | "modified" | "renamed";
  hunks: DiffHunk[];
  additions: number;
  deletions: number;
}

function diffPath(raw: string): string | null {
  let text = raw.replace(/\t.*$/, "").trim();
  if (text.startsWith('"') && text.endsWith('"')) text = JSON.parse(text) as string;
  if (text === "/dev/null") return null;
  return text.replace(/^[ab]\//, "");
}

/** Parse a unified git diff (`git diff`, or GitHub's diff media type) into files and hunks. */
export function parseUnifiedDiff(text: string): DiffFile[] {
  const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
  const files: DiffFile[] = [];
  let file: DiffFile | undefined;
  let position = -1;
  const startFile = (): DiffFile => {
    const created: DiffFile = { oldPath: null, newPath: null, path: "", status: "modified", hunks: [], additions: 0, deletions: 0 };
    files.push(created);
    position = -1;
    return created;
  };
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] ?? "";
    if (line.startsWith("diff --git ")) {
      file = startFile();
      const m = /^diff --git "?a\/(.+?)"? "?b\/(.+?)"?$/.exec(line);
      if (m) {
        file.oldPath = m[1] ?? null;
        file.newPath = m[2] ?? null;
      }
      i++;
      continue;
    }
    if (line.startsWith("--- ")) {
      if (!file || file.hunks.length > 0) file = startFile();
      file.oldPath = diffPath(line.slice(4));
      i++;
      continue;
    }
    if (line.startsWith("+++ ") && file) {
      file.newPath = diffPath(line.slice(4));
      i++;
      continue;
    }
    if (file && line.startsWith("new file mode")) file.status = "added";
    if (file && line.startsWith("deleted file mode")) file.status = "removed";
    if (file && line.startsWith("rename from ")) file.oldPath = line.slice("rename from ".length);
    if (file && line.startsWith("rename to ")) file.newPath = line.slice("rename to ".length);
    const header = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(line);
    if (header && file) {
      const hunk: DiffHunk = {
        oldStart: Number(header[1]),
        oldCount: header[2] === undefined ? 1 : Number(header[2]),
        newStart: Number(header[3]),
        newCount: header[4] === undefined ? 1 : Number(header[4]),
        lines: [],
      };
      file.hunks.push(hunk);
      position++;
      let oldLine = hunk.oldStart;
      let newLine = hunk.newStart;
      let oldLeft = hunk.oldCount;
      let newLeft = hunk.newCount;
      i++;
      while (i < lines.length && (oldLeft > 0 || newLeft > 0)) {
        const body = lines[i] ?? "";
        i++;
        if (body.startsWith("\\")) continue; // "\ No newline at end of file"
        const mark = body[0] ?? " ";
        if (mark === "+") {
          hunk.lines.push({ kind: "add", newLine: newLine++, position: ++position });
          newLeft--;
          file.additions++;
        } else if (mark === "-") {
          hunk.lines.push({ kind: "del", oldLine: oldLine++, position: ++position });
          oldLeft--;
          file.deletions++;
        } else if (mark === " " || body === "") {
          hunk.lines.push({ kind: "context", oldLine: oldLine++, newLine: newLine++, position: ++position });
          oldLeft--;
          newLeft--;
        } else {
          i--; // malformed: stop the hunk here
          break;
        }
      }
      while (i < lines.length && (lines[i] ?? "").startsWith("\\")) i++;
      continue;
    }
    i++;
  }
  for (const f of files) {
    f.path = f.newPath ?? f.oldPath ?? "";
    if (f.status === "modified") {
      if (f.oldPath === null) f.status = "added";
      else if (f.newPath === null) f.status = "removed";
      else if (f.oldPath !== f.newPath) f.status = "renamed";
    }
  }
  return files.filter((f) => f.path !== "");
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

const COMMENT_BODY_LIMIT = 65_536;
const CHECK_TEXT_LIMIT = 65_535;
const STATUS_DESCRIPTION_LIMIT = 140;
const ANNOTATIONS_PER_REQUEST = 50;
const MAX_PER_PAGE = 100;
const GITHUB_ACTIONS_APP_ID = 15368;
const BOT_USER_IDS: Record<string, number> = { "github-actions[bot]": 41898282 };

interface Reply {
  status: number;
  headers?: Record<string, string>;
  json?: unknown;
  text?: string;
  contentType?: string;
}

/** A failure answered to the client; `violation` set when GitHub would reject the request as invalid. */
class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: JsonObject,
    readonly violation?: string,
  ) {
    super(String(body.message ?? status));
  }
}

interface Ctx {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  op: SpecOperation;
  params: Record<string, string>;
  body: unknown;
  /** Soft violations already recorded for this request (e.g. per_page > 100 capped). */
  notes: string[];
}

const WRITE_METHODS = new Set(["POST", "PATCH", "PUT", "DELETE"]);

function sha1(text: string | Buffer): string {
  return createHash("sha1").update(text).digest("hex");
}

function gitBlobSha(content: string): string {
  const bytes = Buffer.from(content, "utf8");
  return sha1(Buffer.concat([Buffer.from(`blob ${bytes.length}\0`), bytes]));
}

function stableId(text: string): number {
  return (parseInt(sha1(text).slice(0, 8), 16) % 900_000_000) + 1_000_000;
}

/** Characters as GitHub counts them (code points, not UTF-16 units). */
function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function toSentence(items: string[]): string {
  if (items.length <= 1) return items.join("");
  if (items.length === 2) return `${items[0]} and ${items[1]}`;
  return `${items.slice(0, -1).join(", ")}, and ${items[items.length - 1]}`;
}

function str(obj: JsonObject, key: string): string | undefined {
  const v = obj[key];
  return typeof v === "string" ? v : undefined;
}

function num(obj: JsonObject, key: string): number | undefined {
  const v = obj[key];
  return typeof v === "number" ? v : undefined;
}

function jsonAt(data: unknown, instancePath: string): unknown {
  let cur = data;
  for (const part of instancePath.split("/").slice(1)) {
    const key = part.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(cur)) cur = cur[Number(key)];
    else if (isObject(cur)) cur = cur[key];
    else return undefined;
  }
  return cur;
}

/** GitHub-style text of a JSON-schema failure ("Invalid request.\n\n…"). */
function describeSchemaError(error: ErrorObject, data: unknown, what: string): string {
  const where = error.instancePath ? `${what}${error.instancePath}` : what;
  const value = JSON.stringify(jsonAt(data, error.instancePath)) ?? "nil";
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "required":
      return `"${String(params.missingProperty)}" wasn't supplied (in ${where}).`;
    case "enum":
      return `For '${where}', ${value} is not a member of ${JSON.stringify(params.allowedValues)}.`;
    case "type":
      return `For '${where}', ${value} is not ${String(params.type).startsWith("i") ? "an" : "a"} ${String(params.type)}.`;
    default:
      return `For '${where}', ${value.length > 80 ? `${value.slice(0, 80)}…` : value} ${error.message ?? "is invalid"}.`;
  }
}

/** Drop the noise ajv adds around anyOf/oneOf failures when a more precise error exists. */
function usefulErrors(errors: ErrorObject[]): ErrorObject[] {
  const precise = errors.filter((e) => e.keyword !== "anyOf" && e.keyword !== "oneOf" && e.keyword !== "if");
  return precise.length > 0 ? precise : errors;
}

class FakeGitHubServer implements FakeGitHub {
  url = "";
  readonly owner: string;
  readonly repo: string;
  readonly botLogin: string;
  readonly openapi: OpenApiInfo;

  readonly comments: FakeComment[] = [];
  readonly reviews: FakeReview[] = [];
  readonly checkRuns: FakeCheckRun[] = [];
  readonly statuses: FakeStatus[] = [];
  readonly pullRequests = new Map<number, FakePullRequest>();
  readonly issues = new Set<number>();
  readonly commits = new Map<string, FakeCommit>();
  readonly trees = new Map<string, Map<string, FakeTreeEntry>>();
  readonly blobs = new Map<string, string>();
  readonly refs = new Map<string, string>();
  readonly requests: FakeRequest[] = [];
  readonly violations: string[] = [];

  private readonly spec: GitHubOpenApi;
  private readonly tokens: Record<string, TokenPermission>;
  private readonly defaultBranch: string;
  private readonly now: () => Date;
  private readonly validateResponses: boolean;
  private readonly failures: Array<{ match: FakeFailureMatch; response: FakeFailure; remaining: number }> = [];
  private readonly counters = new Map<string, number>();
  private readonly checkRunCreatedAt = new Map<number, string>();
  private server?: Server;
  private rateRemaining = 5000;

  constructor(spec: GitHubOpenApi, options: FakeGitHubOptions) {
    this.spec = spec;
    this.openapi = spec.info;
    this.owner = options.owner ?? "octo-org";
    this.repo = options.repo ?? "orders";
    this.botLogin = options.botLogin ?? "github-actions[bot]";
    this.tokens = options.tokens ?? { [FAKE_WRITE_TOKEN]: "write", [FAKE_READ_TOKEN]: "read" };
    this.defaultBranch = options.defaultBranch ?? "main";
    this.now = options.now ?? (() => new Date());
    this.validateResponses = options.validateResponses ?? true;
  }

  // ---- lifecycle ----

  async listen(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        this.violations.push(`fake-github internal error on ${req.method} ${req.url}: ${String(error)}`);
        if (!res.headersSent) {
          res.writeHead(500, { "content-type": "application/json; charset=utf-8" });
          res.end(JSON.stringify({ message: "Server Error (fake-github bug)" }));
        } else res.end();
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${address.port}`;
  }

  close(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    this.server = undefined;
    return new Promise((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      server.closeAllConnections();
    });
  }

  // ---- seeding / reading ----

  private timestamp(date = this.now()): string {
    return date.toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  private nextId(kind: string, base: number, existing: Array<{ id: number }> = []): number {
    let next = (this.counters.get(kind) ?? base) + 1;
    for (const item of existing) if (item.id >= next) next = item.id + 1;
    this.counters.set(kind, next);
    return next;
  }

  private storeBlob(content: string): string {
    const sha = gitBlobSha(content);
    this.blobs.set(sha, content);
    return sha;
  }

  /** Register a flat tree (and one tree per directory in it); returns the root tree SHA. */
  private storeTree(entries: Map<string, FakeTreeEntry>): string {
    const sorted = [...entries.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const sha = sha1(`tree\0${sorted.map(([p, e]) => `${e.mode} ${p}\0${e.sha}`).join("\n")}`);
    if (!this.trees.has(sha)) {
      this.trees.set(sha, new Map(sorted));
      const dirs = new Set<string>();
      for (const [p] of sorted) {
        const parts = p.split("/");
        for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
      }
      for (const dir of dirs) {
        const sub = new Map<string, FakeTreeEntry>();
        for (const [p, e] of sorted) if (p.startsWith(`${dir}/`)) sub.set(p.slice(dir.length + 1), e);
        this.storeTree(sub);
      }
    }
    return sha;
  }

  private treeOf(files: Record<string, string>): string {
    const entries = new Map<string, FakeTreeEntry>();
    for (const [p, content] of Object.entries(files)) entries.set(p.replace(/^\/+/, ""), { sha: this.storeBlob(content), mode: "100644" });
    return this.storeTree(entries);
  }

  private botPerson(): FakeGitPerson {
    return { name: this.botLogin, email: `${BOT_USER_IDS[this.botLogin] ?? stableId(this.botLogin)}+${this.botLogin}@users.noreply.github.com`, date: this.timestamp() };
  }

  addCommit(commit: { files: Record<string, string>; parents?: string[]; message?: string; sha?: string; branch?: string }): string {
    const tree = this.treeOf(commit.files);
    const person = this.botPerson();
    const parents = commit.parents ?? [];
    const message = commit.message ?? "Seeded commit";
    const sha = commit.sha ?? sha1(`commit\0${tree}\0${parents.join(",")}\0${message}\0${person.date}\0${this.commits.size}`);
    this.commits.set(sha, { sha, tree, parents, message, author: person, committer: person });
    if (commit.branch) this.refs.set(`heads/${commit.branch}`, sha);
    return sha;
  }

  addPullRequest(seed: FakePullRequestSeed): FakePullRequest {
    const fullName = `${this.owner}/${this.repo}`;
    const headRepoFullName = seed.headRepoFullName ?? fullName;
    const fork = headRepoFullName !== fullName;
    const baseRef = seed.baseRef ?? this.defaultBranch;
    let baseSha = seed.baseSha ?? this.refs.get(`heads/${baseRef}`);
    if (baseSha === undefined || !this.commits.has(baseSha)) {
      baseSha = this.addCommit({ files: seed.baseFiles ?? {}, message: `Base of #${seed.number}`, ...(baseSha ? { sha: baseSha } : {}) });
    }
    if (!this.refs.has(`heads/${baseRef}`)) this.refs.set(`heads/${baseRef}`, baseSha);
    if (!this.commits.has(seed.headSha) || seed.files) {
      this.addCommit({ files: seed.files ?? {}, parents: [baseSha], message: `Head of #${seed.number}`, sha: seed.headSha });
    }
    if (!fork) this.refs.set(`heads/${seed.headRef}`, seed.headSha);
    this.refs.set(`pull/${seed.number}/head`, seed.headSha);
    const pr: FakePullRequest = {
      number: seed.number,
      headSha: seed.headSha,
      headRef: seed.headRef,
      baseRef,
      baseSha,
      headRepoFullName,
      fork,
      diff: seed.diff,
      diffFiles: parseUnifiedDiff(seed.diff),
      title: seed.title ?? `Pull request #${seed.number}`,
      body: seed.body ?? "",
      author: seed.author ?? "octocat",
      createdAt: this.timestamp(),
    };
    this.pullRequests.set(seed.number, pr);
    return pr;
  }

  addIssue(issueNumber: number): void {
    this.issues.add(issueNumber);
  }

  addComment(comment: { issueNumber: number; body: string; user?: FakeUser; createdAt?: string; updatedAt?: string }): FakeComment {
    const createdAt = comment.createdAt ?? this.timestamp();
    const created: FakeComment = {
      id: this.nextId("comment", 2_000_000_000, this.comments),
      issueNumber: comment.issueNumber,
      body: comment.body,
      user: comment.user ?? { login: "octocat", type: "User" },
      createdAt,
      updatedAt: comment.updatedAt ?? createdAt,
    };
    this.comments.push(created);
    return created;
  }

  resolveRef(refOrSha: string): string | undefined {
    if (this.commits.has(refOrSha)) return refOrSha;
    const ref = refOrSha.replace(/^refs\//, "");
    for (const candidate of [ref, `heads/${ref}`, `tags/${ref}`]) {
      const sha = this.refs.get(candidate);
      if (sha !== undefined) return sha;
    }
    if (/^[0-9a-f]{7,39}$/i.test(refOrSha)) {
      const matches = [...this.commits.keys()].filter((sha) => sha.startsWith(refOrSha.toLowerCase()));
      if (matches.length === 1) return matches[0];
    }
    return undefined;
  }

  fileAt(refOrSha: string, filePath: string): string | undefined {
    const sha = this.resolveRef(refOrSha);
    const commit = sha === undefined ? undefined : this.commits.get(sha);
    const entry = commit ? this.trees.get(commit.tree)?.get(filePath.replace(/^\/+/, "")) : undefined;
    return entry ? this.blobs.get(entry.sha) : undefined;
  }

  headShaOf(pullNumber: number): string | undefined {
    const pr = this.pullRequests.get(pullNumber);
    if (!pr) return undefined;
    return pr.fork ? pr.headSha : (this.refs.get(`heads/${pr.headRef}`) ?? pr.headSha);
  }

  failNext(match: FakeFailureMatch, response: FakeFailure, times = 1): void {
    this.failures.push({ match: { ...match, method: match.method.toUpperCase() }, response, remaining: times });
  }

  // ---- request handling ----

  private async readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  }

  private error(ctxOrDocs: Ctx | string, status: number, message: string, extra: JsonObject = {}): JsonObject {
    const docs = typeof ctxOrDocs === "string" ? ctxOrDocs : ctxOrDocs.op.docsUrl;
    return { message, ...extra, documentation_url: docs, status: String(status) };
  }

  /** A request GitHub rejects as invalid: answer `status` and record a violation. */
  private invalid(ctx: Ctx, reason: string, body: JsonObject, status = 422): HttpFailure {
    return new HttpFailure(status, { ...body, documentation_url: ctx.op.docsUrl, status: String(status) }, reason);
  }

  private validationFailed(ctx: Ctx, resource: string, field: string, code: string, message: string): HttpFailure {
    return this.invalid(ctx, message, { message: "Validation Failed", errors: [{ resource, code, field, message }] });
  }

  private unprocessable(ctx: Ctx, reasons: string[], errors: string[]): HttpFailure {
    return this.invalid(ctx, reasons.join("; "), { message: "Unprocessable Entity", errors });
  }

  private notFound(ctx: Ctx): HttpFailure {
    return new HttpFailure(404, this.error(ctx, 404, "Not Found"));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const rawBody = await this.readBody(req);
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const auth = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
    const token = auth?.[1];
    const record: FakeRequest = { method, path: url.pathname, query, status: 0, ...(token ? { token } : {}) };
    if (req.headers.accept) record.accept = req.headers.accept;
    if (rawBody !== "") {
      try {
        record.body = JSON.parse(rawBody);
      } catch {
        record.body = rawBody;
      }
    }
    this.requests.push(record);
    const describe = `${method} ${url.pathname}${url.search}`;
    let reply: Reply;
    const found = this.spec.match(method, url.pathname);
    if (!("operation" in found)) {
      const reason = found.allowed.length
        ? `${describe}: the method does not exist for this path in GitHub's OpenAPI description (it has ${found.allowed.join(", ")})`
        : `${describe}: no operation in GitHub's OpenAPI description matches this path`;
      this.violations.push(reason);
      reply = { status: 404, json: this.error("https://docs.github.com/rest", 404, "Not Found") };
    } else {
      record.operationId = found.operation.operationId;
      reply = this.dispatch(found.operation, found.pathParams, method, url, req, rawBody, token, describe);
    }
    record.status = reply.status;
    this.send(res, reply, method);
  }

  private dispatch(
    op: SpecOperation,
    params: Record<string, string>,
    method: string,
    url: URL,
    req: IncomingMessage,
    rawBody: string,
    token: string | undefined,
    describe: string,
  ): Reply {
    const ctx: Ctx = { method, path: url.pathname, query: url.searchParams, headers: req.headers, op, params, body: undefined, notes: [] };
    const label = `${describe} (${op.operationId})`;
    try {
      return this.answer(ctx, rawBody, token, label);
    } finally {
      for (const note of ctx.notes) this.violations.push(`${label}: ${note}`);
    }
  }

  private answer(ctx: Ctx, rawBody: string, token: string | undefined, label: string): Reply {
    const { op, method, params } = ctx;
    // 1. Validate the request itself (recorded whatever the answer is).
    const problem = this.validateRequest(ctx, rawBody);
    if (problem?.violation) this.violations.push(`${label}: ${problem.violation}`);
    // 2. Authentication.
    const permission = token === undefined ? undefined : this.tokens[token];
    if (permission === undefined) {
      const message = token === undefined ? "Requires authentication" : "Bad credentials";
      return { status: 401, json: this.error("https://docs.github.com/rest", 401, message) };
    }
    // 3. Injected failures.
    const failure = this.failures.find(
      (f) => f.remaining > 0 && f.match.method === method && (f.match.operationId === undefined || f.match.operationId === op.operationId),
    );
    if (failure) {
      failure.remaining--;
      if (failure.remaining === 0) this.failures.splice(this.failures.indexOf(failure), 1);
      const { status, headers, body } = failure.response;
      const message = status === 429 || (status === 403 && headers?.["x-ratelimit-remaining"] === "0")
        ? "API rate limit exceeded for installation."
        : status >= 500 ? "Server Error" : "Injected failure";
      return { status, json: body ?? this.error(ctx, status, message), ...(headers ? { headers } : {}) };
    }
    // 4. Permissions.
    if (permission === "read" && WRITE_METHODS.has(method)) {
      return {
        status: 403,
        headers: { "x-accepted-github-permissions": acceptedPermissions(op.operationId) },
        json: this.error(ctx, 403, "Resource not accessible by integration"),
      };
    }
    // 5. Invalid request.
    if (problem) return { status: problem.status, json: problem.body };
    // 6. Repository.
    if ("owner" in params && "repo" in params && (params.owner?.toLowerCase() !== this.owner.toLowerCase() || params.repo?.toLowerCase() !== this.repo.toLowerCase())) {
      return { status: 404, json: this.error(ctx, 404, "Not Found") };
    }
    // 7. The operation.
    const handler = this.handlers[op.operationId];
    if (!handler) {
      this.violations.push(`${label}: operation ${op.operationId} is valid for GitHub but not implemented by fake-github`);
      return { status: 501, json: this.error(ctx, 501, `fake-github does not implement ${op.operationId}`) };
    }
    let reply: Reply;
    try {
      reply = handler(ctx);
    } catch (error) {
      if (!(error instanceof HttpFailure)) throw error;
      if (error.violation) this.violations.push(`${label}: ${error.violation}`);
      return { status: error.status, json: error.body };
    }
    if (this.validateResponses && reply.status < 300 && reply.json !== undefined) {
      const ref = op.responses.get(String(reply.status));
      if (!ref) this.violations.push(`${label}: fake-github answered ${reply.status}, which the description does not list`);
      else {
        const validate = this.spec.validator(ref);
        if (!validate(reply.json)) {
          const errors = usefulErrors(validate.errors ?? []).slice(0, 5).map((e) => describeSchemaError(e, reply.json, "response"));
          this.violations.push(`${label}: fake-github's own response does not match the OpenAPI schema: ${errors.join(" ")}`);
        }
      }
    }
    return reply;
  }

  /** Parameters, content type, JSON syntax and the requestBody schema. */
  private validateRequest(ctx: Ctx, rawBody: string): { status: number; body: JsonObject; violation: string } | undefined {
    const { op } = ctx;
    const messages: string[] = [];
    for (const param of op.params) {
      if (param.in !== "path" && param.in !== "query") continue;
      const raw = param.in === "path" ? ctx.params[param.name] : (ctx.query.get(param.name) ?? undefined);
      if (raw === undefined) {
        if (param.required) messages.push(`"${param.name}" wasn't supplied (${param.in} parameter).`);
        continue;
      }
      const value = coerceParam(raw, param.schema);
      const validate = this.spec.validator(param.schemaRef);
      if (!validate(value)) {
        for (const e of usefulErrors(validate.errors ?? [])) messages.push(describeSchemaError(e, value, `${param.in} parameter ${param.name}`));
        continue;
      }
      if (param.name === "per_page" && param.in === "query" && typeof value === "number") {
        if (value > MAX_PER_PAGE) ctx.notes.push(`per_page=${value} exceeds GitHub's maximum of ${MAX_PER_PAGE}; GitHub silently answers at most ${MAX_PER_PAGE} items`);
        if (value < 1) messages.push(`For 'query parameter per_page', ${value} is less than 1.`);
      }
      if (param.name === "page" && param.in === "query" && typeof value === "number" && value < 1) messages.push(`For 'query parameter page', ${value} is less than 1.`);
    }
    if (messages.length > 0) {
      const message = `Invalid request.\n\n${messages.join("\n")}`;
      return { status: 422, body: this.error(ctx, 422, message), violation: messages.join(" ") };
    }
    const spec = op.body;
    if (!spec) return undefined;
    if (rawBody.trim() === "") {
      if (!spec.required) return undefined;
      const text = "Invalid request.\n\nFor 'links/0/schema', nil is not an object.";
      return { status: 422, body: this.error(ctx, 422, text), violation: "the operation requires a request body; none was sent" };
    }
    const contentType = (ctx.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    if (spec.jsonSchemaRef) {
      if (contentType !== "application/json" && !/^application\/[\w.+-]*\+json$/.test(contentType)) {
        return {
          status: 415,
          body: this.error(ctx, 415, "Unsupported 'Content-Type' header"),
          violation: `the body must be sent as application/json (Content-Type was ${JSON.stringify(ctx.headers["content-type"] ?? "")})`,
        };
      }
      try {
        ctx.body = JSON.parse(rawBody);
      } catch (error) {
        return { status: 400, body: this.error(ctx, 400, "Problems parsing JSON"), violation: `malformed JSON body (${String(error)})` };
      }
      const validate = this.spec.validator(spec.jsonSchemaRef);
      if (!validate(ctx.body)) {
        const errors = usefulErrors(validate.errors ?? []).map((e) => describeSchemaError(e, ctx.body, "body"));
        return { status: 422, body: this.error(ctx, 422, `Invalid request.\n\n${errors.join("\n")}`), violation: `request body does not match the OpenAPI schema: ${errors.join(" ")}` };
      }
    } else if (!spec.contentTypes.includes(contentType)) {
      return { status: 415, body: this.error(ctx, 415, "Unsupported 'Content-Type' header"), violation: `Content-Type must be one of ${spec.contentTypes.join(", ")}` };
    }
    return undefined;
  }

  private send(res: ServerResponse, reply: Reply, method: string): void {
    this.rateRemaining = Math.max(0, this.rateRemaining - 1);
    const reset = Math.floor(this.now().getTime() / 1000) + 3600;
    const headers: Record<string, string> = {
      "x-github-api-version-selected": "2022-11-28",
      "x-github-media-type": "github.v3; format=json",
      "x-github-request-id": sha1(`${Date.now()}-${Math.random()}`).slice(0, 16).toUpperCase(),
      "x-ratelimit-limit": "5000",
      "x-ratelimit-remaining": String(this.rateRemaining),
      "x-ratelimit-reset": String(reset),
      "x-ratelimit-used": String(5000 - this.rateRemaining),
      "x-ratelimit-resource": "core",
      ...reply.headers,
    };
    let payload = "";
    if (reply.text !== undefined) {
      headers["content-type"] = reply.contentType ?? "text/plain; charset=utf-8";
      payload = reply.text;
    } else if (reply.json !== undefined) {
      headers["content-type"] ??= "application/json; charset=utf-8";
      payload = JSON.stringify(reply.json);
    }
    res.writeHead(reply.status, headers);
    res.end(method === "HEAD" ? undefined : payload);
  }

  // ---- response objects ----

  private api(p: string): string {
    return `${this.url}${p}`;
  }

  private repoApi(p = ""): string {
    return this.api(`/repos/${this.owner}/${this.repo}${p}`);
  }

  private html(p = ""): string {
    return `https://github.com/${this.owner}/${this.repo}${p}`;
  }

  private userJson(user: FakeUser): JsonObject {
    const bot = user.type === "Bot";
    const id = BOT_USER_IDS[user.login] ?? stableId(`user:${user.login}`);
    const login = encodeURIComponent(user.login);
    const url = this.api(`/users/${login}`);
    return {
      login: user.login,
      id,
      node_id: Buffer.from(`04:${bot ? "Bot" : user.type}${id}`).toString("base64"),
      avatar_url: bot ? `https://avatars.githubusercontent.com/in/${GITHUB_ACTIONS_APP_ID}?v=4` : `https://avatars.githubusercontent.com/u/${id}?v=4`,
      gravatar_id: "",
      url,
      html_url: bot ? `https://github.com/apps/${login.replace(/%5Bbot%5D$/i, "")}` : `https://github.com/${login}`,
      followers_url: `${url}/followers`,
      following_url: `${url}/following{/other_user}`,
      gists_url: `${url}/gists{/gist_id}`,
      starred_url: `${url}/starred{/owner}{/repo}`,
      subscriptions_url: `${url}/subscriptions`,
      organizations_url: `${url}/orgs`,
      repos_url: `${url}/repos`,
      events_url: `${url}/events{/privacy}`,
      received_events_url: `${url}/received_events`,
      type: user.type,
      user_view_type: "public",
      site_admin: false,
    };
  }

  private get bot(): FakeUser {
    return { login: this.botLogin, type: "Bot" };
  }

  private repoJson(fullName: string, fork: boolean): JsonObject {
    const [owner = this.owner, name = this.repo] = fullName.split("/");
    const url = this.api(`/repos/${fullName}`);
    const created = "2024-01-02T03:04:05Z";
    const ownerType = owner === this.owner ? "Organization" : "User";
    const urls: JsonObject = {};
    const templates: Record<string, string> = {
      archive_url: "/{archive_format}{/ref}", assignees_url: "/assignees{/user}", blobs_url: "/git/blobs{/sha}",
      branches_url: "/branches{/branch}", collaborators_url: "/collaborators{/collaborator}", comments_url: "/comments{/number}",
      commits_url: "/commits{/sha}", compare_url: "/compare/{base}...{head}", contents_url: "/contents/{+path}",
      contributors_url: "/contributors", deployments_url: "/deployments", downloads_url: "/downloads", events_url: "/events",
      forks_url: "/forks", git_commits_url: "/git/commits{/sha}", git_refs_url: "/git/refs{/sha}", git_tags_url: "/git/tags{/sha}",
      hooks_url: "/hooks", issue_comment_url: "/issues/comments{/number}", issue_events_url: "/issues/events{/number}",
      issues_url: "/issues{/number}", keys_url: "/keys{/key_id}", labels_url: "/labels{/name}", languages_url: "/languages",
      merges_url: "/merges", milestones_url: "/milestones{/number}", notifications_url: "/notifications{?since,all,participating}",
      pulls_url: "/pulls{/number}", releases_url: "/releases{/id}", stargazers_url: "/stargazers", statuses_url: "/statuses/{sha}",
      subscribers_url: "/subscribers", subscription_url: "/subscription", tags_url: "/tags", teams_url: "/teams",
      trees_url: "/git/trees{/sha}",
    };
    for (const [key, suffix] of Object.entries(templates)) urls[key] = `${url}${suffix}`;
    const id = stableId(`repo:${fullName}`);
    return {
      id,
      node_id: Buffer.from(`010:Repository${id}`).toString("base64"),
      name,
      full_name: fullName,
      private: false,
      owner: this.userJson({ login: owner, type: ownerType }),
      html_url: `https://github.com/${fullName}`,
      description: null,
      fork,
      url,
      ...urls,
      git_url: `git://github.com/${fullName}.git`,
      ssh_url: `git@github.com:${fullName}.git`,
      clone_url: `https://github.com/${fullName}.git`,
      svn_url: `https://github.com/${fullName}`,
      mirror_url: null,
      homepage: null,
      language: "TypeScript",
      forks_count: 0,
      forks: 0,
      stargazers_count: 0,
      watchers_count: 0,
      watchers: 0,
      size: 1,
      default_branch: this.defaultBranch,
      open_issues_count: this.pullRequests.size,
      open_issues: this.pullRequests.size,
      is_template: false,
      topics: [],
      has_issues: true,
      has_projects: true,
      has_wiki: false,
      has_pages: false,
      has_downloads: true,
      has_discussions: false,
      archived: false,
      disabled: false,
      visibility: "public",
      license: null,
      allow_forking: true,
      web_commit_signoff_required: false,
      pushed_at: created,
      created_at: created,
      updated_at: created,
    };
  }

  private commentJson(c: FakeComment): JsonObject {
    return {
      url: this.repoApi(`/issues/comments/${c.id}`),
      html_url: this.html(`/${this.pullRequests.has(c.issueNumber) ? "pull" : "issues"}/${c.issueNumber}#issuecomment-${c.id}`),
      issue_url: this.repoApi(`/issues/${c.issueNumber}`),
      id: c.id,
      node_id: `IC_${Buffer.from(`IssueComment:${c.id}`).toString("base64url")}`,
      user: this.userJson(c.user),
      created_at: c.createdAt,
      updated_at: c.updatedAt,
      author_association: c.user.type === "Bot" ? "NONE" : "CONTRIBUTOR",
      body: c.body,
      performed_via_github_app: null,
    };
  }

  private prJson(pr: FakePullRequest): JsonObject {
    const n = pr.number;
    const headSha = this.headShaOf(n) ?? pr.headSha;
    const self = this.repoApi(`/pulls/${n}`);
    const link = (href: string) => ({ href });
    const author = this.userJson({ login: pr.author, type: "User" });
    const headOwner = pr.headRepoFullName.split("/")[0] ?? this.owner;
    const baseUser = this.userJson({ login: this.owner, type: "Organization" });
    const headUser = pr.fork ? this.userJson({ login: headOwner, type: "User" }) : baseUser;
    const additions = pr.diffFiles.reduce((s, f) => s + f.additions, 0);
    const deletions = pr.diffFiles.reduce((s, f) => s + f.deletions, 0);
    return {
      url: self,
      id: stableId(`pr:${n}`),
      node_id: `PR_${Buffer.from(`PullRequest:${n}`).toString("base64url")}`,
      html_url: this.html(`/pull/${n}`),
      diff_url: this.html(`/pull/${n}.diff`),
      patch_url: this.html(`/pull/${n}.patch`),
      issue_url: this.repoApi(`/issues/${n}`),
      commits_url: `${self}/commits`,
      review_comments_url: `${self}/comments`,
      review_comment_url: this.repoApi("/pulls/comments{/number}"),
      comments_url: this.repoApi(`/issues/${n}/comments`),
      statuses_url: this.repoApi(`/statuses/${headSha}`),
      number: n,
      state: "open",
      locked: false,
      title: pr.title,
      user: author,
      body: pr.body,
      labels: [],
      milestone: null,
      active_lock_reason: null,
      created_at: pr.createdAt,
      updated_at: pr.createdAt,
      closed_at: null,
      merged_at: null,
      merge_commit_sha: null,
      assignee: null,
      assignees: [],
      requested_reviewers: [],
      requested_teams: [],
      head: {
        label: `${headOwner}:${pr.headRef}`,
        ref: pr.headRef,
        sha: headSha,
        user: headUser,
        repo: this.repoJson(pr.headRepoFullName, pr.fork),
      },
      base: {
        label: `${this.owner}:${pr.baseRef}`,
        ref: pr.baseRef,
        sha: pr.baseSha,
        user: baseUser,
        repo: this.repoJson(`${this.owner}/${this.repo}`, false),
      },
      _links: {
        self: link(self),
        html: link(this.html(`/pull/${n}`)),
        issue: link(this.repoApi(`/issues/${n}`)),
        comments: link(this.repoApi(`/issues/${n}/comments`)),
        review_comments: link(`${self}/comments`),
        review_comment: link(this.repoApi("/pulls/comments{/number}")),
        commits: link(`${self}/commits`),
        statuses: link(this.repoApi(`/statuses/${headSha}`)),
      },
      author_association: pr.fork ? "CONTRIBUTOR" : "MEMBER",
      auto_merge: null,
      draft: false,
      merged: false,
      mergeable: null,
      rebaseable: null,
      mergeable_state: "unknown",
      merged_by: null,
      comments: this.comments.filter((c) => c.issueNumber === n).length,
      review_comments: this.reviews.filter((r) => r.pullNumber === n).reduce((s, r) => s + r.comments.length, 0),
      maintainer_can_modify: false,
      commits: 1,
      additions,
      deletions,
      changed_files: pr.diffFiles.length,
    };
  }

  private reviewJson(r: FakeReview): JsonObject {
    const html = this.html(`/pull/${r.pullNumber}#pullrequestreview-${r.id}`);
    return {
      id: r.id,
      node_id: `PRR_${Buffer.from(`PullRequestReview:${r.id}`).toString("base64url")}`,
      user: this.userJson(r.user),
      body: r.body,
      state: r.state,
      html_url: html,
      pull_request_url: this.repoApi(`/pulls/${r.pullNumber}`),
      author_association: "NONE",
      _links: { html: { href: html }, pull_request: { href: this.repoApi(`/pulls/${r.pullNumber}`) } },
      ...(r.submittedAt ? { submitted_at: r.submittedAt } : {}),
      commit_id: r.commitId,
    };
  }

  private appJson(): JsonObject {
    return {
      id: GITHUB_ACTIONS_APP_ID,
      slug: "github-actions",
      node_id: "MDM6QXBwMTUzNjg=",
      owner: this.userJson({ login: "github", type: "Organization" }),
      name: "GitHub Actions",
      description: "Automate your workflow from idea to production",
      external_url: "https://help.github.com/en/actions",
      html_url: "https://github.com/apps/github-actions",
      created_at: "2018-07-30T09:30:17Z",
      updated_at: "2024-04-10T20:33:16Z",
      permissions: { checks: "write", contents: "write", issues: "write", metadata: "read", pull_requests: "write", statuses: "write" },
      events: ["check_run", "check_suite", "pull_request", "push"],
    };
  }

  private checkRunJson(run: FakeCheckRun): JsonObject {
    const url = this.repoApi(`/check-runs/${run.id}`);
    const prs = [...this.pullRequests.values()].filter((pr) => !pr.fork && this.headShaOf(pr.number) === run.headSha);
    const repoRef = { id: stableId(`repo:${this.owner}/${this.repo}`), url: this.repoApi(), name: this.repo };
    return {
      id: run.id,
      name: run.name,
      node_id: `CR_${Buffer.from(`CheckRun:${run.id}`).toString("base64url")}`,
      head_sha: run.headSha,
      external_id: run.externalId ?? "",
      url,
      html_url: this.html(`/runs/${run.id}`),
      details_url: run.detailsUrl ?? this.html(`/runs/${run.id}`),
      status: run.status,
      conclusion: run.conclusion ?? null,
      started_at: run.startedAt ?? this.checkRunCreatedAt.get(run.id) ?? null,
      completed_at: run.completedAt ?? null,
      output: {
        title: run.output?.title ?? null,
        summary: run.output?.summary ?? null,
        text: run.output?.text ?? null,
        annotations_count: run.output?.annotations.length ?? 0,
        annotations_url: `${url}/annotations`,
      },
      check_suite: { id: stableId(`suite:${run.headSha}`) },
      app: this.appJson(),
      pull_requests: prs.map((pr) => ({
        id: stableId(`pr:${pr.number}`),
        number: pr.number,
        url: this.repoApi(`/pulls/${pr.number}`),
        head: { ref: pr.headRef, sha: run.headSha, repo: repoRef },
        base: { ref: pr.baseRef, sha: pr.baseSha, repo: repoRef },
      })),
    };
  }

  private statusJson(s: FakeStatus): JsonObject {
    return {
      url: this.repoApi(`/statuses/${s.sha}`),
      avatar_url: `https://avatars.githubusercontent.com/in/${GITHUB_ACTIONS_APP_ID}?v=4`,
      id: s.id,
      node_id: `SC_${Buffer.from(`StatusContext:${s.id}`).toString("base64url")}`,
      state: s.state,
      description: s.description ?? null,
      target_url: s.targetUrl ?? null,
      context: s.context,
      created_at: s.createdAt,
      updated_at: s.createdAt,
      creator: this.userJson(s.creator),
    };
  }

  private commitJson(c: FakeCommit): JsonObject {
    return {
      sha: c.sha,
      node_id: `C_${Buffer.from(`Commit:${c.sha}`).toString("base64url")}`,
      url: this.repoApi(`/git/commits/${c.sha}`),
      html_url: this.html(`/commit/${c.sha}`),
      author: c.author,
      committer: c.committer,
      message: c.message,
      tree: { sha: c.tree, url: this.repoApi(`/git/trees/${c.tree}`) },
      parents: c.parents.map((p) => ({ sha: p, url: this.repoApi(`/git/commits/${p}`), html_url: this.html(`/commit/${p}`) })),
      verification: { verified: false, reason: "unsigned", signature: null, payload: null, verified_at: null },
    };
  }

  private treeJson(sha: string, recursive: boolean): JsonObject {
    const entries = this.trees.get(sha) ?? new Map<string, FakeTreeEntry>();
    const out: JsonObject[] = [];
    const dirs = new Map<string, Map<string, FakeTreeEntry>>();
    for (const [p, e] of entries) {
      const parts = p.split("/");
      for (let i = 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join("/");
        if (!recursive && i > 1) break;
        if (!dirs.has(dir)) dirs.set(dir, new Map());
        dirs.get(dir)?.set(p.slice(dir.length + 1), e);
      }
      if (recursive || parts.length === 1) {
        const content = this.blobs.get(e.sha) ?? "";
        out.push({ path: p, mode: e.mode, type: "blob", sha: e.sha, size: Buffer.byteLength(content), url: this.repoApi(`/git/blobs/${e.sha}`) });
      }
    }
    for (const [dir, sub] of dirs) {
      const subSha = this.storeTree(sub);
      out.push({ path: dir, mode: "040000", type: "tree", sha: subSha, url: this.repoApi(`/git/trees/${subSha}`) });
    }
    out.sort((a, b) => (String(a.path) < String(b.path) ? -1 : 1));
    return { sha, url: this.repoApi(`/git/trees/${sha}`), tree: out, truncated: false };
  }

  private refJson(ref: string, sha: string): JsonObject {
    return {
      ref: `refs/${ref}`,
      node_id: `REF_${Buffer.from(`Ref:${ref}`).toString("base64url")}`,
      url: this.repoApi(`/git/refs/${ref}`),
      object: { sha, type: "commit", url: this.repoApi(`/git/commits/${sha}`) },
    };
  }

  // ---- operations ----

  private readonly handlers: Record<string, (ctx: Ctx) => Reply> = {
    "issues/list-comments": (ctx) => this.listComments(ctx),
    "issues/create-comment": (ctx) => this.createComment(ctx),
    "issues/update-comment": (ctx) => this.updateComment(ctx),
    "issues/get-comment": (ctx) => ({ status: 200, json: this.commentJson(this.findComment(ctx)) }),
    "pulls/get": (ctx) => this.getPull(ctx),
    "pulls/create-review": (ctx) => this.createReview(ctx),
    "pulls/list-review-comments": (ctx) => this.listReviewComments(ctx),
    "checks/create": (ctx) => this.createCheckRun(ctx),
    "checks/update": (ctx) => this.updateCheckRun(ctx),
    "checks/get": (ctx) => ({ status: 200, json: this.checkRunJson(this.findCheckRun(ctx)) }),
    "repos/create-commit-status": (ctx) => this.createStatus(ctx),
    "repos/get-content": (ctx) => this.getContent(ctx),
    "git/get-ref": (ctx) => this.getRef(ctx),
    "git/update-ref": (ctx) => this.updateRef(ctx),
    "git/get-commit": (ctx) => this.getGitCommit(ctx),
    "git/create-commit": (ctx) => this.createGitCommit(ctx),
    "git/get-tree": (ctx) => this.getTree(ctx),
    "git/create-tree": (ctx) => this.createTree(ctx),
    "git/create-blob": (ctx) => this.createBlob(ctx),
    "git/get-blob": (ctx) => this.getBlob(ctx),
  };

  private bodyObject(ctx: Ctx): JsonObject {
    return isObject(ctx.body) ? ctx.body : {};
  }

  private intParam(ctx: Ctx, name: string): number {
    return Number(ctx.params[name]);
  }

  private ensureIssue(ctx: Ctx, n: number): void {
    if (!this.pullRequests.has(n) && !this.issues.has(n) && !this.comments.some((c) => c.issueNumber === n)) throw this.notFound(ctx);
  }

  private checkCommentBody(ctx: Ctx, body: string): void {
    if (charCount(body) > COMMENT_BODY_LIMIT) {
      throw this.validationFailed(ctx, "IssueComment", "data", "unprocessable", `Body is too long (maximum is ${COMMENT_BODY_LIMIT} characters)`);
    }
  }

  private listComments(ctx: Ctx): Reply {
    const n = this.intParam(ctx, "issue_number");
    this.ensureIssue(ctx, n);
    const since = ctx.query.get("since");
    let all = this.comments.filter((c) => c.issueNumber === n).sort((a, b) => a.id - b.id);
    if (since) all = all.filter((c) => Date.parse(c.updatedAt) >= Date.parse(since));
    const { items, headers } = this.page(ctx, all);
    return { status: 200, headers, json: items.map((c) => this.commentJson(c)) };
  }

  /** One page of a list, with GitHub's Link header (rel next/last/prev/first). */
  private page<T>(ctx: Ctx, all: T[]): { items: T[]; headers: Record<string, string> } {
    const perPage = Math.min(MAX_PER_PAGE, Number(ctx.query.get("per_page") ?? 30));
    const page = Number(ctx.query.get("page") ?? 1);
    const last = Math.max(1, Math.ceil(all.length / perPage));
    const items = all.slice((page - 1) * perPage, page * perPage);
    const headers: Record<string, string> = {};
    if (last > 1 || page > 1) {
      const pageUrl = (p: number) => {
        const q = new URLSearchParams(ctx.query);
        q.set("page", String(p));
        return `<${this.api(ctx.path)}?${q.toString()}>`;
      };
      const links: string[] = [];
      if (page > 1) links.push(`${pageUrl(Math.min(page - 1, last))}; rel="prev"`);
      if (page < last) links.push(`${pageUrl(page + 1)}; rel="next"`, `${pageUrl(last)}; rel="last"`);
      if (page > 1) links.push(`${pageUrl(1)}; rel="first"`);
      headers.link = links.join(", ");
    }
    return { items, headers };
  }

  /** Review comments of the PR's submitted reviews, oldest first (pulls/list-review-comments). */
  private listReviewComments(ctx: Ctx): Reply {
    const pr = this.findPull(ctx);
    const all = this.reviews
      .filter((r) => r.pullNumber === pr.number && r.state !== "PENDING")
      .flatMap((r) => r.comments.map((c, i) => ({ review: r, comment: c, id: r.id * 100 + i })));
    const { items, headers } = this.page(ctx, all);
    return { status: 200, headers, json: items.map((item) => this.reviewCommentJson(item.review, item.comment, item.id)) };
  }

  private reviewCommentJson(review: FakeReview, comment: FakeReviewComment, id: number): JsonObject {
    const url = this.repoApi(`/pulls/comments/${id}`);
    const html = this.html(`/pull/${review.pullNumber}#discussion_r${id}`);
    const line = comment.line ?? null;
    return {
      url,
      pull_request_review_id: review.id,
      id,
      node_id: `PRRC_${Buffer.from(`PullRequestReviewComment:${id}`).toString("base64url")}`,
      diff_hunk: "@@",
      path: comment.path,
      position: line,
      original_position: line ?? 1,
      commit_id: review.commitId,
      original_commit_id: review.commitId,
      user: this.userJson(review.user),
      body: comment.body,
      created_at: review.submittedAt ?? this.timestamp(),
      updated_at: review.submittedAt ?? this.timestamp(),
      html_url: html,
      pull_request_url: this.repoApi(`/pulls/${review.pullNumber}`),
      author_association: "NONE",
      _links: { self: { href: url }, html: { href: html }, pull_request: { href: this.repoApi(`/pulls/${review.pullNumber}`) } },
      start_line: comment.start_line ?? null,
      original_start_line: comment.start_line ?? null,
      start_side: comment.start_side ?? null,
      line,
      original_line: line ?? undefined,
      side: comment.side ?? "RIGHT",
      subject_type: "line",
    };
  }

  private createComment(ctx: Ctx): Reply {
    const n = this.intParam(ctx, "issue_number");
    const body = str(this.bodyObject(ctx), "body") ?? "";
    this.ensureIssue(ctx, n);
    this.checkCommentBody(ctx, body);
    const now = this.timestamp();
    const comment: FakeComment = { id: this.nextId("comment", 2_000_000_000, this.comments), issueNumber: n, body, user: this.bot, createdAt: now, updatedAt: now };
    this.comments.push(comment);
    const json = this.commentJson(comment);
    return { status: 201, headers: { location: String(json.url) }, json };
  }

  private findComment(ctx: Ctx): FakeComment {
    const id = this.intParam(ctx, "comment_id");
    const comment = this.comments.find((c) => c.id === id);
    if (!comment) throw this.notFound(ctx);
    return comment;
  }

  private updateComment(ctx: Ctx): Reply {
    const comment = this.findComment(ctx);
    const body = str(this.bodyObject(ctx), "body") ?? "";
    this.checkCommentBody(ctx, body);
    comment.body = body;
    comment.updatedAt = this.timestamp();
    return { status: 200, json: this.commentJson(comment) };
  }

  private findPull(ctx: Ctx): FakePullRequest {
    const pr = this.pullRequests.get(this.intParam(ctx, "pull_number"));
    if (!pr) throw this.notFound(ctx);
    return pr;
  }

  private getPull(ctx: Ctx): Reply {
    const pr = this.findPull(ctx);
    const accept = String(ctx.headers.accept ?? "").toLowerCase();
    if (/application\/vnd\.github(?:\.v3)?\.diff/.test(accept)) {
      return {
        status: 200,
        text: pr.diff,
        contentType: "application/vnd.github.diff; charset=utf-8",
        headers: { "x-github-media-type": "github.v3; param=diff" },
      };
    }
    return { status: 200, json: this.prJson(pr) };
  }

  /** GitHub's checks of review comment placement (all-or-nothing). */
  private reviewCommentProblems(pr: FakePullRequest, comment: JsonObject): string[] {
    const problems: string[] = [];
    const path = str(comment, "path") ?? "";
    const side = str(comment, "side") ?? "RIGHT";
    const line = num(comment, "line");
    const startLine = num(comment, "start_line");
    const startSide = str(comment, "start_side") ?? side;
    const position = num(comment, "position");
    for (const [field, value] of [["side", side], ["start_side", startSide]] as const) {
      if (value !== "LEFT" && value !== "RIGHT") problems.push(`Pull request review thread ${field.replace("_", " ")} must be LEFT or RIGHT (got ${JSON.stringify(value)})`);
    }
    if (problems.length > 0) return problems;
    const file = pr.diffFiles.find((f) => f.newPath === path || (f.newPath === null && f.oldPath === path));
    if (!file) return ["Pull request review thread path could not be resolved (not a file of the diff)", "Pull request review thread diff hunk can't be blank"];
    const find = (lineNo: number, lineSide: string): { hunk: number; line: DiffLine } | undefined => {
      for (const [index, hunk] of file.hunks.entries()) {
        const found = hunk.lines.find((l) => (lineSide === "RIGHT" ? l.newLine === lineNo : l.oldLine === lineNo));
        if (found) return { hunk: index, line: found };
      }
      return undefined;
    };
    if (position !== undefined && line === undefined) {
      const ok = file.hunks.some((h) => h.lines.some((l) => l.position === position));
      return ok ? [] : ["Pull request review thread position is invalid", "Pull request review thread diff hunk can't be blank"];
    }
    if (line === undefined) return ["Pull request review thread line must be part of the diff (no line or position given)", "Pull request review thread diff hunk can't be blank"];
    const end = find(line, side);
    let start: { hunk: number; line: DiffLine } | undefined;
    if (startLine !== undefined) {
      start = find(startLine, startSide);
      if (!start || (end && start.hunk !== end.hunk)) problems.push("Pull request review thread start line must be part of the same hunk as the line.");
      else if (end && start.line.position >= end.line.position) problems.push("Pull request review thread start line must precede the end line.");
    }
    if (!end) problems.unshift("Pull request review thread line must be part of the diff");
    if (!end) problems.push("Pull request review thread diff hunk can't be blank");
    return problems;
  }

  private createReview(ctx: Ctx): Reply {
    const pr = this.findPull(ctx);
    const body = this.bodyObject(ctx);
    const head = this.headShaOf(pr.number) ?? pr.headSha;
    const commitId = str(body, "commit_id") ?? head;
    const event = str(body, "event") as FakeReview["event"];
    const text = str(body, "body") ?? "";
    const comments = Array.isArray(body.comments) ? body.comments.filter(isObject) : [];
    if (commitId !== head) {
      throw this.unprocessable(ctx, [`commit_id ${commitId} is not the head of pull request #${pr.number} (${head})`], ["Commit is not part of the pull request"]);
    }
    if (charCount(text) > COMMENT_BODY_LIMIT) {
      throw this.validationFailed(ctx, "PullRequestReview", "body", "custom", `Body is too long (maximum is ${COMMENT_BODY_LIMIT} characters)`);
    }
    if ((event === "COMMENT" || event === "REQUEST_CHANGES") && text === "" && comments.length === 0) {
      throw this.unprocessable(ctx, [`a ${event} review needs a body`], [`Review body is required when event is ${event}`]);
    }
    if (event === undefined && this.reviews.some((r) => r.pullNumber === pr.number && r.state === "PENDING" && r.user.login === this.botLogin)) {
      throw this.unprocessable(ctx, ["a second pending review by the same user"], ["User can only have one pending review per pull request"]);
    }
    const reasons: string[] = [];
    const errors: string[] = [];
    comments.forEach((c, index) => {
      const problems = this.reviewCommentProblems(pr, c);
      const cBody = str(c, "body") ?? "";
      if (charCount(cBody) > COMMENT_BODY_LIMIT) problems.push(`Body is too long (maximum is ${COMMENT_BODY_LIMIT} characters)`);
      if (problems.length === 0) return;
      errors.push(toSentence(problems));
      const where = `${str(c, "path")}:${c.start_line !== undefined ? `${String(c.start_line)}-` : ""}${String(c.line ?? `position ${String(c.position)}`)} ${str(c, "side") ?? "RIGHT"}`;
      reasons.push(`review comment ${index} (${where}): ${problems.map((p) => p.replace(/^Pull request review thread /, "")).join(", ")}`);
    });
    if (errors.length > 0) throw this.unprocessable(ctx, reasons, errors);
    const state: FakeReviewState =
      event === undefined ? "PENDING" : event === "APPROVE" ? "APPROVED" : event === "REQUEST_CHANGES" ? "CHANGES_REQUESTED" : "COMMENTED";
    const review: FakeReview = {
      id: this.nextId("review", 1_500_000_000, this.reviews),
      pullNumber: pr.number,
      commitId,
      ...(event ? { event } : {}),
      state,
      body: text,
      comments: comments.map((c) => {
        const out: FakeReviewComment = { path: str(c, "path") ?? "", body: str(c, "body") ?? "" };
        for (const key of ["line", "start_line", "position"] as const) if (typeof c[key] === "number") out[key] = c[key];
        for (const key of ["side", "start_side"] as const) if (typeof c[key] === "string") out[key] = c[key];
        return out;
      }),
      user: this.bot,
      ...(state === "PENDING" ? {} : { submittedAt: this.timestamp() }),
    };
    this.reviews.push(review);
    return { status: 200, json: this.reviewJson(review) };
  }

  /** Rules of check run bodies the schema does not state. */
  private checkRunProblems(ctx: Ctx, body: JsonObject): void {
    const status = str(body, "status");
    const conclusion = str(body, "conclusion");
    if ((status === "completed" || body.completed_at !== undefined) && conclusion === undefined) {
      throw this.invalid(ctx, `conclusion is required when status is "completed" or completed_at is given`, {
        message: "Invalid request.\n\n\"conclusion\" wasn't supplied.",
      });
    }
    if (conclusion !== undefined && status !== undefined && status !== "completed") {
      // GitHub's docs: providing a conclusion sets the status to "completed". Answer that way, but
      // a request that says both "in progress" and "finished" is a caller bug: record it.
      ctx.notes.push(`conclusion ${JSON.stringify(conclusion)} sent with status ${JSON.stringify(status)}; GitHub ignores the status and completes the run`);
    }
    if (conclusion === "stale") {
      throw this.invalid(ctx, `conclusion "stale" can only be set by GitHub`, { message: "Invalid request.\n\nYou cannot change a check run conclusion to stale." });
    }
    const output = body.output;
    if (isObject(output)) {
      for (const field of ["title", "summary", "text"]) {
        const value = str(output, field);
        if (value !== undefined && charCount(value) > CHECK_TEXT_LIMIT) {
          throw this.invalid(ctx, `output.${field} is longer than ${CHECK_TEXT_LIMIT} characters (${charCount(value)})`, {
            message: `Invalid request.\n\nOnly ${CHECK_TEXT_LIMIT} characters are allowed; ${charCount(value)} were supplied (output.${field}).`,
          });
        }
      }
      const annotations = Array.isArray(output.annotations) ? output.annotations : [];
      if (annotations.length > ANNOTATIONS_PER_REQUEST) {
        throw this.invalid(ctx, `${annotations.length} annotations in one request (at most ${ANNOTATIONS_PER_REQUEST})`, {
          message: `Invalid request.\n\nOnly ${ANNOTATIONS_PER_REQUEST} annotations are allowed per request.`,
        });
      }
      annotations.forEach((a, i) => {
        if (isObject(a) && (a.start_column !== undefined || a.end_column !== undefined) && a.start_line !== a.end_line) {
          throw this.invalid(ctx, `annotation ${i}: start_column/end_column are only allowed when start_line equals end_line`, {
            message: "Invalid request.\n\nstart_column and end_column may only be set when start_line and end_line are the same.",
          });
        }
      });
    }
  }

  private applyCheckRun(run: FakeCheckRun, body: JsonObject): void {
    const name = str(body, "name");
    if (name !== undefined) run.name = name;
    const conclusion = str(body, "conclusion");
    const status = str(body, "status");
    if (status !== undefined) run.status = status;
    if (conclusion !== undefined) {
      run.conclusion = conclusion;
      run.status = "completed";
    }
    for (const [key, field] of [["details_url", "detailsUrl"], ["external_id", "externalId"], ["started_at", "startedAt"], ["completed_at", "completedAt"]] as const) {
      const value = str(body, key);
      if (value !== undefined) run[field] = value;
    }
    if (run.status === "completed" && run.completedAt === undefined) run.completedAt = this.timestamp();
    const output = body.output;
    if (isObject(output)) {
      const current: FakeCheckRunOutput = run.output ?? { annotations: [] };
      for (const field of ["title", "summary", "text"] as const) {
        const value = str(output, field);
        if (value !== undefined) current[field] = value;
      }
      if (Array.isArray(output.annotations)) current.annotations.push(...output.annotations);
      run.output = current;
    }
  }

  private requireCommit(ctx: Ctx, sha: string): void {
    if (!this.commits.has(sha)) throw this.invalid(ctx, `no commit ${sha} in the repository`, { message: `No commit found for SHA: ${sha}` });
  }

  private createCheckRun(ctx: Ctx): Reply {
    const body = this.bodyObject(ctx);
    this.checkRunProblems(ctx, body);
    const headSha = str(body, "head_sha") ?? "";
    this.requireCommit(ctx, headSha);
    const run: FakeCheckRun = { id: this.nextId("check", 20_000_000_000, this.checkRuns), name: "", headSha, status: "queued", updates: 0 };
    this.applyCheckRun(run, body);
    this.checkRunCreatedAt.set(run.id, this.timestamp());
    if (run.status !== "queued" && run.startedAt === undefined) run.startedAt = this.timestamp();
    this.checkRuns.push(run);
    const json = this.checkRunJson(run);
    return { status: 201, headers: { location: String(json.url) }, json };
  }

  private findCheckRun(ctx: Ctx): FakeCheckRun {
    const id = this.intParam(ctx, "check_run_id");
    const run = this.checkRuns.find((r) => r.id === id);
    if (!run) throw this.notFound(ctx);
    return run;
  }

  private updateCheckRun(ctx: Ctx): Reply {
    const run = this.findCheckRun(ctx);
    const body = this.bodyObject(ctx);
    this.checkRunProblems(ctx, body);
    this.applyCheckRun(run, body);
    if (run.status !== "queued" && run.startedAt === undefined) run.startedAt = this.timestamp();
    run.updates++;
    return { status: 200, json: this.checkRunJson(run) };
  }

  private createStatus(ctx: Ctx): Reply {
    const sha = ctx.params.sha ?? "";
    const body = this.bodyObject(ctx);
    const description = str(body, "description");
    if (description !== undefined && charCount(description) > STATUS_DESCRIPTION_LIMIT) {
      throw this.validationFailed(ctx, "Status", "description", "custom", `description is too long (maximum is ${STATUS_DESCRIPTION_LIMIT} characters)`);
    }
    this.requireCommit(ctx, sha);
    const targetUrl = str(body, "target_url");
    const status: FakeStatus = {
      id: this.nextId("status", 30_000_000_000, this.statuses),
      sha,
      state: str(body, "state") ?? "",
      context: str(body, "context") ?? "default",
      ...(description !== undefined ? { description } : {}),
      ...(targetUrl !== undefined ? { targetUrl } : {}),
      createdAt: this.timestamp(),
      creator: this.bot,
    };
    this.statuses.push(status);
    const json = this.statusJson(status);
    return { status: 201, headers: { location: String(json.url) }, json };
  }

  private getContent(ctx: Ctx): Reply {
    const ref = ctx.query.get("ref") ?? this.defaultBranch;
    const sha = this.resolveRef(ref);
    const commit = sha === undefined ? undefined : this.commits.get(sha);
    if (!commit) throw new HttpFailure(404, this.error(ctx, 404, `No commit found for the ref ${ref}`));
    const entries = this.trees.get(commit.tree) ?? new Map<string, FakeTreeEntry>();
    const filePath = (ctx.params.path ?? "").replace(/^\/+|\/+$/g, "");
    const links = (p: string, gitUrl: string, type: string) => ({
      self: this.repoApi(`/contents/${p}?ref=${encodeURIComponent(ref)}`),
      git: gitUrl,
      html: this.html(`/${type === "dir" ? "tree" : "blob"}/${ref}/${p}`),
    });
    const entry = entries.get(filePath);
    if (entry) {
      const content = this.blobs.get(entry.sha) ?? "";
      const accept = String(ctx.headers.accept ?? "").toLowerCase();
      if (/application\/vnd\.github(?:\.v3)?\.raw/.test(accept)) {
        return { status: 200, text: content, contentType: "application/vnd.github.raw; charset=utf-8" };
      }
      const gitUrl = this.repoApi(`/git/blobs/${entry.sha}`);
      const base64 = Buffer.from(content, "utf8").toString("base64").replace(/(.{60})/g, "$1\n");
      return {
        status: 200,
        json: {
          type: "file",
          encoding: "base64",
          size: Buffer.byteLength(content),
          name: path.posix.basename(filePath),
          path: filePath,
          content: base64.endsWith("\n") || base64 === "" ? base64 : `${base64}\n`,
          sha: entry.sha,
          url: this.repoApi(`/contents/${filePath}?ref=${encodeURIComponent(ref)}`),
          git_url: gitUrl,
          html_url: this.html(`/blob/${ref}/${filePath}`),
          download_url: `https://raw.githubusercontent.com/${this.owner}/${this.repo}/${ref}/${filePath}`,
          _links: links(filePath, gitUrl, "file"),
        },
      };
    }
    const prefix = filePath === "" ? "" : `${filePath}/`;
    const children = new Map<string, JsonObject>();
    for (const [p, e] of entries) {
      if (!p.startsWith(prefix)) continue;
      const rest = p.slice(prefix.length);
      const name = rest.split("/")[0] ?? rest;
      const childPath = `${prefix}${name}`;
      if (children.has(childPath)) continue;
      const isDir = rest.includes("/");
      const childSha = isDir ? this.storeTree(new Map([...entries].filter(([q]) => q.startsWith(`${childPath}/`)).map(([q, v]) => [q.slice(childPath.length + 1), v]))) : e.sha;
      const gitUrl = this.repoApi(isDir ? `/git/trees/${childSha}` : `/git/blobs/${childSha}`);
      children.set(childPath, {
        type: isDir ? "dir" : "file",
        size: isDir ? 0 : Buffer.byteLength(this.blobs.get(e.sha) ?? ""),
        name,
        path: childPath,
        sha: childSha,
        url: this.repoApi(`/contents/${childPath}?ref=${encodeURIComponent(ref)}`),
        git_url: gitUrl,
        html_url: this.html(`/${isDir ? "tree" : "blob"}/${ref}/${childPath}`),
        download_url: isDir ? null : `https://raw.githubusercontent.com/${this.owner}/${this.repo}/${ref}/${childPath}`,
        _links: links(childPath, gitUrl, isDir ? "dir" : "file"),
      });
    }
    if (children.size === 0) throw this.notFound(ctx);
    return { status: 200, json: [...children.values()] };
  }

  private getRef(ctx: Ctx): Reply {
    const ref = ctx.params.ref ?? "";
    const sha = this.refs.get(ref);
    if (sha === undefined) throw this.notFound(ctx);
    return { status: 200, json: this.refJson(ref, sha) };
  }

  private isAncestor(ancestor: string, of: string): boolean {
    const seen = new Set<string>();
    const queue = [of];
    while (queue.length > 0) {
      const sha = queue.shift() as string;
      if (sha === ancestor) return true;
      if (seen.has(sha)) continue;
      seen.add(sha);
      queue.push(...(this.commits.get(sha)?.parents ?? []));
    }
    return false;
  }

  private updateRef(ctx: Ctx): Reply {
    const ref = (ctx.params.ref ?? "").replace(/^refs\//, "");
    const body = this.bodyObject(ctx);
    const sha = str(body, "sha") ?? "";
    const current = this.refs.get(ref);
    if (current === undefined) throw this.invalid(ctx, `reference ${ref} does not exist`, { message: "Reference does not exist" });
    if (!this.commits.has(sha)) throw this.invalid(ctx, `object ${sha} does not exist`, { message: "Object does not exist" });
    if (body.force !== true && !this.isAncestor(current, sha)) {
      throw this.invalid(ctx, `${ref}: ${sha} is not a fast-forward of ${current} (and force is not set)`, { message: "Update is not a fast forward" });
    }
    this.refs.set(ref, sha);
    return { status: 200, json: this.refJson(ref, sha) };
  }

  private getGitCommit(ctx: Ctx): Reply {
    const commit = this.commits.get(ctx.params.commit_sha ?? "");
    if (!commit) throw this.notFound(ctx);
    return { status: 200, json: this.commitJson(commit) };
  }

  private createGitCommit(ctx: Ctx): Reply {
    const body = this.bodyObject(ctx);
    const tree = str(body, "tree") ?? "";
    const parents = Array.isArray(body.parents) ? body.parents.map(String) : [];
    if (!this.trees.has(tree)) throw this.invalid(ctx, `tree ${tree} does not exist`, { message: "Tree SHA does not exist" });
    for (const parent of parents) {
      if (!this.commits.has(parent)) throw this.invalid(ctx, `parent ${parent} does not exist`, { message: "Parent SHA does not exist or is not a commit object" });
    }
    const bot = this.botPerson();
    const person = (value: unknown, fallback: FakeGitPerson): FakeGitPerson =>
      isObject(value) ? { name: str(value, "name") ?? fallback.name, email: str(value, "email") ?? fallback.email, date: str(value, "date") ?? fallback.date } : fallback;
    const author = person(body.author, bot);
    const committer = person(body.committer, author);
    const message = str(body, "message") ?? "";
    const sha = sha1(`commit\0${tree}\0${parents.join(",")}\0${message}\0${JSON.stringify(author)}\0${JSON.stringify(committer)}`);
    const commit: FakeCommit = { sha, tree, parents, message, author, committer };
    this.commits.set(sha, commit);
    const json = this.commitJson(commit);
    return { status: 201, headers: { location: String(json.url) }, json };
  }

  private getTree(ctx: Ctx): Reply {
    const sha = ctx.params.tree_sha ?? "";
    const resolved = this.trees.has(sha) ? sha : this.commits.get(this.resolveRef(sha) ?? "")?.tree;
    if (resolved === undefined) throw this.notFound(ctx);
    const recursive = ctx.query.get("recursive");
    return { status: 200, json: this.treeJson(resolved, recursive !== null && recursive !== "" && recursive !== "0" && recursive !== "false") };
  }

  private createTree(ctx: Ctx): Reply {
    const body = this.bodyObject(ctx);
    const baseTree = str(body, "base_tree");
    const entries = new Map<string, FakeTreeEntry>();
    if (baseTree !== undefined) {
      const base = this.trees.get(baseTree);
      if (!base) throw this.invalid(ctx, `base_tree ${baseTree} is not a tree of the repository`, { message: "base_tree is not a valid tree oid" });
      for (const [p, e] of base) entries.set(p, { ...e });
    }
    const items = Array.isArray(body.tree) ? body.tree.filter(isObject) : [];
    items.forEach((item, index) => {
      const p = (str(item, "path") ?? "").replace(/^\/+|\/+$/g, "");
      const mode = str(item, "mode") ?? "100644";
      const type = str(item, "type") ?? (mode === "040000" ? "tree" : mode === "160000" ? "commit" : "blob");
      const hasSha = "sha" in item;
      const hasContent = typeof item.content === "string";
      const fail = (reason: string, message: string) => this.invalid(ctx, `tree[${index}] (${p || "no path"}): ${reason}`, { message });
      if (p === "") throw fail("path is missing", "Must supply tree.path");
      if (hasSha && hasContent) throw fail("both sha and content are given", "Only one of tree.sha or tree.content may be supplied");
      if (!hasSha && !hasContent) throw fail("neither sha nor content is given", "Must supply either tree.sha or tree.content");
      if ((type === "tree") !== (mode === "040000") || (type === "commit") !== (mode === "160000")) throw fail(`type ${type} does not match mode ${mode}`, "Invalid tree info");
      if (hasSha && item.sha === null) {
        for (const key of [...entries.keys()]) if (key === p || key.startsWith(`${p}/`)) entries.delete(key);
        return;
      }
      for (const key of [...entries.keys()]) if (key.startsWith(`${p}/`)) entries.delete(key);
      if (hasContent) {
        entries.set(p, { sha: this.storeBlob(item.content as string), mode });
        return;
      }
      const sha = String(item.sha);
      if (type === "tree") {
        const sub = this.trees.get(sha);
        if (!sub) throw fail(`tree ${sha} does not exist`, "Invalid tree info");
        entries.delete(p);
        for (const [q, e] of sub) entries.set(`${p}/${q}`, { ...e });
      } else if (type === "blob") {
        if (!this.blobs.has(sha)) throw fail(`blob ${sha} does not exist`, "Invalid tree info");
        entries.set(p, { sha, mode });
      } else {
        throw fail("submodule entries are not supported by fake-github", "Invalid tree info");
      }
    });
    const sha = this.storeTree(entries);
    const json = this.treeJson(sha, true);
    return { status: 201, headers: { location: String(json.url) }, json };
  }

  private createBlob(ctx: Ctx): Reply {
    const body = this.bodyObject(ctx);
    const encoding = str(body, "encoding") ?? "utf-8";
    const raw = str(body, "content") ?? "";
    if (encoding !== "utf-8" && encoding !== "base64") {
      throw this.invalid(ctx, `encoding ${JSON.stringify(encoding)} is neither utf-8 nor base64`, { message: `encoding must be "utf-8" or "base64"` });
    }
    const sha = this.storeBlob(encoding === "base64" ? Buffer.from(raw, "base64").toString("utf8") : raw);
    const url = this.repoApi(`/git/blobs/${sha}`);
    return { status: 201, headers: { location: url }, json: { url, sha } };
  }

  private getBlob(ctx: Ctx): Reply {
    const sha = ctx.params.file_sha ?? "";
    const content = this.blobs.get(sha);
    if (content === undefined) throw this.notFound(ctx);
    return {
      status: 200,
      json: {
        sha,
        node_id: `B_${Buffer.from(`Blob:${sha}`).toString("base64url")}`,
        size: Buffer.byteLength(content),
        url: this.repoApi(`/git/blobs/${sha}`),
        content: Buffer.from(content, "utf8").toString("base64").replace(/(.{60})/g, "$1\n"),
        encoding: "base64",
      },
    };
  }
}

function coerceParam(raw: string, schema: JsonObject): unknown {
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  if ((type === "integer" && /^-?\d+$/.test(raw)) || (type === "number" && raw.trim() !== "" && Number.isFinite(Number(raw)))) return Number(raw);
  if (type === "boolean" && (raw === "true" || raw === "false")) return raw === "true";
  if (type === "array") return raw.split(",");
  return raw;
}

function acceptedPermissions(operationId: string): string {
  if (operationId.startsWith("issues/")) return "issues=write; pull_requests=write";
  if (operationId.startsWith("pulls/")) return "pull_requests=write";
  if (operationId.startsWith("checks/")) return "checks=write";
  if (operationId === "repos/create-commit-status") return "statuses=write";
  return "contents=write";
}

/** Start a fake GitHub on 127.0.0.1 (random port). Loads GitHub's OpenAPI description once per process. */
export async function startFakeGitHub(options: FakeGitHubOptions = {}): Promise<FakeGitHub> {
  const fake = new FakeGitHubServer(loadOpenApi(), options);
  await fake.listen();
  return fake;
}
