/**
 * Wiring shared by the two composition roots (the Action and the CLI): config → traffic →
 * real adapters → pipeline → results file. Guarantees that no shadow outlives the run,
 * whether it ends in success, an error, a timeout or a signal.
 */
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { loadConfig } from "./config/load.js";
import type { ShadowgateConfig } from "./config/schema.js";
import type { LoadDriver, Logger } from "./core/ports.js";
import { runPipeline, type MockSummary, type RunResult } from "./pipeline.js";
import { streamTraffic } from "./traffic/read.js";
import { createAnonymiser, prepareTraffic, type PreparedTraffic } from "./traffic/prepare.js";
import { TrafficError, type ImportStream } from "./traffic/har.js";
import { loadOpenApi, openApiTemplates } from "./traffic/routes.js";
import { MAX_SAMPLE } from "./traffic/sample.js";
import { buildMockRoutes, mockedHost } from "./mocks/routes.js";
import { startMockServer, type MockServer } from "./mocks/server.js";
import { LocalFolderStore } from "./store/local-store.js";
import { TestcontainersRuntime, assertDockerAvailable, engineInfo, installSignalCleanup } from "./shadows/testcontainers-runtime.js";
import { errorText, InterruptedError } from "./core/errors.js";
import { findFreePort } from "./shadows/free-port.js";
import { AutocannonDriver } from "./load/autocannon-driver.js";
import { OpenModelDriver } from "./load/open-model.js";
import { renderReport } from "./report/markdown.js";
import { toResultsJson } from "./report/json.js";
import type { GitHubPlace, ResultsDoc } from "./results/schema.js";
import { locateEdits } from "./suggest/locate.js";
import { runGate, type GateInput, type GateMode, type GateResult, type ImageSource } from "./gate/run-gate.js";
import { renderGate, gateJson } from "./gate/report.js";
import { noiseProfileOf, parseNoiseProfile, type NoiseProfile } from "./gate/noise.js";

export interface RunOptions {
  configFile: string;
  /** the config, when the caller already loaded it (overrides below still apply) */
  config?: ShadowgateConfig;
  /** repository root: suggested edits name files relative to it (default: the working directory) */
  repoRoot?: string;
  /** where on GitHub the results belong (written into the results document) */
  github?: GitHubPlace | null;
  /** write the JSON results here */
  jsonFile?: string;
  /** overrides of the config file */
  trials?: number;
  storePath?: string;
  /** whole-run time limit, ms */
  timeoutMs?: number;
  runId?: string;
  logger: Logger;
}

export interface RunOutput {
  result: RunResult;
  /** the results document: what the renderers, the results file and the two-phase mode use */
  doc: ResultsDoc;
  markdown: string;
  jsonFile?: string;
}

export function newRunId(): string {
  const ci = process.env.GITHUB_RUN_ID ? `${process.env.GITHUB_RUN_ID}-${process.env.GITHUB_RUN_ATTEMPT ?? "1"}-` : "";
  return `${ci}${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
}

export async function runShadowgate(options: RunOptions): Promise<RunOutput> {
  // No registry is reachable for the Testcontainers reaper; cleanup is ours (label + finally).
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
  const { logger } = options;
  const loaded = withOverrides(options.config ?? (await loadConfig(options.configFile)), options);

  const traffic = await loadTraffic(loaded, logger);
  const { prepared } = traffic;

  return withMocks(traffic, logger, (config, mockStats) => withShadowRuntime(options, async ({ runtime, runId, signal }) => {
    const result = await runPipeline(config, {
      runtime,
      load: loadDriverFor(config),
      store: new LocalFolderStore(config.store.path, logger),
      logger,
      traffic: { requests: prepared.requests, total: prepared.recorded, skipped: traffic.skipped, redactions: prepared.redactions, routes: prepared.strata.length, mocks: mockStats },
      freePort: findFreePort,
      hostCpus: (await engineInfo()).cpus,
      runId,
      signal,
    });
    const suggestion = locateEdits({
      readFile: readTextFile,
      configFile: path.resolve(options.configFile),
      repoRoot: path.resolve(options.repoRoot ?? process.cwd()),
      parameters: config.parameters,
      current: config.current,
      recommended: result.recommendation.recommended,
      changed: result.recommendation.keepCurrent ? [] : result.recommendation.changed,
    });
    for (const unresolved of suggestion.unresolved) logger.warn(`cannot suggest ${unresolved.parameter}: ${unresolved.reason}`);
    const doc = toResultsJson(result, { suggestion, github: options.github ?? null });
    const markdown = renderReport(doc);
    let jsonFile: string | undefined;
    if (options.jsonFile) {
      jsonFile = path.resolve(options.jsonFile);
      await writeJsonFile(jsonFile, doc, "results file");
    }
    return { result, doc, markdown, ...(jsonFile ? { jsonFile } : {}) };
  }));
}

/** The environment variable that holds the pseudonymisation key (the Action's `anonymise-key` input sets it). */
export const ANONYMISE_KEY_ENV = "SHADOWGATE_ANONYMISE_KEY";

/** What loadTraffic hands the run: the plan, the config with a paced rate, and a scrubber. */
export interface LoadedTraffic {
  prepared: PreparedTraffic;
  config: ShadowgateConfig;
  skipped: number;
  /** anonymises free text (a log line, an error, a mock's miss line) with the run's key */
  scrub: (text: string) => string;
}

/**
 * The recorded traffic, imported (skipped entries warned about), anonymised, split into the
 * calls replayed and the calls mocked, and sampled; a pace relative to the recording becomes
 * the run's request rate. Importer messages quote recorded values, so they are scrubbed too.
 */
export async function loadTraffic(config: ShadowgateConfig, logger: Logger): Promise<LoadedTraffic> {
  const mockHosts = Object.keys(config.mocks);
  const key = process.env[ANONYMISE_KEY_ENV]?.trim() || randomBytes(32).toString("hex");
  if (!process.env[ANONYMISE_KEY_ENV]?.trim()) logger.debug(`no ${ANONYMISE_KEY_ENV}: pseudonyms hold within this run only`);
  // a scrubber of its own, so the redaction summary counts the traffic only
  const scrubber = createAnonymiser(config.anonymise, key);
  const scrub = (text: string): string => scrubber.text(text);
  const scrubbed = (error: unknown): unknown => (error instanceof TrafficError ? new TrafficError(scrub(error.message)) : error);
  let imported: ImportStream;
  try {
    imported = await streamTraffic(config.traffic.file, config.traffic.format, { keepResponseBody: (host) => mockedHost(host, mockHosts) !== undefined });
  } catch (error) {
    throw scrubbed(error);
  }
  // the recording streams through anonymisation into the sampler: its errors come out of the iteration
  const recorded = (async function* () {
    try {
      yield* imported.requests;
    } catch (error) {
      throw scrubbed(error);
    }
  })();
  const openApi = config.traffic.openapi ? openApiTemplates(await loadOpenApi(config.traffic.openapi), config.traffic.openapi) : undefined;
  const prepared = await prepareTraffic(recorded, {
    sample: config.traffic.sample,
    floor: config.traffic.floor,
    seed: config.shadows.seed,
    pace: config.traffic.pace,
    anonymiser: createAnonymiser(config.anonymise, key),
    mockHosts,
    ...(openApi ? { openApi } : {}),
  });
  if (config.traffic.sample <= 1 && Math.round(config.traffic.sample * prepared.recorded) > MAX_SAMPLE) {
    logger.warn(`traffic: ${config.traffic.file} has ${prepared.recorded} requests; a fraction keeps at most ${MAX_SAMPLE} of them (set traffic.sample to a number to choose)`);
  }
  const summary = imported.summary();
  for (const skip of summary.skipped.slice(0, 5)) logger.warn(scrub(`${skip.where ?? `${config.traffic.file}: entry ${skip.index}`} skipped: ${skip.reason}`));
  if (summary.skippedCount > 5) logger.warn(`${config.traffic.file}: ${summary.skippedCount - 5} more entries skipped`);
  if (summary.withoutBody) logger.warn(`${config.traffic.file}: ${summary.withoutBody} request(s) left out because they need a body the recording does not have`);
  for (const host of mockHosts) {
    if (!prepared.mockExchanges.some((exchange) => mockedHost(exchange.host, [host]) !== undefined)) {
      throw new Error(`mocks.${host}: ${config.traffic.file} has no recorded call to ${host} to build its mock from`);
    }
  }
  logger.info(
    `traffic: ${prepared.requests.length} of ${prepared.recorded} recorded requests replayed from ${config.traffic.file} (${prepared.strata.length} routes)` +
      (prepared.mockExchanges.length > 0 ? `; ${prepared.mockExchanges.length} recorded calls to ${mockHosts.join(", ")} served by mocks` : ""),
  );
  const hosts = new Map<string, number>();
  for (const request of prepared.requests) if (request.host !== undefined) hosts.set(request.host, (hosts.get(request.host) ?? 0) + 1);
  if (hosts.size > 1) {
    const top = [...hosts].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([host, n]) => `${host} ×${n}`);
    logger.warn(`traffic: the replayed requests were recorded for ${hosts.size} hosts (${top.join(", ")}${hosts.size > 3 ? ", …" : ""}); all of them go to the workload: name the external ones under mocks, or record the workload's traffic only`);
  }
  if (prepared.rate !== undefined) logger.info(`traffic: open model at ${prepared.rate.toFixed(1)} requests/s (${config.traffic.pace}× the recorded ${prepared.recordedRate!.toFixed(1)}/s)`);
  const paced: ShadowgateConfig = prepared.rate === undefined ? config : { ...config, traffic: { ...config.traffic, rate: prepared.rate } };
  return { prepared, config: paced, skipped: summary.skippedCount, scrub };
}

/** autocannon's closed loop, or the open model when the config paces the load by the recording. */
export function loadDriverFor(config: ShadowgateConfig): LoadDriver {
  return config.traffic.pace === "closed" ? new AutocannonDriver() : new OpenModelDriver();
}

/** Mock servers for the configured external hosts, and the workload environment that points at them. */
export interface StartedMocks {
  env: Record<string, string>;
  stats(): MockSummary[];
  close(): Promise<void>;
}

/**
 * One mock per configured host on 127.0.0.1, built from the recorded calls. "cycle" replays
 * repeated calls' responses in turn (load); "first" always answers with the first (the
 * response diff, where every instance must get the same answer to the same call).
 */
export async function startMocks(config: ShadowgateConfig, traffic: LoadedTraffic, logger: Logger, responses: "cycle" | "first" = "cycle"): Promise<StartedMocks> {
  const hosts = Object.entries(config.mocks);
  const servers: { server: MockServer; env: string }[] = [];
  const close = async () => void (await Promise.all(servers.map(({ server }) => server.close())));
  try {
    const routes = buildMockRoutes(traffic.prepared.mockExchanges, hosts.map(([host]) => host));
    for (const [i, [, settings]] of hosts.entries()) {
      const server = await startMockServer(routes[i]!, { latency: settings.latency, logger, responses, scrub: traffic.scrub });
      servers.push({ server, env: settings.env });
      logger.debug(`mock of ${server.host} on ${server.url} (${routes[i]!.routes.length} recorded routes; ${settings.env}=${server.url}; ${responses})`);
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {
    env: Object.fromEntries(servers.map(({ server, env }) => [env, server.url])),
    stats: () =>
      servers.map(({ server, env }) => {
        const s = server.stats();
        return { host: server.host, env, served: s.served, unmatched: s.unmatched, misses: s.misses.slice(0, 3) };
      }),
    close,
  };
}

/** `config` with the mocks' URLs in the workload's environment. */
export function withMockEnv(config: ShadowgateConfig, env: Record<string, string>): ShadowgateConfig {
  return Object.keys(env).length === 0 ? config : { ...config, workload: { ...config.workload, env: { ...config.workload.env, ...env } } };
}

/** The mocks for the length of `work`, closed however it ends. */
export async function withMocks<T>(
  traffic: LoadedTraffic,
  logger: Logger,
  work: (config: ShadowgateConfig, stats: () => MockSummary[]) => Promise<T>,
): Promise<T> {
  const mocks = await startMocks(traffic.config, traffic, logger);
  for (const [variable, url] of Object.entries(mocks.env)) logger.info(`mock on ${url} for the workload's ${variable}`);
  try {
    return await work(withMockEnv(traffic.config, mocks.env), () => mocks.stats());
  } finally {
    await mocks.close();
  }
}

/**
 * A run's shadow runtime with the guarantees every command needs: Docker checked first, a
 * timeout and the stop signals abort the work (which stops waiting at once), and whatever
 * the work leaves — containers, then the run's images — is removed however it ends.
 */
export async function withShadowRuntime<T>(
  options: { runId?: string; timeoutMs?: number; logger: Logger },
  work: (context: { runtime: TestcontainersRuntime; runId: string; signal: AbortSignal }) => Promise<T>,
): Promise<T> {
  const { logger } = options;
  await assertDockerAvailable();
  const runId = options.runId ?? newRunId();
  const runtime = new TestcontainersRuntime({ runId, logger });
  const controller = new AbortController();
  const timer = options.timeoutMs
    ? setTimeout(() => controller.abort(new Error(`run timed out after ${Math.round(options.timeoutMs! / 1000)} s; shadows stopped`)), options.timeoutMs)
    : undefined;
  // A signal aborts the run (so it stops waiting at once) and removes its containers and images.
  const signals = installSignalCleanup(runtime, { onSignal: (signal) => controller.abort(new InterruptedError(signal)), logger });
  try {
    return await work({ runtime, runId, signal: controller.signal });
  } catch (error) {
    // whatever broke while stopping, the reason is the signal or the timeout
    throw controller.signal.aborted && controller.signal.reason instanceof Error ? controller.signal.reason : error;
  } finally {
    if (timer) clearTimeout(timer);
    // the same cleanup a signal runs (shared, never twice): containers, then the run's images,
    // which are tagged per run and which nothing else would remove without the reaper
    const removed = await signals.run();
    signals.uninstall();
    if (removed > 0) logger.info(`removed ${removed} shadow container(s)`);
  }
}

export interface GateRunOptions {
  configFile: string;
  /** the config, when the caller already loaded it (overrides below still apply) */
  config?: ShadowgateConfig;
  /** the base build: an image, or a build context (the head's Dockerfile path inside it) */
  base: { kind: "image"; image: string } | { kind: "context"; context: string };
  /** the base branch's config file: absent → the head's is used for both; "missing" → it was looked for and not found */
  baseConfigFile?: string | "missing";
  /** build the base as its own config says (workload.build), when it has one: the Action's base checkout */
  baseBuildFromConfig?: boolean;
  aa?: boolean;
  mode?: GateMode;
  inconclusive?: "pass" | "fail";
  jsonFile?: string;
  storePath?: string;
  timeoutMs?: number;
  runId?: string;
  logger: Logger;
}

export interface GateRunOutput {
  result: GateResult;
  markdown: string;
  jsonFile?: string;
}

/** `shadowgate gate`: config → traffic → base vs head (or A/A) → table, JSON, stored noise. */
export async function runGateFromConfig(options: GateRunOptions): Promise<GateRunOutput> {
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
  const { logger } = options;
  const loaded = withOverrides(options.config ?? (await loadConfig(options.configFile)), options);
  const headConfig: ShadowgateConfig = { ...loaded, gate: { ...loaded.gate, ...(options.inconclusive ? { inconclusive: options.inconclusive } : {}) } };
  const headSource = headConfig.workload.source;
  let base: ImageSource =
    options.base.kind === "image"
      ? options.base
      : { kind: "build", context: path.resolve(options.base.context), dockerfile: headSource.kind === "build" ? path.relative(headSource.context, path.resolve(headSource.context, headSource.dockerfile)) : "Dockerfile" };
  let baseConfig: GateInput["baseConfig"];
  if (options.baseConfigFile === "missing") baseConfig = "missing";
  else if (options.baseConfigFile !== undefined) {
    // a base config the head's Shadowgate cannot read is a verdict (inconclusive), not an error
    baseConfig = await loadConfig(options.baseConfigFile).catch((error: unknown) => ({ unreadable: errorText(error) }));
  }
  if (options.baseBuildFromConfig && baseConfig && typeof baseConfig === "object" && "workload" in baseConfig && baseConfig.workload.source.kind === "build") {
    base = baseConfig.workload.source;
  }

  const traffic = await loadTraffic(headConfig, logger);
  const { prepared } = traffic;
  const store = new LocalFolderStore(headConfig.store.path, logger);
  const noise = await loadNoise(store, headConfig.workload.name, logger, { mode: options.mode ?? headConfig.gate.mode, roundMs: headConfig.gate.roundMs });

  return withMocks(traffic, logger, (config, mockStats) => withShadowRuntime(options, async ({ runtime, runId, signal }) => {
    const gated = await runGate(
      { config, base, aa: options.aa ?? false, ...(baseConfig !== undefined ? { baseConfig } : {}), ...(options.mode ? { mode: options.mode } : {}) },
      {
        runtime,
        load: loadDriverFor(config),
        logger,
        freePort: findFreePort,
        requests: prepared.requests,
        runId,
        signal,
        ...(noise ? { noise } : {}),
        // each instance of the response diff gets mocks of its own that always give the first recorded answer
        ...(Object.keys(config.mocks).length > 0 ? { startDiffMocks: () => startMocks(traffic.config, traffic, logger, "first") } : {}),
      },
    );
    const result = { ...gated, mocks: mockStats() };
    if (options.aa && result.blocks >= 2) {
      await store.saveNoise(config.workload.name, noiseProfileOf(result, config.workload.name, new Date()));
      logger.info(`noise of this runner stored in ${store.noiseFileFor(config.workload.name)}`);
    }
    const markdown = renderGate(result, config.workload.name);
    let jsonFile: string | undefined;
    if (options.jsonFile) {
      jsonFile = path.resolve(options.jsonFile);
      await writeJsonFile(jsonFile, gateJson(result), "gate results file");
    }
    return { result, markdown, ...(jsonFile ? { jsonFile } : {}) };
  }));
}

/** The stored A/A noise, if any and usable (else a warning and none). */
async function loadNoise(store: LocalFolderStore, workload: string, logger: Logger, gate: { mode: GateMode; roundMs: number }): Promise<NoiseProfile | undefined> {
  const raw = await store.loadNoise(workload);
  if (raw === undefined) return undefined;
  const profile = parseNoiseProfile(raw, workload);
  const problem =
    typeof profile === "string"
      ? profile
      : profile.mode !== gate.mode || profile.roundMs !== gate.roundMs
        ? `it was measured in ${profile.mode} mode with ${profile.roundMs / 1000} s rounds, this gate runs ${gate.mode} with ${gate.roundMs / 1000} s`
        : undefined;
  if (problem !== undefined || typeof profile === "string") {
    logger.warn(`stored noise profile ignored (${problem}); run an A/A gate (--aa) to measure it again`);
    return undefined;
  }
  return profile;
}

/** Write JSON (pretty), creating the folder; errors name the file. */
export async function writeJsonFile(file: string, value: unknown, what: string): Promise<void> {
  await writeTextFile(file, `${JSON.stringify(value, null, 2)}\n`, what);
}

/** Write text, creating the folder; errors name the file. */
export async function writeTextFile(file: string, text: string, what: string): Promise<void> {
  try {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, text);
  } catch (error) {
    throw new Error(`cannot write the ${what} ${file}: ${errorText(error)}`);
  }
}

function readTextFile(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function withOverrides(config: ShadowgateConfig, options: { trials?: number; storePath?: string }): ShadowgateConfig {
  return {
    ...config,
    shadows: { ...config.shadows, ...(options.trials ? { trials: options.trials } : {}) },
    store: options.storePath ? { path: path.resolve(options.storePath) } : config.store,
  };
}
