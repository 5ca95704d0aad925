/**
 * The results document: what a run measured, learned and recommends, as plain JSON. It is
 * the `results-file` output, the artifact of the two-phase mode (written by `mode: measure`
 * on an untrusted fork PR, read back by `mode: report`), and the only input of the report
 * renderers. Because it can come from an untrusted job, the schema bounds every string,
 * number and list: `parseResults` is the one way back in.
 */
import { z } from "zod";
import { KPI_NAMES, type KpiName } from "../core/types.js";

export const RESULTS_KIND = "shadowgate-results";
export const RESULTS_SCHEMA_VERSION = 2;

const MAX_TRIALS = 1000;
const text = (max = 500) => z.string().max(max);
const name = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/).max(100);
const finite = z.number();
const paramValue = z.union([finite, text(200), z.boolean()]);
const configuration = z.record(name, paramValue).refine((c) => Object.keys(c).length <= 100, "at most 100 parameters");
const kpiName = z.enum(KPI_NAMES);
const kpis = z.object(Object.fromEntries(KPI_NAMES.map((k) => [k, finite])) as Record<KpiName, typeof finite>);
const prediction = z.object({ mean: finite, sd: finite, lo: finite, hi: finite });
const predictions = z.partialRecord(kpiName, prediction);
const sha = z.string().regex(/^[0-9a-f]{40}$/, "expected a 40-hex commit SHA");

const applyHow = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("env"), name: text(100), template: text(200).optional(), append: z.boolean().optional() }),
  z.object({ kind: z.literal("arg"), template: text(200) }),
  // a config-file template: where it goes, not its text
  z.object({ kind: z.literal("template"), path: text(500), file: text(1000).optional() }),
  z.object({ kind: z.literal("cpus") }),
  z.object({ kind: z.literal("memory") }),
]);
const parameterSpec = z.discriminatedUnion("type", [
  z.object({ name, type: z.enum(["int", "float"]), min: finite, max: finite, scale: z.enum(["linear", "log"]), apply: applyHow }),
  z.object({ name, type: z.literal("enum"), values: z.array(text(200)).max(100), apply: applyHow }),
  z.object({ name, type: z.literal("bool"), apply: applyHow }),
]);

const trial = z.object({
  id: text(200),
  at: text(40),
  anchor: z.boolean(),
  config: configuration,
  kpis,
  spread: kpis,
  requests: z.number().int().min(0),
  /** the load level it ran at (absent: 1) */
  load: z.number().positive().optional(),
});

const foresightSchema = z.object({
  maxLevel: finite,
  growth: finite.nullable(),
  configs: z
    .array(
      z.object({
        label: z.enum(["current", "recommended"]),
        config: configuration,
        breaksAt: z.object({ kpi: kpiName, limit: finite, level: finite, predicted: prediction }).nullable(),
        atGrowth: z.array(z.object({ kpi: kpiName, limit: finite, predicted: prediction, breach: z.enum(["likely", "possible", "no"]) })).max(20).nullable(),
      }),
    )
    .max(2),
  lines: z.array(text(1000)).max(10),
});

const sloBreach = z.object({ kpi: kpiName, limit: finite, predicted: prediction, certainty: z.enum(["likely", "possible"]) });

/** The gate's verdict: fail makes the step (and the check run) fail. */
export const verdictSchema = z.object({
  status: z.enum(["pass", "warn", "fail"]),
  /** one sentence each, most important first; the first is the headline */
  reasons: z.array(text(1000)).max(50),
});

/** Predicted objective across the most influential parameter, the others held at `heldAt`. */
export const sweepSchema = z.object({
  parameter: name,
  kpi: kpiName,
  heldAt: z.enum(["current", "recommended"]),
  points: z.array(z.object({ value: paramValue, predicted: prediction })).max(100),
});

/**
 * One line of a file that holds a parameter's value, and its replacement: the recommended
 * configuration as a change to the repository. Paths are relative to the repository root.
 */
export const editSchema = z.object({
  /** the parameter, or several joined by "," when they share the line (a flow mapping) */
  parameter: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*(,[A-Za-z_][A-Za-z0-9_.-]*)*$/).max(1000),
  path: text(500).refine((p) => !p.startsWith("/") && !p.split("/").includes(".."), "expected a path inside the repository"),
  line: z.number().int().min(1),
  /** whole lines: a line break would smuggle extra lines into a suggestion or a commit */
  before: text(2000).regex(/^[^\r\n]*$/, "expected one line"),
  after: text(2000).regex(/^[^\r\n]*$/, "expected one line"),
});
export const suggestionSchema = z.object({
  edits: z.array(editSchema).max(100),
  /** changed parameters with no line to edit, and why */
  unresolved: z.array(z.object({ parameter: name, reason: text(500) })).max(100),
});

/** Where the results belong on GitHub (written by the measuring job; checked by `mode: report`). */
export const githubSchema = z.object({
  repository: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/).max(200),
  eventName: text(100),
  pullRequest: z.number().int().positive().nullable(),
  headSha: sha.nullable(),
  /** the config file, relative to the repository root */
  configPath: text(500),
});

export const resultsSchema = z.object({
  kind: z.literal(RESULTS_KIND),
  schemaVersion: z.literal(RESULTS_SCHEMA_VERSION),
  runId: text(200),
  workload: name,
  startedAt: text(40),
  finishedAt: text(40),
  image: text(300),
  objective: z.object({ kpi: kpiName, goal: z.enum(["minimize", "maximize"]) }),
  slo: z.partialRecord(kpiName, finite),
  parameters: z.array(parameterSpec).max(100),
  shadows: z.object({ fraction: finite, parallel: z.number().int(), primaryCpus: finite, primaryMemoryMiB: finite }),
  traffic: z.object({
    file: text(1000),
    recorded: z.number().int().min(0),
    replayed: z.number().int().min(0),
    skipped: z.number().int().min(0),
    redactions: z.record(text(200), z.number().int().min(0)),
    connections: z.number().int().min(0),
    durationMs: finite,
    warmupMs: finite,
    /** routes in the recording (sampling strata) */
    routes: z.number().int().min(0).optional(),
    /** open model: the fixed request rate */
    rate: finite.optional(),
    /** what each external-API mock served */
    mocks: z
      .array(
        z.object({
          host: text(300),
          env: text(200),
          served: z.number().int().min(0),
          unmatched: z.number().int().min(0),
          misses: z.array(z.object({ line: text(1000), count: z.number().int().min(0) })).max(10),
        }),
      )
      .max(50)
      .default([]),
  }),
  trials: z.array(trial).max(MAX_TRIALS),
  failures: z.array(z.object({ config: configuration, error: text(2000) })).max(MAX_TRIALS),
  current: z.object({ config: configuration, predicted: predictions }),
  recommended: z.object({
    config: configuration,
    predicted: predictions,
    changed: z.array(name).max(100),
    improvement: finite,
    keepCurrent: z.boolean(),
    feasible: z.boolean(),
    /** the model's cross-validated error on the objective is poor (or unknown): measure before trusting */
    lowConfidence: z.boolean(),
    reason: text(1000),
    /** the best configuration found, taken or not (worth measuring next when keepCurrent) */
    best: z.object({ config: configuration, predicted: predictions }),
  }),
  sloWarnings: z.array(sloBreach).max(50),
  verdict: verdictSchema,
  sweep: sweepSchema.nullable(),
  suggestion: suggestionSchema,
  model: z.object({
    kpis: z.array(kpiName),
    cvError: z.partialRecord(kpiName, finite),
    trainedOn: z.number().int().min(0),
    skippedRows: z.number().int().min(0),
  }),
  history: z.object({ trials: z.number().int().min(0), runs: z.number().int().min(0) }),
  /** how this run's configurations were chosen (absent from documents of older versions) */
  search: z
    .object({
      strategy: text(40),
      batches: z.array(z.object({ strategy: text(40).nullable(), reason: text(500), trials: z.number().int().min(0), improved: z.boolean() })).max(MAX_TRIALS),
      stoppedEarly: text(500).nullable(),
      line: text(1000),
    })
    .nullable()
    .default(null),
  /** at what load the SLOs are predicted to break (absent from documents of older versions) */
  foresight: foresightSchema.nullable().default(null),
  timings: z.object({ imageMs: finite, startStopMs: finite, loadMs: finite, trainMs: finite, recommendMs: finite, totalMs: finite }),
  github: githubSchema.nullable(),
});

export type ResultsDoc = z.output<typeof resultsSchema>;
export type Verdict = z.output<typeof verdictSchema>;
export type Sweep = z.output<typeof sweepSchema>;
export type Edit = z.output<typeof editSchema>;
export type Suggestion = z.output<typeof suggestionSchema>;
export type GitHubPlace = z.output<typeof githubSchema>;

/**
 * Validate a results document read from a file (possibly written by an untrusted job).
 * Errors name the file and the field.
 */
export function parseResults(doc: unknown, file: string): ResultsDoc {
  const parsed = resultsSchema.safeParse(doc);
  if (parsed.success) return parsed.data;
  const first = parsed.error.issues[0]!;
  const field = first.path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");
  const more = parsed.error.issues.length > 1 ? ` (and ${parsed.error.issues.length - 1} more)` : "";
  throw new Error(`${file}: ${field || "(document)"}: ${first.message}${more}`);
}
