/**
 * Composition root for the CLI: `shadowgate run [--config FILE] [--json FILE]`,
 * `shadowgate bench-model --data FILE.csv --sizes 16,32,48` and
 * `shadowgate bench-search --data FILE.csv`.
 * Progress goes to stderr, the report to stdout; every failure is one clear line and a
 * non-zero exit code.
 */
import { parseArgs } from "node:util";
import type { Logger } from "./core/ports.js";
import path from "node:path";
import { runGateFromConfig, runShadowgate, writeTextFile } from "./app.js";
import { commentMarker, renderComment } from "./report/comment.js";
import { failsStep } from "./action/inputs.js";
import { parseDuration } from "./config/units.js";
import { ConfigError } from "./config/load.js";
import { InterruptedError } from "./core/errors.js";
import { readPerfData } from "./bench/perf-data.js";
import { benchJson, benchModel, benchTable, checkSizes, formatMs, type Fit } from "./bench/model-bench.js";

const BENCH_LINE = "shadowgate bench-model --data FILE.csv --sizes N[,N…] [--runs 30] [--seed 1] [--json]";

const BENCH_HELP = `  bench-model  benchmark the performance model with the published protocol: for each
               training sample size N, train on N configurations drawn at random without
               replacement, test on all the other rows, MRE = mean(|predicted − actual| /
               actual) × 100; repeat --runs times; report the mean, median and quartiles of
               the MRE over the runs, and the fit time
  --data     CSV with a header row: every column but the last is a configuration option,
             the last the measured performance (numbers only, target never 0)
  --sizes    training sample sizes, comma-separated whole numbers ≥ 1, each smaller than
             the number of rows (e.g. 16,32,48)
  --runs     runs per sample size (default 30)
  --seed     seed of the samples and the learner (default 1): the same seed, the same numbers
  --json     print JSON instead of the table: {"dataset", "results": [{"n", "mre_mean",
             "mre_median", "mre_p25", "mre_p75", "runs", "test_rows", "fit_ms_mean",
             "fit_ms_median"}]}; every mre_* is a percentage (8.2 means 8.2 %), as in the
             published tables`;

const BENCH_USAGE = `usage: ${BENCH_LINE}\n\n${BENCH_HELP}`;

const SEARCH_LINE = "shadowgate bench-search --data FILE.csv [--budget 40] [--seeds 30] [--target 0.05] [--minimize|--maximize] [--batch 1] [--json]";

const SEARCH_HELP = `  bench-search benchmark the search: the CSV (options, then the measured KPI, as for
               bench-model) is played as a workload — a trial returns the measured value of
               the chosen configuration, and configurations the file did not measure are
               never proposed. For random, lhs, model-guided and the adaptive agent: the
               median number of trials to reach a configuration within --target of the
               file's best (a search that fails counts as budget + 1) and the success rate
  --budget   trials per search (default 40)
  --seeds    searches per strategy (default 30)
  --target   success within this fraction of the best (default 0.05 = 5%)
  --minimize / --maximize   the KPI's direction (default: minimize)
  --batch    trials proposed at once (default 1)
  --json     print {"dataset", "budget", "target", "strategies": {"random": {"median_trials",
             "success_rate"}, "lhs": …, "model": …, "adaptive": …}}`;

const SEARCH_USAGE = `usage: ${SEARCH_LINE}\n\n${SEARCH_HELP}`;

const GATE_LINE = "shadowgate gate [--config FILE] (--base-image IMAGE | --base-context DIR) [--base-config FILE] [--aa] [--json FILE] [--mode duet|interleaved] [--inconclusive pass|fail] [--store DIR] [--timeout 30m]";

const GATE_HELP = `  gate       the regression gate: the base build and the head build (the config's workload)
             run side by side with the current configuration on the recorded traffic, in
             rounds, until each gated KPI (gate.kpis) passes, fails or the load budget is
             spent; prints the per-KPI table and the verdict. Exit 0 on pass, 1 on fail (or
             an error), and on inconclusive as gate.inconclusive says (default: pass, warned)
  --base-image    the base build as an existing local image
  --base-context  the base build's context folder (the head's Dockerfile path inside it)
  --base-config   the base branch's config file: its parameters must match the head's
  --aa       A/A: the base against itself; measures this runner's noise per KPI and stores
             it with the history, so later gates flag thresholds below it
  --mode     override gate.mode: duet (both at once) or interleaved (ABBA rounds)
  --inconclusive  override gate.inconclusive: pass (with a warning) or fail
  --json     also write {"verdict", "kpis": [{"name", "ratio", "ci", "verdict", …}], …} to FILE`;

const USAGE = `usage: shadowgate run [--config FILE] [--json FILE] [--comment FILE] [--trials N] [--store DIR] [--timeout 30m] [--fail-on never|fail|warn] [--verbose]
       ${GATE_LINE}
       ${BENCH_LINE}
       ${SEARCH_LINE}

  run        build the workload, measure shadows with recorded traffic, train the
             model and print the recommended configuration
  --config   the config file (default: shadowgate.yml)
  --json     also write the results (trials, KPIs, predictions, verdict) as JSON to FILE
  --comment  also write the pull-request comment (markdown, ≤ 65,536 characters) to FILE,
             for CI systems that post it themselves
  --trials   override shadows.trials
  --store    folder that keeps the history between runs (default: store.path)
  --timeout  stop everything after this long (default: 60m)
  --fail-on  exit 3 when the gate's verdict is fail (or warn or worse); default never

${GATE_HELP}

${BENCH_HELP}

${SEARCH_HELP}`;

/** Exit code of a run whose gate failed (distinct from errors, 1, and bad arguments, 2). */
export const GATE_FAILED_EXIT_CODE = 3;

type Io = { out: (text: string) => void; err: (text: string) => void };

/** `deps.fit` replaces the benchmarked learner (tests); by default it is the tuned learner of src/model/learner.ts. */
export async function main(argv: string[], io: Io = defaultIo, deps: { fit?: Fit } = {}): Promise<number> {
  if (argv[0] === "bench-model") return benchModelCommand(argv.slice(1), io, deps);
  if (argv[0] === "bench-search") return benchSearchCommand(argv.slice(1), io);
  if (argv[0] === "gate") return gateCommand(argv.slice(1), io);
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
    io.err(`shadowgate: unknown command "${command}"; expected "run", "gate", "bench-model" or "bench-search"\n${USAGE}`);
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

  const logger = cliLogger(io, values.verbose);
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
    return reportError(error, io, values.verbose);
  }
}

/** Progress to stderr; debug lines only with --verbose. */
function cliLogger(io: Io, verbose: boolean): Logger {
  return {
    info: (message) => io.err(message),
    warn: (message) => io.err(`warning: ${message}`),
    debug: (message) => {
      if (verbose) io.err(message);
    },
  };
}

/** A failed command as one clear line (plus a config's further issues): the signal's exit code, else 1. */
function reportError(error: unknown, io: Io, verbose: boolean): number {
  if (error instanceof InterruptedError) {
    io.err(`shadowgate: ${error.message}`);
    return error.exitCode;
  }
  io.err(`shadowgate: error: ${oneLine(error)}`);
  if (error instanceof ConfigError && error.issues.length > 1) for (const issue of error.issues.slice(1)) io.err(`  ${issue}`);
  if (verbose && error instanceof Error && error.stack) io.err(error.stack);
  return 1;
}

/** `shadowgate gate …` (argv without the command): 0 pass, 1 fail or error, 2 bad arguments. */
async function gateCommand(argv: string[], io: Io): Promise<number> {
  const usage = `usage: ${GATE_LINE}\n\n${GATE_HELP}`;
  const usageError = (message: string): number => {
    io.err(`shadowgate: ${message}\n${usage}`);
    return 2;
  };
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: "string", short: "c", default: "shadowgate.yml" },
        "base-image": { type: "string" },
        "base-context": { type: "string" },
        "base-config": { type: "string" },
        aa: { type: "boolean", default: false },
        json: { type: "string" },
        mode: { type: "string" },
        inconclusive: { type: "string" },
        store: { type: "string" },
        timeout: { type: "string", default: "30m" },
        verbose: { type: "boolean", short: "v", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    return usageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.err(usage);
    return 0;
  }
  if (positionals.length > 0) return usageError(`gate: unexpected argument "${positionals[0]}"`);
  const baseImage = values["base-image"];
  const baseContext = values["base-context"];
  if ((baseImage === undefined) === (baseContext === undefined)) return usageError("gate: give the base build as exactly one of --base-image IMAGE or --base-context DIR");
  const mode = values.mode;
  if (mode !== undefined && mode !== "duet" && mode !== "interleaved") return usageError(`--mode: expected duet or interleaved, got "${mode}"`);
  const inconclusive = values.inconclusive;
  if (inconclusive !== undefined && inconclusive !== "pass" && inconclusive !== "fail") return usageError(`--inconclusive: expected pass or fail, got "${inconclusive}"`);
  const timeoutMs = parseDuration(values.timeout);
  if (timeoutMs === undefined || timeoutMs <= 0) return usageError(`--timeout: expected a duration like "30m" or "90s", got "${values.timeout}"`);

  const logger = cliLogger(io, values.verbose);
  try {
    const output = await runGateFromConfig({
      configFile: values.config,
      base: baseImage !== undefined ? { kind: "image", image: baseImage } : { kind: "context", context: baseContext! },
      ...(values["base-config"] ? { baseConfigFile: values["base-config"] } : {}),
      aa: values.aa,
      ...(mode ? { mode } : {}),
      ...(inconclusive ? { inconclusive } : {}),
      ...(values.json ? { jsonFile: values.json } : {}),
      ...(values.store ? { storePath: values.store } : {}),
      timeoutMs,
      logger,
    });
    io.out(output.markdown);
    if (output.jsonFile) io.err(`gate results written to ${output.jsonFile}`);
    const { result } = output;
    io.err(`gate: ${result.verdict}${result.verdict === "inconclusive" ? ` (the step ${result.outcome === "fail" ? "fails" : "passes"})` : ""}: ${result.reasons[0] ?? ""}`);
    return result.outcome === "fail" ? 1 : 0;
  } catch (error) {
    return reportError(error, io, values.verbose);
  }
}

/**
 * The shared start of a benchmark command: parse `options` (plus --help), print the usage for
 * --help (exit 0), refuse positionals and a missing --data (exit 2). Returns the values and the
 * command's usage error, or the exit code when the command ends here.
 */
function parseBenchArgs<const O extends Record<string, { type: "string" | "boolean"; default?: string | boolean }>>(
  command: string,
  argv: string[],
  options: O,
  usage: string,
  io: Io,
): number | { values: ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; options: O & { data: { type: "string" } } }>>["values"] & { data: string }; usageError: (message: string) => number } {
  const usageError = (message: string): number => {
    io.err(`shadowgate: ${message}\n${usage}`);
    return 2;
  };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { ...options, data: { type: "string" }, help: { type: "boolean", short: "h", default: false } } });
  } catch (error) {
    return usageError((error as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) {
    io.err(usage);
    return 0;
  }
  if (parsed.positionals.length > 0) return usageError(`${command}: unexpected argument "${parsed.positionals[0]}"`);
  if (typeof values.data !== "string" || values.data === "") return usageError(`${command}: --data FILE.csv is required`);
  return { values: values as never, usageError };
}

/** `shadowgate bench-model …` (argv without the command): 0, 1 on bad data, 2 on bad arguments. */
async function benchModelCommand(argv: string[], io: Io, deps: { fit?: Fit }): Promise<number> {
  const parsed = parseBenchArgs(
    "bench-model",
    argv,
    { sizes: { type: "string" }, runs: { type: "string", default: "30" }, seed: { type: "string", default: "1" }, json: { type: "boolean", default: false } },
    BENCH_USAGE,
    io,
  );
  if (typeof parsed === "number") return parsed;
  const { values, usageError } = parsed;
  if (values.sizes === undefined) return usageError("bench-model: --sizes is required, e.g. --sizes 16,32,48");
  const sizes = parseSizes(values.sizes);
  if (sizes === undefined) return usageError(`--sizes: expected comma-separated whole numbers ≥ 1 like 16,32,48, got "${values.sizes}"`);
  const runs = wholeNumber(values.runs);
  if (runs === undefined || runs < 1) return usageError(`--runs: expected a whole number ≥ 1, got "${values.runs}"`);
  const seed = wholeNumber(values.seed);
  if (seed === undefined || seed > 0xffffffff) return usageError(`--seed: expected a whole number from 0 to 4294967295, got "${values.seed}"`);

  try {
    const data = await readPerfData(values.data);
    checkSizes(data, sizes);
    const fit = deps.fit ?? (await defaultFit());
    io.err(`${data.file}: ${data.y.length} configurations, ${data.options.length} options, target "${data.target}"; sizes ${sizes.join(", ")}; ${runs} runs each; seed ${seed}`);
    let fitTotal = 0;
    const result = benchModel(data, {
      sizes,
      runs,
      seed,
      fit,
      onRun: ({ n, run, runs: of, fitMs }) => {
        fitTotal += fitMs;
        if (run === of) {
          io.err(`N = ${n}: ${of} runs, fit ${formatMs(fitTotal / of)} on average`);
          fitTotal = 0;
        }
      },
    });
    io.out(values.json ? JSON.stringify(benchJson(result), null, 2) : benchTable(result));
    return 0;
  } catch (error) {
    io.err(`shadowgate: error: ${oneLine(error)}`);
    return 1;
  }
}

/** `shadowgate bench-search …` (argv without the command): 0, 1 on bad data, 2 on bad arguments. */
async function benchSearchCommand(argv: string[], io: Io): Promise<number> {
  const parsed = parseBenchArgs(
    "bench-search",
    argv,
    {
      budget: { type: "string", default: "40" },
      seeds: { type: "string", default: "30" },
      target: { type: "string", default: "0.05" },
      minimize: { type: "boolean", default: false },
      maximize: { type: "boolean", default: false },
      batch: { type: "string", default: "1" },
      json: { type: "boolean", default: false },
    },
    SEARCH_USAGE,
    io,
  );
  if (typeof parsed === "number") return parsed;
  const { values, usageError } = parsed;
  const budget = wholeNumber(values.budget);
  if (budget === undefined || budget < 1) return usageError(`--budget: expected a whole number ≥ 1, got "${values.budget}"`);
  const seeds = wholeNumber(values.seeds);
  if (seeds === undefined || seeds < 1) return usageError(`--seeds: expected a whole number ≥ 1, got "${values.seeds}"`);
  const batch = wholeNumber(values.batch);
  if (batch === undefined || batch < 1) return usageError(`--batch: expected a whole number ≥ 1, got "${values.batch}"`);
  const target = Number(values.target);
  if (!(values.target.trim() !== "" && target >= 0 && target < 1)) return usageError(`--target: expected a fraction from 0 to below 1 like 0.05, got "${values.target}"`);
  if (values.minimize && values.maximize) return usageError("bench-search: --minimize and --maximize exclude each other");

  try {
    const data = await readPerfData(values.data);
    const { benchSearch, searchBenchJson, searchBenchTable } = await import("./bench/search-bench.js");
    const { predictObjective, strategyFor } = await import("./search/strategies.js");
    io.err(`${data.file}: ${data.y.length} configurations, ${data.options.length} options, target "${data.target}"; budget ${budget}, ${seeds} seeds, within ${target * 100}% of the best`);
    const result = benchSearch(
      data,
      { budget, seeds, target, batch, goal: values.maximize ? "maximize" : "minimize", onSearch: (name, seed) => seed === seeds && io.err(`${name}: ${seeds} searches done`) },
      { strategyFor, predict: predictObjective },
    );
    io.out(values.json ? JSON.stringify(searchBenchJson(result), null, 2) : searchBenchTable(result));
    return 0;
  } catch (error) {
    io.err(`shadowgate: error: ${oneLine(error)}`);
    return 1;
  }
}

/** The tuned learner, loaded only when a benchmark runs. */
async function defaultFit(): Promise<Fit> {
  const { fitTuned } = await import("./model/learner.js");
  return (X, y, seed) => fitTuned(X, y, { seed });
}

/** "16,32,48" → [16, 32, 48] (duplicates dropped, order kept); undefined unless every item is a whole number ≥ 1. */
export function parseSizes(text: string): number[] | undefined {
  const items = text.split(",").map((item) => item.trim());
  const sizes: number[] = [];
  for (const item of items) {
    const n = wholeNumber(item);
    if (n === undefined || n < 1) return undefined;
    if (!sizes.includes(n)) sizes.push(n);
  }
  return sizes;
}

function wholeNumber(text: string): number | undefined {
  if (!/^\d+$/.test(text.trim())) return undefined;
  const n = Number(text.trim());
  return Number.isSafeInteger(n) ? n : undefined;
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0]!;
}

const defaultIo = {
  out: (text: string) => process.stdout.write(`${text}\n`),
  err: (text: string) => process.stderr.write(`${text}\n`),
};
