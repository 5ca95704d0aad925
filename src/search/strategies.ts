/**
 * The search strategies (types.ts): where the next configurations come from.
 *
 * Every strategy works through one `Session` per call, which enforces the rules they share:
 * proposals are distinct, never a measured configuration (by configKey, after reading numeric
 * and boolean strings as values), satisfy every constraint, and come from the candidates
 * when there are any. Randomness comes from one stream seeded by ctx.seed, the strategy's
 * name and the number of observations.
 *
 * Two kinds of space:
 * - a finite pool: `ctx.candidates`, or the whole space when it is discrete and small enough
 *   to list (ENUMERATE_LIMIT), so running out is exact there. Points a strategy aims at
 *   (grid, Latin hypercube, Halton) are snapped to the nearest unused pool member.
 * - the open space: points of the unit cube (space.ts) decoded to configurations, floats
 *   kept to 3 significant digits. A configuration breaking a constraint is repaired by
 *   redrawing the parameters that constraint mentions (a few times), else rejected.
 *
 * Distances are between normalised feature rows (featureEncoder): numeric parameters scaled
 * to [0, 1] of their range (log where log), a different enum or bool value at distance 1.
 * A strategy that cannot fill the batch its own way fills it with random points.
 */
import type { Configuration, ParamValue, ParameterCatalog, ParameterSpec } from "../core/types.js";
import { featureEncoder, type FeatureEncoder } from "../model/features.js";
import { scrambledHalton } from "./halton.js";
import { latinHypercubeUnit, nearestSquaredDistance, squaredDistance } from "./lhs.js";
import { deriveSeed, mulberry32, randomInt, shuffleInPlace, type Rng } from "./random.js";
import { checkCatalog, configKey, decode, decodeValue, encodeUnit, encodeValue, roundFloat, sameValue } from "./space.js";
import { fitSurrogate, type Surrogate } from "./surrogate.js";
import { STRATEGY_NAMES, StrategyError, type Constraint, type Observation, type ProposeContext, type Strategy, type StrategyName } from "./types.js";

/** A discrete space of at most this many configurations is listed and searched as a pool. */
const ENUMERATE_LIMIT = 4096;
/** Grids up to this size are walked exactly, farthest point first; larger ones by sampling. */
const GRID_EXACT_LIMIT = 4096;
/** Grid points sampled per pick on a large grid (the farthest of them is taken). */
const GRID_SAMPLES = 64;
/** Redraws of the parameters of broken constraints before a configuration is rejected. */
const REPAIR_TRIES = 8;
/** Random draws for the open space: a base, plus this many per missing proposal. */
const RANDOM_DRAWS_BASE = 500;
const RANDOM_DRAWS_PER_PROPOSAL = 100;
/** A neighbour moves a numeric parameter this far in the unit interval (floats: the sd of a normal step). */
const NEIGHBOUR_STEP = 0.1;
/** Incumbents whose neighbourhoods `history` takes turns in. */
const HISTORY_INCUMBENTS = 3;
/** Below this many distinct observations the forest has nothing to say: `model` proposes a Latin hypercube. */
const MODEL_MIN_DISTINCT = 3;
/** Every this-many-th trial of `model` is random (SMAC interleaves random configurations, ~20% of them). */
const MODEL_RANDOM_EVERY = 5;
/** Pool members scored exactly when the pool is no larger; a larger pool is sampled. */
const MODEL_POOL_LIMIT = 5000;
/** Nearest pool members of each incumbent added to a sampled pool (the local search of a finite set). */
const MODEL_POOL_NEIGHBOURS = 50;
/** Random points scored in the open space. */
const MODEL_RANDOM_POINTS = 1000;
/** Hill climbs on expected improvement: from the best incumbents and the best random points. */
const MODEL_CLIMBS_FROM_INCUMBENTS = 5;
const MODEL_CLIMBS_FROM_RANDOM = 3;
const MODEL_CLIMB_STEPS = 10;
/** A batch's next pick keeps this distance (normalised features) from earlier picks when it can. */
const MODEL_DIVERSITY_RADIUS = 0.2;

// ---------------------------------------------------------------------------------------
// Values and configurations

/** The configuration with numeric and boolean strings read as values (env-like sources), enums as strings. */
function canonical(catalog: ParameterCatalog, config: Configuration): Configuration {
  let out: Configuration | undefined;
  for (const spec of catalog) {
    const value = config[spec.name];
    let read: ParamValue | undefined = value;
    if (spec.type === "enum") {
      if (value !== undefined && typeof value !== "string") read = String(value);
    } else if (typeof value === "string") {
      if (spec.type === "bool") read = value === "true" ? true : value === "false" ? false : value;
      else if (value.trim() !== "" && Number.isFinite(Number(value))) read = Number(value);
    }
    if (read !== value && read !== undefined) {
      out ??= { ...config };
      out[spec.name] = read;
    }
  }
  return out ?? config;
}

/** The value at unit coordinate u, floats kept to 3 significant digits (space.ts: roundFloat). */
function valueAt(spec: ParameterSpec, u: number): ParamValue {
  const value = decodeValue(spec, u);
  return spec.type === "float" ? Math.min(spec.max, Math.max(spec.min, roundFloat(value as number))) : value;
}

/** Every value of a discrete parameter; undefined for a float with a range or an int with too many. */
function discreteValues(spec: ParameterSpec): ParamValue[] | undefined {
  switch (spec.type) {
    case "bool":
      return [false, true];
    case "enum":
      return [...spec.values];
    case "int": {
      const lo = Math.ceil(spec.min);
      const hi = Math.floor(spec.max);
      return hi - lo + 1 <= ENUMERATE_LIMIT ? Array.from({ length: hi - lo + 1 }, (_, i) => lo + i) : undefined;
    }
    case "float":
      return spec.min === spec.max ? [spec.min] : undefined;
  }
}

/** The grid levels of a parameter: all values of a bool or enum, `levels` even steps of a numeric range. */
function gridLevels(spec: ParameterSpec, levels: number): ParamValue[] {
  if (spec.type === "bool" || spec.type === "enum") return discreteValues(spec)!;
  const out: ParamValue[] = [];
  for (let j = 0; j < levels; j++) {
    const value = valueAt(spec, levels > 1 ? j / (levels - 1) : 0.5);
    if (!out.some((v) => sameValue(v, value))) out.push(value);
  }
  return out;
}

/** All combinations of one value per list, the last list varying fastest. */
function product(lists: readonly (readonly ParamValue[])[]): ParamValue[][] {
  let rows: ParamValue[][] = [[]];
  for (const list of lists) rows = rows.flatMap((row) => list.map((v) => [...row, v]));
  return rows;
}

/** The moves of one parameter to its neighbouring values: a step either way, another enum value, the other bool. */
function moves(spec: ParameterSpec, value: ParamValue | undefined, rng: Rng): ParamValue[] {
  switch (spec.type) {
    case "bool":
      return [value !== true];
    case "enum":
      return spec.values.filter((v) => v !== value);
    case "int": {
      const lo = Math.ceil(spec.min);
      const hi = Math.floor(spec.max);
      const v = Math.min(hi, Math.max(lo, Math.round(Number(value))));
      const u = encodeValue(spec, v);
      const out: number[] = [];
      for (const dir of [-1, 1]) {
        let w = decodeValue(spec, u + dir * NEIGHBOUR_STEP) as number;
        // a step within the same integer's slice moves by one instead
        if (w === v) w = Math.min(hi, Math.max(lo, v + dir));
        if (w !== v && !out.includes(w)) out.push(w);
      }
      return out;
    }
    case "float": {
      const u = encodeValue(spec, value);
      const out: ParamValue[] = [];
      for (const dir of [-1, 1]) {
        const w = valueAt(spec, u + dir * Math.abs(gaussian(rng)) * NEIGHBOUR_STEP);
        if (!sameValue(w, value) && !out.some((o) => sameValue(o, w))) out.push(w);
      }
      return out;
    }
  }
}

/** A standard normal draw (Box–Muller). */
function gaussian(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

/** The first k of `items` after a seeded partial shuffle (in place). */
function sampleInPlace<T>(rng: Rng, items: T[], k: number): T[] {
  const m = Math.min(k, items.length);
  for (let i = 0; i < m; i++) {
    const j = i + randomInt(rng, items.length - i);
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
  return items.slice(0, m);
}

/** A measured configuration the strategies build on, best (lowest value) first. */
interface Incumbent {
  config: Configuration;
  value: number;
}

/**
 * The usable observations (encodable, with a numeric value): their feature rows and values
 * for the surrogate, and the distinct configurations best first (the better value of repeats).
 */
function measured(
  catalog: ParameterCatalog,
  encoder: FeatureEncoder,
  observations: readonly Observation[],
): { rows: number[][]; values: number[]; incumbents: Incumbent[] } {
  const usable = observations.filter((o) => Number.isFinite(o.value) && encoder.problem(o.config) === undefined);
  const byKey = new Map<string, Incumbent>();
  for (const o of usable) {
    const config = canonical(catalog, o.config);
    const key = configKey(catalog, config);
    const known = byKey.get(key);
    if (!known || o.value < known.value) byKey.set(key, { config, value: o.value });
  }
  return {
    rows: usable.map((o) => encoder.encode(o.config)),
    values: usable.map((o) => o.value),
    incumbents: [...byKey.values()].sort((a, b) => a.value - b.value),
  };
}

// ---------------------------------------------------------------------------------------
// The session: one proposal call's state and shared rules

/** A finite set to propose from: feasible, unmeasured, distinct configurations. */
interface Pool {
  configs: Configuration[];
  used: Uint8Array;
  /** encoded (rows) and normalised (points) features, computed when first needed */
  features?: { rows: number[][]; points: number[][] };
}

class Session {
  readonly catalog: ParameterCatalog;
  readonly encoder: FeatureEncoder;
  readonly rng: Rng;
  readonly chosen: Configuration[] = [];
  readonly pool: Pool | undefined;
  /** keys of the measured and the chosen configurations */
  private readonly taken: Set<string>;
  /** the constraints that rejected a configuration, for the error message */
  private readonly rejecting = new Set<Constraint>();
  private feasibleSeen = false;
  private checked = 0;

  constructor(
    readonly ctx: ProposeContext,
    readonly strategy: StrategyName,
    readonly n: number,
  ) {
    checkCatalog(ctx.catalog);
    this.catalog = ctx.catalog;
    this.encoder = featureEncoder(ctx.catalog);
    // the number of observations is part of the stream, so successive calls with one seed draw afresh
    this.rng = mulberry32(deriveSeed(ctx.seed, `strategy:${strategy}:${ctx.observations.length}`));
    this.taken = new Set([...ctx.observations.map((o) => o.config), ...(ctx.exclude ?? [])].map((config) => this.keyOf(config)));
    const finite = ctx.candidates ?? this.enumerate();
    this.pool = finite && this.buildPool(finite);
  }

  get done(): boolean {
    return this.chosen.length >= this.n;
  }

  keyOf(config: Configuration): string {
    return configKey(this.catalog, canonical(this.catalog, config));
  }

  /** Normalised features, for distances. */
  point(config: Configuration): number[] {
    return this.encoder.normalize(this.encoder.encode(config));
  }

  /** The constraints a configuration breaks. */
  private broken(config: Configuration): Constraint[] {
    this.checked++;
    const out = this.ctx.constraints.filter((c) => !c.holds(config));
    for (const c of out) this.rejecting.add(c);
    if (out.length === 0) this.feasibleSeen = true;
    return out;
  }

  satisfies(config: Configuration): boolean {
    return this.broken(config).length === 0;
  }

  /** Whether a configuration may still be proposed (open space). */
  isFresh(config: Configuration): boolean {
    return !this.taken.has(this.keyOf(config)) && this.satisfies(config);
  }

  /** The whole space as a list, when it is discrete and small. */
  private enumerate(): Configuration[] | undefined {
    const lists: ParamValue[][] = [];
    let size = 1;
    for (const spec of this.catalog) {
      const values = discreteValues(spec);
      size *= values?.length ?? Infinity;
      if (!values || size > ENUMERATE_LIMIT) return undefined;
      lists.push(values);
    }
    return product(lists).map((values) => this.withValues(values));
  }

  private buildPool(configs: readonly Configuration[]): Pool {
    const seen = new Set<string>();
    const kept: Configuration[] = [];
    for (const config of configs) {
      const key = this.keyOf(config);
      if (seen.has(key)) continue;
      seen.add(key);
      if (this.satisfies(config) && !this.taken.has(key)) kept.push(config);
    }
    return { configs: kept, used: new Uint8Array(kept.length) };
  }

  poolFeatures(): { rows: number[][]; points: number[][] } {
    const pool = this.pool!;
    if (!pool.features) {
      const rows = pool.configs.map((c) => this.encoder.encode(c));
      pool.features = { rows, points: rows.map((r) => this.encoder.normalize(r)) };
    }
    return pool.features;
  }

  freeIndices(): number[] {
    const free: number[] = [];
    this.pool!.used.forEach((u, i) => {
      if (u === 0) free.push(i);
    });
    return free;
  }

  /** The configuration of one value per catalog parameter, on top of the one in use (keeps anything else it sets). */
  withValues(values: readonly ParamValue[]): Configuration {
    const config = { ...this.ctx.current };
    this.catalog.forEach((spec, i) => {
      config[spec.name] = values[i]!;
    });
    return config;
  }

  fromUnit(unit: readonly number[]): Configuration {
    return this.withValues(this.catalog.map((spec, i) => valueAt(spec, unit[i]!)));
  }

  randomUnit(): number[] {
    return this.catalog.map(() => this.rng());
  }

  private take(config: Configuration, key: string): void {
    this.chosen.push(config);
    this.taken.add(key);
  }

  takeIndex(i: number): boolean {
    const pool = this.pool!;
    if (this.done || pool.used[i] === 1) return false;
    pool.used[i] = 1;
    const config = { ...pool.configs[i]! };
    this.take(config, this.keyOf(config));
    return true;
  }

  /** The configuration with the parameters of its broken constraints redrawn until it satisfies all, or undefined. */
  repair(config: Configuration): Configuration | undefined {
    let fixed = config;
    for (let attempt = 0; ; attempt++) {
      const broken = this.broken(fixed);
      if (broken.length === 0) return fixed;
      const names = new Set(broken.flatMap((c) => c.parameters));
      const specs = this.catalog.filter((spec) => names.has(spec.name));
      if (attempt === REPAIR_TRIES || specs.length === 0) return undefined;
      fixed = { ...fixed };
      for (const spec of specs) fixed[spec.name] = valueAt(spec, this.rng());
    }
  }

  /** Open space: takes the configuration (repaired first when asked) if it satisfies the constraints and is new. */
  offer(config: Configuration, repair = false): boolean {
    if (this.done) return false;
    const fixed = repair ? this.repair(config) : this.satisfies(config) ? config : undefined;
    if (!fixed) return false;
    const key = this.keyOf(fixed);
    if (this.taken.has(key)) return false;
    this.take(fixed, key);
    return true;
  }

  /** The unused pool member nearest a point, or -1. */
  nearestFree(target: readonly number[]): number {
    const { points } = this.poolFeatures();
    const used = this.pool!.used;
    let best = -1;
    let bestDistance = Infinity;
    for (let i = 0; i < points.length; i++) {
      if (used[i] === 1) continue;
      const d = squaredDistance(target, points[i]!);
      if (d < bestDistance) {
        bestDistance = d;
        best = i;
      }
    }
    return best;
  }

  /** Takes what a point of the unit cube stands for: the configuration there, or the nearest unused pool member. */
  realize(unit: readonly number[]): boolean {
    if (this.done) return false;
    const config = this.fromUnit(unit);
    if (!this.pool) return this.offer(config, true);
    const i = this.nearestFree(this.point(config));
    return i >= 0 && this.takeIndex(i);
  }

  /** Adds random proposals until there are `upTo` (default n); false when the space ran out first. */
  fillRandom(upTo = this.n): boolean {
    if (this.pool) {
      const free = this.freeIndices();
      for (let k = 0; k < free.length && this.chosen.length < upTo; k++) {
        const j = k + randomInt(this.rng, free.length - k);
        const pick = free[j]!;
        free[j] = free[k]!;
        this.takeIndex(pick);
      }
    } else {
      const draws = RANDOM_DRAWS_BASE + RANDOM_DRAWS_PER_PROPOSAL * Math.max(0, upTo - this.chosen.length);
      for (let k = 0; k < draws && this.chosen.length < upTo; k++) this.offer(this.fromUnit(this.randomUnit()), true);
    }
    return this.chosen.length >= upTo;
  }

  /** Normalised features of the measured configurations the catalog can encode. */
  observedPoints(): number[][] {
    return this.ctx.observations.filter((o) => this.encoder.problem(o.config) === undefined).map((o) => this.point(o.config));
  }

  /** The configurations one parameter away from a configuration (open space). */
  neighbours(config: Configuration): Configuration[] {
    return this.catalog.flatMap((spec) => moves(spec, config[spec.name], this.rng).map((v) => ({ ...config, [spec.name]: v })));
  }

  /** Pool members by distance from a configuration, nearest first (ties in seeded order). */
  poolByDistance(config: Configuration, from: readonly number[] = this.freeIndices()): number[] {
    const { points } = this.poolFeatures();
    const target = this.point(config);
    // shuffled first: the stable sort then breaks ties in seeded order
    return shuffleInPlace(this.rng, from.map((i) => ({ i, d: squaredDistance(target, points[i]!) })))
      .sort((a, b) => a.d - b.d)
      .map(({ i }) => i);
  }

  /** The proposals; a StrategyError when no configuration at all satisfied the constraints. */
  finish(): Configuration[] {
    if (!this.done && !this.feasibleSeen && this.rejecting.size > 0) {
      const sources = this.ctx.constraints.filter((c) => this.rejecting.has(c)).map((c) => JSON.stringify(c.source));
      throw new StrategyError(
        `${this.strategy}: no configuration satisfies the constraint${sources.length > 1 ? "s" : ""} ${sources.join(", ")} (${this.checked} configurations checked)`,
      );
    }
    return this.chosen;
  }
}

// ---------------------------------------------------------------------------------------
// The strategies

/** Uniform over the space, or over the candidates. */
function proposeRandom(ctx: ProposeContext, n: number): Configuration[] {
  const s = new Session(ctx, "random", n);
  s.fillRandom();
  return s.finish();
}

/**
 * A full-factorial grid (numeric parameters at a few even levels of their scale, every value
 * of enums and bools), visited farthest point first from what is measured and chosen so the
 * first proposals spread over the whole grid rather than walk it in lexicographic order.
 */
function proposeGrid(ctx: ProposeContext, n: number): Configuration[] {
  const s = new Session(ctx, "grid", n);
  // fewer levels the more parameters, so the grid's corners are reachable within a run
  const levels = s.catalog.map((spec) => gridLevels(spec, s.catalog.length <= 3 ? 5 : 3));
  const size = levels.reduce((p, l) => p * l.length, 1);
  const reference = s.observedPoints();

  // Takes a grid point (open space) or the pool member nearest it; the point taken, or undefined.
  const visit = (config: Configuration, point: number[]): number[] | undefined => {
    if (!s.pool) return s.offer(config) ? point : undefined;
    const i = s.nearestFree(point);
    return i >= 0 && s.takeIndex(i) ? s.poolFeatures().points[i] : undefined;
  };

  if (size <= GRID_EXACT_LIMIT) {
    const grid = shuffleInPlace(s.rng, product(levels)).map((values) => s.withValues(values));
    const points = grid.map((c) => s.point(c));
    const gap = points.map((p) => nearestSquaredDistance(p, reference));
    const visited = new Uint8Array(grid.length);
    while (!s.done) {
      let best = -1;
      for (let i = 0; i < grid.length; i++) if (visited[i] === 0 && (best < 0 || gap[i]! > gap[best]!)) best = i;
      if (best < 0) break;
      visited[best] = 1;
      const taken = visit(grid[best]!, points[best]!);
      if (taken) points.forEach((p, i) => (gap[i] = Math.min(gap[i]!, squaredDistance(p, taken))));
    }
  } else {
    for (let step = 0; step < 4 * n + 16 && !s.done; step++) {
      let best: { config: Configuration; point: number[]; gap: number } | undefined;
      for (let k = 0; k < GRID_SAMPLES; k++) {
        const config = s.withValues(levels.map((l) => l[randomInt(s.rng, l.length)]!));
        const point = s.point(config);
        const gap = nearestSquaredDistance(point, reference);
        if ((!best || gap > best.gap) && (s.pool || s.isFresh(config))) best = { config, point, gap };
      }
      const taken = best && visit(best.config, best.point);
      if (taken) reference.push(taken);
    }
  }
  s.fillRandom();
  return s.finish();
}

/** A maximin Latin hypercube (lhs.ts) of the missing proposals, redrawn for those that were rejected. */
function proposeLhs(ctx: ProposeContext, n: number): Configuration[] {
  const s = new Session(ctx, "lhs", n);
  const snap = (p: number[]): number[] => encodeUnit(s.catalog, decode(s.catalog, p));
  for (let round = 0; round < 4 && !s.done; round++) {
    for (const p of latinHypercubeUnit(s.catalog.length, n - s.chosen.length, s.rng, undefined, snap)) s.realize(p);
  }
  s.fillRandom();
  return s.finish();
}

/** Points of a seeded scrambled Halton sequence (halton.ts). */
function proposeHalton(ctx: ProposeContext, n: number): Configuration[] {
  const s = new Session(ctx, "halton", n);
  const next = scrambledHalton(s.catalog.length, s.rng);
  for (let k = 0; k < 4 * n + 64 && !s.done; k++) s.realize(next());
  s.fillRandom();
  return s.finish();
}

/**
 * Neighbours of the best observations, the best few incumbents taking turns: in the open
 * space one parameter moved by a step (in random order), then two; in a pool, the nearest
 * members. With nothing measured the configuration in use is the incumbent: it is what
 * runs, so its neighbourhood is where a change is cheapest to adopt (and, if it was never
 * measured itself, it comes first).
 */
function proposeHistory(ctx: ProposeContext, n: number): Configuration[] {
  const s = new Session(ctx, "history", n);
  const { incumbents } = measured(s.catalog, s.encoder, ctx.observations);
  const starts = incumbents.length > 0 ? incumbents.slice(0, HISTORY_INCUMBENTS).map((i) => i.config) : [canonical(s.catalog, ctx.current)];

  const queues: (() => boolean)[] = starts.map((start) => {
    if (s.pool) {
      const order = s.poolByDistance(start);
      let k = 0;
      return () => {
        while (k < order.length) if (s.takeIndex(order[k++]!)) return true;
        return false;
      };
    }
    const singles = shuffleInPlace(s.rng, s.neighbours(start));
    const doubles = s.catalog.length > 1 ? Array.from({ length: 2 * s.catalog.length }, () => twoMoves(s, start)) : [];
    const list = incumbents.length > 0 ? [...singles, ...doubles] : [start, ...singles, ...doubles];
    let k = 0;
    return () => {
      while (k < list.length) if (s.offer(list[k++]!)) return true;
      return false;
    };
  });
  let active = queues;
  while (!s.done && active.length > 0) active = active.filter((next) => next());
  s.fillRandom();
  return s.finish();
}

/** A configuration two parameters away (each moved as in `moves`), or the configuration itself when none move. */
function twoMoves(s: Session, config: Configuration): Configuration {
  const [a, b] = shuffleInPlace(s.rng, [...s.catalog]);
  const out = { ...config };
  for (const spec of [a, b]) {
    const options = spec ? moves(spec, config[spec.name], s.rng) : [];
    if (spec && options.length > 0) out[spec.name] = options[randomInt(s.rng, options.length)]!;
  }
  return out;
}

/** Scored candidates of the model-guided search. */
interface Field {
  /** a pool index, or a configuration of the open space */
  items: { index: number; config: Configuration; point: number[] }[];
  mean: number[];
  ei: number[];
}

/** The pool, scored: all of it when small, else a seeded sample plus the incumbents' nearest members. */
function poolField(s: Session, surrogate: Surrogate, incumbents: readonly Incumbent[]): Field {
  const free = s.freeIndices();
  let indices = free;
  if (free.length > MODEL_POOL_LIMIT) {
    const near = incumbents.slice(0, MODEL_CLIMBS_FROM_INCUMBENTS).flatMap((inc) => s.poolByDistance(inc.config, free).slice(0, MODEL_POOL_NEIGHBOURS));
    indices = [...new Set([...sampleInPlace(s.rng, [...free], MODEL_POOL_LIMIT), ...near])];
  }
  const { rows, points } = s.poolFeatures();
  const scores = surrogate.score(indices.map((i) => rows[i]!));
  return {
    items: indices.map((i) => ({ index: i, config: s.pool!.configs[i]!, point: points[i]! })),
    mean: Array.from(scores.mean),
    ei: Array.from(scores.ei),
  };
}

/**
 * The open space, scored: random points (repaired into the constraints), plus SMAC's local
 * search: from the best incumbents and the best random points, hill climbs that move to the
 * neighbour of highest expected improvement while it improves; every neighbour seen is scored.
 */
function openField(s: Session, surrogate: Surrogate, incumbents: readonly Incumbent[]): Field {
  const field: Field = { items: [], mean: [], ei: [] };
  const seen = new Set<string>();
  /** Scores the fresh, unseen configurations among `configs`; returns their positions in the field. */
  const add = (configs: readonly Configuration[]): number[] => {
    const fresh = configs.filter((c) => {
      const key = s.keyOf(c);
      if (seen.has(key)) return false;
      seen.add(key);
      return s.isFresh(c);
    });
    const rows = fresh.map((c) => s.encoder.encode(c));
    const scores = surrogate.score(rows);
    const first = field.items.length;
    fresh.forEach((config, k) => {
      field.items.push({ index: -1, config, point: s.encoder.normalize(rows[k]!) });
      field.mean.push(scores.mean[k]!);
      field.ei.push(scores.ei[k]!);
    });
    return fresh.map((_, k) => first + k);
  };

  const randomPoints: Configuration[] = [];
  for (let k = 0; k < MODEL_RANDOM_POINTS; k++) {
    const config = s.repair(s.fromUnit(s.randomUnit()));
    if (config) randomPoints.push(config);
  }
  const scoredRandom = add(randomPoints).sort((a, b) => field.ei[b]! - field.ei[a]!);

  // an incumbent was measured already, so it moves to its best neighbour whatever that scores
  let climbers = [
    ...incumbents.slice(0, MODEL_CLIMBS_FROM_INCUMBENTS).map((inc) => ({ config: inc.config, ei: -Infinity })),
    ...scoredRandom.slice(0, MODEL_CLIMBS_FROM_RANDOM).map((i) => ({ config: field.items[i]!.config, ei: field.ei[i]! })),
  ];
  for (let step = 0; step < MODEL_CLIMB_STEPS && climbers.length > 0; step++) {
    const batches = climbers.map((c) => s.neighbours(c.config));
    const positions = add(batches.flat());
    // a scored neighbour is credited to the climber whose neighbours list holds that very object
    const byConfig = new Map(positions.map((p) => [field.items[p]!.config, p]));
    climbers = climbers.flatMap((climber, c) => {
      let best = -1;
      for (const config of batches[c]!) {
        const p = byConfig.get(config);
        if (p !== undefined && (best < 0 || field.ei[p]! > field.ei[best]!)) best = p;
      }
      return best >= 0 && field.ei[best]! > climber.ei ? [{ config: field.items[best]!.config, ei: field.ei[best]! }] : [];
    });
  }
  return field;
}

/**
 * Model-guided search (SMAC): a random-forest surrogate on the observations, candidates
 * ranked by expected improvement; each pick keeps its distance from the batch's earlier
 * picks when it can (the radius halves when nothing is left outside it), and every
 * MODEL_RANDOM_EVERY-th trial (counting the measured ones) is random.
 */
function proposeModel(ctx: ProposeContext, n: number): Configuration[] {
  const s = new Session(ctx, "model", n);
  const { surrogate, incumbents } = modelOf(s.catalog, s.encoder, ctx);
  // Like SMAC's initial design: space-filling points until the forest has something to learn from.
  if (!surrogate) return proposeLhs(ctx, n);
  const field = s.pool ? poolField(s, surrogate, incumbents) : openField(s, surrogate, incumbents);

  // best expected improvement first, then lowest mean; shuffled first so the stable sort breaks ties in seeded order
  const order = shuffleInPlace(s.rng, field.items.map((_, i) => i)).sort((a, b) => field.ei[b]! - field.ei[a]! || field.mean[a]! - field.mean[b]!);
  const consumed = new Uint8Array(field.items.length);
  const gap = new Float64Array(field.items.length).fill(Infinity); // squared distance to the batch's picks
  const picked = (point: readonly number[]): void => {
    field.items.forEach((item, i) => (gap[i] = Math.min(gap[i]!, squaredDistance(item.point, point))));
  };
  const nextByEi = (): number => {
    for (let radius = MODEL_DIVERSITY_RADIUS; ; radius /= 2) {
      const floor = radius < 1e-3 ? 0 : radius * radius;
      for (const i of order) if (consumed[i] === 0 && gap[i]! >= floor) return i;
      if (floor === 0) return -1;
    }
  };

  for (let slot = 0; !s.done; slot++) {
    if ((ctx.observations.length + slot) % MODEL_RANDOM_EVERY === MODEL_RANDOM_EVERY - 1) {
      if (!s.fillRandom(s.chosen.length + 1)) break;
      picked(s.point(s.chosen[s.chosen.length - 1]!));
      continue;
    }
    const i = nextByEi();
    if (i < 0) break;
    consumed[i] = 1;
    const item = field.items[i]!;
    if (item.index >= 0 ? s.takeIndex(item.index) : s.offer(item.config)) picked(item.point);
  }
  s.fillRandom();
  return s.finish();
}

type Model = { surrogate?: Surrogate; incumbents: Incumbent[] };

/** The last fit per context: a batch proposes and then predicts its proposals with one context, so one fit serves both. */
const fitted = new WeakMap<ProposeContext, { observed: number; model: Model }>();

/** The surrogate of the observations, or none while fewer than MODEL_MIN_DISTINCT configurations were measured. */
function modelOf(catalog: ParameterCatalog, encoder: FeatureEncoder, ctx: ProposeContext): Model {
  const cached = fitted.get(ctx);
  if (cached && cached.observed === ctx.observations.length) return cached.model;
  const { rows, values, incumbents } = measured(catalog, encoder, ctx.observations);
  const model: Model =
    incumbents.length < MODEL_MIN_DISTINCT ? { incumbents } : { surrogate: fitSurrogate(rows, values, deriveSeed(ctx.seed, "model:surrogate")), incumbents };
  fitted.set(ctx, { observed: ctx.observations.length, model });
  return model;
}

/**
 * What the `model` strategy's surrogate predicts for configurations (mean and the trees'
 * sd; lower is better), from ctx.observations; undefined while there are too few
 * observations for it (where `model` proposes a Latin hypercube).
 */
export function predictObjective(ctx: ProposeContext, configs: readonly Configuration[]): { mean: number; sd: number }[] | undefined {
  checkCatalog(ctx.catalog);
  const encoder = featureEncoder(ctx.catalog);
  const { surrogate } = modelOf(ctx.catalog, encoder, ctx);
  if (!surrogate) return undefined;
  const { mean, sd } = surrogate.score(configs.map((c) => encoder.encode(c)));
  return configs.map((_, i) => ({ mean: mean[i]!, sd: sd[i]! }));
}

const PROPOSERS: Record<StrategyName, (ctx: ProposeContext, n: number) => Configuration[]> = {
  grid: proposeGrid,
  random: proposeRandom,
  lhs: proposeLhs,
  halton: proposeHalton,
  history: proposeHistory,
  model: proposeModel,
};

/** Every strategy, by name. */
export const STRATEGIES: Readonly<Record<StrategyName, Strategy>> = Object.fromEntries(
  STRATEGY_NAMES.map((name) => [
    name,
    {
      name,
      propose: (ctx: ProposeContext, n: number) => (n >= 1 ? PROPOSERS[name](ctx, Math.floor(n)) : []),
    },
  ]),
) as Record<StrategyName, Strategy>;

/** The strategy of a name; a StrategyError for an unknown one. */
export function strategyFor(name: string): Strategy {
  if (!(STRATEGY_NAMES as readonly string[]).includes(name)) {
    throw new StrategyError(`unknown strategy ${JSON.stringify(name)} (expected one of ${STRATEGY_NAMES.join(", ")})`);
  }
  return STRATEGIES[name as StrategyName];
}
