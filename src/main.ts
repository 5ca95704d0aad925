/**
 * Composition root for the GitHub Action: inputs → the shared run → job summary and
 * outputs. The one catch here turns any failure into a failed step.
 */
import * as core from "@actions/core";
import path from "node:path";
import { runShadowgate } from "./app.js";
import { parseDuration } from "./config/units.js";

/** Input and output names, in one place (they must match action.yml). */
export const INPUTS = { config: "config", trials: "trials", store: "store-path", timeout: "timeout", resultsFile: "results-file" } as const;
export const OUTPUTS = {
  recommended: "recommended-config",
  current: "current-config",
  keepCurrent: "keep-current",
  resultsFile: "results-file",
  sloWarning: "slo-warning",
} as const;

export async function run(getInput: (name: string) => string = (name) => core.getInput(name)): Promise<void> {
  try {
    const configFile = getInput(INPUTS.config) || "shadowgate.yml";
    const trialsText = getInput(INPUTS.trials);
    const trials = trialsText ? Number(trialsText) : undefined;
    if (trials !== undefined && !(Number.isInteger(trials) && trials >= 1)) {
      throw new Error(`input ${INPUTS.trials}: expected a whole number ≥ 1, got "${trialsText}"`);
    }
    const timeoutText = getInput(INPUTS.timeout) || "60m";
    const timeoutMs = parseDuration(timeoutText);
    if (timeoutMs === undefined || timeoutMs <= 0) throw new Error(`input ${INPUTS.timeout}: expected a duration like "30m", got "${timeoutText}"`);
    const resultsFile = getInput(INPUTS.resultsFile) || path.join(process.env.RUNNER_TEMP ?? process.cwd(), "shadowgate-results.json");
    const storePath = getInput(INPUTS.store);

    const output = await runShadowgate({
      configFile,
      jsonFile: resultsFile,
      timeoutMs,
      ...(trials ? { trials } : {}),
      ...(storePath ? { storePath } : {}),
      logger: { info: (m) => core.info(m), warn: (m) => core.warning(m), debug: (m) => core.debug(m) },
    });
    const { recommendation } = output.result;
    await core.summary.addRaw(output.markdown, true).write();
    core.setOutput(OUTPUTS.recommended, JSON.stringify(recommendation.recommended));
    core.setOutput(OUTPUTS.current, JSON.stringify(output.result.config.current));
    core.setOutput(OUTPUTS.keepCurrent, String(recommendation.keepCurrent));
    core.setOutput(OUTPUTS.resultsFile, output.jsonFile ?? "");
    core.setOutput(OUTPUTS.sloWarning, recommendation.currentBreaches.map((b) => `${b.kpi} (${b.certainty})`).join(", "));
    for (const breach of recommendation.currentBreaches) {
      core.warning(`current configuration is predicted to breach the SLO ${breach.kpi} ≤ ${breach.limit} (${breach.certainty}: predicted ${breach.predicted.mean.toFixed(3)}, interval ${breach.predicted.lo.toFixed(3)}–${breach.predicted.hi.toFixed(3)})`);
    }
  } catch (error) {
    core.setFailed(error instanceof Error ? error.message.split("\n")[0]! : String(error));
  }
}
