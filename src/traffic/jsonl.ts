/**
 * JSON Lines importer: one recorded request per line, in Shadowgate's own schema (docs in
 * README, "Recorded traffic"):
 *
 *   {"timestamp": "2026-11-29T10:00:00.123Z" | epoch ms, "method": "POST",
 *    "url": "/api/quote?x=1" (or absolute: only path and query are kept),
 *    "headers": {"content-type": "application/json"} (or [[name, value], …]),
 *    "body": "…", "bodyEncoding": "utf8" | "base64",
 *    "response": {"status": 200, "headers": {…}, "body": "…", "bodyEncoding": "…",
 *                 "latencyMs": 12.5}}  (optional; null is none)
 *
 * Streamed line by line; a bad line is skipped and counted with its line number. `streamJsonl`
 * hands the requests on in file order, `importJsonl` collects and orders them by time. `at` is the
 * timestamp; `host` the ":authority" or Host header, else the authority of an absolute url;
 * the response's body is kept only for the hosts options.keepResponseBody accepts.
 */
import type { RecordedResponse, ReplayRequest } from "../core/ports.js";
import { cleanHeaders, cleanResponseHeaders, inRecordedOrder, recordedHost, requestTarget, ImportTally, METHODS, utf8Text, type ImportOptions, type ImportResult, type ImportStream } from "./har.js";
import { readLines } from "./lines.js";

export async function importJsonl(file: string, options: ImportOptions = {}): Promise<ImportResult> {
  const stream = streamJsonl(file, options);
  const requests: ReplayRequest[] = [];
  for await (const request of stream.requests) requests.push(request);
  return { requests: inRecordedOrder(requests), ...stream.summary() };
}

/**
 * The requests of a JSON Lines file as a stream, in file order (see ImportStream); the errors
 * are importJsonl's, thrown from the iteration.
 */
export function streamJsonl(file: string, options: ImportOptions = {}): ImportStream {
  const tally = new ImportTally();
  async function* requests(): AsyncGenerator<ReplayRequest> {
    let yielded = 0;
    let lineNo = 0;
    for await (const line of readLines(file)) {
      lineNo++;
      if (line.trim() === "" || line.startsWith("#")) continue;
      tally.total++;
      const result = parseLine(line, options);
      if (typeof result === "string") tally.skip(lineNo, result, `${file}:${lineNo}`);
      else {
        yielded++;
        yield result;
      }
    }
    if (yielded === 0) throw tally.noneReplayable(file, "the JSON Lines", (skip) => `line ${skip.index}`, tally.total === 0 ? "the file has no line" : "");
  }
  return { requests: requests(), summary: () => tally.summary() };
}

function parseLine(line: string, options: ImportOptions): ReplayRequest | string {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch (error) {
    return `not JSON (${(error as Error).message})`;
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return "expected a JSON object";
  const d = doc as Record<string, unknown>;
  const method = typeof d.method === "string" ? d.method.toUpperCase() : "";
  if (!METHODS.has(method)) return `method: expected an HTTP method, got ${JSON.stringify(d.method)}`;
  if (typeof d.url !== "string") return "url: expected the request's path (or absolute URL)";
  const path = requestTarget(d.url);
  if (path === undefined) return `url: expected a path starting with / or an http(s) URL, got ${JSON.stringify(d.url).slice(0, 80)}`;
  const pairs = headerPairs(d.headers);
  if (pairs === undefined) return "headers: expected an object or a list of [name, value]";
  const headers = cleanHeaders(pairs);
  if (typeof headers === "string") return headers;
  const request: ReplayRequest = { method, path, headers };
  if (d.body !== undefined && d.body !== null) {
    if (typeof d.body !== "string") return "body: expected a string";
    if (d.bodyEncoding !== undefined && d.bodyEncoding !== "utf8" && d.bodyEncoding !== "base64") return `bodyEncoding: expected "utf8" or "base64", got ${JSON.stringify(d.bodyEncoding)}`;
    request.body = d.bodyEncoding === "base64" ? Buffer.from(d.body, "base64").toString("utf8") : d.body;
  }
  const at = typeof d.timestamp === "number" ? d.timestamp : typeof d.timestamp === "string" ? Date.parse(d.timestamp) : NaN;
  if (d.timestamp !== undefined && !Number.isFinite(at)) return `timestamp: expected an ISO time or epoch milliseconds, got ${JSON.stringify(d.timestamp)}`;
  if (d.timestamp !== undefined) request.at = at;
  const host = hostOf(pairs, d.url);
  if (typeof host === "object") return host.reason;
  if (host !== undefined) request.host = host;
  if (d.response !== undefined && d.response !== null) {
    const response = parseResponse(d.response, options.keepResponseBody?.(host) ?? false);
    if (typeof response === "string") return response;
    request.response = response;
  }
  return request;
}

/** Headers as an object or a list of [name, value]; undefined when neither. */
function headerPairs(headers: unknown): [string, string][] | undefined {
  const pairs: [string, string][] = [];
  if (Array.isArray(headers)) {
    for (const h of headers) if (Array.isArray(h) && typeof h[0] === "string" && typeof h[1] === "string") pairs.push([h[0], h[1]]);
  } else if (typeof headers === "object" && headers !== null) {
    for (const [name, value] of Object.entries(headers)) if (typeof value === "string") pairs.push([name, value]);
  } else if (headers !== undefined) return undefined;
  return pairs;
}

/** ":authority", else Host, else an absolute url's authority; a CR, LF or NUL in either header is refused. */
function hostOf(pairs: [string, string][], url: string): string | undefined | { reason: string } {
  let authority: string | undefined;
  let hostHeader: string | undefined;
  for (const [name, value] of pairs) {
    const lower = name.toLowerCase();
    if (lower !== ":authority" && lower !== "host") continue;
    if (/[\r\n\0]/.test(value)) return { reason: `header ${lower} contains CR, LF or NUL` };
    if (lower === ":authority") authority ??= value;
    else hostHeader ??= value;
  }
  const absolute = /^(https?):\/\/([^/?#]*)/i.exec(url);
  const scheme = absolute?.[1];
  const fromUrl = absolute?.[2]?.replace(/^[^@]*@/, "");
  return recordedHost(authority, scheme) ?? recordedHost(hostHeader, scheme) ?? recordedHost(fromUrl, scheme);
}

/** The line's response {status, headers, body, bodyEncoding, latencyMs}, or the reason it is wrong. */
function parseResponse(value: unknown, keepBody: boolean): RecordedResponse | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "response: expected an object {status, headers, body, latencyMs}";
  const r = value as Record<string, unknown>;
  if (typeof r.status !== "number" || !Number.isInteger(r.status) || r.status < 100 || r.status > 999) {
    return `response.status: expected an HTTP status (100–999), got ${JSON.stringify(r.status)}`;
  }
  const pairs = headerPairs(r.headers);
  if (pairs === undefined) return "response.headers: expected an object or a list of [name, value]";
  const headers = cleanResponseHeaders(pairs);
  if (typeof headers === "string") return headers;
  const response: RecordedResponse = { status: r.status, headers };
  if (r.body !== undefined && r.body !== null) {
    if (typeof r.body !== "string") return "response.body: expected a string";
    if (r.bodyEncoding !== undefined && r.bodyEncoding !== "utf8" && r.bodyEncoding !== "base64") return `response.bodyEncoding: expected "utf8" or "base64", got ${JSON.stringify(r.bodyEncoding)}`;
    if (keepBody) {
      // kept only as text: a binary body (not UTF-8 once decoded) is left out
      const body = r.bodyEncoding === "base64" ? utf8Text(Buffer.from(r.body, "base64")) : r.body;
      if (body !== undefined) response.body = body;
    }
  }
  if (r.latencyMs !== undefined && r.latencyMs !== null) {
    if (typeof r.latencyMs !== "number" || !Number.isFinite(r.latencyMs) || r.latencyMs < 0) return `response.latencyMs: expected a duration in ms (≥ 0), got ${JSON.stringify(r.latencyMs)}`;
    response.latencyMs = r.latencyMs;
  }
  return response;
}
