/**
 * The check run's output: a pure function of the results document, within GitHub's limits
 * (title 255 characters, summary and text 65,535 each).
 */
import type { ResultsDoc } from "../results/schema.js";
import { formatPrediction, truncate } from "./format.js";
import {
  comparisonSection,
  failuresSection,
  fitSections,
  modelParagraph,
  modelTrustLine,
  otherReasons,
  recommendationLine,
  runFacts,
  shrinkComparison,
  shrinkFailures,
  shrinkTrials,
  sloWarnings,
  trialsFootnote,
  trialsTable,
  trialsTitle,
  unresolvedList,
  verdictSection,
  verdictWord,
  type Section,
} from "./markdown.js";

export const CHECK_TITLE_MAX = 255;
export const CHECK_OUTPUT_MAX = 65_535;

export type CheckConclusion = "success" | "failure" | "neutral";

export interface CheckAnnotation {
  path: string;
  start_line: number;
  end_line: number;
  annotation_level: "notice" | "warning" | "failure";
  title: string;
  message: string;
}

export interface CheckRunOutput {
  title: string;
  summary: string;
  text: string;
  conclusion: CheckConclusion;
  /** all of them; GitHub takes 50 per request, the caller sends the rest in updates */
  annotations: CheckAnnotation[];
}

/**
 * The verdict as a check conclusion: pass → success, fail → failure, warn → neutral. A warning
 * is the model's prediction that the current configuration will (or may) breach an SLO; no
 * measurement breached one, so it should be seen (a grey check, not a green one) without
 * blocking the merge. GitHub counts neutral as passing for required checks.
 */
export function checkConclusion(status: ResultsDoc["verdict"]["status"]): CheckConclusion {
  return status === "pass" ? "success" : status === "fail" ? "failure" : "neutral";
}

/**
 * Title: the verdict and its first reason. Summary: verdict, reasons, SLO warnings, the
 * recommendation, current vs recommended, the model's trust. Text: the trials, failures and
 * run facts. Both cut down like the PR comment when too long. One annotation per suggested
 * edit, on its line: a warning when the verdict fails or an SLO warning exists, else a notice.
 */
export function renderCheckRun(doc: ResultsDoc, options: { name?: string } = {}): CheckRunOutput {
  const name = options.name ?? "Shadowgate";
  const { emoji, word } = verdictWord(doc);
  const reason = doc.verdict.reasons[0];
  const title = truncate(`${emoji} ${word}${reason ? ` — ${oneLine(reason)}` : ""}`, CHECK_TITLE_MAX);

  const fit = { maxLength: CHECK_OUTPUT_MAX, limit: "GitHub's check-run limit", seeAlso: "the job summary or the results file" };
  const summarySections: Section[] = [
    { name: "verdict", ...verdictSection(doc, "") },
    { name: "further reasons", text: otherReasons(doc), drop: 7 },
    { name: "SLO warnings", text: sloWarnings(doc), drop: 9 },
    { name: "recommendation", text: recommendationLine(doc), drop: 8 },
    {
      name: "comparison table",
      text: comparisonSection(doc, "###", undefined, true),
      drop: 5,
      shrink: (budget, measure) => shrinkComparison(doc, "###", budget, measure, true),
    },
    { name: "model trust", text: modelTrustLine(doc), drop: 6 },
    { name: "parameters without a line to edit", text: unresolved(doc), drop: 4 },
  ];
  const textSections: Section[] = [
    {
      name: "trials table",
      text: trials(doc),
      drop: 1,
      shrink: (budget, measure) => shrinkTrials(doc, budget, measure, (keep) => trials(doc, keep)),
    },
    { name: "failures", text: failuresSection(doc), drop: 2, shrink: (budget, measure) => shrinkFailures(doc, budget, measure) },
    { name: "run facts", text: `### Run\n\n${runFacts(doc)}\n- Model: ${modelParagraph(doc)}`, drop: 3 },
  ];

  const level = doc.verdict.status === "fail" || doc.sloWarnings.length > 0 ? "warning" : "notice";
  const { kpi } = doc.objective;
  const predicted = `${kpi} predicted ${formatPrediction(kpi, doc.recommended.predicted[kpi])} vs ${formatPrediction(kpi, doc.current.predicted[kpi])} now`;
  const annotations = doc.suggestion.edits.map((edit): CheckAnnotation => {
    // an edit names several parameters, joined by ",", when they share the line
    const changes = edit.parameter
      .split(",")
      .map((p) => `${p} ${oneLine(String(doc.current.config[p] ?? "–"))} → ${oneLine(String(doc.recommended.config[p] ?? "–"))}`)
      .join(", ");
    return {
      path: edit.path,
      start_line: edit.line,
      end_line: edit.line,
      annotation_level: level,
      title: truncate(`${oneLine(name)}: recommended ${changes}`, CHECK_TITLE_MAX),
      message: truncate(`Recommended ${changes}: ${predicted} (for the whole recommended configuration). Replace\n${edit.before}\nwith\n${edit.after}`, 4_000),
    };
  });

  return {
    title,
    summary: fitSections(summarySections, fit),
    text: fitSections(textSections, fit),
    conclusion: checkConclusion(doc.verdict.status),
    annotations,
  };
}

function trials(doc: ResultsDoc, keep?: ReadonlySet<number>): string {
  if (doc.trials.length === 0) return "";
  return `### ${trialsTitle(doc, keep)}\n\n${trialsTable(doc, { keep, compact: true })}\n\n${trialsFootnote(doc)}`;
}

function unresolved(doc: ResultsDoc): string {
  const list = unresolvedList(doc);
  return list === "" ? "" : `Changed parameters without a line to edit in the repository:\n${list}`;
}

/** Titles are plain text on one line. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ");
}
