/**
 * Wiring shared by the two composition roots (the Action and the CLI): config → traffic →
 * real adapters → pipeline → results file. Guarantees that no shadow outlives the run,
 * whether it ends in success, an error, a timeout or a signal.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { loadConfig } from "./config/load.js";
import type { ShadowgateConfig } from "./config/schema.js";
import type { Logger } from "./core/ports.js";
import { runPipeline, type RunResult } from "./pipeline.js";
import { readTraffic } from "./traffic/read.js";
import { prepareTraffic } from "./traffic/prepare.js";
import { LocalFolderStore } from "./store/local-store.js";
import { TestcontainersRuntime, assertDockerAvailable, engineInfo } from "./shadows/testcontainers-runtime.js";
import { errorText, InterruptedError } from "./core/errors.js";
import { findFreePort } from "./shadows/free-port.js";
import { AutocannonDriver } from "./load/autocannon-driver.js";
import { renderReport } from "./report/markdown.js";
import { toResultsJson } from "./report/json.js";

export interface RunOptions {
  configFile: string;
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
  const config = withOverrides(await loadConfig(options.configFile), options);

  const imported = await readTraffic(config.traffic.file, config.traffic.format);
  for (const skip of imported.skipped.slice(0, 5)) logger.warn(`${config.traffic.file}: log.entries[${skip.index}] skipped: ${skip.reason}`);
  if (imported.skippedCount > 5) logger.warn(`${config.traffic.file}: ${imported.skippedCount - 5} more entries skipped`);
  const prepared = prepareTraffic(imported.requests, { sample: config.traffic.sample, seed: config.shadows.seed });
  logger.info(`traffic: ${prepared.requests.length} of ${imported.total} recorded requests replayed from ${config.traffic.file}`);

  await assertDockerAvailable();
  const runId = options.runId ?? newRunId();
  const runtime = new TestcontainersRuntime({ runId, logger });
  const controller = new AbortController();
  const timer = options.timeoutMs
    ? setTimeout(() => controller.abort(new Error(`run timed out after ${Math.round(options.timeoutMs! / 1000)} s; shadows stopped`)), options.timeoutMs)
    : undefined;
  let stopping: Promise<number> | undefined;
  const uninstall = onStopSignals((signal) => {
    logger.warn(`${signal}: stopping the run and removing its shadows`);
    controller.abort(new InterruptedError(signal));
    // cancels readiness waits and removes running shadows at once; the finally below then
    // removes whatever is left and, once no container uses them, the run's images
    stopping = runtime.cleanup().catch(() => 0);
  });
  try {
    const result = await runPipeline(config, {
      runtime,
      load: new AutocannonDriver(),
      store: new LocalFolderStore(config.store.path, logger),
      logger,
      traffic: { requests: prepared.requests, total: imported.total, skipped: imported.skippedCount, redactions: prepared.redactions },
      freePort: findFreePort,
      hostCpus: (await engineInfo()).cpus,
      runId,
      signal: controller.signal,
    });
    const markdown = renderReport(result);
    let jsonFile: string | undefined;
    if (options.jsonFile) {
      jsonFile = path.resolve(options.jsonFile);
      try {
        await mkdir(path.dirname(jsonFile), { recursive: true });
        await writeFile(jsonFile, `${JSON.stringify(toResultsJson(result), null, 2)}\n`);
      } catch (error) {
        throw new Error(`cannot write the results file ${jsonFile}: ${errorText(error)}`);
      }
    }
    return { result, markdown, ...(jsonFile ? { jsonFile } : {}) };
  } catch (error) {
    // whatever broke while stopping, the reason is the signal or the timeout
    throw controller.signal.aborted && controller.signal.reason instanceof Error ? controller.signal.reason : error;
  } finally {
    if (timer) clearTimeout(timer);
    uninstall();
    // images can only go once no container uses them: wait for a cleanup a signal started
    await stopping;
    const removed = await runtime.cleanup();
    if (removed > 0) logger.info(`removed ${removed} shadow container(s)`);
    // images are tagged per run; without the reaper nothing else would remove them
    await runtime.removeImages().catch((error: unknown) => logger.warn(`could not remove the run's image: ${errorText(error)}`));
  }
}

const STOP_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];

/**
 * Route stop signals to `onStop` (once) instead of letting Node exit at once: the run must
 * unwind through its finally blocks, which remove the shadows and images. A second signal,
 * or cleanup hanging for 30 s, exits hard.
 */
function onStopSignals(onStop: (signal: NodeJS.Signals) => void): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(new InterruptedError(signal).exitCode);
    stopping = true;
    setTimeout(() => process.exit(new InterruptedError(signal).exitCode), 30_000).unref();
    onStop(signal);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, handler);
  return () => {
    for (const signal of STOP_SIGNALS) process.off(signal, handler);
  };
}

function withOverrides(config: ShadowgateConfig, options: RunOptions): ShadowgateConfig {
  return {
    ...config,
    shadows: { ...config.shadows, ...(options.trials ? { trials: options.trials } : {}) },
    store: options.storePath ? { path: path.resolve(options.storePath) } : config.store,
  };
}
