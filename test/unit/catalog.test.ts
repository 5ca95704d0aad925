import { describe, expect, it } from "vitest";
import path from "node:path";
import { CATALOGS, CATEGORY_NAMES, NGINX_CONF_TEMPLATE, catalogFor, type CatalogKnob } from "../../src/catalog/index.js";
import { loadConfig, parseConfigText } from "../../src/config/load.js";
import { checkValue } from "../../src/config/schema.js";
import { shadowSpecFor, templatePlaceholders } from "../../src/core/apply.js";
import type { ParamValue, ParameterSpec } from "../../src/core/types.js";

/** The spec a knob becomes: the catalog entry without its doc and default. */
function specOf({ doc: _doc, default: _default, ...spec }: CatalogKnob): ParameterSpec {
  return spec as ParameterSpec;
}

/** A value for every knob the catalog has no default for (and that is not a resource). */
function currentFor(knobs: readonly CatalogKnob[]): Record<string, ParamValue> {
  const current: Record<string, ParamValue> = {};
  for (const knob of knobs) {
    if (knob.default !== undefined || knob.apply.kind === "cpus" || knob.apply.kind === "memory") continue;
    current[knob.name] = knob.type === "enum" ? knob.values[0]! : knob.type === "bool" ? false : knob.min;
  }
  return current;
}

const resources = { cpus: 2, memoryMiB: 1024, minCpus: 0.04, minMemoryMiB: 24 };

describe("catalogs", () => {
  it("cover the documented categories, generic first", () => {
    expect(CATEGORY_NAMES).toEqual(["generic", "node-http", "jvm", "go-http", "nginx", "python-wsgi"]);
    expect(CATALOGS.generic!.knobs).toEqual([]);
    expect(catalogFor("rust", resources)).toBeUndefined();
    expect(catalogFor("toString", resources)).toBeUndefined();
  });

  it("include the knobs the docs name, each with a one-line doc and a valid default", () => {
    const names = Object.fromEntries(CATEGORY_NAMES.map((c) => [c, catalogFor(c, resources)!.knobs.map((k) => k.name)]));
    expect(names).toEqual({
      generic: ["cpus", "memory"],
      "node-http": ["UV_THREADPOOL_SIZE", "max_old_space_size", "max_semi_space_size", "WEB_CONCURRENCY", "cpus", "memory"],
      jvm: ["heap", "gc", "gc_threads", "cpus", "memory"],
      "go-http": ["GOMAXPROCS", "GOGC", "GOMEMLIMIT", "cpus", "memory"],
      nginx: ["worker_processes", "worker_connections", "keepalive_timeout", "gzip", "gzip_comp_level", "cpus", "memory"],
      "python-wsgi": ["workers", "threads", "worker_class", "cpus", "memory"],
    });
    for (const category of CATEGORY_NAMES) {
      for (const knob of catalogFor(category, resources)!.knobs) {
        // what it does, then the official document in parentheses, on one line
        expect(knob.doc, knob.name).toMatch(/^[^\n]+ \([^()\n]*(docs|Guide|Specifications)[^()\n]*\)$/);
        if (knob.default !== undefined) expect(checkValue(specOf(knob), knob.default), knob.name).toBeUndefined();
        if (knob.apply.kind === "env" && knob.apply.template !== undefined) expect(knob.apply.template).toContain("{value}");
      }
    }
  });

  it("put the CPU quota and memory limit around the primary's, above Docker's minimum share", () => {
    const [cpus, memory] = catalogFor("generic", resources)!.knobs;
    expect(cpus).toMatchObject({ type: "float", min: 1, max: 4, scale: "log", apply: { kind: "cpus" } });
    expect(memory).toMatchObject({ type: "int", min: 512, max: 2048, scale: "log", apply: { kind: "memory" } });
    const small = catalogFor("generic", { cpus: 0.05, memoryMiB: 30, minCpus: 0.04, minMemoryMiB: 24 })!.knobs;
    expect(small.map((k) => (k.type === "float" || k.type === "int" ? [k.min, k.max] : []))).toEqual([
      [0.04, 0.1],
      [24, 60],
    ]);
  });

  it("apply the nginx knobs through one nginx.conf template that names every one of them", () => {
    const knobs = CATALOGS.nginx!.knobs;
    expect(new Set(knobs.map((k) => k.apply))).toEqual(new Set([{ kind: "template", path: "/etc/nginx/nginx.conf", content: NGINX_CONF_TEMPLATE }]));
    expect(templatePlaceholders(NGINX_CONF_TEMPLATE).map((p) => p.name).sort()).toEqual(knobs.map((k) => k.name).sort());
  });

  it.each(CATEGORY_NAMES)("%s: validates through the config schema, searched whole when parameters are left out", (category) => {
    const knobs = catalogFor(category, { ...resources, minCpus: 0.01 / 0.25, minMemoryMiB: 6 / 0.25 })!.knobs;
    const given = currentFor(knobs);
    const config = parseConfigText(
      `workload: { name: api, category: ${category}, resources: { cpus: 2, memory: 1g } }\ncurrent: ${JSON.stringify(given)}\ntraffic: { file: t.har }\n`,
      "shadowgate.yml",
    );
    expect(config.parameters).toEqual(knobs.map(specOf));
    // current: the values given, the catalog's defaults, the primary's resources
    const defaults = Object.fromEntries(knobs.flatMap((k) => (k.default !== undefined ? [[k.name, k.default]] : [])));
    expect(config.current).toEqual({ ...defaults, ...given, cpus: 2, memory: 1024 });
    // the catalog's own rules come compiled, and the current configuration satisfies them
    expect(config.constraints.map((c) => c.source)).toEqual(CATALOGS[category]!.constraints);
    for (const constraint of config.constraints) expect(constraint.holds(config.current)).toBe(true);
  });

  it.each(CATEGORY_NAMES.filter((c) => c !== "generic"))("%s: has a worked example that loads and applies", async (category) => {
    const config = await loadConfig(path.resolve(`fixtures/catalog/${category}.yml`));
    expect(config.workload.category).toBe(category);
    const spec = shadowSpecFor({ workload: config.workload, catalog: config.parameters, config: config.current, fraction: config.shadows.fraction, image: "img", port: 41000, name: "s" });
    expect(spec.env.PORT ?? spec.env.SERVER_PORT).toBe("41000");
    // the knobs reach the shadow as the catalog says: joined options, env units, one rendered file
    const applied: Record<string, () => void> = {
      jvm: () => expect(spec.env.JAVA_TOOL_OPTIONS).toBe("-Xmx512m -XX:+UseG1GC -XX:ParallelGCThreads=2"),
      "node-http": () => expect(spec.env.NODE_OPTIONS).toBe("--enable-source-maps --max-old-space-size=128"),
      "python-wsgi": () => expect(spec.env.GUNICORN_CMD_ARGS).toBe("--access-logfile=- --workers=3 --threads=1 --worker-class=sync"),
      "go-http": () => expect(spec.env).toMatchObject({ GOMAXPROCS: "2", GOGC: "100", GOMEMLIMIT: "200MiB" }),
      nginx: () => {
        expect(spec.files?.map((f) => f.path)).toEqual(["/etc/nginx/nginx.conf"]);
        expect(spec.files![0]!.content).toMatch(/worker_processes {2}2;/);
        expect(spec.files![0]!.content).toMatch(/gzip {2}off;/);
        expect(spec.files![0]!.content).not.toContain("{{");
      },
    };
    applied[category]!();
  });
});
