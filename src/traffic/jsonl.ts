/**
 * JSON Lines importer: one recorded request per line, in Shadowgate's own schema (docs in
 * README, "Recorded traffic"):
 *
 *   {"timestamp": "2026-11-29T10:00:00.123Z" | epoch ms, "method": "POST",
 *    "url": "/api/quote?x=1" (or absolute: only path and query are kept),
 *    "headers": {"content-type": "application/json"} (or [[name, value], …]),
 *    "body": "…", "bodyEncoding": "utf8" | "base64",
 *    "response": {"status": 200, "headers": {…}, "body": "…", "bodyEncoding": "…"}}  (optional)
 *
 * Streamed line by line; a bad line is skipped and counted with its line number.
 */
import type { ReplayRequest } from "../core/ports.js";
import { cleanHeaders, requestTarget, TrafficError, METHODS, type ImportResult } from "./har.js";
import { readLines } from "./lines.js";

export async function importJsonl(file: string): Promise<ImportResult> {
  const entries: { at: number; order: number; request: ReplayRequest }[] = [];
  const skipped: ImportResult["skipped"] = [];
  let skippedCount = 0;
  let total = 0;
  let lineNo = 0;
  for await (const line of readLines(file)) {
    lineNo++;
    if (line.trim() === "" || line.startsWith("#")) continue;
    total++;
    const result = parseLine(line);
    if (typeof result === "string") {
      skippedCount++;
      if (skipped.length < 20) skipped.push({ index: lineNo, reason: result, where: `${file}:${lineNo}` });
    } else entries.push({ ...result, order: entries.length });
  }
  if (entries.length === 0) {
    const why = skipped[0] ? ` (line ${skipped[0].index}: ${skipped[0].reason})` : total === 0 ? " (the file has no line)" : "";
    throw new TrafficError(`${file}: no replayable request in the JSON Lines${why}`);
  }
  // in recorded order: a line without a timestamp keeps its place after the line before it
  let previous = -Infinity;
  for (const entry of entries) {
    if (Number.isNaN(entry.at)) entry.at = previous;
    else previous = entry.at;
  }
  entries.sort((a, b) => a.at - b.at || a.order - b.order);
  return { requests: entries.map((e) => e.request), total, skipped, skippedCount };
}

function parseLine(line: string): { at: number; request: ReplayRequest } | string {
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
  const pairs: [string, string][] = [];
  if (Array.isArray(d.headers)) {
    for (const h of d.headers) if (Array.isArray(h) && typeof h[0] === "string" && typeof h[1] === "string") pairs.push([h[0], h[1]]);
  } else if (typeof d.headers === "object" && d.headers !== null) {
    for (const [name, value] of Object.entries(d.headers)) if (typeof value === "string") pairs.push([name, value]);
  } else if (d.headers !== undefined) return "headers: expected an object or a list of [name, value]";
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
  return { at: d.timestamp === undefined ? NaN : at, request };
}
