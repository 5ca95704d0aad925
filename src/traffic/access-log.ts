/**
 * Web-server access logs (nginx and Apache "combined", and "common" without the last two
 * fields): method, path and query, referer and user agent. A log has no bodies: a request
 * that needs one (POST, PUT, PATCH) is left out and counted, as is every line that is not a
 * log line. Streamed line by line.
 */
import type { ReplayRequest } from "../core/ports.js";
import { cleanHeaders, requestTarget, TrafficError, METHODS, type ImportResult } from "./har.js";
import { readLines } from "./lines.js";

/** host ident user [time] "request" status size ["referer" "user-agent"] */
export const ACCESS_LOG_LINE = /^(\S+) \S+ \S+ \[([^\]]+)\] "([^"\\]*(?:\\.[^"\\]*)*)" (\d{3}) (\d+|-)(?: "([^"\\]*(?:\\.[^"\\]*)*)" "([^"\\]*(?:\\.[^"\\]*)*)")?/;

const NEEDS_BODY = new Set(["POST", "PUT", "PATCH"]);

export async function importAccessLog(file: string): Promise<ImportResult> {
  const requests: ReplayRequest[] = [];
  const skipped: ImportResult["skipped"] = [];
  let skippedCount = 0;
  let withoutBody = 0;
  let total = 0;
  let lineNo = 0;
  const skip = (reason: string) => {
    skippedCount++;
    if (skipped.length < 20) skipped.push({ index: lineNo, reason, where: `${file}:${lineNo}` });
  };
  for await (const line of readLines(file)) {
    lineNo++;
    if (line.trim() === "") continue;
    total++;
    const match = ACCESS_LOG_LINE.exec(line);
    if (!match) {
      skip("not an access-log line (combined or common format)");
      continue;
    }
    const [, , , requestLine, , , referer, userAgent] = match;
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
      withoutBody++;
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
    requests.push({ method, path, headers });
  }
  if (requests.length === 0) {
    const why = skipped[0] ? ` (line ${skipped[0].index}: ${skipped[0].reason})` : total === 0 ? " (the file has no line)" : "";
    throw new TrafficError(`${file}: no replayable request in the access log${why}`);
  }
  return { requests, total, skipped, skippedCount, withoutBody };
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
