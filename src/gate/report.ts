/**
 * The gate's result as the CLI prints it (markdown table + verdict) and as its JSON file
 * (`{"verdict", "kpis": [{"name", "ratio", "ci", "verdict"}], …}`).
 */
import { markdownTable } from "markdown-table";
import { describeConfig, escapeText, formatMeasured } from "../report/format.js";
import { mockLine } from "../report/markdown.js";
import type { MockSummary } from "../pipeline.js";
import { diffJson, renderDiffMarkdown, type DiffJson } from "../diff/render.js";
import { formatPercent, type GateResult } from "./run-gate.js";

const ICON = { pass: "✅", fail: "❌", inconclusive: "⚠️" } as const;

/** Finds the gate's sticky PR comment (apart from the run's, which has its own marker). */
export function gateCommentMarker(workload: string): string {
  return `<!-- shadowgate:gate:workload=${workload.replace(/[^A-Za-z0-9_.-]/g, "_")} -->`;
}

export function renderGate(result: GateResult, workload: string): string {
  const { settings } = result;
  const conf = formatPercent(Number(result.intervalLevel.toFixed(4)));
  const lines = [`## Shadowgate gate: ${workload} — ${ICON[result.verdict]} ${result.verdict}${result.aa ? " (A/A: the base against itself)" : ""}`, ""];
  if (result.verdict === "inconclusive") {
    lines.push(`The step ${result.outcome === "fail" ? "fails" : "passes with a warning"} (gate.inconclusive: ${settings.inconclusive}).`, "");
  }
  for (const reason of result.reasons) lines.push(`- ${reason}`);
  if (result.kpis.length > 0) {
    lines.push(
      "",
      markdownTable([
        ["KPI", "base (median ± sd over pairs)", "head", "head / base", `${conf} interval`, "verdict"],
        ...result.kpis.map((k) => [
          k.name,
          formatMeasured(k.name, k.base.median, k.base.sd),
          formatMeasured(k.name, k.head.median, k.head.sd),
          `×${k.ratio.toFixed(3)}`,
          `${k.ci[0].toFixed(3)}–${k.ci[1].toFixed(3)}`,
          `${ICON[k.verdict]} ${k.verdict}`,
        ]),
      ]),
    );
  }
  lines.push(
    "",
    `- Rounds: ${result.rounds.length} × ${(settings.roundMs / 1000).toFixed(0)} s, ${result.mode}, on ${result.blocks} pair${result.blocks === 1 ? "" : "s"} of fresh shadows; ${(result.loadMs / 1000).toFixed(0)} s of load (budget ${(settings.budgetMs / 1000).toFixed(0)} s); a KPI fails when head is worse for sure and possibly by ${formatPercent(settings.regression)} or more, and passes when ${formatPercent(settings.regression)} is ruled out (${conf} intervals${result.looks > 1 ? `: ${formatPercent(settings.confidence)} overall over up to ${result.looks} looks, Pocock` : ""}).`,
    `- Configuration (both sides): ${describeConfig(result.configuration)}`,
    `- Images: base ${result.images.base}, head ${result.images.head}`,
  );
  if (Number.isFinite(result.failing.base)) {
    lines.push(`- Failed or non-2xx answers: base ${(result.failing.base * 100).toFixed(1)}%, head ${(result.failing.head * 100).toFixed(1)}%`);
  }
  for (const warning of result.noiseWarnings) lines.push(`- ⚠️ Noise: ${warning}`);
  for (const mock of result.mocks ?? []) lines.push(mockLine(mock));
  if (result.diff) {
    lines.push("", "### Responses", "");
    lines.push("report" in result.diff ? renderDiffMarkdown(result.diff.report) : `Responses: not compared (${escapeText(result.diff.error)})`);
  }
  return lines.join("\n");
}

export interface GateJson {
  verdict: GateResult["verdict"];
  outcome: GateResult["outcome"];
  aa: boolean;
  mode: GateResult["mode"];
  reasons: string[];
  noise_warnings: string[];
  kpis: { name: string; ratio: number; ci: [number | null, number | null]; verdict: string; base_median: number; base_sd: number; head_median: number; head_sd: number; noise: number; blocks: number }[];
  rounds: number;
  blocks: number;
  load_ms: number;
  looks: number;
  interval_level: number;
  regression: number;
  confidence: number;
  images: { base: string; head: string };
  configuration: GateResult["configuration"];
  failing: { base: number | null; head: number | null };
  /** what each external-API mock served during the rounds */
  mocks: MockSummary[];
  /** the response diff, when gate.diff is on: the report, or why it did not run */
  diff?: (DiffJson & { fails: boolean; requests: number }) | { error: string };
}

export function gateJson(result: GateResult): GateJson {
  const finite = (x: number) => (Number.isFinite(x) ? x : null);
  return {
    verdict: result.verdict,
    outcome: result.outcome,
    aa: result.aa,
    mode: result.mode,
    reasons: result.reasons,
    noise_warnings: result.noiseWarnings,
    kpis: result.kpis.map((k) => ({
      name: k.name,
      ratio: k.ratio,
      ci: [finite(k.ci[0]), finite(k.ci[1])],
      verdict: k.verdict,
      base_median: k.base.median,
      base_sd: k.base.sd,
      head_median: k.head.median,
      head_sd: k.head.sd,
      noise: k.noise,
      blocks: k.observations,
    })),
    rounds: result.rounds.length,
    blocks: result.blocks,
    load_ms: result.loadMs,
    looks: result.looks,
    interval_level: result.intervalLevel,
    regression: result.settings.regression,
    confidence: result.settings.confidence,
    images: result.images,
    configuration: result.configuration,
    failing: { base: finite(result.failing.base), head: finite(result.failing.head) },
    mocks: result.mocks ?? [],
    ...(result.diff
      ? { diff: "report" in result.diff ? { ...diffJson(result.diff.report), fails: result.diff.fails, requests: result.diff.requests } : { error: result.diff.error } }
      : {}),
  };
}
