/**
 * The one source of truth for shadowgate.yml: its types, defaults and error messages.
 * `parseConfig` turns the raw YAML value into a typed, normalised `ShadowgateConfig`
 * or a list of issues, each with the path of the field it is about.
 */
import { z } from "zod";
import {
  KPI_INFO,
  KPI_NAMES,
  type ApplyHow,
  type Configuration,
  type KpiName,
  type Objective,
  type ParameterCatalog,
  type ParameterSpec,
  type Slo,
  type WorkloadProfile,
} from "../core/types.js";
import { parseDuration, parseFraction, parseKpiBound, parseMemoryMiB } from "./units.js";

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
  traffic: {
    file: string;
    format: "auto" | "har";
    /** fraction of recorded requests replayed (seeded) */
    sample: number;
    connections: number;
    warmupMs: number;
    durationMs: number;
    windowMs: number;
    timeoutMs: number;
    /** fixed total request rate; closed loop when absent */
    rate?: number;
  };
  slo: Slo;
  objective: Objective;
  store: { path: string };
  /** the forest engine (docs/adr/003-forest-engine.md) */
  model: { engine: "native" | "ml-random-forest" };
}

/** One problem with the input, located by its path in the document. */
export interface ConfigIssue {
  path: (string | number)[];
  message: string;
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

const APPLY_EXPECTED = 'expected one of "env", "arg", "cpus", "memory", or {env: NAME} / {arg: "--flag={value}"}';
const applySchema = z.union(
  [z.enum(["env", "arg", "cpus", "memory"]), z.strictObject({ env: envName }), z.strictObject({ arg: z.string().min(1) })],
  { error: APPLY_EXPECTED },
);

const PARAM_TYPES = ["int", "float", "enum", "bool"] as const;

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

const parameterSchema = z.strictObject({
  name: z.string({ error: "expected a parameter name" }).regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, {
    error: "expected a name of letters, digits, _ . -",
  }),
  type: z.enum(PARAM_TYPES, { error: `expected one of ${PARAM_TYPES.join(", ")}` }),
  range: z.tuple([z.number(), z.number()], { error: "expected [min, max]" }).optional(),
  values: z.array(z.union([z.string(), z.number()]).transform(String)).optional(),
  scale: z.enum(["linear", "log"], { error: 'expected "linear" or "log"' }).default("linear"),
  apply: applySchema.default("env"),
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
  parameters: z.array(parameterSchema, { error: "expected a list of parameters" }).default([]),
  current: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])).default({}),
  traffic: z.strictObject(
    {
      file: z.string({ error: "expected the path of a recorded-traffic file" }).min(1),
      format: z.enum(["auto", "har"], { error: 'expected "auto" or "har"' }).default("auto"),
      sample: z.number().gt(0, { error: "expected a fraction in (0, 1]" }).max(1, { error: "expected a fraction in (0, 1]" }).default(1),
      connections: positiveInt("a whole number of connections ≥ 1").default(8),
      warmup: duration("duration").default(3000),
      duration: duration("duration").default(10_000),
      window: duration("duration").default(1000),
      timeout: duration("duration").default(10_000),
      rate: z.number({ error: "expected a request rate ≥ 1 per second" }).min(1, { error: "expected a request rate ≥ 1 per second" }).optional(),
    },
    { error: "expected a traffic section with at least a file" },
  ),
  slo: z.partialRecord(kpiName, z.union([z.number(), z.string()])).default({}),
  objective: z
    .union([z.strictObject({ minimize: kpiName }), z.strictObject({ maximize: kpiName })], {
      error: "expected {minimize: KPI} or {maximize: KPI}",
    })
    .default({ minimize: "latency.p99" }),
  store: z.strictObject({ path: z.string().default(".shadowgate") }).default({ path: ".shadowgate" }),
  model: z
    .strictObject({ engine: z.enum(["native", "ml-random-forest"], { error: 'expected "native" or "ml-random-forest"' }).default("native") })
    .default({ engine: "native" }),
});

type RawConfig = z.output<typeof rawSchema>;

/** Validate and normalise. Paths in issues point into the raw document. */
export function parseConfig(raw: unknown): { ok: true; config: ShadowgateConfig } | { ok: false; issues: ConfigIssue[] } {
  const parsed = rawSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    return { ok: false, issues: parsed.error.issues.map((issue) => ({ path: issue.path as (string | number)[], message: describeIssue(issue, raw) })) };
  }
  const issues: ConfigIssue[] = [];
  const config = normalise(parsed.data, issues);
  return issues.length > 0 ? { ok: false, issues } : { ok: true, config };
}

/** Cross-field rules the per-field schema cannot express. */
function normalise(raw: RawConfig, issues: ConfigIssue[]): ShadowgateConfig {
  const { workload } = raw;
  if (workload.build && workload.image) {
    issues.push({ path: ["workload", "image"], message: "expected either build or image, not both" });
  }
  const source: WorkloadProfile["source"] = workload.image
    ? { kind: "image", image: workload.image }
    : { kind: "build", context: workload.build?.context ?? ".", dockerfile: workload.build?.dockerfile ?? "Dockerfile" };

  const parameters: ParameterCatalog = [];
  const seen = new Set<string>();
  raw.parameters.forEach((p, i) => {
    const at = (...rest: (string | number)[]) => ["parameters", i, ...rest];
    if (seen.has(p.name)) issues.push({ path: at("name"), message: `expected a unique name, "${p.name}" is declared twice` });
    seen.add(p.name);
    const apply = toApply(p.name, p.apply);
    const target = p.target ? { target: { file: p.target.file, key: p.target.key } } : {};
    if (p.target) {
      const kind = targetKind(p.target.file);
      if (!kind) issues.push({ path: at("target", "file"), message: `expected a .env, .yml/.yaml file or a Dockerfile, got ${show(p.target.file)}` });
      const problem = kind && checkTargetKey(kind, p.target.key);
      if (problem) issues.push({ path: at("target", "key"), message: problem });
    }
    if ((apply.kind === "cpus" || apply.kind === "memory") && p.type !== "int" && p.type !== "float") {
      issues.push({ path: at("apply"), message: `expected an int or float parameter for apply: ${apply.kind}, got type ${p.type}` });
    }
    switch (p.type) {
      case "int":
      case "float": {
        if (!p.range) {
          issues.push({ path: at("range"), message: `expected [min, max] for a ${p.type} parameter` });
          return;
        }
        const [min, max] = p.range;
        if (!(min < max)) {
          issues.push({ path: at("range"), message: `expected [min, max] with min < max, got [${min}, ${max}]` });
          return;
        }
        if (p.type === "int" && (!Number.isInteger(min) || !Number.isInteger(max))) {
          issues.push({ path: at("range"), message: `expected whole numbers for an int parameter, got [${min}, ${max}]` });
        }
        if (p.scale === "log" && min <= 0) {
          issues.push({ path: at("scale"), message: `expected min > 0 for a log scale, got min ${min}` });
        }
        if (p.values) issues.push({ path: at("values"), message: `expected no values for a ${p.type} parameter (use range)` });
        parameters.push({ name: p.name, type: p.type, min, max, scale: p.scale, apply, ...target });
        return;
      }
      case "enum": {
        if (!p.values || p.values.length < 2) {
          issues.push({ path: at("values"), message: "expected a list of at least two values for an enum parameter" });
          return;
        }
        if (new Set(p.values).size !== p.values.length) {
          issues.push({ path: at("values"), message: "expected distinct values" });
        }
        if (p.range) issues.push({ path: at("range"), message: "expected no range for an enum parameter (use values)" });
        parameters.push({ name: p.name, type: "enum", values: p.values, apply, ...target });
        return;
      }
      case "bool":
        parameters.push({ name: p.name, type: "bool", apply, ...target });
        return;
    }
  });

  raw.parameters.forEach((p, i) => {
    const applied = typeof p.apply === "string" ? p.apply : "arg" in p.apply ? "arg" : "env";
    if (applied === "arg" && !workload.command) {
      issues.push({ path: ["parameters", i, "apply"], message: "expected workload.command to be set: arguments are appended to it" });
    }
  });

  const current = normaliseCurrent(raw, parameters, issues);

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

  // Docker refuses quotas below 0.01 CPUs and limits below 6 MiB: a shadow's share must clear them
  const { fraction } = raw.shadows;
  if (workload.resources.cpus * fraction < MIN_SHADOW_CPUS) {
    issues.push({ path: ["workload", "resources", "cpus"], message: `expected at least ${MIN_SHADOW_CPUS / fraction} CPUs: a shadow gets × ${fraction}, and Docker needs ≥ ${MIN_SHADOW_CPUS}` });
  }
  if (workload.resources.memory * fraction < MIN_SHADOW_MEMORY_MIB) {
    issues.push({ path: ["workload", "resources", "memory"], message: `expected at least ${MIN_SHADOW_MEMORY_MIB / fraction} MiB: a shadow gets × ${fraction}, and Docker needs ≥ ${MIN_SHADOW_MEMORY_MIB} MiB` });
  }
  parameters.forEach((p) => {
    if (p.type !== "int" && p.type !== "float") return;
    const i = raw.parameters.findIndex((r) => r.name === p.name);
    const minimum = p.apply.kind === "cpus" ? MIN_SHADOW_CPUS : p.apply.kind === "memory" ? MIN_SHADOW_MEMORY_MIB : undefined;
    if (minimum !== undefined && p.min * fraction < minimum) {
      issues.push({ path: ["parameters", i, "range"], message: `expected a minimum of at least ${minimum / fraction}: a shadow gets × ${fraction}, and Docker needs ≥ ${minimum}${p.apply.kind === "memory" ? " MiB" : " CPUs"}` });
    }
  });

  const { traffic } = raw;
  if (traffic.warmup > 0 && traffic.warmup < 500) issues.push({ path: ["traffic", "warmup"], message: "expected 0 or at least 500ms" });
  if (traffic.duration < 1000) issues.push({ path: ["traffic", "duration"], message: "expected a measured window of at least 1s" });
  if (traffic.window > traffic.duration) issues.push({ path: ["traffic", "window"], message: "expected a sub-window no longer than the duration" });

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
    traffic: {
      file: traffic.file,
      format: traffic.format,
      sample: traffic.sample,
      connections: traffic.connections,
      warmupMs: traffic.warmup,
      durationMs: traffic.duration,
      windowMs: traffic.window,
      timeoutMs: traffic.timeout,
      ...(traffic.rate !== undefined ? { rate: traffic.rate } : {}),
    },
    slo,
    objective,
    store: raw.store,
    model: raw.model,
  };
}

function toApply(name: string, apply: RawConfig["parameters"][number]["apply"]): ApplyHow {
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
  return "env" in apply ? { kind: "env", name: apply.env } : { kind: "arg", template: apply.arg };
}

/**
 * The configuration in use. It is the anchor every run measures, so each parameter needs a
 * value; CPU and memory parameters default to the primary's resources.
 */
function normaliseCurrent(raw: RawConfig, parameters: ParameterCatalog, issues: ConfigIssue[]): Configuration {
  const current: Configuration = {};
  const known = new Set(parameters.map((p) => p.name));
  for (const name of Object.keys(raw.current)) {
    if (!known.has(name) && !raw.parameters.some((p) => p.name === name)) {
      issues.push({ path: ["current", name], message: `expected a declared parameter, "${name}" is not in parameters` });
    }
  }
  for (const p of parameters) {
    const value = raw.current[p.name];
    const at = ["current", p.name];
    if (value === undefined) {
      if (p.apply.kind === "cpus") current[p.name] = raw.workload.resources.cpus;
      else if (p.apply.kind === "memory") current[p.name] = raw.workload.resources.memory;
      else issues.push({ path: ["current"], message: `expected a value for ${p.name} (the configuration in use is measured as the anchor)` });
      continue;
    }
    const problem = checkValue(p, value);
    if (problem) issues.push({ path: at, message: problem });
    else current[p.name] = value;
  }
  return current;
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
