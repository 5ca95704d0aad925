/**
 * The one Octokit client: @actions/github's REST client plus Octokit's retry (5xx, network)
 * and throttling (primary and secondary rate limits) plugins, pointed at GITHUB_API_URL so
 * GitHub Enterprise Server works unchanged.
 */
import { GitHub, getOctokitOptions } from "@actions/github/lib/utils";
import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import type { Logger } from "../core/ports.js";

const ShadowgateOctokit = GitHub.plugin(retry, throttling);
export type GitHubClient = InstanceType<typeof ShadowgateOctokit>;

/** Rate-limit waits longer than this are not worth holding a runner for. */
const MAX_RATE_LIMIT_WAIT_S = 120;
const MAX_RATE_LIMIT_RETRIES = 2;

export function createGitHubClient(options: { token: string; apiUrl: string; logger: Logger }): GitHubClient {
  const { logger } = options;
  const onLimit = (kind: string) => (retryAfter: number, request: { method: string; url: string }, _octokit: unknown, retryCount: number) => {
    const again = retryCount < MAX_RATE_LIMIT_RETRIES && retryAfter <= MAX_RATE_LIMIT_WAIT_S;
    logger.warn(`GitHub ${kind} rate limit on ${request.method} ${request.url}; ${again ? `retrying in ${retryAfter} s` : "giving up"}`);
    return again;
  };
  return new ShadowgateOctokit(
    getOctokitOptions(options.token, {
      baseUrl: options.apiUrl.replace(/\/+$/, ""),
      throttle: { onRateLimit: onLimit("primary"), onSecondaryRateLimit: onLimit("secondary") },
      retry: { retries: 3 },
    }),
  );
}

/** The HTTP status of an Octokit error, when it has one. */
export function httpStatus(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === "number" ? status : undefined;
}
