/**
 * The vocabulary of Shadowgate, shared by the pure core and the adapters.
 * Nothing here imports a library: adapters map library results into these types.
 */

/** A parameter's value in one configuration. */
export type ParamValue = number | string | boolean;

/** One point of the parameter space: parameter name → value. */
export type Configuration = Record<string, ParamValue>;

/** How a parameter's value reaches the shadow container. */
export type ApplyHow =
  /**
   * set as an environment variable (default name: the parameter's name); `template` renders
   * the value (`{value}` is replaced, e.g. "{value}MiB"). With `append`, the rendered text is
   * one option among others: every appending parameter of the variable adds its text after
   * the workload's own value, space-separated (JAVA_TOOL_OPTIONS, NODE_OPTIONS, ...).
   */
  | { kind: "env"; name: string; template?: string; append?: boolean }
  /** appended to the container command; `{value}` in the template is replaced */
  | { kind: "arg"; template: string }
  /**
   * a file rendered from `content` (`{{name}}` is replaced by that parameter's value) and
   * copied to `path` in the container; `file` is where the template came from (absent for a
   * catalog's built-in template). Parameters with the same template share one file.
   */
  | { kind: "template"; path: string; content: string; file?: string }
  /** the container's CPU quota, in cores of the *primary* (scaled by the shadow fraction) */
  | { kind: "cpus" }
  /** the container's memory limit, in MiB of the *primary* (scaled by the shadow fraction) */
  | { kind: "memory" };

/**
 * Where a parameter's value lives in the repository, so a recommendation can become an edit.
 * `file` is absolute once the config is loaded (relative to the config file's folder in it);
 * `key` is a variable name (.env, Dockerfile ENV) or a dotted key path (YAML).
 */
export interface ParameterTarget {
  file: string;
  key: string;
}

export type ParameterSpec =
  | {
      name: string;
      type: "int" | "float";
      min: number;
      max: number;
      scale: "linear" | "log";
      apply: ApplyHow;
      target?: ParameterTarget;
    }
  | { name: string; type: "enum"; values: string[]; apply: ApplyHow; target?: ParameterTarget }
  | { name: string; type: "bool"; apply: ApplyHow; target?: ParameterTarget };

/** The configurable parameters of a workload (category preset + the user's own). */
export type ParameterCatalog = ParameterSpec[];

/** What the workload is and what the primary runs with. */
export interface WorkloadProfile {
  name: string;
  category: string;
  /** build from a Dockerfile, or use an existing image */
  source: { kind: "build"; context: string; dockerfile: string } | { kind: "image"; image: string };
  /** the port the service listens on inside the container */
  port: number;
  /** with host networking each shadow gets its own loopback port through this variable */
  portEnv: string;
  /** extra environment for every shadow */
  env: Record<string, string>;
  /** command override (the image's CMD when absent); `arg` parameters are appended */
  command?: string[];
  ready: { path: string; timeoutMs: number };
  /** the primary's allocation; shadows get `fraction` of it */
  resources: { cpus: number; memoryMiB: number };
}

/** KPI names; the same strings are used in `slo` and `objective` in the config. */
export const KPI_NAMES = [
  "latency.p50",
  "latency.p90",
  "latency.p99",
  "latency.max",
  "throughput.rps",
  "errors.rate",
  "non2xx.rate",
  "cpu.percent",
  "memory.peakMiB",
  "cpu.secondsPerRequest",
] as const;
export type KpiName = (typeof KPI_NAMES)[number];

/** One trial's measured performance. Latencies in ms, rates as fractions 0..1. */
export type Kpis = Record<KpiName, number>;

/** Whether bigger or smaller is better, and the unit, for each KPI. */
export const KPI_INFO: Record<KpiName, { better: "lower" | "higher"; unit: string; label: string }> = {
  "latency.p50": { better: "lower", unit: "ms", label: "p50" },
  "latency.p90": { better: "lower", unit: "ms", label: "p90" },
  "latency.p99": { better: "lower", unit: "ms", label: "p99" },
  "latency.max": { better: "lower", unit: "ms", label: "max" },
  "throughput.rps": { better: "higher", unit: "req/s", label: "req/s" },
  "errors.rate": { better: "lower", unit: "", label: "errors" },
  "non2xx.rate": { better: "lower", unit: "", label: "non-2xx" },
  "cpu.percent": { better: "lower", unit: "% of a core", label: "CPU" },
  "memory.peakMiB": { better: "lower", unit: "MiB", label: "mem peak" },
  "cpu.secondsPerRequest": { better: "lower", unit: "CPU-ms/req", label: "CPU/req" },
};

/** A measured trial: one shadow run of one configuration. */
export interface Trial {
  /** unique within the history */
  id: string;
  /** the run (one invocation of Shadowgate) that measured it */
  runId: string;
  /** ISO time the measured window ended */
  at: string;
  config: Configuration;
  kpis: Kpis;
  /** spread of each KPI across the measured sub-windows (standard deviation, same unit) */
  spread: Kpis;
  /** true for the run's measurement of the `current` configuration (the anchor) */
  anchor: boolean;
  /** requests answered in the measured window */
  requests: number;
  /**
   * the load it was measured at, as a multiple of today's traffic (traffic.levels: the
   * connections, or the rate when one is set, times this); absent means 1
   */
  load?: number;
}

/**
 * All trials so far. Absolute KPIs from different runs are not comparable (runner level drift),
 * so each run stores its anchor: the current configuration measured in that run.
 */
export interface History {
  version: 1;
  workload: string;
  trials: Trial[];
}

/** A prediction of one KPI for one configuration. */
export interface Prediction {
  mean: number;
  /** standard deviation across trees (same unit as mean) */
  sd: number;
  /** a central interval (about 90%) */
  lo: number;
  hi: number;
  /**
   * One draw per tree (same unit as mean), only when asked for with `PredictOptions.draws`.
   * Draw i of every configuration comes from the same tree i, so differences between two
   * configurations can be judged pairwise (see decide/recommend.ts).
   */
  draws?: number[];
}
export type KpiPredictions = Record<KpiName, Prediction>;

export interface PredictOptions {
  /**
   * Today's anchor: the KPIs of the current configuration measured in this run. The model
   * predicts relative to the anchor and multiplies back by these; default: the anchor the
   * model was trained with (the latest run's). KPIs missing here are left out of predictions.
   */
  anchor?: Partial<Kpis>;
  /** also return per-tree draws (`Prediction.draws`) */
  draws?: boolean;
}

/** Predicts KPIs for any configuration, with uncertainty. */
export interface PredictiveModel {
  /** KPIs the model can predict (those with enough data) */
  readonly kpis: readonly KpiName[];
  /** predict every configuration; today's level comes from this run's anchor */
  predict(configs: Configuration[], options?: PredictOptions): Partial<KpiPredictions>[];
  /** compact JSON for the store */
  toJSON(): unknown;
}

/** Service-level objectives: KPI → upper bound (lower for throughput). */
export type Slo = Partial<Record<KpiName, number>>;

export interface Objective {
  kpi: KpiName;
  goal: "minimize" | "maximize";
}
