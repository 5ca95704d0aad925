/**
 * HAR 1.2 importer: recorded browser/proxy traffic → the requests a shadow receives.
 * Only the path and query are kept from each URL: replay always targets the shadow's own
 * loopback address, never the recorded host (kept beside the request as `host`).
 *
 * The file is streamed (gunzipped when it ends in .gz): har-stream.ts finds each entry of
 * log.entries and this module parses one entry at a time. `streamHar` hands the requests on
 * one at a time in file order, so memory holds one entry; `importHar` collects them (memory
 * then grows with the requests kept) and orders them by time. HAR files as exporters write
 * them (Chrome, Firefox, mitmproxy, Charles):
 * - HTTP/2 pseudo-headers (":method", ":path", …) are dropped; ":authority" is the host;
 * - hop-by-hop headers, Host and Content-Length are dropped (the load generator sets its own);
 * - base64 bodies (postData.encoding, response.content.encoding "base64") are decoded;
 * - `response: null` or status 0 (a failed or blocked request) keeps the request, without
 *   a response;
 * - importHar orders entries by startedDateTime (stable; an entry without a readable time
 *   keeps its place after the entry before it); streamHar leaves them in file order (the
 *   sampler orders its sample by time);
 * - custom fields ("_initiator", "_priority", …) are ignored;
 * - a CR, LF or NUL in a header value skips that entry (counted, naming log.entries[i]),
 *   never the whole file; Firefox's Set-Cookie lines joined with LF are kept as they are.
 */
import { HOP_BY_HOP_HEADERS, HTTP_TOKEN } from "../core/http.js";
import type { RecordedResponse, ReplayRequest } from "../core/ports.js";
import { harEntries, HarFormatError, type HarEntryBytes } from "./har-stream.js";
import { fileError, openTraffic } from "./lines.js";

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

/** What an import counted: everything of ImportResult but the requests. */
export type ImportSummary = Omit<ImportResult, "requests">;

/**
 * An importer's requests as a stream: yielded one at a time in file order (never collected,
 * never sorted), counted as they pass, so memory holds what the consumer keeps. `requests`
 * is iterated once; a file that cannot be read or is not of the format throws from the
 * iteration, and so does a recording without a replayable request, at its end, with the
 * same TrafficError the importer's array form throws. `summary()` is complete once the
 * iteration has ended (before that: the counts so far).
 */
export interface ImportStream {
  requests: AsyncIterable<ReplayRequest>;
  summary(): ImportSummary;
}

/** The first skipped entries are kept with their reason; all are counted. */
const MAX_SKIPPED_KEPT = 20;

/** The counts of an import as it streams (see ImportSummary). */
export class ImportTally {
  total = 0;
  skippedCount = 0;
  readonly skipped: ImportResult["skipped"] = [];
  /** set by importers that can leave requests out for want of a body (access logs) */
  withoutBody: number | undefined;

  skip(index: number, reason: string, where: string): void {
    this.skippedCount++;
    if (this.skipped.length < MAX_SKIPPED_KEPT) this.skipped.push({ index, reason, where });
  }

  /**
   * The error of a recording without one replayable request (`what`: "the access log"):
   * where the first skipped one was and why, else `empty` (what the recording lacked) if any.
   */
  noneReplayable(label: string, what: string, locate: (skip: ImportResult["skipped"][number]) => string, empty: string): TrafficError {
    const first = this.skipped[0];
    const why = first ? ` (${locate(first)}: ${first.reason})` : empty ? ` (${empty})` : "";
    return new TrafficError(`${label}: no replayable request in ${what}${why}`);
  }

  summary(): ImportSummary {
    const summary: ImportSummary = { total: this.total, skipped: [...this.skipped], skippedCount: this.skippedCount };
    if (this.withoutBody !== undefined) summary.withoutBody = this.withoutBody;
    return summary;
  }
}

/** How an importer reads a recording; every importer takes the same options. */
export interface ImportOptions {
  /**
   * Whether to keep the recorded response bodies of requests to this host (undefined: the
   * recording names none). Default: no body kept, so a large recording does not hold every
   * response body in memory. Status, headers and latency are always kept.
   */
  keepResponseBody?: (host: string | undefined) => boolean;
}

/** Headers that describe one hop only, and the ones the load generator (or a mock) sets itself. */
export const DROPPED_HEADERS = new Set([...HOP_BY_HOP_HEADERS, "host", "content-length", "accept-encoding"]);

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
    if (!HTTP_TOKEN.test(name)) return `header name ${JSON.stringify(rawName).slice(0, 60)} is not a valid HTTP token`;
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


const BAD_CHARACTER = /[\r\n\0]/;
const DEFAULT_PORT: Record<string, string> = { "http:": ":80", "https:": ":443", http: ":80", https: ":443" };
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A recorded authority ("Api.Example.com:8443") as `ReplayRequest.host`: lowercased, the port
 * kept unless it is the scheme's default; undefined when empty or not a host[:port].
 */
export function recordedHost(authority: string | undefined, scheme?: string): string | undefined {
  if (authority === undefined) return undefined;
  let host = authority.trim().toLowerCase();
  if (host === "" || /[\s/?#@\\\x00-\x1f\x7f]/.test(host)) return undefined;
  const port = scheme === undefined ? undefined : DEFAULT_PORT[scheme.toLowerCase()];
  if (port !== undefined && host.endsWith(port)) host = host.slice(0, -port.length);
  return host === "" ? undefined : host;
}

/**
 * Recorded response headers: names lowercased, pseudo-headers and the headers of
 * DROPPED_HEADERS dropped (a mock sets its own framing), repeats joined (Set-Cookie lines with
 * "\n", as Firefox records them, the others with ", "); a CR or NUL, a LF outside Set-Cookie
 * or an invalid name is refused: the reason.
 */
export function cleanResponseHeaders(pairs: Iterable<readonly [string, string]>): Record<string, string> | string {
  const headers: Record<string, string> = {};
  for (const [rawName, value] of pairs) {
    const name = rawName.toLowerCase();
    if (name.startsWith(":") || DROPPED_HEADERS.has(name)) continue;
    const cookie = name === "set-cookie";
    if ((cookie ? /[\r\0]/ : BAD_CHARACTER).test(value) || BAD_CHARACTER.test(name)) return `response header ${name} contains CR, LF or NUL`;
    if (!HTTP_TOKEN.test(name)) return `response header name ${JSON.stringify(rawName).slice(0, 60)} is not a valid HTTP token`;
    headers[name] = headers[name] === undefined ? value : `${headers[name]}${cookie ? "\n" : ", "}${value}`;
  }
  return headers;
}

/** Bytes as UTF-8 text, or undefined when they are not (a binary body). */
export function utf8Text(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Import a HAR file (.har, or .har.gz), streamed. Requests come out in startedDateTime order.
 * Throws TrafficError naming the file when it cannot be read, is not a HAR (invalid JSON, with
 * its byte offset, or no log.entries array), or has no replayable entry.
 */
export async function importHar(file: string, options: ImportOptions = {}): Promise<ImportResult> {
  const input = openTraffic(file);
  try {
    return await importHarFrom(input, file, options);
  } finally {
    input.destroy();
  }
}

/**
 * Import a HAR document read from `chunks` (a stream, or buffers); `file` only words the
 * errors. A failure of the source itself becomes a "cannot read" TrafficError.
 */
export async function importHarFrom(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, file: string, options: ImportOptions = {}): Promise<ImportResult> {
  const tally = new ImportTally();
  const requests: ReplayRequest[] = [];
  // the kept requests hold every entry's header values: equal ones are shared
  for await (const request of harRequests(chunks, file, options, tally, sharedStrings())) requests.push(request);
  return { requests: inRecordedOrder(requests), ...tally.summary() };
}

/**
 * Requests sorted by their recorded time (stable: ties keep their order); one without a
 * readable time keeps its place after the one before it. Sorts only when out of order.
 */
export function inRecordedOrder(requests: ReplayRequest[]): ReplayRequest[] {
  let previous = -Infinity;
  let sorted = true;
  const keyed = requests.map((request) => {
    const at = request.at ?? previous;
    if (at < previous) sorted = false;
    previous = at;
    return { request, at };
  });
  if (sorted) return requests;
  return keyed.sort((a, b) => a.at - b.at).map((k) => k.request); // Array#sort is stable
}

/**
 * The requests of a HAR file (.har, or .har.gz) as a stream, in file order (see ImportStream):
 * memory holds one entry at a time. The errors are importHar's, thrown from the iteration.
 */
export function streamHar(file: string, options: ImportOptions = {}): ImportStream {
  const tally = new ImportTally();
  async function* requests(): AsyncGenerator<ReplayRequest> {
    const input = openTraffic(file);
    try {
      yield* harRequests(input, file, options, tally);
    } finally {
      input.destroy();
    }
  }
  return { requests: requests(), summary: () => tally.summary() };
}

/** A HAR document read from `chunks` as a stream (see streamHar); `file` only words the errors. */
export function streamHarFrom(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, file: string, options: ImportOptions = {}): ImportStream {
  const tally = new ImportTally();
  return { requests: harRequests(chunks, file, options, tally), summary: () => tally.summary() };
}

/**
 * The replayable entries of a HAR document in file order, counted in `tally`; `share`, when
 * given, makes equal header values one string. Throws the "no replayable request" error at
 * the end when there was none.
 */
async function* harRequests(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  file: string,
  options: ImportOptions,
  tally: ImportTally,
  share?: (value: string) => string,
): AsyncGenerator<ReplayRequest> {
  let yielded = 0;
  const entries = harEntries(chunks);
  for (;;) {
    let next: IteratorResult<HarEntryBytes>;
    try {
      next = await entries.next();
    } catch (error) {
      if (error instanceof TrafficError) throw error;
      if (error instanceof HarFormatError) {
        throw new TrafficError(error.kind === "json" ? `${file}: not a HAR file: invalid JSON (${error.message})` : `${file}: not a HAR file: ${error.message}`);
      }
      throw fileError(file, error);
    }
    if (next.done) break;
    const { index, bytes, offset, responseText } = next.value;
    tally.total++;
    const invalid = (error: unknown) => new TrafficError(`${file}: not a HAR file: invalid JSON (log.entries[${index}], from byte ${offset}: ${(error as Error).message})`);
    let entry: unknown;
    // the response body (most of the bytes) is left out of the parse, and parsed only when kept
    let body: (() => string) | undefined;
    try {
      if (responseText === undefined) entry = JSON.parse(bytes.toString("utf8"));
      else {
        const { start, end } = responseText;
        entry = JSON.parse(`${bytes.toString("utf8", 0, start)}null${bytes.toString("utf8", end)}`);
        body = () => {
          try {
            return JSON.parse(bytes.toString("utf8", start, end)) as string;
          } catch (error) {
            throw invalid(error);
          }
        };
      }
    } catch (error) {
      throw invalid(error);
    }
    const result = toReplayRequest(entry, options, body);
    if (typeof result === "string") {
      tally.skip(index, result, `${file}: log.entries[${index}]`);
      continue;
    }
    if (share !== undefined) {
      shareValues(result.headers, share);
      if (result.response) shareValues(result.response.headers, share);
      if (result.host !== undefined) result.host = share(result.host);
    }
    yielded++;
    yield result;
  }
  if (yielded === 0) {
    throw tally.noneReplayable(file, "log.entries", (skip) => `log.entries[${skip.index}]`, tally.total === 0 ? "log.entries is empty" : "");
  }
}

/**
 * One string for equal values: a recording repeats most header values on every entry (user
 * agent, a session's cookies, accept-*), and the kept requests hold them all. Values up to
 * 4 KB, at most 50,000 of them.
 */
function sharedStrings(): (value: string) => string {
  const seen = new Map<string, string>();
  return (value) => {
    if (value.length > 4096) return value;
    const known = seen.get(value);
    if (known !== undefined) return known;
    if (seen.size < 50_000) seen.set(value, value);
    return value;
  };
}

function shareValues(headers: Record<string, string>, share: (value: string) => string): void {
  for (const name in headers) headers[name] = share(headers[name]!);
}

interface HarEntry {
  startedDateTime?: unknown;
  time?: unknown;
  request?: unknown;
  response?: unknown;
  timings?: unknown;
}
interface HarRequest {
  method?: unknown;
  url?: unknown;
  headers?: unknown;
  postData?: { text?: unknown; encoding?: unknown; mimeType?: unknown } | null;
}
interface HarResponse {
  status?: unknown;
  headers?: unknown;
  content?: { text?: unknown; encoding?: unknown } | null;
}

/** HAR's [{name, value}] list as pairs (other items ignored). */
function headerPairs(list: unknown): [string, string][] {
  const pairs: [string, string][] = [];
  if (Array.isArray(list)) {
    for (const header of list as { name?: unknown; value?: unknown }[]) {
      if (typeof header?.name === "string" && typeof header.value === "string") pairs.push([header.name, header.value]);
    }
  }
  return pairs;
}

/**
 * One entry → a request, or the reason it cannot be replayed. `body`, when given, reads
 * response.content.text, which the parsed entry holds as null.
 */
function toReplayRequest(entry: unknown, options: ImportOptions, body?: () => string): ReplayRequest | string {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
    return `expected an entry object {startedDateTime, request, response}, got ${Array.isArray(entry) ? "an array" : JSON.stringify(entry).slice(0, 40)}`;
  }
  const e = entry as HarEntry;
  const request = e.request as HarRequest | undefined;
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
  const pairs = headerPairs(request.headers);
  let authority: string | undefined;
  let hostHeader: string | undefined;
  for (const [name, value] of pairs) {
    const lower = name.toLowerCase();
    if (lower !== ":authority" && lower !== "host") continue;
    // dropped from the replayed headers, but kept as the host: refused like any other
    if (BAD_CHARACTER.test(value)) return `header ${lower} contains CR, LF or NUL`;
    if (lower === ":authority") authority ??= value;
    else hostHeader ??= value;
  }
  const headers = cleanHeaders(pairs);
  if (typeof headers === "string") return headers;
  // the path exactly as recorded (never normalised: "/a/../b" stays), as the other importers
  // replay it; URL's encoded form only for a target with spaces or control characters
  const replay: ReplayRequest = { method, path: requestTarget(request.url) ?? `${url.pathname}${url.search}`, headers };
  const post = request.postData;
  if (post && typeof post.text === "string") {
    replay.body = post.encoding === "base64" ? Buffer.from(post.text, "base64").toString("utf8") : post.text;
    if (typeof post.mimeType === "string" && post.mimeType && !headers["content-type"]) headers["content-type"] = post.mimeType;
  }
  const at = typeof e.startedDateTime === "string" ? Date.parse(e.startedDateTime) : NaN;
  if (Number.isFinite(at)) replay.at = at;
  const host = recordedHost(authority, url.protocol) ?? recordedHost(hostHeader, url.protocol) ?? recordedHost(url.host, url.protocol);
  if (host !== undefined) replay.host = host;
  const response = toRecordedResponse(e, host, options, body);
  if (typeof response === "string") return response;
  if (response !== undefined) replay.response = response;
  return replay;
}

/** The entry's response; undefined when there is none (null, or status 0: failed or blocked). */
function toRecordedResponse(entry: HarEntry, host: string | undefined, options: ImportOptions, body?: () => string): RecordedResponse | string | undefined {
  const response = entry.response as HarResponse | null | undefined;
  if (typeof response !== "object" || response === null) return undefined;
  const status = response.status;
  if (typeof status !== "number" || !Number.isInteger(status) || status < 100 || status > 999) return undefined;
  const headers = cleanResponseHeaders(headerPairs(response.headers));
  if (typeof headers === "string") return headers;
  const recorded: RecordedResponse = { status, headers };
  const content = response.content;
  if (content && (typeof content.text === "string" || (body !== undefined && content.text === null)) && options.keepResponseBody?.(host)) {
    const text = typeof content.text === "string" ? content.text : body!();
    // binary bodies (not UTF-8 once decoded) are not kept: the body is text
    const decoded = content.encoding === "base64" ? utf8Text(Buffer.from(text, "base64")) : text;
    if (decoded !== undefined) recorded.body = decoded;
  }
  const latency = latencyOf(entry);
  if (latency !== undefined) recorded.latencyMs = latency;
  return recorded;
}

/** The HAR timings of one exchange on an open connection: what a mock replays. */
const EXCHANGE_TIMINGS = ["send", "wait", "receive"] as const;

/**
 * The exchange's own time: send + wait + receive when the timings have them (blocked, DNS,
 * connect and TLS are the recording client's connection setup, which a keep-alive replay does
 * not pay), else entry.time; undefined when it has neither.
 */
function latencyOf(entry: HarEntry): number | undefined {
  const timings = entry.timings as Record<string, unknown> | null | undefined;
  if (typeof timings === "object" && timings !== null) {
    let sum: number | undefined;
    for (const name of EXCHANGE_TIMINGS) {
      const value = timings[name];
      if (typeof value === "number" && Number.isFinite(value) && value >= 0) sum = (sum ?? 0) + value;
    }
    if (sum !== undefined) return sum;
  }
  if (typeof entry.time === "number" && Number.isFinite(entry.time) && entry.time >= 0) return entry.time;
  return undefined;
}
