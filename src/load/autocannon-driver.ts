/**
 * The load driver on autocannon's programmatic API (never its `workers` mode: it loads
 * worker.js by path, which a single-file bundle does not have).
 *
 * One autocannon run covers warm-up + measured window; responses are assigned to the window by
 * their arrival time. (A separate warm-up run would close the warm connections and open cold
 * ones at the start of the measured window.) Latencies are the float latency of each `response`
 * event, so percentiles have sub-millisecond resolution. The measured window ends when our own
 * timer fires: autocannon only notices `stop()` at its next sample tick, and a nominal "5 s" of
 * autocannon can last 6 s — the elapsed time we divide by is the one we measured.
 */
import { abortReason, silentLogger } from "../core/errors.js";
import autocannon from "autocannon";
import type { LoadDriver, LoadOptions, LoadResult, Logger, ReplayRequest } from "../core/ports.js";
import { LoadTally } from "./latency.js";
import { assertLoopback, rotated, rotationFor, toCannonRequests } from "./requests.js";


/** LoadResult plus detail that tests and logs use. */
export interface AutocannonLoadResult extends LoadResult {
  /** of `errors`, how many were timeouts (autocannon's `errors` already includes them) */
  timeouts: number;
  /** responses per status code in the measured window */
  statusCodes: Record<number, number>;
  /** responses during the warm-up (not measured) */
  warmupRequests: number;
  /** connections actually opened (autocannon lowers it to the rate when the rate is smaller) */
  connections: number;
}

export interface AutocannonDriverOptions {
  logger?: Logger;
  /** autocannon's sample tick, ms: how soon its run resolves after stop() (default 25) */
  tickMs?: number;
}

function validate(options: LoadOptions): void {
  const problems: string[] = [];
  if (!Number.isInteger(options.connections) || options.connections < 1) problems.push(`connections must be an integer ≥ 1, got ${options.connections}`);
  if (!(options.durationMs > 0)) problems.push(`durationMs must be > 0, got ${options.durationMs}`);
  if (!(options.warmupMs >= 0)) problems.push(`warmupMs must be ≥ 0, got ${options.warmupMs}`);
  if (!(options.windowMs > 0)) problems.push(`windowMs must be > 0, got ${options.windowMs}`);
  if (!(options.timeoutMs > 0)) problems.push(`timeoutMs must be > 0, got ${options.timeoutMs}`);
  if (options.rate !== undefined && !(options.rate >= 1)) problems.push(`rate must be ≥ 1 request/s, got ${options.rate}`);
  if (problems.length > 0) throw new Error(`load: ${problems.join("; ")}`);
}

export class AutocannonDriver implements LoadDriver {
  private readonly logger: Logger;
  private readonly tickMs: number;

  constructor(options: AutocannonDriverOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.tickMs = options.tickMs ?? 25;
  }

  async run(baseUrl: string, requests: ReplayRequest[], options: LoadOptions, signal?: AbortSignal): Promise<AutocannonLoadResult> {
    validate(options);
    const url = assertLoopback(baseUrl);
    const prefix = url.pathname.replace(/\/+$/, "");
    // autocannon calls a request's onResponse just before it emits "response" for it (its
    // httpClient.js), so the weight of the request answered is known when its latency is recorded
    let answeredWeight = 1;
    const cannon = toCannonRequests(requests, prefix).map((request) => ({
      ...request,
      onResponse: () => {
        answeredWeight = request.weight;
      },
    }));
    if (signal?.aborted) throw abortReason(signal, "load aborted");

    const rate = options.rate === undefined ? undefined : Math.max(1, Math.round(options.rate));
    const connections = rate === undefined ? options.connections : Math.min(options.connections, rate);
    // autocannon's timeout is whole seconds with a floor of 1 s (lib/validate.js rejects less).
    const timeoutS = Math.max(1, options.timeoutMs / 1000);
    if (options.timeoutMs < 1000) this.logger.debug(`load: timeout ${options.timeoutMs} ms raised to autocannon's minimum of 1 s`);

    const tally = new LoadTally(options.windowMs);
    let warmupRequests = 0;
    let nextConnection = 0;
    /** autocannon's Client has destroy() (lib/httpClient.js); @types/autocannon omits it */
    const clients: { destroy(): void }[] = [];

    const t0 = performance.now();
    const measureFrom = t0 + options.warmupMs;
    let measureUntil = Infinity;

    let settle: { resolve: () => void; reject: (error: Error) => void } | undefined;
    const finished = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    const instance = autocannon({
      url: url.origin,
      connections,
      // a safety net only: our timer stops the run
      duration: (options.warmupMs + options.durationMs) / 1000 + 5,
      sampleInt: this.tickMs,
      timeout: timeoutS,
      requests: cannon as autocannon.Request[],
      ...(rate !== undefined ? { overallRate: rate } : {}),
      setupClient: (client) => {
        clients.push(client as unknown as { destroy(): void });
        const offset = rotationFor(nextConnection++, connections, cannon.length);
        if (offset > 0) client.setRequests(rotated(cannon, offset) as autocannon.Request[]);
      },
    }, (error) => (error ? settle?.reject(error instanceof Error ? error : new Error(String(error))) : settle?.resolve()));

    instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      const now = performance.now();
      if (now < measureFrom) {
        warmupRequests++;
        return;
      }
      if (now >= measureUntil) return;
      tally.response(statusCode, responseTime, now - measureFrom, answeredWeight);
    });
    instance.on("reqError", (error: Error) => {
      const now = performance.now();
      if (now < measureFrom || now >= measureUntil) return;
      tally.failure(error?.message === "request timed out");
    });

    let measuring = false;
    const startMeasuring = (): void => {
      if (measuring || stopped) return;
      measuring = true;
      try {
        options.onMeasureStart?.();
      } catch (error) {
        this.logger.warn(`load: onMeasureStart failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    let stopped = false;
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      measureUntil = performance.now();
      // End the traffic now (autocannon itself would keep sending until its next tick), so a
      // resource sampler stopped right after run() resolves sees no load past the window.
      for (const client of clients) client.destroy();
      instance.stop();
    };
    const measureTimer = options.warmupMs > 0 ? setTimeout(startMeasuring, options.warmupMs) : undefined;
    if (options.warmupMs <= 0) startMeasuring();
    const timer = setTimeout(stop, options.warmupMs + options.durationMs);
    const onAbort = (): void => stop();
    signal?.addEventListener("abort", onAbort, { once: true });

    try {
      await finished;
    } finally {
      clearTimeout(timer);
      clearTimeout(measureTimer);
      signal?.removeEventListener("abort", onAbort);
      stop();
    }
    if (signal?.aborted) {
      tally.destroy();
      throw abortReason(signal, "load aborted");
    }

    const result: AutocannonLoadResult = { ...tally.result(Math.max(1, measureUntil - measureFrom)), warmupRequests, connections };
    const l = result.latency;
    this.logger.debug(
      `load ${url.origin}: ${result.requests} responses in ${result.durationS.toFixed(2)} s (${result.rps.toFixed(0)} req/s), ` +
        `p50 ${l.p50.toFixed(3)} p99 ${l.p99.toFixed(3)} max ${l.max.toFixed(3)} ms, ${result.errors} errors, ${result.non2xx} non-2xx`,
    );
    if (result.requests === 0) this.logger.warn(`load ${url.origin}: no responses in the measured window (${result.errors} errors)`);
    return result;
  }
}
