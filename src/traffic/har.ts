/**
 * HAR 1.2 importer: recorded browser/proxy traffic → the requests a shadow receives.
 * Only the path and query are kept from each URL: replay always targets the shadow's own
 * loopback address, never the recorded host.
 */
import type { ReplayRequest } from "../core/ports.js";

export class TrafficError extends Error {
  override name = "TrafficError";
}

export interface ImportResult {
  requests: ReplayRequest[];
  /** entries in the file */
  total: number;
  /** entries skipped, each with the reason (first few kept); `where` names the file and line or entry */
  skipped: { index: number; reason: string; where?: string }[];
  skippedCount: number;
  /** of the skipped: requests that need a body the recording does not have (access logs) */
  withoutBody?: number;
}

/** Headers the load generator sets itself or that describe one hop only. */
export const DROPPED_HEADERS = new Set([
  "host",
  "content-length",
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "transfer-encoding",
  "upgrade",
  "trailer",
  "accept-encoding",
]);

export const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/**
 * Recorded headers as the shadow receives them: names lowercased, HTTP/2 pseudo-headers and
 * hop-by-hop headers dropped (the load generator sets its own); a value or name with CR, LF
 * or NUL is refused (request smuggling): the reason, for the caller to skip the entry.
 */
export function cleanHeaders(pairs: Iterable<readonly [string, string]>): Record<string, string> | string {
  const headers: Record<string, string> = {};
  for (const [rawName, value] of pairs) {
    const name = rawName.toLowerCase();
    if (name.startsWith(":") || DROPPED_HEADERS.has(name)) continue;
    if (/[\r\n\0]/.test(value) || /[\r\n\0]/.test(name)) return `header ${name} contains CR, LF or NUL`;
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) return `header name ${JSON.stringify(rawName).slice(0, 60)} is not a valid HTTP token`;
    // a repeated header is one list (cookies join with "; ")
    headers[name] = headers[name] === undefined ? value : `${headers[name]}${name === "cookie" ? "; " : ", "}${value}`;
  }
  return headers;
}

/**
 * The path and query of a recorded target, exactly as recorded (origin form "/a?b", or an
 * absolute http(s) URL reduced to them; a fragment dropped); undefined for any other form or
 * one with whitespace or control characters. Never normalised: "//x" or "/a/../b" is replayed
 * as it was recorded.
 */
export function requestTarget(target: string): string | undefined {
  if (/[\s\x00-\x1f\x7f]/.test(target)) return undefined;
  let rest: string;
  if (target.startsWith("/")) rest = target;
  else {
    const absolute = /^https?:\/\/[^/?#]*/i.exec(target);
    if (!absolute) return undefined;
    rest = target.slice(absolute[0].length);
    if (rest === "" || rest.startsWith("#")) rest = "/";
    else if (rest.startsWith("?")) rest = `/${rest}`;
  }
  const hash = rest.indexOf("#");
  return hash < 0 ? rest : rest.slice(0, hash);
}

/** Parse HAR text. `file` only words the errors. */
export function importHar(text: string, file: string): ImportResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw new TrafficError(`${file}: not a HAR file: invalid JSON (${(error as Error).message})`);
  }
  const log = (doc as { log?: unknown } | null)?.log;
  const entries = (log as { entries?: unknown } | undefined)?.entries;
  if (typeof log !== "object" || log === null || !Array.isArray(entries)) {
    throw new TrafficError(`${file}: not a HAR file: expected an object with log.entries (an array of recorded requests)`);
  }
  const requests: ReplayRequest[] = [];
  const skipped: ImportResult["skipped"] = [];
  let skippedCount = 0;
  entries.forEach((entry, index) => {
    const result = toReplayRequest(entry);
    if (typeof result === "string") {
      skippedCount++;
      if (skipped.length < 20) skipped.push({ index, reason: result, where: `${file}: log.entries[${index}]` });
    } else requests.push(result);
  });
  if (requests.length === 0) {
    const why = skipped[0] ? ` (log.entries[${skipped[0].index}]: ${skipped[0].reason})` : "";
    throw new TrafficError(`${file}: no replayable request in log.entries${why}`);
  }
  return { requests, total: entries.length, skipped, skippedCount };
}

/** One entry → a request, or the reason it cannot be replayed. */
function toReplayRequest(entry: unknown): ReplayRequest | string {
  const request = (entry as { request?: unknown } | null)?.request as
    | { method?: unknown; url?: unknown; headers?: unknown; postData?: { text?: unknown; encoding?: unknown; mimeType?: unknown } }
    | undefined;
  if (!request || typeof request !== "object") return "expected a request object";
  const method = typeof request.method === "string" ? request.method.toUpperCase() : "";
  if (!METHODS.has(method)) return `expected an HTTP method, got ${JSON.stringify(request.method)}`;
  if (typeof request.url !== "string") return "expected request.url";
  let url: URL;
  try {
    // HAR 1.2: "Absolute URL of the request"
    url = new URL(request.url);
  } catch {
    return `expected an absolute URL, got ${JSON.stringify(request.url).slice(0, 80)}`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `expected an http(s) URL, got ${JSON.stringify(request.url).slice(0, 80)}`;
  const pairs: [string, string][] = [];
  if (Array.isArray(request.headers)) {
    for (const header of request.headers as { name?: unknown; value?: unknown }[]) {
      if (typeof header?.name === "string" && typeof header.value === "string") pairs.push([header.name, header.value]);
    }
  }
  const headers = cleanHeaders(pairs);
  if (typeof headers === "string") return headers;
  const replay: ReplayRequest = { method, path: `${url.pathname}${url.search}`, headers };
  const post = request.postData;
  if (post && typeof post.text === "string") {
    replay.body = post.encoding === "base64" ? Buffer.from(post.text, "base64").toString("utf8") : post.text;
    if (typeof post.mimeType === "string" && post.mimeType && !headers["content-type"]) headers["content-type"] = post.mimeType;
  }
  return replay;
}
