/**
 * GoReplay (.gor) importer: recorded traffic → the requests a shadow receives.
 *
 * A GoReplay file is a sequence of records separated by a line that is exactly `🐵🙈🙉`.
 * Each record is a meta line `TYPE ID TIMESTAMP LATENCY` (TYPE 1 = request, 2 = original
 * response, 3 = replayed response; TIMESTAMP in ns) followed by the raw HTTP/1.x payload.
 * GoReplay writes one extra `\n` after the payload, before the separator line; that newline
 * is removed and nothing else of the payload is altered.
 *
 * Files are streamed (gunzipped when they end in `.gz`), so memory holds one record at a time
 * plus the requests kept: `streamGoReplay` hands them on in file order, `importGoReplay`
 * collects them and orders them by time. Only type-1 records become requests (counted in `total` and
 * `skipped`); responses are counted in neither. As in the HAR importer only the path and query
 * of the request target are kept: replay always targets the shadow's own loopback address.
 * `at` is the request's TIMESTAMP in ms; `host` its Host header (else an absolute target's
 * authority).
 *
 * Responses: a type-2 record (the original response) is attached to the request with the
 * same ID as `response` {status, headers, body, latencyMs (its LATENCY, ns → ms)}, only when
 * that request was already read (gor writes a request before its response), never a
 * response it has not matched. `importGoReplay` keeps every request waiting for its response
 * until the end (it holds them all anyway). `streamGoReplay` holds a request back only until
 * its response arrives or GOREPLAY_RESPONSE_WINDOW (10,000) records have been read after it,
 * whichever comes first, and then yields it (in file order: a request waits for those before
 * it), without a response when none came: memory holds at most that many requests, and a
 * response recorded further than 10,000 records after its request is not attached (gor
 * writes a response within a few records of its request, unless thousands of requests are in
 * flight at once). The body is kept only for the hosts options.keepResponseBody
 * accepts, decoded (chunked, gzip, deflate, br) and only when it is text. A response that
 * cannot be read leaves its request without one (the request is still replayed). Type-3
 * records (responses of a replay) are ignored.
 */
import type { Readable } from "node:stream";
import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from "node:zlib";
import type { RecordedResponse, ReplayRequest } from "../core/ports.js";
import { connectionListed, HTTP_TOKEN } from "../core/http.js";
import { cleanResponseHeaders, DROPPED_HEADERS, METHODS, recordedHost, ImportTally, requestTarget, utf8Text, type ImportOptions, type ImportResult, type ImportStream } from "./har.js";
import { fileError, openTraffic } from "./lines.js";

const SEPARATOR = Buffer.from("🐵🙈🙉", "utf8");
const SEPARATOR_LINE = Buffer.from("🐵🙈🙉\n", "utf8");
/** the largest response body kept once decoded */
const MAX_DECODED_BODY = 64 * 1024 * 1024;
const utf8 = new TextDecoder("utf-8", { fatal: true });

interface RawRecord {
  data: Buffer;
  /** 1-based line of the record's first (meta) line in its file */
  line: number;
  /** 1-based position among all records of its file */
  ordinal: number;
}

/**
 * How many records (of any type) a request read by `streamGoReplay` waits for its response at
 * most: the bound of the requests it holds back (see the module comment).
 */
export const GOREPLAY_RESPONSE_WINDOW = 10_000;

/**
 * Import GoReplay files, read in the order given (the caller sorts chunk files by name).
 * Requests are returned sorted by their recorded timestamp (stable: ties keep file order).
 * `label` words the errors about the recording as a whole.
 */
export async function importGoReplay(files: string[], label: string, options: ImportOptions = {}): Promise<ImportResult> {
  const tally = new ImportTally();
  const collected: { request: ReplayRequest; timestamp: bigint; seq: number }[] = [];
  // every request waits for its response to the end: they are all held anyway
  for await (const { request, timestamp } of goReplayRequests(files, label, options, tally, Infinity)) {
    collected.push({ request, timestamp, seq: collected.length });
  }
  collected.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.seq - b.seq));
  return { requests: collected.map((c) => c.request), ...tally.summary() };
}

/**
 * The requests of GoReplay files (read in the order given) as a stream, in file order (see
 * ImportStream), each with its response when one arrives within `responseWindow` records
 * (default GOREPLAY_RESPONSE_WINDOW): at most that many requests are held. The errors are
 * importGoReplay's, thrown from the iteration.
 */
export function streamGoReplay(files: string[], label: string, options: ImportOptions = {}, responseWindow = GOREPLAY_RESPONSE_WINDOW): ImportStream {
  if (!(responseWindow >= 1)) throw new RangeError(`streamGoReplay: responseWindow: expected a number of records ≥ 1, got ${responseWindow}`);
  const tally = new ImportTally();
  async function* requests(): AsyncGenerator<ReplayRequest> {
    for await (const { request } of goReplayRequests(files, label, options, tally, responseWindow)) yield request;
  }
  return { requests: requests(), summary: () => tally.summary() };
}

interface Waiting {
  id: string;
  request: ReplayRequest;
  timestamp: bigint;
  /** records read when this request was */
  read: number;
  answered: boolean;
}

/**
 * The requests of the files in file order, with their recorded TIMESTAMP, counted in `tally`:
 * each held back until its response is attached or `window` records have been read after it
 * (Infinity: to the end). Throws the "no replayable request" error at the end when there was none.
 */
async function* goReplayRequests(files: string[], label: string, options: ImportOptions, tally: ImportTally, window: number): AsyncGenerator<{ request: ReplayRequest; timestamp: bigint }> {
  /** requests read and not yet yielded, in file order, from `head` on */
  const queue: (Waiting | undefined)[] = [];
  let head = 0;
  /** requests whose response has not been read: by ID */
  const waiting = new Map<string, Waiting>();
  let records = 0;
  let yielded = 0;
  /** the requests that may go: the first ones answered or waited for long enough, or all */
  const ready = (all: boolean): Waiting[] => {
    const out: Waiting[] = [];
    while (head < queue.length) {
      const next = queue[head]!;
      if (!all && !next.answered && records - next.read < window) break;
      queue[head++] = undefined;
      if (!next.answered && waiting.get(next.id) === next) waiting.delete(next.id);
      out.push(next);
    }
    if (head > 1024 && head * 2 > queue.length) {
      queue.splice(0, head);
      head = 0;
    }
    return out;
  };

  for (const file of files) {
    for await (const record of readRecords(file)) {
      records++;
      const parsed = parseRecord(record.data);
      if (parsed.kind === "response") {
        const held = waiting.get(parsed.id);
        if (held !== undefined) {
          waiting.delete(parsed.id);
          held.answered = true;
          const response = parseResponse(parsed.payload, options.keepResponseBody?.(held.request.host) ?? false);
          if (response !== undefined) {
            if (parsed.latencyNs !== undefined) response.latencyMs = Number(parsed.latencyNs) / 1e6;
            held.request.response = response;
          }
        }
      } else if (parsed.kind !== "ignored") {
        const index = tally.total++;
        if (parsed.kind === "request") {
          const held: Waiting = { id: parsed.id, request: parsed.request, timestamp: parsed.timestamp, read: records, answered: false };
          queue.push(held);
          waiting.set(parsed.id, held);
        } else tally.skip(index, parsed.reason, `${file}: record ${record.ordinal} (line ${record.line})`);
      }
      for (const { request, timestamp } of ready(false)) {
        yielded++;
        yield { request, timestamp };
      }
    }
  }
  for (const { request, timestamp } of ready(true)) {
    yielded++;
    yield { request, timestamp };
  }

  if (yielded === 0) {
    throw tally.noneReplayable(label, "the GoReplay recording", (skip) => `${skip.where}`, files.length === 0 ? "no files given" : "no request records found");
  }
}

/** The records of one file, streamed; file-level failures become TrafficErrors naming the file. */
async function* readRecords(file: string): AsyncGenerator<RawRecord> {
  const stream: Readable = openTraffic(file);

  let partial: Buffer[] = []; // pieces of the current, not yet terminated line
  let lines: Buffer[] = []; // lines (with their \n) of the current record
  let lineNo = 0;
  let recordLine = 1;
  let ordinal = 0;

  const finish = (terminated: boolean): RawRecord | undefined => {
    let data = Buffer.concat(lines);
    lines = [];
    const line = recordLine;
    recordLine = lineNo + 1;
    // GoReplay adds one "\n" after the payload, before the separator line.
    if (terminated && data.length > 0 && data[data.length - 1] === 0x0a) data = data.subarray(0, data.length - 1);
    if (isBlank(data)) return undefined;
    ordinal++;
    return { data, line, ordinal };
  };

  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(0x0a, start);
        if (nl < 0) {
          if (start < chunk.length) partial.push(chunk.subarray(start));
          break;
        }
        const piece = chunk.subarray(start, nl + 1);
        const line = partial.length > 0 ? Buffer.concat([...partial, piece]) : Buffer.from(piece);
        partial = [];
        start = nl + 1;
        lineNo++;
        if (line.equals(SEPARATOR_LINE)) {
          const record = finish(true);
          if (record) yield record;
        } else {
          lines.push(line);
        }
      }
    }
  } catch (error) {
    stream.destroy();
    throw fileError(file, error);
  }
  // End of file: a last line without "\n", and a last record without a separator.
  if (partial.length > 0) {
    const line = Buffer.concat(partial);
    lineNo++;
    if (line.equals(SEPARATOR)) {
      const record = finish(true);
      if (record) yield record;
    } else lines.push(line);
  }
  if (lines.length > 0) {
    const record = finish(false);
    if (record) yield record;
  }
}

function isBlank(data: Buffer): boolean {
  for (const byte of data) if (byte !== 0x0a && byte !== 0x0d && byte !== 0x20 && byte !== 0x09) return false;
  return true;
}

type Parsed =
  | { kind: "request"; id: string; request: ReplayRequest; timestamp: bigint }
  | { kind: "response"; id: string; payload: Buffer; latencyNs: bigint | undefined }
  | { kind: "ignored" }
  | { kind: "skip"; reason: string };

function show(bytes: Buffer | string, max = 60): string {
  const text = typeof bytes === "string" ? bytes : bytes.toString("latin1");
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

/** One record → a request, an original response (read later, if it is wanted), a record to ignore, or the reason it cannot be replayed. */
function parseRecord(data: Buffer): Parsed {
  const nl = data.indexOf(0x0a);
  const metaBytes = nl < 0 ? data : data.subarray(0, nl);
  const meta = stripCr(metaBytes).toString("latin1");
  const payload = nl < 0 ? Buffer.alloc(0) : data.subarray(nl + 1);
  const fields = meta.split(" ");
  const type = fields[0];
  if (fields.length < 3 || !(type === "1" || type === "2" || type === "3")) {
    return { kind: "skip", reason: `expected a meta line "TYPE ID TIMESTAMP LATENCY" (TYPE 1, 2 or 3), got ${show(meta)}` };
  }
  const id = fields[1] ?? "";
  if (type === "3") return { kind: "ignored" };
  if (type === "2") {
    const latency = fields[3];
    return { kind: "response", id, payload, latencyNs: latency !== undefined && /^\d+$/.test(latency) ? BigInt(latency) : undefined };
  }
  const timestamp = fields[2] ?? "";
  if (!id) return { kind: "skip", reason: `meta line has no request ID: ${show(meta)}` };
  if (!/^\d+$/.test(timestamp)) return { kind: "skip", reason: `meta line has a bad TIMESTAMP ${show(timestamp)} (expected nanoseconds)` };
  const result = parseRequest(payload);
  if (typeof result === "string") return { kind: "skip", reason: result };
  const ns = BigInt(timestamp);
  result.at = Number(ns / 1_000_000n) + Number(ns % 1_000_000n) / 1e6; // ns → ms, exact to the double
  return { kind: "request", id, request: result, timestamp: ns };
}

function stripCr(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, line.length - 1) : line;
}

/** Raw HTTP/1.x request bytes → a request, or the reason it cannot be replayed. */
function parseRequest(payload: Buffer): ReplayRequest | string {
  // Request line, header lines, blank line; lines end in CRLF (a bare LF is tolerated).
  let pos = 0;
  const headerLines: string[] = [];
  let requestLine: string | undefined;
  let sawBlank = false;
  while (pos < payload.length) {
    const nl = payload.indexOf(0x0a, pos);
    const end = nl < 0 ? payload.length : nl;
    const line = stripCr(payload.subarray(pos, end)).toString("utf8");
    pos = nl < 0 ? payload.length : nl + 1;
    if (requestLine === undefined) {
      if (line === "") continue; // tolerate leading empty lines (RFC 9112 §2.2)
      requestLine = line;
      continue;
    }
    if (line === "") {
      sawBlank = true;
      break;
    }
    headerLines.push(line);
  }
  if (requestLine === undefined) return "no HTTP request line after the meta line";
  const body = sawBlank ? payload.subarray(pos) : Buffer.alloc(0);

  const match = /^([^ ]+) ([^ ]+) HTTP\/(\d\.\d)$/.exec(requestLine);
  if (!match) return `expected a request line "METHOD target HTTP/1.x", got ${show(requestLine)}`;
  const [, rawMethod = "", target = "", version = ""] = match;
  if (version !== "1.0" && version !== "1.1") return `unsupported HTTP version HTTP/${version}`;
  const method = rawMethod.toUpperCase();
  if (!METHODS.has(method)) return `expected an HTTP method (${[...METHODS].join(", ")}), got ${show(rawMethod)}`;
  const path = requestTarget(target);
  if (path === undefined) return `expected an origin-form (/path?query) or absolute http(s) request target, got ${show(target)}`;

  // Headers: unfold obsolete line folding, lowercase names, combine repeats.
  const unfolded: string[] = [];
  for (const line of headerLines) {
    if ((line.startsWith(" ") || line.startsWith("\t")) && unfolded.length > 0) {
      unfolded[unfolded.length - 1] += ` ${line.trim()}`;
    } else unfolded.push(line);
  }
  const all = new Map<string, string>();
  for (const line of unfolded) {
    const colon = line.indexOf(":");
    const rawName = colon < 0 ? line : line.slice(0, colon);
    if (/[\r\n\0]/.test(rawName)) return `header ${show(rawName)} contains CR, LF or NUL`;
    if (colon <= 0 || !HTTP_TOKEN.test(rawName)) return `malformed header line ${show(line)}`;
    const name = rawName.toLowerCase();
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (/[\r\n\0]/.test(value)) return `header ${name} contains CR, LF or NUL`;
    const previous = all.get(name);
    all.set(name, previous === undefined ? value : `${previous}${name === "cookie" ? "; " : ", "}${value}`);
  }

  // Body framing: Transfer-Encoding wins over Content-Length (RFC 9112 §6.3).
  let bodyBytes: Buffer = body;
  const transferEncoding = all.get("transfer-encoding");
  const contentLength = all.get("content-length");
  if (transferEncoding !== undefined) {
    const codings = transferEncoding
      .toLowerCase()
      .split(",")
      .map((c) => c.trim())
      .filter((c) => c && c !== "identity");
    if (codings.length === 1 && codings[0] === "chunked") {
      const dechunked = dechunk(body);
      if (typeof dechunked === "string") return `chunked body: ${dechunked}`;
      bodyBytes = dechunked;
    } else if (codings.length > 0) {
      return `unsupported transfer-encoding ${show(transferEncoding)} (only chunked is decoded)`;
    }
  } else if (contentLength !== undefined) {
    const lengths = new Set(contentLength.split(",").map((v) => v.trim()));
    const only = lengths.size === 1 ? [...lengths][0] : undefined;
    if (only === undefined || !/^\d+$/.test(only)) return `bad content-length ${show(contentLength)}`;
    const length = Number(only);
    if (body.length < length) return `body truncated: ${body.length} of ${length} bytes (content-length) recorded`;
    bodyBytes = body.subarray(0, length);
  }
  // Without either header, whatever follows the headers is kept as the body (hand-written files).

  const connectionTokens = connectionListed(all.get("connection"));
  // Object.fromEntries defines own properties, so a header named __proto__ stays a header.
  const headers: Record<string, string> = Object.fromEntries(
    [...all].filter(([name]) => !DROPPED_HEADERS.has(name) && !connectionTokens.has(name)),
  );

  const replay: ReplayRequest = { method, path, headers };
  const absolute = /^(https?):\/\/([^/?#]*)/i.exec(target);
  const scheme = absolute?.[1] ?? "http";
  const host = recordedHost(all.get("host"), scheme) ?? recordedHost(absolute?.[2]?.replace(/^[^@]*@/, ""), scheme);
  if (host !== undefined) replay.host = host;
  if (bodyBytes.length > 0) {
    try {
      replay.body = utf8.decode(bodyBytes);
    } catch {
      return `body is not valid UTF-8 text (${bodyBytes.length} bytes; binary bodies cannot be replayed)`;
    }
  }
  return replay;
}

/**
 * Raw HTTP/1.x response bytes → a recorded response (without latency), or undefined when
 * they are not one. The body, kept only when `keepBody`, is de-chunked and decoded (gzip,
 * deflate, br) and kept only when it is UTF-8 text.
 */
function parseResponse(payload: Buffer, keepBody: boolean): RecordedResponse | undefined {
  const end = payload.indexOf("\r\n\r\n");
  const endLf = payload.indexOf("\n\n");
  const [headEnd, bodyStart] = end >= 0 && (endLf < 0 || end < endLf) ? [end, end + 4] : endLf >= 0 ? [endLf, endLf + 2] : [payload.length, payload.length];
  const lines = payload.subarray(0, headEnd).toString("latin1").split(/\r?\n/);
  while (lines[0] === "") lines.shift();
  const status = /^HTTP\/\d(?:\.\d)? (\d{3})(?: |$)/.exec(lines[0] ?? "");
  if (!status) return undefined;
  const pairs: [string, string][] = [];
  for (const line of lines.slice(1)) {
    if (line === "") continue; // a head cut before its blank line
    if ((line.startsWith(" ") || line.startsWith("\t")) && pairs.length > 0) {
      pairs[pairs.length - 1]![1] += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) return undefined;
    pairs.push([line.slice(0, colon), line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "")]);
  }
  const headers = cleanResponseHeaders(pairs);
  if (typeof headers === "string") return undefined;
  const response: RecordedResponse = { status: Number(status[1]), headers };
  if (keepBody) {
    const body = responseBody(payload.subarray(bodyStart), pairs);
    if (body !== undefined && body !== "") response.body = body;
  }
  return response;
}

/** A response body as text: framed (chunked, Content-Length), decoded; undefined when it cannot be. */
function responseBody(raw: Buffer, pairs: [string, string][]): string | undefined {
  const header = (name: string) => pairs.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v).join(", ");
  let bytes: Buffer = raw;
  const transfer = header("transfer-encoding").toLowerCase();
  if (/\bchunked\b/.test(transfer)) {
    const dechunked = dechunk(raw);
    if (typeof dechunked === "string") return undefined;
    bytes = dechunked;
  } else {
    const length = header("content-length").split(",")[0]?.trim();
    if (length && /^\d+$/.test(length)) bytes = raw.subarray(0, Number(length));
  }
  const coding = header("content-encoding").trim().toLowerCase();
  // a decoded body is bounded (a compression bomb is no body)
  const limit = { maxOutputLength: MAX_DECODED_BODY };
  try {
    if (coding === "gzip" || coding === "x-gzip") bytes = gunzipSync(bytes, limit);
    else if (coding === "br") bytes = brotliDecompressSync(bytes, limit);
    else if (coding === "deflate") {
      try {
        bytes = inflateSync(bytes, limit);
      } catch {
        bytes = inflateRawSync(bytes, limit); // some servers send raw deflate
      }
    } else if (coding !== "" && coding !== "identity") return undefined;
  } catch {
    return undefined; // cut short, too large, or not what the header says
  }
  return utf8Text(bytes);
}

/** Decode a chunked body (chunk extensions and trailers ignored), or the reason it is malformed. */
function dechunk(body: Buffer): Buffer | string {
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const nl = body.indexOf(0x0a, pos);
    if (nl < 0) return "missing the final 0-size chunk (truncated?)";
    const sizeLine = stripCr(body.subarray(pos, nl)).toString("latin1");
    const sizeText = (sizeLine.split(";")[0] ?? "").trim();
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) return `bad chunk size ${show(sizeLine)}`;
    const size = parseInt(sizeText, 16);
    pos = nl + 1;
    if (size === 0) break; // trailers (if any) follow; they are not replayed
    if (pos + size > body.length) return `chunk of ${size} bytes truncated`;
    parts.push(body.subarray(pos, pos + size));
    pos += size;
    if (body[pos] === 0x0d && body[pos + 1] === 0x0a) pos += 2;
    else if (body[pos] === 0x0a) pos += 1;
    else return "chunk data not followed by CRLF";
  }
  return Buffer.concat(parts);
}
