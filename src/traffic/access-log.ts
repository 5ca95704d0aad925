/**
 * Web-server access logs (nginx and Apache "combined", and "common" without the last two
 * fields): method, path and query, referer and user agent. A log has no bodies: a request
 * that needs one (POST, PUT, PATCH) is left out and counted, as is every line that is not a
 * log line. Streamed line by line (`streamAccessLog`; `importAccessLog` collects, in file
 * order). `at` is the logged time (when the request was handled;
 * nginx logs it at the end); the response is the logged status, without headers or body; the
 * host is not logged in these formats.
 */
import type { ReplayRequest } from "../core/ports.js";
import { cleanHeaders, requestTarget, ImportTally, METHODS, type ImportOptions, type ImportResult, type ImportStream } from "./har.js";
import { readLines } from "./lines.js";

/** host ident user [time] "request" status size ["referer" "user-agent"] */
export const ACCESS_LOG_LINE = /^(\S+) \S+ \S+ \[([^\]]+)\] "([^"\\]*(?:\\.[^"\\]*)*)" (\d{3}) (\d+|-)(?: "([^"\\]*(?:\\.[^"\\]*)*)" "([^"\\]*(?:\\.[^"\\]*)*)")?/;

const NEEDS_BODY = new Set(["POST", "PUT", "PATCH"]);

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/** A log time "10/Oct/2000:13:55:36 -0700" as ms since the epoch; undefined when it is not one. */
export function accessLogTime(text: string): number | undefined {
  const m = /^(\d{1,2})\/([A-Za-z]{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))? ([+-])(\d{2}):?(\d{2})$/.exec(text.trim());
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[2]!.toLowerCase());
  if (month < 0) return undefined;
  const [day, year, hour, minute, second] = [m[1], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  const ms = m[7] === undefined ? 0 : Number(m[7].padEnd(3, "0"));
  const offset = (m[8] === "-" ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10])) * 60_000;
  return Date.UTC(year, month, day, hour, minute, second, ms) - offset;
}

/** `options` is taken for symmetry with the other importers: an access log records no response body. */
export async function importAccessLog(file: string, options: ImportOptions = {}): Promise<ImportResult> {
  const stream = streamAccessLog(file, options);
  const requests: ReplayRequest[] = [];
  for await (const request of stream.requests) requests.push(request);
  return { requests, ...stream.summary() };
}

/**
 * The requests of an access log as a stream, in file order (see ImportStream); the errors are
 * importAccessLog's, thrown from the iteration. The summary counts `withoutBody`.
 */
export function streamAccessLog(file: string, options: ImportOptions = {}): ImportStream {
  void options;
  const tally = new ImportTally();
  tally.withoutBody = 0;
  async function* requests(): AsyncGenerator<ReplayRequest> {
    let yielded = 0;
    let lineNo = 0;
    const skip = (reason: string) => tally.skip(lineNo, reason, `${file}:${lineNo}`);
    for await (const line of readLines(file)) {
      lineNo++;
      if (line.trim() === "") continue;
      tally.total++;
      const match = ACCESS_LOG_LINE.exec(line);
      if (!match) {
        skip("not an access-log line (combined or common format)");
        continue;
      }
      const [, , time, requestLine, status, , referer, userAgent] = match;
      const parts = requestLine!.split(" ").map(unescape);
      const method = (parts[0] ?? "").toUpperCase();
      if (parts.length !== 3 || !/^HTTP\/\d(\.\d)?$/.test(parts[2]!)) {
        skip(`expected "METHOD /path HTTP/x.y" in the request field, got ${JSON.stringify(requestLine).slice(0, 80)}`);
        continue;
      }
      if (!METHODS.has(method)) {
        skip(`expected an HTTP method, got ${JSON.stringify(parts[0])}`);
        continue;
      }
      if (NEEDS_BODY.has(method)) {
        tally.withoutBody!++;
        skip(`${method} needs a body, which an access log does not record`);
        continue;
      }
      // raw bytes the log decoded (\xHH) go back on the wire percent-encoded, as a client sends them
      const path = requestTarget(parts[1]!.replace(/[^\x21-\x7e]+/g, (run) => encodeURIComponent(run)));
      if (path === undefined) {
        skip(`expected a path starting with / or an http(s) URL, got ${JSON.stringify(parts[1]).slice(0, 80)}`);
        continue;
      }
      const pairs: [string, string][] = [];
      if (userAgent !== undefined && userAgent !== "-") pairs.push(["user-agent", unescape(userAgent)]);
      if (referer !== undefined && referer !== "-") pairs.push(["referer", unescape(referer)]);
      const headers = cleanHeaders(pairs);
      if (typeof headers === "string") {
        skip(headers);
        continue;
      }
      const request: ReplayRequest = { method, path, headers };
      const at = accessLogTime(time!);
      if (at !== undefined) request.at = at;
      request.response = { status: Number(status), headers: {} };
      yielded++;
      yield request;
    }
    if (yielded === 0) throw tally.noneReplayable(file, "the access log", (skip) => `line ${skip.index}`, tally.total === 0 ? "the file has no line" : "");
  }
  return { requests: requests(), summary: () => tally.summary() };
}

/**
 * nginx escapes " and \ and non-printable bytes as \xHH (Apache likewise): the bytes of a run
 * of \xHH are one UTF-8 sequence ("caf\xC3\xA9" is "café").
 */
function unescape(text: string): string {
  return text.replace(/(?:\\x[0-9a-fA-F]{2})+|\\(["\\])/g, (match: string, ch: string | undefined) =>
    ch !== undefined ? ch : Buffer.from(match.split("\\x").slice(1).map((hex) => parseInt(hex, 16))).toString("utf8"),
  );
}
