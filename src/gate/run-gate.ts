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
 * Rounds run in blocks of BLOCK_ROUNDS on a fresh pair of shadows each (compare.ts says why);
 * a block's first round includes the warm-up.
 */
import { kpisFrom } from "../core/kpis.js";
import { abortReason, errorText } from "../core/errors.js";
import { mean } from "../core/stats.js";
import type { LoadDriver, Logger, ReplayRequest, RunningShadow, ShadowRuntime } from "../core/ports.js";
import { KPI_NAMES, type Kpis } from "../core/types.js";
import type { ShadowgateConfig, GateSettings } from "../config/schema.js";
import { describeConfig, formatMeasured, kpiLabel } from "../report/format.js";
import { BLOCK_ROUNDS, decide, looksFor, perLookConfidence, resolvableRegression, MIN_ROUNDS, type GateDecision, type GateKpiResult, type GateKpiVerdict, type GateRound } from "./compare.js";
import type { NoiseProfile } from "./noise.js";
import { runResponseDiff, type ResponseDiffResult } from "./response-diff.js";
import { startGateShadow } from "./shadow.js";
import type { MockSummary } from "../pipeline.js";

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
  /** mocks of the external APIs for one instance of the response diff (its own, answering deterministically) */
  startDiffMocks?: () => Promise<{ env: Record<string, string>; close(): Promise<void> }>;
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
  baseConfig?: ShadowgateConfig | "missing" | { unreadable: string };
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
  /** pairs of shadows the rounds ran on (a fresh pair per block of BLOCK_ROUNDS; the verdict's observations) */
  blocks: number;
  /** share of failed or non-2xx answers per side, mean over the rounds */
  failing: { base: number; head: number };
  /** wall time under load (warm-ups included), ms */
  loadMs: number;
  /** looks planned, and the level of each KPI's interval that keeps `settings.confidence` over them */
  looks: number;
  intervalLevel: number;
  settings: Pick<GateSettings, "regression" | "confidence" | "inconclusive" | "budgetMs" | "roundMs">;
  /** the response-correctness diff, when gate.diff is on */
  diff?: ResponseDiffResult & { fails: boolean };
  /** what each external-API mock served during the rounds */
  mocks?: MockSummary[];
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
    blocks: 0,
    failing: { base: NaN, head: NaN },
    loadMs: 0,
    looks: 0,
    intervalLevel: settings.confidence,
    settings: pickSettings(settings),
  });

  const baseSource = { base: describeSource(input.base), head: describeSource(input.head ?? config.workload.source) };
  if (input.baseConfig && typeof input.baseConfig === "object" && "unreadable" in input.baseConfig) {
    return empty("inconclusive", `The base branch's config file cannot be read by this Shadowgate, so nothing was compared: ${input.baseConfig.unreadable}`, baseSource);
  }
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

  /** A fresh pair of shadows for a block, or the gate's early result when one does not start. */
  const startPair = async (block: number): Promise<Pair | GateResult> => {
    // the container that starts first alternates by block too: no side keeps an edge
    const order = block % 2 === 0 ? (["base", "head"] as const) : (["head", "base"] as const);
    const inOrder = await Promise.allSettled(order.map((side) => startGateShadow(config, deps, images[side], `${side}-${block + 1}`)));
    const started = order[0] === "base" ? inOrder : [inOrder[1]!, inOrder[0]!];
    const [baseStart, headStart] = started;
    if (baseStart!.status === "fulfilled" && headStart!.status === "fulfilled") return { base: baseStart!.value, head: headStart!.value };
    await Promise.allSettled(started.flatMap((s) => (s.status === "fulfilled" ? [s.value.stop()] : [])));
    checkAborted();
    const again = block > 0 ? ` (it had started for ${block} block${block > 1 ? "s" : ""} before)` : "";
    if (headStart!.status === "rejected" && baseStart!.status === "rejected") {
      // a cause both share (the configuration, the engine) is not the pull request's fault
      return empty("inconclusive", `Neither build starts with the current configuration${again}: base: ${errorText(baseStart!.reason)}; head: ${errorText(headStart!.reason)}`, images);
    }
    if (headStart!.status === "rejected") {
      return empty(aa || block > 0 ? "inconclusive" : "fail", `The head build does not start with the current configuration${again}: ${errorText(headStart!.reason)}`, images);
    }
    return empty("inconclusive", `The base build does not start with the current configuration${again}, so nothing was compared: ${errorText((baseStart as PromiseRejectedResult).reason)}`, images);
  };

  // A/A calibrates the noise: it runs its whole budget (a noise measured on the three blocks
  // an early stop leaves would be off by a factor of several)
  const fixedRounds = input.rounds ?? (aa ? BLOCK_ROUNDS * blocksInBudget(config, mode) : undefined);
  const measured = await measureBlocks(startPair, mode, fixedRounds, config, deps);
  if ("verdict" in measured) return measured;
  const result = summarise(measured, { config, mode, aa, images, noise: deps.noise, logger });
  const gated = { ...result, reasons: [...result.reasons, ...notes] };
  return settings.diff && !aa ? withResponseDiff(gated, await runResponseDiff(config, images, settings.diff, deps), settings) : gated;
}

/**
 * The diff's findings beside the performance verdict. With gate.diff.fail a difference fails
 * the gate, and a diff that could not run leaves a passing gate inconclusive (it was asked to
 * vouch for the responses and cannot).
 */
function withResponseDiff(result: GateResult, diff: ResponseDiffResult, settings: GateSettings): GateResult {
  const failOnDiff = settings.diff!.fail;
  const fails = failOnDiff && "report" in diff && diff.report.verdict === "different";
  const note =
    "error" in diff
      ? `Responses were not compared: ${diff.error}.`
      : diff.report.verdict === "different"
        ? `Responses differ from the base's on ${diff.report.routes.filter((r) => r.status.reported || r.fields.length > 0).length} route(s), beyond what two base instances differ by${fails ? " (gate.diff.fail)" : ""}.`
        : undefined;
  const withDiff = { ...result, diff: { ...diff, fails } };
  if (fails) return { ...withDiff, verdict: "fail", outcome: "fail", reasons: [note!, ...result.reasons] };
  if (failOnDiff && "error" in diff && result.verdict === "pass") {
    return { ...withDiff, verdict: "inconclusive", outcome: outcomeOf("inconclusive", settings.inconclusive), reasons: [note!, ...result.reasons] };
  }
  return { ...withDiff, reasons: note === undefined ? result.reasons : [...result.reasons, note] };
}

type Pair = { base: RunningShadow; head: RunningShadow };


interface Measured {
  /** every round measured, in order */
  rounds: GateRound[];
  /** one per block: the geometric mean of its rounds per side (what the verdict is computed on) */
  blocks: GateRound[];
  failing: { base: number[]; head: number[] };
  loadMs: number;
  decision: GateDecision;
  /** blocks the budget allows in this mode, at the pace measured */
  blocksInBudget: number;
  /** looks planned: each KPI's interval is at the per-look level for this many */
  looks: number;
}

async function measureBlocks(
  startPair: (block: number) => Promise<Pair | GateResult>,
  mode: GateMode,
  fixedRounds: number | undefined,
  config: ShadowgateConfig,
  deps: GateDeps,
): Promise<Measured | GateResult> {
  const settings = config.gate;
  const { traffic } = config;
  const base = { kpis: settings.kpis, regression: settings.regression, confidence: settings.confidence };
  const rounds: GateRound[] = [];
  const blocks: GateRound[] = [];
  const failing = { base: [] as number[], head: [] as number[] };
  let loadMs = 0;

  /** One side's measured window (the warm-up first, on a fresh shadow): its KPIs. */
  // with a fixed rate (the open model), each round starts where the last one's schedule ended,
  // the same request for both sides, so the rounds walk the whole sample
  const perRound = traffic.rate !== undefined ? Math.max(1, Math.round((traffic.rate * (traffic.warmupMs + settings.roundMs)) / 1000)) : 0;
  const measure = async (shadow: RunningShadow, side: "base" | "head", warm: boolean, round: number): Promise<Kpis> => {
    let sampler: ReturnType<RunningShadow["sampleResources"]> | undefined;
    const load = await deps.load.run(
      shadow.url,
      deps.requests,
      {
        connections: traffic.connections,
        warmupMs: warm ? 0 : traffic.warmupMs,
        durationMs: settings.roundMs,
        windowMs: Math.min(traffic.windowMs, settings.roundMs),
        timeoutMs: traffic.timeoutMs,
        ...(traffic.rate !== undefined ? { rate: traffic.rate, startAt: (round * perRound) % deps.requests.length } : {}),
        onMeasureStart: () => {
          sampler = shadow.sampleResources();
        },
      },
      deps.signal,
    );
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
  const withPair = async <T>(block: number, work: (pair: Pair) => Promise<T>): Promise<T | GateResult> => {
    if (deps.signal?.aborted) throw abortReason(deps.signal, "gate aborted");
    const pair = await startPair(block);
    if ("verdict" in pair) return pair;
    try {
      return await work(pair);
    } finally {
      await Promise.allSettled([pair.base.stop(), pair.head.stop()]);
    }
  };

  if (mode === "sequential") {
    // the naive baseline for the benchmark: one pair, every base round, then every head round
    const n = fixedRounds ?? MIN_ROUNDS * BLOCK_ROUNDS;
    const done = await withPair(0, async (pair) => {
      const baseRounds: Kpis[] = [];
      for (let i = 0; i < n; i++) baseRounds.push(await timed(() => measure(pair.base, "base", i > 0, i)));
      for (let i = 0; i < n; i++) rounds.push({ base: baseRounds[i]!, head: await timed(() => measure(pair.head, "head", i > 0, i)) });
    });
    if (done && "verdict" in done) return done;
    return { rounds, blocks: [aggregate(rounds)], failing, loadMs, decision: decide(rounds, base), blocksInBudget: n, looks: 1 };
  }

  const perBlock = nominalBlockMs(config, mode);
  const maxBlocks = fixedRounds !== undefined ? Math.ceil(fixedRounds / BLOCK_ROUNDS) : blocksInBudget(config, mode);
  // a fixed number of rounds is looked at once; a sequential gate after every block
  const looks = fixedRounds === undefined ? looksFor(maxBlocks) : 1;
  const options = { ...base, looks };
  let decision = decide(blocks, options);
  for (let b = 0; b < maxBlocks; b++) {
    const block = await withPair(b, async (pair) => {
      const measuredNow: GateRound[] = [];
      for (let r = 0; r < BLOCK_ROUNDS; r++) {
        const warm = r > 0;
        // the load that starts first (duet) or runs first (interleaved) alternates: ABBA
        const first = r % 2 === 0 ? "base" : "head";
        const second = first === "base" ? "head" : "base";
        const side = (s: "base" | "head") => measure(pair[s], s, warm, rounds.length + r);
        const [x, y] =
          mode === "duet" ? await timed(() => Promise.all([side(first), side(second)])) : [await timed(() => side(first)), await timed(() => side(second))];
        measuredNow.push(first === "base" ? { base: x, head: y } : { base: y, head: x });
      }
      return measuredNow;
    });
    if ("verdict" in block) return block;
    rounds.push(...block);
    blocks.push(aggregate(block));
    decision = decide(blocks, options);
    deps.logger.info(`gate block ${b + 1} (rounds ${rounds.length - block.length + 1}–${rounds.length}): ${decision.kpis.map((k) => `${kpiLabel(k.name)} ×${k.ratio.toFixed(3)} [${k.ci[0].toFixed(3)}, ${k.ci[1].toFixed(3)}] ${k.verdict}`).join(", ")}`);
    // sequential testing: stop as soon as the overall verdict is clear (fixed rounds run out)
    if (fixedRounds === undefined && decision.verdict !== "inconclusive") break;
    // out of budget at the pace measured — but not before a verdict is possible at all
    const pace = Math.max(perBlock, loadMs / (b + 1));
    if (fixedRounds === undefined && b + 1 >= MIN_ROUNDS && loadMs + pace > settings.budgetMs) break;
  }
  // what the budget allows at the pace actually measured (rounds take longer than their windows)
  const pace = blocks.length > 0 ? Math.max(perBlock, loadMs / blocks.length) : perBlock;
  const affordable = fixedRounds !== undefined ? maxBlocks : Math.max(MIN_ROUNDS, Math.floor(settings.budgetMs / pace));
  return { rounds, blocks, failing, loadMs, decision, blocksInBudget: affordable, looks };
}

/** Load time of one block at its nominal pace: a warm-up per side (at once in a duet) and its rounds. */
function nominalBlockMs(config: ShadowgateConfig, mode: GateMode): number {
  const sides = mode === "duet" ? 1 : 2;
  return sides * (config.traffic.warmupMs + BLOCK_ROUNDS * config.gate.roundMs);
}

/** Blocks the load budget holds at the nominal pace (at least the MIN_ROUNDS a verdict needs). */
function blocksInBudget(config: ShadowgateConfig, mode: GateMode): number {
  return Math.max(MIN_ROUNDS, Math.floor(config.gate.budgetMs / nominalBlockMs(config, mode)));
}

/** A block as one observation: per side and KPI, the geometric mean of its rounds (the mean where a value is 0). */
export function aggregate(rounds: readonly GateRound[]): GateRound {
  const side = (pick: (r: GateRound) => Kpis): Kpis =>
    Object.fromEntries(
      KPI_NAMES.map((kpi) => {
        const values = rounds.map((r) => pick(r)[kpi]);
        return [kpi, values.every((v) => v > 0) ? Math.exp(mean(values.map(Math.log))) : mean(values)];
      }),
    ) as Kpis;
  return { base: side((r) => r.base), head: side((r) => r.head) };
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
    reasons.push(`Not clear after ${measured.rounds.length} rounds on ${measured.blocks.length} pairs of shadows (${(measured.loadMs / 1000).toFixed(0)} s of load): ${unclear.map(describe).join("; ")}.`);
  }
  if (decision.verdict === "pass" && reasons.length === 0) {
    reasons.push(`No gated KPI is worse by ${threshold} or more (${measured.rounds.length} rounds, ${mode}).`);
  }

  // A threshold below the noise cannot be decided reliably within the budget: say so.
  const noiseWarnings: string[] = [];
  for (const k of decision.kpis) {
    const stored = context.noise?.kpis[k.name];
    const noise = stored ?? k.noise;
    const resolvable = resolvableRegression(noise, measured.blocksInBudget, settings.confidence, measured.looks);
    if (Number.isFinite(resolvable) && resolvable > settings.regression) {
      noiseWarnings.push(
        `${k.name}: the threshold ${threshold} is below what this runner resolves in ${measured.blocksInBudget} blocks of ${BLOCK_ROUNDS} rounds (≈ ${(resolvable * 100).toFixed(1)}%, from the noise ${stored !== undefined ? `of the A/A run of ${context.noise!.at}` : "of this run"}, ${(noise * 100).toFixed(1)}% per block).`,
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
    blocks: measured.blocks.length,
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
