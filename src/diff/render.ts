/**
 * The response diff as a short section of the PR comment, and as its part of the JSON results
 * file. Pure code. Routes, paths and values come from the workload's answers to recorded
 * traffic: every one of them goes into markdown through a code span (report/format.ts), which
 * shows HTML as text, keeps backticks and pipes from ending anything, and is not scanned for
 * @mentions.
 */
import { inlineCode } from "../report/format.js";
import type { DiffExample, DiffReport, FieldDiff } from "./compare.js";

export interface RenderDiffOptions {
  /** table rows shown; the rest are counted (the JSON results have them all). Default 20 */
  maxRows?: number;
  /** noisy field names named in the verdict line; default 3 */
  maxNoisyNames?: number;
}

/** A one-line verdict, then a table of the differences when there are any. */
export function renderDiffMarkdown(report: DiffReport, options: RenderDiffOptions = {}): string {
  const maxRows = options.maxRows ?? 20;
  const maxNames = options.maxNoisyNames ?? 3;
  if (report.routes.length === 0) return "Responses: not compared (no requests sampled)";

  const noisy = [...new Set(report.routes.flatMap((r) => r.ignored.filter((f) => f.reason === "noise").map((f) => f.path)))].sort();
  const named = noisy.slice(0, maxNames).map((path) => inlineCode(path));
  const noiseNote = noisy.length === 0 ? "" : `${plural(noisy.length, "noisy field")} ignored: ${named.join(", ")}${noisy.length > maxNames ? ", …" : ""}`;
  const routes = plural(report.routes.length, "route");

  if (report.verdict === "same") return `Responses: same as base on ${routes}${noiseNote ? ` (${noiseNote})` : ""}`;

  const differing = report.routes.filter((r) => r.status.reported || r.fields.length > 0).length;
  const lines = [`Responses: ${plural(report.differences, "difference")} on ${plural(differing, "route")} (${report.routes.length} compared${noiseNote ? `; ${noiseNote}` : ""})`, ""];
  const rows: string[][] = [];
  for (const route of report.routes) {
    const cell = (text: string) => inlineCode(text, { inTable: true });
    if (route.status.reported && route.status.example) {
      rows.push([cell(route.route), "status", percent(route.status.diffRate), percent(route.status.noiseRate), exampleCell(route.status.example)]);
    }
    for (const field of route.fields) {
      rows.push([cell(route.route), fieldCell(field), percent(field.diffRate), percent(field.noiseRate), exampleCell(field.example, field.path)]);
    }
  }
  lines.push("| route | field | head differs in | noise (base vs base) | example: base → head |", "|---|---|---|---|---|");
  for (const row of rows.slice(0, maxRows)) lines.push(`| ${row.join(" | ")} |`);
  if (rows.length > maxRows) lines.push("", `…and ${plural(rows.length - maxRows, "more difference")} in the JSON results.`);
  return lines.join("\n");
}

/** The report for the JSON results file: snake_case, rates rounded to 4 decimals. */
export interface DiffJson {
  verdict: DiffReport["verdict"];
  requests: number;
  differences: number;
  noisy_fields: number;
  thresholds: DiffReport["thresholds"];
  routes: {
    route: string;
    requests: number;
    compared: number;
    status: { diff_rate: number; noise_rate: number; reported: boolean; example: DiffExample | null };
    fields: { path: string; kind: FieldDiff["kind"]; diff_rate: number; noise_rate: number; types: FieldDiff["types"] | null; example: DiffExample }[];
    ignored: { path: string; reason: "noise" | "threshold"; diff_rate: number; noise_rate: number }[];
  }[];
}

export function diffJson(report: DiffReport): DiffJson {
  return {
    verdict: report.verdict,
    requests: report.requests,
    differences: report.differences,
    noisy_fields: report.noisyFields,
    thresholds: report.thresholds,
    routes: report.routes.map((r) => ({
      route: r.route,
      requests: r.requests,
      compared: r.compared,
      status: { diff_rate: round(r.status.diffRate), noise_rate: round(r.status.noiseRate), reported: r.status.reported, example: r.status.example ?? null },
      fields: r.fields.map((f) => ({ path: f.path, kind: f.kind, diff_rate: round(f.diffRate), noise_rate: round(f.noiseRate), types: f.types ?? null, example: f.example })),
      ignored: r.ignored.map((f) => ({ path: f.path, reason: f.reason, diff_rate: round(f.diffRate), noise_rate: round(f.noiseRate) })),
    })),
  };
}

function fieldCell(field: FieldDiff): string {
  const path = inlineCode(field.path, { inTable: true });
  return field.kind === "type" && field.types ? `${path} (type ${field.types.base} → ${field.types.head})` : path;
}

/** `GET /x`: `1` → `2`, with the concrete path when it says more than the field (an index). */
function exampleCell(example: DiffExample, fieldPath?: string): string {
  const code = (text: string) => inlineCode(text, { inTable: true });
  const where = example.path !== undefined && example.path !== fieldPath ? ` ${code(example.path)}` : "";
  return `${code(example.request)}${where}: ${code(example.base)} → ${code(example.head)}`;
}

function percent(rate: number): string {
  const value = rate * 100;
  return `${value > 0 && value < 10 ? Number(value.toFixed(1)) : Math.round(value)}%`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function round(x: number): number {
  return Number(x.toFixed(4));
}
