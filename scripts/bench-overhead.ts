/**
 * npm run bench:overhead — where a run's wall time goes, on the example workload:
 *  1. container start-to-ready and stop, median over several starts;
 *  2. a 6-trial run split into image build, start/stop, load windows, training and
 *     reporting, so the orchestration overhead is visible as a share of the total;
 *  3. autocannon's achieved req/s beside wrk's against the same shadow, same connections,
 *     same recorded requests, interleaved (ac, wrk, ac, wrk, …).
 * Prints numbers; asserts nothing (targets live here, not in timed tests).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../src/config/load.js";
import { shadowSpecFor } from "../src/core/apply.js";
import { median } from "../src/core/stats.js";
import { AutocannonDriver } from "../src/load/autocannon-driver.js";
import { TestcontainersRuntime, findFreePort, installSignalCleanup } from "../src/shadows/testcontainers-runtime.js";
import { readTraffic } from "../src/traffic/read.js";
import { runShadowgate } from "../src/app.js";
import type { ReplayRequest } from "../src/core/ports.js";

process.env.TESTCONTAINERS_RYUK_DISABLED = "true";
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const exampleConfig = path.join(root, "fixtures/example/shadowgate.yml");
const STARTS = Number(process.env.BENCH_STARTS ?? 7);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const quiet = { info: () => {}, warn: (m: string) => console.error(`warning: ${m}`), debug: () => {} };

const config = await loadConfig(exampleConfig);
const traffic = await readTraffic(config.traffic.file, config.traffic.format);
const runtime = new TestcontainersRuntime({ runId: `bench-${Date.now().toString(36)}`, logger: quiet });
const signals = installSignalCleanup(runtime);

try {
  // 1. start-to-ready
  const image = await runtime.prepareImage(config.workload.source);
  const ready: number[] = [];
  const stops: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const spec = shadowSpecFor({ workload: config.workload, catalog: config.parameters, config: config.current, fraction: config.shadows.fraction, image, port: await findFreePort(), name: `bench-${i}` });
    const t0 = performance.now();
    const shadow = await runtime.start(spec);
    ready.push(performance.now() - t0);
    const t1 = performance.now();
    await shadow.stop();
    stops.push(performance.now() - t1);
  }
  console.log(`\n## Container start-to-ready (${STARTS} starts, example workload, current config)\n`);
  console.log(`| | median | min | max |\n|---|---|---|---|`);
  console.log(`| start → ready | ${median(ready).toFixed(0)} ms | ${Math.min(...ready).toFixed(0)} ms | ${Math.max(...ready).toFixed(0)} ms |`);
  console.log(`| stop + remove | ${median(stops).toFixed(0)} ms | ${Math.min(...stops).toFixed(0)} ms | ${Math.max(...stops).toFixed(0)} ms |`);

  // 2. a 6-trial run, split
  const store = mkdtempSync(path.join(tmpdir(), "sg-bench-store-"));
  const t0 = performance.now();
  const output = await runShadowgate({ configFile: exampleConfig, trials: 6, storePath: store, logger: quiet });
  const wall = performance.now() - t0;
  const t = output.result.timings;
  const reportingMs = wall - t.totalMs;
  const rows: [string, number][] = [
    ["image build", t.imageMs],
    ["shadow start/stop", t.startStopMs],
    ["load windows (warm-up + measured)", t.loadMs],
    ["training", t.trainMs],
    ["recommendation", t.recommendMs],
    ["config, traffic, reporting, cleanup", reportingMs],
    ["other orchestration", t.totalMs - t.imageMs - t.startStopMs - t.loadMs - t.trainMs - t.recommendMs],
  ];
  console.log(`\n## A 6-trial run (${output.result.trials.length} trials measured incl. anchors, ${config.shadows.parallel} side by side)\n`);
  console.log(`| part | time | share |\n|---|---|---|`);
  for (const [name, ms] of rows) console.log(`| ${name} | ${(ms / 1000).toFixed(2)} s | ${((ms / wall) * 100).toFixed(1)}% |`);
  console.log(`| **total** | ${(wall / 1000).toFixed(2)} s | 100% |`);
  console.log(`\nOrchestration overhead (everything but the load windows): ${(((wall - t.loadMs) / wall) * 100).toFixed(1)}% of the wall time.`);

  // 3. autocannon vs wrk against one shadow
  ensureWrk();
  const spec = shadowSpecFor({ workload: config.workload, catalog: config.parameters, config: config.current, fraction: config.shadows.fraction, image, port: await findFreePort(), name: "bench-wrk" });
  const shadow = await runtime.start(spec);
  const connections = config.traffic.connections;
  const luaFile = writeWrkScript(traffic.requests);
  const driver = new AutocannonDriver();
  const ac: number[] = [];
  const wrk: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const result = await driver.run(shadow.url, traffic.requests, { connections, warmupMs: 1000, durationMs: 5000, windowMs: 1000, timeoutMs: 10_000 });
    ac.push(result.rps);
    wrk.push(runWrk(shadow.url, luaFile, connections, 5));
  }
  await shadow.stop();
  console.log(`\n## autocannon vs wrk (same shadow: current config, ${spec.cpus} CPUs; ${connections} connections; recorded mix; 5 s windows, ${ROUNDS} rounds interleaved)\n`);
  console.log(`| generator | median req/s | runs |\n|---|---|---|`);
  console.log(`| autocannon | ${median(ac).toFixed(0)} | ${ac.map((x) => x.toFixed(0)).join(", ")} |`);
  console.log(`| wrk | ${median(wrk).toFixed(0)} | ${wrk.map((x) => x.toFixed(0)).join(", ")} |`);
  console.log(`\nautocannon reaches ${((median(ac) / median(wrk)) * 100).toFixed(0)}% of wrk's throughput here.`);
} finally {
  await signals.run();
  signals.uninstall();
}

function ensureWrk(): void {
  if (spawnSync("wrk", ["--version"]).error === undefined) return;
  console.error("installing wrk (Debian package)");
  execFileSync("bash", ["-c", "apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null"], { stdio: "inherit" });
}

/** A wrk script that replays the recorded requests, each thread from its own offset. */
function writeWrkScript(requests: ReplayRequest[]): string {
  const lua = (s: string) => JSON.stringify(s).replace(/\\u([0-9a-f]{4})/gi, (_m, h) => `\\u{${h}}`);
  const items = requests
    .map((r) => `{${lua(r.method)}, ${lua(r.path)}, {${Object.entries(r.headers).map(([k, v]) => `[${lua(k)}]=${lua(v)}`).join(",")}}, ${r.body === undefined ? "nil" : lua(r.body)}}`)
    .join(",\n");
  const file = path.join(mkdtempSync(path.join(tmpdir(), "sg-wrk-")), "replay.lua");
  // wrk.format() at load time drops the Host header: build each request in request()
  writeFileSync(
    file,
    `local reqs = {\n${items}\n}\nlocal i = 0\nlocal counter = 0\nfunction setup(thread) counter = counter + 1; thread:set("offset", counter * 97) end\nfunction init(args) i = tonumber(offset) or 0 end\nfunction request()\n  i = i % #reqs + 1\n  local r = reqs[i]\n  return wrk.format(r[1], r[2], r[3], r[4])\nend\n`,
  );
  return file;
}

function runWrk(url: string, script: string, connections: number, seconds: number): number {
  const threads = Math.min(2, connections);
  const out = execFileSync("wrk", ["-t", String(threads), "-c", String(connections), "-d", `${seconds}s`, "-s", script, url], { encoding: "utf8" });
  const match = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!match) throw new Error(`wrk printed no Requests/sec:\n${out}`);
  return Number(match[1]);
}

