import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { loadConfig } from "../../src/config/load.js";
import type { Configuration, ParameterCatalog, ParameterSpec } from "../../src/core/types.js";
import { editSchema, type Edit } from "../../src/results/schema.js";
import { parsePullRequestDiff, placeEdits, unquote } from "../../src/suggest/diff.js";
import { locateEdits, type LocateInput } from "../../src/suggest/locate.js";
import { fenced, suggestionBody, unifiedDiff } from "../../src/suggest/render.js";

const ROOT = "/repo";
const CONFIG = "/repo/deploy/shadowgate.yml";

const int = (name: string, target?: ParameterSpec["target"]): ParameterSpec => ({
  name,
  type: "int",
  min: 1,
  max: 4096,
  scale: "linear",
  apply: { kind: "env", name },
  ...(target ? { target } : {}),
});
const enumOf = (name: string, values: string[], target?: ParameterSpec["target"]): ParameterSpec => ({
  name,
  type: "enum",
  values,
  apply: { kind: "env", name },
  ...(target ? { target } : {}),
});
const bool = (name: string, target?: ParameterSpec["target"]): ParameterSpec => ({ name, type: "bool", apply: { kind: "env", name }, ...(target ? { target } : {}) });

/** locateEdits over in-memory files; `changed` defaults to the names whose values differ. */
function locate(files: Record<string, string>, parameters: ParameterCatalog, current: Configuration, recommended: Configuration, extra: Partial<LocateInput> = {}) {
  const changed = Object.keys(recommended).filter((k) => recommended[k] !== current[k]);
  return locateEdits({
    readFile: new Map(Object.entries(files).map(([p, text]) => [path.resolve(ROOT, p), text])),
    configFile: CONFIG,
    repoRoot: ROOT,
    parameters,
    current,
    recommended: { ...current, ...recommended },
    changed,
    ...extra,
  });
}

function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** A temporary git repository holding `files`; returns its folder. */
function gitRepo(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), "sg-suggest-"));
  execFileSync("git", ["init", "-q", dir]);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

function gitApply(dir: string, patch: string, ...args: string[]): void {
  writeFileSync(path.join(dir, "change.patch"), patch);
  execFileSync("git", ["apply", ...args, "change.patch"], { cwd: dir, stdio: "pipe" });
}

describe("locateEdits: the config file's current block", () => {
  it("merges two values on the example's flow-mapping line into one edit and keeps the rest byte for byte", async () => {
    const file = path.resolve("fixtures/example/shadowgate.yml");
    const config = await loadConfig(file);
    const text = readFileSync(file, "utf8");
    const suggestion = locateEdits({
      readFile: readOrUndefined,
      configFile: file,
      repoRoot: process.cwd(),
      parameters: config.parameters,
      current: config.current,
      recommended: { ...config.current, WORKER_POOL: 2, CACHE_SIZE: 1024 },
      changed: ["WORKER_POOL", "CACHE_SIZE"],
    });
    expect(suggestion.unresolved).toEqual([]);
    expect(suggestion.edits).toHaveLength(1);
    const edit = suggestion.edits[0]!;
    const lines = text.split("\n");
    expect(edit).toEqual({
      parameter: "WORKER_POOL,CACHE_SIZE",
      path: "fixtures/example/shadowgate.yml",
      line: lines.indexOf("current: { WORKER_POOL: 4, CACHE_SIZE: 128, BATCH_SIZE: 8, cpus: 2 }") + 1,
      before: "current: { WORKER_POOL: 4, CACHE_SIZE: 128, BATCH_SIZE: 8, cpus: 2 }",
      after: "current: { WORKER_POOL: 2, CACHE_SIZE: 1024, BATCH_SIZE: 8, cpus: 2 }",
    });
    // the whole file with the edit applied reads as the recommended configuration
    lines[edit.line - 1] = edit.after;
    expect(parse(lines.join("\n")).current).toEqual({ WORKER_POOL: 2, CACHE_SIZE: 1024, BATCH_SIZE: 8, cpus: 2 });
  });

  it("edits a block mapping line by line, keeping quotes, spacing and comments", () => {
    const config = ["workload: { name: api }", "current:", "  POOL:   4    # threads", "  MODE: 'lru'", '  LABEL: "blue"', "  FAST: true", "traffic: { file: t.har }", ""].join("\n");
    const suggestion = locate(
      { "deploy/shadowgate.yml": config },
      [int("POOL"), enumOf("MODE", ["lru", "lfu"]), enumOf("LABEL", ["blue", "green"]), bool("FAST")],
      { POOL: 4, MODE: "lru", LABEL: "blue", FAST: true },
      { POOL: 12, MODE: "lfu", LABEL: "green", FAST: false },
    );
    expect(suggestion.unresolved).toEqual([]);
    expect(suggestion.edits).toEqual([
      { parameter: "POOL", path: "deploy/shadowgate.yml", line: 3, before: "  POOL:   4    # threads", after: "  POOL:   12    # threads" },
      { parameter: "MODE", path: "deploy/shadowgate.yml", line: 4, before: "  MODE: 'lru'", after: "  MODE: 'lfu'" },
      { parameter: "LABEL", path: "deploy/shadowgate.yml", line: 5, before: '  LABEL: "blue"', after: '  LABEL: "green"' },
      { parameter: "FAST", path: "deploy/shadowgate.yml", line: 6, before: "  FAST: true", after: "  FAST: false" },
    ]);
    for (const edit of suggestion.edits) expect(editSchema.safeParse(edit).success).toBe(true);
  });

  it("writes values as YAML reads them back: floats as given, strings quoted only when needed", () => {
    const config = "current: { RATIO: 0.5, MODE: lru, LEVEL: 1, NAME: plain }\n";
    const suggestion = locate(
      { "deploy/shadowgate.yml": config },
      [
        { name: "RATIO", type: "float", min: 0, max: 10, scale: "linear", apply: { kind: "env", name: "RATIO" } },
        enumOf("MODE", ["lru", "8", "yes, please"]),
        enumOf("LEVEL", ["1", "2"]),
        enumOf("NAME", ["plain", "true"]),
      ],
      { RATIO: 0.5, MODE: "lru", LEVEL: 1, NAME: "plain" },
      { RATIO: 2.5000000001, MODE: "yes, please", LEVEL: "2", NAME: "true" },
    );
    expect(suggestion.unresolved).toEqual([]);
    // a comma inside a flow mapping and a string that reads as a boolean are quoted; an enum
    // written as a bare number stays a bare number
    expect(suggestion.edits[0]!.after).toBe('current: { RATIO: 2.5000000001, MODE: "yes, please", LEVEL: 2, NAME: "true" }');
  });

  it("falls back to workload.resources for cpus and memory parameters absent from current, keeping the unit", async () => {
    const file = path.resolve("fixtures/suggest/shadowgate.yml");
    const config = await loadConfig(file);
    const suggestion = locateEdits({
      readFile: readOrUndefined,
      configFile: file,
      repoRoot: process.cwd(),
      parameters: config.parameters,
      current: config.current,
      recommended: { ...config.current, cpus: 1.5, memory: 2048 },
      changed: ["cpus", "memory"],
    });
    expect(suggestion.unresolved).toEqual([]);
    expect(suggestion.edits.map((e) => [e.parameter, e.line, e.after])).toEqual([
      ["cpus", 6, "    cpus: 1.5          # primary's cores"],
      ["memory", 7, "    memory: 2g"],
    ]);
  });
});

describe("locateEdits: target files", () => {
  it("finds .env variables with export, quotes and comments", () => {
    const env = [
      "# settings",
      "export WORKER_POOL=4   # threads",
      'CACHE_MODE="lru"',
      "GREETING='hello # not a comment'",
      "# WORKER_POOL=99 is only a comment",
      "TIMEOUT = 30",
      "",
    ].join("\n");
    const target = (key: string) => ({ file: "../.env", key });
    const suggestion = locate(
      { ".env": env, "deploy/shadowgate.yml": `current: { WORKER_POOL: 4, CACHE_MODE: lru, GREETING: "hello # not a comment", TIMEOUT: 30 }\n` },
      [int("WORKER_POOL", target("WORKER_POOL")), enumOf("CACHE_MODE", ["lru", "lfu"], target("CACHE_MODE")), enumOf("GREETING", ["hello # not a comment", "it's me"], target("GREETING")), int("TIMEOUT", target("TIMEOUT"))],
      { WORKER_POOL: 4, CACHE_MODE: "lru", GREETING: "hello # not a comment", TIMEOUT: 30 },
      { WORKER_POOL: 8, CACHE_MODE: "lfu", GREETING: "it's me", TIMEOUT: 45 },
    );
    expect(suggestion.unresolved).toEqual([]);
    expect(suggestion.edits).toEqual([
      { parameter: "WORKER_POOL", path: ".env", line: 2, before: "export WORKER_POOL=4   # threads", after: "export WORKER_POOL=8   # threads" },
      { parameter: "CACHE_MODE", path: ".env", line: 3, before: 'CACHE_MODE="lru"', after: 'CACHE_MODE="lfu"' },
      // a single quote cannot sit inside single quotes: switched to double quotes
      { parameter: "GREETING", path: ".env", line: 4, before: "GREETING='hello # not a comment'", after: `GREETING="it's me"` },
      { parameter: "TIMEOUT", path: ".env", line: 6, before: "TIMEOUT = 30", after: "TIMEOUT = 45" },
      // and the anchor in the config file, so that both places agree once accepted
      {
        parameter: "WORKER_POOL,CACHE_MODE,GREETING,TIMEOUT",
        path: "deploy/shadowgate.yml",
        line: 1,
        before: 'current: { WORKER_POOL: 4, CACHE_MODE: lru, GREETING: "hello # not a comment", TIMEOUT: 30 }',
        after: `current: { WORKER_POOL: 8, CACHE_MODE: lfu, GREETING: "it's me", TIMEOUT: 45 }`,
      },
    ]);
  });

  it("finds nested keys and list items in a Helm-like values file, keeping comments and quotes", () => {
    const values = [
      "# Helm values",
      "replicaCount: 2",
      "cache:",
      "  # entries per pod",
      "  size: 128 # tuned by hand",
      "podAnnotations:",
      '  prometheus.io/scrape: "true"',
      "worker:",
      "  env:",
      "    - name: BATCH_SIZE",
      '      value: "8"',
      "    - { name: MODE, value: lru }",
      "",
    ].join("\n");
    const target = (key: string) => ({ file: "/repo/chart/values.yaml", key });
    const suggestion = locate(
      { "chart/values.yaml": values, "deploy/shadowgate.yml": "current: { CACHE_SIZE: 128, BATCH_SIZE: 8, MODE: lru, SCRAPE: true }\n" },
      [int("CACHE_SIZE", target("cache.size")), int("BATCH_SIZE", target("worker.env.0.value")), enumOf("MODE", ["lru", "lfu"], target("worker.env.1.value")), bool("SCRAPE", target("podAnnotations.prometheus.io/scrape"))],
      { CACHE_SIZE: 128, BATCH_SIZE: 8, MODE: "lru", SCRAPE: true },
      { CACHE_SIZE: 1024, BATCH_SIZE: 4, MODE: "lfu", SCRAPE: false },
    );
    expect(suggestion.unresolved).toEqual([]);
    expect(suggestion.edits.map((e) => [e.parameter, e.line, e.after])).toEqual([
      ["CACHE_SIZE", 5, "  size: 1024 # tuned by hand"],
      ["SCRAPE", 7, '  prometheus.io/scrape: "false"'],
      ["BATCH_SIZE", 11, '      value: "4"'],
      ["MODE", 12, "    - { name: MODE, value: lfu }"],
      ["CACHE_SIZE,BATCH_SIZE,MODE,SCRAPE", 1, "current: { CACHE_SIZE: 1024, BATCH_SIZE: 4, MODE: lfu, SCRAPE: false }"],
    ]);
  });

  it("finds Dockerfile ENV in both forms, merging two pairs of one line and following continuations", () => {
    const dockerfile = [
      "FROM node:20-alpine",
      "ENV NODE_ENV=production GC_MODE=incremental POOL=4",
      "ENV LOG_LEVEL info",
      "ENV A=1 \\",
      '    QUOTED="a b"',
      "RUN echo POOL=99",
      "",
    ].join("\n");
    const target = (key: string) => ({ file: "../Dockerfile", key });
    const suggestion = locate(
      { Dockerfile: dockerfile, "deploy/shadowgate.yml": "current:\n  GC_MODE: incremental\n  POOL: 4\n  LOG_LEVEL: info\n  QUOTED: a b\n" },
      [enumOf("GC_MODE", ["incremental", "full"], target("GC_MODE")), int("POOL", target("POOL")), enumOf("LOG_LEVEL", ["info", "debug"], target("LOG_LEVEL")), enumOf("QUOTED", ["a b", "c d"], target("QUOTED"))],
      { GC_MODE: "incremental", POOL: 4, LOG_LEVEL: "info", QUOTED: "a b" },
      { GC_MODE: "full", POOL: 2, LOG_LEVEL: "debug", QUOTED: "c d" },
    );
    expect(suggestion.unresolved).toEqual([]);
    expect(suggestion.edits).toEqual([
      { parameter: "GC_MODE,POOL", path: "Dockerfile", line: 2, before: "ENV NODE_ENV=production GC_MODE=incremental POOL=4", after: "ENV NODE_ENV=production GC_MODE=full POOL=2" },
      { parameter: "LOG_LEVEL", path: "Dockerfile", line: 3, before: "ENV LOG_LEVEL info", after: "ENV LOG_LEVEL debug" },
      { parameter: "QUOTED", path: "Dockerfile", line: 5, before: '    QUOTED="a b"', after: '    QUOTED="c d"' },
      { parameter: "GC_MODE", path: "deploy/shadowgate.yml", line: 2, before: "  GC_MODE: incremental", after: "  GC_MODE: full" },
      { parameter: "POOL", path: "deploy/shadowgate.yml", line: 3, before: "  POOL: 4", after: "  POOL: 2" },
      { parameter: "LOG_LEVEL", path: "deploy/shadowgate.yml", line: 4, before: "  LOG_LEVEL: info", after: "  LOG_LEVEL: debug" },
      { parameter: "QUOTED", path: "deploy/shadowgate.yml", line: 5, before: "  QUOTED: a b", after: "  QUOTED: c d" },
    ]);
  });

  it("resolves the fixture's targets relative to the config file", async () => {
    const file = path.resolve("fixtures/suggest/shadowgate.yml");
    const config = await loadConfig(file);
    const suggestion = locateEdits({
      readFile: readOrUndefined,
      configFile: file,
      repoRoot: process.cwd(),
      parameters: config.parameters,
      current: config.current,
      recommended: { ...config.current, WORKER_POOL: 6, CACHE_MODE: "lfu", CACHE_SIZE: 2048, BATCH_SIZE: 16, GC_MODE: "full", LOG_LEVEL: "debug" },
      changed: ["WORKER_POOL", "CACHE_MODE", "CACHE_SIZE", "BATCH_SIZE", "GC_MODE", "LOG_LEVEL"],
    });
    expect(suggestion.unresolved).toEqual([]);
    expect(suggestion.edits.map((e) => `${e.path}:${e.line}: ${e.after}`)).toEqual([
      "fixtures/suggest/.env:2: export WORKER_POOL=6   # worker threads",
      'fixtures/suggest/.env:3: CACHE_MODE="lfu"',
      "fixtures/suggest/Dockerfile:3: ENV NODE_ENV=production GC_MODE=full",
      "fixtures/suggest/Dockerfile:4: ENV LOG_LEVEL debug",
      "fixtures/suggest/chart/values.yaml:6:   size: 2048 # tuned by hand",
      'fixtures/suggest/chart/values.yaml:12:       value: "16"',
      "fixtures/suggest/shadowgate.yml:21:   WORKER_POOL: 6",
      "fixtures/suggest/shadowgate.yml:22:   CACHE_MODE: lfu",
      "fixtures/suggest/shadowgate.yml:23:   CACHE_SIZE: 2048",
      "fixtures/suggest/shadowgate.yml:24:   BATCH_SIZE: 16",
      "fixtures/suggest/shadowgate.yml:25:   GC_MODE: full",
      "fixtures/suggest/shadowgate.yml:26:   LOG_LEVEL: debug",
    ]);
  });
});

describe("locateEdits: a targeted parameter's two places", () => {
  const config = "workload: { name: api }\ncurrent: { POOL: 4, CACHE: 128 }   # the anchor\ntraffic: { file: t.har }\n";
  const pool = int("POOL", { file: "../.env", key: "POOL" });

  it("edits the target and the config file's current, merged with an untargeted parameter on the same line", () => {
    const suggestion = locate({ ".env": "# settings\nPOOL=4\n", "deploy/shadowgate.yml": config }, [pool, int("CACHE")], { POOL: 4, CACHE: 128 }, { POOL: 8, CACHE: 1024 });
    expect(suggestion.unresolved).toEqual([]);
    expect(suggestion.edits).toEqual([
      { parameter: "POOL", path: ".env", line: 2, before: "POOL=4", after: "POOL=8" },
      { parameter: "POOL,CACHE", path: "deploy/shadowgate.yml", line: 2, before: "current: { POOL: 4, CACHE: 128 }   # the anchor", after: "current: { POOL: 8, CACHE: 1024 }   # the anchor" },
    ]);
  });

  it("changes neither place when the target disagrees, and the shared line only for the other parameter", () => {
    const suggestion = locate({ ".env": "# settings\nPOOL=6\n", "deploy/shadowgate.yml": config }, [pool, int("CACHE")], { POOL: 4, CACHE: 128 }, { POOL: 8, CACHE: 1024 });
    expect(suggestion.edits).toEqual([
      { parameter: "CACHE", path: "deploy/shadowgate.yml", line: 2, before: "current: { POOL: 4, CACHE: 128 }   # the anchor", after: "current: { POOL: 4, CACHE: 1024 }   # the anchor" },
    ]);
    expect(suggestion.unresolved).toEqual([
      { parameter: "POOL", reason: '.env POOL (line 2) is "6", but the current configuration has POOL: 4; make them agree first' },
    ]);
  });

  it("changes neither place when the config file's current is missing the value, naming the config file", () => {
    const suggestion = locate(
      { ".env": "POOL=4\n", "deploy/shadowgate.yml": "current:\n  CACHE: 128\n" },
      [pool, int("CACHE")],
      { POOL: 4, CACHE: 128 },
      { POOL: 8, CACHE: 1024 },
    );
    expect(suggestion.edits.map((e) => [e.parameter, e.path, e.after])).toEqual([["CACHE", "deploy/shadowgate.yml", "  CACHE: 1024"]]);
    expect(suggestion.unresolved).toEqual([{ parameter: "POOL", reason: 'deploy/shadowgate.yml current.POOL: no key "POOL" under "current" (keys: CACHE)' }]);
  });

  it("names both places when both fail", () => {
    const suggestion = locate({ ".env": "OTHER=1\n", "deploy/shadowgate.yml": "current: { POOL: 5 }\n" }, [pool], { POOL: 4 }, { POOL: 8 });
    expect(suggestion.edits).toEqual([]);
    expect(suggestion.unresolved).toEqual([
      { parameter: "POOL", reason: ".env: no POOL=… line; deploy/shadowgate.yml current.POOL (line 1) is 5, but the current configuration has POOL: 4; make them agree first" },
    ]);
  });

  it("drops both places when one of them cannot be written once the lines are built", () => {
    // the config line would grow past the results document's bound: the .env edit goes too
    const padding = "x".repeat(1960);
    const suggestion = locate(
      { ".env": "POOL=4\n", "deploy/shadowgate.yml": `current: { POOL: 4, NOTE: ${padding} }\n` },
      [pool, enumOf("NOTE", [padding, "y"])],
      { POOL: 4, NOTE: padding },
      { POOL: 123456789012345, NOTE: padding },
    );
    expect(suggestion.edits).toEqual([]);
    expect(suggestion.unresolved).toEqual([{ parameter: "POOL", reason: "deploy/shadowgate.yml:1: the line is longer than 2000 characters; edit it by hand" }]);
  });

  it("edits once a target that is the config file's own current value", () => {
    const suggestion = locate({ "deploy/shadowgate.yml": config }, [int("POOL", { file: "shadowgate.yml", key: "current.POOL" })], { POOL: 4, CACHE: 128 }, { POOL: 2 });
    expect(suggestion.unresolved).toEqual([]);
    expect(suggestion.edits.map((e) => [e.parameter, e.line, e.after])).toEqual([["POOL", 2, "current: { POOL: 2, CACHE: 128 }   # the anchor"]]);
  });

  it("keeps a targeted cpus or memory parameter absent from current to its target (the default from workload.resources)", () => {
    const cpus: ParameterSpec = { name: "cpus", type: "float", min: 1, max: 4, scale: "linear", apply: { kind: "cpus" }, target: { file: "../chart/values.yaml", key: "resources.cpu" } };
    const suggestion = locate(
      { "chart/values.yaml": "resources:\n  cpu: 2\n", "deploy/shadowgate.yml": "workload: { name: api, resources: { cpus: 2 } }\ncurrent: { POOL: 4 }\n" },
      [cpus],
      { cpus: 2 },
      { cpus: 3 },
    );
    expect(suggestion.unresolved).toEqual([]);
    expect(suggestion.edits.map((e) => [e.parameter, e.path, e.after])).toEqual([["cpus", "chart/values.yaml", "  cpu: 3"]]);
  });
});

describe("locateEdits: what it cannot edit", () => {
  it("reports a file that disagrees with the current configuration, naming the file, key and both values", () => {
    const suggestion = locate(
      { ".env": "WORKER_POOL=6\n", "chart/values.yaml": "cache:\n  size: 256\n", "deploy/shadowgate.yml": "current: { WORKER_POOL: 4, CACHE_SIZE: 128 }\n" },
      [int("WORKER_POOL", { file: "../.env", key: "WORKER_POOL" }), int("CACHE_SIZE", { file: "../chart/values.yaml", key: "cache.size" })],
      { WORKER_POOL: 4, CACHE_SIZE: 128 },
      { WORKER_POOL: 8, CACHE_SIZE: 1024 },
    );
    expect(suggestion.edits).toEqual([]);
    expect(suggestion.unresolved).toEqual([
      { parameter: "WORKER_POOL", reason: ".env WORKER_POOL (line 1) is \"6\", but the current configuration has WORKER_POOL: 4; make them agree first" },
      { parameter: "CACHE_SIZE", reason: "chart/values.yaml key cache.size (line 2) is 256, but the current configuration has CACHE_SIZE: 128; make them agree first" },
    ]);
  });

  it("explains missing keys, missing files, duplicates, multi-line values and paths outside the repository", () => {
    const suggestion = locate(
      {
        ".env": "A=1\nA=2\n",
        "chart/values.yaml": "cache:\n  size: 1\n  text: |\n    many\n",
        "deploy/shadowgate.yml": "current: { P: 1, A: 1, B: 1, C: many, D: 1, E: 1 }\n",
      },
      [
        int("A", { file: "../.env", key: "A" }),
        int("B", { file: "../chart/values.yaml", key: "cache.count" }),
        enumOf("C", ["many", "few"], { file: "../chart/values.yaml", key: "cache.text" }),
        int("D", { file: "../Dockerfile", key: "D" }),
        int("E", { file: "../../elsewhere/.env", key: "E" }),
        int("F"),
      ],
      { A: 1, B: 1, C: "many", D: 1, E: 1, F: 1 },
      { A: 2, B: 2, C: "few", D: 2, E: 2, F: 2 },
    );
    expect(suggestion.edits).toEqual([]);
    const reasons = Object.fromEntries(suggestion.unresolved.map((u) => [u.parameter, u.reason]));
    expect(reasons).toEqual({
      A: ".env A: set on 2 lines (1, 2); expected one",
      B: 'chart/values.yaml key cache.count: no key "count" under "cache" (keys: size, text)',
      C: "chart/values.yaml key cache.text: the value is a block scalar (| or >); expected a value on one line",
      D: "Dockerfile: cannot read the file",
      E: "/elsewhere/.env is outside the repository (/repo)",
      F: 'deploy/shadowgate.yml current.F: no key "F" under "current" (keys: P, A, B, C, D, E)',
    });
  });

  it("refuses two parameters that point at the same value", () => {
    const suggestion = locate(
      { ".env": "POOL=4\n", "deploy/shadowgate.yml": "current: { A: 4, B: 4 }\n" },
      [int("A", { file: "../.env", key: "POOL" }), int("B", { file: "../.env", key: "POOL" })],
      { A: 4, B: 4 },
      { A: 8, B: 6 },
    );
    // B keeps neither place: the shared current line changes only A
    expect(suggestion.edits.map((e) => [e.parameter, e.path, e.after])).toEqual([
      ["A", ".env", "POOL=8"],
      ["A", "deploy/shadowgate.yml", "current: { A: 8, B: 4 }"],
    ]);
    expect(suggestion.unresolved).toEqual([{ parameter: "B", reason: ".env:1: the same value as A; give each parameter its own target" }]);
  });
});

describe("parsePullRequestDiff", () => {
  const diff = [
    "diff --git a/deploy/shadowgate.yml b/deploy/shadowgate.yml",
    "index 1111111..2222222 100644",
    "--- a/deploy/shadowgate.yml",
    "+++ b/deploy/shadowgate.yml",
    "@@ -1,4 +1,5 @@ workload:",
    " workload: { name: api }",
    "-current: { POOL: 2 }",
    "+current: { POOL: 4 }",
    "+# a new comment",
    " traffic: { file: t.har }",
    " slo: {}",
    "@@ -20,2 +21,2 @@",
    " a",
    "-b",
    "+c",
    "\\ No newline at end of file",
    "diff --git a/old/.env b/new/.env",
    "similarity index 90%",
    "rename from old/.env",
    "rename to new/.env",
    "index 3333333..4444444 100644",
    "--- a/old/.env",
    "+++ b/new/.env",
    "@@ -1 +1 @@",
    "-POOL=2",
    "\\ No newline at end of file",
    "+POOL=4",
    "\\ No newline at end of file",
    "diff --git a/moved.txt b/renamed.txt",
    "similarity index 100%",
    "rename from moved.txt",
    "rename to renamed.txt",
    "diff --git a/logo.png b/logo.png",
    "new file mode 100644",
    "index 0000000..5555555",
    "Binary files /dev/null and b/logo.png differ",
    "diff --git a/gone.yml b/gone.yml",
    "deleted file mode 100644",
    "index 6666666..0000000",
    "--- a/gone.yml",
    "+++ /dev/null",
    "@@ -1,2 +0,0 @@",
    "-a: 1",
    "-b: 2",
    "diff --git a/fresh.env b/fresh.env",
    "new file mode 100644",
    "index 0000000..7777777",
    "--- /dev/null",
    "+++ b/fresh.env",
    "@@ -0,0 +1,2 @@",
    "+A=1",
    "+B=2",
    'diff --git "a/t\\303\\244st file.yml" "b/t\\303\\244st file.yml"',
    "--- \"a/t\\303\\244st file.yml\"",
    "+++ \"b/t\\303\\244st file.yml\"",
    "@@ -1 +1 @@",
    "-x: 1\r",
    "+x: 2\r",
    "",
  ].join("\n");

  it("maps each file that exists after the change to the RIGHT-side lines of its hunks", () => {
    const files = parsePullRequestDiff(diff);
    expect([...files.keys()]).toEqual(["deploy/shadowgate.yml", "new/.env", "renamed.txt", "logo.png", "fresh.env", "täst file.yml"]);
    const config = files.get("deploy/shadowgate.yml")!;
    expect(config.map((h) => [h.oldStart, h.oldLines, h.newStart, h.newLines, h.section])).toEqual([
      [1, 4, 1, 5, "workload:"],
      [20, 2, 21, 2, ""],
    ]);
    expect(config[0]!.right).toEqual([
      { line: 1, text: "workload: { name: api }", kind: "context" },
      { line: 2, text: "current: { POOL: 4 }", kind: "added" },
      { line: 3, text: "# a new comment", kind: "added" },
      { line: 4, text: "traffic: { file: t.har }", kind: "context" },
      { line: 5, text: "slo: {}", kind: "context" },
    ]);
    expect(config[1]!.right).toEqual([
      { line: 21, text: "a", kind: "context" },
      { line: 22, text: "c", kind: "added" },
    ]);
    expect(files.get("new/.env")![0]!.right).toEqual([{ line: 1, text: "POOL=4", kind: "added" }]);
    expect(files.get("renamed.txt")).toEqual([]);
    expect(files.get("logo.png")).toEqual([]);
    expect(files.get("fresh.env")![0]!.right.map((r) => [r.line, r.text])).toEqual([
      [1, "A=1"],
      [2, "B=2"],
    ]);
    // a CRLF file's lines are compared without the \r
    expect(files.get("täst file.yml")![0]!.right).toEqual([{ line: 1, text: "x: 2", kind: "added" }]);
  });

  it("unquotes git's C-style paths", () => {
    expect(unquote('"t\\303\\244st\\tx\\"y\\\\z"')).toBe('täst\tx"y\\z');
    expect(unquote("plain name")).toBe("plain name");
  });

  it("returns nothing for an empty diff", () => {
    expect(parsePullRequestDiff("").size).toBe(0);
  });
});

describe("placeEdits", () => {
  const diff = parsePullRequestDiff(
    [
      "diff --git a/shadowgate.yml b/shadowgate.yml",
      "--- a/shadowgate.yml",
      "+++ b/shadowgate.yml",
      "@@ -8,3 +8,4 @@",
      " parameters: []",
      "+# tuned",
      " current: { POOL: 4, CACHE: 128 }",
      " traffic: { file: t.har }",
      "diff --git a/.env b/.env",
      "--- a/.env",
      "+++ b/.env",
      "@@ -1,2 +1,2 @@",
      " MODE=lru",
      "-X=1",
      "+X=2",
      "@@ -10,2 +10,2 @@",
      " MODE=lru",
      "-Y=1",
      "+Y=2",
      "",
    ].join("\n"),
  );
  const edit = (path: string, line: number, before: string, after: string, parameter = "POOL"): Edit => ({ parameter, path, line, before, after });

  it("suggests on a RIGHT-side line whose text matches, and leaves lines outside the diff to the unified diff", () => {
    const inside = edit("shadowgate.yml", 10, "current: { POOL: 4, CACHE: 128 }", "current: { POOL: 2, CACHE: 128 }");
    const outsideHunk = edit("shadowgate.yml", 30, "slo: {}", "slo: { latency.p99: 1 }");
    const otherFile = edit("Dockerfile", 3, "ENV POOL=4", "ENV POOL=2");
    const placed = placeEdits([inside, outsideHunk, otherFile], diff);
    expect(placed.review).toEqual([{ path: "shadowgate.yml", line: 10, side: "RIGHT", body: suggestionBody(inside), edit: inside }]);
    expect(placed.outside).toEqual([outsideHunk, otherFile]);
  });

  it("follows a line that moved at the PR head, but only when its text is found exactly once", () => {
    const moved = edit("shadowgate.yml", 9, "current: { POOL: 4, CACHE: 128 }", "current: { POOL: 2, CACHE: 128 }");
    const ambiguous = edit(".env", 5, "MODE=lru", "MODE=lfu", "MODE");
    const changedText = edit(".env", 2, "X=1", "X=3", "X");
    const placed = placeEdits([moved, ambiguous, changedText], diff);
    expect(placed.review.map((r) => [r.path, r.line, r.edit])).toEqual([["shadowgate.yml", 10, moved]]);
    expect(placed.outside).toEqual([ambiguous, changedText]);
  });

  it("puts a second edit for an already used line outside", () => {
    const a = edit(".env", 2, "X=2", "X=3", "X");
    const b = edit(".env", 2, "X=2", "X=4", "X");
    const placed = placeEdits([a, b], diff, () => "body");
    expect(placed.review).toEqual([{ path: ".env", line: 2, side: "RIGHT", body: "body", edit: a }]);
    expect(placed.outside).toEqual([b]);
  });
});

describe("render", () => {
  it("writes a suggestion block GitHub can apply, with the changed parameters named", () => {
    const body = suggestionBody({ parameter: "WORKER_POOL,CACHE_SIZE", path: "a.yml", line: 3, before: "x", after: "current: { WORKER_POOL: 2, CACHE_SIZE: 1024 }" }, "Predicted p99: 12% lower.");
    expect(body).toBe(
      "Shadowgate recommends new values for `WORKER_POOL` and `CACHE_SIZE`. Commit the suggestion to apply them.\n\nPredicted p99: 12% lower.\n\n```suggestion\ncurrent: { WORKER_POOL: 2, CACHE_SIZE: 1024 }\n```",
    );
  });

  it("makes the fence longer than any run of backticks in the content", () => {
    expect(fenced("a ``` b", "suggestion")).toBe("````suggestion\na ``` b\n````");
    expect(fenced("`````", "")).toBe("``````\n`````\n``````");
    expect(fenced("no ticks", "diff")).toBe("```diff\nno ticks\n```");
    const body = suggestionBody({ parameter: "CMD", path: "a", line: 1, before: "x", after: 'RUN echo "```"' });
    const fence = body.split("\n").find((l) => l.startsWith("`"))!;
    expect(fence).toBe("````suggestion");
    expect(body.endsWith("\n````")).toBe(true);
  });

  it("writes a unified diff that git apply accepts, with context, merged hunks, CRLF and a missing final newline", () => {
    const config = ["# c1", "# c2", "workload: { name: api }", "current:", "  POOL: 4", "  CACHE: 128", "  MODE: lru", "# c3", "# c4", "# c5", "# c6", "# c7", "traffic: { file: t.har }", "slo: {}", ""].join("\n");
    const env = "export POOL=4\r\nMODE=lru\r\n";
    const dockerfile = "FROM node\nENV A=1"; // no newline at the end
    const dir = gitRepo({ "deploy/shadowgate.yml": config, ".env": env, Dockerfile: dockerfile });
    const edits: Edit[] = [
      { parameter: "POOL", path: "deploy/shadowgate.yml", line: 5, before: "  POOL: 4", after: "  POOL: 8" },
      { parameter: "CACHE", path: "deploy/shadowgate.yml", line: 6, before: "  CACHE: 128", after: "  CACHE: 256" },
      { parameter: "SLO", path: "deploy/shadowgate.yml", line: 14, before: "slo: {}", after: "slo: { errors.rate: 1% }" },
      { parameter: "POOL", path: ".env", line: 1, before: "export POOL=4", after: "export POOL=2" },
      { parameter: "A", path: "Dockerfile", line: 2, before: "ENV A=1", after: "ENV A=2" },
    ];
    const patch = unifiedDiff(edits, (p) => readOrUndefined(path.join(dir, p)));
    expect(patch).toContain(
      ["--- a/deploy/shadowgate.yml", "+++ b/deploy/shadowgate.yml", "@@ -3,6 +3,6 @@", " workload: { name: api }", " current:", "-  POOL: 4", "-  CACHE: 128", "+  POOL: 8", "+  CACHE: 256", "   MODE: lru", " # c3", "@@ -12,3 +12,3 @@"].join("\n"),
    );
    expect(patch).toContain(["@@ -1,2 +1,2 @@", " FROM node", "-ENV A=1", "\\ No newline at end of file", "+ENV A=2", "\\ No newline at end of file"].join("\n"));
    gitApply(dir, patch, "--check");
    gitApply(dir, patch);
    expect(readFileSync(path.join(dir, "deploy/shadowgate.yml"), "utf8")).toBe(config.replace("POOL: 4", "POOL: 8").replace("CACHE: 128", "CACHE: 256").replace("slo: {}", "slo: { errors.rate: 1% }"));
    expect(readFileSync(path.join(dir, ".env"), "utf8")).toBe("export POOL=2\r\nMODE=lru\r\n");
    expect(readFileSync(path.join(dir, "Dockerfile"), "utf8")).toBe("FROM node\nENV A=2");
  });

  it("applies the located edits of the fixture end to end", async () => {
    const fixture = path.resolve("fixtures/suggest");
    const files = [".env", "Dockerfile", "chart/values.yaml", "shadowgate.yml"];
    const dir = gitRepo(Object.fromEntries(files.map((f) => [`svc/${f}`, readFileSync(path.join(fixture, f), "utf8")])));
    const configFile = path.join(dir, "svc/shadowgate.yml");
    const config = await loadConfig(configFile);
    const recommended = { ...config.current, WORKER_POOL: 6, CACHE_SIZE: 2048, BATCH_SIZE: 16, GC_MODE: "full", cpus: 3 };
    const suggestion = locateEdits({
      readFile: readOrUndefined,
      configFile,
      repoRoot: dir,
      parameters: config.parameters,
      current: config.current,
      recommended,
      changed: ["WORKER_POOL", "CACHE_SIZE", "BATCH_SIZE", "GC_MODE", "cpus"],
    });
    expect(suggestion.unresolved).toEqual([]);
    const patch = unifiedDiff(suggestion.edits, (p) => readOrUndefined(path.join(dir, p)));
    gitApply(dir, patch, "--check");
    gitApply(dir, patch);
    // after applying, the files hold the recommended values, and the config still loads
    const applied = await loadConfig(configFile);
    expect(applied.current.cpus).toBe(3);
    expect(readFileSync(path.join(dir, "svc/.env"), "utf8")).toContain("export WORKER_POOL=6   # worker threads\n");
    expect(parse(readFileSync(path.join(dir, "svc/chart/values.yaml"), "utf8"))).toMatchObject({ cache: { size: 2048 }, worker: { env: [{ name: "BATCH_SIZE", value: "16" }, { name: "OTHER", value: "x" }] } });
    expect(readFileSync(path.join(dir, "svc/Dockerfile"), "utf8")).toContain("ENV NODE_ENV=production GC_MODE=full\n");
    // the anchor moved with the targets: the next run measures the recommended values and finds
    // every target in agreement with them
    expect(applied.current).toEqual(recommended);
    const next = locateEdits({
      readFile: readOrUndefined,
      configFile,
      repoRoot: dir,
      parameters: applied.parameters,
      current: applied.current,
      recommended: { ...applied.current, WORKER_POOL: 2, CACHE_SIZE: 64, BATCH_SIZE: 4, GC_MODE: "incremental", cpus: 2 },
      changed: ["WORKER_POOL", "CACHE_SIZE", "BATCH_SIZE", "GC_MODE", "cpus"],
    });
    expect(next.unresolved).toEqual([]);
    expect(next.edits.map((e) => `${e.path}:${e.line}`)).toEqual([
      "svc/.env:2",
      "svc/Dockerfile:3",
      "svc/chart/values.yaml:6",
      "svc/chart/values.yaml:12",
      "svc/shadowgate.yml:6",
      "svc/shadowgate.yml:21",
      "svc/shadowgate.yml:23",
      "svc/shadowgate.yml:24",
      "svc/shadowgate.yml:25",
    ]);
  });

  it("without the files' text writes zero-context hunks that git apply --unidiff-zero accepts", () => {
    const dir = gitRepo({ "a.env": "A=1\nB=2\nC=3\nD=4\n" });
    const patch = unifiedDiff([{ parameter: "C", path: "a.env", line: 3, before: "C=3", after: "C=9" }]);
    expect(patch).toBe("diff --git a/a.env b/a.env\n--- a/a.env\n+++ b/a.env\n@@ -3,1 +3,1 @@\n-C=3\n+C=9\n");
    gitApply(dir, patch, "--unidiff-zero");
    expect(readFileSync(path.join(dir, "a.env"), "utf8")).toBe("A=1\nB=2\nC=9\nD=4\n");
  });

  it("writes nothing for no edits", () => {
    expect(unifiedDiff([])).toBe("");
  });
});
