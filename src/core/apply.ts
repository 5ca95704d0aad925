/**
 * How one configuration becomes one shadow: environment variables, command arguments,
 * rendered config files, and the CPU/memory limits scaled to the shadow's fraction of the primary.
 */
import type { ShadowSpec } from "./ports.js";
import type { ApplyHow, Configuration, ParamValue, ParameterCatalog, WorkloadProfile } from "./types.js";

/** `{{name}}` in a template file; spaces inside the braces are allowed. */
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;

/** Every `{{name}}` placeholder of a template, with its 1-based line, in order. */
export function templatePlaceholders(content: string): { name: string; line: number }[] {
  const found: { name: string; line: number }[] = [];
  content.split("\n").forEach((text, i) => {
    for (const match of text.matchAll(PLACEHOLDER)) found.push({ name: match[1]!, line: i + 1 });
  });
  return found;
}

/** The template with each placeholder that `values` names replaced; the others are left as written. */
export function renderTemplate(content: string, values: Readonly<Record<string, ParamValue>>): string {
  return content.replace(PLACEHOLDER, (placeholder, name: string) => (Object.hasOwn(values, name) ? String(values[name]) : placeholder));
}

type TemplateApply = Extract<ApplyHow, { kind: "template" }>;

export function shadowSpecFor(input: {
  workload: WorkloadProfile;
  catalog: ParameterCatalog;
  config: Configuration;
  fraction: number;
  image: string;
  port: number;
  name: string;
}): ShadowSpec {
  const { workload, catalog, config, fraction } = input;
  const env: Record<string, string> = { ...workload.env, [workload.portEnv]: String(input.port) };
  const appended = new Map<string, string[]>();
  const args: string[] = [];
  // by container path: parameters sharing a template render it once
  const templates = new Map<string, TemplateApply>();
  let cpus = workload.resources.cpus;
  let memoryMiB = workload.resources.memoryMiB;
  for (const parameter of catalog) {
    const value = config[parameter.name];
    if (value === undefined) throw new Error(`configuration has no value for parameter ${parameter.name}`);
    const apply = parameter.apply;
    switch (apply.kind) {
      case "env": {
        const text = (apply.template ?? "{value}").replaceAll("{value}", String(value));
        if (apply.append) appended.set(apply.name, [...(appended.get(apply.name) ?? []), text]);
        else env[apply.name] = text;
        break;
      }
      case "arg":
        args.push(apply.template.replaceAll("{value}", String(value)));
        break;
      case "template":
        templates.set(apply.path, apply);
        break;
      case "cpus":
        cpus = Number(value);
        break;
      case "memory":
        memoryMiB = Number(value);
        break;
    }
  }
  // option lists keep the workload's own options first, then the parameters' in catalog order
  for (const [name, texts] of appended) env[name] = [workload.env[name], ...texts].filter((text) => text !== undefined && text !== "").join(" ");
  const command = workload.command || args.length > 0 ? [...(workload.command ?? []), ...args] : undefined;
  if (args.length > 0 && !workload.command) {
    throw new Error(`parameters applied as arguments need workload.command (the image's command is not known to append to)`);
  }
  const files = [...templates.values()].map((template) => {
    const missing = templatePlaceholders(template.content).find((placeholder) => !Object.hasOwn(config, placeholder.name));
    if (missing) throw new Error(`template for ${template.path}, line ${missing.line}: configuration has no value for {{${missing.name}}}`);
    return { path: template.path, content: renderTemplate(template.content, config) };
  });
  return {
    image: input.image,
    name: input.name,
    port: input.port,
    env,
    ...(command ? { command } : {}),
    ...(files.length > 0 ? { files } : {}),
    // the config schema guarantees these clear Docker's minimums (0.01 CPUs, 6 MiB)
    cpus: round(cpus * fraction, 3),
    memoryMiB: Math.round(memoryMiB * fraction),
    readyPath: workload.ready.path,
    readyTimeoutMs: workload.ready.timeoutMs,
    config,
  };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
