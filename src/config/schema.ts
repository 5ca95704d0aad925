/**
 * The one source of truth for shadowgate.yml: its types, defaults and error messages.
 * `parseConfig` turns the raw YAML value into a typed, normalised `ShadowgateConfig`
 * or a list of issues, each with the path of the field it is about.
 */
import { z } from "zod";
import { CATEGORY_NAMES, catalogFor, type CategoryCatalog } from "../catalog/index.js";
import { renderTemplate, templatePlaceholders } from "../core/apply.js";
import {
  KPI_INFO,
  KPI_NAMES,
  type ApplyHow,
  type Configuration,
  type KpiName,
  type Objective,
  type ParameterCatalog,
  type ParameterSpec,
  type ParameterTarget,
  type ParamValue,
  type Slo,
  type WorkloadProfile,
} from "../core/types.js";
import { checkSatisfiable, compileConstraint, ConstraintError } from "../search/constraints.js";
import { STRATEGY_NAMES, type Constraint, type StrategyName } from "../search/types.js";
import { parseDuration, parseFraction, parseKpiBound, parseMemoryMiB } from "./units.js";
import { BLOCK_ROUNDS, DEFAULT_GATE_KPIS, GATE_KPIS, MIN_ROUNDS } from "../gate/compare.js";
import { TRAFFIC_FORMATS, type TrafficFormat } from "../traffic/read.js";

/** Docker's smallest CPU quota and memory limit; a shadow's share must clear them. */
export const MIN_SHADOW_CPUS = 0.01;
export const MIN_SHADOW_MEMORY_MIB = 6;

/** The validated configuration the pipeline runs with. */
export interface ShadowgateConfig {
  workload: WorkloadProfile;
  shadows: {
    /** each shadow gets this fraction of the primary's CPU and memory */
    fraction: number;
    /** shadows measured at the same time */
    parallel: number;
    /** trials in the first design, the current configuration included */
    trials: number;
    /** CPU quota of all shadows side by side; default: the Docker host's CPUs */
    cpuBudget?: number;
    seed: number;
  };
  parameters: ParameterCatalog;
  current: Configuration;
  /**
   * Rules every proposed configuration satisfies: the config's `constraints`, in order, then
   * the category catalog's own rules whose parameters are all searched (they only rule out
   * configurations equivalent to others).
   */
  constraints: Constraint[];
  traffic: {
    file: string;
    format: "auto" | TrafficFormat;
    /** how many recorded requests are replayed: a fraction (≤ 1) or a count (> 1), stratified by route, seeded */
    sample: number;
    /** every route keeps at least this many requests in the sample (or all it has) */
    floor: number;
    /** an OpenAPI description whose paths are the route templates (else inferred from the recording) */
    openapi?: string;
    /**
     * "closed": a closed loop of `connections`; a number: open model at that multiple of the
     * recorded pace (the recorded request rate × it, via the load generator's rate)
     */
    pace: "closed" | number;
    connections: number;
    warmupMs: number;
    durationMs: number;
    windowMs: number;
    timeoutMs: number;
    /** fixed total request rate; closed loop when absent */
    rate?: number;
    /** load levels each configuration is measured at, ascending, 1 included (multiples of today's traffic) */
    levels: number[];
  };
  slo: Slo;
  /** expected traffic growth (a multiple of today's): the report says whether the SLOs hold there */
  growth?: number;
  objective: Objective;
  store: { path: string };
  /** the forest engine (docs/adr/003-forest-engine.md) */
  model: { engine: "native" | "ml-random-forest" };
  search: {
    /** "adaptive": the agent chooses the strategy per batch; else this one for every batch */
    strategy: "adaptive" | StrategyName;
    /** no batch starts that would end after this long (ms); absent: the trial count alone */
    timeBudgetMs?: number;
  };
  /** the regression gate: base vs head (src/gate/) */
  gate: GateSettings;
  /** what is pseudonymised before any request reaches a shadow, a mock, a report or the cache */
  anonymise: AnonymiseSettings;
  /** external APIs the workload calls, served by mocks built from the recording: host → how the workload finds it */
  mocks: Record<string, MockSettings>;
}

export interface AnonymiseSettings {
  /** header names pseudonymised beside the defaults */
  headers: string[];
  /** JSON field, query, form and cookie names pseudonymised beside the defaults */
  fields: string[];
  /** names never touched (e.g. a non-secret "token_type") */
  keep: string[];
  /** the user's own value rules, each counted under its name */
  rules: { name: string; pattern: string; in: AnonymiseWhere[]; flags: string }[];
}

export const ANONYMISE_WHERE = ["headers", "query", "path", "body", "response"] as const;
export type AnonymiseWhere = (typeof ANONYMISE_WHERE)[number];

export interface MockSettings {
  /** the environment variable that gives the workload the mock's base URL */
  env: string;
  /** the recorded latency replayed, none, or scaled */
  latency: "recorded" | "none" | number;
}

export interface DiffSettings {
  /** requests compared per route */
  perRoute: number;
  /** also send POST/PUT/PATCH/DELETE (shadows are disposable) */
  unsafe: boolean;
  /** a response difference fails the gate, not only reported */
  fail: boolean;
}

export interface GateSettings {
  /** compared by head/base ratio; default p99, p50, throughput, CPU per request */
  kpis: KpiName[];
  /** a regression this large (fraction) must not pass */
  regression: number;
  /** of each KPI's interval */
  confidence: number;
  /** both at once, or one after the other in ABBA rounds */
  mode: "duet" | "interleaved";
  /** what an inconclusive verdict does to the step (with a warning either way) */
  inconclusive: "pass" | "fail";
  /** load time at most, warm-ups included, ms */
  budgetMs: number;
  /** measured window per side per round, ms */
  roundMs: number;
  /** the response-correctness diff beside the performance verdict; absent: off */
  diff?: DiffSettings;
}

/** One problem with the input, located by its path in the document. */
export interface ConfigIssue {
  path: (string | number)[];
  message: string;
  /** where to find a line when `path` is not in the document (a value left out of `current`) */
  near?: (string | number)[];
}

const duration = (what: string) =>
  z.union([z.string(), z.number()]).transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `expected a ${what} like "500ms", "8s" or "2m", got ${show(value)}` });
      return z.NEVER;
    }
    return ms;
  });

const memory = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const mib = parseMemoryMiB(value);
  if (mib === undefined) {
    ctx.addIssue({ code: "custom", message: `expected a memory size like "512m", "1g" or a number of MiB, got ${show(value)}` });
    return z.NEVER;
  }
  return mib;
});

const positive = (what: string) => z.number({ error: `expected ${what}` }).positive({ error: `expected ${what}` });
const positiveInt = (what: string) =>
  z.number({ error: `expected ${what}` }).int({ error: `expected ${what}` }).positive({ error: `expected ${what}` });

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "expected an environment variable name like POOL_SIZE" });

const APPLY_EXPECTED =
  'expected one of "env", "arg", "cpus", "memory", or {env: NAME} / {arg: "--flag={value}"} / {template: {file: FILE, path: /PATH/IN/CONTAINER}}';
const TEMPLATE_FILE_EXPECTED = "expected the path of a template file (relative to this file's folder)";
const applySchema = z.union(
  [
    z.enum(["env", "arg", "cpus", "memory"]),
    z.strictObject({
      env: envName,
      template: z.string().includes("{value}", { error: 'expected a template containing {value}, like "-Xmx{value}m"' }).optional(),
      append: z.boolean({ error: "expected true or false" }).optional(),
    }),
    z.strictObject({ arg: z.string().min(1) }),
    z.strictObject({
      template: z.strictObject({
        file: z.string({ error: TEMPLATE_FILE_EXPECTED }).min(1, { error: TEMPLATE_FILE_EXPECTED }),
        path: z.string({ error: "expected the file's absolute path in the container" }).regex(/^\/.*[^/]$/, { error: 'expected the file\'s absolute path in the container, like "/etc/nginx/nginx.conf"' }),
      }),
    }),
  ],
  { error: APPLY_EXPECTED },
);

const PARAM_TYPES = ["int", "float", "enum", "bool"] as const;

const SEARCH_STRATEGIES = ["adaptive", ...STRATEGY_NAMES] as const;

const fraction = (what: string, min: number, max: number) =>
  z.union([z.string(), z.number()]).transform((value, ctx) => {
    const f = parseFraction(value);
    if (f === undefined || !(f >= min && f <= max)) {
      ctx.addIssue({ code: "custom", message: `expected ${what}, got ${show(value)}` });
      return z.NEVER;
    }
    return f;
  });

const SAMPLE_EXPECTED = "expected a fraction of the recorded requests in (0, 1] or a whole number of requests above 1";

export const DIFF_DEFAULTS: DiffSettings = { perRoute: 10, unsafe: false, fail: false };

/** "2x", "2×", "150%" or 2: a positive multiple. */
function parseMultiple(value: string | number): number | undefined {
  const text = String(value).trim();
  const m = /^(\d+(?:\.\d+)?)\s*(x|×|%)?$/i.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]) / (m[2] === "%" ? 100 : 1);
  return n > 0 && Number.isFinite(n) ? n : undefined;
}

/** "closed", "recorded" (= 1× the recorded pace) or a multiple of the recorded pace. */
function parsePaceSetting(value: string | number): "closed" | number | undefined {
  if (value === "closed") return "closed";
  if (value === "recorded") return 1;
  const multiple = parseMultiple(value);
  return multiple !== undefined && multiple <= 100 ? multiple : undefined;
}

const LEVELS_EXPECTED = "expected load levels as multiples of today's traffic, e.g. [0.5, 1, 2] (each > 0 and ≤ 20, 1 included)";

/** "1.5x", "1.5×", "150%" or 1.5: expected traffic growth as a multiple of today's. */
const growth = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const factor = parseMultiple(value) ?? NaN;
  if (!(factor > 1 && factor <= 20)) {
    ctx.addIssue({ code: "custom", message: `expected the expected traffic growth as a multiple above 1 like "1.5x" (at most 20x), got ${show(value)}` });
    return z.NEVER;
  }
  return factor;
});

const GATE_DEFAULTS = { mode: "duet", regression: 0.1, confidence: 0.95, inconclusive: "pass", budget: 180_000, round: 5000 } as const;

const TARGET_EXPECTED = "expected {file: PATH, key: KEY}: the file (relative to this file's folder) and the key that holds the value";
const targetSchema = z.strictObject(
  {
    file: z.string({ error: "expected the path of a .env, .yml/.yaml file or a Dockerfile" }).min(1, { error: "expected the path of a .env, .yml/.yaml file or a Dockerfile" }),
    key: z.string({ error: "expected the key that holds the value" }).min(1, { error: "expected the key that holds the value" }),
  },
  { error: TARGET_EXPECTED },
);

/** The kinds of file a parameter's `target` can point into. */
export type TargetKind = "env" | "yaml" | "dockerfile";

/**
 * The kind of a target file, by its name: `.yml`/`.yaml` → yaml; `.env`, `.env.<x>`, `<x>.env`
 * → env; `Dockerfile`, `<x>.Dockerfile`, `Dockerfile.<x>` (any case) → dockerfile.
 */
export function targetKind(file: string): TargetKind | undefined {
  const base = file.split(/[\\/]/).pop() ?? "";
  if (/\.ya?ml$/i.test(base)) return "yaml";
  if (base === ".env" || base.startsWith(".env.") || (base.endsWith(".env") && base.length > ".env".length)) return "env";
  if (/^dockerfile$/i.test(base) || /\.dockerfile$/i.test(base) || /^dockerfile\./i.test(base)) return "dockerfile";
  return undefined;
}

/** Why `key` cannot name a value in a file of `kind`, or undefined when it can. */
function checkTargetKey(kind: TargetKind, key: string): string | undefined {
  switch (kind) {
    case "env":
      return /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key) ? undefined : `expected a variable name like POOL_SIZE for a .env file, got ${show(key)}`;
    case "dockerfile":
      return /^[^\s=\\"'$]+$/.test(key) ? undefined : `expected a variable name like POOL_SIZE for a Dockerfile ENV, got ${show(key)}`;
    case "yaml":
      return key.split(".").every((part) => part.length > 0) ? undefined : `expected a dotted key path like worker.pool or env.0.value, got ${show(key)}`;
  }
}

/**
 * A full definition (name, type, ...) or a catalog parameter (`use: NAME`) with optional
 * overrides of its range, values, scale, apply and target. Which fields go together is
 * checked in `resolveParameters`.
 */
const parameterSchema = z.strictObject({
  use: z.string({ error: "expected the name of a parameter of the workload's category catalog" }).min(1).optional(),
  name: z
    .string({ error: "expected a parameter name" })
    .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, {
      error: "expected a name of letters, digits, _ . -",
    })
    .optional(),
  type: z.enum(PARAM_TYPES, { error: `expected one of ${PARAM_TYPES.join(", ")}` }).optional(),
  range: z.tuple([z.number(), z.number()], { error: "expected [min, max]" }).optional(),
  values: z.array(z.union([z.string(), z.number()]).transform(String)).optional(),
  scale: z.enum(["linear", "log"], { error: 'expected "linear" or "log"' }).optional(),
  apply: applySchema.optional(),
  target: targetSchema.optional(),
});

const kpiName = z.enum(KPI_NAMES, { error: `expected a KPI: ${KPI_NAMES.join(", ")}` });

const rawSchema = z.strictObject({
  workload: z.strictObject(
    {
      name: z.string({ error: "expected the workload's name" }).min(1),
      category: z.string().default("generic"),
      build: z
        .strictObject({ context: z.string().default("."), dockerfile: z.string().default("Dockerfile") })
        .optional(),
      image: z.string().min(1).optional(),
      port: z.number().int().min(1).max(65535, { error: "expected a port 1–65535" }).default(8080),
      portEnv: envName.default("PORT"),
      env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
      command: z.array(z.string()).optional(),
      ready: z
        .strictObject({ path: z.string().startsWith("/", { error: 'expected a path starting with "/"' }).default("/healthz"), timeout: duration("timeout").default(30_000) })
        .default({ path: "/healthz", timeout: 30_000 }),
      resources: z
        .strictObject({ cpus: positive("a number of CPUs > 0").default(1), memory: memory.default(512) })
        .default({ cpus: 1, memory: 512 }),
    },
    { error: "expected a workload section with at least a name" },
  ),
  shadows: z
    .strictObject({
      fraction: z.number().gt(0, { error: "expected a fraction in (0, 1]" }).max(1, { error: "expected a fraction in (0, 1]" }).default(0.25),
      parallel: positiveInt("a whole number ≥ 1").default(2),
      trials: positiveInt("a whole number ≥ 1").default(6),
      cpuBudget: positive("a number of CPUs > 0").optional(),
      seed: z.number().int().default(1),
    })
    .default({ fraction: 0.25, parallel: 2, trials: 6, seed: 1 }),
  /** absent: the whole catalog of the workload's category */
  parameters: z.array(parameterSchema, { error: "expected a list of parameters" }).optional(),
  current: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])).optional(),
  constraints: z
    .array(z.string({ error: 'expected a rule such as "threads * workers <= 64"' }), { error: 'expected a list of rules such as "threads * workers <= 64"' })
    .default([]),
  traffic: z.strictObject(
    {
      file: z.string({ error: "expected the path of a recorded-traffic file" }).min(1),
      format: z.enum(["auto", ...TRAFFIC_FORMATS], { error: `expected "auto" or one of ${TRAFFIC_FORMATS.join(", ")}` }).default("auto"),
      sample: z
        .number({ error: SAMPLE_EXPECTED })
        .gt(0, { error: SAMPLE_EXPECTED })
        .refine((n) => n <= 1 || Number.isInteger(n), { error: SAMPLE_EXPECTED })
        .default(1),
      floor: z.number().int({ error: "expected a whole number of requests ≥ 0 per route" }).min(0, { error: "expected a whole number of requests ≥ 0 per route" }).default(3),
      openapi: z.string({ error: "expected the path of an OpenAPI description (JSON or YAML)" }).min(1).optional(),
      pace: z
        .union([z.string(), z.number()])
        .transform((value, ctx) => {
          const pace = parsePaceSetting(value);
          if (pace === undefined) {
            ctx.addIssue({ code: "custom", message: `expected "closed" (a closed loop of connections), "recorded" (the recorded request rate) or a multiple of it like "2x", got ${show(value)}` });
            return z.NEVER;
          }
          return pace;
        })
        .default("closed"),
      connections: positiveInt("a whole number of connections ≥ 1").default(8),
      warmup: duration("duration").default(3000),
      duration: duration("duration").default(10_000),
      window: duration("duration").default(1000),
      timeout: duration("duration").default(10_000),
      rate: z.number({ error: "expected a request rate ≥ 1 per second" }).min(1, { error: "expected a request rate ≥ 1 per second" }).optional(),
      levels: z
        .array(z.number({ error: LEVELS_EXPECTED }).positive({ error: LEVELS_EXPECTED }).max(20, { error: LEVELS_EXPECTED }), { error: LEVELS_EXPECTED })
        .min(1, { error: LEVELS_EXPECTED })
        .default([1]),
    },
    { error: "expected a traffic section with at least a file" },
  ),
  slo: z.partialRecord(kpiName, z.union([z.number(), z.string()])).default({}),
  growth: growth.optional(),
  objective: z
    .union([z.strictObject({ minimize: kpiName }), z.strictObject({ maximize: kpiName })], {
      error: "expected {minimize: KPI} or {maximize: KPI}",
    })
    .default({ minimize: "latency.p99" }),
  store: z.strictObject({ path: z.string().default(".shadowgate") }).default({ path: ".shadowgate" }),
  model: z
    .strictObject({ engine: z.enum(["native", "ml-random-forest"], { error: 'expected "native" or "ml-random-forest"' }).default("native") })
    .default({ engine: "native" }),
  search: z
    .strictObject({
      strategy: z.enum(SEARCH_STRATEGIES, { error: `expected one of ${SEARCH_STRATEGIES.join(", ")}` }).default("adaptive"),
      budget: duration("duration").optional(),
    })
    .default({ strategy: "adaptive" }),
  gate: z
    .strictObject({
      kpis: z.array(z.enum(GATE_KPIS, { error: `expected KPIs the gate compares by ratio: ${GATE_KPIS.join(", ")}` })).min(1, { error: "expected at least one KPI" }).optional(),
      regression: fraction('a regression threshold like "10%" (from 0.5% to 100%)', 0.005, 1).default(GATE_DEFAULTS.regression),
      confidence: fraction('a confidence like 0.95 or "95%" (from 50% to 99.9%)', 0.5, 0.999).default(GATE_DEFAULTS.confidence),
      mode: z.enum(["duet", "interleaved"], { error: 'expected "duet" (both at once) or "interleaved" (ABBA rounds)' }).default(GATE_DEFAULTS.mode),
      inconclusive: z.enum(["pass", "fail"], { error: 'expected "pass" (with a warning) or "fail"' }).default(GATE_DEFAULTS.inconclusive),
      budget: duration("duration").default(GATE_DEFAULTS.budget),
      round: duration("duration").default(GATE_DEFAULTS.round),
      diff: z
        .union([
          z.boolean(),
          z.strictObject({
            requests: positiveInt("a whole number of requests ≥ 1 per route").default(DIFF_DEFAULTS.perRoute),
            unsafe: z.boolean().default(DIFF_DEFAULTS.unsafe),
            fail: z.boolean().default(DIFF_DEFAULTS.fail),
          }),
        ], { error: "expected true, false or {requests, unsafe, fail}" })
        .optional(),
    })
    .default(GATE_DEFAULTS),
  anonymise: z
    .strictObject({
      headers: z.array(z.string().min(1), { error: "expected a list of header names" }).default([]),
      fields: z.array(z.string().min(1), { error: "expected a list of field names" }).default([]),
      keep: z.array(z.string().min(1), { error: "expected a list of names never pseudonymised" }).default([]),
      rules: z
        .array(
          z.strictObject({
            name: z.string({ error: "expected the rule's name (counted in the redaction summary)" }).regex(/^[\w.-]{1,40}$/, { error: "expected a name of letters, digits, . _ - (at most 40)" }),
            pattern: z.string({ error: "expected a regular expression" }).superRefine((pattern, ctx) => {
              try {
                new RegExp(pattern, "g");
              } catch (error) {
                ctx.addIssue({ code: "custom", message: `expected a valid regular expression: ${(error as Error).message}` });
                return;
              }
              if (new RegExp(`^(?:${pattern})$`).test("")) ctx.addIssue({ code: "custom", message: "expected a pattern that matches at least one character (this one matches the empty string)" });
            }),
            in: z.array(z.enum(ANONYMISE_WHERE, { error: `expected where it applies: ${ANONYMISE_WHERE.join(", ")}` })).min(1).default([...ANONYMISE_WHERE]),
            flags: z.string().regex(/^(?!.*(.).*\1)[imsu]*$/, { error: "expected any of the regular-expression flags i, m, s, u, each once" }).default(""),
          }),
          { error: "expected a list of rules {name, pattern, in, flags}" },
        )
        .superRefine((rules, ctx) => {
          const seen = new Set<string>();
          rules.forEach((rule, i) => {
            if (seen.has(rule.name)) ctx.addIssue({ code: "custom", path: [i, "name"], message: `expected each rule name once (it names the rule's count), got ${JSON.stringify(rule.name)} again` });
            seen.add(rule.name);
          });
        })
        .default([]),
    })
    .default({ headers: [], fields: [], keep: [], rules: [] }),
  mocks: z
    .record(
      z.string().regex(/^[a-z0-9.-]+(:\d{1,5})?$/i, { error: 'expected a host as recorded, like "api.rates.example" or "payments.internal:8443"' }),
      z.strictObject(
        {
          env: envName,
          latency: z
            .union([z.string(), z.number()])
            .transform((value, ctx) => {
              if (value === "recorded" || value === "none") return value;
              const scaled = parseMultiple(value);
              if (scaled === undefined || scaled > 100) {
                ctx.addIssue({ code: "custom", message: `expected "recorded", "none" or a multiple of the recorded latency like "0.5x", got ${show(value)}` });
                return z.NEVER;
              }
              return scaled;
            })
            .default("recorded"),
        },
        { error: "expected {env: VARIABLE} naming the environment variable through which the workload finds this API" },
      ),
      { error: 'expected a map of external hosts as recorded (like "api.rates.example" or "payments.internal:8443", no scheme) to {env: VARIABLE}' },
    )
    .superRefine((mocks, ctx) => {
      // hosts compare case-insensitively and without a default port: two spellings of one host would race for its calls
      const seen = new Map<string, string>();
      for (const host of Object.keys(mocks)) {
        const key = host.toLowerCase().replace(/:(?:80|443)$/, "");
        const first = seen.get(key);
        if (first !== undefined) ctx.addIssue({ code: "custom", path: [host], message: `expected each host once: ${JSON.stringify(host)} is ${JSON.stringify(first)} again` });
        else seen.set(key, host);
      }
    })
    .default({}),
});

type RawConfig = z.output<typeof rawSchema>;
type RawParameter = z.output<typeof parameterSchema>;
type RawApply = NonNullable<RawParameter["apply"]>;
type Path = (string | number)[];

export interface ParseOptions {
  /**
   * Reads a template file named by `apply: {template: {file}}`, as written in the config (the
   * loader resolves it against the config file's folder); throws an Error saying why it cannot.
   */
  readTemplate?: (file: string) => string;
}

/** Validate and normalise. Paths in issues point into the raw document. */
export function parseConfig(raw: unknown, options: ParseOptions = {}): { ok: true; config: ShadowgateConfig } | { ok: false; issues: ConfigIssue[] } {
  const parsed = rawSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    return { ok: false, issues: parsed.error.issues.map((issue) => ({ path: issue.path as (string | number)[], message: describeIssue(issue, raw) })) };
  }
  const issues: ConfigIssue[] = [];
  const config = normalise(parsed.data, issues, options);
  return issues.length > 0 ? { ok: false, issues } : { ok: true, config };
}

/** Cross-field rules the per-field schema cannot express. */
function normalise(raw: RawConfig, issues: ConfigIssue[], options: ParseOptions): ShadowgateConfig {
  const { workload } = raw;
  if (workload.build && workload.image) {
    issues.push({ path: ["workload", "image"], message: "expected either build or image, not both" });
  }
  const source: WorkloadProfile["source"] = workload.image
    ? { kind: "image", image: workload.image }
    : { kind: "build", context: workload.build?.context ?? ".", dockerfile: workload.build?.dockerfile ?? "Dockerfile" };

  // Docker refuses quotas below 0.01 CPUs and limits below 6 MiB: a shadow's share must clear them
  const { fraction } = raw.shadows;
  if (workload.resources.cpus * fraction < MIN_SHADOW_CPUS) {
    issues.push({ path: ["workload", "resources", "cpus"], message: `expected at least ${MIN_SHADOW_CPUS / fraction} CPUs: a shadow gets × ${fraction}, and Docker needs ≥ ${MIN_SHADOW_CPUS}` });
  }
  if (workload.resources.memory * fraction < MIN_SHADOW_MEMORY_MIB) {
    issues.push({ path: ["workload", "resources", "memory"], message: `expected at least ${MIN_SHADOW_MEMORY_MIB / fraction} MiB: a shadow gets × ${fraction}, and Docker needs ≥ ${MIN_SHADOW_MEMORY_MIB} MiB` });
  }

  const resources = {
    cpus: workload.resources.cpus,
    memoryMiB: workload.resources.memory,
    minCpus: MIN_SHADOW_CPUS / fraction,
    minMemoryMiB: MIN_SHADOW_MEMORY_MIB / fraction,
  };
  // A category the catalogs do not know was free text before catalogs existed: a config that
  // defines all its parameters itself still loads (as generic); one that needs the catalog fails.
  const needsCatalog = raw.parameters === undefined || raw.parameters.some((p) => p.use !== undefined);
  const catalog = catalogFor(workload.category, resources) ?? (needsCatalog ? undefined : catalogFor("generic", resources));
  if (!catalog) {
    issues.push({ path: ["workload", "category"], message: `expected one of the known categories ${CATEGORY_NAMES.join(", ")}, got ${show(workload.category)}` });
  }
  const resolved = resolveParameters(raw, catalog, issues, new Templates(options.readTemplate));
  const parameters = resolved.map((r) => r.spec);
  resolved.forEach(({ spec, at }) => {
    if (spec.type !== "int" && spec.type !== "float") return;
    const minimum = spec.apply.kind === "cpus" ? MIN_SHADOW_CPUS : spec.apply.kind === "memory" ? MIN_SHADOW_MEMORY_MIB : undefined;
    if (minimum !== undefined && spec.min * fraction < minimum) {
      issues.push({ path: at("range"), message: `expected a minimum of at least ${minimum / fraction}: a shadow gets × ${fraction}, and Docker needs ≥ ${minimum}${spec.apply.kind === "memory" ? " MiB" : " CPUs"}` });
    }
  });

  const current = normaliseCurrent(raw, resolved, issues);
  const constraints = normaliseConstraints(raw, resolved, current, catalog, issues);

  const slo: Slo = {};
  for (const [kpi, value] of Object.entries(raw.slo) as [KpiName, number | string][]) {
    const bound = parseKpiBound(kpi, value);
    if (bound === undefined || bound < 0) {
      issues.push({ path: ["slo", kpi], message: `expected a bound for ${kpi} like ${kpi.startsWith("latency.") ? '"200ms"' : kpi.endsWith(".rate") ? '"1%"' : "a number"}, got ${show(value)}` });
    } else if (kpi.endsWith(".rate") && bound > 1) {
      issues.push({ path: ["slo", kpi], message: `expected a rate between 0 and 100%, got ${show(value)}` });
    } else slo[kpi] = bound;
  }

  const objective: Objective =
    "minimize" in raw.objective ? { kpi: raw.objective.minimize, goal: "minimize" } : { kpi: raw.objective.maximize, goal: "maximize" };
  const natural = KPI_INFO[objective.kpi].better === "lower" ? "minimize" : "maximize";
  if (objective.goal !== natural) {
    issues.push({ path: ["objective", objective.goal], message: `expected ${natural} for ${objective.kpi} (${KPI_INFO[objective.kpi].better} is better)` });
  }

  const { traffic } = raw;
  if (traffic.warmup > 0 && traffic.warmup < 500) issues.push({ path: ["traffic", "warmup"], message: "expected 0 or at least 500ms" });
  if (traffic.duration < 1000) issues.push({ path: ["traffic", "duration"], message: "expected a measured window of at least 1s" });
  if (traffic.window > traffic.duration) issues.push({ path: ["traffic", "window"], message: "expected a sub-window no longer than the duration" });
  if (traffic.pace !== "closed" && traffic.rate !== undefined) issues.push({ path: ["traffic", "pace"], message: `expected either a fixed rate (traffic.rate) or a pace relative to the recording, not both` });
  if (!traffic.levels.includes(1)) issues.push({ path: ["traffic", "levels"], message: `expected today's level 1 among the load levels (the anchor is measured there), got [${traffic.levels.join(", ")}]` });
  if (raw.growth !== undefined && Object.keys(raw.slo).length === 0) issues.push({ path: ["growth"], message: "expected an slo as well: growth says whether the SLOs still hold at that load" });

  return {
    workload: {
      name: workload.name,
      category: workload.category,
      source,
      port: workload.port,
      portEnv: workload.portEnv,
      env: workload.env,
      ...(workload.command ? { command: workload.command } : {}),
      ready: { path: workload.ready.path, timeoutMs: workload.ready.timeout },
      resources: { cpus: workload.resources.cpus, memoryMiB: workload.resources.memory },
    },
    shadows: {
      fraction: raw.shadows.fraction,
      parallel: raw.shadows.parallel,
      trials: raw.shadows.trials,
      seed: raw.shadows.seed,
      ...(raw.shadows.cpuBudget !== undefined ? { cpuBudget: raw.shadows.cpuBudget } : {}),
    },
    parameters,
    current,
    constraints,
    traffic: {
      file: traffic.file,
      format: traffic.format,
      sample: traffic.sample,
      floor: traffic.floor,
      ...(traffic.openapi !== undefined ? { openapi: traffic.openapi } : {}),
      pace: traffic.pace,
      connections: traffic.connections,
      warmupMs: traffic.warmup,
      durationMs: traffic.duration,
      windowMs: traffic.window,
      timeoutMs: traffic.timeout,
      ...(traffic.rate !== undefined ? { rate: traffic.rate } : {}),
      levels: [...new Set(traffic.levels)].sort((a, b) => a - b),
    },
    slo,
    ...(raw.growth !== undefined ? { growth: raw.growth } : {}),
    objective,
    store: raw.store,
    model: raw.model,
    search: { strategy: raw.search.strategy, ...(raw.search.budget !== undefined ? { timeBudgetMs: raw.search.budget } : {}) },
    gate: normaliseGate(raw, issues),
    anonymise: raw.anonymise,
    mocks: raw.mocks,
  };
}

/** The gate's settings; the budget must hold the warm-ups and a few rounds. */
function normaliseGate(raw: RawConfig, issues: ConfigIssue[]): GateSettings {
  const { gate } = raw;
  if (gate.round < 1000) issues.push({ path: ["gate", "round"], message: "expected a measured window per round of at least 1s" });
  // a verdict needs MIN_ROUNDS blocks, each a fresh pair: two warm-ups and BLOCK_ROUNDS interleaved rounds
  const least = MIN_ROUNDS * (2 * raw.traffic.warmup + BLOCK_ROUNDS * 2 * gate.round);
  if (gate.budget < least) {
    issues.push({ path: ["gate", "budget"], message: `expected at least ${least / 1000}s: ${MIN_ROUNDS} pairs of shadows, each with two warm-ups (traffic.warmup) and ${BLOCK_ROUNDS} interleaved rounds of gate.round` });
  }
  return {
    kpis: gate.kpis ? [...new Set(gate.kpis)] : [...DEFAULT_GATE_KPIS],
    regression: gate.regression,
    confidence: gate.confidence,
    mode: gate.mode,
    inconclusive: gate.inconclusive,
    budgetMs: gate.budget,
    roundMs: gate.round,
    ...(gate.diff === true
      ? { diff: { ...DIFF_DEFAULTS } }
      : gate.diff && typeof gate.diff === "object"
        ? { diff: { perRoute: gate.diff.requests, unsafe: gate.diff.unsafe, fail: gate.diff.fail } }
        : {}),
  };
}

/** A searched parameter and where it was declared, for messages. */
interface Resolved {
  spec: ParameterSpec;
  /** the path of a field of its declaration: `parameters[i].<field>`, or `workload.category` for a whole catalog */
  at: (...field: Path) => Path;
  /** taken from the category catalog (`use:` or the whole catalog) rather than defined in full */
  fromCatalog: boolean;
  /** the catalog's default, which `current` falls back to */
  default?: ParamValue;
}

/** A parameter before validation: a full definition, or a catalog knob with the overrides applied. */
interface Draft {
  name: string;
  type: (typeof PARAM_TYPES)[number];
  range?: readonly [number, number] | undefined;
  values?: string[] | undefined;
  scale: "linear" | "log";
  apply: ApplyHow;
  target?: ParameterTarget | undefined;
}

/**
 * The searched parameters: the entries of `parameters` (full definitions or `use:` of a
 * catalog parameter), or, without `parameters`, the whole catalog of the category.
 */
function resolveParameters(raw: RawConfig, catalog: CategoryCatalog | undefined, issues: ConfigIssue[], templates: Templates): Resolved[] {
  const resolved: Resolved[] = [];
  if (raw.parameters === undefined) {
    const at = () => ["workload", "category"];
    for (const knob of catalog?.knobs ?? []) {
      const spec = checkDraft(draftOf(knob), at, `${knob.name}: `, issues);
      if (spec) resolved.push({ spec, at, fromCatalog: true, ...(knob.default !== undefined ? { default: knob.default } : {}) });
    }
  } else if (raw.parameters.length === 0) {
    const whole = catalog ? ` (leave parameters out to search the whole ${catalog.category} catalog: ${catalog.knobs.map((k) => k.name).join(", ")})` : "";
    issues.push({ path: ["parameters"], message: `expected at least one parameter: an empty list leaves nothing to search${whole}` });
  }

  const seen = new Set<string>();
  (raw.parameters ?? []).forEach((p, i) => {
    const at = (...field: Path) => ["parameters", i, ...field];
    const name = p.use ?? p.name;
    if (name !== undefined) {
      if (seen.has(name)) issues.push({ path: at(p.use !== undefined ? "use" : "name"), message: `expected a unique name, "${name}" is declared twice` });
      seen.add(name);
    }
    if (p.use !== undefined) {
      // an unknown category is reported once, at workload.category
      if (!catalog) return;
      const knob = catalog.knobs.find((k) => k.name === p.use);
      if (!knob) {
        issues.push({ path: at("use"), message: `expected a parameter of the ${catalog.category} catalog (${catalog.knobs.map((k) => k.name).join(", ")}), got ${show(p.use)}` });
        return;
      }
      const draft = withOverrides(knob, p, at, issues, templates);
      const spec = checkDraft(draft, at, `${knob.name}: `, issues);
      if (spec) resolved.push({ spec, at, fromCatalog: true, ...(knob.default !== undefined ? { default: knob.default } : {}) });
      return;
    }
    if (p.name === undefined) issues.push({ path: at("name"), message: "missing; expected a parameter name, or use: NAME for a parameter of the category's catalog" });
    if (p.type === undefined) issues.push({ path: at("type"), message: `missing; expected one of ${PARAM_TYPES.join(", ")}` });
    if (p.name === undefined || p.type === undefined) return;
    const draft: Draft = {
      name: p.name,
      type: p.type,
      range: p.range,
      values: p.values,
      scale: p.scale ?? "linear",
      apply: toApply(p.name, p.apply ?? "env", at, issues, templates),
      target: p.target,
    };
    const spec = checkDraft(draft, at, "", issues);
    if (spec) resolved.push({ spec, at, fromCatalog: false });
  });

  for (const r of resolved) {
    if (r.spec.apply.kind === "arg" && !raw.workload.command) {
      issues.push({ path: r.at("apply"), message: "expected workload.command to be set: arguments are appended to it" });
    }
  }
  checkSharedApplies(resolved, issues);
  return withTemplateDefaults(resolved, catalog, issues);
}

/** A catalog knob as a draft, before overrides. */
function draftOf(knob: CategoryCatalog["knobs"][number]): Draft {
  const base = { name: knob.name, apply: knob.apply, target: knob.target };
  switch (knob.type) {
    case "int":
    case "float":
      return { ...base, type: knob.type, range: [knob.min, knob.max], scale: knob.scale };
    case "enum":
      return { ...base, type: "enum", values: knob.values, scale: "linear" };
    case "bool":
      return { ...base, type: "bool", scale: "linear" };
  }
}

/** A catalog knob with the entry's overrides; an override that does not fit the knob's type is an issue. */
function withOverrides(
  knob: CategoryCatalog["knobs"][number],
  p: RawParameter,
  at: (...field: Path) => Path,
  issues: ConfigIssue[],
  templates: Templates,
): Draft {
  const label = `${knob.name}: `;
  const numeric = knob.type === "int" || knob.type === "float";
  if (p.name !== undefined) issues.push({ path: at("name"), message: `${label}expected no name with use: a catalog parameter keeps its catalog name` });
  if (p.type !== undefined) issues.push({ path: at("type"), message: `${label}expected no type with use: the catalog gives it (${knob.type})` });
  if (p.range !== undefined && !numeric) issues.push({ path: at("range"), message: `${label}expected no range for a ${knob.type} parameter${knob.type === "enum" ? " (use values)" : ""}` });
  if (p.values !== undefined && knob.type !== "enum") issues.push({ path: at("values"), message: `${label}expected no values for a ${knob.type} parameter${numeric ? " (use range)" : ""}` });
  if (p.scale !== undefined && !numeric) issues.push({ path: at("scale"), message: `${label}expected no scale for a ${knob.type} parameter` });
  const draft = draftOf(knob);
  return {
    ...draft,
    ...(numeric && p.range ? { range: p.range } : {}),
    ...(numeric && p.scale ? { scale: p.scale } : {}),
    ...(knob.type === "enum" && p.values ? { values: p.values } : {}),
    ...(p.apply !== undefined ? { apply: toApply(knob.name, p.apply, at, issues, templates) } : {}),
    ...(p.target ? { target: p.target } : {}),
  };
}

/** The validated spec of a draft, or undefined (with issues) when it has none; `label` prefixes messages about a catalog parameter. */
function checkDraft(d: Draft, at: (...field: Path) => Path, label: string, issues: ConfigIssue[]): ParameterSpec | undefined {
  const target = d.target ? { target: { file: d.target.file, key: d.target.key } } : {};
  if (d.target) {
    const kind = targetKind(d.target.file);
    if (!kind) issues.push({ path: at("target", "file"), message: `${label}expected a .env, .yml/.yaml file or a Dockerfile, got ${show(d.target.file)}` });
    const problem = kind && checkTargetKey(kind, d.target.key);
    if (problem) issues.push({ path: at("target", "key"), message: `${label}${problem}` });
  }
  const { apply } = d;
  if ((apply.kind === "cpus" || apply.kind === "memory") && d.type !== "int" && d.type !== "float") {
    issues.push({ path: at("apply"), message: `${label}expected an int or float parameter for apply: ${apply.kind}, got type ${d.type}` });
  }
  switch (d.type) {
    case "int":
    case "float": {
      if (!d.range) {
        issues.push({ path: at("range"), message: `${label}expected [min, max] for a ${d.type} parameter` });
        return undefined;
      }
      const [min, max] = d.range;
      if (!(min < max)) {
        issues.push({ path: at("range"), message: `${label}expected [min, max] with min < max, got [${min}, ${max}]` });
        return undefined;
      }
      if (d.type === "int" && (!Number.isInteger(min) || !Number.isInteger(max))) {
        issues.push({ path: at("range"), message: `${label}expected whole numbers for an int parameter, got [${min}, ${max}]` });
      }
      if (d.scale === "log" && min <= 0) {
        issues.push({ path: at("scale"), message: `${label}expected min > 0 for a log scale, got min ${min}` });
      }
      if (d.values) issues.push({ path: at("values"), message: `${label}expected no values for a ${d.type} parameter (use range)` });
      return { name: d.name, type: d.type, min, max, scale: d.scale, apply, ...target };
    }
    case "enum": {
      if (!d.values || d.values.length < 2) {
        issues.push({ path: at("values"), message: `${label}expected a list of at least two values for an enum parameter` });
        return undefined;
      }
      if (new Set(d.values).size !== d.values.length) {
        issues.push({ path: at("values"), message: `${label}expected distinct values` });
      }
      if (d.range) issues.push({ path: at("range"), message: `${label}expected no range for an enum parameter (use values)` });
      return { name: d.name, type: "enum", values: d.values, apply, ...target };
    }
    case "bool":
      return { name: d.name, type: "bool", apply, ...target };
  }
}

function toApply(name: string, apply: RawApply, at: (...field: Path) => Path, issues: ConfigIssue[], templates: Templates): ApplyHow {
  if (typeof apply === "string") {
    switch (apply) {
      case "env":
        return { kind: "env", name };
      case "arg":
        return { kind: "arg", template: `--${name}={value}` };
      case "cpus":
        return { kind: "cpus" };
      case "memory":
        return { kind: "memory" };
    }
  }
  if ("env" in apply) {
    return { kind: "env", name: apply.env, ...(apply.template !== undefined ? { template: apply.template } : {}), ...(apply.append ? { append: true } : {}) };
  }
  if ("arg" in apply) return { kind: "arg", template: apply.arg };
  return templates.apply(apply.template.file, apply.template.path, at("apply", "template", "file"), issues);
}

/**
 * Template files, each read once. Parameters naming the same file and container path share one
 * apply, so the file is rendered once per shadow.
 */
class Templates {
  private readonly contents = new Map<string, string | Error>();
  private readonly applies = new Map<string, ApplyHow>();

  constructor(private readonly read: ((file: string) => string) | undefined) {}

  apply(file: string, path: string, at: Path, issues: ConfigIssue[]): ApplyHow {
    let content = this.contents.get(file);
    if (content === undefined) {
      try {
        if (!this.read) throw new Error("template files are read when a config file is loaded");
        content = this.read(file);
      } catch (error) {
        content = error instanceof Error ? error : new Error(String(error));
      }
      this.contents.set(file, content);
    }
    if (content instanceof Error) {
      issues.push({ path: at, message: `cannot read the template file ${show(file)}: ${content.message}` });
      return { kind: "template", path, content: "", file };
    }
    const key = JSON.stringify([file, path]);
    const shared = this.applies.get(key) ?? { kind: "template", path, content, file };
    this.applies.set(key, shared);
    return shared;
  }
}

/**
 * Parameters that write the same place: an environment variable set by two parameters (only
 * `append` options can share one), or one container path rendered from two templates.
 */
function checkSharedApplies(resolved: readonly Resolved[], issues: ConfigIssue[]): void {
  const envs = new Map<string, Resolved>();
  const files = new Map<string, Resolved>();
  const where = (r: Resolved) => (r.fromCatalog && r.at()[0] === "workload" ? `the catalog's ${r.spec.name}` : `${formatPath(r.at())} (${r.spec.name})`);
  for (const r of resolved) {
    const apply = r.spec.apply;
    if (apply.kind === "env") {
      const other = envs.get(apply.name);
      const otherApply = other?.spec.apply;
      if (other && otherApply?.kind === "env" && !(apply.append && otherApply.append)) {
        issues.push({ path: r.at("apply"), message: `${r.spec.name}: expected its own environment variable, ${apply.name} is also set by ${where(other)} (options of one variable need append: true on each)` });
      }
      envs.set(apply.name, r);
    } else if (apply.kind === "template") {
      const other = files.get(apply.path);
      if (other && other.spec.apply !== apply) {
        issues.push({ path: r.at("apply"), message: `${r.spec.name}: expected one template per file, ${apply.path} is also rendered for ${where(other)}` });
      }
      files.set(apply.path, r);
    }
  }
}

/**
 * Checks each template's placeholders and fills those of catalog parameters that are not
 * searched with the catalog's defaults (so a catalog's own template works for any subset of
 * its knobs). A placeholder that is neither is an issue naming the template's line.
 */
function withTemplateDefaults(resolved: Resolved[], catalog: CategoryCatalog | undefined, issues: ConfigIssue[]): Resolved[] {
  const searched = new Set(resolved.map((r) => r.spec.name));
  const unsearched = (catalog?.knobs ?? []).filter((k) => !searched.has(k.name));
  const defaults: Record<string, ParamValue> = Object.fromEntries(unsearched.flatMap((k) => (k.default !== undefined ? [[k.name, k.default]] : [])));
  const filled = new Map<ApplyHow, ApplyHow>();
  for (const r of resolved) {
    const apply = r.spec.apply;
    if (apply.kind !== "template" || filled.has(apply)) continue;
    const place = (line: number) => (apply.file !== undefined ? `${apply.file}:${line}` : `the ${catalog?.category} catalog's template for ${apply.path}, line ${line}`);
    const path = apply.file !== undefined ? r.at("apply", "template", "file") : r.at("apply");
    for (const { name, line } of templatePlaceholders(apply.content)) {
      if (searched.has(name) || Object.hasOwn(defaults, name)) continue;
      const knob = unsearched.find((k) => k.name === name);
      issues.push({
        path,
        message: knob
          ? `${place(line)}: {{${name}}} is a parameter of the ${catalog?.category} catalog without a default: search it (use: ${name}) to set it`
          : `${place(line)}: unknown placeholder {{${name}}}; expected one of ${[...searched, ...Object.keys(defaults)].join(", ")}`,
      });
    }
    filled.set(apply, { ...apply, content: renderTemplate(apply.content, defaults) });
  }
  return resolved.map((r) => {
    const apply = filled.get(r.spec.apply);
    return apply ? { ...r, spec: { ...r.spec, apply } } : r;
  });
}

/**
 * The configuration in use. It is the anchor every run measures, so each parameter needs a
 * value; CPU and memory parameters default to the primary's resources, catalog parameters to
 * the catalog's default.
 */
function normaliseCurrent(raw: RawConfig, resolved: readonly Resolved[], issues: ConfigIssue[]): Configuration {
  const given = raw.current ?? {};
  const current: Configuration = {};
  const names = new Set([...resolved.map((r) => r.spec.name), ...(raw.parameters ?? []).flatMap((p) => [p.name, p.use])]);
  for (const name of Object.keys(given)) {
    if (!names.has(name)) issues.push({ path: ["current", name], message: `expected a declared parameter, "${name}" is not in parameters` });
  }
  for (const { spec: p, default: fallback, at: declared, fromCatalog } of resolved) {
    const value = given[p.name];
    const at = ["current", p.name];
    if (value === undefined) {
      if (p.apply.kind === "cpus") current[p.name] = raw.workload.resources.cpus;
      else if (p.apply.kind === "memory") current[p.name] = raw.workload.resources.memory;
      else if (fallback !== undefined) {
        const problem = checkValue(p, fallback);
        if (problem) issues.push({ path: at, message: `${problem} (the catalog's default: give the value in use)`, near: declared() });
        else current[p.name] = fallback;
      } else {
        const why = fromCatalog ? `; the ${raw.workload.category} catalog has no default for it` : "";
        issues.push({ path: ["current"], message: `expected a value for ${p.name} (the configuration in use is measured as the anchor${why})`, near: declared() });
      }
      continue;
    }
    const problem = checkValue(p, value);
    if (problem) issues.push({ path: at, message: problem });
    else current[p.name] = value;
  }
  return current;
}

/**
 * The config's constraints compiled against the searched parameters, then the catalog's own
 * whose parameters are all searched catalog parameters. They must admit some configuration,
 * and the configuration in use must satisfy the config's own.
 */
function normaliseConstraints(
  raw: RawConfig,
  resolved: readonly Resolved[],
  current: Configuration,
  catalog: CategoryCatalog | undefined,
  issues: ConfigIssue[],
): Constraint[] {
  const parameters = resolved.map((r) => r.spec);
  const own: Constraint[] = [];
  raw.constraints.forEach((source, i) => {
    try {
      own.push(compileConstraint(source, parameters, i));
    } catch (error) {
      if (!(error instanceof ConstraintError)) throw error;
      const name = error.unknownParameter;
      const hint = name !== undefined && catalog?.knobs.some((k) => k.name === name) ? `; ${name} is in the ${catalog.category} catalog: add {use: ${name}} to parameters` : "";
      issues.push({ path: ["constraints", i], message: `${error.message}${hint}` });
    }
  });
  if (own.length < raw.constraints.length) return [];

  const fromCatalog = new Set(resolved.filter((r) => r.fromCatalog).map((r) => r.spec.name));
  const shipped = (catalog?.constraints ?? []).flatMap((source) => {
    try {
      const constraint = compileConstraint(source, parameters);
      return constraint.parameters.every((name) => fromCatalog.has(name)) ? [constraint] : [];
    } catch (error) {
      // a parameter it names is not searched, or its values were overridden: it does not apply
      if (error instanceof ConstraintError) return [];
      throw error;
    }
  });
  const all = [...own, ...shipped];
  if (all.length === 0) return all;

  const complete = parameters.every((p) => Object.hasOwn(current, p.name));
  if (!(complete && all.every((c) => c.holds(current)))) {
    const contradiction = checkSatisfiable(parameters, all, raw.shadows.seed);
    if (contradiction) {
      issues.push({ path: own.length > 0 ? ["constraints"] : ["workload", "category"], message: contradiction });
      return all;
    }
  }
  if (complete) {
    own.forEach((constraint, i) => {
      if (constraint.holds(current)) return;
      const values = constraint.parameters.map((name) => `${name}: ${show(current[name])}`).join(", ");
      issues.push({ path: ["constraints", i], message: `expected the current configuration to satisfy ${show(constraint.source)}, but it has ${values}` });
    });
  }
  return all;
}

/** `parameters[2].range` style. */
export function formatPath(parts: Path): string {
  return parts.map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? part : `.${part}`)).join("");
}

/** Why `value` is not a valid value of `p`, or undefined when it is. */
export function checkValue(p: ParameterSpec, value: unknown): string | undefined {
  switch (p.type) {
    case "int":
    case "float":
      if (typeof value !== "number" || !Number.isFinite(value)) return `expected a number in [${p.min}, ${p.max}], got ${show(value)}`;
      if (p.type === "int" && !Number.isInteger(value)) return `expected a whole number in [${p.min}, ${p.max}], got ${value}`;
      if (value < p.min || value > p.max) return `expected a value in [${p.min}, ${p.max}], got ${value}`;
      return undefined;
    case "enum":
      return p.values.includes(String(value)) ? undefined : `expected one of ${p.values.join(", ")}, got ${show(value)}`;
    case "bool":
      return typeof value === "boolean" ? undefined : `expected true or false, got ${show(value)}`;
  }
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const value = valueAt(raw, issue.path as PropertyKey[]);
  switch (issue.code) {
    case "invalid_type":
      if (value === undefined) return `missing; ${issue.message.startsWith("expected") ? issue.message : `expected ${issue.expected}`}`;
      return issue.message.startsWith("expected") ? `${issue.message}, got ${show(value)}` : `expected ${issue.expected}, got ${show(value)}`;
    case "unrecognized_keys":
      return `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
    case "invalid_value":
    case "invalid_union":
      return `${issue.message}, got ${show(value)}`;
    case "too_small":
    case "too_big":
    case "invalid_format":
      return issue.message.startsWith("expected") ? `${issue.message}, got ${show(value)}` : `${issue.message.replace(/^Invalid input: /, "")}, got ${show(value)}`;
    default:
      return issue.message;
  }
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
