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
import { LoadTally } from "./latency.js";
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

/** A recorded gap counts at most this many median gaps: a night's pause must not empty a window. */
const MAX_GAP_FACTOR = 10;

/**
 * Gaps between arrivals, ms, one per request (the last one's leads back to the first), with
 * mean 1000 / rate: the recorded gaps (each at most MAX_GAP_FACTOR median gaps), rescaled.
 */
export function arrivalGaps(requests: readonly ReplayRequest[], rate: number): number[] {
  const mean = 1000 / rate;
  const times = requests.map((request) => request.at);
  const timed = times.every((at): at is number => typeof at === "number" && Number.isFinite(at));
  if (!timed || requests.length < 2) return requests.map(() => mean);
  const recorded = times.slice(0, -1).map((at, i) => Math.max(0, times[i + 1]! - at));
  const average = recorded.reduce((a, b) => a + b, 0) / recorded.length;
  if (!(average > 0)) return requests.map(() => mean);
  const median = [...recorded].sort((a, b) => a - b)[Math.floor(recorded.length / 2)]!;
  const clamped = recorded.map((gap) => Math.min(gap, MAX_GAP_FACTOR * (median > 0 ? median : average)));
  // from the last request back to the first: a typical gap
  const gaps = [...clamped, clamped.reduce((a, b) => a + b, 0) / clamped.length];
  const total = gaps.reduce((a, b) => a + b, 0);
  return gaps.map((gap) => (gap / total) * gaps.length * mean);
}

export class OpenModelDriver implements LoadDriver {
  private readonly logger: Logger;
  private readonly maxSockets: number;
  /** where the next run on the same request list starts (runs walk the whole sample) */
  private readonly resumeAt = new WeakMap<ReplayRequest[], number>();

  constructor(options: OpenModelOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.maxSockets = options.maxSockets ?? 256;
  }

  /**
   * Requests scheduled in the measured window are the measured ones, whenever they end: after
   * the window the driver waits for them (at most timeoutMs), so the slowest are not dropped.
   * Each has a deadline of its scheduled time + timeoutMs, waiting for a socket included.
   */
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
    const tally = new LoadTally(options.windowMs);
    let warmupRequests = 0;
    let sent = 0;
    /** in scheduled order, so deadlines are in order too */
    const inFlight = new Map<http.ClientRequest, { deadline: number; end: (timedOut: boolean) => void }>();

    const t0 = performance.now();
    const measureFrom = t0 + options.warmupMs;
    const measureUntil = measureFrom + options.durationMs;
    const measured = (scheduled: number) => scheduled >= measureFrom && scheduled < measureUntil;
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
      const counted = measured(scheduled);
      if (counted) sent++;
      else warmupRequests++;
      const req = http.request({ host: url.hostname, port: url.port, method: request.method, path: request.path, headers: request.headers, agent });
      // each request ends once: answered, past its deadline or failed (a destroyed one still emits "error")
      const end = (timedOut: boolean, status?: number): void => {
        if (!inFlight.delete(req)) return;
        if (status === undefined) req.destroy();
        settled();
        if (!counted) return;
        if (status === undefined) tally.failure(timedOut);
        else tally.response(status, performance.now() - scheduled, scheduled - measureFrom, request.weight);
      };
      inFlight.set(req, { deadline: scheduled + options.timeoutMs, end });
      req.on("error", () => end(false));
      req.on("response", (res) => {
        res.resume();
        res.on("error", () => end(false));
        res.on("end", () => end(false, res.statusCode ?? 0));
      });
      req.end(request.body);
    };

    // the schedule: fire every arrival that is due, then sleep until the next one (or the
    // start of the measured window, or its end); past the end, wait for the measured ones
    const start = options.startAt ?? this.resumeAt.get(requests) ?? 0;
    let index = ((start % prepared.length) + prepared.length) % prepared.length;
    let next = t0;
    let timer: NodeJS.Timeout | undefined;
    let scheduling = true;
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const settled = (): void => {
      if (!scheduling && inFlight.size === 0) finish();
    };
    const expire = (now: number): void => {
      for (const [, { deadline, end }] of inFlight) {
        if (deadline > now) break;
        end(true);
      }
    };
    const tick = (): void => {
      const now = performance.now();
      expire(now);
      if (scheduling) {
        if (now >= measureFrom) startMeasuring();
        while (next <= now && next < measureUntil) {
          send(index, next);
          next += gaps[index]!;
          index = (index + 1) % prepared.length;
        }
        if (now >= measureUntil) {
          scheduling = false;
          this.resumeAt.set(requests, index);
        }
      }
      if (!scheduling && inFlight.size === 0) return finish();
      const first = inFlight.values().next().value?.deadline ?? Infinity;
      const wake = scheduling ? Math.min(next, measuring ? measureUntil : measureFrom, first) : first;
      timer = setTimeout(tick, Math.max(0, Math.min(wake, now + 1000) - performance.now()));
    };
    const onAbort = (): void => {
      scheduling = false;
      clearTimeout(timer);
      finish();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    tick();
    try {
      await done;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      for (const req of [...inFlight.keys()]) req.destroy();
      inFlight.clear();
      agent.destroy();
    }
    if (signal?.aborted) {
      tally.destroy();
      throw abortReason(signal, "load aborted");
    }

    const result: OpenModelResult = { ...tally.result(options.durationMs), warmupRequests, sent };
    this.logger.debug(`load ${url.origin} (open model, ${options.rate.toFixed(1)}/s): ${sent} sent, ${result.requests} answered, p99 ${result.latency.p99.toFixed(3)} ms, ${result.errors} errors (${result.timeouts} past their deadline)`);
    if (result.requests === 0) this.logger.warn(`load ${url.origin}: no responses in the measured window (${result.errors} errors)`);
    return result;
  }
}
