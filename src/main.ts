/**
 * Composition root for the GitHub Action: inputs → the mode's flow → job summary, outputs and
 * the step's result. The one catch here turns any failure into a failed step.
 */
import * as core from "@actions/core";
import { actionsCache } from "./store/cache-store.js";
import { failsStep, readInputs, INPUTS, OUTPUTS } from "./action/inputs.js";
import { ANONYMISE_KEY_ENV } from "./app.js";
import { gateFlow, measureFlow, reportFlow, type FlowDeps } from "./action/flows.js";

export { INPUTS, OUTPUTS } from "./action/inputs.js";

export async function run(
  getInput: (name: string) => string = (name) => core.getInput(name),
  deps: Partial<Pick<FlowDeps, "env" | "cache" | "client">> = {},
): Promise<void> {
  try {
    const env = deps.env ?? process.env;
    const inputs = readInputs(getInput, env);
    const anonymiseKey = getInput(INPUTS.anonymiseKey).trim();
    if (anonymiseKey) {
      // masked in every log line from here on, and read by the traffic loader from the environment
      core.setSecret(anonymiseKey);
      process.env[ANONYMISE_KEY_ENV] = anonymiseKey;
    }
    const flowDeps: FlowDeps = {
      env,
      logger: { info: (m) => core.info(m), warn: (m) => core.warning(m), debug: (m) => core.debug(m) },
      cache: deps.cache ?? actionsCache,
      ...(deps.client ? { client: deps.client } : {}),
    };
    if (inputs.mode === "gate") {
      const gate = await gateFlow(inputs, flowDeps);
      core.setOutput(OUTPUTS.gateVerdict, gate.result.verdict);
      if (gate.jsonFile) core.setOutput(OUTPUTS.gateResults, gate.jsonFile);
      for (const warning of gate.result.noiseWarnings) core.warning(warning);
      await writeSummary(gate.markdown);
      if (gate.result.verdict === "inconclusive") core.warning(`Shadowgate gate inconclusive: ${gate.result.reasons[0] ?? ""}`);
      if (gate.result.outcome === "fail") core.setFailed(`Shadowgate gate ${gate.result.verdict}: ${gate.result.reasons[0] ?? ""}`);
      return;
    }
    const result = inputs.mode === "report" ? await reportFlow(inputs, flowDeps) : await measureFlow(inputs, flowDeps);
    const { doc } = result;

    core.setOutput(OUTPUTS.verdict, doc.verdict.status);
    core.setOutput(OUTPUTS.recommended, JSON.stringify(doc.recommended.config));
    core.setOutput(OUTPUTS.current, JSON.stringify(doc.current.config));
    core.setOutput(OUTPUTS.keepCurrent, String(doc.recommended.keepCurrent));
    core.setOutput(OUTPUTS.resultsFile, result.resultsFile);
    core.setOutput(OUTPUTS.sloWarning, doc.sloWarnings.map((b) => `${b.kpi} (${b.certainty})`).join(", "));
    if (result.interop) {
      core.setOutput(OUTPUTS.benchmarkSmaller, result.interop.smaller);
      core.setOutput(OUTPUTS.benchmarkBigger, result.interop.bigger);
      core.setOutput(OUTPUTS.bencher, result.interop.bencher);
    }
    if (result.published?.comment) core.setOutput(OUTPUTS.commentUrl, result.published.comment.url);
    if (result.published?.checkRun) core.setOutput(OUTPUTS.checkRunId, String(result.published.checkRun.id));
    for (const notice of result.published?.notices ?? []) core.notice(notice);
    for (const warning of doc.sloWarnings) {
      core.warning(`current configuration is predicted to breach the SLO ${warning.kpi} ≤ ${warning.limit} (${warning.certainty}: predicted ${warning.predicted.mean.toFixed(3)}, interval ${warning.predicted.lo.toFixed(3)}–${warning.predicted.hi.toFixed(3)})`);
    }
    await writeSummary(result.markdown);
    // The failing step is the status check that works everywhere, forks included. In report
    // mode the measuring job already failed; the check run posted here carries the verdict,
    // unless there is none, and then this step must.
    const carriedByCheckRun = inputs.mode === "report" && result.published?.checkRun !== undefined;
    if (!carriedByCheckRun && failsStep(doc.verdict.status, inputs.failOn)) {
      core.setFailed(`Shadowgate gate ${doc.verdict.status}: ${doc.verdict.reasons[0] ?? ""}`);
    }
  } catch (error) {
    if (error instanceof Error && error.stack) core.debug(error.stack);
    core.setFailed(error instanceof Error ? error.message.split("\n")[0]! : String(error));
  }
}

async function writeSummary(markdown: string): Promise<void> {
  try {
    await core.summary.addRaw(markdown, true).write();
  } catch (error) {
    core.warning(`could not write the job summary: ${error instanceof Error ? error.message : String(error)}`);
  }
}
