/**
 * The open-model load driver (`traffic.pace`): requests arrive on a schedule, whether or not
 * earlier ones were answered, as real users do. autocannon's rate limit is a closed loop with
 * a cap, releasing each connection's quota in a burst at the start of every second; here each
 * request is sent at its own time, and its latency is counted from that time, so a slow
 * service shows its queueing (no coordinated omission).
 *
 * The schedule keeps the recording's rhythm: the gaps between the sampled requests' recorded
 * times, scaled so that their mean is 1 / rate (uniform gaps when the recording has no times),
 * cycling through the requests.
 */
import http from "node:http";
import { abortReason, silentLogger } from "../core/errors.js";
import type { LoadDriver, LoadOptions, LoadResult, Logger, ReplayRequest } from "../core/ports.js";
import { LatencyRecorder } from "./latency.js";
import { assertLoopback, toCannonRequests } from "./requests.js";

export interface OpenModelResult extends LoadResult {
  timeouts: number;
  statusCodes: Record<number, number>;
  /** requests sent during the warm-up */
  warmupRequests: number;
  /** requests sent in the measured window */
  sent: number;
}

export interface OpenModelOptions {
  logger?: Logger;
  /** sockets at most (requests beyond wait for one, their wait counted in their latency); default 256 */
  maxSockets?: number;
}

/** Gaps between arrivals, ms, one per request (the last one's leads back to the first), with mean 1000 / rate. */
export function arrivalGaps(requests: readonly ReplayRequest[], rate: number): number[] {
  const mean = 1000 / rate;
  const times = requests.map((request) => request.at);
  const timed = times.every((at): at is number => typeof at === "number" && Number.isFinite(at));
  if (!timed || requests.length < 2) return requests.map(() => mean);
  const gaps = times.map((at, i) => (i + 1 < times.length ? Math.max(0, times[i + 1]! - at) : NaN));
  const recorded = gaps.slice(0, -1);
  const average = recorded.reduce((a, b) => a + b, 0) / recorded.length;
  if (!(average > 0)) return requests.map(() => mean);
  gaps[gaps.length - 1] = average; // from the last request back to the first: a typical gap
  return gaps.map((gap) => (gap / average) * mean);
}

export class OpenModelDriver implements LoadDriver {
  private readonly logger: Logger;
  private readonly maxSockets: number;

  constructor(options: OpenModelOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.maxSockets = options.maxSockets ?? 256;
  }

  async run(baseUrl: string, requests: ReplayRequest[], options: LoadOptions, signal?: AbortSignal): Promise<OpenModelResult> {
    if (options.rate === undefined || !(options.rate > 0)) throw new Error(`load: the open model needs a request rate > 0, got ${options.rate}`);
    if (!(options.durationMs > 0) || !(options.warmupMs >= 0) || !(options.windowMs > 0) || !(options.timeoutMs > 0)) {
      throw new Error(`load: durationMs, windowMs and timeoutMs must be > 0 and warmupMs ≥ 0`);
    }
    const url = assertLoopback(baseUrl);
    const prefix = url.pathname.replace(/\/+$/, "");
    const prepared = toCannonRequests(requests, prefix);
    const gaps = arrivalGaps(requests, options.rate);
    if (signal?.aborted) throw abortReason(signal, "load aborted");

    const agent = new http.Agent({ keepAlive: true, maxSockets: this.maxSockets });
    const recorder = new LatencyRecorder(options.windowMs);
    const statusCodes: Record<number, number> = {};
    let errors = 0;
    let timeouts = 0;
    let non2xx = 0;
    let warmupRequests = 0;
    let sent = 0;
    const inFlight = new Set<http.ClientRequest>();

    const t0 = performance.now();
    const measureFrom = t0 + options.warmupMs;
    const measureUntil = measureFrom + options.durationMs;
    const inWindow = (time: number) => time >= measureFrom && time < measureUntil;
    let measuring = false;
    const startMeasuring = (): void => {
      if (measuring) return;
      measuring = true;
      try {
        options.onMeasureStart?.();
      } catch (error) {
        this.logger.warn(`load: onMeasureStart failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    };

    /** One request, sent at its scheduled time; its latency counts from then. */
    const send = (index: number, scheduled: number): void => {
      const request = prepared[index]!;
      if (scheduled < measureFrom) warmupRequests++;
      else sent++;
      const req = http.request({ host: url.hostname, port: url.port, method: request.method, path: request.path, headers: request.headers, agent });
      inFlight.add(req);
      // each request ends once: answered, timed out or failed (a destroyed request still emits "error")
      let ended = false;
      const end = (): boolean => {
        if (ended || !inFlight.has(req)) return false;
        ended = true;
        inFlight.delete(req);
        return true;
      };
      const failed = (timedOut: boolean): void => {
        if (!end() || !inWindow(performance.now())) return;
        errors++;
        if (timedOut) timeouts++;
      };
      req.setTimeout(options.timeoutMs, () => {
        failed(true);
        req.destroy();
      });
      req.on("error", () => failed(false));
      req.on("response", (res) => {
        res.resume();
        res.on("error", () => failed(false));
        res.on("end", () => {
          if (!end()) return;
          const now = performance.now();
          if (!inWindow(now)) return;
          recorder.record(now - scheduled, now - measureFrom, request.weight);
          const status = res.statusCode ?? 0;
          statusCodes[status] = (statusCodes[status] ?? 0) + 1;
          if (status < 200 || status >= 300) non2xx++;
        });
      });
      req.end(request.body);
    };

    // the schedule: fire every arrival that is due, then sleep until the next one
    let index = 0;
    let next = t0;
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const tick = (): void => {
      if (stopped) return;
      const now = performance.now();
      if (now >= measureFrom) startMeasuring();
      if (now >= measureUntil) return stop();
      while (next <= now && next < measureUntil) {
        send(index, next);
        next += gaps[index]!;
        index = (index + 1) % prepared.length;
      }
      timer = setTimeout(tick, Math.max(0, Math.min(next, measureUntil) - performance.now()));
    };
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      finish();
    };
    const onAbort = (): void => stop();
    signal?.addEventListener("abort", onAbort, { once: true });
    tick();
    try {
      await done;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      // answers still on their way after the window are not measured: end them now
      for (const req of inFlight) req.destroy();
      inFlight.clear();
      agent.destroy();
    }
    if (signal?.aborted) {
      recorder.destroy();
      throw abortReason(signal, "load aborted");
    }

    const elapsedMs = Math.max(1, Math.min(performance.now(), measureUntil) - measureFrom);
    const durationS = elapsedMs / 1000;
    const result: OpenModelResult = {
      requests: recorder.count,
      durationS,
      rps: recorder.count / durationS,
      latency: recorder.summary(),
      errors,
      non2xx,
      windows: recorder.windowStats(elapsedMs),
      timeouts,
      statusCodes,
      warmupRequests,
      sent,
    };
    recorder.destroy();
    this.logger.debug(`load ${url.origin} (open model, ${options.rate.toFixed(1)}/s): ${sent} sent, ${result.requests} answered in ${durationS.toFixed(2)} s, p99 ${result.latency.p99.toFixed(3)} ms, ${errors} errors`);
    if (result.requests === 0) this.logger.warn(`load ${url.origin}: no responses in the measured window (${errors} errors)`);
    return result;
  }
}
