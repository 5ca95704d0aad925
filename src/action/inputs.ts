/**
 * Every Action input, read and validated in one place (names match action.yml). Errors name
 * the input and what was expected.
 */
import path from "node:path";
import { parseDuration } from "../config/units.js";
import type { CachePolicy } from "../store/cache-store.js";
import type { SuggestMode } from "../github/publish.js";

export const INPUTS = {
  mode: "mode",
  config: "config",
  trials: "trials",
  store: "store-path",
  timeout: "timeout",
  resultsFile: "results-file",
  token: "token",
  comment: "comment",
  suggest: "suggest",
  checkRun: "check-run",
  commentAuthor: "comment-author",
  cache: "cache",
  failOn: "fail-on",
  anonymiseKey: "anonymise-key",
} as const;

export const OUTPUTS = {
  verdict: "verdict",
  recommended: "recommended-config",
  current: "current-config",
  keepCurrent: "keep-current",
  resultsFile: "results-file",
  sloWarning: "slo-warning",
  benchmarkSmaller: "benchmark-smaller-file",
  benchmarkBigger: "benchmark-bigger-file",
  bencher: "bencher-file",
  commentUrl: "comment-url",
  checkRunId: "check-run-id",
  gateVerdict: "gate-verdict",
  gateResults: "gate-results-file",
} as const;

export type Mode = "run" | "measure" | "report" | "gate";
export type FailOn = "fail" | "warn" | "never";

export interface ActionInputs {
  mode: Mode;
  configFile: string;
  trials?: number;
  storePath?: string;
  timeoutMs: number;
  resultsFile: string;
  token: string;
  comment: boolean;
  suggest: SuggestMode;
  checkRun: boolean;
  commentAuthor: string;
  cache: CachePolicy;
  failOn: FailOn;
}

export class InputError extends Error {
  constructor(input: string, expected: string, got: string) {
    super(`input ${input}: expected ${expected}, got "${got}"`);
    this.name = "InputError";
  }
}

export function readInputs(getInput: (name: string) => string, env: NodeJS.ProcessEnv): ActionInputs {
  const get = (name: string) => getInput(name).trim();
  const oneOf = <T extends string>(name: string, values: readonly T[], fallback: T): T => {
    const value = get(name) || fallback;
    if (!values.includes(value as T)) throw new InputError(name, `one of ${values.join(", ")}`, value);
    return value as T;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const value = get(name).toLowerCase();
    if (value === "") return fallback;
    if (value === "true") return true;
    if (value === "false") return false;
    throw new InputError(name, "true or false", get(name));
  };

  const trialsText = get(INPUTS.trials);
  const trials = trialsText ? Number(trialsText) : undefined;
  if (trials !== undefined && !(Number.isInteger(trials) && trials >= 1)) throw new InputError(INPUTS.trials, "a whole number ≥ 1", trialsText);
  const timeoutText = get(INPUTS.timeout) || "60m";
  const timeoutMs = parseDuration(timeoutText);
  if (timeoutMs === undefined || timeoutMs <= 0) throw new InputError(INPUTS.timeout, 'a duration like "30m"', timeoutText);
  const storePath = get(INPUTS.store);

  return {
    mode: oneOf(INPUTS.mode, ["run", "measure", "report", "gate"] as const, "run"),
    configFile: get(INPUTS.config) || "shadowgate.yml",
    ...(trials !== undefined ? { trials } : {}),
    ...(storePath ? { storePath } : {}),
    timeoutMs,
    resultsFile: get(INPUTS.resultsFile) || path.join(env.RUNNER_TEMP ?? process.cwd(), "shadowgate-results.json"),
    token: get(INPUTS.token),
    comment: bool(INPUTS.comment, true),
    suggest: oneOf(INPUTS.suggest, ["review", "commit", "none"] as const, "review"),
    checkRun: bool(INPUTS.checkRun, true),
    commentAuthor: get(INPUTS.commentAuthor) || "github-actions[bot]",
    cache: oneOf(INPUTS.cache, ["auto", "always", "read-only", "off"] as const, "auto"),
    failOn: oneOf(INPUTS.failOn, ["fail", "warn", "never"] as const, "fail"),
  };
}

/** Whether a verdict fails the step under `fail-on`. */
export function failsStep(status: "pass" | "warn" | "fail", failOn: FailOn): boolean {
  return failOn === "fail" ? status === "fail" : failOn === "warn" ? status !== "pass" : false;
}
