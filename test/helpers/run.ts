/** Helpers for tests that run the bundled CLI/Action as separate processes. */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const EXAMPLE = path.join(ROOT, "fixtures/example");

/** Containers (any state) carrying the shadowgate label, optionally for one run id. */
export function shadowgateContainers(runId?: string): string[] {
  const filter = runId ? `label=shadowgate=${runId}` : "label=shadowgate";
  const out = execFileSync("docker", ["ps", "-aq", "--filter", filter], { encoding: "utf8" });
  return out.split("\n").filter(Boolean);
}

/** Images built by Shadowgate runs (label key `shadowgate`); the base image has none. */
export function shadowgateImages(): string[] {
  const out = execFileSync("docker", ["images", "-q", "--filter", "label=shadowgate"], { encoding: "utf8" });
  return out.split("\n").filter(Boolean);
}

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Run a node script; `onStderr` sees stderr as it arrives (and may signal the child).
 */
export function runNode(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; node?: string; cwd?: string; onStderr?: (text: string, child: ReturnType<typeof spawn>) => void; timeoutMs?: number } = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.node ?? process.execPath, args, {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, TESTCONTAINERS_RYUK_DISABLED: "true", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`process timed out: node ${args.join(" ")}\n${stderr}`));
    }, options.timeoutMs ?? 300_000);
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      options.onStderr?.(stderr, child);
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * A quick variant of the example workload's config in a temp folder: few trials, short
 * windows, its own history store. Returns the config path.
 */
export function quickExampleConfig(overrides: { trials?: number; extra?: string; parameters?: string; current?: string; slo?: string } = {}): { file: string; dir: string } {
  const dir = mkdtempSync(path.join(tmpdir(), "sg-quick-"));
  const file = path.join(dir, "shadowgate.yml");
  writeFileSync(
    file,
    `workload:
  name: orders-api
  category: node-http
  build: { context: ${JSON.stringify(EXAMPLE)}, dockerfile: Dockerfile }
  port: 8080
  portEnv: PORT
  ready: { path: /healthz, timeout: 20s }
  resources: { cpus: 2, memory: 1024 }
shadows: { fraction: 0.25, parallel: 2, trials: ${overrides.trials ?? 3} }
parameters:
${overrides.parameters ?? `  - { name: WORKER_POOL, type: int, range: [1, 8], scale: log, apply: env }
  - { name: CACHE_SIZE, type: int, range: [16, 4096], scale: log, apply: env }
  - { name: cpus, type: float, range: [1, 4], apply: cpus }`}
current: ${overrides.current ?? "{ WORKER_POOL: 2, CACHE_SIZE: 128, cpus: 2 }"}
traffic: { file: ${JSON.stringify(path.join(EXAMPLE, "traffic/recorded.har"))}, connections: 4, warmup: 1s, duration: 2s, window: 500ms }
slo: ${overrides.slo ?? "{ latency.p99: 50ms }"}
objective: { minimize: latency.p99 }
store: { path: ${JSON.stringify(path.join(dir, "store"))} }
${overrides.extra ?? ""}
`,
  );
  return { file, dir };
}
