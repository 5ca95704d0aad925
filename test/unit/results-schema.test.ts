import { describe, expect, it } from "vitest";
import { parseResults } from "../../src/results/schema.js";
import { sampleResults } from "../helpers/sample-results.js";

/** The results file is read back in report mode from an untrusted job: every field is checked. */
describe("parseResults", () => {
  const edit = sampleResults().suggestion.edits[0]!;
  const withEdit = (change: object) => ({ ...sampleResults(), suggestion: { edits: [{ ...edit, ...change }], unresolved: [] } });

  it("accepts what Shadowgate writes", () => {
    expect(parseResults(JSON.parse(JSON.stringify(sampleResults())), "r.json").workload).toBe("orders-api");
  });

  it("refuses edits that would smuggle lines or leave the repository, naming the field", () => {
    expect(() => parseResults(withEdit({ after: "a\nb" }), "r.json")).toThrow("r.json: suggestion.edits[0].after: expected one line");
    expect(() => parseResults(withEdit({ path: "../outside.yml" }), "r.json")).toThrow("r.json: suggestion.edits[0].path: expected a path inside the repository");
    expect(() => parseResults(withEdit({ path: "/etc/passwd" }), "r.json")).toThrow("suggestion.edits[0].path");
  });

  it("refuses a non-hex head SHA, a fractional PR number and an unknown KPI", () => {
    const doc = sampleResults();
    expect(() => parseResults({ ...doc, github: { ...doc.github!, headSha: "HEAD" } }, "r.json")).toThrow("r.json: github.headSha: expected a 40-hex commit SHA");
    expect(() => parseResults({ ...doc, github: { ...doc.github!, pullRequest: 7.5 } }, "r.json")).toThrow("github.pullRequest");
    expect(() => parseResults({ ...doc, objective: { kpi: "latency.p42", goal: "minimize" } }, "r.json")).toThrow("objective.kpi");
    expect(() => parseResults({ ...doc, kind: "something-else" }, "r.json")).toThrow("r.json: kind");
  });
});
