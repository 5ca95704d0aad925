/**
 * The ports the pipeline is written against. Adapters (Testcontainers, autocannon,
 * the file system, GitHub) implement them; the core never imports those libraries.
 */
import type { Configuration, History } from "./types.js";

/** One request to replay, already sampled and anonymised. */
export interface ReplayRequest {
  method: string;
  /** path + query, starting with '/' */
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** when it was recorded, ms since the epoch (absent when the recording has no time) */
  at?: number;
  /** the recorded host (Host header or URL authority, lowercased, port kept), when the recording has one */
  host?: string;
  /** the recorded response, when the recording has one: external-API mocks and response diffs use it */
  response?: RecordedResponse;
  /** set by sampling: "METHOD /route/{id}" */
  route?: string;
  /** set by sampling: how many recorded requests this one stands for (re-weights percentiles to the recorded mix) */
  weight?: number;
}

/** A response as recorded beside its request. */
export interface RecordedResponse {
  status: number;
  /** names lowercased */
  headers: Record<string, string>;
  /** decoded to text (base64 recordings decoded); absent when not recorded */
  body?: string;
  /** recorded time from request sent to response complete, ms */
  latencyMs?: number;
}

/** What to start: one shadow of the workload with one configuration applied. */
export interface ShadowSpec {
  /** image reference (built or given) */
  image: string;
  /** human-readable name used in logs */
  name: string;
  /** loopback port the shadow listens on (host networking) */
  port: number;
  env: Record<string, string>;
  command?: string[];
  /** files written into the container before it starts (rendered config-file templates) */
  files?: { path: string; content: string }[];
  /** CPU quota in cores and memory limit in MiB, for this shadow */
  cpus: number;
  memoryMiB: number;
  readyPath: string;
  readyTimeoutMs: number;
  /** the configuration it runs, for labels and reports */
  config: Configuration;
}

/** Resource use of a container over a measured window. */
export interface ResourceUsage {
  /** mean CPU use in % of one core over the window */
  cpuPercent: number;
  /** CPU-seconds consumed in the window */
  cpuSeconds: number;
  /** peak working-set memory in MiB (usage minus inactive file cache) */
  memoryPeakMiB: number;
  /**
   * spread: standard deviation (n − 1) of the CPU % over ~250 ms sub-intervals of the window
   * (~1 s with the Docker stats fallback); 0 when the window holds fewer than two
   */
  cpuPercentSd?: number;
  /** number of stats samples behind these figures */
  samples: number;
}

export interface ResourceSampler {
  /** stop sampling and summarise the window since start */
  stop(): Promise<ResourceUsage>;
}

export interface RunningShadow {
  readonly id: string;
  readonly name: string;
  /** base URL on loopback, e.g. http://127.0.0.1:40123 */
  readonly url: string;
  /** start sampling CPU and memory: the container's cgroup files when this host can read them, else the Docker stats API */
  sampleResources(): ResourceSampler;
  /** what Docker applied: for checks and reports */
  inspectLimits(): Promise<{ nanoCpus: number; memoryBytes: number; env: string[]; cmd: string[] }>;
  stop(): Promise<void>;
}

export interface ShadowRuntime {
  /**
   * build the workload image (or check a given one exists); returns the image reference.
   * Never pulls: a missing base image fails before the build. `signal` aborts the build (its
   * partial image is removed) and rejects with the reason's message.
   */
  prepareImage(
    source: { kind: "build"; context: string; dockerfile: string } | { kind: "image"; image: string },
    signal?: AbortSignal,
  ): Promise<string>;
  /**
   * start a shadow and wait until it is ready; on failure nothing is left running. `signal`
   * aborts the start at once (the readiness wait gives up and the container is removed).
   */
  start(spec: ShadowSpec, signal?: AbortSignal): Promise<RunningShadow>;
  /** stop and remove every container of this run (label shadowgate=<runId>) */
  cleanup(): Promise<number>;
}

/** Statistics of one sub-window of the measured load window. */
export interface WindowStats {
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface LoadResult {
  /** responses in the measured window (any status) */
  requests: number;
  durationS: number;
  rps: number;
  /** latency percentiles in ms, sub-millisecond resolution */
  latency: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** connection errors and timeouts */
  errors: number;
  non2xx: number;
  /** per sub-window figures, for spreads */
  windows: WindowStats[];
}

export interface LoadOptions {
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** sub-window length for spreads */
  windowMs: number;
  /** fixed total request rate (open-ish model); closed loop when absent */
  rate?: number;
  /** per-request timeout */
  timeoutMs: number;
  /** called when the warm-up is over and the measured window starts (to start resource sampling) */
  onMeasureStart?: () => void;
  /**
   * open model: the request the schedule starts with. Runs compared side by side pass the same;
   * absent, a run continues where the previous run on the same requests stopped, so successive
   * runs walk the whole sample
   */
  startAt?: number;
}

export interface LoadDriver {
  run(baseUrl: string, requests: ReplayRequest[], options: LoadOptions, signal?: AbortSignal): Promise<LoadResult>;
}

/** Progress lines for the CLI and the Action log. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
}

/** Where the history lives between runs: a local folder (CLI, tests) or the Actions cache. */
export interface HistoryStore {
  /** the workload's history; an empty one when there is none yet */
  load(workload: string): Promise<History>;
  save(history: History): Promise<void>;
  /** the stored model document (unvalidated: the model module checks it), if any and readable */
  loadModel?(workload: string): Promise<unknown>;
  saveModel?(workload: string, model: unknown): Promise<void>;
  /** the search agent's stored state (unvalidated: search/agent.ts checks it), if any and readable */
  loadAgent?(workload: string): Promise<unknown>;
  saveAgent?(workload: string, state: unknown): Promise<void>;
}
