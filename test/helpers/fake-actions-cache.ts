/**
 * An honest in-process Actions cache, with the semantics of @actions/cache 6 and of the cache
 * service behind it:
 * - entries are tar archives of the given paths, relative to the workspace (GITHUB_WORKSPACE,
 *   else the working directory) with `-P`, exactly as the real module makes them (GNU tar);
 * - the entry's version hashes the `paths` array as given: a restore with other paths misses;
 * - keys are immutable: saving an existing key logs a ReserveCacheError at info level and
 *   returns -1;
 * - a restore tries, in each visible scope (the run's own ref, then its base branch, then the
 *   default branch), each key in order: an exact match, else the newest entry it prefixes;
 * - validation errors are thrown (ValidationError: > 512 chars, commas, > 10 keys, no paths),
 *   so is saving paths that do not exist; every other failure is logged and reported as a
 *   miss (undefined) or -1, and a failed extraction can leave files behind;
 * - switches: unavailable (outside Actions), service down, a thrown error, corrupted archives.
 * What the real module logs through @actions/core is recorded in `log`; every call in `calls`.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { ReserveCacheError, ValidationError } from "@actions/cache";
import type { CacheBackend } from "../../src/store/cache-store.js";

const run = promisify(execFile);

/** Who is asking: decides which entries are visible, like the token's cache scopes. */
export interface FakeRunContext {
  /** GITHUB_REF: refs/heads/main, refs/pull/7/merge… entries saved by this run get this scope */
  ref: string;
  /** a PR's base branch */
  baseRef?: string;
  defaultBranch: string;
}

export interface FakeCacheEntry {
  id: number;
  key: string;
  version: string;
  /** the ref of the run that saved it */
  scope: string;
  archive: string;
}

export type FakeCacheCall =
  | { method: "isFeatureAvailable"; result: boolean }
  | { method: "restoreCache"; paths: string[]; keys: string[]; result?: string; error?: string }
  | { method: "saveCache"; paths: string[]; key: string; result?: number; error?: string };

export interface FakeCacheLogLine {
  level: "info" | "warning" | "error";
  message: string;
}

type Failure = { kind: "throw"; error: Error } | { kind: "service-down" };

export class FakeActionsCache implements CacheBackend {
  /** false: like outside Actions (no ACTIONS_CACHE_URL) */
  available = true;
  /** the run calling the cache; set it before each simulated run */
  context: FakeRunContext = { ref: "refs/heads/main", defaultBranch: "main" };
  /** tar paths are relative to this; default: GITHUB_WORKSPACE, else the working directory, at call time */
  workspace: string | undefined;
  readonly calls: FakeCacheCall[] = [];
  readonly log: FakeCacheLogLine[] = [];
  private readonly entries: FakeCacheEntry[] = [];
  private readonly dir = mkdtempSync(path.join(tmpdir(), "sg-fake-cache-"));
  private nextId = 1;
  private restoreFailure: Failure | undefined;
  private saveFailure: Failure | undefined;

  /** the next restoreCache throws `error`, or (service-down) logs a warning and misses like the real module */
  failNextRestore(failure: Error | "service-down"): void {
    this.restoreFailure = failure === "service-down" ? { kind: "service-down" } : { kind: "throw", error: failure };
  }

  /** the next saveCache throws `error`, or (service-down) logs a warning and returns -1 like the real module */
  failNextSave(failure: Error | "service-down"): void {
    this.saveFailure = failure === "service-down" ? { kind: "service-down" } : { kind: "throw", error: failure };
  }

  /** damage a stored archive: random bytes, or cut in half (a partial download) */
  async corrupt(key: string, how: "garbage" | "truncate"): Promise<void> {
    const entry = this.entries.find((e) => e.key === key);
    if (!entry) throw new Error(`fake cache: no entry ${key}`);
    if (how === "garbage") {
      await writeFile(entry.archive, createHash("sha512").update(key).digest());
    } else {
      // an odd length never ends on a 512-byte block boundary: tar sees an unexpected EOF
      await truncate(entry.archive, Math.floor((await stat(entry.archive)).size / 2) | 1);
    }
  }

  /** every entry, newest first, whatever its scope */
  list(): FakeCacheEntry[] {
    return [...this.entries].sort((a, b) => b.id - a.id);
  }

  /** remove the stored archives */
  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  isFeatureAvailable(): boolean {
    this.calls.push({ method: "isFeatureAvailable", result: this.available });
    return this.available;
  }

  async restoreCache(paths: string[], primaryKey: string, restoreKeys?: string[]): Promise<string | undefined> {
    const keys = [primaryKey, ...(restoreKeys ?? [])];
    const call: FakeCacheCall = { method: "restoreCache", paths: [...paths], keys };
    this.calls.push(call);
    try {
      call.result = await this.restore(paths, keys);
      return call.result;
    } catch (error) {
      call.error = (error as Error).message;
      throw error;
    }
  }

  async saveCache(paths: string[], key: string): Promise<number> {
    const call: FakeCacheCall = { method: "saveCache", paths: [...paths], key };
    this.calls.push(call);
    try {
      call.result = await this.save(paths, key);
      return call.result;
    } catch (error) {
      call.error = (error as Error).message;
      throw error;
    }
  }

  private async restore(paths: string[], keys: string[]): Promise<string | undefined> {
    checkPaths(paths);
    if (keys.length > 10) throw new ValidationError("Key Validation Error: Keys are limited to a maximum of 10.");
    for (const key of keys) checkKey(key);
    const failure = this.restoreFailure;
    this.restoreFailure = undefined;
    if (failure?.kind === "throw") throw failure.error;
    if (failure?.kind === "service-down") {
      this.say("warning", "Failed to restore: getCacheEntry failed: Request timeout: /_apis/artifactcache/cache");
      return undefined;
    }
    if (!this.available) {
      this.say("warning", "Failed to restore: getCacheEntry failed: Cache Service Url not found, unable to restore cache.");
      return undefined;
    }
    const entry = this.find(keys, version(paths));
    if (!entry) return undefined;
    this.say("info", entry.key === keys[0] ? `Cache hit for: ${entry.key}` : `Cache hit for restore-key: ${entry.key}`);
    try {
      await run("tar", ["-xf", entry.archive, "-P", "-C", this.root()]);
    } catch (error) {
      // the real module suppresses it: a warning and a miss (files already extracted stay)
      this.say("warning", `Failed to restore: ${firstLine((error as { stderr?: string }).stderr || (error as Error).message)}`);
      return undefined;
    }
    this.say("info", "Cache restored successfully");
    return entry.key;
  }

  private async save(paths: string[], key: string): Promise<number> {
    checkPaths(paths);
    checkKey(key);
    const root = this.root();
    // @actions/glob: relative patterns are rooted at the working directory; no match, no entry
    const found = paths.map((p) => path.resolve(p)).filter((p) => existsSync(p));
    if (found.length === 0) {
      throw new Error("Path Validation Error: Path(s) specified in the action for caching do(es) not exist, hence no cache is being saved.");
    }
    const failure = this.saveFailure;
    this.saveFailure = undefined;
    if (failure?.kind === "throw") throw failure.error;
    if (failure?.kind === "service-down") {
      this.say("warning", "Failed to save: reserveCache failed: Request timeout: /_apis/artifactcache/caches");
      return -1;
    }
    if (!this.available) {
      this.say("warning", "Failed to save: reserveCache failed: Cache Service Url not found, unable to restore cache.");
      return -1;
    }
    const v = version(paths);
    if (this.entries.some((e) => e.key === key && e.version === v && e.scope === this.context.ref)) {
      const error = new ReserveCacheError(`Unable to reserve cache with key ${key}, another job may be creating this cache.`);
      this.say("info", `Failed to save: ${error.message}`);
      return -1;
    }
    const id = this.nextId++;
    const archive = path.join(this.dir, `${id}.tar`);
    const relative = found.map((p) => path.relative(root, p).split(path.sep).join("/") || ".");
    await run("tar", ["--posix", "--sort=name", "-cf", archive, "-P", "-C", root, "--", ...relative]);
    this.entries.push({ id, key, version: v, scope: this.context.ref, archive });
    this.say("info", `Cache saved with key: ${key}`);
    return id;
  }

  private find(keys: string[], v: string): FakeCacheEntry | undefined {
    const { ref, baseRef, defaultBranch } = this.context;
    const scopes = [...new Set([ref, baseRef && `refs/heads/${baseRef.replace(/^refs\/heads\//, "")}`, `refs/heads/${defaultBranch}`])];
    for (const scope of scopes) {
      if (!scope) continue;
      const visible = this.entries.filter((e) => e.scope === scope && e.version === v).sort((a, b) => b.id - a.id);
      for (const key of keys) {
        const hit = visible.find((e) => e.key === key) ?? visible.find((e) => e.key.startsWith(key));
        if (hit) return hit;
      }
    }
    return undefined;
  }

  private root(): string {
    return this.workspace ?? process.env.GITHUB_WORKSPACE ?? process.cwd();
  }

  private say(level: FakeCacheLogLine["level"], message: string): void {
    this.log.push({ level, message });
  }
}

function checkPaths(paths: string[]): void {
  if (!paths || paths.length === 0) {
    throw new ValidationError("Path Validation Error: At least one directory or file path is required");
  }
}

function checkKey(key: string): void {
  if (key.length > 512) throw new ValidationError(`Key Validation Error: ${key} cannot be larger than 512 characters.`);
  if (key.includes(",")) throw new ValidationError(`Key Validation Error: ${key} cannot contain commas.`);
}

/** like utils.getCacheVersion: the paths as given, not as resolved */
function version(paths: string[]): string {
  return createHash("sha256").update([...paths, "fake-tar"].join("|")).digest("hex");
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0] ?? "";
}
