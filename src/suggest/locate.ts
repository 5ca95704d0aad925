/**
 * Finds, for each changed parameter, the one line of the repository that holds its value, and
 * rewrites only the value's characters on it: the recommended configuration as a change a
 * reviewer can accept. Pure: files come from a callback (or a map) keyed by absolute path.
 *
 * Where a value lives:
 * - the config file's own `current.<name>` (flow or block mapping), always: it is the anchor
 *   every run measures; for a `cpus` or `memory` parameter absent from `current`,
 *   `workload.resources.cpus|memory` (untargeted) or nowhere in the config file (targeted);
 * - and with `target: { file, key }` in the parameter, also the target: a `.env` file
 *   (`KEY=value`, `export KEY=value`), a YAML file (dotted key path, list indices as numbers:
 *   `env.0.value`) or a Dockerfile (`ENV KEY=value` / `ENV KEY value`).
 *
 * A parameter is edited only when every place of it was found, equals the current configuration
 * and can be written safely; otherwise it is unresolved, with why (naming the place), and none
 * of its places change: a line it shares with other parameters changes only their values.
 */
import path from "node:path";
import { isAlias, isMap, isScalar, isSeq, parse, parseAllDocuments, visit, type Document, type Node, type Scalar } from "yaml";
import type { Configuration, ParamValue, ParameterCatalog, ParameterSpec } from "../core/types.js";
import { parseMemoryMiB } from "../config/units.js";
import { targetKind, type TargetKind } from "../config/schema.js";
import type { Edit, Suggestion } from "../results/schema.js";

/** Reads a file by absolute path; undefined when it does not exist or cannot be read. */
export type FileReader = (absolutePath: string) => string | undefined;

export interface LocateInput {
  /** reads the repository's files by absolute path (or a map of them) */
  readFile: FileReader | ReadonlyMap<string, string>;
  /** the config file (absolute); relative target files resolve against its folder */
  configFile: string;
  /** the repository root (absolute); edit paths are relative to it */
  repoRoot: string;
  parameters: ParameterCatalog;
  current: Configuration;
  recommended: Configuration;
  /** names of the parameters whose recommended value differs from the current one */
  changed: readonly string[];
}

/** Separator of parameter names in an edit that changes several values on one line. */
export const PARAMETER_SEPARATOR = ",";

/** One value found in a file: its line, its character range on that line, how it is written. */
interface Found {
  line: number;
  start: number;
  end: number;
  value: string | number | boolean | null;
  style: Style;
  /** "values.yaml key worker.pool" style, for messages */
  where: string;
}

type Style =
  | { kind: "yaml"; type: Scalar.Type | undefined; flow: boolean; wasString: boolean }
  | { kind: "env" | "dockerfile"; quote: Quote }
  | { kind: "memory"; unit: string | undefined; wasNumber: boolean; inner: Style };

type Quote = '"' | "'" | "`" | "";

interface Hit {
  parameter: string;
  file: string;
  line: number;
  start: number;
  end: number;
  replacement: string;
  /** in a YAML file: the key that must read back as the new value once the file is edited */
  readBack?: { segments: string[]; memory: boolean };
}

/** A value found in a file of the repository, and how to check it after the edit. */
interface Place {
  file: string;
  found: Found;
  readBack?: Hit["readBack"];
}

/** Bounds of the results document (results/schema.ts): a reason, an edit's line. */
const MAX_REASON = 500;
const MAX_LINE = 2000;

export function locateEdits(input: LocateInput): Suggestion {
  const read = readerOf(input.readFile);
  const cache = new Map<string, string | undefined>();
  const text = (file: string) => {
    if (!cache.has(file)) cache.set(file, read(file));
    return cache.get(file);
  };
  const yamlCache = new Map<string, Document.Parsed[]>();
  const yamlDocs = (file: string, source: string) => {
    let docs = yamlCache.get(file);
    if (!docs) {
      docs = parseAllDocuments(source) as unknown as Document.Parsed[];
      if (!Array.isArray(docs)) docs = [];
      yamlCache.set(file, docs);
    }
    return docs;
  };

  const unresolved: Suggestion["unresolved"] = [];
  const fail = (parameter: string, reason: string) => unresolved.push({ parameter, reason: clip(reason) });
  const configDir = path.dirname(input.configFile);

  /** A file inside the repository with its text, or why not. */
  const open = (file: string): { shown: string; source: string } | string => {
    const inRepo = path.relative(input.repoRoot, file);
    if (inRepo === "" || inRepo.split(path.sep)[0] === ".." || path.isAbsolute(inRepo)) return `${file} is outside the repository (${input.repoRoot})`;
    const shown = inRepo.split(path.sep).join("/");
    const source = text(file);
    return source === undefined ? `${shown}: cannot read the file` : { shown, source };
  };

  /** The value in the parameter's target file. */
  const targetPlace = (target: NonNullable<ParameterSpec["target"]>): Place | string => {
    const file = path.resolve(configDir, target.file);
    const opened = open(file);
    if (typeof opened === "string") return opened;
    const { shown, source } = opened;
    const kind: TargetKind | undefined = targetKind(file);
    const key = target.key;
    let found: Found | string;
    if (kind === "yaml") found = findYaml(yamlDocs(file, source), source, key.split("."), `${shown} key ${key}`);
    else if (kind === "env") found = findEnv(source, key, shown);
    else if (kind === "dockerfile") found = findDockerfile(source, key, shown);
    else found = `${shown}: not a .env, .yml/.yaml file or a Dockerfile`;
    if (typeof found === "string") return found;
    return { file, found, ...(kind === "yaml" ? { readBack: { segments: key.split("."), memory: false } } : {}) };
  };

  /**
   * The value in the config file: `current.<name>`; for a cpus or memory parameter absent from
   * `current`, `workload.resources.<kind>` when untargeted and nothing at all (undefined) when
   * targeted: its target alone holds the value.
   */
  const configPlace = (spec: ParameterSpec): Place | string | undefined => {
    const file = input.configFile;
    const opened = open(file);
    if (typeof opened === "string") return opened;
    const { shown, source } = opened;
    const docs = yamlDocs(file, source);
    const name = spec.name;
    const resource = spec.apply.kind === "cpus" || spec.apply.kind === "memory" ? spec.apply.kind : undefined;
    const memory = resource === "memory";
    const found = findYaml(docs, source, ["current", name], `${shown} current.${name}`);
    if (typeof found !== "string" || !resource || hasKey(docs, ["current", name])) {
      return typeof found === "string" ? found : { file, found, readBack: { segments: ["current", name], memory } };
    }
    if (spec.target) return undefined;
    const segments = ["workload", "resources", resource];
    const fallback = findYaml(docs, source, segments, `${shown} workload.resources.${resource}`);
    if (typeof fallback === "string") return `${shown}: no current.${name} and no workload.resources.${resource} to edit (the default is in use); add ${name} to current`;
    const value = memory ? asMemory(fallback) : fallback;
    return typeof value === "string" ? value : { file, found: value, readBack: { segments, memory } };
  };

  // every place that holds a changed parameter's value, or why one of them cannot be edited
  const planned = new Map<string, Hit[]>();
  for (const name of input.changed) {
    const spec = input.parameters.find((p) => p.name === name);
    if (!spec) {
      fail(name, `${name} is not a declared parameter`);
      continue;
    }
    const expected = input.current[name];
    const wanted = input.recommended[name];
    if (expected === undefined || wanted === undefined) {
      fail(name, `no ${expected === undefined ? "current" : "recommended"} value for ${name}`);
      continue;
    }
    // a targeted value is also in the config file's current (the anchor): both change, or neither
    const places = [spec.target ? targetPlace(spec.target) : undefined, configPlace(spec)];
    const reasons: string[] = [];
    const hits: Hit[] = [];
    for (const place of places) {
      if (place === undefined) continue;
      if (typeof place === "string") {
        reasons.push(place);
        continue;
      }
      const { found } = place;
      if (!sameValue(found, expected)) {
        reasons.push(`${found.where} (line ${found.line}) is ${show(found.value)}, but the current configuration has ${name}: ${show(expected)}; make them agree first`);
        continue;
      }
      const replacement = formatValue(found.style, wanted);
      if (replacement === undefined) {
        reasons.push(`${found.where} (line ${found.line}): cannot write ${show(wanted)} there safely`);
        continue;
      }
      // a target that names the config file's own current.<name> is one place, not two
      if (hits.some((h) => h.file === place.file && h.line === found.line && h.start === found.start)) continue;
      hits.push({ parameter: name, file: place.file, line: found.line, start: found.start, end: found.end, replacement, ...(place.readBack ? { readBack: place.readBack } : {}) });
    }
    if (reasons.length > 0) fail(name, reasons.join("; "));
    else planned.set(name, hits);
  }

  // Lines to edit: several values on one line (a flow mapping, `ENV A=1 B=2`) become one edit.
  // A parameter that cannot be written in one of its places is dropped from all of them and
  // the lines are built again, so a shared line changes only the values that remain.
  let lines: { edit: Edit; hits: Hit[] }[] = [];
  for (;;) {
    const dropped = new Map<string, string>();
    const byLine = new Map<string, Hit[]>();
    for (const hit of [...planned.values()].flat()) {
      const key = `${hit.file}\0${hit.line}`;
      const same = byLine.get(key) ?? [];
      const clash = same.find((h) => hit.start < h.end && h.start < hit.end);
      if (clash) {
        dropped.set(hit.parameter, `${rel(input.repoRoot, hit.file)}:${hit.line}: the same value as ${clash.parameter}; give each parameter its own target`);
        break; // the lines are built again without it
      }
      same.push(hit);
      byLine.set(key, same);
    }

    lines = [];
    if (dropped.size === 0) {
      for (const group of byLine.values()) {
        group.sort((a, b) => a.start - b.start);
        const first = group[0]!;
        const before = lineAt(text(first.file)!, first.line);
        let after = before;
        for (const hit of [...group].reverse()) after = after.slice(0, hit.start) + hit.replacement + after.slice(hit.end);
        if (Math.max(before.length, after.length) > MAX_LINE) {
          for (const hit of group) dropped.set(hit.parameter, `${rel(input.repoRoot, first.file)}:${first.line}: the line is longer than ${MAX_LINE} characters; edit it by hand`);
          continue;
        }
        const edit = { parameter: group.map((h) => h.parameter).join(PARAMETER_SEPARATOR), path: rel(input.repoRoot, first.file), line: first.line, before, after };
        lines.push({ edit, hits: group });
      }
    }
    // an edited YAML file must still parse, with each new value where it is expected
    if (dropped.size === 0) {
      for (const [name, reason] of verifyYaml(lines, input.recommended, text)) dropped.set(name, reason);
    }
    if (dropped.size === 0) break;
    for (const [name, reason] of dropped) {
      fail(name, reason);
      planned.delete(name);
    }
  }

  const edits = lines.map((l) => l.edit);
  edits.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.line - b.line));
  return { edits, unresolved };
}

function readerOf(files: LocateInput["readFile"]): FileReader {
  return typeof files === "function" ? files : (file) => files.get(file);
}

function rel(root: string, file: string): string {
  return path.relative(root, file).split(path.sep).join("/");
}

/** Line `n` (1-based) without its line ending. */
function lineAt(source: string, n: number): string {
  return splitLines(source)[n - 1]!.text;
}

/** Lines with their start offsets; `\r\n` and `\n` endings, `\r` not part of the text. */
function splitLines(source: string): { text: string; start: number }[] {
  const lines: { text: string; start: number }[] = [];
  let start = 0;
  for (;;) {
    const nl = source.indexOf("\n", start);
    const end = nl === -1 ? source.length : nl;
    const text = source.slice(start, end);
    lines.push({ text: text.endsWith("\r") ? text.slice(0, -1) : text, start });
    if (nl === -1) break;
    start = nl + 1;
  }
  return lines;
}

function position(lines: { start: number }[], offset: number): { line: number; col: number } {
  let lo = 0;
  let hi = lines.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lines[mid]!.start <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, col: offset - lines[lo]!.start };
}

// ---------------------------------------------------------------------------------------- YAML

function hasKey(docs: Document.Parsed[], segments: string[]): boolean {
  return docs.some((doc) => "node" in resolveNode(doc.contents, segments));
}

/**
 * The node at a key path. Segments are matched greedily so that keys with dots in them
 * (`podAnnotations.prometheus.io/scrape`) resolve too; numbers index sequences.
 */
function resolveNode(root: unknown, segments: string[]): { node: Node } | { reason: string; depth: number } {
  let node: unknown = root;
  let i = 0;
  const walked: string[] = [];
  while (i < segments.length) {
    if (isMap(node)) {
      let next: { node: unknown; used: number } | undefined;
      for (let n = segments.length - i; n >= 1 && !next; n--) {
        const want = segments.slice(i, i + n).join(".");
        const pair = node.items.find((item) => (isScalar(item.key) ? String(item.key.value) : String(item.key)) === want);
        if (pair) next = { node: pair.value, used: n };
      }
      if (!next) {
        const keys = node.items.map((item) => (isScalar(item.key) ? String(item.key.value) : String(item.key)));
        const reason = `no key "${segments[i]}"${walked.length ? ` under "${walked.join(".")}"` : " at the top level"}${keys.length ? ` (keys: ${keys.slice(0, 8).join(", ")}${keys.length > 8 ? ", …" : ""})` : ""}`;
        return { reason, depth: walked.length };
      }
      walked.push(segments.slice(i, i + next.used).join("."));
      node = next.node;
      i += next.used;
    } else if (isSeq(node)) {
      const segment = segments[i]!;
      const index = /^\d+$/.test(segment) ? Number(segment) : -1;
      if (index < 0 || index >= node.items.length) {
        return { reason: `"${walked.join(".")}" is a list of ${node.items.length}; expected an index 0–${node.items.length - 1}, got "${segment}"`, depth: walked.length };
      }
      walked.push(segment);
      node = node.items[index];
      i += 1;
    } else {
      const reason = walked.length ? `"${walked.join(".")}" is not a mapping or list, so it has no "${segments[i]}"` : "the document is empty or not a mapping";
      return { reason, depth: walked.length };
    }
  }
  if (node === null || node === undefined) return { reason: `"${walked.join(".")}" has no value`, depth: walked.length };
  return { node: node as Node };
}

function findYaml(docs: Document.Parsed[], source: string, segments: string[], where: string): Found | string {
  if (docs.length === 0) return `${where}: the file is empty`;
  const broken = docs.find((doc) => doc.errors.length > 0);
  if (broken) return `${where}: the file is not valid YAML: ${broken.errors[0]!.message.split("\n")[0]}`;
  const candidates: { node: Node; doc: Document.Parsed }[] = [];
  let why = { reason: "", depth: -1 };
  for (const doc of docs) {
    const resolved = resolveNode(doc.contents, segments);
    if ("node" in resolved) candidates.push({ node: resolved.node, doc });
    else if (resolved.depth > why.depth) why = resolved; // the document that got furthest explains best
  }
  if (candidates.length === 0) return `${where}: ${why.reason}`;
  if (candidates.length > 1) return `${where}: found in ${candidates.length} documents of the file; expected one`;
  const { node, doc } = candidates[0]!;
  if (isAlias(node)) return `${where}: the value is an alias (*${node.source}); edit its anchor instead`;
  if (!isScalar(node)) return `${where}: expected a single value, found a ${isMap(node) ? "mapping" : isSeq(node) ? "list" : "node"}`;
  if (node.type === "BLOCK_LITERAL" || node.type === "BLOCK_FOLDED") return `${where}: the value is a block scalar (| or >); expected a value on one line`;
  if (node.anchor && referenced(doc, node.anchor)) return `${where}: the value is anchored (&${node.anchor}) and used elsewhere; edit it by hand`;
  if (!node.range) return `${where}: no position for the value`;
  const lines = splitLines(source);
  const from = position(lines, node.range[0]);
  const to = position(lines, node.range[1]);
  if (from.line !== to.line) return `${where} (line ${from.line}): the value spans several lines; expected a value on one line`;
  const value = node.value;
  if (value !== null && typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
    return `${where} (line ${from.line}): expected a number, string or boolean, found ${show(String(value))}`;
  }
  return {
    line: from.line,
    start: from.col,
    end: to.col,
    value,
    style: { kind: "yaml", type: node.type, flow: inFlow(doc, node), wasString: typeof value === "string" },
    where,
  };
}

function referenced(doc: Document.Parsed, anchor: string): boolean {
  let used = false;
  visit(doc, {
    Alias(_key, alias) {
      if (alias.source === anchor) used = true;
    },
  });
  return used;
}

/** Whether a node sits inside a flow collection (`{ … }` or `[ … ]`), where `,[]{}` are special. */
function inFlow(doc: Document.Parsed, target: Node): boolean {
  let flow = false;
  visit(doc, {
    Scalar(_key, node, ancestors) {
      if (node === target) {
        flow = ancestors.some((a) => (isMap(a) || isSeq(a)) && a.flow === true);
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return flow;
}

/** A memory value in the config file: "1g", "512m" or a number of MiB. */
function asMemory(found: Found): Found | string {
  if (found.style.kind !== "yaml") return found;
  if (typeof found.value === "number") return { ...found, style: { kind: "memory", unit: undefined, wasNumber: true, inner: found.style } };
  const mib = parseMemoryMiB(found.value);
  if (mib === undefined) return `${found.where} (line ${found.line}): expected a memory size, found ${show(found.value)}`;
  const unit = /^\s*\d+(?:\.\d+)?\s*([kmgt](?:i?b?)?)?\s*$/i.exec(String(found.value))?.[1];
  return { ...found, value: mib, style: { kind: "memory", unit, wasNumber: false, inner: found.style } };
}

/** Whether a YAML plain scalar `text` reads back as `expected` in a flow or block context. */
function plainReadsAs(text: string, check: (value: unknown) => boolean, flow: boolean): boolean {
  if (text === "" || text !== text.trim() || /[\n\r\t]/.test(text) || text.includes(" #") || text.startsWith("#")) return false;
  if (flow && /[,[\]{}]/.test(text)) return false;
  try {
    const back = parse(flow ? `[${text}]` : `k: ${text}`) as unknown;
    const value = flow ? (Array.isArray(back) && back.length === 1 ? back[0] : Symbol()) : (back as Record<string, unknown> | null)?.k;
    return check(value);
  } catch {
    return false;
  }
}

function formatYaml(style: Extract<Style, { kind: "yaml" }>, value: ParamValue): string | undefined {
  const s = typeof value === "number" ? numberText(value) : String(value);
  if (s === undefined) return undefined;
  switch (style.type) {
    case "QUOTE_DOUBLE":
      return JSON.stringify(s);
    case "QUOTE_SINGLE":
      return /[\n\r]/.test(s) ? JSON.stringify(s) : `'${s.replace(/'/g, "''")}'`;
    default: {
      if (typeof value === "string") {
        // a string stays a string, unless it replaces a plain number or boolean (an enum's `8`)
        const keepsKind = (v: unknown) => (style.wasString ? v === value : v !== null && v !== undefined && typeof v !== "object" && String(v) === value);
        return plainReadsAs(s, keepsKind, style.flow) ? s : JSON.stringify(s);
      }
      return s;
    }
  }
}

/**
 * Re-parse every YAML file with edits: the parameters whose keys do not read back as their new
 * values, and why.
 */
function verifyYaml(lines: { edit: Edit; hits: Hit[] }[], recommended: Configuration, text: (file: string) => string | undefined): Map<string, string> {
  const broken = new Map<string, string>();
  const files = new Map<string, { edit: Edit; hits: Hit[] }[]>();
  for (const entry of lines) {
    const file = entry.hits[0]!.file;
    files.set(file, [...(files.get(file) ?? []), entry]);
  }
  for (const [file, entries] of files) {
    if (!entries.some((e) => e.hits.some((h) => h.readBack))) continue;
    const source = text(file)!;
    const fileLines = source.split("\n");
    for (const { edit } of entries) fileLines[edit.line - 1] = edit.after + (fileLines[edit.line - 1]!.endsWith("\r") ? "\r" : "");
    const docs = parseAllDocuments(fileLines.join("\n")) as unknown as Document.Parsed[];
    const parses = Array.isArray(docs) && docs.every((d) => d.errors.length === 0);
    for (const { edit, hits } of entries) {
      for (const hit of hits) {
        if (!hit.readBack || broken.has(hit.parameter)) continue;
        const { segments, memory } = hit.readBack;
        const wanted = recommended[hit.parameter]!;
        const ok =
          parses &&
          docs.some((d) => {
            const resolved = resolveNode(d.contents, segments);
            if (!("node" in resolved) || !isScalar(resolved.node)) return false;
            const value = resolved.node.value;
            if (memory && typeof value === "string") return parseMemoryMiB(value) === wanted;
            return typeof value !== "object" && sameValue({ value } as Found, wanted);
          });
        if (!ok) broken.set(hit.parameter, `${edit.path}:${edit.line}: the rewritten line would not read back as ${show(wanted)}; edit it by hand`);
      }
    }
  }
  return broken;
}

// ----------------------------------------------------------------------------------------- .env

const ENV_LINE = /^(\s*)(export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)(\s*=\s*)(.*)$/;

function findEnv(source: string, key: string, shown: string): Found | string {
  const matches: Found[] = [];
  const problems: { line: number; reason: string }[] = [];
  splitLines(source).forEach(({ text }, i) => {
    const m = ENV_LINE.exec(text);
    if (!m || m[3] !== key) return;
    const at = m[1]!.length + (m[2]?.length ?? 0) + m[3]!.length + m[4]!.length;
    const raw = m[5]!;
    const where = `${shown} ${key}`;
    const quote = raw[0];
    if (quote === '"' || quote === "'" || quote === "`") {
      const close = closingQuote(raw, quote);
      if (close === -1) {
        problems.push({ line: i + 1, reason: `${where} (line ${i + 1}): the quoted value does not end on its line; expected a value on one line` });
        return;
      }
      const inner = raw.slice(1, close);
      const value = quote === '"' ? inner.replace(/\\(["\\])/g, "$1") : inner;
      matches.push({ line: i + 1, start: at, end: at + close + 1, value, style: { kind: "env", quote }, where });
      return;
    }
    const comment = /\s#/.exec(raw);
    const value = (comment ? raw.slice(0, comment.index) : raw).trimEnd();
    matches.push({ line: i + 1, start: at, end: at + value.length, value, style: { kind: "env", quote: "" }, where });
  });
  return single(matches, problems, `${shown} ${key}`, `${shown}: no ${key}=… line`);
}

function closingQuote(raw: string, quote: string): number {
  for (let i = 1; i < raw.length; i++) {
    if (raw[i] === "\\" && quote !== "'") i++;
    else if (raw[i] === quote) return i;
  }
  return -1;
}

/** The one match, or why there is none (or more than one). */
function single(matches: Found[], problems: { line: number; reason: string }[], where: string, none: string): Found | string {
  if (matches.length + problems.length > 1) {
    const lines = [...matches.map((m) => m.line), ...problems.map((p) => p.line)].sort((a, b) => a - b);
    return `${where}: set on ${lines.length} lines (${lines.join(", ")}); expected one`;
  }
  if (problems[0]) return problems[0].reason;
  return matches[0] ?? none;
}

/** A value for a .env file or a Dockerfile ENV, keeping the quotes it had when they still fit. */
function formatShellish(quote: Quote, value: ParamValue): string | undefined {
  const s = typeof value === "number" ? numberText(value) : String(value);
  if (s === undefined || /[\n\r]/.test(s)) return undefined;
  const fits: Record<Quote, boolean> = {
    "": /^[A-Za-z0-9_.,:/@+%=-]+$/.test(s),
    '"': !/["\\$`]/.test(s),
    "'": !s.includes("'"),
    "`": !/[`$\\]/.test(s),
  };
  for (const q of [quote, '"', "'"] as const) if (fits[q]) return `${q}${s}${q}`;
  return undefined;
}

// ----------------------------------------------------------------------------------- Dockerfile

function findDockerfile(source: string, key: string, shown: string): Found | string {
  const lines = splitLines(source);
  const escape = /^#\s*escape\s*=\s*`/i.test(lines[0]?.text ?? "") ? "`" : "\\";
  const matches: Found[] = [];
  const problems: { line: number; reason: string }[] = [];
  const where = `${shown} ENV ${key}`;
  let inEnv = false;
  let continued = false;
  lines.forEach(({ text }, i) => {
    const wasContinued = continued;
    continued = isContinued(text, escape);
    if (wasContinued) {
      if (/^\s*(#|$)/.test(text)) {
        continued = true; // comments and blank lines inside an instruction are skipped
        return;
      }
      if (inEnv) scanPairs(text, 0, escape, i + 1, key, where, matches);
      return;
    }
    const m = /^(\s*ENV\s+)/i.exec(text);
    inEnv = Boolean(m);
    if (!m) return;
    const from = m[1]!.length;
    const rest = text.slice(from);
    const legacy = /^([^\s=]+)\s+(?!=)/.exec(rest);
    if (legacy && !rest.slice(0, legacy[1]!.length).includes("=")) {
      // ENV KEY value with spaces: the value is the rest of the line
      if (legacy[1] !== key) return;
      if (continued) {
        problems.push({ line: i + 1, reason: `${where} (line ${i + 1}): the value continues on the next line; expected a value on one line` });
        return;
      }
      const start = from + legacy[0].length;
      const raw = text.slice(start).trimEnd();
      const quoted = /^(["'])(.*)\1$/.exec(raw);
      matches.push({
        line: i + 1,
        start,
        end: start + raw.length,
        value: quoted ? (quoted[1] === '"' ? unescapeDouble(quoted[2]!, escape) : quoted[2]!) : raw,
        style: { kind: "dockerfile", quote: quoted ? (quoted[1] as '"' | "'") : "" },
        where,
      });
      return;
    }
    scanPairs(text, from, escape, i + 1, key, where, matches);
  });
  return single(matches, problems, where, `${shown}: no ENV ${key}`);
}

function isContinued(text: string, escape: string): boolean {
  return new RegExp(`${escapeRegExp(escape)}\\s*$`).test(text) && !/^\s*#/.test(text);
}

/** `KEY=value KEY2="v 2"` pairs on one physical line of an ENV instruction. */
function scanPairs(text: string, from: number, escape: string, line: number, key: string, where: string, out: Found[]): void {
  let i = from;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length || (text[i] === escape && /^\s*$/.test(text.slice(i + 1)))) return;
    const eq = text.indexOf("=", i);
    const space = text.slice(i).search(/\s/);
    if (eq === -1 || (space !== -1 && i + space < eq)) return; // not a pair: leave the line alone
    const name = text.slice(i, eq);
    const start = eq + 1;
    let j = start;
    let value = "";
    let quote: Quote = "";
    let parts = 0;
    while (j < text.length && !/\s/.test(text[j]!)) {
      const c = text[j]!;
      parts++;
      if (c === '"' || c === "'") {
        const close = closingQuote(text.slice(j), c === "'" ? "'" : '"');
        if (close === -1) return;
        const inner = text.slice(j + 1, j + close);
        value += c === '"' ? unescapeDouble(inner, escape) : inner;
        quote = c;
        j += close + 1;
      } else if (c === escape && j + 1 < text.length) {
        value += text[j + 1];
        j += 2;
      } else {
        value += c;
        j++;
      }
    }
    if (name === key) {
      out.push({ line, start, end: j, value, style: { kind: "dockerfile", quote: parts === 1 || isWhollyQuoted(text.slice(start, j)) ? quote : "" }, where });
    }
    i = j;
  }
}

function isWhollyQuoted(raw: string): boolean {
  return /^"(?:[^"\\]|\\.)*"$/.test(raw) || /^'[^']*'$/.test(raw);
}

function unescapeDouble(inner: string, escape: string): string {
  return inner.replace(new RegExp(`${escapeRegExp(escape)}(.)`, "g"), "$1");
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// --------------------------------------------------------------------------------------- values

/** Whether the value found in a file is the current configuration's value. */
function sameValue(found: Pick<Found, "value">, expected: ParamValue): boolean {
  const v = found.value;
  if (typeof expected === "number") {
    if (typeof v === "number") return v === expected;
    return typeof v === "string" && v.trim() !== "" && Number(v) === expected;
  }
  if (typeof expected === "boolean") return v === expected || (typeof v === "string" && v.toLowerCase() === String(expected));
  return v !== null && String(v) === expected;
}

function formatValue(style: Style, value: ParamValue): string | undefined {
  switch (style.kind) {
    case "yaml":
      return formatYaml(style, value);
    case "env":
    case "dockerfile":
      return formatShellish(style.quote, value);
    case "memory": {
      if (typeof value !== "number" || style.inner.kind !== "yaml") return undefined;
      if (style.wasNumber) return formatYaml(style.inner, value);
      // keep the unit when the value is a whole number of it ("1g" → "2g"), else MiB
      const unit = style.unit ?? "m";
      const perUnit = { k: 1 / 1024, m: 1, g: 1024, t: 1024 * 1024 }[unit[0]!.toLowerCase() as "k" | "m" | "g" | "t"];
      const inUnit = value / perUnit;
      const text = Number.isInteger(inUnit) ? `${numberText(inUnit)}${unit}` : `${numberText(value)}m`;
      return formatYaml({ ...style.inner, wasString: true }, text);
    }
  }
}

/** A number as YAML and .env files read it back: JavaScript's shortest round-trip form. */
function numberText(n: number): string | undefined {
  return Number.isFinite(n) ? String(n) : undefined;
}

function show(value: unknown): string {
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function clip(reason: string): string {
  return reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON - 1)}…` : reason;
}
