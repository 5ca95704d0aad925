/**
 * The shadow runtime on Testcontainers: build (or check) the workload image, start shadows on
 * host networking with a CPU and memory quota, wait until they answer, sample their resources,
 * and always remove them — by label, so nothing survives a failed start or a cancelled run.
 *
 * The Ryuk reaper is disabled (its image cannot be pulled here, and a CI runner is thrown away
 * anyway); every container carries `shadowgate=<runId>` and `cleanup()` removes them by it.
 */
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { GenericContainer, getContainerRuntimeClient, type StartedTestContainer } from "testcontainers";
import { abortReason, errorText, STOP_SIGNAL_EXIT_CODES } from "../core/errors.js";
import type { Logger, RunningShadow, ShadowRuntime, ShadowSpec } from "../core/ports.js";
import {
  assertDockerAvailable,
  containerLogTail,
  dockerStatus,
  getDockerode,
  removeAllShadowgateContainers,
  RUN_LABEL,
  type Dockerode,
} from "./docker.js";
import { HttpReadyWaitStrategy } from "./http-ready.js";
import { assertBaseImagesLocal, buildImage } from "./image-build.js";
import { portAnswers } from "./free-port.js";
import { CgroupCounters, CgroupSampler, DockerStatsSampler, type ShadowSampler } from "./resource-sampler.js";

export type { SampledUsage, ShadowSampler } from "./resource-sampler.js";

export { assertDockerAvailable, dockerAvailable, removeAllShadowgateContainers } from "./docker.js";
export { findFreePort } from "./free-port.js";

const NAME_LABEL = `${RUN_LABEL}.name`;
const CONFIG_LABEL = `${RUN_LABEL}.config`;
const PORT_LABEL = `${RUN_LABEL}.port`;
const START_LABEL = `${RUN_LABEL}.start`;

const silent: Logger = { info: () => undefined, warn: () => undefined, debug: () => undefined };

export interface TestcontainersRuntimeOptions {
  /** labels every container and image of this run: `shadowgate=<runId>` */
  runId: string;
  logger?: Logger;
  /**
   * Pin every shadow to these CPUs (Docker `CpusetCpus`, e.g. "1"), so the load generator can
   * keep the others. No public Testcontainers API: set on the host config directly.
   */
  cpusetCpus?: string;
  /**
   * Where CPU/memory figures come from: "auto" reads the container's cgroup files when this host
   * can see them (exact windows) and falls back to the Docker stats API; "docker-api" forces the
   * API (see resource-sampler.ts for its up-to-1-s timing caveat).
   */
  stats?: "auto" | "docker-api";
}

type ImageSource = Parameters<ShadowRuntime["prepareImage"]>[0];

/** GenericContainer with exact limits: `withResourcesQuota` computes Math.ceil(cpu × 1e9), which
 * turns 1.07 cores into 1070000001 NanoCpus and 0.1 × 3 into 300000001. */
class ShadowContainer extends GenericContainer {
  withExactResources(nanoCpus: number, memoryBytes: number, cpusetCpus?: string): this {
    this.withResourcesQuota({ cpu: nanoCpus / 1e9, memory: memoryBytes / 1024 ** 3 });
    this.hostConfig.NanoCpus = nanoCpus;
    this.hostConfig.Memory = memoryBytes;
    if (cpusetCpus !== undefined) this.hostConfig.CpusetCpus = cpusetCpus;
    return this;
  }
}

function sanitiseTagPart(value: string, fallback: string): string {
  const cleaned = value.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[-._]+|[-._]+$/g, "");
  return (cleaned || fallback).slice(0, 100);
}

export class TestcontainersRuntime implements ShadowRuntime {
  readonly runId: string;
  private readonly logger: Logger;
  private readonly cpusetCpus: string | undefined;
  private readonly statsSource: "auto" | "docker-api";
  private readonly builtImages = new Set<string>();
  private readonly shadows = new Set<TestcontainersShadow>();
  /** starts in progress, so cleanup() can wait for them to give up */
  private readonly inflight = new Set<Promise<unknown>>();
  /** aborted by cleanup(): in-flight starts stop waiting and remove their container */
  private starts = new AbortController();

  constructor(options: TestcontainersRuntimeOptions) {
    if (!options.runId || !/^[A-Za-z0-9_.-]+$/.test(options.runId)) {
      throw new Error(`TestcontainersRuntime: runId must be letters, digits, '_', '.' or '-', got ${JSON.stringify(options.runId)}`);
    }
    // Testcontainers reads this when it first looks for its reaper (first start/build); the
    // reaper image cannot be pulled here, and Shadowgate removes its containers by label itself.
    process.env.TESTCONTAINERS_RYUK_DISABLED = "true";
    this.runId = options.runId;
    this.logger = options.logger ?? silent;
    this.cpusetCpus = options.cpusetCpus;
    this.statsSource = options.stats ?? "auto";
  }

  /**
   * Build the image (or check a given one exists). Never pulls: every base image of the
   * Dockerfile must be in the local engine, else it fails before building. `signal` aborts a
   * build (the stream is closed, the partial image removed) with the reason's message.
   */
  async prepareImage(source: ImageSource, signal?: AbortSignal): Promise<string> {
    const checkAborted = (): void => {
      if (signal?.aborted) throw abortReason(signal, "image build aborted");
    };
    checkAborted();
    await assertDockerAvailable();
    const docker = await getDockerode();
    checkAborted();
    if (source.kind === "image") {
      try {
        await docker.getImage(source.image).inspect();
      } catch (error) {
        if (dockerStatus(error) === 404) {
          throw new Error(
            `image ${source.image} does not exist locally (Shadowgate never pulls: build it, or docker pull it before the run)`,
          );
        }
        throw new Error(`image ${source.image}: inspecting it failed: ${errorText(error)}`);
      }
      return source.image;
    }
    return this.build(docker, source.context, source.dockerfile, signal);
  }

  /**
   * The Dockerfile: absolute, or relative to the context (as in Compose). It must lie inside the
   * context, because the engine reads it from the context archive.
   */
  private async build(docker: Dockerode, contextIn: string, dockerfileIn: string, signal?: AbortSignal): Promise<string> {
    const context = path.resolve(contextIn);
    const dockerfile = path.resolve(context, dockerfileIn);
    const what = `Dockerfile ${dockerfile} (context ${context})`;
    const contextStat = await fs.stat(context).catch(() => undefined);
    if (!contextStat?.isDirectory()) throw new Error(`image build failed for ${what}: the context is not a directory`);
    const fileStat = await fs.stat(dockerfile).catch(() => undefined);
    if (!fileStat?.isFile()) throw new Error(`image build failed for ${what}: the Dockerfile does not exist`);
    const relative = path.relative(context, dockerfile).split(path.sep).join("/");
    if (relative.startsWith("../") || path.isAbsolute(relative)) {
      throw new Error(`image build failed for ${what}: the Dockerfile must be inside the build context`);
    }
    // the legacy builder would pull a missing base image: refuse before building
    await assertBaseImagesLocal(docker, dockerfile);

    const name = sanitiseTagPart(path.basename(context), "workload");
    const base = `shadowgate/${name}:${sanitiseTagPart(this.runId, "run")}`;
    let tag = base;
    for (let n = 2; this.builtImages.has(tag); n++) tag = `${base}-${n}`;

    const started = performance.now();
    this.logger.info(`building ${what} as ${tag}`);
    try {
      await buildImage(
        docker,
        {
          context,
          dockerfile: relative,
          tag,
          labels: { [RUN_LABEL]: this.runId, [`${RUN_LABEL}.dockerfile`]: dockerfile },
        },
        signal,
      );
    } catch (error) {
      // an abort says why in its own words (e.g. "run timed out after 600 s; shadows stopped")
      if (signal?.aborted) throw error;
      const tail = (error as { buildTail?: string[] }).buildTail ?? [];
      throw new Error(
        `image build failed for ${what}: ${errorText(error)}` +
          (tail.length > 0 ? `\nlast lines of the build log:\n${tail.join("\n")}` : ""),
      );
    }
    try {
      await docker.getImage(tag).inspect();
    } catch (error) {
      throw new Error(`image build failed for ${what}: the engine reported success but ${tag} is missing (${errorText(error)})`);
    }
    this.builtImages.add(tag);
    this.logger.info(`built ${tag} in ${Math.round(performance.now() - started)} ms`);
    return tag;
  }

  /**
   * Start a shadow and wait until it is ready. `signal` (like cleanup()) aborts the start: the
   * readiness wait gives up at once, the container is removed, and the promise rejects with
   * `shadow <name>: start aborted (<reason>)`.
   */
  start(spec: ShadowSpec, signal?: AbortSignal): Promise<RunningShadow> {
    const starting = this.startShadow(spec, signal);
    const tracked = starting.catch(() => undefined);
    this.inflight.add(tracked);
    void tracked.finally(() => this.inflight.delete(tracked));
    return starting;
  }

  private async startShadow(spec: ShadowSpec, signal?: AbortSignal): Promise<RunningShadow> {
    validateSpec(spec);
    // the caller's signal and cleanup()'s, whichever fires first
    const abort = signal ? AbortSignal.any([this.starts.signal, signal]) : this.starts.signal;
    const checkAborted = (): void => {
      if (abort.aborted) throw startAborted(spec.name, abort);
    };
    checkAborted();
    const docker = await getDockerode();
    try {
      await docker.getImage(spec.image).inspect();
    } catch (error) {
      throw new Error(
        `shadow ${spec.name}: image ${spec.image} ${dockerStatus(error) === 404 ? "does not exist locally (prepareImage builds or checks it; Shadowgate never pulls)" : `cannot be inspected: ${errorText(error)}`}`,
      );
    }
    // With host networking a port already taken would let another process answer our ready probe.
    if (await portAnswers(spec.port)) {
      throw new Error(`shadow ${spec.name}: port ${spec.port} on 127.0.0.1 is already in use (pick another, e.g. findFreePort())`);
    }
    checkAborted();

    const startId = randomUUID();
    const nanoCpus = Math.round(spec.cpus * 1e9);
    const memoryBytes = Math.round(spec.memoryMiB * 2 ** 20);
    let readyMs = NaN;
    const wait = new HttpReadyWaitStrategy({
      name: spec.name,
      port: spec.port,
      path: spec.readyPath,
      timeoutMs: spec.readyTimeoutMs,
      signal: abort,
      docker,
      onReady: (ms) => (readyMs = ms),
    });
    const container = new ShadowContainer(spec.image)
      .withNetworkMode("host")
      .withEnvironment(spec.env)
      .withLabels({
        [RUN_LABEL]: this.runId,
        [NAME_LABEL]: spec.name,
        [CONFIG_LABEL]: JSON.stringify(spec.config),
        [PORT_LABEL]: String(spec.port),
        [START_LABEL]: startId,
      })
      .withExactResources(nanoCpus, memoryBytes, this.cpusetCpus)
      .withWaitStrategy(wait);
    if (spec.command && spec.command.length > 0) container.withCommand(spec.command);
    // copied after create and before start, so the workload reads them on its first start
    if (spec.files && spec.files.length > 0) {
      container.withCopyContentToContainer(spec.files.map((file) => ({ content: file.content, target: file.path, mode: 0o644 })));
    }

    const t0 = performance.now();
    let started: StartedTestContainer;
    try {
      started = await container.start();
    } catch (error) {
      // Testcontainers removes the container when the wait fails, but not when create/start
      // fails; remove whatever carries this start's label, then report.
      await removeAllShadowgateContainers(this.runId, `${START_LABEL}=${startId}`).catch((cleanupError: unknown) =>
        this.logger.warn(`shadow ${spec.name}: removing the failed container: ${errorText(cleanupError)}`),
      );
      const message = errorText(error);
      throw new Error(message.startsWith(`shadow ${spec.name}`) ? message : `shadow ${spec.name}: start failed: ${message}`);
    }
    const startToReadyMs = performance.now() - t0;
    if (abort.aborted) {
      // aborted just as it became ready: do not hand out a shadow nobody will stop
      await started.stop({ timeout: 0, remove: true, removeVolumes: true }).catch(() =>
        removeAllShadowgateContainers(this.runId, `${START_LABEL}=${startId}`).catch((cleanupError: unknown) =>
          this.logger.warn(`shadow ${spec.name}: removing the aborted container: ${errorText(cleanupError)}`),
        ),
      );
      throw startAborted(spec.name, abort);
    }
    let counters: CgroupCounters | undefined;
    if (this.statsSource === "auto") {
      const pid = await docker
        .getContainer(started.getId())
        .inspect()
        .then((info) => info.State.Pid)
        .catch(() => 0);
      counters = await CgroupCounters.locate(pid);
      if (!counters) this.logger.debug(`shadow ${spec.name}: cgroup files not reachable; CPU/memory from the Docker stats API`);
    }
    this.logger.debug(
      `shadow ${spec.name} ready at http://127.0.0.1:${spec.port} in ${Math.round(startToReadyMs)} ms (HTTP wait ${Math.round(readyMs)} ms)`,
    );
    const shadow = new TestcontainersShadow(started, docker, spec, startToReadyMs, counters, () =>
      this.shadows.delete(shadow),
    );
    this.shadows.add(shadow);
    return shadow;
  }

  /**
   * Stop and remove every container of this run (any state). Starts in flight are aborted (their
   * ready wait gives up and removes its container); a container created while the first sweep ran
   * is caught by a second sweep once they have settled (waiting at most `settleMs`).
   */
  async cleanup(settleMs = 10_000): Promise<number> {
    const aborting = this.starts;
    this.starts = new AbortController();
    aborting.abort(new Error("runtime cleanup"));
    for (const shadow of this.shadows) shadow.markRemoved();
    this.shadows.clear();
    let removed = await removeAllShadowgateContainers(this.runId);
    if (this.inflight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.inflight]),
        new Promise((resolve) => (timer = setTimeout(resolve, settleMs))),
      ]);
      clearTimeout(timer);
      removed += await removeAllShadowgateContainers(this.runId);
    }
    if (removed > 0) this.logger.info(`removed ${removed} shadow container(s) of run ${this.runId}`);
    return removed;
  }

  /** Remove the images this runtime built (Testcontainers never does without its reaper). */
  async removeImages(): Promise<number> {
    const docker = await getDockerode();
    // By label, like containers: a build that finished on the engine after an abort is not in
    // builtImages, and an image whose tag went first is left untagged but still labelled.
    const labelled = await docker.listImages({ all: true, filters: { label: [`${RUN_LABEL}=${this.runId}`] } });
    const refs = new Set([...this.builtImages, ...labelled.map((image) => image.Id)]);
    let removed = 0;
    for (const ref of refs) {
      try {
        await docker.getImage(ref).remove({ force: true });
        removed++;
      } catch (error) {
        if (dockerStatus(error) !== 404) this.logger.warn(`removing image ${ref}: ${errorText(error)}`);
      }
    }
    this.builtImages.clear();
    return removed;
  }
}

/** The error of an aborted start (the readiness wait words it the same way). */
function startAborted(name: string, signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return new Error(`shadow ${name}: start aborted (${reason instanceof Error ? reason.message : String(reason ?? "runtime shutting down")})`, {
    cause: reason,
  });
}

function validateSpec(spec: ShadowSpec): void {
  const problems: string[] = [];
  if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535) problems.push(`port must be 1..65535, got ${spec.port}`);
  if (!(spec.cpus > 0)) problems.push(`cpus must be > 0, got ${spec.cpus}`);
  if (!(spec.memoryMiB >= 6)) problems.push(`memoryMiB must be at least 6 (Docker's minimum), got ${spec.memoryMiB}`);
  if (!spec.readyPath.startsWith("/")) problems.push(`readyPath must start with '/', got ${JSON.stringify(spec.readyPath)}`);
  if (!(spec.readyTimeoutMs > 0)) problems.push(`readyTimeoutMs must be > 0, got ${spec.readyTimeoutMs}`);
  for (const file of spec.files ?? []) {
    if (!file.path.startsWith("/") || file.path.endsWith("/")) problems.push(`files: expected an absolute file path, got ${JSON.stringify(file.path)}`);
  }
  if (problems.length > 0) throw new Error(`shadow ${spec.name}: ${problems.join("; ")}`);
}

/** A started shadow: sample it, inspect it, stop it (stop is idempotent). */
export class TestcontainersShadow implements RunningShadow {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly port: number;
  /** from `start()` to the first 2xx of the ready path, ms */
  readonly startToReadyMs: number;
  private readonly samplers = new Set<ShadowSampler>();
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly container: StartedTestContainer,
    private readonly docker: Dockerode,
    spec: ShadowSpec,
    startToReadyMs: number,
    private readonly counters: CgroupCounters | undefined,
    private readonly onStopped: () => void,
  ) {
    this.id = container.getId();
    this.name = spec.name;
    this.port = spec.port;
    this.url = `http://127.0.0.1:${spec.port}`;
    this.startToReadyMs = startToReadyMs;
  }

  /** Where sampleResources() reads from. */
  get statsSource(): "cgroup" | "docker-api" {
    return this.counters ? "cgroup" : "docker-api";
  }

  /** Start sampling; `stop()` resolves with a SampledUsage (a ResourceUsage plus source and window). */
  sampleResources(): ShadowSampler {
    const sampler = this.counters
      ? new CgroupSampler(this.counters, this.name)
      : new DockerStatsSampler(this.docker, this.id, this.name);
    this.samplers.add(sampler);
    return sampler;
  }

  async inspectLimits(): Promise<{ nanoCpus: number; memoryBytes: number; env: string[]; cmd: string[] }> {
    const info = await this.docker.getContainer(this.id).inspect();
    return {
      nanoCpus: info.HostConfig.NanoCpus ?? 0,
      memoryBytes: info.HostConfig.Memory ?? 0,
      env: info.Config.Env ?? [],
      cmd: info.Config.Cmd ?? [],
    };
  }

  /** The container's last log lines (stdout and stderr). */
  async logs(lines = 50): Promise<string> {
    return containerLogTail(this.docker, this.id, lines);
  }

  /** cleanup() removed it already: make stop() a no-op. */
  markRemoved(): void {
    this.stopping ??= Promise.resolve();
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.allSettled([...this.samplers].map((s) => s.stop()));
      try {
        // kill at once (timeout 0) and remove with volumes
        await this.container.stop({ timeout: 0, remove: true, removeVolumes: true });
      } catch (error) {
        if (dockerStatus(error) !== 404 && !/no such container/i.test(errorText(error))) {
          // fall back to a forced removal; only a failure of that is an error
          try {
            await this.docker.getContainer(this.id).remove({ force: true, v: true });
          } catch (removeError) {
            if (dockerStatus(removeError) !== 404) {
              throw new Error(`shadow ${this.name}: stopping container ${this.id.slice(0, 12)} failed: ${errorText(removeError)}`);
            }
          }
        }
      } finally {
        this.onStopped();
      }
    })();
    return this.stopping;
  }
}

export interface SignalCleanupOptions {
  /** called first when a signal arrives, e.g. to abort the pipeline's AbortController */
  onSignal?: (signal: NodeJS.Signals) => void;
  logger?: Logger;
  /** bound on the cleanup before exiting anyway (default 15 s) */
  timeoutMs?: number;
  /** how to exit (default process.exit); tests replace it */
  exit?: (code: number) => void;
}

/** Call it (or `.uninstall()`) to remove the handlers; `.run()` runs the cleanup once. */
export type SignalCleanup = (() => void) & {
  /** run the runtime's cleanup once (also from `finally`); later calls return the same promise */
  run(): Promise<number>;
  /** remove the signal handlers */
  uninstall(): void;
};

/**
 * On SIGINT/SIGTERM/SIGHUP/SIGQUIT: call `onSignal`, remove this run's containers and then its
 * images (images only once no container uses them), then exit with 128 + the signal's number
 * (130/143/129/131). A second signal while cleaning up exits at once. The cleanup is bounded
 * (`timeoutMs`) so a stuck engine cannot keep a cancelled job alive. The normal path runs the
 * same cleanup from `finally` (`run()` is shared, so the two never race):
 *
 *     const signals = installSignalCleanup(runtime, () => controller.abort());
 *     try { ... } finally { await signals.run(); signals.uninstall(); }
 */
export function installSignalCleanup(
  runtime: Pick<ShadowRuntime, "cleanup"> & { removeImages?(): Promise<number> },
  onSignalOrOptions: ((signal: NodeJS.Signals) => void) | SignalCleanupOptions = {},
): SignalCleanup {
  const options: SignalCleanupOptions =
    typeof onSignalOrOptions === "function" ? { onSignal: onSignalOrOptions } : onSignalOrOptions;
  const logger = options.logger ?? silent;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const timeoutMs = options.timeoutMs ?? 15_000;
  let running: Promise<number> | undefined;
  let signalled = false;

  const run = (): Promise<number> => {
    running ??= (async () => {
      const removed = await runtime.cleanup();
      await runtime.removeImages?.().catch((error: unknown) => logger.warn(`could not remove the run's images: ${errorText(error)}`));
      return removed;
    })();
    return running;
  };
  const handler = (signal: NodeJS.Signals): void => {
    const code = STOP_SIGNAL_EXIT_CODES[signal] ?? 143;
    if (signalled) {
      logger.warn(`${signal} again: exiting without waiting for cleanup`);
      exit(code);
      return;
    }
    signalled = true;
    logger.warn(`${signal}: removing shadow containers before exiting`);
    try {
      options.onSignal?.(signal);
    } catch (error) {
      logger.warn(`onSignal handler failed: ${errorText(error)}`);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`cleanup took longer than ${timeoutMs} ms`)), timeoutMs);
    });
    Promise.race([run(), timeout])
      .then((count) => logger.info(`removed ${count} shadow container(s)`))
      .catch((error: unknown) => logger.warn(`cleanup after ${signal} failed: ${errorText(error)}`))
      .finally(() => {
        clearTimeout(timer);
        exit(code);
      });
  };
  const signals = Object.keys(STOP_SIGNAL_EXIT_CODES) as NodeJS.Signals[];
  const uninstall = (): void => {
    for (const signal of signals) process.off(signal, handler);
  };
  for (const signal of signals) process.on(signal, handler);
  return Object.assign(() => uninstall(), { run, uninstall });
}

/** Testcontainers' runtime client, for callers that need engine facts (CPU count, memory). */
export async function engineInfo(): Promise<{ cpus: number; memoryBytes: number; serverVersion: string }> {
  const client = await getContainerRuntimeClient();
  const info = client.info.containerRuntime;
  return { cpus: info.cpus, memoryBytes: info.memory, serverVersion: String(info.serverVersion) };
}
