import { describe, expect, it } from "vitest";
import { renderComment, COMMENT_MAX_LENGTH } from "../../src/report/comment.js";
import { renderSweepChart } from "../../src/report/chart.js";
import { renderCheckRun } from "../../src/report/check.js";
import { renderReport } from "../../src/report/markdown.js";
import { escapeCell, escapeText } from "../../src/report/format.js";
import type { ResultsDoc } from "../../src/results/schema.js";
import { resultsSchema } from "../../src/results/schema.js";
import { sampleManyTrials, samplePrediction, sampleResults } from "../helpers/sample-results.js";

const MARKER = "<!-- shadowgate:workload=orders-api -->";
const DIFF = [
  "--- a/fixtures/example/shadowgate.yml",
  "+++ b/fixtures/example/shadowgate.yml",
  "@@ -21 +21 @@",
  "-current: { WORKER_POOL: 4, CACHE_SIZE: 128, BATCH_SIZE: 8, cpus: 2 }",
  "+current: { WORKER_POOL: 2, CACHE_SIZE: 1024, BATCH_SIZE: 8, cpus: 2 }",
].join("\n");

/** Fenced blocks of a markdown text: their info strings; fails on a fence left open. */
function fences(markdown: string): string[] {
  const infos: string[] = [];
  let open: number | undefined;
  for (const line of markdown.split("\n")) {
    if (open === undefined) {
      const m = /^(`{3,})(.*)$/.exec(line);
      if (m) {
        open = m[1]!.length;
        infos.push(m[2]!.trim());
      }
    } else if (new RegExp(`^\`{${open},}\\s*$`).test(line)) open = undefined;
  }
  expect(open, "a code fence is left open").toBeUndefined();
  return infos;
}

/** Lines outside fenced blocks. */
function outsideFences(markdown: string): string[] {
  const out: string[] = [];
  let open: number | undefined;
  for (const line of markdown.split("\n")) {
    if (open === undefined) {
      const m = /^(`{3,})/.exec(line);
      if (m) open = m[1]!.length;
      else out.push(line);
    } else if (new RegExp(`^\`{${open},}\\s*$`).test(line)) open = undefined;
  }
  return out;
}

const unescapedPipes = (row: string) => row.match(/(?<!\\)\|/g)?.length ?? 0;

/** Every table row has as many cell separators as its header. */
function expectWellFormedTables(markdown: string): void {
  const lines = outsideFences(markdown);
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith("|") || (i > 0 && lines[i - 1]!.startsWith("|"))) continue;
    const width = unescapedPipes(lines[i]!);
    for (let j = i; j < lines.length && lines[j]!.startsWith("|"); j++) expect(unescapedPipes(lines[j]!), lines[j]).toBe(width);
  }
}

describe("PR comment", () => {
  it("has the marker first, then the verdict, the comparison, the chart, the diff and the folded trials", () => {
    const body = renderComment(sampleResults(), { marker: MARKER, diff: DIFF, notes: ["Suggestions could not be placed on the PR's diff"] });
    expect(body.startsWith(`${MARKER}\n`)).toBe(true);
    const order = [
      "✅ **Pass** — Every SLO is met",
      "**Recommended: `WORKER_POOL` 4 → 2, `CACHE_SIZE` 128 → 1024**",
      "#### Current vs recommended",
      "**Model trust** (cross-validated error, ≤ 15% good, ≤ 30% fair): p99 ±12% (good)",
      "```mermaid",
      "```diff\n--- a/fixtures/example/shadowgate.yml",
      "- ℹ️ Suggestions could not be placed on the PR's diff",
      "<details><summary>Trials in this run (8)</summary>",
      "**1 trial(s) failed**",
      "<details><summary>Run facts</summary>",
      "- Search: the agent chose space filling (Latin hypercube) ×1, model-guided (expected improvement) ×1; last because mean reward 0.61",
    ].map((needle) => body.indexOf(needle));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(body).toMatch(/\| p99 \(objective\) \| 45\.3 ms \(40\.8–49\.8\) \| 28\.4 ms \(25\.6–31\.2\) \| 45 ms ± 3\.15 \|/);
    expect(body).toContain("non-2xx ±41% (poor)");
    expect(fences(body)).toEqual(["mermaid", "diff"]);
    expect(body).not.toContain("to fit GitHub's comment limit");
  });

  it("leaves out the diff block when none is given, and says nothing about limits when all fits", () => {
    const body = renderComment(sampleResults(), { marker: MARKER });
    expect(fences(body)).toEqual(["mermaid"]);
    expect(body).not.toContain("Suggested change");
  });

  it("shows a failing verdict and SLO warnings", () => {
    const body = renderComment(
      sampleResults({
        verdict: { status: "fail", reasons: ["The current configuration breaches an SLO: latency.p99 measured 72 ms against the SLO ≤ 60 ms."] },
        sloWarnings: [{ kpi: "errors.rate", limit: 0.01, predicted: samplePrediction(0.012), certainty: "possible" }],
      }),
      { marker: MARKER },
    );
    expect(body).toContain("❌ **Fail** — The current configuration breaches an SLO: latency.p99 measured 72 ms against the SLO ≤ 60 ms.");
    expect(body).toContain("> [!WARNING]\n> The current configuration is at risk of breaching the SLO errors.rate ≤ 1%");
  });

  it("stays within GitHub's limit with 1,000 trials, trimming the trials table and saying so", () => {
    const doc = sampleResults({ trials: sampleManyTrials(1000) });
    const body = renderComment(doc, { marker: MARKER, diff: DIFF });
    expect(body.length).toBeLessThanOrEqual(COMMENT_MAX_LENGTH);
    expect(body.startsWith(MARKER)).toBe(true);
    expect(body).toContain("✅ **Pass**");
    expect(body).toContain("```mermaid");
    expect(body).toMatch(/<details><summary>Trials in this run \(showing \d+ of 1000: the anchors and the best by p99\)<\/summary>/);
    expect(body).toMatch(/_… trials table trimmed to \d+ of 1000 trials to fit GitHub's comment limit; see the job summary or the results file\._\n$/);
    // the anchors are kept
    expect(body).toContain("| 1 ★ |");
    expect(body).toContain("| 1000 ★ |");
    expect(body.length).toBeGreaterThan(COMMENT_MAX_LENGTH * 0.9); // the room is used
    fences(body);
    expectWellFormedTables(body);
  });

  it("keeps the marker and the verdict at 3,000 characters and says what was left out", () => {
    const doc = sampleResults({ trials: sampleManyTrials(1000) });
    const body = renderComment(doc, { marker: MARKER, diff: DIFF, maxLength: 3_000 });
    expect(body.length).toBeLessThanOrEqual(3_000);
    expect(body.startsWith(MARKER)).toBe(true);
    expect(body).toContain("✅ **Pass** — Every SLO is met");
    expect(body).toContain("trials table omitted");
    expect(body).toContain("to fit GitHub's comment limit; see the job summary or the results file.");
    expect(body).not.toContain("<details><summary>Trials");
    fences(body);
  });

  it("fits any limit down to the marker and a cut verdict, and refuses a limit shorter than the marker", () => {
    const failures = Array.from({ length: 1000 }, (_, i) => ({ config: { WORKER_POOL: i }, error: `boom ${"x".repeat(1500)}` }));
    const doc = sampleResults({
      trials: sampleManyTrials(1000),
      failures,
      verdict: { status: "fail", reasons: [`The current configuration breaches an SLO: ${"very ".repeat(190)}long.`, ...Array.from({ length: 49 }, () => "r".repeat(1000))] },
    });
    const diff = Array.from({ length: 5000 }, (_, i) => `+line ${i}`).join("\n");
    for (const maxLength of [250, 400, 1_000, 2_000, 3_000, 10_000, 30_000, COMMENT_MAX_LENGTH]) {
      const body = renderComment(doc, { marker: MARKER, diff, notes: ["n".repeat(500)], maxLength });
      expect(body.length, `maxLength ${maxLength}`).toBeLessThanOrEqual(maxLength);
      expect(body.startsWith(MARKER)).toBe(true);
      expect(body).toContain("❌ **Fail**");
      expect(body).toMatch(/to fit GitHub's comment limit/);
      fences(body);
    }
    expect(() => renderComment(doc, { marker: MARKER, maxLength: 30 })).toThrow(RangeError);
  });

  it("trims a long diff with a note before giving up the comparison", () => {
    const diff = Array.from({ length: 3000 }, (_, i) => `+line ${i} ${"y".repeat(30)}`).join("\n");
    const body = renderComment(sampleResults(), { marker: MARKER, diff, maxLength: 20_000 });
    expect(body.length).toBeLessThanOrEqual(20_000);
    expect(body).toMatch(/_Diff trimmed: \d+ of 3000 lines shown\._/);
    expect(body).toMatch(/diff trimmed to \d+ of 3000 lines/);
    expect(body).toContain("#### Current vs recommended");
    expect(body).toContain("trials table omitted");
    expect(fences(body)).toEqual(["diff"]); // the chart went before the diff
  });

  it("rejects a marker that is not one HTML comment", () => {
    expect(() => renderComment(sampleResults(), { marker: "shadowgate" })).toThrow(/marker: expected one HTML comment/);
    expect(() => renderComment(sampleResults(), { marker: "<!-- a --> b <!-- c -->" })).toThrow(/marker/);
  });
});

/** Strings from an untrusted fork job that try to break out of cells, blocks and fences. */
function hostile(): ResultsDoc {
  const doc = sampleResults();
  const evil = "a|b <script>alert(1)</script> ``` </details> `x`\n| row |";
  const mode = ["a|b", "<script>alert(1)</script>", "```", "</details>", "`tick`"];
  return resultsSchema.parse({
    ...doc,
    image: "img``` </details>",
    parameters: [...doc.parameters, { name: "MODE", type: "enum", values: mode, apply: { kind: "env", name: "MODE" } }],
    trials: doc.trials.map((t, i) => ({ ...t, config: { ...t.config, MODE: mode[i % mode.length] } })),
    current: { ...doc.current, config: { ...doc.current.config, MODE: evil } },
    recommended: { ...doc.recommended, config: { ...doc.recommended.config, MODE: "</details>" }, changed: [...doc.recommended.changed, "MODE"], reason: evil },
    failures: [{ config: { MODE: evil }, error: `${evil}\nsecond line` }],
    verdict: { status: "fail", reasons: [evil, `</details>\n\`\`\`\n<details>`] },
    traffic: { ...doc.traffic, redactions: { [evil]: 3 } },
    sweep: { parameter: "MODE", kpi: "latency.p99", heldAt: "current", points: mode.map((value, i) => ({ value, predicted: samplePrediction(30 + i) })) },
    suggestion: {
      edits: [{ parameter: "MODE", path: "config/app.yml", line: 3, before: "mode: a", after: "mode: ``` </details> <script>x</script>" }],
      unresolved: [{ parameter: "MODE", reason: evil }],
    },
  });
}

describe("escaping what the results document says", () => {
  for (const [name, render] of [
    ["comment", (doc: ResultsDoc) => renderComment(doc, { marker: MARKER, diff: "+mode: ```\n+</details>\n+````", notes: [evilNote()] })],
    ["report", (doc: ResultsDoc) => renderReport(doc)],
    ["check summary + text", (doc: ResultsDoc) => `${renderCheckRun(doc).summary}\n${renderCheckRun(doc).text}`],
  ] as const) {
    it(`${name}: no HTML, no closed blocks or fences, no broken table rows`, () => {
      const text = render(hostile());
      const outside = outsideFences(text);
      expect(outside.join("\n")).not.toMatch(/<script/i);
      // HTML blocks start at the beginning of a line: the only ones are ours
      const html = outside.filter((line) => /^ {0,3}</.test(line));
      for (const line of html) expect(line).toMatch(/^(<!-- shadowgate:workload=orders-api -->|<details><summary>[^<>]*<\/summary>|<\/details>)$/);
      expect(html.filter((line) => line.startsWith("<details>")).length).toBe(html.filter((line) => line === "</details>").length);
      expect(outside.join("\n")).toContain("&lt;/details&gt;");
      fences(text);
      expectWellFormedTables(text);
    });
  }

  it("keeps pipes inside cells and values in code spans", () => {
    const body = renderComment(hostile(), { marker: MARKER });
    expect(body).toContain("a\\|b &lt;script&gt;alert(1)&lt;/script&gt; \\`\\`\\` &lt;/details&gt; \\`x\\` \\| row \\|");
    expect(body).toContain("Image ````img``` </details>````;"); // a longer fence than any run inside
  });

  it("the chart cannot be broken out of", () => {
    const chart = renderSweepChart(hostile())!;
    const lines = chart.split("\n");
    expect(lines[0]).toBe("```mermaid");
    expect(lines.at(-1)).toBe("```");
    expect(lines.slice(1, -1).join("\n").replace(/ --> /, " ")).not.toMatch(/`|<|>/);
    const categories = /x-axis "MODE" \[(.*)\]$/m.exec(chart)![1]!;
    expect(categories.match(/"[^"]*"/g)).toHaveLength(5);
  });
});

function evilNote(): string {
  return "token is read-only </details> <script>x</script>";
}

describe("sweep chart", () => {
  it("is a mermaid xychart with a title, the sampled values as categories, a unit and the interval", () => {
    const chart = renderSweepChart(sampleResults())!;
    const lines = chart.split("\n").map((line) => line.trim());
    expect(lines[0]).toBe("```mermaid");
    expect(lines[1]).toBe("xychart-beta");
    expect(lines[2]).toBe('title "Predicted latency.p99 across CACHE_SIZE"');
    expect(lines[3]).toBe('x-axis "CACHE_SIZE" ["16", "32", "64", "128 (now)", "256", "512", "1024 (rec.)", "2048", "4096"]');
    expect(lines[4]).toMatch(/^y-axis "latency\.p99 \(ms\)" \d+(\.\d+)? --> \d+(\.\d+)?$/);
    expect(lines[5]).toBe("bar [41.2, 39, 36.1, 33.4, 31, 29.5, 28.4, 28.1, 28.6]");
    expect(lines[6]).toMatch(/^line \[/);
    expect(lines[7]).toMatch(/^line \[/);
    expect(lines[8]).toBe("```");
    for (const series of lines.slice(5, 8)) {
      const values = /\[(.*)\]/.exec(series)![1]!.split(", ");
      expect(values).toHaveLength(9);
      for (const v of values) expect(v).toMatch(/^-?\d+(\.\d{1,4})?$/);
    }
    // the y range holds every value
    const [, lo, hi] = /(\S+) --> (\S+)$/.exec(lines[4]!)!.map(Number);
    const all = lines.slice(5, 8).flatMap((s) => /\[(.*)\]/.exec(s)![1]!.split(", ").map(Number));
    expect(Math.min(...all)).toBeGreaterThanOrEqual(lo!);
    expect(Math.max(...all)).toBeLessThanOrEqual(hi!);
  });

  it("shows rates in percent and is absent without a sweep", () => {
    const doc = sampleResults();
    const chart = renderSweepChart(
      sampleResults({ sweep: { parameter: "BATCH_SIZE", kpi: "errors.rate", heldAt: "current", points: [1, 8, 64].map((value, i) => ({ value, predicted: samplePrediction(0.001 * (i + 1)) })) } }),
    )!;
    expect(chart).toContain('y-axis "errors.rate (%)"');
    expect(chart).toContain("bar [0.1, 0.2, 0.3]");
    expect(chart).toContain('x-axis "BATCH_SIZE" ["1", "8 (now)", "64"]');
    expect(renderSweepChart({ ...doc, sweep: null })).toBeUndefined();
    expect(renderComment({ ...doc, sweep: null }, { marker: MARKER })).not.toContain("mermaid");
  });
});

describe("check run", () => {
  it("maps the verdict to a conclusion: pass → success, warn → neutral, fail → failure", () => {
    const verdict = (status: "pass" | "warn" | "fail") => sampleResults({ verdict: { status, reasons: [`${status} reason`] } });
    expect(renderCheckRun(verdict("pass")).conclusion).toBe("success");
    expect(renderCheckRun(verdict("warn")).conclusion).toBe("neutral");
    expect(renderCheckRun(verdict("fail")).conclusion).toBe("failure");
    expect(renderCheckRun(verdict("fail")).title).toBe("❌ Fail — fail reason");
  });

  it("annotates every suggested edit on its line: a notice when all is well", () => {
    const check = renderCheckRun(sampleResults(), { name: "shadowgate / orders-api" });
    expect(check.annotations).toEqual([
      {
        path: "fixtures/example/shadowgate.yml",
        start_line: 21,
        end_line: 21,
        annotation_level: "notice",
        title: "shadowgate / orders-api: recommended WORKER_POOL 4 → 2, CACHE_SIZE 128 → 1024",
        message: expect.stringMatching(/^Recommended WORKER_POOL 4 → 2, CACHE_SIZE 128 → 1024: latency\.p99 predicted 28\.4 ms \(25\.6–31\.2\) vs 45\.3 ms \(40\.8–49\.8\) now/),
      },
    ]);
    const one = sampleResults({ suggestion: { edits: [{ ...sampleResults().suggestion.edits[0]!, parameter: "WORKER_POOL", path: "deploy/.env", line: 3 }], unresolved: [] } });
    expect(renderCheckRun(one).annotations[0]).toMatchObject({ path: "deploy/.env", start_line: 3, title: "Shadowgate: recommended WORKER_POOL 4 → 2" });
    expect(check.summary).toContain("**Recommended: `WORKER_POOL` 4 → 2");
    expect(check.text).toContain("### Trials in this run (8)");
  });

  it("annotates with warnings when the verdict fails or an SLO warning exists, and returns all annotations", () => {
    const doc = sampleResults();
    const edits = Array.from({ length: 100 }, (_, i) => ({ ...doc.suggestion.edits[0]!, line: i + 1 }));
    const failing = renderCheckRun(sampleResults({ verdict: { status: "fail", reasons: ["x"] }, suggestion: { edits, unresolved: [] } }));
    expect(failing.annotations).toHaveLength(100);
    expect(new Set(failing.annotations.map((a) => a.annotation_level))).toEqual(new Set(["warning"]));
    const warned = renderCheckRun(sampleResults({ sloWarnings: [{ kpi: "latency.p99", limit: 60, predicted: samplePrediction(58), certainty: "possible" }] }));
    expect(warned.annotations.every((a) => a.annotation_level === "warning")).toBe(true);
  });

  it("keeps the title, summary and text within GitHub's limits", () => {
    const doc = sampleResults({
      trials: sampleManyTrials(1000),
      failures: Array.from({ length: 1000 }, (_, i) => ({ config: { WORKER_POOL: i }, error: "e".repeat(1500) })),
      verdict: { status: "fail", reasons: ["r".repeat(1000), ...Array.from({ length: 49 }, () => "s".repeat(1000))] },
    });
    const check = renderCheckRun(doc);
    expect(check.title.length).toBeLessThanOrEqual(255);
    expect(check.title.endsWith("…")).toBe(true);
    expect(check.summary.length).toBeLessThanOrEqual(65_535);
    expect(check.text.length).toBeLessThanOrEqual(65_535);
    expect(check.text).toMatch(/trials table trimmed to \d+ of 1000 trials|trials table omitted/);
    expect(check.summary).toContain("❌ **Fail**");
  });
});

describe("@mentions in what the results document says", () => {
  const ZWJ = "\u200D";
  /** What GitHub would link and notify: `@` + letter/digit, not after a letter/digit (outside code). */
  const MENTION = /(?<![A-Za-z0-9])@[A-Za-z0-9]/;

  it("escaped text and cells cannot mention a person or a team; e-mail-like text is left alone", () => {
    expect(escapeText("ping @octocat and @acme/security-team")).toBe(`ping @${ZWJ}octocat and @${ZWJ}acme/security-team`);
    expect(escapeText("@octocat at the start")).toBe(`@${ZWJ}octocat at the start`);
    for (const before of ["(", "_", "*", "\\", "-", ".", "é", ":", "`", "<", "|"]) {
      expect(escapeText(`${before}@octocat`), before).not.toMatch(MENTION);
    }
    expect(escapeCell("owner @org/team | x")).toBe(`owner @${ZWJ}org/team \\| x`);
    expect(escapeText("mail dev@example.com or a@b.c")).toBe("mail dev@example.com or a@b.c");
    expect(escapeText("@ alone, @@, @-x")).toBe("@ alone, @@, @-x");
    expect(escapeText("@@octocat")).toBe(`@@${ZWJ}octocat`);
  });

  it("a character reference cannot spell an @ (GitHub decodes it before looking for mentions)", () => {
    expect(escapeText("&#64;octocat &commat;octocat &#x40;x")).toBe("&amp;#64;octocat &amp;commat;octocat &amp;#x40;x");
    expect(escapeText("R&D <b>")).toBe("R&amp;D &lt;b&gt;");
  });

  it("the comment, the report and the check run mention nobody a hostile document names", () => {
    const doc = sampleResults();
    const at = "cc @octocat, @acme/everyone (&#64;ghost) ops@example.com";
    const hostileDoc = resultsSchema.parse({
      ...doc,
      parameters: [...doc.parameters, { name: "OWNER", type: "enum", values: ["@octocat", "x"], apply: { kind: "env", name: "OWNER" } }],
      trials: doc.trials.map((t) => ({ ...t, config: { ...t.config, OWNER: "@octocat" } })),
      current: { ...doc.current, config: { ...doc.current.config, OWNER: at } },
      recommended: { ...doc.recommended, config: { ...doc.recommended.config, OWNER: "@acme/everyone" }, changed: [...doc.recommended.changed, "OWNER"] },
      failures: [{ config: { OWNER: "@octocat" }, error: at }],
      verdict: { status: "fail", reasons: [at, `second ${at}`] },
      traffic: { ...doc.traffic, redactions: { "@octocat": 1 } },
      suggestion: { ...doc.suggestion, unresolved: [{ parameter: "OWNER", reason: at }] },
    });
    for (const text of [
      renderComment(hostileDoc, { marker: MARKER, notes: [`note ${at}`] }),
      renderReport(hostileDoc),
      `${renderCheckRun(hostileDoc).summary}\n${renderCheckRun(hostileDoc).text}`,
    ]) {
      const outside = outsideFences(text).join("\n");
      expect(outside).not.toMatch(MENTION);
      expect(outside).not.toMatch(/&#(?:64|x40);|&commat;/i);
      expect(outside).toContain(`@${ZWJ}octocat`);
      expect(outside).toContain("ops@example.com");
    }
  });
});

describe("low-confidence recommendations", () => {
  it("flags a recommendation whose objective the model predicts poorly, and not a trusted one", () => {
    const base = sampleResults();
    const poor = sampleResults({ recommended: { ...base.recommended, lowConfidence: true }, model: { ...base.model, cvError: { ...base.model.cvError, "latency.p99": 0.45 } } });
    const body = renderComment(poor, { marker: "<!-- shadowgate:workload=orders-api -->" });
    expect(body).toMatch(/⚠️ Low confidence: the model's cross-validated error on latency\.p99 is ±45%; measure this configuration before relying on it\./);
    expect(renderComment(base, { marker: "<!-- shadowgate:workload=orders-api -->" })).not.toMatch(/Low confidence/);
  });
});

describe("foresight in the report and the comment", () => {
  it("shows the foresight lines under their heading, escaped, and nothing without them", () => {
    const doc = sampleResults();
    const report = renderReport(doc);
    expect(report).toContain("## Foresight\n\n- Current configuration: p99 predicted to exceed 80 ms at 1.38× today's traffic (predicted 81.2 ms there).\n- Current configuration at 1.5× today's traffic");
    const comment = renderComment(doc, { marker: "<!-- shadowgate:workload=orders-api -->" });
    expect(comment).toContain("#### Foresight\n\n- Current configuration: p99 predicted to exceed 80 ms");
    // after what to do, before the comparison table
    expect(comment.indexOf("#### Foresight")).toBeGreaterThan(comment.indexOf("**Recommended"));
    expect(comment.indexOf("#### Foresight")).toBeLessThan(comment.indexOf("####", comment.indexOf("#### Foresight") + 5));
    const hostile = sampleResults({ foresight: { ...doc.foresight!, lines: ["@octocat <b>x</b>"] } });
    expect(renderReport(hostile)).not.toContain("@octocat <b>");
    expect(renderReport(sampleResults({ foresight: null }))).not.toContain("Foresight");
    // the results document keeps it through validation (the two-phase mode)
    expect(resultsSchema.parse(JSON.parse(JSON.stringify(doc))).foresight!.lines).toHaveLength(3);
  });
});
