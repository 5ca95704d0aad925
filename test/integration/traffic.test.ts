/**
 * Recorded traffic through the real pipeline (in process, real Docker):
 * - a seeded PII corpus, recorded as JSON Lines with calls to an external API, replayed into
 *   the tiny workload, which reports every request it receives and every answer it gets from
 *   the mock to a collector in this test: no planted value reaches the shadow, the mock's
 *   answers, the report, the PR comment, the JSON results or the stored history;
 * - the example workload, whose quotes in USD/GBP/CHF call a rates API: its shadows run with
 *   the mock built from the recording, every call is answered on loopback, and the KPIs carry
 *   the mock's recorded latency (scaled ×50 it dominates p99; without it p99 drops).
 * After each test no container labelled `shadowgate` by these runs exists.
 */
import { createServer, type Server } from "node:http";
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli.js";
import type { ReplayRequest } from "../../src/core/ports.js";
import { piiCorpus } from "../helpers/pii-corpus.js";
import { arrivalGaps } from "../../src/load/open-model.js";
import { EXAMPLE, quickExampleConfig, ROOT, shadowgateContainers } from "../helpers/run.js";

interface Captured {
  kind: "request" | "upstream";
  [field: string]: unknown;
}

let collector: Server;
let collectorUrl = "";
const captured: Captured[] = [];

beforeAll(async () => {
  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      captured.push(JSON.parse(Buffer.concat(chunks).toString("utf8")) as Captured);
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
  const address = collector.address();
  collectorUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/capture`;
});

afterAll(async () => {
  collector.closeAllConnections();
  await new Promise((resolve) => collector.close(resolve));
});

afterEach(() => {
  expect(shadowgateContainers()).toEqual([]);
});

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(["run", ...args], { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** Every file under a folder, as text. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    return statSync(file).isDirectory() ? filesUnder(file) : [readFileSync(file, "utf8")];
  });
}

/** A planted value, in any of the forms an output could carry it. */
function leaks(text: string, planted: string[]): string[] {
  let decoded = text;
  try {
    decoded = decodeURIComponent(text);
  } catch {
    // a stray % in the text: compare the raw form only
  }
  return planted.filter((value) => text.includes(value) || decoded.includes(value) || text.includes(JSON.stringify(value).slice(1, -1)));
}

describe("recorded traffic through the pipeline", () => {
  it("lets no planted secret or personal value reach the shadow, the mock's answers, the report, the results or the history", async () => {
    const corpus = piiCorpus(20261129, 160);
    const lines: string[] = [];
    const line = (request: ReplayRequest, host: string, at: number, path = request.path) =>
      JSON.stringify({
        timestamp: at,
        method: request.method,
        url: `http://${host}${path}`,
        headers: request.headers,
        ...(request.body !== undefined ? { body: request.body } : {}),
        ...(request.response ? { response: { status: request.response.status, headers: request.response.headers, ...(request.response.body !== undefined ? { body: request.response.body } : {}), latencyMs: 2 } } : {}),
      });
    let at = Date.UTC(2026, 10, 29, 12);
    let proxied = 0;
    for (const request of corpus.requests) {
      lines.push(line(request, "shop.example", (at += 50)));
      // the shop asks a partner API for the same thing: recorded as the partner's call (mocked) and as a /proxy request into the shop
      if (request.method === "GET" && request.response && request.response.status === 200) {
        lines.push(line(request, "partner.example", (at += 1)));
        lines.push(line({ ...request, response: undefined } as ReplayRequest, "shop.example", (at += 1), `/proxy${request.path}`));
        proxied++;
      }
    }
    expect(proxied).toBeGreaterThan(10);
    const dir = mkdtempSync(path.join(tmpdir(), "sg-pii-"));
    const traffic = path.join(dir, "recorded.jsonl");
    writeFileSync(traffic, `${lines.join("\n")}\n`);
    const config = path.join(dir, "shadowgate.yml");
    const store = path.join(dir, "store");
    writeFileSync(
      config,
      `workload:
  name: pii-check
  build: { context: ${JSON.stringify(path.join(ROOT, "fixtures/tiny"))} }
  ready: { path: /healthz, timeout: 20s }
  resources: { cpus: 1, memory: 512 }
  env: { CAPTURE_URL: ${JSON.stringify(collectorUrl)}, CATCH_ALL: "1" }
shadows: { fraction: 0.5, parallel: 1, trials: 1 }
parameters: [{ name: cpus, type: float, range: [0.5, 1], apply: cpus }]
current: { cpus: 1 }
traffic: { file: recorded.jsonl, connections: 2, warmup: 0, duration: 2s, window: 500ms }
mocks: { partner.example: { env: UPSTREAM_URL, latency: none } }
store: { path: ${JSON.stringify(store)} }
`,
    );
    captured.length = 0;
    const json = path.join(dir, "results.json");
    const comment = path.join(dir, "comment.md");
    const result = await run(["--config", config, "--json", json, "--comment", comment]);
    expect(result.code, result.err).toBe(0);

    const requests = captured.filter((c) => c.kind === "request");
    const upstream = captured.filter((c) => c.kind === "upstream");
    expect(requests.length).toBeGreaterThan(100);
    // the workload's calls to the partner were answered by the mock from the recording
    expect(upstream.length).toBeGreaterThan(5);
    expect(upstream.filter((c) => c.status === 200).length).toBeGreaterThan(5);
    const doc = JSON.parse(readFileSync(json, "utf8")) as { traffic: { mocks: { host: string; served: number; unmatched: number }[]; redactions: Record<string, number> } };
    expect(doc.traffic.mocks).toEqual([expect.objectContaining({ host: "partner.example", unmatched: 0 })]);
    expect(doc.traffic.mocks[0]!.served).toBeGreaterThan(5);

    const outputs: Record<string, string> = {
      "what the shadow received": JSON.stringify(requests),
      "the mock's answers": JSON.stringify(upstream),
      "the report": result.out,
      "the log": result.err,
      "the PR comment": readFileSync(comment, "utf8"),
      "the JSON results": readFileSync(json, "utf8"),
      "the stored history": filesUnder(store).join("\n"),
    };
    for (const [where, text] of Object.entries(outputs)) expect(leaks(text, corpus.planted), where).toEqual([]);
    expect(Object.values(doc.traffic.redactions).reduce((a, b) => a + b, 0)).toBeGreaterThan(500);
    // and the outputs are not empty shells: the shadow saw the corpus's routes
    expect(requests.some((c) => String(c.url).startsWith("/proxy/"))).toBe(true);
  });

  it("runs the example's shadows against a mock of its rates API built from the recording, whose recorded latency shows in the KPIs", async () => {
    const measure = async (latency: string) => {
      const { file, dir } = quickExampleConfig({ trials: 1, slo: "{ latency.p99: 1s }", extra: `mocks: { api.rates.example: { env: RATES_API_URL, latency: ${latency} } }` });
      const json = path.join(dir, "results.json");
      const result = await run(["--config", file, "--json", json]);
      expect(result.code, result.err).toBe(0);
      return JSON.parse(readFileSync(json, "utf8")) as {
        traffic: { mocks: { host: string; env: string; served: number; unmatched: number }[] };
        trials: { anchor: boolean; kpis: Record<string, number> }[];
      };
    };
    // ×50: the recorded 2–6 ms become 100–300 ms, on the 3% of requests that are quotes in another currency
    const slow = await measure("50x");
    const none = await measure("none");
    for (const doc of [slow, none]) {
      expect(doc.traffic.mocks).toEqual([expect.objectContaining({ host: "api.rates.example", env: "RATES_API_URL", unmatched: 0 })]);
      expect(doc.traffic.mocks[0]!.served).toBeGreaterThan(0);
      const anchor = doc.trials.find((trial) => trial.anchor)!;
      // every rates call was answered on loopback: a call that went anywhere else would fail the quote (502)
      expect(anchor.kpis["errors.rate"]! + anchor.kpis["non2xx.rate"]!).toBeLessThan(0.02);
    }
    const p99 = (doc: typeof slow) => doc.trials.find((trial) => trial.anchor)!.kpis["latency.p99"]!;
    console.log(`[traffic] example p99 with the mock's latency ×50: ${p99(slow).toFixed(1)} ms; with none: ${p99(none).toFixed(1)} ms`);
    expect(p99(slow)).toBeGreaterThan(110);
    expect(p99(slow)).toBeGreaterThan(p99(none) + 50);
  });

  it("replays at twice the recorded pace as an open model: the request rate the recording shows, doubled, with its rhythm", async () => {
    // the example's recording: 450 requests to the service over its recorded span
    const recorded = (JSON.parse(readFileSync(path.join(EXAMPLE, "traffic/recorded.har"), "utf8")) as { log: { entries: { startedDateTime: string; request: { url: string } }[] } }).log.entries.filter(
      (entry) => !entry.request.url.includes("api.rates.example"),
    );
    const times = recorded.map((entry) => Date.parse(entry.startedDateTime)).sort((a, b) => a - b);
    const pace = (times.length - 1) / ((times.at(-1)! - times[0]!) / 1000);
    // the rates API's calls are mocked, so only the service's own requests set the pace
    const { file, dir } = quickExampleConfig({ trials: 1, slo: "{ latency.p99: 1s }", extra: "mocks: { api.rates.example: { env: RATES_API_URL } }" });
    // 6 s measured: the recording's gaps are irregular, so a short window would hold a noisy count
    writeFileSync(file, readFileSync(file, "utf8").replace(/duration: 2s, window: 500ms \}/, "duration: 6s, window: 500ms, pace: 2x }"));
    const json = path.join(dir, "results.json");
    const result = await run(["--config", file, "--json", json]);
    expect(result.code, result.err).toBe(0);
    const doc = JSON.parse(readFileSync(json, "utf8")) as { traffic: { rate?: number }; trials: { anchor: boolean; kpis: Record<string, number> }[] };
    expect(doc.traffic.rate).toBeCloseTo(2 * pace, 6);
    const rps = doc.trials.find((trial) => trial.anchor)!.kpis["throughput.rps"]!;
    // the schedule keeps the recorded gaps, halved: the arrivals in the measured window (after the 1 s warm-up) are known
    const gaps = arrivalGaps(times.map((at) => ({ method: "GET", path: "/", headers: {}, at })), 2 * pace);
    let t = 0;
    let due = 0;
    for (let i = 0; t < 7000; i = (i + 1) % gaps.length) {
      if (t >= 1000) due++;
      t += gaps[i]!;
    }
    console.log(`[traffic] recorded pace ${pace.toFixed(2)}/s; at 2x the anchor served ${rps.toFixed(2)}/s; the schedule had ${due} arrivals in the 6 s window (${(due / 6).toFixed(2)}/s)`);
    expect(Math.abs(rps * 6 - due)).toBeLessThanOrEqual(4);
    expect(result.out).toMatch(/[\d.]+ requests\/s \(open model\)/);
  });
});
