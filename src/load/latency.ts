/**
 * Latency statistics with sub-millisecond resolution. autocannon's own histogram records whole
 * milliseconds (a sub-ms service reads p50 = 0); this records the float latency of each
 * `response` event in microseconds into HDR histograms (3 significant digits: exact below
 * 2.048 ms, within 0.1% above), for the whole window and per sub-window by arrival time.
 */
import { build, type Histogram } from "hdr-histogram-js";
import type { LoadResult, WindowStats } from "../core/ports.js";

function newHistogram(): Histogram {
  // 64-bit counts: a weighted response adds up to WEIGHT_SCALE × its relative weight
  return build({ numberOfSignificantValueDigits: 3, lowestDiscernibleValue: 1, autoResize: true, bitBucketSize: 64 });
}

/**
 * Weights are recorded as integer counts of weight × WEIGHT_SCALE (relative to the smallest
 * weight), so a weight ratio is kept to within 0.5%.
 */
const WEIGHT_SCALE = 100;

class Summary {
  readonly histogram = newHistogram();
  /** responses recorded (unweighted: throughput counts what was really served) */
  count = 0;
  weightSum = 0;
  weightedSumMs = 0;
  maxMs = 0;

  record(latencyMs: number, weight: number): void {
    this.histogram.recordValueWithCount(Math.max(1, Math.round(latencyMs * 1000)), Math.max(1, Math.round(weight * WEIGHT_SCALE)));
    this.count++;
    this.weightSum += weight;
    this.weightedSumMs += latencyMs * weight;
    if (latencyMs > this.maxMs) this.maxMs = latencyMs;
  }

  /** mean latency re-weighted to the recorded mix */
  get meanMs(): number {
    return this.weightSum > 0 ? this.weightedSumMs / this.weightSum : NaN;
  }

  /** percentile in ms, never above the exact maximum; NaN without data */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    return Math.min(this.histogram.getValueAtPercentile(p) / 1000, this.maxMs);
  }

  destroy(): void {
    this.histogram.destroy();
  }
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export class LatencyRecorder {
  private readonly total = new Summary();
  private readonly windows: Summary[] = [];

  /** @param windowMs sub-window length for spreads */
  constructor(private readonly windowMs: number) {
    if (!(windowMs > 0)) throw new Error(`load: windowMs must be > 0, got ${windowMs}`);
  }

  /**
   * @param sinceStartMs arrival time of the response relative to the start of the measured window
   * @param weight recorded requests this response's request stands for, relative to the
   *   lightest one (≥ 1): percentiles and the mean are re-weighted to the recorded mix
   */
  record(latencyMs: number, sinceStartMs: number, weight = 1): void {
    this.total.record(latencyMs, weight);
    const index = Math.max(0, Math.floor(sinceStartMs / this.windowMs));
    while (this.windows.length <= index) this.windows.push(new Summary());
    (this.windows[index] as Summary).record(latencyMs, weight);
  }

  get count(): number {
    return this.total.count;
  }

  summary(): LatencySummary {
    const t = this.total;
    return {
      p50: t.percentile(50),
      p90: t.percentile(90),
      p99: t.percentile(99),
      max: t.count > 0 ? t.maxMs : NaN,
      mean: t.count > 0 ? t.meanMs : NaN,
    };
  }

  /**
   * Per-window figures for a measured window of `elapsedMs`. Full windows always; a trailing
   * partial window only when it is at least half a window long (its rps over its own length);
   * a shorter tail counts in the totals but gets no window of its own (its rps would be noise).
   */
  windowStats(elapsedMs: number): WindowStats[] {
    const full = Math.floor(elapsedMs / this.windowMs + 1e-9);
    const tailMs = elapsedMs - full * this.windowMs;
    const count = full + (tailMs >= this.windowMs / 2 ? 1 : 0);
    const out: WindowStats[] = [];
    for (let i = 0; i < count; i++) {
      const w = this.windows[i];
      const lengthS = (i < full ? this.windowMs : tailMs) / 1000;
      const requests = w?.count ?? 0;
      out.push({
        requests,
        rps: requests / lengthS,
        p50: w ? w.percentile(50) : NaN,
        p90: w ? w.percentile(90) : NaN,
        p99: w ? w.percentile(99) : NaN,
        max: w && w.count > 0 ? w.maxMs : NaN,
      });
    }
    return out;
  }

  destroy(): void {
    this.total.destroy();
    for (const w of this.windows) w.destroy();
  }
}

/** What a load run counts in its measured window, whichever driver sends the requests. */
export class LoadTally {
  readonly recorder: LatencyRecorder;
  readonly statusCodes: Record<number, number> = {};
  errors = 0;
  /** of `errors`, how many timed out */
  timeouts = 0;
  non2xx = 0;

  constructor(windowMs: number) {
    this.recorder = new LatencyRecorder(windowMs);
  }

  response(status: number, latencyMs: number, sinceStartMs: number, weight = 1): void {
    this.recorder.record(latencyMs, sinceStartMs, weight);
    this.statusCodes[status] = (this.statusCodes[status] ?? 0) + 1;
    if (status < 200 || status >= 300) this.non2xx++;
  }

  failure(timedOut: boolean): void {
    this.errors++;
    if (timedOut) this.timeouts++;
  }

  /** the result over a measured window of `elapsedMs`; frees the histograms */
  result(elapsedMs: number): LoadResult & { timeouts: number; statusCodes: Record<number, number> } {
    const durationS = elapsedMs / 1000;
    const count = this.recorder.count;
    const result = {
      requests: count,
      durationS,
      rps: count / durationS,
      latency: this.recorder.summary(),
      errors: this.errors,
      non2xx: this.non2xx,
      windows: this.recorder.windowStats(elapsedMs),
      timeouts: this.timeouts,
      statusCodes: this.statusCodes,
    };
    this.recorder.destroy();
    return result;
  }

  destroy(): void {
    this.recorder.destroy();
  }
}
