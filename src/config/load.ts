/**
 * Reads shadowgate.yml: YAML → schema → paths resolved against the file's folder.
 * Every failure is a ConfigError whose message names the file, the line and the field.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { LineCounter, parseDocument, isNode, type Document } from "yaml";
import { formatPath, parseConfig, type ConfigIssue, type ShadowgateConfig } from "./schema.js";
import { whyUnreadable } from "../core/errors.js";


export class ConfigError extends Error {
  constructor(
    message: string,
    readonly issues: string[] = [message],
  ) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Load and validate a config file; relative paths in it become absolute. */
export async function loadConfig(file: string): Promise<ShadowgateConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new ConfigError(`${file}: cannot read the config file: ${whyUnreadable(error)}`);
  }
  const config = parseConfigText(text, file);
  return resolvePaths(config, path.dirname(path.resolve(file)));
}

/**
 * Parse YAML text; `file` words errors, and template files named in it are read relative to
 * its folder (the current folder for a bare name).
 */
export function parseConfigText(text: string, file: string): ShadowgateConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((error) => {
      const pos = error.linePos?.[0];
      const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
      const message = error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
      return `${where}: invalid YAML: ${message}`;
    });
    throw new ConfigError(lines[0]!, lines);
  }
  const raw = doc.toJS();
  if (raw !== null && raw !== undefined && (typeof raw !== "object" || Array.isArray(raw))) {
    throw new ConfigError(`${file}:1: expected a mapping with workload and traffic sections, got ${Array.isArray(raw) ? "a list" : typeof raw}`);
  }
  const base = path.dirname(path.resolve(file));
  const result = parseConfig(raw, { readTemplate: (template) => readTemplateFile(path.resolve(base, template)) });
  if (!result.ok) {
    const lines = result.issues.map((issue) => formatIssue(issue, file, doc, lineCounter));
    const first = lines.length > 1 ? `${lines[0]} (and ${lines.length - 1} more)` : lines[0]!;
    throw new ConfigError(first, lines);
  }
  return result.config;
}

function readTemplateFile(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(whyUnreadable(error));
  }
}

function formatIssue(issue: ConfigIssue, file: string, doc: Document, lineCounter: LineCounter): string {
  const field = formatPath(issue.path);
  const line = lineOf(issue.path, doc, lineCounter) ?? (issue.near && lineOf(issue.near, doc, lineCounter));
  return `${file}${line ? `:${line}` : ""}: ${field ? `${field}: ` : ""}${issue.message}`;
}

/** The line of the deepest node of `parts` that exists in the document. */
function lineOf(parts: (string | number)[], doc: Document, lineCounter: LineCounter): number | undefined {
  for (let n = parts.length; n >= 1; n--) {
    const node = doc.getIn(parts.slice(0, n), true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    // a key whose value is null/absent: find the pair's key instead
    const parent = n > 1 ? doc.getIn(parts.slice(0, n - 1), true) : doc.contents;
    if (parent && typeof parent === "object" && "items" in parent) {
      for (const item of (parent as { items: unknown[] }).items) {
        const key = (item as { key?: { value?: unknown; range?: [number, number, number] } }).key;
        if (key && key.value === parts[n - 1] && key.range) return lineCounter.linePos(key.range[0]).line;
      }
    }
  }
  return undefined;
}

function resolvePaths(config: ShadowgateConfig, base: string): ShadowgateConfig {
  const source = config.workload.source;
  return {
    ...config,
    workload: {
      ...config.workload,
      source:
        source.kind === "build"
          ? { kind: "build", context: path.resolve(base, source.context), dockerfile: source.dockerfile }
          : source,
    },
    parameters: config.parameters.map((p) => ({
      ...p,
      ...(p.target ? { target: { ...p.target, file: path.resolve(base, p.target.file) } } : {}),
      ...(p.apply.kind === "template" && p.apply.file !== undefined ? { apply: { ...p.apply, file: path.resolve(base, p.apply.file) } } : {}),
    })),
    traffic: {
      ...config.traffic,
      file: path.resolve(base, config.traffic.file),
      ...(config.traffic.openapi !== undefined ? { openapi: path.resolve(base, config.traffic.openapi) } : {}),
    },
    store: { path: path.resolve(base, config.store.path) },
  };
}
