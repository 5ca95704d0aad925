/**
 * Mock routes for external APIs, built from the calls the workload made while it was recorded.
 * Pure: no I/O. `server.ts` puts a `MockMatcher` behind a loopback HTTP server.
 *
 * Matching rules (one route = one distinct recorded call; its repeats form a response sequence):
 * - method and path (without the query) must be equal; headers are never matched (tokens,
 *   trace ids and user agents differ between the recording and a replay);
 * - query: the recorded parameters, as a multiset of decoded name=value pairs, must all be in the
 *   live request; extra live parameters are tolerated (cache busters, tracing, new optional
 *   parameters) and the most specific route wins, so they cost nothing when a closer route exists;
 * - body: a recorded JSON object or array body is flattened to fields (`a.b.c`; arrays and scalars
 *   are leaf values compared as canonical JSON, so key order and whitespace do not matter) and the
 *   recorded fields must be a subset of the live body's; a form-urlencoded body is matched like a
 *   query; any other recorded body must equal the live body exactly; an empty recorded body
 *   matches any live body;
 * - among matching routes the most specific wins: the most query pairs plus body fields matched,
 *   then the first recorded;
 * - repeats of a route are replayed in recorded order and then cycle from the first again.
 *   Cycling, rather than repeating the last response, keeps the recorded mix of statuses, bodies
 *   and latencies when a load test calls the API far more often than the recording did; a
 *   recording that ends on an error or a slow call would otherwise turn the whole run into that.
 */
import type { RecordedResponse, ReplayRequest } from "../core/ports.js";

/** A live call to a mock: the parts matching looks at. `ReplayRequest` fits. */
export interface MockRequest {
  method: string;
  /** path + query, starting with '/' */
  path: string;
  body?: string;
}

/** What a route requires of the live body. */
export type BodyRule =
  | { kind: "any" }
  /** flattened fields: key is JSON of the field path, value is canonical JSON (or "{}" for "an object") */
  | { kind: "json"; fields: Map<string, string> }
  | { kind: "form"; pairs: [string, string][] }
  | { kind: "text"; text: string };

/** One recorded response of a route, with the latency it took when recorded. */
export interface MockResponse {
  response: RecordedResponse;
  /** recorded latency in ms (0 when not recorded) */
  latencyMs: number;
}

/** One distinct recorded call and the responses it got, in recorded order. */
export interface MockRoute {
  /** "GET /v1/rates?base=EUR": the first recorded call, for stats and miss lines */
  label: string;
  method: string;
  /** path without the query */
  pathname: string;
  /** decoded query pairs, sorted */
  query: [string, string][];
  body: BodyRule;
  /** how many query pairs and body fields this route requires: higher is more specific */
  specificity: number;
  responses: MockResponse[];
}

/** Everything recorded for one external host. */
export interface MockHostRoutes {
  /** as configured, lowercased */
  host: string;
  routes: MockRoute[];
  /** exchanges recorded for this host */
  recorded: number;
  /** of those, exchanges skipped because they have no usable response (none, status 0 or 1xx) */
  skipped: number;
}

/** Why a live call matched no route, and the route that came closest. */
export interface ClosestMiss {
  /** `GET /v1/rates?base=USD: no recorded call matches; closest GET /v1/rates?base=EUR (query base: recorded EUR, got USD)` */
  line: string;
  /** "GET /v1/rates?base=USD" */
  request: string;
  /** `GET /v1/rates?base=EUR (query base: recorded EUR, got USD)`, or why there is none */
  closest: string;
}

export type MockMatch = { route: MockRoute; response: RecordedResponse; latencyMs: number } | { miss: ClosestMiss };

/**
 * Whether a recorded host stands for a configured one (case-insensitive): equal, or equal once
 * the port is dropped when the configured host has none. A default port (80, 443) on the
 * configured host is no port: importers record hosts without it.
 */
export function sameHost(recorded: string, configured: string): boolean {
  const want = configured.trim().toLowerCase().replace(/:(?:80|443)$/, "");
  const got = recorded.toLowerCase();
  if (got === want) return true;
  if (/:\d+$/.test(want)) return false;
  return got.replace(/:\d+$/, "") === want;
}

/** Which of the configured hosts a recorded one stands for, if any. */
export function mockedHost(recorded: string | undefined, configured: readonly string[]): string | undefined {
  return recorded === undefined ? undefined : configured.find((host) => sameHost(recorded, host));
}

function usable(response: RecordedResponse | undefined): response is RecordedResponse {
  return response !== undefined && Number.isInteger(response.status) && response.status >= 200 && response.status <= 599;
}

/**
 * Routes per configured host, in the order of `hosts`. Exchanges for other hosts (or with no
 * host, such as the calls into the workload) are ignored; exchanges without a usable response
 * are skipped and counted in `skipped`.
 */
export function buildMockRoutes(exchanges: readonly ReplayRequest[], hosts: readonly string[]): MockHostRoutes[] {
  return hosts.map((configured) => {
    const host = configured.trim().toLowerCase();
    const byKey = new Map<string, MockRoute & { ats: (number | undefined)[] }>();
    let recorded = 0;
    let skipped = 0;
    for (const exchange of exchanges) {
      if (exchange.host === undefined || !sameHost(exchange.host, host)) continue;
      recorded++;
      if (!usable(exchange.response)) {
        skipped++;
        continue;
      }
      const method = exchange.method.toUpperCase();
      const { pathname, query } = splitPath(exchange.path);
      const body = bodyRule(exchange.body, exchange.headers["content-type"]);
      const key = JSON.stringify([method, pathname, query, bodyKey(body)]);
      let route = byKey.get(key);
      if (route === undefined) {
        route = { label: `${method} ${exchange.path}`, method, pathname, query, body, specificity: query.length + bodySize(body), responses: [], ats: [] };
        byKey.set(key, route);
      }
      const latency = exchange.response.latencyMs;
      route.responses.push({ response: exchange.response, latencyMs: latency !== undefined && Number.isFinite(latency) && latency > 0 ? latency : 0 });
      route.ats.push(exchange.at);
    }
    const routes = [...byKey.values()].map(({ ats, ...route }) => {
      // recorded order: by time when every repeat has one (a stable sort keeps ties as given), else as given
      if (ats.every((at) => at !== undefined)) {
        const order = route.responses.map((response, i) => ({ response, at: ats[i]! }));
        order.sort((a, b) => a.at - b.at);
        route.responses = order.map((entry) => entry.response);
      }
      return route;
    });
    return { host, routes, recorded, skipped };
  });
}

/**
 * Matches live calls against one host's routes and hands out each route's responses: in turn,
 * cycling (a load run calls far more often than the recording did), or always the first one
 * (the response diff: every instance must get the same answer to the same call).
 */
export class MockMatcher {
  private readonly byEndpoint = new Map<string, MockRoute[]>();
  private readonly cursors = new Map<MockRoute, number>();

  constructor(
    readonly routes: MockHostRoutes,
    private readonly responses: "cycle" | "first" = "cycle",
  ) {
    for (const route of routes.routes) {
      const key = `${route.method} ${route.pathname}`;
      const list = this.byEndpoint.get(key);
      if (list === undefined) this.byEndpoint.set(key, [route]);
      else list.push(route);
    }
  }

  match(request: MockRequest): MockMatch {
    const live = new LiveRequest(request);
    let best: MockRoute | undefined;
    for (const route of this.byEndpoint.get(`${live.method} ${live.pathname}`) ?? []) {
      if ((best === undefined || route.specificity > best.specificity) && satisfies(route, live)) best = route;
    }
    if (best === undefined) return { miss: closestMiss(this.routes, live) };
    const index = this.cursors.get(best) ?? 0;
    if (this.responses === "cycle") this.cursors.set(best, (index + 1) % best.responses.length);
    const { response, latencyMs } = best.responses[index]!;
    return { route: best, response, latencyMs };
  }
}

// ---------------------------------------------------------------------------------------------
// parsing

function splitPath(path: string): { pathname: string; query: [string, string][] } {
  const q = path.indexOf("?");
  const pathname = q < 0 ? path : path.slice(0, q);
  return { pathname: pathname === "" ? "/" : pathname, query: q < 0 ? [] : pairs(path.slice(q + 1)) };
}

function pairs(encoded: string): [string, string][] {
  return [...new URLSearchParams(encoded)].sort(comparePairs);
}

function comparePairs(a: [string, string], b: [string, string]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
}

function parseJsonContainer(text: string): object | undefined {
  const trimmed = text.trim();
  if (!trimmed.startsWith("{") && !trimmed.startsWith("[")) return undefined;
  try {
    const value: unknown = JSON.parse(trimmed);
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

/** JSON with object keys sorted, so key order does not matter anywhere in a value. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * Fields of a JSON value: objects are walked to dotted paths; arrays and scalars are leaves
 * (canonical JSON). `objects: "all"` also yields "{}" under every object's own path (live bodies);
 * `objects: "empty"` only under empty ones (recorded bodies), so a recorded `{}` asks only that
 * the live value there is an object. Keys are the JSON of the path, so dots in names cannot collide.
 */
function flatten(value: object, objects: "all" | "empty", path: string[] = [], into = new Map<string, string>()): Map<string, string> {
  if (Array.isArray(value)) {
    into.set(JSON.stringify(path), canonical(value));
    return into;
  }
  const entries = Object.entries(value);
  if (objects === "all" || entries.length === 0) into.set(JSON.stringify(path), "{}");
  for (const [key, child] of entries) {
    if (typeof child === "object" && child !== null) flatten(child, objects, [...path, key], into);
    else into.set(JSON.stringify([...path, key]), canonical(child));
  }
  return into;
}

function bodyRule(body: string | undefined, contentType: string | undefined): BodyRule {
  if (body === undefined || body === "") return { kind: "any" };
  const json = parseJsonContainer(body);
  if (json !== undefined) return { kind: "json", fields: flatten(json, "empty") };
  if (contentType?.toLowerCase().includes("application/x-www-form-urlencoded")) return { kind: "form", pairs: pairs(body) };
  return { kind: "text", text: body };
}

function bodyKey(body: BodyRule): unknown {
  switch (body.kind) {
    case "any":
      return "";
    case "json":
      return ["json", [...body.fields].sort(comparePairs)];
    case "form":
      return ["form", body.pairs];
    case "text":
      return ["text", body.text];
  }
}

function bodySize(body: BodyRule): number {
  switch (body.kind) {
    case "any":
      return 0;
    case "json":
      return body.fields.size;
    case "form":
      return body.pairs.length;
    case "text":
      return 1;
  }
}

/** A live request, parsed once; the body is parsed lazily and only as the routes need it. */
class LiveRequest {
  readonly method: string;
  readonly pathname: string;
  readonly query: [string, string][];
  readonly body: string;
  private jsonFields: Map<string, string> | null | undefined;
  private formPairs: [string, string][] | undefined;

  constructor(readonly request: MockRequest) {
    this.method = request.method.toUpperCase();
    const { pathname, query } = splitPath(request.path);
    this.pathname = pathname;
    this.query = query;
    this.body = request.body ?? "";
  }

  /** flattened fields, or null when the body is not a JSON object or array */
  json(): Map<string, string> | null {
    if (this.jsonFields === undefined) {
      const value = parseJsonContainer(this.body);
      this.jsonFields = value === undefined ? null : flatten(value, "all");
    }
    return this.jsonFields;
  }

  form(): [string, string][] {
    this.formPairs ??= pairs(this.body);
    return this.formPairs;
  }
}

// ---------------------------------------------------------------------------------------------
// matching and misses

/** The recorded pairs missing from the live multiset. */
function missingPairs(recorded: [string, string][], live: [string, string][]): [string, string][] {
  const counts = new Map<string, number>();
  for (const pair of live) {
    const key = JSON.stringify(pair);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const missing: [string, string][] = [];
  for (const pair of recorded) {
    const key = JSON.stringify(pair);
    const left = counts.get(key) ?? 0;
    if (left > 0) counts.set(key, left - 1);
    else missing.push(pair);
  }
  return missing;
}

const MAX_VALUE = 40;

function short(text: string, max = MAX_VALUE): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** One line per group of unmet pairs of the same name: `query base: recorded EUR, got USD`. */
function describePairs(what: string, missing: [string, string][], live: [string, string][]): string[] {
  const names = [...new Set(missing.map(([name]) => name))];
  return names.map((name) => {
    const recorded = missing.filter(([n]) => n === name).map(([, v]) => short(v));
    const got = live.filter(([n]) => n === name).map(([, v]) => short(v));
    return `${what} ${name}: recorded ${recorded.join(",")}, got ${got.length > 0 ? got.join(",") : "none"}`;
  });
}

function fieldName(key: string): string {
  const path = JSON.parse(key) as string[];
  return path.length === 0 ? "(root)" : path.join(".");
}

/** Whether the live request meets `route`'s query and body rules (method and path aside). */
function satisfies(route: MockRoute, live: LiveRequest): boolean {
  if (route.query.length > 0 && missingPairs(route.query, live.query).length > 0) return false;
  const body = route.body;
  switch (body.kind) {
    case "any":
      return true;
    case "json": {
      const fields = live.json();
      if (fields === null) return false;
      for (const [key, value] of body.fields) if (fields.get(key) !== value) return false;
      return true;
    }
    case "form":
      return missingPairs(body.pairs, live.form()).length === 0;
    case "text":
      return live.body === body.text;
  }
}

/** What the live request lacks to match `route` (method and path aside); empty when it matches. */
function unmet(route: MockRoute, live: LiveRequest): string[] {
  const reasons: string[] = [];
  if (route.query.length > 0) {
    const missing = missingPairs(route.query, live.query);
    if (missing.length > 0) reasons.push(...describePairs("query", missing, live.query));
  }
  const body = route.body;
  switch (body.kind) {
    case "any":
      break;
    case "json": {
      const fields = live.json();
      if (fields === null) {
        reasons.push(`body: recorded JSON, got ${live.body === "" ? "no body" : `non-JSON (${Buffer.byteLength(live.body)} bytes)`}`);
        break;
      }
      for (const [key, value] of body.fields) {
        const got = fields.get(key);
        if (got !== value) reasons.push(`body ${fieldName(key)}: recorded ${short(value)}, got ${got === undefined ? "none" : short(got)}`);
      }
      break;
    }
    case "form": {
      const missing = missingPairs(body.pairs, live.form());
      if (missing.length > 0) reasons.push(...describePairs("form", missing, live.form()));
      break;
    }
    case "text":
      if (live.body !== body.text) reasons.push(`body: recorded ${Buffer.byteLength(body.text)} bytes, got ${live.body === "" ? "no body" : `${Buffer.byteLength(live.body)} different bytes`}`);
      break;
  }
  return reasons;
}

function segments(pathname: string): string[] {
  return pathname.split("/").filter((segment) => segment !== "");
}

/** Levenshtein distance over path segments. */
function segmentDistance(a: string[], b: string[]): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

const MAX_REASONS = 3;
const MAX_PATH = 120;

function joinReasons(reasons: string[]): string {
  const shown = reasons.slice(0, MAX_REASONS).join("; ");
  return reasons.length > MAX_REASONS ? `${shown}; +${reasons.length - MAX_REASONS} more` : shown;
}

/**
 * The route that came closest, in this order: same method and path with the fewest unmet query
 * pairs and body fields (then the most met); same path with another method; the same method and
 * the path nearest by segment edit distance; any method and the nearest path. Ties: first recorded.
 */
function closestMiss(hostRoutes: MockHostRoutes, live: LiveRequest): ClosestMiss {
  const request = `${live.method} ${short(live.request.path, MAX_PATH)}`;
  let best: { rank: number[]; route: MockRoute; reason: string } | undefined;
  const liveSegments = segments(live.pathname);
  for (const route of hostRoutes.routes) {
    let rank: number[];
    let reason: string;
    if (route.pathname === live.pathname) {
      const reasons = unmet(route, live);
      const methodDiffers = route.method !== live.method;
      if (methodDiffers) reasons.unshift(`method: recorded ${route.method}, got ${live.method}`);
      rank = [methodDiffers ? 1 : 0, 0, reasons.length, -route.specificity];
      reason = joinReasons(reasons);
    } else {
      const distance = segmentDistance(segments(route.pathname), liveSegments);
      const methodDiffers = route.method !== live.method;
      rank = [2, methodDiffers ? 1 : 0, distance, 0];
      reason = `${methodDiffers ? `method ${route.method}; ` : ""}path differs in ${distance} segment${distance === 1 ? "" : "s"}`;
    }
    if (best === undefined || compareRanks(rank, best.rank) < 0) best = { rank, route, reason };
  }
  const closest = best === undefined ? `none: no calls to ${hostRoutes.host} were recorded` : `${short(best.route.label, MAX_PATH)} (${best.reason})`;
  const line = best === undefined ? `${request}: no recorded call matches; ${closest}` : `${request}: no recorded call matches; closest ${closest}`;
  return { line, request, closest };
}

function compareRanks(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}
