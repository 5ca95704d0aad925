/**
 * The sticky PR comment: a pure function of the results document. It always fits GitHub's
 * body limit (65,536 characters): detail goes first, the marker and the verdict never.
 */
import type { ResultsDoc } from "../results/schema.js";
import { renderSweepSection } from "./chart.js";
import { codeFence, escapeText } from "./format.js";
import {
  comparisonSection,
  failuresSection,
  fitSections,
  largestFitting,
  modelParagraph,
  modelTrustLine,
  otherReasons,
  recommendationLine,
  runFacts,
  shrinkComparison,
  shrinkFailures,
  shrinkTrials,
  sloWarnings,
  foresightSection,
  trialsFootnote,
  trialsTable,
  trialsTitle,
  unresolvedList,
  verdictSection,
  type Section,
  type Shrunk,
} from "./markdown.js";

/** GitHub answers 422 "Body is too long" above this many characters. */
export const COMMENT_MAX_LENGTH = 65_536;

export interface CommentOptions {
  /** the hidden HTML comment that finds this comment again, e.g. `<!-- shadowgate:workload=orders-api -->` */
  marker: string;
  /** unified diff of the suggested change, shown when the suggestions could not be placed as review comments */
  diff?: string;
  /** one line each, e.g. "Suggestions posted as a review", "The token is read-only" */
  notes?: string[];
  /** default `COMMENT_MAX_LENGTH` */
  maxLength?: number;
}

/** The hidden marker that finds the sticky comment again: one comment per workload per PR. */
export function commentMarker(workload: string): string {
  return `<!-- shadowgate:workload=${workload.replace(/[^A-Za-z0-9_.-]/g, "_")} -->`;
}

/**
 * The comment, in this order: marker, verdict (emoji, the first reason), the other reasons,
 * SLO warnings, the recommendation, current vs recommended, the model's trust, the chart,
 * the diff, notes, the trials (folded), failures, run facts (folded).
 *
 * When it does not fit `maxLength`, detail goes in this order: the trials table (shortened
 * to the anchors and the best trials if that fits), failures, run facts, the chart, the
 * parameters without a line to edit, the diff (shortened, with a note), comparison rows,
 * the model's trust, the other reasons, the recommendation, SLO warnings, notes. The marker
 * and the verdict always stay (the verdict's reason is cut short as a last resort); a last
 * line says what was left out.
 */
export function renderComment(doc: ResultsDoc, options: CommentOptions): string {
  const marker = options.marker.trim();
  if (!/^<!--[\s\S]*-->$/.test(marker) || marker.slice(4, -3).includes("-->")) {
    throw new Error(`renderComment: marker: expected one HTML comment like <!-- shadowgate:workload=name -->, got ${JSON.stringify(options.marker.slice(0, 80))}`);
  }
  const sections: Section[] = [
    { name: "marker", text: marker },
    { name: "verdict", ...verdictSection(doc, `### Shadowgate · ${escapeText(doc.workload)}`) },
    { name: "further reasons", text: otherReasons(doc), drop: 7 },
    { name: "SLO warnings", text: sloWarnings(doc), drop: 9 },
    { name: "recommendation", text: recommendationLine(doc), drop: 8 },
    { name: "foresight", text: foresightSection(doc, "####"), drop: 7.5 },
    {
      name: "comparison table",
      text: comparisonSection(doc, "####", undefined, true),
      drop: 5,
      shrink: (budget, measure) => shrinkComparison(doc, "####", budget, measure, true),
    },
    { name: "model trust", text: modelTrustLine(doc), drop: 6 },
    { name: "chart", text: renderSweepSection(doc, "####") ?? "", drop: 3 },
    { name: "diff", text: diffSection(options.diff), drop: 4, shrink: (budget, measure) => shrinkDiff(options.diff, budget, measure) },
    { name: "parameters without a line to edit", text: unresolvedSection(doc), drop: 3.5 },
    { name: "notes", text: notesSection(options.notes), drop: 10 },
    {
      name: "trials table",
      text: trialsDetails(doc),
      drop: 1,
      shrink: (budget, measure) => shrinkTrials(doc, budget, measure, (keep) => trialsDetails(doc, keep)),
    },
    { name: "failures", text: failuresSection(doc), drop: 2, shrink: (budget, measure) => shrinkFailures(doc, budget, measure) },
    { name: "run facts", text: runDetails(doc), drop: 2.5 },
  ];
  return fitSections(sections, {
    maxLength: options.maxLength ?? COMMENT_MAX_LENGTH,
    limit: "GitHub's comment limit",
    seeAlso: "the job summary or the results file",
  });
}

function trialsDetails(doc: ResultsDoc, keep?: ReadonlySet<number>): string {
  if (doc.trials.length === 0) return "";
  return details(trialsTitle(doc, keep), `${trialsTable(doc, { keep, compact: true })}\n\n${trialsFootnote(doc)}`);
}

function runDetails(doc: ResultsDoc): string {
  return details("Run facts", `${runFacts(doc)}\n- Model: ${modelParagraph(doc)}`);
}

/**
 * A folded block. Our own `<summary>` text only; the body is markdown whose document strings
 * are escaped, so nothing inside can close the block.
 */
function details(summary: string, body: string): string {
  return `<details><summary>${escapeText(summary)}</summary>\n\n${body}\n\n</details>`;
}

function diffSection(diff: string | undefined, keep?: number): string {
  if (diff === undefined || diff.trim() === "") return "";
  const lines = diff.replace(/\r\n?/g, "\n").replace(/\n+$/, "").split("\n");
  const shown = keep === undefined ? lines : lines.slice(0, keep);
  const trimmed = shown.length < lines.length ? `\n\n_Diff trimmed: ${shown.length} of ${lines.length} lines shown._` : "";
  return `#### Suggested change\n\n${codeFence(shown.join("\n"), "diff")}${trimmed}`;
}

function shrinkDiff(diff: string | undefined, budget: number, measure: (text: string) => number): Shrunk | undefined {
  if (diff === undefined) return undefined;
  const total = diff.replace(/\n+$/, "").split(/\r\n?|\n/).length;
  const fit = largestFitting(total - 1, (k) => diffSection(diff, k), budget, measure);
  return fit && { text: fit.text, note: `trimmed to ${fit.k} of ${total} lines` };
}

function unresolvedSection(doc: ResultsDoc): string {
  const list = unresolvedList(doc);
  return list === "" ? "" : `Changed parameters without a line to edit in the repository:\n${list}`;
}

function notesSection(notes: readonly string[] | undefined): string {
  return (notes ?? []).map((note) => `- ℹ️ ${escapeText(note)}`).join("\n");
}
