/**
 * A response body as a flat map of field paths to values, so three answers to the same request
 * can be compared field by field. Pure code.
 *
 * Paths:
 * - `$` is the JSON document itself (its type: object, array, a scalar);
 * - object keys are joined with dots (`user.name`); a key that is not a plain identifier, or
 *   that would read as something else (`length`, `$`), is quoted: `headers["content-type"]`;
 * - array elements are keyed by index (`items[0].price`), and every array also records its
 *   length (`items.length`; the root array's is `$.length`). `templatePath` turns indices into
 *   `[]` (`items[].price`), which is how the comparison groups and reports fields;
 * - containers are entries too (`OBJECT`, `ARRAY`), so a change of shape is a change of type,
 *   not just fields that disappear;
 * - a body that is not JSON is one field, `body`: the text, or when long a prefix with its
 *   length and hash.
 */
import { createHash } from "node:crypto";

export type Primitive = string | number | boolean | null;

/** The entry a container leaves at its own path. Compared by identity. */
export interface Container {
  readonly container: "object" | "array";
}
export const OBJECT: Container = Object.freeze({ container: "object" });
export const ARRAY: Container = Object.freeze({ container: "array" });

export type FlatValue = Primitive | Container;
/** Path → value, in document order. */
export type Flat = Map<string, FlatValue>;

/** A field's JSON type; "missing" when the response has no such field. */
export type FieldType = "null" | "number" | "string" | "boolean" | "object" | "array" | "missing";

/** The root document's path. */
export const ROOT = "$";
/** The field a non-JSON body is recorded under. */
export const TEXT_BODY = "body";

export interface FlattenOptions {
  /** elements of an array flattened beyond this many are left out (its length is still recorded) */
  maxArrayItems?: number;
  /** containers nested deeper than this are recorded by type only */
  maxDepth?: number;
  /** stop adding fields after this many (a huge document is compared on its first fields) */
  maxFields?: number;
}

const DEFAULTS: Required<FlattenOptions> = { maxArrayItems: 100, maxDepth: 32, maxFields: 5000 };

/** A text body up to this long is its own value; a longer one becomes prefix, length and hash. */
const TEXT_LIMIT = 200;

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
/** Keys that must be quoted because the unquoted form means something else. */
const RESERVED_KEYS = new Set(["length", ROOT]);

/** Flatten a parsed JSON value (see the module comment for the paths). */
export function flattenJson(value: unknown, options: FlattenOptions = {}): Flat {
  const limits = { ...DEFAULTS, ...options };
  const out: Flat = new Map();
  const add = (path: string, entry: FlatValue): boolean => {
    if (out.size >= limits.maxFields) return false;
    out.set(path, entry);
    return true;
  };
  // `prefix` is what children's paths start with: "" at the root (so top-level keys read `price`).
  const walk = (node: unknown, path: string, prefix: string, depth: number): void => {
    if (Array.isArray(node)) {
      if (!add(path, ARRAY) || !add(prefix === "" ? `${ROOT}.length` : `${prefix}.length`, node.length)) return;
      if (depth >= limits.maxDepth) return;
      const n = Math.min(node.length, limits.maxArrayItems);
      for (let i = 0; i < n; i++) {
        const child = `${prefix}[${i}]`;
        walk(node[i], child, child, depth + 1);
      }
      return;
    }
    if (node !== null && typeof node === "object") {
      if (!add(path, OBJECT) || depth >= limits.maxDepth) return;
      for (const [key, child] of Object.entries(node as Record<string, unknown>)) {
        const childPath = joinKey(prefix, key);
        walk(child, childPath, childPath, depth + 1);
      }
      return;
    }
    add(path, toPrimitive(node));
  };
  walk(value, ROOT, "", 0);
  return out;
}

/**
 * Flatten a response body: JSON when the content type says so (or, without a JSON content type,
 * when the text is a JSON object or array), else the single field `body`.
 */
export function flattenBody(body: string, contentType?: string, options: FlattenOptions = {}): Flat {
  const declared = contentType !== undefined && /[/+]json\b/i.test(contentType);
  const trimmed = body.trim();
  if (declared || /^[[{]/.test(trimmed)) {
    try {
      return flattenJson(JSON.parse(trimmed), options);
    } catch {
      // not JSON after all: compared as text
    }
  }
  return new Map([[TEXT_BODY, textValue(body)]]);
}

/** A text body as a comparable value: itself when short, else prefix, length and hash. */
export function textValue(text: string): string {
  if (text.length <= TEXT_LIMIT) return text;
  const hash = createHash("sha256").update(text).digest("hex").slice(0, 16);
  return `${text.slice(0, 40)}… (${text.length} chars, sha256 ${hash})`;
}

/** `items[3].tags[0]` → `items[].tags[]`: the path a field is grouped and reported under. */
export function templatePath(path: string): string {
  return path.replace(/\["(?:[^"\\]|\\.)*"\]|\[\d+\]/g, (segment) => (segment.startsWith('["') ? segment : "[]"));
}

/** The path of the container holding a path flattenJson made; undefined for the root. */
export function parentPath(path: string): string | undefined {
  if (path === ROOT) return undefined;
  if (path === `${ROOT}.length`) return ROOT;
  const last = /(?:\.[A-Za-z_$][\w$]*|\["(?:[^"\\]|\\.)*"\]|\[\d+\])$/.exec(path);
  if (!last || last.index === 0) return ROOT;
  return path.slice(0, last.index);
}

/** The type of a flattened value (undefined: the field is missing). */
export function fieldType(value: FlatValue | undefined): FieldType {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (typeof value === "object") return value.container;
  return typeof value as "number" | "string" | "boolean";
}

/** A flattened value for people: JSON for scalars, `{…}` / `[…]` for containers, `(missing)`. */
export function displayValue(value: FlatValue | undefined): string {
  if (value === undefined) return "(missing)";
  if (value !== null && typeof value === "object") return value.container === "object" ? "{…}" : "[…]";
  return JSON.stringify(value);
}

function joinKey(prefix: string, key: string): string {
  if (IDENTIFIER.test(key) && !RESERVED_KEYS.has(key)) return prefix === "" ? key : `${prefix}.${key}`;
  return `${prefix}[${JSON.stringify(key)}]`;
}

function toPrimitive(value: unknown): Primitive {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  return String(value);
}

