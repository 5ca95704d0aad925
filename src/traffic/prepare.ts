/**
 * From recorded requests to the request set the shadows receive: a seeded sample, and
 * credentials replaced by keyed pseudonyms of the same length before anything is replayed.
 */
import { createHmac, randomBytes } from "node:crypto";
import type { ReplayRequest } from "../core/ports.js";
import { mulberry32 } from "../search/random.js";

/** Headers whose values are credentials or personal data. */
export const SENSITIVE_HEADERS = ["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token", "x-csrf-token"];

export interface PreparedTraffic {
  requests: ReplayRequest[];
  /** values replaced, per header name */
  redactions: Record<string, number>;
}

/**
 * Sample `fraction` of the requests (order kept, seeded) and pseudonymise sensitive headers.
 * The key defaults to a fresh random one, so pseudonyms do not survive the run.
 */
export function prepareTraffic(requests: ReplayRequest[], options: { sample: number; seed: number; key?: string }): PreparedTraffic {
  const key = options.key ?? randomBytes(32).toString("hex");
  const rng = mulberry32(options.seed);
  const sampled = options.sample >= 1 ? requests : requests.filter(() => rng() < options.sample);
  const chosen = sampled.length > 0 ? sampled : requests.slice(0, 1);
  const redactions: Record<string, number> = {};
  const out = chosen.map((request) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (SENSITIVE_HEADERS.includes(name)) {
        headers[name] = pseudonymise(value, key);
        redactions[name] = (redactions[name] ?? 0) + 1;
      } else headers[name] = value;
    }
    return { ...request, headers };
  });
  return { requests: out, redactions };
}

/**
 * Same input → same output within a run; keeps the length and an auth scheme prefix
 * ("Bearer ") so the service parses it the same way.
 */
export function pseudonymise(value: string, key: string): string {
  const scheme = /^(Bearer|Basic|Token|Digest)\s+/i.exec(value)?.[0] ?? "";
  const secret = value.slice(scheme.length);
  let digest = "";
  for (let i = 0; digest.length < secret.length; i++) digest += createHmac("sha256", key).update(`${i}:${secret}`).digest("hex");
  return scheme + digest.slice(0, secret.length);
}
