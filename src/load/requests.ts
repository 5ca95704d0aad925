/**
 * Recorded requests → what autocannon sends. Pure code: header hygiene and the per-connection
 * order that keeps the recorded mix.
 */
import type { ReplayRequest } from "../core/ports.js";
import { connectionListed, HOP_BY_HOP_HEADERS, HTTP_TOKEN } from "../core/http.js";

/** Methods autocannon can send (its lib/httpMethods.js). */
export const SUPPORTED_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"] as const;

/** Hop-by-hop headers, the ones autocannon writes itself, and HTTP/2 pseudo-headers from a recording. */
const DROPPED_HEADERS = new Set([...HOP_BY_HOP_HEADERS, "host", "content-length", ":authority", ":method", ":path", ":scheme"]);

/** One request as autocannon's `requests` option takes it. */
export interface CannonRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** recorded requests this one stands for, relative to the lightest request (≥ 1) */
  weight: number;
}

/** Keep end-to-end headers only; also drop any header named in the request's Connection header. */
export function replayHeaders(headers: Record<string, string>): Record<string, string> {
  const connection = Object.entries(headers).find(([name]) => name.toLowerCase() === "connection")?.[1];
  const named = connectionListed(connection);
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (DROPPED_HEADERS.has(lower) || named.has(lower)) continue;
    // A CR or LF would end the header block early: such a header cannot be replayed as is.
    if (/[\r\n]/.test(name) || /[\r\n]/.test(String(value)) || !HTTP_TOKEN.test(name)) continue;
    kept[name] = String(value);
  }
  return kept;
}

/** Percent-encode what cannot appear in a request line (spaces, controls, non-ASCII). */
export function requestTarget(prefix: string, path: string): string {
  const target = `${prefix}${path.startsWith("/") ? path : `/${path}`}`;
  return target.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
}

function weightOf(request: ReplayRequest): number {
  return request.weight !== undefined && request.weight > 0 && Number.isFinite(request.weight) ? request.weight : 1;
}

/** Validate and convert; errors name the request's index. */
export function toCannonRequests(requests: ReplayRequest[], pathPrefix = ""): CannonRequest[] {
  if (requests.length === 0) throw new Error("load: no requests to replay (the request set is empty)");
  let lightest = Infinity;
  for (const request of requests) lightest = Math.min(lightest, weightOf(request));
  return requests.map((request, i) => {
    const method = request.method.toUpperCase();
    if (!(SUPPORTED_METHODS as readonly string[]).includes(method)) {
      throw new Error(`load: requests[${i}].method: expected one of ${SUPPORTED_METHODS.join(", ")}, got ${JSON.stringify(request.method)}`);
    }
    const converted: CannonRequest = {
      method,
      path: requestTarget(pathPrefix, request.path),
      headers: replayHeaders(request.headers),
      weight: weightOf(request) / lightest,
    };
    if (request.body !== undefined && request.body.length > 0) converted.body = request.body;
    return converted;
  });
}

/**
 * Connection k of `connections` replays the request list from offset ⌊k·n/connections⌋ and
 * wraps around. autocannon cycles `requests` per connection from index 0, so without offsets all
 * connections send the same request at the same moment and a short window over-represents the
 * head of the list; with them the mix in flight matches the recorded mix.
 */
export function rotationFor(connection: number, connections: number, length: number): number {
  if (length <= 1 || connections <= 1) return 0;
  return Math.floor((connection * length) / connections) % length;
}

/** A fresh copy of the list starting at `offset` (autocannon mutates the objects it is given). */
export function rotated(requests: CannonRequest[], offset: number): CannonRequest[] {
  const out: CannonRequest[] = [];
  for (let i = 0; i < requests.length; i++) {
    const r = requests[(offset + i) % requests.length] as CannonRequest;
    out.push({ ...r, headers: { ...r.headers } });
  }
  return out;
}

/** Loopback only: shadows listen on 127.0.0.1 and Shadowgate never loads anything else. */
export function assertLoopback(baseUrl: string): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new Error(`load: baseUrl is not a URL: ${JSON.stringify(baseUrl)}`);
  }
  if (url.protocol !== "http:") throw new Error(`load: baseUrl must be http:// on loopback, got ${baseUrl}`);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const loopback = host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
  if (!loopback) throw new Error(`load: refusing to send load to ${url.host}: only loopback (127.0.0.1) targets are allowed`);
  return url;
}
