/**
 * A representative sample of recorded traffic, in one pass over input of any length.
 *
 * Strata are routes ("GET /orders/{id}", see routes.ts). Allocation is proportional to each
 * route's recorded count, with a floor per route (min(floor, recorded)) so rare routes survive;
 * each kept request carries `route` and `weight` = recorded / sampled of its route, so weighted
 * statistics describe the recorded mix again (Σ weight = recorded total).
 *
 * How one pass with bounded memory can serve an allocation only known at the end: every
 * request gets a seeded uniform key, and a uniform k-subset of a stratum is its k smallest
 * keys (bottom-k sampling: the priority form of reservoir sampling, equivalent to Algorithm R's
 * uniform k-subset). Bottom-k sets nest — the j smallest of the k smallest are the j smallest —
 * so two reservoirs suffice: the 2·size smallest keys overall (any route's proportional quota,
 * at most size·recorded/total, is met with room to spare) and, per route, its `floor` smallest
 * keys. A route's candidates are the union of both, a prefix of its key order, and it keeps
 * the first `quota` of them. Should a route's quota ever exceed its candidates (the global
 * reservoir holds about twice the quota, so only by a rare draw), it keeps what it has and the
 * rest of the budget goes to the others: the total stays `size`.
 *
 * Route inference needs paths before the strata exist: the first `inferWindow` requests
 * (default 20,000) are held, the templater is built from them, and they join the reservoirs;
 * after that the templater keeps routing (and learning, bounded: see RouteTemplater) as the
 * traffic streams by. At the end, routes it learned and later found to be parameter values
 * settle into `{param}` (RouteTemplater.settle) and their strata merge — exactly, since the
 * floor smallest keys of a union are among its members' floor smallest. Memory is therefore
 * at most inferWindow requests during the first pass, then 2·size + floor·routes, routes
 * counting those learned before they settle (at most minDistinct per parent);
 * `peakHeld` reports it.
 *
 * A fraction of the input instead of a size (`fraction`) is decided at the end, from the
 * count read: max(1, round(fraction · read)), capped at `maxSize` (default 100,000,
 * MAX_SAMPLE). The global reservoir then holds the 2·maxSize smallest keys, which contain
 * the 2·size smallest whatever the size turns out to be: the sample is the one that `size`
 * would have drawn (except that a route whose quota would have exceeded its candidates, the
 * rare draw above, now has enough); memory is bounded by maxSize instead of size.
 */
import type { ReplayRequest } from "../core/ports.js";
import { mulberry32 } from "../search/random.js";
import { TrafficError } from "./har.js";
import { RouteTemplater, type OpenApiRoutes } from "./routes.js";

/** Requests held for route inference before streaming, by default. */
export const INFER_WINDOW = 20_000;

/** The most requests a `fraction` keeps, by default: a fraction of a recording of any length needs a bound. */
export const MAX_SAMPLE = 100_000;

export interface SampleOptions {
  /** requests to keep in total (more when the floors alone exceed it); or give `fraction` */
  size?: number;
  /**
   * instead of `size`: keep this fraction (0 < fraction ≤ 1) of the requests read,
   * max(1, round(fraction · read)) decided at the end, but at most `maxSize`
   */
  fraction?: number;
  /** with `fraction`: the most requests kept (memory holds up to 2·maxSize); default MAX_SAMPLE (100,000) */
  maxSize?: number;
  /** requests kept per route at least (all of them when the route has fewer) */
  floor: number;
  /** the seed of the sampling keys: same seed and input → same sample */
  seed: number;
  /** a ready templater (it learns as it routes, see RouteTemplater), or "infer" (default): build one from the first `inferWindow` requests */
  templater?: RouteTemplater | "infer";
  /** OpenAPI templates that win over inference (with "infer" only) */
  openApi?: OpenApiRoutes;
  /** requests held to infer routes from; default 20,000 */
  inferWindow?: number;
}

export interface StratumSummary {
  route: string;
  recorded: number;
  sampled: number;
  /** recorded / sampled: how many recorded requests each sampled one stands for (0 when none sampled) */
  weight: number;
}

export interface SampleResult {
  /** the sample, each with `route` and `weight`, in recorded time order */
  requests: ReplayRequest[];
  /** requests read */
  recorded: number;
  /** per route, most recorded first */
  strata: StratumSummary[];
  /** the recorded pace over all recorded requests, requests/s (see `recordedPace`) */
  recordedRate: number | undefined;
  /** the most requests held at once (inference window + reservoirs): the memory bound in practice */
  peakHeld: number;
}

interface Held {
  request: ReplayRequest;
  key: number;
  index: number;
  stratum: Stratum;
  inGlobal: boolean;
  inFloor: boolean;
}

interface Stratum {
  route: string;
  recorded: number;
  floor: BottomK;
}

const before = (a: Held, b: Held): boolean => a.key < b.key || (a.key === b.key && a.index < b.index);

/** The `capacity` items with the smallest (key, index) offered so far: a max-heap. */
class BottomK {
  readonly items: Held[] = [];
  constructor(readonly capacity: number) {}

  /** whether an item with this key and index would be kept */
  admits(key: number, index: number): boolean {
    if (this.items.length < this.capacity) return true;
    if (this.capacity === 0) return false;
    const top = this.items[0]!;
    return key < top.key || (key === top.key && index < top.index);
  }

  /** Offers an item: returns the one that leaves (the evicted, or `item` itself when refused), if any. */
  offer(item: Held): Held | undefined {
    const items = this.items;
    if (items.length < this.capacity) {
      items.push(item);
      this.up(items.length - 1);
      return undefined;
    }
    if (this.capacity === 0 || !before(item, items[0]!)) return item;
    const evicted = items[0]!;
    items[0] = item;
    this.down(0);
    return evicted;
  }

  private up(i: number): void {
    const items = this.items;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[parent]!, items[i]!)) break;
      [items[parent], items[i]] = [items[i]!, items[parent]!];
      i = parent;
    }
  }

  private down(i: number): void {
    const items = this.items;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let largest = i;
      if (left < items.length && before(items[largest]!, items[left]!)) largest = left;
      if (right < items.length && before(items[largest]!, items[right]!)) largest = right;
      if (largest === i) return;
      [items[largest], items[i]] = [items[i]!, items[largest]!];
      i = largest;
    }
  }
}

function checkOptions(options: SampleOptions): void {
  const integer = (name: string, value: unknown, min: number): void => {
    if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
      throw new RangeError(`sampleTraffic: ${name}: expected ${min === 0 ? "a non-negative" : "a positive"} integer, got ${String(value)}`);
    }
  };
  if (options.fraction !== undefined) {
    if (options.size !== undefined) throw new RangeError("sampleTraffic: expected size or fraction, got both");
    if (typeof options.fraction !== "number" || !(options.fraction > 0 && options.fraction <= 1)) {
      throw new RangeError(`sampleTraffic: fraction: expected a number above 0 and at most 1, got ${String(options.fraction)}`);
    }
    if (options.maxSize !== undefined) integer("maxSize", options.maxSize, 1);
  } else integer("size", options.size, 1);
  integer("floor", options.floor, 0);
  if (typeof options.seed !== "number" || !Number.isFinite(options.seed)) throw new RangeError(`sampleTraffic: seed: expected a number, got ${String(options.seed)}`);
  if (options.inferWindow !== undefined) integer("inferWindow", options.inferWindow, 1);
  if (options.templater instanceof RouteTemplater && options.openApi !== undefined) {
    throw new RangeError("sampleTraffic: openApi applies to an inferred templater; give it to the RouteTemplater instead");
  }
}

/** Samples recorded traffic by route in one pass (see the module comment). */
export async function sampleTraffic(requests: Iterable<ReplayRequest> | AsyncIterable<ReplayRequest>, options: SampleOptions): Promise<SampleResult> {
  checkOptions(options);
  const { fraction, floor } = options;
  const maxSize = options.maxSize ?? MAX_SAMPLE;
  const window = options.inferWindow ?? INFER_WINDOW;
  const rng = mulberry32(options.seed);
  const pace = new PaceMeter();
  // a fraction's size is known at the end only: room for the largest it may be
  const global = new BottomK(2 * (fraction === undefined ? options.size! : maxSize));
  const strata = new Map<string, Stratum>();
  let templater = options.templater instanceof RouteTemplater ? options.templater : undefined;
  let pending: { request: ReplayRequest; key: number; index: number }[] = [];
  let index = 0;
  let held = 0;
  let peakHeld = 0;

  const admit = (request: ReplayRequest, key: number, i: number, route: string): void => {
    let stratum = strata.get(route);
    if (stratum === undefined) strata.set(route, (stratum = { route, recorded: 0, floor: new BottomK(floor) }));
    stratum.recorded++;
    // most requests of a long recording are refused by both reservoirs: decide before allocating
    if (!global.admits(key, i) && !stratum.floor.admits(key, i)) return;
    const item: Held = { request, key, index: i, stratum, inGlobal: false, inFloor: false };
    const outOfGlobal = global.offer(item);
    if (outOfGlobal !== item) {
      item.inGlobal = true;
      if (outOfGlobal !== undefined) {
        outOfGlobal.inGlobal = false;
        if (!outOfGlobal.inFloor) held--;
      }
    }
    const outOfFloor = stratum.floor.offer(item);
    if (outOfFloor !== item) {
      item.inFloor = true;
      if (outOfFloor !== undefined) {
        outOfFloor.inFloor = false;
        if (!outOfFloor.inGlobal) held--;
      }
    }
    if (item.inGlobal || item.inFloor) held++;
    if (held + pending.length > peakHeld) peakHeld = held + pending.length;
  };

  const flush = (): void => {
    templater = new RouteTemplater(
      pending.map((p) => p.request.path),
      options.openApi !== undefined ? { openApi: options.openApi } : {},
    );
    for (const p of pending) admit(p.request, p.key, p.index, templater.route(p.request.method, p.request.path));
    pending = [];
  };

  const step = (request: ReplayRequest): void => {
    pace.add(request.at);
    const key = rng();
    const i = index++;
    if (templater !== undefined) {
      admit(request, key, i, templater.route(request.method, request.path));
      return;
    }
    pending.push({ request, key, index: i });
    if (pending.length > peakHeld) peakHeld = pending.length;
    if (pending.length >= window) flush();
  };

  if (typeof (requests as AsyncIterable<ReplayRequest>)[Symbol.asyncIterator] === "function") {
    for await (const request of requests as AsyncIterable<ReplayRequest>) step(request);
  } else {
    for (const request of requests as Iterable<ReplayRequest>) step(request);
  }
  if (templater === undefined) flush();

  // routes learned on the way settle (see RouteTemplater.settle); strata that settle into one
  // merge, exactly: the floor smallest keys of a union are among the members' floor smallest
  const settled = new Map<string, Stratum>();
  const into = new Map<Stratum, Stratum>();
  for (const s of strata.values()) {
    const route = templater!.settle(s.route);
    let target = settled.get(route);
    if (target === undefined) settled.set(route, (target = { route, recorded: 0, floor: new BottomK(floor) }));
    target.recorded += s.recorded;
    into.set(s, target);
  }
  for (const s of strata.values()) for (const item of s.floor.items) into.get(s)!.floor.offer(item);

  // each route's candidates: a prefix of its key order (see the module comment)
  const list = [...settled.values()].sort((a, b) => b.recorded - a.recorded || (a.route < b.route ? -1 : a.route > b.route ? 1 : 0));
  const candidates = new Map<Stratum, Held[]>(list.map((s) => [s, []]));
  for (const item of global.items) candidates.get(into.get(item.stratum)!)!.push(item);
  for (const s of list) for (const item of s.floor.items) if (!item.inGlobal) candidates.get(s)!.push(item);
  for (const items of candidates.values()) items.sort((a, b) => (before(a, b) ? -1 : 1));

  const size = fraction === undefined ? options.size! : Math.min(maxSize, Math.max(1, Math.round(fraction * index)));
  const quotas = allocate(
    list.map((s) => ({ recorded: s.recorded, available: candidates.get(s)!.length })),
    size,
    floor,
  );
  const kept: { request: ReplayRequest; index: number }[] = [];
  const summaries: StratumSummary[] = list.map((s, i) => {
    const sampled = quotas[i]!;
    const weight = sampled > 0 ? s.recorded / sampled : 0;
    for (const item of candidates.get(s)!.slice(0, sampled)) kept.push({ request: { ...item.request, route: s.route, weight }, index: item.index });
    return { route: s.route, recorded: s.recorded, sampled, weight };
  });
  // replay keeps the recorded interleaving: by time when every kept request has one, else as read
  const timed = kept.every((k) => typeof k.request.at === "number" && Number.isFinite(k.request.at));
  kept.sort(timed ? (a, b) => a.request.at! - b.request.at! || a.index - b.index : (a, b) => a.index - b.index);
  return { requests: kept.map((k) => k.request), recorded: index, strata: summaries, recordedRate: pace.rate(), peakHeld };
}

/**
 * Requests per stratum: proportional to `recorded`, at least min(floor, recorded), at most
 * `available` (default: recorded), summing to `size` (or to the floors when they alone exceed
 * it, or to everything when there is less than `size`). Water-filling: strata whose quota
 * falls under their floor get the floor and leave the proportional split; then strata whose
 * quota exceeds what they have get that; the rest split what is left, rounded by largest
 * remainder (ties: more recorded first, then list order).
 */
export function allocate(strata: readonly { recorded: number; available?: number }[], size: number, floor: number): number[] {
  const cap = strata.map((s) => Math.min(s.recorded, s.available ?? s.recorded));
  const total = strata.reduce((sum, s) => sum + s.recorded, 0);
  if (total <= size) return cap;
  const low = cap.map((c) => Math.min(floor, c));
  const fixed: (number | undefined)[] = strata.map(() => undefined);
  const quotas = (): number[] => {
    let budget = size;
    let free = 0;
    strata.forEach((s, i) => (fixed[i] !== undefined ? (budget -= fixed[i]) : (free += s.recorded)));
    return strata.map((s, i) => (fixed[i] !== undefined || free === 0 ? 0 : (budget * s.recorded) / free));
  };
  for (const pass of ["floor", "cap"] as const) {
    for (let changed = true; changed; ) {
      changed = false;
      const q = quotas();
      strata.forEach((_, i) => {
        if (fixed[i] !== undefined) return;
        if (pass === "floor" ? q[i]! < low[i]! : q[i]! > cap[i]!) {
          fixed[i] = pass === "floor" ? low[i]! : cap[i]!;
          changed = true;
        }
      });
    }
  }
  const q = quotas();
  const out = strata.map((_, i) => fixed[i] ?? Math.min(cap[i]!, Math.floor(q[i]!)));
  let left = size - out.reduce((a, b) => a + b, 0);
  const order = strata
    .map((s, i) => ({ i, remainder: fixed[i] !== undefined ? -1 : q[i]! - Math.floor(q[i]!), recorded: s.recorded }))
    .filter((o) => fixed[o.i] === undefined)
    .sort((a, b) => b.remainder - a.remainder || b.recorded - a.recorded || a.i - b.i);
  while (left > 0) {
    let gave = false;
    for (const { i } of order) {
      if (left === 0) break;
      if (out[i]! < cap[i]!) {
        out[i]!++;
        left--;
        gave = true;
      }
    }
    if (!gave) break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Pace

/** Counts timed requests and their span. */
class PaceMeter {
  private count = 0;
  private first = Infinity;
  private last = -Infinity;

  add(at: number | undefined): void {
    if (typeof at !== "number" || !Number.isFinite(at)) return;
    this.count++;
    if (at < this.first) this.first = at;
    if (at > this.last) this.last = at;
  }

  rate(): number | undefined {
    const span = (this.last - this.first) / 1000;
    return this.count >= 2 && span > 0 ? (this.count - 1) / span : undefined;
  }
}

/**
 * The recorded rate in requests/s: (timed requests − 1) / (last − first `at`), the rate at
 * which the recording's own requests arrived. Undefined when fewer than two requests have a
 * time or they all share one instant. Requests without a time are left out of the count.
 * Give it the recorded traffic, not a sample (`SampleResult.recordedRate` is this, computed
 * over everything `sampleTraffic` read).
 */
export function recordedPace(requests: Iterable<ReplayRequest>): number | undefined {
  const meter = new PaceMeter();
  for (const request of requests) meter.add(request.at);
  return meter.rate();
}

/** The load generator refuses request rates below 1/s (autocannon's overallRate). */
export const MIN_RATE = 1;

/**
 * The request rate for the open model: recorded pace × multiplier, requests/s. Throws when the
 * recording has no pace (no timestamps) or the result is below `MIN_RATE`.
 */
export function paceRate(recordedRate: number | undefined, multiplier: number): number {
  if (!(multiplier > 0) || !Number.isFinite(multiplier)) throw new RangeError(`paceRate: multiplier: expected a number above 0, got ${multiplier}`);
  if (recordedRate === undefined || !(recordedRate > 0) || !Number.isFinite(recordedRate)) {
    throw new TrafficError("pace: the recorded traffic has no recorded pace (fewer than two requests with a time, or all at one instant); use pace: closed");
  }
  const rate = recordedRate * multiplier;
  if (rate < MIN_RATE) {
    throw new TrafficError(`pace: ${multiplier}x the recorded pace of ${recordedRate.toPrecision(3)} requests/s is ${rate.toPrecision(3)} requests/s, below the load generator's minimum of ${MIN_RATE}/s; use a larger multiple or pace: closed`);
  }
  return rate;
}
