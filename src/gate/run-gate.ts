/**
 * The regression gate, written against ports: the base build and the head build, each in
 * one shadow with the same (`current`) configuration and the same share of the primary, fed
 * the same recorded traffic in rounds, until the verdict is clear or the load-time budget is
 * spent (compare.ts decides).
 *
 * Modes (one round gives one head/base ratio per KPI):
 * - duet: both loaded at once, each with its own equal CPU quota: whatever the runner does
 *   during the round happens to both;
 * - interleaved: one after the other, ABBA… (base first in even rounds), so drift within a
 *   pair of rounds cancels;
 * - sequential: every base round, then every head round, a fixed number of rounds (the
 *   naive baseline: the benchmark measures its noise to justify the default; never the gate).
 * Both shadows stay up for the whole gate; the first round includes the warm-up.
 */
import { shadowSpecFor } from "../core/apply.js";
import { kpisFrom } from "../core/kpis.js";
import { abortReason, errorText } from "../core/errors.js";
import { mean } from "../core/stats.js";
import type { LoadDriver, Logger, ReplayRequest, RunningShadow, ShadowRuntime } from "../core/ports.js";
import type { Kpis } from "../core/types.js";
import type { ShadowgateConfig, GateSettings } from "../config/schema.js";
import { describeConfig, formatMeasured, kpiLabel } from "../report/format.js";
import { decide, looksFor, perLookConfidence, resolvableRegression, MIN_ROUNDS, type GateDecision, type GateKpiResult, type GateKpiVerdict, type GateRound } from "./compare.js";
import type { NoiseProfile } from "./noise.js";

export type GateMode = GateSettings["mode"] | "sequential";

export type ImageSource = Parameters<ShadowRuntime["prepareImage"]>[0];

export interface GateDeps {
  runtime: ShadowRuntime;
  load: LoadDriver;
  logger: Logger;
  freePort: () => Promise<number>;
  /** the recorded traffic, already imported, sampled and anonymised */
  requests: ReplayRequest[];
  runId: string;
  signal?: AbortSignal;
  /** the runner's noise from an earlier A/A run, if stored */
  noise?: NoiseProfile;
}

export interface GateInput {
  config: ShadowgateConfig;
  base: ImageSource;
  /** default: the config's workload */
  head?: ImageSource;
  /** A/A: the base against itself (measures the noise; head is ignored) */
  aa?: boolean;
  /** override the config's gate.mode (the benchmark compares modes) */
  mode?: GateMode;
  /** sequential mode: the fixed number of rounds */
  rounds?: number;
  /**
   * the base branch's own config: its parameters must match the head's, or the same
   * configuration would not mean the same thing on both sides. "missing": the base has no
   * config file (the head's describes both, and the report says so); absent: not looked for.
   */
  baseConfig?: ShadowgateConfig | "missing";
}

export interface GateResult {
  /** the statistics' verdict */
  verdict: GateKpiVerdict;
  /** what the step does: "fail" fails it; an inconclusive verdict follows gate.inconclusive */
  outcome: "pass" | "fail";
  /** one sentence each, most important first */
  reasons: string[];
  /** thresholds below what this runner can resolve, one sentence per KPI */
  noiseWarnings: string[];
  mode: GateMode;
  aa: boolean;
  images: { base: string; head: string };
  configuration: ShadowgateConfig["current"];
  kpis: GateKpiResult[];
  rounds: GateRound[];
  /** share of failed or non-2xx answers per side, mean over the rounds */
  failing: { base: number; head: number };
  /** wall time under load (warm-ups included), ms */
  loadMs: number;
  /** looks planned, and the level of each KPI's interval that keeps `settings.confidence` over them */
  looks: number;
  intervalLevel: number;
  settings: Pick<GateSettings, "regression" | "confidence" | "inconclusive" | "budgetMs" | "roundMs">;
}

/** More failed or non-2xx answers than base by this share fails the gate whatever the latency. */
export const FAILING_MARGIN = 0.01;

/**
 * Runs the gate. Every shadow it starts is stopped before it returns or throws; the caller
 * owns the runtime and removes whatever an abort left half-started.
 */
export async function runGate(input: GateInput, deps: GateDeps): Promise<GateResult> {
  const { config } = input;
  const settings = config.gate;
  const mode = input.mode ?? settings.mode;
  const aa = input.aa ?? false;
  const { logger, runtime } = deps;
  const checkAborted = () => {
    if (deps.signal?.aborted) throw abortReason(deps.signal, "gate aborted");
  };
  const empty = (verdict: GateKpiVerdict, reason: string, images: { base: string; head: string }): GateResult => ({
    verdict,
    outcome: outcomeOf(verdict, settings.inconclusive),
    reasons: [reason],
    noiseWarnings: [],
    mode,
    aa,
    images,
    configuration: config.current,
    kpis: [],
    rounds: [],
    failing: { base: NaN, head: NaN },
    loadMs: 0,
    looks: 0,
    intervalLevel: settings.confidence,
    settings: pickSettings(settings),
  });

  const mismatch = input.baseConfig && input.baseConfig !== "missing" ? catalogMismatch(config, input.baseConfig) : undefined;
  if (mismatch) {
    return empty("inconclusive", `Base and head declare different parameters, so the same configuration means different things on each side; nothing was compared: ${mismatch}.`, {
      base: describeSource(input.base),
      head: describeSource(input.head ?? config.workload.source),
    });
  }
  const notes = input.baseConfig === "missing" ? ["The base branch has no Shadowgate config file: both sides ran with the head's."] : [];

  // A head that does not build is the pull request's own error: it throws like any run.
  const head = await runtime.prepareImage(aa ? input.base : (input.head ?? config.workload.source), deps.signal);
  let base: string;
  try {
    base = aa ? head : await runtime.prepareImage(input.base, deps.signal);
  } catch (error) {
    checkAborted();
    return empty("inconclusive", `The base build could not be prepared, so nothing was compared: ${errorText(error)}`, { base: describeSource(input.base), head });
  }
  const images = { base, head };
  logger.info(`gate: ${aa ? `A/A with ${base}` : `base ${base} vs head ${head}`}, ${mode}, configuration ${describeConfig(config.current)}`);

  const started = await Promise.allSettled(
    (["base", "head"] as const).map(async (side) => {
      const spec = shadowSpecFor({
        workload: config.workload,
        catalog: config.parameters,
        config: config.current,
        fraction: config.shadows.fraction,
        image: images[side],
        port: await deps.freePort(),
        name: `${config.workload.name}-${deps.runId}-${side}`,
      });
      return runtime.start(spec, deps.signal);
    }),
  );
  const running = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  try {
    checkAborted();
    const [baseStart, headStart] = started;
    if (headStart!.status === "rejected") {
      return empty(aa ? "inconclusive" : "fail", `The head build does not start with the current configuration: ${errorText(headStart!.reason)}`, images);
    }
    if (baseStart!.status === "rejected") {
      return empty("inconclusive", `The base build does not start with the current configuration, so nothing was compared: ${errorText(baseStart!.reason)}`, images);
    }
    const shadows = { base: baseStart!.value, head: headStart!.value };
    const measured = await measureRounds(shadows, mode, input.rounds, config, deps);
    const result = summarise(measured, { config, mode, aa, images, noise: deps.noise, logger });
    return { ...result, reasons: [...result.reasons, ...notes] };
  } finally {
    await Promise.allSettled(running.map((shadow) => shadow.stop()));
  }
}

interface Measured {
  rounds: GateRound[];
  failing: { base: number[]; head: number[] };
  loadMs: number;
  decision: GateDecision;
  /** rounds the budget allows in this mode */
  roundsInBudget: number;
  /** looks planned: each KPI's interval is at the per-look level for this many */
  looks: number;
}

async function measureRounds(
  shadows: { base: RunningShadow; head: RunningShadow },
  mode: GateMode,
  fixedRounds: number | undefined,
  config: ShadowgateConfig,
  deps: GateDeps,
): Promise<Measured> {
  const settings = config.gate;
  const { traffic } = config;
  const base = { kpis: settings.kpis, regression: settings.regression, confidence: settings.confidence };
  const rounds: GateRound[] = [];
  const failing = { base: [] as number[], head: [] as number[] };
  let loadMs = 0;
  const warm = { base: false, head: false };

  /** One side's measured window (the warm-up first, the first time): its KPIs. */
  const measure = async (side: "base" | "head"): Promise<Kpis> => {
    const shadow = shadows[side];
    let sampler: ReturnType<RunningShadow["sampleResources"]> | undefined;
    const load = await deps.load.run(
      shadow.url,
      deps.requests,
      {
        connections: traffic.connections,
        warmupMs: warm[side] ? 0 : traffic.warmupMs,
        durationMs: settings.roundMs,
        windowMs: Math.min(traffic.windowMs, settings.roundMs),
        timeoutMs: traffic.timeoutMs,
        ...(traffic.rate !== undefined ? { rate: traffic.rate } : {}),
        onMeasureStart: () => {
          sampler = shadow.sampleResources();
        },
      },
      deps.signal,
    );
    warm[side] = true;
    const usage = await (sampler ?? shadow.sampleResources()).stop();
    const { kpis } = kpisFrom(load, usage);
    failing[side].push(kpis["errors.rate"] + kpis["non2xx.rate"]);
    return kpis;
  };
  const timed = async <T>(work: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    try {
      return await work();
    } finally {
      loadMs += Date.now() - t;
    }
  };

  const perRound = (mode === "duet" ? 1 : 2) * settings.roundMs;
  const warmups = (mode === "duet" ? 1 : 2) * traffic.warmupMs;
  const roundsInBudget = Math.max(0, Math.floor((settings.budgetMs - warmups) / perRound));
  if (mode === "sequential") {
    const options = base;
    const n = fixedRounds ?? Math.max(MIN_ROUNDS, roundsInBudget);
    const baseRounds: Kpis[] = [];
    for (let i = 0; i < n; i++) baseRounds.push(await timed(() => measure("base")));
    for (let i = 0; i < n; i++) rounds.push({ base: baseRounds[i]!, head: await timed(() => measure("head")) });
    return { rounds, failing, loadMs, decision: decide(rounds, options), roundsInBudget: n, looks: 1 };
  }

  const maxRounds = fixedRounds ?? Math.max(MIN_ROUNDS, roundsInBudget);
  // a fixed number of rounds is looked at once; a sequential gate after every round
  const looks = fixedRounds === undefined ? looksFor(maxRounds) : 1;
  const options = { ...base, looks };
  let decision = decide(rounds, options);
  for (let r = 0; r < maxRounds; r++) {
    if (deps.signal?.aborted) throw abortReason(deps.signal, "gate aborted");
    let round: GateRound;
    if (mode === "duet") {
      // the load that starts first gets its connections and each tick's requests out first:
      // alternate, so that edge cancels over pairs of rounds
      const first = r % 2 === 0 ? "base" : "head";
      const [a, b] = await timed(() => Promise.all([measure(first), measure(first === "base" ? "head" : "base")]));
      round = first === "base" ? { base: a, head: b } : { base: b, head: a };
    } else if (r % 2 === 0) {
      const base = await timed(() => measure("base"));
      round = { base, head: await timed(() => measure("head")) };
    } else {
      const head = await timed(() => measure("head"));
      round = { head, base: await timed(() => measure("base")) };
    }
    rounds.push(round);
    decision = decide(rounds, options);
    deps.logger.info(`gate round ${r + 1}: ${decision.kpis.map((k) => `${kpiLabel(k.name)} ×${k.ratio.toFixed(3)} [${k.ci[0].toFixed(3)}, ${k.ci[1].toFixed(3)}] ${k.verdict}`).join(", ")}`);
    // sequential testing: stop as soon as the overall verdict is clear (fixed rounds run out)
    if (fixedRounds === undefined && decision.verdict !== "inconclusive") break;
    if (fixedRounds === undefined && loadMs + perRound > settings.budgetMs) break;
  }
  // what the budget allows at the pace actually measured (rounds take longer than their windows)
  const pace = rounds.length > 0 ? Math.max(perRound, (loadMs - warmups) / rounds.length) : perRound;
  const affordable = fixedRounds ?? Math.max(MIN_ROUNDS, Math.floor((settings.budgetMs - warmups) / pace));
  return { rounds, failing, loadMs, decision, roundsInBudget: affordable, looks };
}

function summarise(
  measured: Measured,
  context: { config: ShadowgateConfig; mode: GateMode; aa: boolean; images: { base: string; head: string }; noise: NoiseProfile | undefined; logger: Logger },
): GateResult {
  const { config, mode } = context;
  const settings = config.gate;
  const { decision } = measured;
  const level = perLookConfidence(settings.confidence, measured.looks);
  const failing = { base: mean(measured.failing.base), head: mean(measured.failing.head) };
  let verdict = decision.verdict;
  const reasons: string[] = [];
  const percent = (x: number) => `${(x * 100).toFixed(1)}%`;
  if (failing.base > 0.5) {
    verdict = "inconclusive";
    reasons.push(`The base answered only ${percent(1 - failing.base)} of the replayed requests with 2xx, so its timings say little: check that ${config.traffic.file} matches the service.`);
  } else if (!context.aa && failing.head - failing.base > FAILING_MARGIN) {
    verdict = "fail";
    reasons.push(`The head failed or answered non-2xx to ${percent(failing.head)} of the requests, against ${percent(failing.base)} for the base.`);
  }
  const threshold = formatPercent(settings.regression);
  const worse = decision.kpis.filter((k) => k.verdict === "fail");
  const unclear = decision.kpis.filter((k) => k.verdict === "inconclusive");
  const describe = (k: GateKpiResult) =>
    `${k.name} ×${k.ratio.toFixed(3)} (${formatPercent(level)} interval ${k.ci[0].toFixed(3)}–${k.ci[1].toFixed(3)}; base ${formatMeasured(k.name, k.base.median, k.base.sd)}, head ${formatMeasured(k.name, k.head.median, k.head.sd)})`;
  if (worse.length > 0) reasons.push(`The head is worse than the base, possibly by ${threshold} or more: ${worse.map(describe).join("; ")}.`);
  if (unclear.length > 0 && worse.length === 0) {
    reasons.push(`Not clear after ${measured.rounds.length} rounds (${(measured.loadMs / 1000).toFixed(0)} s of load): ${unclear.map(describe).join("; ")}.`);
  }
  if (decision.verdict === "pass" && reasons.length === 0) {
    reasons.push(`No gated KPI is worse by ${threshold} or more (${measured.rounds.length} rounds, ${mode}).`);
  }

  // A threshold below the noise cannot be decided reliably within the budget: say so.
  const noiseWarnings: string[] = [];
  for (const k of decision.kpis) {
    const stored = context.noise?.kpis[k.name];
    const noise = stored ?? k.noise;
    const resolvable = resolvableRegression(noise, measured.roundsInBudget, settings.confidence, measured.looks);
    if (Number.isFinite(resolvable) && resolvable > settings.regression) {
      noiseWarnings.push(
        `${k.name}: the threshold ${threshold} is below what this runner resolves in ${measured.roundsInBudget} rounds (≈ ${(resolvable * 100).toFixed(1)}%, from the noise ${stored !== undefined ? `of the A/A run of ${context.noise!.at}` : "of this run"}, ${(noise * 100).toFixed(1)}% per round).`,
      );
    }
  }
  for (const warning of noiseWarnings) context.logger.warn(warning);
  return {
    verdict,
    outcome: outcomeOf(verdict, settings.inconclusive),
    reasons,
    noiseWarnings,
    mode,
    aa: context.aa,
    images: context.images,
    configuration: config.current,
    kpis: decision.kpis,
    rounds: measured.rounds,
    failing,
    loadMs: measured.loadMs,
    looks: measured.looks,
    intervalLevel: level,
    settings: pickSettings(settings),
  };
}

/** 0.1 → "10%", 0.005 → "0.5%", 0.125 → "12.5%". */
export function formatPercent(fraction: number): string {
  return `${Number((fraction * 100).toFixed(2))}%`;
}

export function outcomeOf(verdict: GateKpiVerdict, inconclusive: GateSettings["inconclusive"]): "pass" | "fail" {
  return verdict === "fail" || (verdict === "inconclusive" && inconclusive === "fail") ? "fail" : "pass";
}

function pickSettings(settings: GateSettings): GateResult["settings"] {
  return { regression: settings.regression, confidence: settings.confidence, inconclusive: settings.inconclusive, budgetMs: settings.budgetMs, roundMs: settings.roundMs };
}

/**
 * How the base's parameters differ from the head's, in one phrase per parameter, or
 * undefined when they match (name, type and how the value is applied; ranges may differ).
 */
export function catalogMismatch(head: ShadowgateConfig, base: ShadowgateConfig): string | undefined {
  const byName = (config: ShadowgateConfig) => new Map(config.parameters.map((p) => [p.name, p]));
  const h = byName(head);
  const b = byName(base);
  const problems: string[] = [];
  for (const [name, spec] of h) {
    const other = b.get(name);
    if (!other) problems.push(`${name} only in the head`);
    else if (other.type !== spec.type) problems.push(`${name} is ${other.type} in the base, ${spec.type} in the head`);
    else if (JSON.stringify(other.apply) !== JSON.stringify(spec.apply)) problems.push(`${name} is applied differently (base ${JSON.stringify(other.apply)}, head ${JSON.stringify(spec.apply)})`);
  }
  for (const name of b.keys()) if (!h.has(name)) problems.push(`${name} only in the base`);
  return problems.length > 0 ? problems.join("; ") : undefined;
}

function describeSource(source: ImageSource): string {
  return source.kind === "image" ? source.image : `${source.context} (${source.dockerfile})`;
}
