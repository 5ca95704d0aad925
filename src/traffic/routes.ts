/**
 * Route templates: "GET /orders/{id}" for "GET /orders/42?expand=items", so recorded traffic
 * can be stratified by what the service does rather than by which ids it was asked about.
 *
 * Three sources, strongest first:
 *  1. an OpenAPI 3 / Swagger 2 document: a path matching one of its `paths` keys takes that
 *     key (with the servers[0].url path or basePath in front), parameter names included;
 *  2. the segment itself: ids of a recognisable shape become a placeholder named by shape
 *     (see `segmentKind`);
 *  3. the siblings: a position under one parent that holds many values, most of them rare,
 *     becomes `{param}` (see `RouteTemplater`).
 *
 * Placeholder convention: `{id}` numeric, `{uuid}`, `{objectId}` (MongoDB), `{hex}` (other long
 * hex), `{token}` (long base64-ish), `{param}` inferred from siblings; OpenAPI templates keep
 * their own names (`{orderId}`). The query and a trailing slash are not part of a route.
 */
import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { TrafficError } from "./har.js";
import { whyUnreadable } from "../core/errors.js";

/** The shapes of path segments that are ids whatever their siblings say. */
export type SegmentKind = "id" | "uuid" | "objectId" | "hex" | "token";

const DIGITS = /^\d+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^[0-9a-f]+$/i;
const HAS_DIGIT = /\d/;
const TOKEN = /^[A-Za-z0-9_-]{24,}={0,2}$/;

/**
 * The id shape of one path segment, or undefined for a word:
 *  - `id`: digits only (`42`, `0017`);
 *  - `uuid`: 8-4-4-4-12 hex digits, any version, any case;
 *  - `objectId`: exactly 24 hex digits (a MongoDB ObjectId), with at least one digit;
 *  - `hex`: 16 or more hex digits, with at least one digit (hashes, trace ids); the digit rule
 *    keeps rare all-letter words such as `deadbeefcafefeed` out, which siblings still catch;
 *  - `token`: 24 or more base64/base64url characters (optional `=` padding) mixing upper case,
 *    lower case and digits (opaque keys, short links); lower-case slugs such as
 *    `my-long-article-title-2024` are not tokens.
 */
export function segmentKind(segment: string): SegmentKind | undefined {
  const n = segment.length;
  if (n === 0) return undefined;
  if (DIGITS.test(segment)) return "id";
  // every other shape is at least 16 characters: most words stop here
  if (n < 16) return undefined;
  if (n === 36 && UUID.test(segment)) return "uuid";
  if (HEX.test(segment) && HAS_DIGIT.test(segment)) return n === 24 ? "objectId" : "hex";
  if (n >= 24 && TOKEN.test(segment) && /[A-Z]/.test(segment) && /[a-z]/.test(segment) && HAS_DIGIT.test(segment)) return "token";
  return undefined;
}

/** The placeholder written into a route for a segment kind, e.g. `{uuid}`. */
export function placeholder(kind: SegmentKind): string {
  return `{${kind}}`;
}

/** The placeholder for a position inferred from its siblings. */
export const PARAM = "{param}";

/**
 * The segments of a request path: no query or fragment, no leading slash, no trailing slash
 * ("/a/b/?x=1" → ["a", "b"]; "/" → []). Empty segments inside ("/a//b") are kept.
 */
export function pathSegments(path: string): string[] {
  let end = path.length;
  const query = path.indexOf("?");
  if (query >= 0) end = query;
  const hash = path.indexOf("#");
  if (hash >= 0 && hash < end) end = hash;
  const start = path.charCodeAt(0) === 47 /* / */ ? 1 : 0;
  if (end > start && path.charCodeAt(end - 1) === 47) end--;
  if (end <= start) return [];
  return path.slice(start, end).split("/");
}

function joinRoute(method: string, segments: readonly string[]): string {
  return `${method.toUpperCase()} /${segments.join("/")}`;
}

// ---------------------------------------------------------------------------------------------
// OpenAPI

/** The parts of an OpenAPI 3 / Swagger 2 document routing reads; everything else is ignored. */
export interface OpenApiDocument {
  openapi?: string;
  swagger?: string;
  servers?: { url: string; variables?: Record<string, { default?: unknown }> }[];
  basePath?: string;
  paths?: Record<string, unknown>;
}

/** Reads and parses an OpenAPI document (YAML or JSON), checking it is one. */
export async function loadOpenApi(file: string): Promise<OpenApiDocument> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const why = whyUnreadable(error);
    throw new TrafficError(`${file}: cannot read the OpenAPI document: ${why}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw new TrafficError(`${file}: cannot parse the OpenAPI document as YAML or JSON: ${(error as Error).message}`);
  }
  checkOpenApi(doc, file);
  return doc;
}

function shown(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return `${String(value)} (a ${typeof value})`;
}

/** Throws unless `doc` has what routing needs from an OpenAPI 3 or Swagger 2 document. */
function checkOpenApi(doc: unknown, where: string): asserts doc is OpenApiDocument {
  const expected = `expected an OpenAPI 3 document ("openapi: 3.x") or a Swagger 2 document ("swagger: '2.0'") with a "paths" object`;
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw new TrafficError(`${where}: ${expected}, got ${doc === undefined || doc === null ? "an empty document" : shown(doc)}`);
  const record = doc as Record<string, unknown>;
  const version = record.openapi ?? record.swagger;
  const v = typeof version === "number" ? String(version) : version;
  const ok = record.openapi !== undefined ? typeof v === "string" && /^3(\.|$)/.test(v) : typeof v === "string" && /^2(\.0)?$/.test(v);
  if (!ok) throw new TrafficError(`${where}: ${expected}, got ${version === undefined ? "neither an openapi nor a swagger field" : `${record.openapi !== undefined ? "openapi" : "swagger"}: ${shown(version)}`}`);
  // OpenAPI 3.1 makes paths optional (a webhooks-only document); 3.0 and Swagger 2 require it
  if (record.paths === undefined && !(typeof v === "string" && v.startsWith("3.1"))) throw new TrafficError(`${where}: ${expected}, got no paths`);
  if (record.paths !== undefined && (record.paths === null || typeof record.paths !== "object" || Array.isArray(record.paths))) {
    throw new TrafficError(`${where}: paths: expected an object of "/path": {operations}, got ${shown(record.paths)}`);
  }
  for (const key of Object.keys((record.paths ?? {}) as object)) {
    if (!key.startsWith("/")) throw new TrafficError(`${where}: paths: expected keys starting with "/", got ${JSON.stringify(key)}`);
  }
}

/** The path prefix of servers[0].url (OpenAPI 3) or basePath (Swagger 2), as segments. */
function serverPrefix(doc: OpenApiDocument, where: string): string[] {
  if (doc.openapi !== undefined) {
    const server = Array.isArray(doc.servers) ? doc.servers[0] : undefined;
    if (server === undefined) return [];
    if (server === null || typeof server !== "object" || typeof server.url !== "string") throw new TrafficError(`${where}: servers[0].url: expected a URL string, got ${shown((server as { url?: unknown } | null)?.url ?? server)}`);
    // server variables take their defaults: "https://{host}/{base}" with base: {default: v2}
    const url = server.url.replace(/\{([^}]*)\}/g, (_, name: string) => {
      const value = server.variables?.[name]?.default;
      if (typeof value !== "string" && typeof value !== "number") throw new TrafficError(`${where}: servers[0].url: the variable {${name}} has no default in servers[0].variables`);
      return String(value);
    });
    // absolute (scheme://authority/path), scheme-relative (//authority/path) or a path
    const path = /^(?:[a-z][a-z0-9+.-]*:)?\/\//i.test(url) ? url.replace(/^(?:[a-z][a-z0-9+.-]*:)?\/\/[^/?#]*/i, "") : url;
    return pathSegments(path.startsWith("/") ? path : `/${path}`).filter((segment) => segment !== "");
  }
  if (doc.basePath === undefined) return [];
  if (typeof doc.basePath !== "string") throw new TrafficError(`${where}: basePath: expected a path such as "/v2", got ${shown(doc.basePath)}`);
  return pathSegments(doc.basePath.startsWith("/") ? doc.basePath : `/${doc.basePath}`).filter((segment) => segment !== "");
}

/** One segment of an OpenAPI template: a literal, a whole `{name}`, or text mixed with names. */
type TemplateSegment = { kind: "literal"; text: string } | { kind: "param" } | { kind: "mixed"; regex: RegExp; literalChars: number };

function templateSegment(segment: string): TemplateSegment {
  if (!segment.includes("{")) return { kind: "literal", text: segment };
  if (/^\{[^{}]+\}$/.test(segment)) return { kind: "param" };
  // "report-{date}.{format}": each name matches one or more characters
  let source = "^";
  let literalChars = 0;
  for (const part of segment.split(/(\{[^{}]*\})/)) {
    if (part === "") continue;
    if (part.startsWith("{") && part.endsWith("}")) source += "(.+?)";
    else {
      source += part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      literalChars += part.length;
    }
  }
  return { kind: "mixed", regex: new RegExp(`${source}$`), literalChars };
}

interface ApiNode {
  literals: Map<string, ApiNode>;
  mixed: { source: string; regex: RegExp; literalChars: number; node: ApiNode }[];
  param?: ApiNode;
  template?: string;
}

const apiNode = (): ApiNode => ({ literals: new Map(), mixed: [] });

/**
 * The templates of an OpenAPI document, as a matcher: `match(path)` gives the template a
 * recorded path matches, with the server prefix in front, or undefined. Where several match,
 * the one with a literal segment at the first position where they differ wins (as OpenAPI
 * says: concrete paths before templated ones), then text-with-parameter segments
 * (`report-{date}`, more literal characters first), then whole parameters.
 */
export class OpenApiRoutes {
  readonly templates: readonly string[];
  private readonly root = apiNode();

  constructor(templates: readonly string[]) {
    this.templates = templates;
    for (const template of templates) {
      let node = this.root;
      for (const segment of pathSegments(template)) {
        const parsed = templateSegment(segment);
        if (parsed.kind === "literal") {
          let next = node.literals.get(parsed.text);
          if (next === undefined) node.literals.set(parsed.text, (next = apiNode()));
          node = next;
        } else if (parsed.kind === "param") node = node.param ??= apiNode();
        else {
          let entry = node.mixed.find((m) => m.source === parsed.regex.source);
          if (entry === undefined) {
            entry = { source: parsed.regex.source, regex: parsed.regex, literalChars: parsed.literalChars, node: apiNode() };
            node.mixed.push(entry);
            node.mixed.sort((a, b) => b.literalChars - a.literalChars || (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
          }
          node = entry.node;
        }
      }
      // two keys differing only in parameter names are invalid OpenAPI; the first one wins
      node.template ??= template;
    }
  }

  /** The template `path` (query ignored) matches, or undefined. */
  match(path: string): string | undefined {
    return this.matchSegments(pathSegments(path));
  }

  /** @internal the same on segments already split */
  matchSegments(segments: readonly string[]): string | undefined {
    return this.templates.length === 0 ? undefined : find(this.root, segments, 0);
  }
}

function find(node: ApiNode, segments: readonly string[], i: number): string | undefined {
  if (i === segments.length) return node.template;
  const segment = segments[i]!;
  const literal = node.literals.get(segment) ?? (segment.includes("%") ? node.literals.get(safeDecode(segment)) : undefined);
  if (literal !== undefined) {
    const found = find(literal, segments, i + 1);
    if (found !== undefined) return found;
  }
  if (segment === "") return undefined;
  for (const mixed of node.mixed) {
    if (mixed.regex.test(segment)) {
      const found = find(mixed.node, segments, i + 1);
      if (found !== undefined) return found;
    }
  }
  return node.param !== undefined ? find(node.param, segments, i + 1) : undefined;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * The route matchers of a parsed OpenAPI 3 or Swagger 2 document (from `loadOpenApi`, or any
 * object): one per `paths` key, prefixed with the path of servers[0].url (OpenAPI 3, server
 * variables at their defaults) or basePath (Swagger 2). `where` names the document in errors.
 */
export function openApiTemplates(doc: unknown, where = "OpenAPI document"): OpenApiRoutes {
  checkOpenApi(doc, where);
  const prefix = serverPrefix(doc, where);
  const templates = Object.keys(doc.paths ?? {}).map((key) => "/" + [...prefix, ...pathSegments(key)].join("/"));
  return new OpenApiRoutes(templates);
}

// ---------------------------------------------------------------------------------------------
// Inference from siblings

/**
 * Defaults of the sibling rule. A position under one parent is a parameter when it holds more
 * than `minDistinct` distinct words AND the words each below `literalShare` of the parent's
 * traffic together carry at least half of it ("many values, mostly rare"). At such a position
 * the rare words become `{param}` and a word carrying at least `literalShare` stays literal:
 * `/users/me` next to 500 user names, each well under 2%.
 *
 * Why these numbers: 50 distinct values is more than the resources of most API prefixes
 * (`/api/v1/<resource>`), and since 2% = 1/50, a parent with more than 50 equally used
 * values has all of them under 2%: uniformly spread names always fold. "Mostly rare" keeps a
 * large API prefix literal when a few resources dominate its traffic, which is the usual case;
 * give an OpenAPI document when the guess is wrong. At most 1/literalShare = 50 literal
 * siblings survive at a parameter position, so the routes stay few.
 */
export const SIBLING_RULE = { minDistinct: 50, literalShare: 0.02 } as const;

/** New nodes the templater may learn after construction (see `RouteTemplater.route`). */
export const LEARN_LIMIT = 10_000;

export interface RouteTemplaterOptions {
  /** templates that win over inference (from `openApiTemplates`) */
  openApi?: OpenApiRoutes;
  /** more distinct values than this under one parent can make a parameter; default 50 */
  minDistinct?: number;
  /** the share of its parent's traffic that keeps a value literal; default 0.02 */
  literalShare?: number;
  /** nodes learned from paths not seen at construction, at most; default 10,000 */
  learnLimit?: number;
}

/** A counted path tree built from the recorded paths (ids already replaced by placeholders). */
interface CountNode {
  count: number;
  children: Map<string, CountNode>;
}

/** The decided tree routing walks. */
interface RouteNode {
  /** literal words kept here, and the placeholder children (`{id}`, …) */
  children: Map<string, RouteNode>;
  /** where the values folded into `{param}` continue */
  param?: RouteNode;
  /** unseen words here are `{param}` */
  paramPosition: boolean;
  /** distinct literal words seen here (construction + learned), for the learning rule */
  distinct: number;
  /** requests routed through here (by `route`), for `settle` */
  count: number;
}

const routeNode = (paramPosition: boolean, distinct: number): RouteNode => ({ children: new Map(), paramPosition, distinct, count: 0 });

/** Requests routed through a node's words and its `{param}` (not its id placeholders). */
function wordTraffic(node: RouteNode): number {
  let total = node.param?.count ?? 0;
  for (const [key, child] of node.children) if (!isPlaceholderKey(key)) total += child.count;
  return total;
}

const isPlaceholderKey = (key: string): boolean => key.length > 2 && key.charCodeAt(0) === 123 /* { */ && key.charCodeAt(key.length - 1) === 125;

function keyOf(segment: string): string {
  const kind = segmentKind(segment);
  return kind === undefined ? segment : placeholder(kind);
}

function mergeInto(target: CountNode, source: CountNode): void {
  target.count += source.count;
  for (const [key, child] of source.children) {
    const existing = target.children.get(key);
    if (existing === undefined) target.children.set(key, child);
    else mergeInto(existing, child);
  }
}

/**
 * Routes requests to templates: OpenAPI first, then id shapes, then the sibling rule
 * (`SIBLING_RULE`) decided once over the paths given at construction.
 *
 * `route()` also copes with paths it was not built from (when it was built from a prefix of
 * the traffic): an unseen word at a parameter position is `{param}`; elsewhere it stays
 * literal and is remembered, and a parent that keeps producing new words turns into a
 * parameter position once it has more than `minDistinct` of them, so the number of routes
 * stays bounded however long the traffic. Learning is capped at `learnLimit` new nodes, after
 * which unseen words are `{param}`. Routing the same paths in the same order is deterministic.
 */
export class RouteTemplater {
  readonly openApi: OpenApiRoutes | undefined;
  private readonly openApiTemplates: ReadonlySet<string>;
  private readonly minDistinct: number;
  private readonly literalShare: number;
  private learnBudget: number;
  private readonly root: RouteNode;

  constructor(paths: Iterable<string>, options: RouteTemplaterOptions = {}) {
    this.openApi = options.openApi;
    this.openApiTemplates = new Set(options.openApi?.templates ?? []);
    this.minDistinct = options.minDistinct ?? SIBLING_RULE.minDistinct;
    this.literalShare = options.literalShare ?? SIBLING_RULE.literalShare;
    this.learnBudget = options.learnLimit ?? LEARN_LIMIT;
    if (!Number.isInteger(this.minDistinct) || this.minDistinct < 1) throw new RangeError(`RouteTemplater: minDistinct: expected a positive integer, got ${this.minDistinct}`);
    if (!(this.literalShare > 0 && this.literalShare <= 1)) throw new RangeError(`RouteTemplater: literalShare: expected a share in (0, 1], got ${this.literalShare}`);
    if (!Number.isInteger(this.learnBudget) || this.learnBudget < 0) throw new RangeError(`RouteTemplater: learnLimit: expected a non-negative integer, got ${this.learnBudget}`);

    const counts: CountNode = { count: 0, children: new Map() };
    for (const path of paths) {
      const segments = pathSegments(path);
      if (this.openApi?.matchSegments(segments) !== undefined) continue;
      let node = counts;
      node.count++;
      for (const segment of segments) {
        const key = keyOf(segment);
        let next = node.children.get(key);
        if (next === undefined) node.children.set(key, (next = { count: 0, children: new Map() }));
        next.count++;
        node = next;
      }
    }
    this.root = this.decide(counts);
  }

  /** The sibling rule, top-down: fold the rare words of parameter positions, then recurse. */
  private decide(node: CountNode): RouteNode {
    let distinct = 0;
    let total = 0;
    for (const [key, child] of node.children) {
      if (isPlaceholderKey(key)) continue;
      distinct++;
      total += child.count;
    }
    const rareBelow = this.literalShare * total;
    let rareTotal = 0;
    if (distinct > this.minDistinct) for (const [key, child] of node.children) if (!isPlaceholderKey(key) && child.count < rareBelow) rareTotal += child.count;
    const paramPosition = distinct > this.minDistinct && rareTotal * 2 >= total;

    const out = routeNode(paramPosition, distinct);
    let folded: CountNode | undefined;
    for (const [key, child] of node.children) {
      if (paramPosition && !isPlaceholderKey(key) && child.count < rareBelow) {
        if (folded === undefined) folded = { count: 0, children: new Map() };
        mergeInto(folded, child);
      } else out.children.set(key, this.decide(child));
    }
    if (folded !== undefined) out.param = this.decide(folded);
    return out;
  }

  /** "GET /orders/{id}" for ("get", "/orders/42?x=1"). */
  route(method: string, path: string): string {
    const segments = pathSegments(path);
    const template = this.openApi?.matchSegments(segments);
    if (template !== undefined) return `${method.toUpperCase()} ${template}`;
    const out: string[] = [];
    let node: RouteNode | undefined = this.root;
    for (const segment of segments) {
      const key = keyOf(segment);
      if (node === undefined) {
        // past the learning budget: no tree to consult, words are parameters
        out.push(isPlaceholderKey(key) ? key : PARAM);
        continue;
      }
      node.count++;
      const known: RouteNode | undefined = node.children.get(key);
      if (known !== undefined) {
        out.push(key);
        node = known;
        continue;
      }
      if (isPlaceholderKey(key)) {
        out.push(key);
        node = this.learn(node, key);
        continue;
      }
      if (!node.paramPosition && node.distinct + 1 > this.minDistinct) node.paramPosition = true;
      if (!node.paramPosition && this.learnBudget > 0) {
        node.distinct++;
        out.push(key);
        node = this.learn(node, key);
        continue;
      }
      out.push(PARAM);
      if (node.param === undefined && this.learnBudget > 0) {
        this.learnBudget--;
        node.param = routeNode(false, 0);
      }
      node = node.param;
    }
    if (node !== undefined) node.count++;
    return joinRoute(method, out);
  }

  /**
   * The final form of a route `route()` gave: a literal it learned at a position that has
   * since become a parameter position folds into `{param}` when it carries less than
   * `literalShare` of the traffic routed through that position (so the first 50 user names a
   * templater met before it knew /users/… was a parameter do not stay routes of their own).
   * Words kept at construction are judged the same way, on all the traffic routed since.
   * Routes from OpenAPI templates are final. Several routes can settle into one: their
   * strata merge.
   */
  settle(route: string): string {
    const space = route.indexOf(" ");
    const method = route.slice(0, space);
    const path = route.slice(space + 1);
    if (this.openApiTemplates.has(path)) return route;
    const out: string[] = [];
    let node: RouteNode | undefined = this.root;
    for (const key of pathSegments(path)) {
      if (node === undefined) {
        out.push(key);
        continue;
      }
      if (key === PARAM) {
        out.push(key);
        node = node.param;
        continue;
      }
      const child = node.children.get(key);
      if (child !== undefined && node.paramPosition && !isPlaceholderKey(key) && child.count < this.literalShare * wordTraffic(node)) out.push(PARAM);
      else out.push(key);
      node = child;
    }
    return joinRoute(method, out);
  }

  private learn(node: RouteNode, key: string): RouteNode | undefined {
    if (this.learnBudget <= 0) return undefined;
    this.learnBudget--;
    const child = routeNode(false, 0);
    node.children.set(key, child);
    return child;
  }
}
