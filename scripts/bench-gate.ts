/**
 * `npm run bench:gate`: the regression gate on this machine, repeated. The base is the
 * example workload; the head is the same service with EXTRA_WORK_PCT set (its self-calibrating
 * regression knob: that share of its own CPU per request on top). Prints:
 * - for BENCH_RUNS A/B gates (the injected slowdown) and BENCH_RUNS A/A gates (the base
 *   against itself), alternating: how often each verdict came, and the load time per gate;
 * - the injected slowdown as measured (median head/base ratio over the A/B gates);
 * - the noise of each KPI per mode — sequential, interleaved, duet — from A/A runs with a
 *   fixed number of rounds: the sd of one round's log ratio (≈ its CV), which sets how many
 *   rounds a verdict needs; and each side's CV across rounds (what a lone measurement sees),
 *   and the load time each mode took for those rounds;
 * - the issue's targets: ≥ 95% of A/B gates fail, ≤ 5% of A/A gates fail, ≤ 3 min of load each.
 *
 * Environment: BENCH_RUNS (default 10), BENCH_EXTRA_PCT (default 6), BENCH_MODE (the gate's
 * mode, default: the config's), BENCH_CV_ROUNDS (default 8; 0 skips the noise table).
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadTraffic, withMocks, withShadowRuntime } from "../src/app.js";
import { loadConfig } from "../src/config/load.js";
import { median, stdev } from "../src/core/stats.js";
import type { KpiName } from "../src/core/types.js";
import { AutocannonDriver } from "../src/load/autocannon-driver.js";
import { findFreePort } from "../src/shadows/free-port.js";
import { runGate, type GateMode, type GateResult } from "../src/gate/run-gate.js";
import { BLOCK_ROUNDS } from "../src/gate/compare.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const EXTRA_PCT = Number(process.env.BENCH_EXTRA_PCT ?? 6);
const CV_ROUNDS = Number(process.env.BENCH_CV_ROUNDS ?? 8);
const quiet = { info: () => undefined, warn: () => undefined, debug: () => undefined };
const say = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const configFile = path.join(root, "fixtures/example/shadowgate.yml");
  const traffic = await loadTraffic(await loadConfig(configFile), quiet);
  const { requests } = traffic.prepared;
  const mode = (process.env.BENCH_MODE as GateMode | undefined) ?? traffic.config.gate.mode;

  // the head: the example with the knob set in its Dockerfile, as a pull request would
  const headContext = mkdtempSync(path.join(tmpdir(), "shadowgate-bench-head-"));
  cpSync(path.join(root, "fixtures/example"), headContext, { recursive: true });
  const dockerfile = path.join(headContext, "Dockerfile");
  writeFileSync(dockerfile, readFileSync(dockerfile, "utf8").replace(/^ENV NODE_ENV=production PORT=8080$/m, `ENV NODE_ENV=production PORT=8080 EXTRA_WORK_PCT=${EXTRA_PCT}`));
  if (!readFileSync(dockerfile, "utf8").includes(`EXTRA_WORK_PCT=${EXTRA_PCT}`)) throw new Error("bench-gate: the example's Dockerfile changed; cannot set EXTRA_WORK_PCT");

  const { gate: settings } = traffic.config;
  say(`# Gate benchmark: ${RUNS} A/B gates (head: EXTRA_WORK_PCT=${EXTRA_PCT}) and ${RUNS} A/A gates, ${mode}; threshold ${settings.regression * 100}%, confidence ${settings.confidence * 100}%, rounds of ${settings.roundMs / 1000} s, budget ${settings.budgetMs / 1000} s of load\n`);
  await withMocks(traffic, quiet, (config) => withShadowRuntime({ logger: quiet }, async ({ runtime, runId, signal }) => {
    const baseImage = await runtime.prepareImage(config.workload.source, signal);
    const headImage = await runtime.prepareImage({ kind: "build", context: headContext, dockerfile: "Dockerfile" }, signal);
    const deps = { runtime, load: new AutocannonDriver(), logger: quiet, freePort: findFreePort, requests, runId, signal };
    const gate = (head: string, options: { mode?: GateMode; rounds?: number; aa?: boolean } = {}) =>
      runGate({ config, base: { kind: "image", image: baseImage }, head: { kind: "image", image: head }, ...options }, deps);

    const ab: GateResult[] = [];
    const aa: GateResult[] = [];
    for (let i = 0; i < RUNS; i++) {
      for (const [kind, list, head] of [["A/B", ab, headImage], ["A/A", aa, baseImage]] as const) {
        const started = Date.now();
        const result = await gate(head, { mode });
        list.push(result);
        const k = result.kpis.map((x) => `${x.name} ×${x.ratio.toFixed(3)} ${x.verdict}`).join(", ");
        process.stderr.write(`${kind} ${i + 1}/${RUNS}: ${result.verdict} after ${result.rounds.length} rounds, ${(result.loadMs / 1000).toFixed(0)} s of load (${((Date.now() - started) / 1000).toFixed(0)} s in all): ${k}\n`);
      }
    }
    say("| gates | fail | pass | inconclusive | rounds (median, max) | load s (median, max) |");
    say("|---|---:|---:|---:|---:|---:|");
    for (const [name, list] of [[`A/B (EXTRA_WORK_PCT=${EXTRA_PCT})`, ab], ["A/A", aa]] as const) {
      const count = (v: string) => list.filter((r) => r.verdict === v).length;
      const rounds = list.map((r) => r.rounds.length);
      const load = list.map((r) => r.loadMs / 1000);
      say(`| ${name} | ${count("fail")}/${list.length} | ${count("pass")}/${list.length} | ${count("inconclusive")}/${list.length} | ${median(rounds)}, ${Math.max(...rounds)} | ${median(load).toFixed(0)}, ${Math.max(...load).toFixed(0)} |`);
    }
    const kpis = config.gate.kpis;
    say(`\nInjected slowdown as measured (median head/base over the A/B gates): ${kpis.map((kpi) => `${kpi} ×${median(ab.map((r) => r.kpis.find((k) => k.name === kpi)!.ratio)).toFixed(3)}`).join(", ")}`);

    say("\n## Targets\n");
    const abFail = ab.filter((r) => r.verdict === "fail").length / ab.length;
    const aaFail = aa.filter((r) => r.verdict === "fail").length / aa.length;
    const maxLoad = Math.max(...[...ab, ...aa].map((r) => r.loadMs)) / 1000;
    const mark = (ok: boolean) => (ok ? "met" : "**not met**");
    say(`- slowdown caught (fail) in ≥ 95% of gates: ${(abFail * 100).toFixed(0)}% — ${mark(abFail >= 0.95)}`);
    say(`- A/A fails in ≤ 5% of gates: ${(aaFail * 100).toFixed(0)}% — ${mark(aaFail <= 0.05)}`);
    say(`- load time per gate ≤ 180 s: max ${maxLoad.toFixed(0)} s — ${mark(maxLoad <= 180)}`);
    say(`(${RUNS} gates each: a rate of 95% is only resolved to about ±${((100 * Math.sqrt(0.05 * 0.95)) / Math.sqrt(RUNS)).toFixed(0)} points)`);

    if (CV_ROUNDS > 0) {
      say(`\n## Noise per mode (A/A, ${CV_ROUNDS} rounds each)\n`);
      say("sd of one round's log ratio head/base (≈ its CV): what a verdict must see through. Sequential: one pair of shadows, every base round then every head round; interleaved and duet: a fresh pair every " + BLOCK_ROUNDS + " rounds, as the gate runs. Then each side's own CV across rounds, which a lone before/after measurement would see.\n");
      say("| KPI | sequential | interleaved | duet | one side's CV: sequential / interleaved / duet |");
      say("|---|---:|---:|---:|---:|");
      const byMode: Record<string, GateResult> = {};
      for (const m of ["sequential", "interleaved", "duet"] as const) byMode[m] = await gate(baseImage, { mode: m, rounds: CV_ROUNDS, aa: false });
      const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
      const roundNoise = (r: GateResult, kpi: KpiName) => stdev(r.rounds.map((round) => Math.log(round.head[kpi] / round.base[kpi])));
      const sideCv = (r: GateResult, kpi: KpiName) => {
        const values = r.rounds.map((round) => round.base[kpi]);
        return stdev(values) / median(values);
      };
      const modes = ["sequential", "interleaved", "duet"] as const;
      for (const kpi of kpis) {
        say(`| ${kpi} | ${modes.map((m) => pct(roundNoise(byMode[m]!, kpi))).join(" | ")} | ${modes.map((m) => pct(sideCv(byMode[m]!, kpi))).join(" / ")} |`);
      }
      const loadOf = (m: string) => (byMode[m]!.loadMs / 1000).toFixed(0);
      say(`\nLoad time for ${CV_ROUNDS} rounds: sequential ${loadOf("sequential")} s, interleaved ${loadOf("interleaved")} s, duet ${loadOf("duet")} s.`);
    }
  }));
}

await main();
