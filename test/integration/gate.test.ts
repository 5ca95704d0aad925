/**
 * `shadowgate gate` in process (main from src/cli.ts) against the real Docker engine, on
 * copies of the example workload with short rounds: a real regression (EXTRA_WORK_PCT) fails
 * the gate, a base that does not start and mismatched catalogs are inconclusive, an A/A run
 * stores the runner's noise and a later gate warns about a threshold below it, and bad
 * arguments exit 2. After each test no container (any state) nor image labelled `shadowgate` by
 * one of this file's runs exists (see RUN_PREFIX).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli.js";
import { EXAMPLE } from "../helpers/run.js";

/** What a gate run printed, and its exit code. */
interface Gate {
  code: number;
  out: string;
  err: string;
}

async function gate(args: string[]): Promise<Gate> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(["gate", ...args], { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** The gate's --json document (the fields these tests read). */
interface GateDoc {
  verdict: "pass" | "fail" | "inconclusive";
  outcome: "pass" | "fail";
  aa: boolean;
  mode: string;
  reasons: string[];
  noise_warnings: string[];
  kpis: { name: string; ratio: number; ci: [number, number]; verdict: string; noise: number; blocks: number }[];
  rounds: number;
  blocks: number;
  load_ms: number;
  regression: number;
  images: { base: string; head: string };
}

const readDoc = (file: string): GateDoc => JSON.parse(readFileSync(file, "utf8")) as GateDoc;

const GATE_QUICK = "gate: { round: 2s, budget: 40s }";
const DEFAULT_KPIS = ["latency.p99", "latency.p50", "throughput.rps", "cpu.secondsPerRequest"];

const temps: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

/**
 * A copy of fixtures/example in a temp folder: a 1 s warm-up, the given gate section, its own
 * store, and optionally EXTRA_WORK_PCT baked into the image (the Dockerfile's ENV line).
 */
function exampleCopy(options: { gate?: string; extraWorkPct?: number; discountPct?: number } = {}): { dir: string; config: string; store: string } {
  const dir = path.join(tempDir("sg-gate-"), "example");
  cpSync(EXAMPLE, dir, { recursive: true });
  const config = path.join(dir, "shadowgate.yml");
  const store = path.join(dir, "store");
  writeConfig(config, options.gate ?? GATE_QUICK, store);
  const knobs = [
    ...(options.extraWorkPct !== undefined ? [`EXTRA_WORK_PCT=${options.extraWorkPct}`] : []),
    ...(options.discountPct !== undefined ? [`DISCOUNT_PCT=${options.discountPct}`] : []),
  ];
  if (knobs.length > 0) {
    const dockerfile = path.join(dir, "Dockerfile");
    const text = readFileSync(dockerfile, "utf8");
    const edited = text.replace(/^ENV NODE_ENV=production PORT=8080$/m, `ENV NODE_ENV=production PORT=8080 ${knobs.join(" ")}`);
    expect(edited, "the example's Dockerfile ENV line changed: update this test").not.toBe(text);
    writeFileSync(dockerfile, edited);
  }
  return { dir, config, store };
}

/** The example's config with a 1 s warm-up, then `gate` and a store appended (neither is in the original). */
function writeConfig(file: string, gateSection: string, store: string): void {
  const original = readFileSync(path.join(EXAMPLE, "shadowgate.yml"), "utf8");
  const traffic = "traffic: { file: traffic/recorded.har, connections: 8, warmup: 3s, duration: 8s, levels: [1, 2] }";
  expect(original, "the example's traffic line changed: update this test").toContain(traffic);
  expect(original).not.toMatch(/^(gate|store):/m);
  const text = original.replace(traffic, "traffic: { file: traffic/recorded.har, connections: 8, warmup: 1s, duration: 2s, window: 500ms }");
  writeFileSync(file, `${text}\n${gateSection}\nstore: { path: ${JSON.stringify(store)} }\n`);
}

// a base image that exits at once: unique tag, not labelled `shadowgate` (removed in afterAll)
const NO_START = `shadowgate-test/gate-no-start:${process.pid}-${Date.now().toString(36)}`;

/*
 * Leak checks. Every run id of this file starts with RUN_PREFIX (a run id begins with
 * GITHUB_RUN_ID-GITHUB_RUN_ATTEMPT-, src/app.ts newRunId), so the checks see this file's
 * containers and images whatever their state, and not those of another Shadowgate (a benchmark,
 * another test run) sharing the engine. The env is this test worker's own.
 */
const CI_RUN_ID = `${process.pid}${Date.now() % 1_000_000}`;
const RUN_PREFIX = `${CI_RUN_ID}-1-`;
const savedEnv = { GITHUB_RUN_ID: process.env.GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT: process.env.GITHUB_RUN_ATTEMPT };

/** Containers (any state) labelled `shadowgate` by a run of this file. */
function ourContainers(): string[] {
  const out = execFileSync("docker", ["ps", "-a", "--filter", "label=shadowgate", "--format", '{{.ID}} {{.Label "shadowgate"}}'], { encoding: "utf8" });
  return out
    .split("\n")
    .filter((line) => line.split(" ")[1]?.startsWith(RUN_PREFIX))
    .map((line) => line.split(" ")[0]!);
}

/** Images (also intermediate or untagged) labelled `shadowgate` by a run of this file. */
function ourImages(): string[] {
  const ids = execFileSync("docker", ["images", "-a", "-q", "--filter", "label=shadowgate"], { encoding: "utf8" }).split("\n").filter(Boolean);
  if (ids.length === 0) return [];
  // another run's image may go between the two commands: inspect reports it missing, the rest still print
  const out = spawnSync("docker", ["image", "inspect", "--format", '{{.Id}} {{index .Config.Labels "shadowgate"}}', ...new Set(ids)], { encoding: "utf8" }).stdout;
  return out
    .split("\n")
    .filter((line) => line.split(" ")[1]?.startsWith(RUN_PREFIX))
    .map((line) => line.split(" ")[0]!);
}

beforeAll(() => {
  process.env.GITHUB_RUN_ID = CI_RUN_ID;
  process.env.GITHUB_RUN_ATTEMPT = "1";
  execFileSync("docker", ["build", "-q", "--label", "shadowgate-test=gate", "-t", NO_START, "-"], {
    input: 'FROM shadowgate/node-base:local\nCMD ["node", "-e", "process.exit(3)"]\n',
    stdio: ["pipe", "ignore", "pipe"],
  });
});

afterAll(() => {
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  execFileSync("docker", ["rmi", "-f", NO_START], { stdio: "ignore" });
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  expect(ourContainers()).toEqual([]);
  expect(ourImages()).toEqual([]);
});

describe("shadowgate gate (in process, real Docker)", () => {
  it("fails a head that spends 60% more CPU per request than the base", async () => {
    const head = exampleCopy({ extraWorkPct: 60 });
    const base = exampleCopy();
    const json = path.join(head.dir, "gate.json");
    const result = await gate(["--config", head.config, "--base-context", base.dir, "--json", json]);

    expect(result.code, result.err).toBe(1);
    expect(result.err).toMatch(/^gate: fail: The head is worse than the base/m);
    const doc = readDoc(json);
    expect(doc.verdict).toBe("fail");
    expect(doc.outcome).toBe("fail");
    expect(doc.aa).toBe(false);
    expect(doc.mode).toBe("duet");
    expect(doc.rounds).toBeGreaterThanOrEqual(3);
    expect(doc.load_ms).toBeLessThanOrEqual(40_000 + 5_000);
    expect(doc.kpis.map((k) => k.name)).toEqual(DEFAULT_KPIS);
    const byName = Object.fromEntries(doc.kpis.map((k) => [k.name, k]));
    expect([byName["cpu.secondsPerRequest"]!.verdict, byName["throughput.rps"]!.verdict]).toContain("fail");
    const cpu = byName["cpu.secondsPerRequest"]!;
    expect(cpu.ratio).toBeGreaterThan(1.15);
    expect(cpu.ci[0]).toBeLessThanOrEqual(cpu.ratio);
    expect(cpu.ratio).toBeLessThanOrEqual(cpu.ci[1]);
    // two different builds: the base from its own context, the head from the config's
    expect(doc.images.base).not.toBe(doc.images.head);
    // the run ids carry this file's prefix (else the leak checks would look at nothing)
    expect(doc.images.head).toContain(`:${RUN_PREFIX}`);
    expect(doc.reasons[0]).toMatch(/^The head is worse than the base, possibly by 10% or more: /);

    // the markdown: heading, per-KPI table, rounds line
    expect(result.out).toMatch(/^## Shadowgate gate: orders-api — ❌ fail$/m);
    expect(result.out).toMatch(/^\| KPI +\| base \(median ± sd over pairs\) +\| head +\| head \/ base +\| [\d.]+% interval +\| verdict +\|$/m);
    for (const kpi of DEFAULT_KPIS) expect(result.out).toMatch(new RegExp(`^\\| ${kpi.replace(".", "\\.")} +\\| .+ \\| ×\\d+\\.\\d{3} +\\| \\d+\\.\\d{3}–\\d+\\.\\d{3} +\\| (✅ pass|❌ fail|⚠️ inconclusive) +\\|$`, "m"));
    // the table shows the same ratio and verdict as the JSON
    const icon = { pass: "✅", fail: "❌", inconclusive: "⚠️" }[cpu.verdict as "pass" | "fail" | "inconclusive"];
    const row = result.out.split("\n").find((line) => line.startsWith("| cpu.secondsPerRequest "));
    expect(row?.split("|").map((cell) => cell.trim())).toEqual(["", "cpu.secondsPerRequest", expect.stringMatching(/CPU-ms/), expect.stringMatching(/CPU-ms/), `×${cpu.ratio.toFixed(3)}`, `${cpu.ci[0].toFixed(3)}–${cpu.ci[1].toFixed(3)}`, `${icon} ${cpu.verdict}`, ""]);
    expect(result.out).toMatch(/^- Rounds: \d+ × 2 s, duet, on \d+ pairs of fresh shadows; \d+ s of load \(budget 40 s\)/m);
  });

  it("diffs the responses: a head that changed product prices fails with gate.diff.fail, while a timestamp that differs between two bases is ignored", async () => {
    const gateSection = "gate: { round: 2s, budget: 40s, diff: { requests: 8, fail: true } }";
    const head = exampleCopy({ gate: gateSection, discountPct: 5 });
    const base = exampleCopy({ gate: gateSection });
    const json = path.join(head.dir, "gate.json");
    const result = await gate(["--config", head.config, "--base-context", base.dir, "--json", json]);

    expect(result.code, result.err).toBe(1);
    const doc = JSON.parse(readFileSync(json, "utf8")) as GateDoc & {
      diff: { verdict: string; fails: boolean; requests: number; routes: { route: string; fields: { path: string; diff_rate: number; noise_rate: number }[]; ignored: { path: string; reason: string }[] }[] };
    };
    expect(doc.verdict).toBe("fail");
    expect(doc.reasons[0]).toMatch(/^Responses differ from the base's on 1 route\(s\)/);
    expect(doc.diff.verdict).toBe("different");
    expect(doc.diff.fails).toBe(true);
    const product = doc.diff.routes.find((route) => route.route === "GET /api/products/{id}");
    expect(product, JSON.stringify(doc.diff.routes.map((r) => r.route))).toBeDefined();
    // the price changed on every product page; servedAt differs between the two bases: noise
    expect(product!.fields.map((field) => field.path)).toEqual(["price.amount"]);
    expect(product!.fields[0]!.diff_rate).toBe(1);
    expect(product!.ignored).toContainEqual(expect.objectContaining({ path: "servedAt", reason: "noise" }));
    // no other route differs (healthz, the 404s)
    expect(doc.diff.routes.filter((route) => route.fields.length > 0).map((route) => route.route)).toEqual(["GET /api/products/{id}"]);
    // the example's rates API was mocked from the recording during the rounds: every call answered
    const mocks = (doc as unknown as { mocks: { host: string; served: number; unmatched: number }[] }).mocks;
    expect(mocks).toEqual([expect.objectContaining({ host: "api.rates.example", unmatched: 0 })]);
    expect(mocks[0]!.served).toBeGreaterThan(0);
    expect(result.out).toMatch(/^- Mock of `api\.rates\.example` \(`RATES_API_URL`\): \d+ call\(s\) answered from the recording, none unmatched\.$/m);
    expect(result.out).toMatch(/^### Responses$/m);
    expect(result.out).toMatch(/^Responses: \d+ differences? on 1 route/m);
    expect(result.out).toMatch(/\| `GET \/api\/products\/\{id\}` \| `price.amount` \| 100%/);
  });

  it("is inconclusive when the base image does not start: passes by default, fails with --inconclusive fail", async () => {
    const head = exampleCopy();
    const json = path.join(head.dir, "gate.json");

    const lenient = await gate(["--config", head.config, "--base-image", NO_START, "--json", json]);
    expect(lenient.code, lenient.err).toBe(0);
    let doc = readDoc(json);
    expect(doc.verdict).toBe("inconclusive");
    expect(doc.outcome).toBe("pass");
    expect(doc.reasons[0]).toMatch(/^The base build does not start with the current configuration, so nothing was compared: .*exit code 3/);
    expect(doc.rounds).toBe(0);
    expect(doc.kpis).toEqual([]);
    expect(doc.images.base).toBe(NO_START);
    expect(lenient.out).toMatch(/^## Shadowgate gate: orders-api — ⚠️ inconclusive$/m);
    expect(lenient.out).toContain("The step passes with a warning (gate.inconclusive: pass).");
    expect(lenient.err).toMatch(/^gate: inconclusive \(the step passes\): The base build does not start/m);
    expect(ourContainers()).toEqual([]);

    // the override, and --mode interleaved carried through to the result
    const strict = await gate(["--config", head.config, "--base-image", NO_START, "--json", json, "--inconclusive", "fail", "--mode", "interleaved"]);
    expect(strict.code, strict.err).toBe(1);
    doc = readDoc(json);
    expect(doc.verdict).toBe("inconclusive");
    expect(doc.outcome).toBe("fail");
    expect(doc.mode).toBe("interleaved");
    expect(doc.reasons[0]).toMatch(/^The base build does not start/);
    expect(strict.out).toContain("The step fails (gate.inconclusive: fail).");
    expect(strict.err).toMatch(/^gate: inconclusive \(the step fails\): The base build does not start/m);
  });

  it("compares nothing when the base's config declares other parameters", async () => {
    const head = exampleCopy();
    const baseConfig = path.join(head.dir, "base-shadowgate.yml");
    const text = readFileSync(head.config, "utf8");
    const renamed = text.replace("name: BATCH_SIZE,", "name: BATCH_LIMIT,").replace("BATCH_SIZE: 8", "BATCH_LIMIT: 8");
    expect(renamed.match(/BATCH_LIMIT/g)).toHaveLength(2);
    writeFileSync(baseConfig, renamed);
    const json = path.join(head.dir, "gate.json");

    const result = await gate(["--config", head.config, "--base-context", head.dir, "--base-config", baseConfig, "--json", json]);
    expect(result.code, result.err).toBe(0);
    const doc = readDoc(json);
    expect(doc.verdict).toBe("inconclusive");
    expect(doc.reasons[0]).toMatch(/^Base and head declare different parameters/);
    expect(doc.reasons[0]).toContain("BATCH_SIZE only in the head");
    expect(doc.reasons[0]).toContain("BATCH_LIMIT only in the base");
    // nothing ran: no round, no load, not even a build
    expect(doc.rounds).toBe(0);
    expect(doc.load_ms).toBe(0);
    expect(doc.kpis).toEqual([]);
    expect(result.err).not.toMatch(/building /);
    expect(result.out).toContain("BATCH_SIZE only in the head");
  });

  it("A/A: measures and stores the runner's noise, and a later gate warns about a threshold below it", async () => {
    // an A/A runs its whole budget: six pairs here (a warm-up and two 2-s rounds each, in 30 s)
    const head = exampleCopy({ gate: "gate: { round: 2s, budget: 30s }" });
    const base = exampleCopy();
    const store = path.join(tempDir("sg-gate-store-"), "history");
    const json = path.join(head.dir, "aa.json");

    const aa = await gate(["--config", head.config, "--aa", "--base-context", base.dir, "--store", store, "--json", json]);
    const doc = readDoc(json);
    // an A/A is a gate too: it fails at most 1 − confidence of the time per KPI (bench:gate
    // measures the rate); whatever its verdict, it measured and stored the noise
    expect(aa.code, aa.err).toBe(doc.verdict === "fail" ? 1 : 0);
    expect(doc.aa).toBe(true);
    expect(doc.images.base).toBe(doc.images.head);
    expect(doc.blocks).toBe(6);
    expect(doc.rounds).toBe(12);
    expect(aa.out).toMatch(/^## Shadowgate gate: orders-api — .* \(A\/A: the base against itself\)$/m);

    const noiseFile = path.join(store, "orders-api", "noise.json");
    expect(existsSync(noiseFile)).toBe(true);
    // the --store override, not the config's store
    expect(existsSync(path.join(head.store, "orders-api", "noise.json"))).toBe(false);
    const noise = JSON.parse(readFileSync(noiseFile, "utf8"));
    expect(noise).toMatchObject({ version: 1, workload: "orders-api", mode: "duet", blocks: doc.blocks });
    expect(Number.isNaN(Date.parse(noise.at))).toBe(false);
    expect(Object.keys(noise.kpis).sort()).toEqual([...DEFAULT_KPIS].sort());
    for (const kpi of DEFAULT_KPIS) {
      expect(typeof noise.kpis[kpi]).toBe("number");
      expect(noise.kpis[kpi]).toBeGreaterThanOrEqual(0);
      // the per-round noise this A/A run reported for the KPI
      expect(noise.kpis[kpi]).toBeCloseTo(doc.kpis.find((k) => k.name === kpi)!.noise, 12);
    }

    // a threshold of 0.5%: below what that noise lets the gate resolve in its budget
    writeConfig(head.config, "gate: { round: 2s, budget: 30s, regression: 0.5% }", head.store);
    const json2 = path.join(head.dir, "gate.json");
    const tight = await gate(["--config", head.config, "--base-context", base.dir, "--store", store, "--json", json2]);
    const doc2 = readDoc(json2);
    expect(tight.code, tight.err).toBe(doc2.verdict === "fail" ? 1 : 0);
    expect(doc2.aa).toBe(false);
    expect(doc2.regression).toBe(0.005);
    expect(doc2.noise_warnings.length).toBeGreaterThan(0);
    expect(tight.out).toMatch(/^- ⚠️ Noise: [\w.]+: the threshold [\d.]+% is below what this runner resolves in \d+ blocks of 2 rounds \(≈ [\d.]+%, from the noise of the A\/A run of \d{4}-\d\d-\d\dT[\d:.]+Z, [\d.]+% per block\)\.$/m);
    expect(tight.out).toContain(noise.at);
    // the noise file is the A/A's: a normal gate does not overwrite it
    expect(JSON.parse(readFileSync(noiseFile, "utf8"))).toEqual(noise);
  });

  describe("bad arguments exit 2 with a clear message, starting nothing", () => {
    it.each([
      ["both --base-image and --base-context", ["--base-image", "x", "--base-context", "."], /^shadowgate: gate: give the base build as exactly one of --base-image IMAGE or --base-context DIR$/m],
      ["neither --base-image nor --base-context", [], /^shadowgate: gate: give the base build as exactly one of --base-image IMAGE or --base-context DIR$/m],
      ["--mode fast", ["--base-image", "x", "--mode", "fast"], /^shadowgate: --mode: expected duet or interleaved, got "fast"$/m],
      ["--inconclusive maybe", ["--base-image", "x", "--inconclusive", "maybe"], /^shadowgate: --inconclusive: expected pass or fail, got "maybe"$/m],
      ["an unknown option", ["--base-image", "x", "--rounds", "3"], /^shadowgate: Unknown option '--rounds'/m],
    ])("%s", async (_name, args, message) => {
      const result = await gate(["--config", path.join(tempDir("sg-gate-args-"), "never-read.yml"), ...args]);
      expect(result.code).toBe(2);
      expect(result.err).toMatch(message);
      expect(result.err).toContain("usage: shadowgate gate");
      expect(result.out).toBe("");
    });
  });
});
