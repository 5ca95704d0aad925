/**
 * The recommendation: constrained optimisation over the model, not just over what was measured.
 *
 * 1. Candidates: the current configuration, the measured ones, and a Latin hypercube of a
 *    few thousand points over the whole space.
 * 2. Score each on the model: SLO violation on the pessimistic side of the interval (hi for
 *    lower-is-better KPIs, lo for throughput) first; near-ties there (within 1%, common with
 *    few trials, when the interval's pessimistic side is the same few trees everywhere) go
 *    to the smaller violation on the predicted means; then the objective's predicted mean,
 *    then (exact ties, common with trees) the smaller relative sd, then the fewer changes.
 * 3. Refine the best few by coordinate search in the unit hypercube (steps halving from
 *    0.2; every other value of enums and bools).
 * 4. Judge the candidates against the current configuration: a change is recommended only
 *    when it is predicted better by at least `minImprovement` *and* better in at least
 *    `confidence` of the paired per-tree draws (the same trees predict both, so their shared
 *    error cancels; the extrapolation term does not pair). The best-ranked candidate that
 *    passes is recommended — often a measured configuration, when the best by the mean is an
 *    extrapolation the trees disagree on. None passes: keep the current configuration
 *    (`best` still says what the search found, e.g. for the next run to measure). When the
 *    current configuration risks an SLO, the candidate that risks it clearly less (by ≥ 10%
 *    on the pessimistic side) is recommended. When none does (wide intervals: few trials),
 *    a candidate that meets the SLOs on the predicted means while the current one breaches
 *    them there is still recommended if it is better on the objective in at least
 *    `confidence` of the paired draws.
 */
import {
  KPI_INFO,
  type Configuration,
  type KpiName,
  type KpiPredictions,
  type Kpis,
  type Objective,
  type ParameterCatalog,
  type Prediction,
  type PredictiveModel,
  type Slo,
} from "../core/types.js";
import { normalCdf } from "../core/stats.js";
import { latinHypercubeUnit } from "../search/lhs.js";
import { deriveSeed, mulberry32 } from "../search/random.js";
import { changedParams, checkCatalog, configKey, decode, encodeUnit, roundFloats } from "../search/space.js";
import type { Constraint } from "../search/types.js";

export interface RecommendInput {
  model: PredictiveModel;
  catalog: ParameterCatalog;
  current: Configuration;
  slo: Slo;
  objective: Objective;
  seed: number;
  /** Latin hypercube candidates scored on the model; default 2000 */
  candidates?: number;
  /** configurations already measured, added to the candidates (those that do not fit the catalog are ignored) */
  measured?: Configuration[];
  /** smallest predicted relative improvement of the objective worth a change; default 0.02 */
  minImprovement?: number;
  /** share of paired per-tree draws in which the change must be better; default 0.9 */
  confidence?: number;
  /** best candidates refined by local search; default 5 */
  refine?: number;
  /** today's anchor, passed to `model.predict` (default: the model's own) */
  anchor?: Partial<Kpis>;
  /** declared rules between parameters: no candidate breaking one is recommended */
  constraints?: readonly Constraint[];
}

export interface SloBreach {
  kpi: KpiName;
  limit: number;
  predicted: Prediction;
  /** likely: the predicted mean breaches the SLO; possible: only the interval does */
  certainty: "likely" | "possible";
}

export interface Candidate {
  config: Configuration;
  predicted: Partial<KpiPredictions>;
  /** relative improvement of the objective over the current configuration (positive = better) */
  improvement: number;
  /** the pessimistic side of every predicted interval meets the SLOs */
  meetsSlo: boolean;
  /** share of paired per-tree draws in which it beats the current configuration on the objective */
  probabilityBetter: number;
}

export interface Recommendation {
  /** the configuration to run: the current one when keepCurrent */
  recommended: Configuration;
  predicted: Partial<KpiPredictions>;
  current: { config: Configuration; predicted: Partial<KpiPredictions> };
  /** relative improvement of the objective, recommended vs current (positive = better; 0 when keepCurrent) */
  improvement: number;
  /** the recommended configuration meets every SLO on the pessimistic side of its intervals */
  meetsSlo: boolean;
  /** ... and on the predicted means */
  meetsSloOnMean: boolean;
  /** some configuration is predicted to meet every SLO (pessimistic side); when false, the least violation wins */
  feasible: boolean;
  /** no configuration is credibly better than the current one */
  keepCurrent: boolean;
  /** the best configuration the search found, taken or not */
  best: Candidate;
  /** SLOs the current configuration is predicted to breach (likely) or may breach (possible) */
  currentBreaches: SloBreach[];
  /** catalog parameters whose value differs from the current configuration */
  changed: string[];
  /** SLO KPIs the model cannot predict (not checked) */
  unchecked: KpiName[];
  /** one sentence on why, for logs and reports */
  reason: string;
  /** configurations scored on the model */
  evaluated: number;
}

// ---------------------------------------------------------------------------------------

interface Scored {
  unit: number[];
  config: Configuration;
  key: string;
  predicted: Partial<KpiPredictions>;
  violation: number;
  /** SLO violation on the predicted means (≤ violation) */
  meanViolation: number;
  /** objective mean, oriented so lower is better */
  cost: number;
  /** relative sd of the objective */
  relSd: number;
  /** squared unit distance to the current configuration */
  distance: number;
}

const lowerIsBetter = (kpi: KpiName): boolean => KPI_INFO[kpi].better === "lower";

/** Sum of relative SLO excesses on the pessimistic (or mean) side; 0 when every SLO is met. */
export function sloViolation(predicted: Partial<KpiPredictions>, slo: Slo, side: "pessimistic" | "mean"): number {
  let total = 0;
  for (const [kpi, limit] of Object.entries(slo) as [KpiName, number][]) {
    const p = predicted[kpi];
    if (!p || limit === undefined || !Number.isFinite(limit)) continue;
    const lower = lowerIsBetter(kpi);
    const value = side === "mean" ? p.mean : lower ? p.hi : p.lo;
    const excess = lower ? value - limit : limit - value;
    if (excess > 0) total += limit !== 0 ? excess / Math.abs(limit) : excess;
  }
  return total;
}

/** The SLOs the prediction breaches on the mean (likely) or only on the interval (possible). */
export function sloBreaches(predicted: Partial<KpiPredictions>, slo: Slo): SloBreach[] {
  const out: SloBreach[] = [];
  for (const [kpi, limit] of Object.entries(slo) as [KpiName, number][]) {
    const p = predicted[kpi];
    if (!p || limit === undefined || !Number.isFinite(limit)) continue;
    const lower = lowerIsBetter(kpi);
    const meanBreaches = lower ? p.mean > limit : p.mean < limit;
    const intervalBreaches = lower ? p.hi > limit : p.lo < limit;
    if (meanBreaches) out.push({ kpi, limit, predicted: p, certainty: "likely" });
    else if (intervalBreaches) out.push({ kpi, limit, predicted: p, certainty: "possible" });
  }
  return out;
}

/** Relative tolerance within which two SLO violations count as tied. */
const VIOLATION_TIE = 0.01;

/** Whether two SLO violations are equal within VIOLATION_TIE (relative) or 1e-12 (absolute). */
function violationsTie(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-12 + VIOLATION_TIE * Math.max(Math.abs(a), Math.abs(b));
}

/** Negative when a ranks before b. */
function compare(a: Scored, b: Scored): number {
  const tol = 1e-12;
  if (!violationsTie(a.violation, b.violation)) return a.violation - b.violation;
  if (!violationsTie(a.meanViolation, b.meanViolation)) return a.meanViolation - b.meanViolation;
  if (Math.abs(a.cost - b.cost) > tol * Math.max(1, Math.abs(a.cost), Math.abs(b.cost))) return a.cost - b.cost;
  if (Math.abs(a.relSd - b.relSd) > tol) return a.relSd - b.relSd;
  return a.distance - b.distance;
}


/**
 * Share of paired draws in which `b` beats `a` on the objective (ties count half); with no
 * draws, a normal approximation from the two means and sds.
 */
function probabilityBetter(a: Prediction, b: Prediction, goal: Objective["goal"]): number {
  const sign = goal === "minimize" ? 1 : -1;
  if (a.draws && b.draws && a.draws.length === b.draws.length && a.draws.length > 0) {
    let wins = 0;
    a.draws.forEach((x, i) => {
      const d = sign * (x - (b.draws?.[i] as number));
      wins += d > 0 ? 1 : d === 0 ? 0.5 : 0;
    });
    return wins / a.draws.length;
  }
  const s = Math.hypot(a.sd, b.sd);
  const d = sign * (a.mean - b.mean);
  return s > 0 ? normalCdf(d / s) : d > 0 ? 1 : d === 0 ? 0.5 : 0;
}

/** Predictions without their per-tree draws (bulky; only needed inside the decision). */
function withoutDraws(predicted: Partial<KpiPredictions>): Partial<KpiPredictions> {
  const out: Partial<KpiPredictions> = {};
  for (const [kpi, p] of Object.entries(predicted) as [KpiName, Prediction][]) {
    const { draws: _draws, ...rest } = p;
    out[kpi] = rest;
  }
  return out;
}

function relativeImprovement(current: number, candidate: number, goal: Objective["goal"]): number {
  const diff = goal === "minimize" ? current - candidate : candidate - current;
  return diff / Math.max(Math.abs(current), 1e-12);
}

// ---------------------------------------------------------------------------------------

/** Recommends a configuration; see the module comment. Deterministic given the seed. */
export function recommend(input: RecommendInput): Recommendation {
  const { model, catalog, current, slo, objective } = input;
  checkCatalog(catalog);
  const kpi = objective.kpi;
  const minImprovement = input.minImprovement ?? 0.02;
  const confidence = input.confidence ?? 0.9;
  const predictOptions = input.anchor ? { anchor: input.anchor } : {};
  const rng = mulberry32(deriveSeed(input.seed, "recommend"));
  const currentUnit = encodeUnit(catalog, current);
  const unchecked = (Object.keys(slo) as KpiName[]).filter((k) => slo[k] !== undefined && !model.kpis.includes(k));
  let evaluated = 0;

  // a candidate that breaks a declared constraint is never scored, let alone recommended
  // (the current configuration is scored whatever it is: it is the reference)
  const currentKey = configKey(catalog, decode(catalog, currentUnit));
  const allowed = (config: Configuration): boolean =>
    configKey(catalog, config) === currentKey || (input.constraints ?? []).every((rule) => rule.holds(config));
  const score = (units: number[][]): Scored[] => {
    const configs = units.map((u) => decode(catalog, u)).filter(allowed);
    const predictions = configs.length > 0 ? model.predict(configs, predictOptions) : [];
    evaluated += configs.length;
    return configs.map((config, i) => {
      const predicted = predictions[i] ?? {};
      const p = predicted[kpi];
      const unit = encodeUnit(catalog, config);
      const m = p?.mean ?? NaN;
      return {
        unit,
        config,
        key: configKey(catalog, config),
        predicted,
        violation: sloViolation(predicted, slo, "pessimistic"),
        meanViolation: sloViolation(predicted, slo, "mean"),
        cost: objective.goal === "minimize" ? m : -m,
        relSd: p ? p.sd / Math.max(Math.abs(p.mean), 1e-12) : Infinity,
        distance: unit.reduce((s, x, d) => s + (x - (currentUnit[d] as number)) ** 2, 0),
      };
    });
  };

  const currentPredicted = model.predict([current], predictOptions)[0] ?? {};
  const currentBreaches = sloBreaches(currentPredicted, slo);
  const keep = (reason: string, best?: Candidate): Recommendation => {
    const fallback: Candidate = best ?? {
      config: { ...current },
      predicted: currentPredicted,
      improvement: 0,
      meetsSlo: sloViolation(currentPredicted, slo, "pessimistic") === 0,
      probabilityBetter: 0.5,
    };
    return {
      recommended: { ...current },
      predicted: currentPredicted,
      current: { config: { ...current }, predicted: currentPredicted },
      improvement: 0,
      meetsSlo: sloViolation(currentPredicted, slo, "pessimistic") === 0,
      meetsSloOnMean: sloViolation(currentPredicted, slo, "mean") === 0,
      feasible: fallback.meetsSlo || sloViolation(currentPredicted, slo, "pessimistic") === 0,
      keepCurrent: true,
      best: fallback,
      currentBreaches,
      changed: [],
      unchecked,
      reason,
      evaluated,
    };
  };

  if (!model.kpis.includes(kpi) || currentPredicted[kpi] === undefined) {
    return keep(`the model cannot predict the objective ${kpi} yet (too few measured trials)`);
  }

  // 1–2. Candidates.
  const units: number[][] = [currentUnit];
  for (const config of input.measured ?? []) {
    try {
      units.push(encodeUnit(catalog, config));
    } catch {
      // measured before the catalog changed: not a candidate
    }
  }
  units.push(...latinHypercubeUnit(catalog.length, Math.max(0, Math.floor(input.candidates ?? 2000)), rng, { restarts: 1 }));
  const pool = new Map<string, Scored>();
  const add = (items: Scored[]): void => {
    for (const s of items) if (!pool.has(s.key)) pool.set(s.key, s);
  };
  add(score(units));
  const currentScored = pool.get(configKey(catalog, decode(catalog, currentUnit))) as Scored;

  // 3. Local search from the best few distinct starts.
  const starts = [...pool.values()].sort(compare).slice(0, Math.max(0, input.refine ?? 5));
  for (const start of starts) add(localSearch(start, catalog, score, compare));

  // 4. Judge every candidate that does not risk the SLOs more than the current one against
  // the current one, with paired draws: the best by the mean is often an extrapolation the
  // trees disagree on, while a slightly worse configuration is credibly better.
  const ranked = [...pool.values()].sort(compare);
  const top = ranked.filter(
    (s) => s.key !== currentScored.key && (s.violation <= currentScored.violation || violationsTie(s.violation, currentScored.violation)),
  );
  const judged = top.length > 0 ? model.predict([current, ...top.map((s) => s.config)], { ...predictOptions, draws: true }) : [];
  const currentWithDraws = judged[0] ?? currentPredicted;
  const candidates: (Candidate & { scored: Scored })[] = top.map((s, i) => {
    const predicted = judged[i + 1] ?? s.predicted;
    const p = predicted[kpi] as Prediction;
    const c = currentWithDraws[kpi] as Prediction;
    return {
      scored: s,
      config: { ...current, ...s.config },
      predicted,
      improvement: relativeImprovement(c.mean, p.mean, objective.goal),
      meetsSlo: s.violation === 0,
      probabilityBetter: probabilityBetter(c, p, objective.goal),
    };
  });
  const strip = ({ scored: _scored, ...candidate }: Candidate & { scored: Scored }): Candidate => ({
    ...candidate,
    predicted: withoutDraws(candidate.predicted),
  });
  const bestOverall = ranked[0] as Scored;
  const feasible = bestOverall.violation === 0;
  const first = candidates[0];
  const best: Candidate | undefined = bestOverall.key === currentScored.key || !first ? undefined : strip(first);

  // Floats are rounded to 3 significant digits only now, after the search: a value a person
  // can apply, and a change far below anything the trees resolve.
  const take = (chosen: Candidate & { scored: Scored }, reason: string): Recommendation => ({
    recommended: roundFloats(catalog, chosen.config),
    predicted: withoutDraws(chosen.predicted),
    current: { config: { ...current }, predicted: currentPredicted },
    improvement: chosen.improvement,
    meetsSlo: chosen.scored.violation === 0,
    meetsSloOnMean: sloViolation(chosen.predicted, slo, "mean") === 0,
    feasible,
    keepCurrent: false,
    best: best ?? strip(chosen),
    currentBreaches,
    changed: changedParams(catalog, current, roundFloats(catalog, chosen.config)),
    unchecked,
    reason,
    evaluated,
  });

  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const share = (x: number): string => `${(x * 100).toFixed(0)}%`;
  const needs = `needs ≥ ${share(minImprovement)} in ≥ ${share(confidence)} of paired tree predictions`;

  if (currentScored.violation > 0) {
    // The current configuration risks an SLO: a clearly smaller pessimistic violation wins
    // (candidates are ranked by it, then by the violation on the means, then the objective).
    const safer = candidates.find((c) => c.scored.violation < currentScored.violation * 0.9 - 1e-9);
    if (safer) {
      return take(
        safer,
        safer.scored.violation === 0
          ? "the current configuration risks an SLO; this one is predicted to meet every SLO"
          : `no configuration is predicted to meet every SLO on the pessimistic side of the model's intervals; this one violates them least${
              safer.scored.meanViolation === 0 ? " and meets them on the predicted means" : ""
            }`,
      );
    }
    // None clearly safer on the pessimistic side (with few trials the intervals are wide and
    // their pessimistic side is much the same everywhere): still a change when the current
    // configuration breaches an SLO on the predicted mean, a candidate meets every SLO there,
    // and it is credibly better on the objective.
    const onMean =
      currentScored.meanViolation > 0 ? candidates.filter((c) => c.scored.meanViolation === 0) : [];
    const credibleOnMean = onMean.find((c) => c.probabilityBetter >= confidence);
    if (credibleOnMean) {
      return take(
        credibleOnMean,
        `no configuration is predicted to meet every SLO on the pessimistic side of the model's intervals (too uncertain); the current one breaches them on the predicted mean, this one meets them there and is ${
          credibleOnMean.improvement >= 0 ? `predicted ${pct(credibleOnMean.improvement)} better` : `predicted ${pct(-credibleOnMean.improvement)} worse on the mean but better`
        } on ${kpi} in ${share(credibleOnMean.probabilityBetter)} of paired tree predictions`,
      );
    }
    let reason: string;
    const firstOnMean = onMean[0];
    const least = Math.min(...candidates.map((c) => c.scored.violation));
    const lessBy = least < currentScored.violation ? 1 - least / currentScored.violation : 0;
    if (feasible) {
      reason = "the current configuration risks an SLO and no change is predicted to reduce that risk credibly";
    } else if (firstOnMean) {
      reason = `no configuration is predicted to meet every SLO on the pessimistic side of the model's intervals; the current one breaches them on the predicted mean, and the best configuration found that meets them there is better on ${kpi} in only ${share(
        firstOnMean.probabilityBetter,
      )} of paired tree predictions (needs ≥ ${share(confidence)}), too uncertain for a change`;
    } else if (lessBy > 0) {
      reason = `no configuration is predicted to meet every SLO, and none is predicted to violate them clearly less than the current one (the best found, ${pct(lessBy)} less; a change needs ≥ 10% less)`;
    } else {
      reason = "no configuration is predicted to meet every SLO, and none is predicted to violate them less than the current one";
    }
    const out = keep(reason, best);
    return { ...out, feasible };
  }

  const credible = candidates.find(
    (c) => c.scored.violation === 0 && c.improvement >= minImprovement && c.probabilityBetter >= confidence,
  );
  if (credible) {
    return take(
      credible,
      `predicted ${pct(credible.improvement)} better on ${kpi}, better in ${share(credible.probabilityBetter)} of paired tree predictions`,
    );
  }
  let reason: string;
  if (best === undefined || best.improvement <= 0) {
    reason = `no configuration is predicted better than the current one on ${kpi}`;
  } else if (best.improvement < minImprovement) {
    reason = `the best configuration found is predicted only ${pct(best.improvement)} better on ${kpi}, too little for a change (${needs})`;
  } else {
    reason = `the best configuration found is predicted ${pct(best.improvement)} better on ${kpi}, but in only ${share(
      best.probabilityBetter,
    )} of paired tree predictions, which is within the model's uncertainty (${needs})`;
  }
  const out = keep(reason, best);
  return { ...out, feasible: true };
}

/**
 * Steepest-descent coordinate search from one start: numeric coordinates step ± a step that
 * halves from 0.2 to 1/80; enum and bool coordinates try every other value. Stops when no
 * neighbour ranks better at the smallest step, or after 60 moves.
 */
function localSearch(
  start: Scored,
  catalog: ParameterCatalog,
  score: (units: number[][]) => Scored[],
  rank: (a: Scored, b: Scored) => number,
): Scored[] {
  const visited: Scored[] = [];
  let here = start;
  let step = 0.2;
  for (let moves = 0; moves < 60 && step >= 1 / 80; ) {
    const neighbours: number[][] = [];
    catalog.forEach((spec, d) => {
      const u = here.unit[d] as number;
      const push = (value: number): void => {
        const next = [...here.unit];
        next[d] = Math.min(1, Math.max(0, value));
        neighbours.push(next);
      };
      if (spec.type === "enum") {
        spec.values.forEach((_, k) => push((k + 0.5) / spec.values.length));
      } else if (spec.type === "bool") {
        push(u < 0.5 ? 0.75 : 0.25);
      } else {
        push(u - step);
        push(u + step);
      }
    });
    const scored = score(neighbours).filter((s) => s.key !== here.key);
    visited.push(...scored);
    const best = scored.sort(rank)[0];
    if (best && rank(best, here) < 0) {
      here = best;
      moves++;
    } else {
      step /= 2;
    }
  }
  return visited;
}
