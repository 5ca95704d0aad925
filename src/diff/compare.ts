/**
 * Response correctness beside the performance verdict, in the spirit of Twitter's Diffy: every
 * sampled request went to three shadows at once — base A, base B (a second instance of the base
 * build) and head. Pure code.
 *
 * For each route and each field (paths from flatten.ts, array indices grouped: `items[].price`),
 * per request:
 * - noise: base A and base B disagree (timestamps, generated ids, random values);
 * - difference: the bases agree and head does not.
 * A difference is reported when it stands out of the noise (see `stands`). Type changes
 * (string → number, present → missing) and status codes are judged on their own noise, so a
 * field whose *value* is noisy still reports a change of *type*, and a status change is never
 * hidden by noisy bodies. Fields are compared only on requests where all three answered with
 * the same status: when head's status differs, that is the difference to report, not every
 * field of its error page.
 */
import { truncate } from "../report/format.js";
import { displayValue, fieldType, flattenBody, parentPath, templatePath, ROOT, TEXT_BODY, OBJECT, type FieldType, type Flat, type FlatValue } from "./flatten.js";

/** What one shadow answered to one request: the response, or why there was none. */
export type Captured = { status: number; headers: Record<string, string>; body: string } | { error: string };

/** One request and the three answers to it. */
export interface DiffSample {
  /** route template, e.g. "GET /items/{id}" */
  route: string;
  /** for display: "GET /items/3?expand=1" */
  request: string;
  baseA: Captured;
  baseB: Captured;
  head: Captured;
}

export interface DiffOptions {
  /**
   * a difference is reported only when (differences − noise) / requests exceeds this.
   * Default 0.05: at 10 requests per route it asks for one more differing request than noisy
   * ones; on larger samples it ignores changes seen in under 5% of requests beyond the noise
   * (a rarely noisy field the sample happened not to catch disagreeing).
   */
  absoluteThreshold?: number;
  /**
   * … and when differences > this × noise. Default 2. Counted as here (a difference only where
   * the bases agree), a field that is merely noisy — head's value drawn like the bases' — has
   * at most half as many differences as noisy requests in expectation (see `stands`), so 2
   * leaves a margin of four.
   */
  relativeThreshold?: number;
}

export const DEFAULT_ABSOLUTE_THRESHOLD = 0.05;
export const DEFAULT_RELATIVE_THRESHOLD = 2;

/** Example values, requests and paths are cut to this many characters. */
export const EXAMPLE_CHARS = 80;

/** The pseudo-field of the response's content type (a path flattenJson cannot produce). */
export const CONTENT_TYPE_FIELD = "headers.content-type";

export interface DiffExample {
  request: string;
  /** the concrete path (`items[2].price`); absent for the status */
  path?: string;
  base: string;
  head: string;
}

export interface StatusDiff {
  /** share of the route's requests where base A and base B answered differently */
  noiseRate: number;
  /** share where the bases agreed and head did not */
  diffRate: number;
  reported: boolean;
  /** the first request where head differed from agreeing bases */
  example?: DiffExample;
}

export interface FieldDiff {
  /** template path, `items[].price` */
  path: string;
  /** "type": the field changed type (or appeared / disappeared); "value": same type, other value */
  kind: "value" | "type";
  /** share of the compared requests where the bases agreed and head differed */
  diffRate: number;
  /** share where base A and base B disagreed */
  noiseRate: number;
  /** for kind "type": the bases' type and head's, in the example */
  types?: { base: FieldType; head: FieldType };
  example: DiffExample;
}

export interface IgnoredField {
  path: string;
  diffRate: number;
  noiseRate: number;
  /** "noise": the bases disagree on it; "threshold": head differs, too rarely to report */
  reason: "noise" | "threshold";
}

export interface RouteDiff {
  route: string;
  /** sampled requests of this route */
  requests: number;
  /** requests whose fields were compared: all three answered, with the same status */
  compared: number;
  status: StatusDiff;
  /** reported differences, most frequent first */
  fields: FieldDiff[];
  /** fields that differed somewhere but were not reported, by path */
  ignored: IgnoredField[];
}

export interface DiffReport {
  routes: RouteDiff[];
  /** sampled requests, all routes */
  requests: number;
  /** reported differences: fields plus status codes */
  differences: number;
  /** distinct field paths ignored as noise on some route */
  noisyFields: number;
  verdict: "same" | "different";
  thresholds: { absolute: number; relative: number };
}

/** Compare the three answers of every sample, route by route. */
export function collectDiff(samples: readonly DiffSample[], options: DiffOptions = {}): DiffReport {
  const thresholds = {
    absolute: options.absoluteThreshold ?? DEFAULT_ABSOLUTE_THRESHOLD,
    relative: options.relativeThreshold ?? DEFAULT_RELATIVE_THRESHOLD,
  };
  for (const [name, value] of Object.entries(thresholds)) {
    if (!(Number.isFinite(value) && value >= 0)) throw new Error(`diff: ${name}Threshold: expected a number ≥ 0, got ${value}`);
  }
  const byRoute = new Map<string, DiffSample[]>();
  for (const sample of samples) {
    const list = byRoute.get(sample.route);
    if (list) list.push(sample);
    else byRoute.set(sample.route, [sample]);
  }
  const routes = [...byRoute.keys()].sort().map((route) => compareRoute(route, byRoute.get(route) as DiffSample[], thresholds));
  const differences = routes.reduce((sum, r) => sum + r.fields.length + (r.status.reported ? 1 : 0), 0);
  const noisy = new Set(routes.flatMap((r) => r.ignored.filter((f) => f.reason === "noise").map((f) => f.path)));
  return {
    routes,
    requests: samples.length,
    differences,
    noisyFields: noisy.size,
    verdict: differences > 0 ? "different" : "same",
    thresholds,
  };
}

/**
 * Whether `diffs` differences stand out of `noise` noisy requests among `total`: Diffy's rule
 * (more differences than noise, relative and absolute excess), on rates.
 *
 * Why the relative threshold can be modest: if head's value is drawn like the bases' (value x
 * with probability p_x), P(noise) = Σ p_x(1 − p_x) and P(difference) = Σ p_x²(1 − p_x), a
 * p(1 − p)-weighted mean of p_x times P(noise). It is at most ½ P(noise): only one p_x can
 * exceed ½, and the mass 1 − p_max of the others, however split, weighs at least as much below ½
 * as p_max does above. So a noisy field differs about half as often as it is noisy, at most.
 */
export function stands(diffs: number, noise: number, total: number, thresholds: { absolute: number; relative: number }): boolean {
  if (diffs === 0 || total === 0) return false;
  return diffs > noise && (diffs - noise) / total > thresholds.absolute && diffs > thresholds.relative * noise;
}

interface Tally {
  noise: number;
  diffs: number;
  typeNoise: number;
  typeDiffs: number;
  example?: DiffExample;
  typeExample?: { example: DiffExample; base: FieldType; head: FieldType };
}

/** The pseudo-fields outside the JSON document: always compared, whatever the document's shape. */
const TOP_LEVEL = new Set([ROOT, TEXT_BODY, CONTENT_TYPE_FIELD]);

function compareRoute(route: string, samples: DiffSample[], thresholds: { absolute: number; relative: number }): RouteDiff {
  const status = { noise: 0, diffs: 0, example: undefined as DiffExample | undefined };
  const tallies = new Map<string, Tally>();
  let compared = 0;
  for (const sample of samples) {
    const [a, b, h] = [statusOf(sample.baseA), statusOf(sample.baseB), statusOf(sample.head)];
    if (a !== b) status.noise++;
    else if (h !== a) {
      status.diffs++;
      status.example ??= { request: cut(sample.request), base: cut(describeStatus(sample.baseA)), head: cut(describeStatus(sample.head)) };
    }
    if ("error" in sample.baseA || "error" in sample.baseB || "error" in sample.head || a !== b || a !== h) continue;
    compared++;
    compareFields(sample.request, flatten(sample.baseA), flatten(sample.baseB), flatten(sample.head), tallies);
  }

  const fields: FieldDiff[] = [];
  const ignored: IgnoredField[] = [];
  const rate = (count: number, total: number) => (total === 0 ? 0 : count / total);
  for (const [path, t] of tallies) {
    if (t.typeExample && stands(t.typeDiffs, t.typeNoise, compared, thresholds)) {
      const { example, base, head } = t.typeExample;
      fields.push({ path, kind: "type", diffRate: rate(t.typeDiffs, compared), noiseRate: rate(t.typeNoise, compared), types: { base, head }, example });
    } else if (t.example && stands(t.diffs, t.noise, compared, thresholds)) {
      fields.push({ path, kind: "value", diffRate: rate(t.diffs, compared), noiseRate: rate(t.noise, compared), example: t.example });
    } else {
      ignored.push({ path, diffRate: rate(t.diffs, compared), noiseRate: rate(t.noise, compared), reason: t.noise > 0 ? "noise" : "threshold" });
    }
  }
  fields.sort((x, y) => y.diffRate - x.diffRate || compareText(x.path, y.path));
  ignored.sort((x, y) => compareText(x.path, y.path));

  const statusDiff: StatusDiff = {
    noiseRate: rate(status.noise, samples.length),
    diffRate: rate(status.diffs, samples.length),
    reported: stands(status.diffs, status.noise, samples.length, thresholds),
  };
  if (status.example) statusDiff.example = status.example;
  return { route, requests: samples.length, compared, status: statusDiff, fields, ignored };
}

/** Tally one request's three flattened answers into `tallies` (one count per template path). */
function compareFields(request: string, a: Flat, b: Flat, h: Flat, tallies: Map<string, Tally>): void {
  const seen = new Map<string, { noise: boolean; diff: boolean; typeNoise: boolean; typeDiff: boolean }>();
  const paths = new Set([...a.keys(), ...b.keys(), ...h.keys()]);
  for (const path of paths) {
    const va = a.get(path);
    const vb = b.get(path);
    const vh = h.get(path);
    if (va === vb && vb === vh) continue;
    const parent = TOP_LEVEL.has(path) ? undefined : (parentPath(path) ?? ROOT);
    const noise = differs(va, vb, parent, a, b);
    const diff = va === vb && differs(va, vh, parent, a, h);
    // Types are judged on their own: a field whose value is noisy (a timestamp) still reports
    // a change of type when both bases agree on the type and head does not.
    const [ta, tb, th] = [fieldType(va), fieldType(vb), fieldType(vh)];
    const typeNoise = ta !== tb && differs(va, vb, parent, a, b);
    const typeDiff = ta === tb && th !== ta && differs(va, vh, parent, a, h);
    if (!noise && !diff && !typeNoise && !typeDiff) continue;

    const template = templatePath(path);
    const flags = seen.get(template) ?? { noise: false, diff: false, typeNoise: false, typeDiff: false };
    seen.set(template, { noise: flags.noise || noise, diff: flags.diff || diff, typeNoise: flags.typeNoise || typeNoise, typeDiff: flags.typeDiff || typeDiff });
    const tally = tallyFor(tallies, template);
    if (diff && !tally.example) tally.example = example(request, path, va, vh);
    if (typeDiff && !tally.typeExample) tally.typeExample = { example: example(request, path, va, vh), base: ta, head: th };
  }
  for (const [template, flags] of seen) {
    const tally = tallyFor(tallies, template);
    if (flags.noise) tally.noise++;
    if (flags.diff) tally.diffs++;
    if (flags.typeNoise) tally.typeNoise++;
    if (flags.typeDiff) tally.typeDiffs++;
  }
}

/**
 * Whether two answers differ at `path`. A field present in one and absent in the other counts
 * only when its container is an object in both: an element beyond the end of an array is the
 * array's `length` difference, and the fields under a container that changed type or vanished
 * are that container's difference — each change is reported once, where it happens.
 */
function differs(x: FlatValue | undefined, y: FlatValue | undefined, parent: string | undefined, fx: Flat, fy: Flat): boolean {
  if (x === y) return false;
  if (x !== undefined && y !== undefined) return true;
  return parent === undefined || (fx.get(parent) === OBJECT && fy.get(parent) === OBJECT);
}

function tallyFor(tallies: Map<string, Tally>, template: string): Tally {
  let tally = tallies.get(template);
  if (!tally) {
    tally = { noise: 0, diffs: 0, typeNoise: 0, typeDiffs: 0 };
    tallies.set(template, tally);
  }
  return tally;
}

function flatten(captured: Captured): Flat {
  if ("error" in captured) return new Map();
  const contentType = captured.headers["content-type"];
  const flat = flattenBody(captured.body, contentType);
  if (contentType !== undefined) flat.set(CONTENT_TYPE_FIELD, normaliseMediaType(contentType));
  return flat;
}

/** `Application/JSON; charset="UTF-8"` and `application/json;charset=utf-8` are the same type. */
function normaliseMediaType(value: string): string {
  return value
    .split(";")
    .map((part) => part.trim().toLowerCase().replace(/\s*=\s*/, "=").replace(/="([^"]*)"$/, "=$1"))
    .filter((part) => part !== "")
    .join("; ");
}

function statusOf(captured: Captured): number | "error" {
  return "error" in captured ? "error" : captured.status;
}

function describeStatus(captured: Captured): string {
  return "error" in captured ? `error: ${captured.error}` : String(captured.status);
}

function example(request: string, path: string, base: FlatValue | undefined, head: FlatValue | undefined): DiffExample {
  return { request: cut(request), path: cut(path), base: cut(displayValue(base)), head: cut(displayValue(head)) };
}

function cut(text: string): string {
  return truncate(text, EXAMPLE_CHARS);
}

function compareText(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}
