/**
 * Composition root for the CLI: `shadowgate run [--config FILE] [--json FILE]`.
 * Progress goes to stderr, the report to stdout; every failure is one clear line and a
 * non-zero exit code.
 */
import { parseArgs } from "node:util";
import type { Logger } from "./core/ports.js";
import path from "node:path";
import { runShadowgate, writeTextFile } from "./app.js";
import { commentMarker, renderComment } from "./report/comment.js";
import { failsStep } from "./action/inputs.js";
import { parseDuration } from "./config/units.js";
import { ConfigError } from "./config/load.js";
import { InterruptedError } from "./core/errors.js";

const USAGE = `usage: shadowgate run [--config FILE] [--json FILE] [--comment FILE] [--trials N] [--store DIR] [--timeout 30m] [--fail-on never|fail|warn] [--verbose]

  run        build the workload, measure shadows with recorded traffic, train the
             model and print the recommended configuration
  --config   the config file (default: shadowgate.yml)
  --json     also write the results (trials, KPIs, predictions, verdict) as JSON to FILE
  --comment  also write the pull-request comment (markdown, ≤ 65,536 characters) to FILE,
             for CI systems that post it themselves
  --trials   override shadows.trials
  --store    folder that keeps the history between runs (default: store.path)
  --timeout  stop everything after this long (default: 60m)
  --fail-on  exit 3 when the gate's verdict is fail (or warn or worse); default never`;

/** Exit code of a run whose gate failed (distinct from errors, 1, and bad arguments, 2). */
export const GATE_FAILED_EXIT_CODE = 3;

export async function main(argv: string[], io: { out: (text: string) => void; err: (text: string) => void } = defaultIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: "string", short: "c", default: "shadowgate.yml" },
        json: { type: "string" },
        trials: { type: "string" },
        store: { type: "string" },
        timeout: { type: "string", default: "60m" },
        comment: { type: "string" },
        "fail-on": { type: "string", default: "never" },
        verbose: { type: "boolean", short: "v", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    io.err(`shadowgate: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    io.err(USAGE);
    return values.help ? 0 : 2;
  }
  const [command] = positionals;
  if (command !== "run") {
    io.err(`shadowgate: unknown command "${command}"; expected "run"\n${USAGE}`);
    return 2;
  }
  const trials = values.trials === undefined ? undefined : Number(values.trials);
  if (trials !== undefined && !(Number.isInteger(trials) && trials >= 1)) {
    io.err(`shadowgate: --trials: expected a whole number ≥ 1, got "${values.trials}"`);
    return 2;
  }
  const failOn = values["fail-on"];
  if (failOn !== "never" && failOn !== "fail" && failOn !== "warn") {
    io.err(`shadowgate: --fail-on: expected one of never, fail, warn, got "${failOn}"`);
    return 2;
  }
  const timeoutMs = parseDuration(values.timeout);
  if (timeoutMs === undefined || timeoutMs <= 0) {
    io.err(`shadowgate: --timeout: expected a duration like "30m" or "90s", got "${values.timeout}"`);
    return 2;
  }

  const logger: Logger = {
    info: (message) => io.err(message),
    warn: (message) => io.err(`warning: ${message}`),
    debug: (message) => {
      if (values.verbose) io.err(message);
    },
  };
  try {
    const output = await runShadowgate({
      configFile: values.config,
      ...(values.json ? { jsonFile: values.json } : {}),
      ...(trials ? { trials } : {}),
      ...(values.store ? { storePath: values.store } : {}),
      timeoutMs,
      logger,
    });
    io.out(output.markdown);
    if (output.jsonFile) io.err(`results written to ${output.jsonFile}`);
    if (values.comment) {
      const file = path.resolve(values.comment);
      await writeTextFile(file, renderComment(output.doc, { marker: commentMarker(output.doc.workload) }), "comment file");
      io.err(`pull-request comment written to ${file}`);
    }
    const { verdict } = output.doc;
    io.err(`verdict: ${verdict.status}: ${verdict.reasons[0] ?? ""}`);
    return failsStep(verdict.status, failOn) ? GATE_FAILED_EXIT_CODE : 0;
  } catch (error) {
    if (error instanceof InterruptedError) {
      io.err(`shadowgate: ${error.message}`);
      return error.exitCode;
    }
    io.err(`shadowgate: error: ${oneLine(error)}`);
    if (error instanceof ConfigError && error.issues.length > 1) for (const issue of error.issues.slice(1)) io.err(`  ${issue}`);
    if (values.verbose && error instanceof Error && error.stack) io.err(error.stack);
    return 1;
  }
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0]!;
}

const defaultIo = {
  out: (text: string) => process.stdout.write(`${text}\n`),
  err: (text: string) => process.stderr.write(`${text}\n`),
};
