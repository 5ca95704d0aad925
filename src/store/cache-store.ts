/**
 * Carry the store folder (history, models, agent state: everything under one folder) from
 * one workflow run to the next with the Actions cache.
 *
 * Cache keys are immutable, so every saving run writes a new entry
 * `shadowgate-v<format>-<workload>-<branch>-<runId>-<attempt>` and a run restores the newest
 * entry by prefix: its own branch, then the base branch, then the default branch, then any.
 * Only default-branch runs save (policy `auto`), never a run whose data came from a fork.
 *
 * Caching is optional: outside Actions it is skipped with one notice, and any failure of the
 * cache (network, corrupted archive, a key already taken…) is a warning, never a crash.
 */
import * as cache from "@actions/cache";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../core/ports.js";

/**
 * Layout version of the store folder. Part of every key (an old entry is never even
 * restored) and of the manifest (a restored entry of another format is set aside).
 */
export const STORE_FORMAT = 1;
/** written at the root of the folder before each save */
export const MANIFEST_FILE = "shadowgate-store.json";

/** The module boundary of @actions/cache we use; the real one is the package itself. */
export interface CacheBackend {
  isFeatureAvailable(): boolean;
  /** the key restored (exact or prefix match), or undefined on a miss; paths must equal the saved ones */
  restoreCache(paths: string[], primaryKey: string, restoreKeys?: string[]): Promise<string | undefined>;
  /** the cache id, or -1 when the entry was not saved (the module logs why) */
  saveCache(paths: string[], key: string): Promise<number>;
}

/** The real Actions cache. */
export const actionsCache: CacheBackend = {
  isFeatureAvailable: () => cache.isFeatureAvailable(),
  restoreCache: (paths, primaryKey, restoreKeys) => cache.restoreCache(paths, primaryKey, restoreKeys),
  saveCache: (paths, key) => cache.saveCache(paths, key),
};

/**
 * - `auto`: restore; save only from push / schedule / workflow_dispatch runs on the default branch
 * - `always`: restore; save from any run of this repository (PR saves are only visible to that PR)
 * - `read-only`: restore, never save
 * - `off`: neither
 * Whatever the policy, data that came from a fork is never saved.
 */
export type CachePolicy = "auto" | "always" | "read-only" | "off";

export interface CachePlan {
  /** false: neither restore nor save (policy off) */
  enabled: boolean;
  /** unique per run attempt: the key this run saves under */
  primaryKey: string;
  /** prefixes, in the order they are tried (newest entry of the first that matches wins) */
  restoreKeys: string[];
  save: boolean;
  /** one sentence for the log: why we save or not */
  why: string;
}

export interface CachePlanInput {
  workload: string;
  /** GITHUB_EVENT_NAME */
  eventName: string;
  /** GITHUB_REF, e.g. refs/heads/main, refs/pull/7/merge */
  ref: string;
  /** the PR's head branch (only used in messages: a PR run cannot see its head branch's entries) */
  headRef?: string;
  /** the PR's base branch (GITHUB_BASE_REF), `main` or `refs/heads/main` */
  baseRef?: string;
  /** the repository's default branch; without it `auto` never saves */
  defaultBranch?: string;
  runId: string;
  runAttempt: string;
  /**
   * the measured code or data came from a fork: a pull_request from a fork, or a
   * pull_request_target / workflow_run whose head repository is a fork
   */
  fromFork: boolean;
  policy: CachePolicy;
}

const KEY_ROOT = "shadowgate";
/** keys are limited to 512 characters; the longest we make is 14 + 100 + 1 + 100 + 1 + 40 + 1 + 20 = 277 */
const MAX_SEGMENT = 100;
const SAVING_EVENTS = ["push", "schedule", "workflow_dispatch"];

/** Where to save and restore from, and whether to save. Pure. */
export function planCache(input: CachePlanInput): CachePlan {
  const prefix = `${KEY_ROOT}-v${STORE_FORMAT}-${keySegment(input.workload)}-`;
  const own = branchOfRef(input.ref);
  const base = input.baseRef ? stripHeads(input.baseRef) : undefined;
  const main = input.defaultBranch ? stripHeads(input.defaultBranch) : undefined;
  const primaryKey = `${prefix}${keySegment(own)}-${keySegment(input.runId, 40)}-${keySegment(input.runAttempt, 20)}`;
  const restoreKeys = [...new Set([own, base, main].filter((b): b is string => Boolean(b)).map((b) => `${prefix}${keySegment(b)}-`))];
  restoreKeys.push(prefix);
  const plan = { enabled: true, primaryKey, restoreKeys };

  if (input.policy === "off") {
    return { ...plan, enabled: false, save: false, why: "cache: off, so the store folder is neither restored nor saved" };
  }
  if (input.fromFork) {
    return { ...plan, save: false, why: `not saving the store: this ${input.eventName} run measured code from a fork, and fork data never goes into the cache` };
  }
  if (input.policy === "read-only") {
    return { ...plan, save: false, why: "not saving the store: cache is read-only" };
  }
  if (input.policy === "always") {
    return { ...plan, save: true, why: `saving the store: cache is always (a ${input.eventName} run on ${describeRef(input.ref, input.headRef)})` };
  }
  // auto
  if (!main) {
    return { ...plan, save: false, why: "not saving the store: the default branch is unknown (cache: auto saves from default-branch runs only)" };
  }
  const onDefault = input.ref === `refs/heads/${main}`;
  if (onDefault && SAVING_EVENTS.includes(input.eventName)) {
    return { ...plan, save: true, why: `saving the store: a ${input.eventName} run on the default branch ${main}` };
  }
  return {
    ...plan,
    save: false,
    why: `not saving the store: this ${input.eventName} run on ${describeRef(input.ref, input.headRef)} only restores it (cache: auto saves from push, schedule and workflow_dispatch runs on the default branch ${main})`,
  };
}

/** The paths given to both restoreCache and saveCache: they must be identical (the cache version hashes them). */
export function cachePaths(folder: string): string[] {
  return [path.resolve(folder)];
}

/**
 * Restore the newest matching entry into `folder`. Never throws: a failure leaves the folder
 * as it was (or sets a partial/incompatible restore aside) and the run starts with an empty store.
 */
export async function restoreStore(
  backend: CacheBackend,
  folder: string,
  plan: CachePlan,
  logger: Logger,
): Promise<{ restoredKey?: string; movedAside?: string }> {
  if (!plan.enabled) {
    once(plan, logger, plan.why);
    return {};
  }
  if (!available(backend, plan, logger)) return {};
  const paths = cachePaths(folder);
  const wasEmpty = await isEmpty(folder);
  logger.debug(`store cache: restoring ${paths[0]} from ${[plan.primaryKey, ...plan.restoreKeys].join(" | ")}`);
  let key: string | undefined;
  let failed = false;
  try {
    key = await backend.restoreCache(paths, plan.primaryKey, plan.restoreKeys);
  } catch (error) {
    failed = true;
    logger.warn(`store cache: restore failed (${message(error)}); starting with an empty store`);
  }
  if (!key) {
    // a failed download or extraction is reported as a miss (or throws) but can leave files behind
    if (wasEmpty && !(await isEmpty(folder))) {
      const movedAside = await setAside(folder, "partial", "a failed restore left files in it", logger);
      return movedAside ? { movedAside } : {};
    }
    if (!failed) logger.info(`store cache: nothing restored for ${plan.restoreKeys.join(" | ")}; starting with an empty store`);
    return {};
  }
  const problem = await checkManifest(folder);
  if (problem) {
    const movedAside = await setAside(folder, "incompatible", `cache entry ${key}: ${problem}`, logger);
    return movedAside ? { movedAside } : {};
  }
  logger.info(`store cache: restored ${folder} from ${key}${key === plan.primaryKey ? "" : " (newest entry by prefix)"}`);
  return { restoredKey: key };
}

/** Save `folder` under the plan's key when the plan says so. Never throws. */
export async function saveStore(
  backend: CacheBackend,
  folder: string,
  plan: CachePlan,
  logger: Logger,
): Promise<{ saved: boolean; key?: string }> {
  if (!plan.enabled) {
    once(plan, logger, plan.why);
    return { saved: false };
  }
  if (!plan.save) {
    once(plan, logger, `store cache: ${plan.why}`);
    return { saved: false };
  }
  if (!available(backend, plan, logger)) return { saved: false };
  try {
    await writeManifest(folder, plan.primaryKey);
  } catch (error) {
    logger.warn(`store cache: cannot write ${path.join(folder, MANIFEST_FILE)} (${message(error)}); the store is not saved`);
    return { saved: false };
  }
  let id: number;
  try {
    id = await backend.saveCache(cachePaths(folder), plan.primaryKey);
  } catch (error) {
    logger.warn(`store cache: save failed (${message(error)}); the next run starts from an older store`);
    return { saved: false };
  }
  if (id === -1) {
    logger.warn(`store cache: ${plan.primaryKey} was not saved (see the cache messages above); the next run starts from an older store`);
    return { saved: false };
  }
  logger.info(`store cache: ${plan.why}; saved ${folder} as ${plan.primaryKey}`);
  return { saved: true, key: plan.primaryKey };
}

// ---------------------------------------------------------------------------

interface Manifest {
  format: number;
  savedAt: string;
  key: string;
}

async function writeManifest(folder: string, key: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  const manifest: Manifest = { format: STORE_FORMAT, savedAt: new Date().toISOString(), key };
  const file = path.join(folder, MANIFEST_FILE);
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(manifest)}\n`);
  await rename(temp, file);
}

/** why the restored folder is not a store of this format, or undefined when it is */
async function checkManifest(folder: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(folder, MANIFEST_FILE), "utf8");
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? `no ${MANIFEST_FILE}` : `cannot read ${MANIFEST_FILE} (${message(error)})`;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return `${MANIFEST_FILE} is not valid JSON`;
  }
  const manifest = doc as Partial<Manifest> | null;
  if (!manifest || typeof manifest !== "object") return `${MANIFEST_FILE} is not an object`;
  if (manifest.format !== STORE_FORMAT) return `store format ${JSON.stringify(manifest.format)}, expected ${STORE_FORMAT}`;
  return undefined;
}

/** move the folder to `<folder>.<label>-<timestamp>` (removing it if that fails); the path moved to */
async function setAside(folder: string, label: string, why: string, logger: Logger): Promise<string | undefined> {
  const aside = `${path.resolve(folder)}.${label}-${new Date().toISOString().replace(/[:.]/g, "-")}-${randomBytes(3).toString("hex")}`;
  try {
    await rename(folder, aside);
    logger.warn(`store cache: ignored the restored store (${why}); moved it to ${aside}, starting with an empty store`);
    return aside;
  } catch (error) {
    logger.warn(`store cache: ignored the restored store (${why}); cannot move it aside (${message(error)}), removing it`);
    await rm(folder, { recursive: true, force: true }).catch((e: unknown) => logger.warn(`store cache: cannot remove ${folder}: ${message(e)}`));
    return undefined;
  }
}

async function isEmpty(folder: string): Promise<boolean> {
  try {
    return (await readdir(folder)).length === 0;
  } catch {
    return true;
  }
}

function available(backend: CacheBackend, plan: CachePlan, logger: Logger): boolean {
  let ok: boolean;
  try {
    ok = backend.isFeatureAvailable();
  } catch (error) {
    once(plan, logger, `store cache: cannot tell whether the Actions cache is available (${message(error)}); the store folder is neither restored nor saved`, "warn");
    return false;
  }
  if (!ok) once(plan, logger, "store cache: the Actions cache service is not available (not running on GitHub Actions?); the store folder is neither restored nor saved");
  return ok;
}

const said = new WeakMap<CachePlan, Set<string>>();
/** log a line once per plan (restore and save share it) */
function once(plan: CachePlan, logger: Logger, line: string, level: "info" | "warn" = "info"): void {
  const lines = said.get(plan) ?? new Set<string>();
  said.set(plan, lines);
  if (lines.has(line)) return;
  lines.add(line);
  logger[level](line);
}

/** refs/heads/x → x, refs/pull/7/merge → pull/7, refs/tags/v1 → tag/v1 */
function branchOfRef(ref: string): string {
  const pull = /^refs\/pull\/(\d+)\//.exec(ref);
  if (pull) return `pull/${pull[1]}`;
  if (ref.startsWith("refs/heads/")) return ref.slice("refs/heads/".length);
  if (ref.startsWith("refs/tags/")) return `tag/${ref.slice("refs/tags/".length)}`;
  return ref || "unknown";
}

function stripHeads(branch: string): string {
  return branch.replace(/^refs\/heads\//, "");
}

function describeRef(ref: string, headRef?: string): string {
  const branch = branchOfRef(ref);
  return branch.startsWith("pull/") && headRef ? `${branch} (${headRef})` : branch;
}

/**
 * One part of a key. `-` separates the parts, so it never occurs inside one (nor does a comma,
 * which keys cannot hold): a prefix `…-api-` cannot match the entries of workload `api-v2`.
 * Long parts are cut and keep a hash, so the whole key stays well under 512 characters.
 */
export function keySegment(value: string, max = MAX_SEGMENT): string {
  const clean = value.replace(/[^A-Za-z0-9._/]/g, "_") || "_";
  if (clean.length <= max) return clean;
  return `${clean.slice(0, max - 9)}.${createHash("sha256").update(value).digest("hex").slice(0, 8)}`;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
