/**
 * The gate's statistics: base and head measured in the same rounds, one head/base ratio per
 * KPI and round, rounds grouped in blocks (a fresh pair of shadows each; a block's mean log
 * ratio is one observation), and a three-way verdict per KPI from the confidence interval of
 * the mean over the observations (Student's t: paired, so the runner's drift cancels).
 * Pure: no I/O. The functions below take "rounds" that are observations: the gate passes
 * block aggregates (see `aggregate` in run-gate.ts).
 *
 * With w the worsening factor (head/base for lower-is-better KPIs, base/head for throughput)
 * and [lo, hi] its interval at the configured confidence:
 * - pass: hi < 1 + regression — a regression as large as the threshold is ruled out;
 * - fail: lo > 1 and hi ≥ 1 + regression — head is worse for sure, and possibly by the threshold or more;
 * - inconclusive: neither (too few observations for this noise).
 * So a true regression of exactly the threshold fails about as often as the interval covers,
 * and a significant but small regression (whole interval below the threshold) passes.
 *
 * The gate looks after every block and stops at the first clear verdict. Looking K times at a
 * 95% interval would fail an unchanged build far more often than 5% (the first of K chances
 * wins), so each look uses Pocock's wider per-look level for K planned looks (`looks`), which
 * keeps the overall error at the configured confidence.
 */
import { KPI_INFO, type KpiName, type Kpis } from "../core/types.js";
import { mean, median, normalCdf, stdev, studentTQuantile } from "../core/stats.js";

export type GateKpiVerdict = "pass" | "fail" | "inconclusive";

/** One round (or a block's aggregate): both sides measured under the same conditions (one after the other, or at once). */
export interface GateRound {
  base: Kpis;
  head: Kpis;
}

export interface GateKpiResult {
  name: KpiName;
  /** head / base, exp of the mean log ratio over the observations */
  ratio: number;
  /** the ratio's interval at the configured confidence */
  ci: [number, number];
  verdict: GateKpiVerdict;
  /** per side: median over the observations and the standard deviation across them */
  base: { median: number; sd: number };
  head: { median: number; sd: number };
  /** standard deviation of one observation's log ratio: the noise this comparison sees (≈ CV of the ratio) */
  noise: number;
  /** observations behind it: blocks (each a fresh pair's mean), or rounds where no blocks were formed */
  observations: number;
}

export interface GateOptions {
  kpis: readonly KpiName[];
  /** the regression that must not pass, as a fraction (0.1 = 10% worse) */
  regression: number;
  /** overall, of the two-sided interval, e.g. 0.95 */
  confidence: number;
  /** looks planned (the gate decides after each block from the third): the per-look level widens with them; default 1 */
  looks?: number;
}

/** Pocock's critical values for K equally spaced looks at an overall two-sided 5% (Pocock 1977; K > 20 extended by its slope per doubling). */
const POCOCK_05: readonly [number, number][] = [[1, 1.96], [2, 2.178], [3, 2.289], [4, 2.361], [5, 2.413], [6, 2.453], [7, 2.485], [8, 2.512], [9, 2.535], [10, 2.555], [15, 2.626], [20, 2.672]];

/**
 * The per-look confidence for `looks` looks that keeps the overall confidence: Pocock's
 * nominal per-look error at 5%, scaled to the configured error (an approximation away from 5%).
 */
export function perLookConfidence(confidence: number, looks: number): number {
  const k = Math.max(1, Math.round(looks));
  if (k === 1) return confidence;
  let c: number;
  if (k >= 20) c = 2.672 + 0.117 * Math.log2(k / 20);
  else {
    const i = POCOCK_05.findIndex(([n]) => n >= k);
    const [k1, c1] = POCOCK_05[i]!;
    const [k0, c0] = POCOCK_05[Math.max(0, i - 1)]!;
    c = k1 === k ? c1 : c0 + ((c1 - c0) * (k - k0)) / (k1 - k0);
  }
  const nominal = 2 * (1 - normalCdf(c)); // per-look error at an overall 5%
  return 1 - (1 - confidence) * (nominal / 0.05);
}

/** KPIs the gate can compare by ratio: always positive when measured. */
export const GATE_KPIS = ["latency.p50", "latency.p90", "latency.p99", "latency.max", "throughput.rps", "cpu.percent", "cpu.secondsPerRequest", "memory.peakMiB"] as const satisfies readonly KpiName[];
export const DEFAULT_GATE_KPIS: readonly KpiName[] = ["latency.p99", "latency.p50", "throughput.rps", "cpu.secondsPerRequest"];

/**
 * Rounds per pair of shadows. Two processes of the same build can differ by a few percent for
 * their whole life (a JIT's choices, where their memory landed), which more rounds on the same
 * pair never average out. So each block of rounds gets a fresh pair, and the statistics treat
 * a block (its mean log ratio) as one observation: the instance-to-instance spread is then in
 * the interval, not mistaken for a regression. Two rounds make a block ABBA-balanced.
 */
export const BLOCK_ROUNDS = 2;

/** Observations (blocks) before the first verdict: with fewer, Student's t makes every interval too wide to decide. */
export const MIN_ROUNDS = 3;

export function compareKpi(rounds: readonly GateRound[], kpi: KpiName, options: GateOptions): GateKpiResult {
  const usable = rounds.filter((r) => r.base[kpi] > 0 && r.head[kpi] > 0);
  const logs = usable.map((r) => Math.log(r.head[kpi] / r.base[kpi]));
  const side = (pick: (r: GateRound) => number) => ({ median: median(usable.map(pick)), sd: stdev(usable.map(pick)) });
  const n = logs.length;
  const centre = n > 0 ? mean(logs) : 0;
  const noise = stdev(logs);
  const level = perLookConfidence(options.confidence, options.looks ?? 1);
  const half = n >= 2 ? studentTQuantile(0.5 + level / 2, n - 1) * (noise / Math.sqrt(n)) : Infinity;
  const ci: [number, number] = [Math.exp(centre - half), Math.exp(centre + half)];
  return {
    name: kpi,
    ratio: Math.exp(centre),
    ci,
    verdict: n >= MIN_ROUNDS ? kpiVerdict(kpi, ci, options.regression) : "inconclusive",
    base: side((r) => r.base[kpi]),
    head: side((r) => r.head[kpi]),
    noise,
    observations: n,
  };
}

/** The three-way rule of the module comment, on the ratio's interval. */
export function kpiVerdict(kpi: KpiName, ci: readonly [number, number], regression: number): GateKpiVerdict {
  const higherIsBetter = KPI_INFO[kpi].better === "higher";
  // the worsening factor's interval: > 1 means head is worse
  const [lo, hi] = higherIsBetter ? [1 / ci[1], 1 / ci[0]] : [ci[0], ci[1]];
  const limit = 1 + regression;
  if (hi < limit) return "pass";
  if (lo > 1) return "fail";
  return "inconclusive";
}

export interface GateDecision {
  verdict: GateKpiVerdict;
  kpis: GateKpiResult[];
}

/** Every gated KPI compared; the gate fails if any fails, passes if all pass, else inconclusive. */
export function decide(rounds: readonly GateRound[], options: GateOptions): GateDecision {
  const kpis = options.kpis.map((kpi) => compareKpi(rounds, kpi, options));
  const verdict: GateKpiVerdict = kpis.some((k) => k.verdict === "fail") ? "fail" : kpis.every((k) => k.verdict === "pass") ? "pass" : "inconclusive";
  return { verdict, kpis };
}

/**
 * The smallest regression this noise lets the gate tell apart within `rounds` rounds: the
 * interval's half-width at that many rounds, as a fraction. A threshold below it cannot pass
 * an unchanged build, nor fail a regression of its own size, reliably.
 */
export function resolvableRegression(noise: number, rounds: number, confidence: number, looks = 1): number {
  if (rounds < 2) return Infinity;
  return Math.exp(studentTQuantile(0.5 + perLookConfidence(confidence, looks) / 2, rounds - 1) * (noise / Math.sqrt(rounds))) - 1;
}

/** Looks a gate of at most `maxRounds` rounds makes: one after each round from the MIN_ROUNDS-th. */
export function looksFor(maxRounds: number): number {
  return Math.max(1, maxRounds - MIN_ROUNDS + 1);
}
