/**
 * The autocannon load driver against a real shadow (the tiny fixture in a container): replay of
 * a request mix, sub-millisecond latency percentiles, windows, non-2xx, errors, rate, abort.
 * After every test no container labelled with this file's run id exists.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { LoadOptions, ReplayRequest, RunningShadow } from "../../src/core/ports.js";
import { AutocannonDriver } from "../../src/load/autocannon-driver.js";
import { OpenModelDriver } from "../../src/load/open-model.js";
import { replayHeaders, rotationFor, toCannonRequests } from "../../src/load/requests.js";
import { TestcontainersRuntime, findFreePort } from "../../src/shadows/testcontainers-runtime.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const runId = `it-load-${process.pid}-${Date.now().toString(36)}`;
const runtime = new TestcontainersRuntime({ runId });
const driver = new AutocannonDriver();
let image = "";

interface TinyStats {
  routes: Record<string, number>;
  probes: Record<string, number>;
  hosts: Record<string, number>;
  jsonBodies: number;
  connectionClose: number;
}

function labelled(): string[] {
  return execFileSync("docker", ["ps", "-a", "-q", "--filter", `label=shadowgate=${runId}`], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean);
}

async function withShadow<T>(name: string, fn: (shadow: RunningShadow, port: number) => Promise<T>): Promise<T> {
  const port = await findFreePort();
  const shadow = await runtime.start({
    image,
    name,
    port,
    env: { PORT: String(port) },
    cpus: 1,
    memoryMiB: 256,
    readyPath: "/healthz",
    readyTimeoutMs: 15_000,
    config: { case: name },
  });
  try {
    return await fn(shadow, port);
  } finally {
    await shadow.stop();
  }
}

async function stats(url: string): Promise<TinyStats> {
  return (await (await fetch(`${url}/stats`)).json()) as TinyStats;
}

function expectOrdered(l: { p50: number; p90: number; p99: number; max: number }): void {
  expect(l.p50).toBeGreaterThan(0);
  expect(l.p50).toBeLessThanOrEqual(l.p90);
  expect(l.p90).toBeLessThanOrEqual(l.p99);
  expect(l.p99).toBeLessThanOrEqual(l.max);
}

beforeAll(async () => {
  image = await runtime.prepareImage({ kind: "build", context: path.join(root, "fixtures/tiny"), dockerfile: "Dockerfile" });
});

afterEach(async () => {
  const left = labelled();
  await runtime.cleanup();
  expect(left, "containers left behind by the test").toEqual([]);
});

afterAll(async () => {
  await runtime.cleanup();
  await runtime.removeImages();
});

describe("AutocannonDriver", () => {
  it("replays a mix of requests (query, JSON body, headers) and measures it", async () => {
    const mix: ReplayRequest[] = [
      // hop-by-hop and Host must not be replayed: autocannon writes its own
      { method: "GET", path: "/work?ms=0&from=replay", headers: { "x-probe": "get", Connection: "close", Host: "example.com", "Transfer-Encoding": "chunked" } },
      { method: "POST", path: "/echo", headers: { "Content-Type": "application/json", "x-probe": "post", "Content-Length": "999" }, body: JSON.stringify({ order: 42, items: ["a", "b"] }) },
      { method: "get", path: "/missing", headers: { "x-probe": "missing" } },
    ];
    const options: LoadOptions = { connections: 6, warmupMs: 300, durationMs: 2000, windowMs: 500, timeoutMs: 5000 };
    await withShadow("mix", async (shadow, port) => {
      const t0 = performance.now();
      const measureStarts: number[] = [];
      const result = await driver.run(shadow.url, mix, { ...options, onMeasureStart: () => measureStarts.push(performance.now() - t0) });
      expect(measureStarts).toHaveLength(1);
      expect(measureStarts[0]).toBeGreaterThanOrEqual(290);
      expect(measureStarts[0]).toBeLessThan(450);
      const seen = await stats(shadow.url);
      console.log(`[load] mix: ${result.requests} responses in ${result.durationS.toFixed(3)} s = ${result.rps.toFixed(0)} req/s; latency ${JSON.stringify(result.latency)}; server saw ${JSON.stringify(seen.routes)}`);

      // the server saw all three, in the recorded proportions (connections start at different offsets)
      const get = seen.routes["GET /work"] ?? 0;
      const post = seen.routes["POST /echo"] ?? 0;
      const missing = seen.routes["GET /missing"] ?? 0;
      const total = get + post + missing;
      expect(total).toBeGreaterThanOrEqual(result.requests + result.warmupRequests);
      for (const n of [get, post, missing]) expect(Math.abs(n / total - 1 / 3)).toBeLessThan(0.02);
      expect(seen.probes).toEqual({ get, post, missing });
      expect(seen.jsonBodies).toBe(post); // every JSON body arrived whole (Content-Length recomputed)
      expect(seen.connectionClose).toBe(0);
      expect(Object.keys(seen.hosts)).toEqual([`127.0.0.1:${port}`]);

      // KPIs
      expect(result.errors).toBe(0);
      expect(result.non2xx).toBe(result.statusCodes[404]);
      expect((result.statusCodes[200] ?? 0) + (result.statusCodes[404] ?? 0)).toBe(result.requests);
      expect(result.non2xx / result.requests).toBeGreaterThan(0.3);
      expect(result.non2xx / result.requests).toBeLessThan(0.37);
      expectOrdered(result.latency);
      expect(result.latency.mean).toBeLessThanOrEqual(result.latency.max);
      expect(result.rps).toBeGreaterThan(0);
      expect(result.rps).toBeCloseTo(result.requests / result.durationS, 6);
      expect(result.durationS).toBeGreaterThanOrEqual(2);
      expect(result.durationS).toBeLessThan(2.5); // our timer ends the window, not autocannon's 1 s tick

      // 2 s in 0.5 s windows
      expect(result.windows).toHaveLength(4);
      const inWindows = result.windows.reduce((n, w) => n + w.requests, 0);
      expect(inWindows).toBeLessThanOrEqual(result.requests);
      expect(inWindows).toBeGreaterThan(result.requests * 0.9);
      for (const w of result.windows) {
        expect(w.requests).toBeGreaterThan(0);
        expect(w.rps).toBeCloseTo(w.requests / 0.5, 6);
        expectOrdered(w);
        expect(w.max).toBeLessThanOrEqual(result.latency.max);
      }
    });
  });

  it("has sub-millisecond latency resolution for a fast route, and sees slow ones", async () => {
    await withShadow("fast", async (shadow) => {
      const fast = await driver.run(shadow.url, [{ method: "GET", path: "/work?ms=0", headers: {} }], {
        connections: 1,
        warmupMs: 300,
        durationMs: 1000,
        windowMs: 500,
        timeoutMs: 5000,
      });
      console.log(`[load] fast route: ${fast.requests} responses, latency ${JSON.stringify(fast.latency)}`);
      expectOrdered(fast.latency);
      expect(fast.latency.p50).toBeLessThan(1); // autocannon's own histogram would say 0 or 1
      expect(Number.isInteger(fast.latency.p50)).toBe(false);
      expect(Number.isInteger(fast.latency.p99)).toBe(false);

      const slow = await driver.run(shadow.url, [{ method: "GET", path: "/work?ms=5", headers: {} }], {
        connections: 1,
        warmupMs: 0,
        durationMs: 1000,
        windowMs: 500,
        timeoutMs: 5000,
      });
      expect(slow.latency.p50).toBeGreaterThanOrEqual(5);
      expect(slow.latency.p50).toBeLessThan(50);
      expect(slow.requests).toBeLessThanOrEqual(1000 / 5 + 5);
    });
  });

  it("re-weights percentiles to the recorded mix: each response counts as many recorded requests as its request's weight", async () => {
    await withShadow("weighted", async (shadow) => {
      const options: LoadOptions = { connections: 1, warmupMs: 0, durationMs: 1500, windowMs: 500, timeoutMs: 5000 };
      // half the responses are slow and half fast (one connection: the tiny server busy-waits, so a
      // second one would queue fast requests behind slow ones); the weights say which the recording had more of
      const mix = (slowWeight: number, fastWeight: number): ReplayRequest[] => [
        { method: "GET", path: "/work?ms=8", headers: {}, weight: slowWeight },
        { method: "GET", path: "/work?ms=0", headers: {}, weight: fastWeight },
      ];
      const mostlySlow = await driver.run(shadow.url, mix(9, 1), options);
      const mostlyFast = await driver.run(shadow.url, mix(1, 9), options);
      const even = await driver.run(shadow.url, mix(1, 1), options);
      console.log(`[load] weighted p50: mostly slow ${mostlySlow.latency.p50.toFixed(2)} ms, mostly fast ${mostlyFast.latency.p50.toFixed(2)} ms, even ${even.latency.p50.toFixed(2)} ms`);
      expect(mostlySlow.latency.p50).toBeGreaterThanOrEqual(8);
      expect(mostlyFast.latency.p50).toBeLessThan(4);
      // the mean follows the weights too: ≈ 0.9·8 ms vs ≈ 0.1·8 ms
      expect(mostlySlow.latency.mean).toBeGreaterThan(6);
      expect(mostlyFast.latency.mean).toBeLessThan(3);
      // throughput is what was really served, never weighted
      expect(Math.abs(mostlySlow.requests - mostlyFast.requests) / even.requests).toBeLessThan(0.35);
    });
  });

  it("open model: sends on schedule whatever the answers, and counts the queueing an overloaded service causes", async () => {
    const open = new OpenModelDriver();
    await withShadow("open", async (shadow) => {
      const options = { connections: 1, warmupMs: 500, durationMs: 2000, windowMs: 500, timeoutMs: 5000 };
      const light = await open.run(shadow.url, [{ method: "GET", path: "/work?ms=0", headers: {} }], { ...options, rate: 50 });
      // 50/s for 2 s, and each answered at once
      expect(light.sent).toBeGreaterThanOrEqual(99);
      expect(light.sent).toBeLessThanOrEqual(101);
      expect(light.requests).toBeGreaterThan(90);
      expect(light.latency.p50).toBeLessThan(5);
      expect(light.errors).toBe(0);
      // 20 ms of CPU per request on one thread serves at most 50/s: at 80/s the queue grows all window long
      // (the closed loop first: the open run leaves a backlog the service is still working off)
      const closed = await driver.run(shadow.url, [{ method: "GET", path: "/work?ms=20", headers: {} }], { ...options, connections: 2 });
      const heavy = await open.run(shadow.url, [{ method: "GET", path: "/work?ms=20", headers: {} }], { ...options, rate: 80 });
      console.log(`[load] open model at 80/s on a 50/s service: p50 ${heavy.latency.p50.toFixed(0)} ms, p99 ${heavy.latency.p99.toFixed(0)} ms; closed loop of 2: p99 ${closed.latency.p99.toFixed(0)} ms`);
      expect(heavy.sent).toBeGreaterThanOrEqual(159);
      expect(heavy.latency.p99).toBeGreaterThan(300);
      expect(heavy.latency.p99).toBeGreaterThan(4 * closed.latency.p99);
    });
  });

  it("open model: refuses a missing rate and non-loopback targets", async () => {
    const open = new OpenModelDriver();
    const options = { connections: 1, warmupMs: 0, durationMs: 1000, windowMs: 500, timeoutMs: 1000 };
    const one: ReplayRequest[] = [{ method: "GET", path: "/", headers: {} }];
    await expect(open.run("http://127.0.0.1:9", one, options)).rejects.toThrow(/the open model needs a request rate > 0/);
    await expect(open.run("http://10.0.0.8:80", one, { ...options, rate: 5 })).rejects.toThrow(/only loopback/);
  });

  it("holds a fixed request rate when asked", async () => {
    await withShadow("rate", async (shadow) => {
      const result = await driver.run(shadow.url, [{ method: "GET", path: "/work?ms=0", headers: {} }], {
        connections: 4,
        warmupMs: 0,
        durationMs: 2000,
        windowMs: 1000,
        timeoutMs: 5000,
        rate: 100,
      });
      console.log(`[load] rate 100/s: ${result.requests} responses in ${result.durationS.toFixed(3)} s`);
      // autocannon releases each connection's quota at the start of every second: ~200, ±1 s worth
      expect(result.requests).toBeGreaterThanOrEqual(150);
      expect(result.requests).toBeLessThanOrEqual(320);
      expect(result.windows).toHaveLength(2);
    });
  });

  it("counts timeouts as errors", async () => {
    await withShadow("timeouts", async (shadow) => {
      const result = await driver.run(shadow.url, [{ method: "GET", path: "/work?ms=1500", headers: {} }], {
        connections: 2,
        warmupMs: 0,
        durationMs: 2500,
        windowMs: 1000,
        timeoutMs: 1000,
      });
      console.log(`[load] timeouts: ${JSON.stringify({ requests: result.requests, errors: result.errors, timeouts: result.timeouts })}`);
      expect(result.timeouts).toBeGreaterThanOrEqual(1);
      expect(result.errors).toBeGreaterThanOrEqual(result.timeouts);
    });
  });

  it("counts connection errors when nothing listens, with no latency to report", async () => {
    const port = await findFreePort();
    const result = await driver.run(`http://127.0.0.1:${port}`, [{ method: "GET", path: "/", headers: {} }], {
      connections: 1,
      warmupMs: 0,
      durationMs: 300,
      windowMs: 100,
      timeoutMs: 1000,
    });
    expect(result.requests).toBe(0);
    expect(result.errors).toBeGreaterThan(0);
    expect(result.rps).toBe(0);
    expect(result.latency.p50).toBeNaN();
  });

  it("stops at once when aborted", async () => {
    await withShadow("abort", async (shadow) => {
      const controller = new AbortController();
      const t0 = performance.now();
      setTimeout(() => controller.abort(new Error("stop now")), 300);
      await expect(
        driver.run(shadow.url, [{ method: "GET", path: "/work?ms=0", headers: {} }], {
          connections: 2,
          warmupMs: 0,
          durationMs: 10_000,
          windowMs: 1000,
          timeoutMs: 5000,
        }, controller.signal),
      ).rejects.toThrow("stop now");
      expect(performance.now() - t0).toBeLessThan(1500);
      const before = (await stats(shadow.url)).routes["GET /work"] ?? 0;
      await new Promise((r) => setTimeout(r, 300));
      expect((await stats(shadow.url)).routes["GET /work"] ?? 0).toBe(before); // no more traffic

      const already = new AbortController();
      already.abort(new Error("never started"));
      await expect(
        driver.run(shadow.url, [{ method: "GET", path: "/", headers: {} }], { connections: 1, warmupMs: 0, durationMs: 1000, windowMs: 500, timeoutMs: 1000 }, already.signal),
      ).rejects.toThrow("never started");
    });
  });

  it("refuses non-loopback targets and bad input with errors that name the problem", async () => {
    const options: LoadOptions = { connections: 1, warmupMs: 0, durationMs: 100, windowMs: 100, timeoutMs: 1000 };
    const one: ReplayRequest[] = [{ method: "GET", path: "/", headers: {} }];
    await expect(driver.run("http://10.1.2.3:8080", one, options)).rejects.toThrow(/refusing to send load to 10\.1\.2\.3:8080: only loopback/);
    await expect(driver.run("http://127.0.0.1:1", [], options)).rejects.toThrow(/no requests to replay/);
    await expect(driver.run("http://127.0.0.1:1", [...one, { method: "BREW", path: "/", headers: {} }], options)).rejects.toThrow(
      /requests\[1\]\.method: expected one of GET, .*got "BREW"/,
    );
    await expect(driver.run("http://127.0.0.1:1", one, { ...options, connections: 0 })).rejects.toThrow(/connections must be an integer ≥ 1, got 0/);
  });

  it("prepares requests: header hygiene, encoding, per-connection offsets", () => {
    expect(replayHeaders({ Connection: "keep-alive, X-Hop", "X-Hop": "1", "X-Keep": "2", Host: "h", "content-length": "3", "Bad\r\nName": "x", "X-Inject": "a\r\nb: c" })).toEqual({ "X-Keep": "2" });
    expect(toCannonRequests([{ method: "get", path: "/a b/ü?q=1", headers: {} }], "/api")[0]).toEqual({ method: "GET", path: "/api/a%20b/%C3%BC?q=1", headers: {}, weight: 1 });
    // weights relative to the lightest request
    expect(toCannonRequests([{ method: "GET", path: "/a", headers: {}, weight: 4 }, { method: "GET", path: "/b", headers: {}, weight: 10 }, { method: "GET", path: "/c", headers: {} }]).map((r) => r.weight)).toEqual([4, 10, 1]);
    expect(toCannonRequests([{ method: "GET", path: "/a", headers: {}, weight: 4 }, { method: "GET", path: "/b", headers: {}, weight: 10 }]).map((r) => r.weight)).toEqual([1, 2.5]);
    expect([0, 1, 2, 3].map((k) => rotationFor(k, 4, 8))).toEqual([0, 2, 4, 6]);
    expect([0, 1, 2].map((k) => rotationFor(k, 3, 1))).toEqual([0, 0, 0]);
  });
});
