/**
 * The open-model driver against local HTTP servers on 127.0.0.1 (no Docker): the schedule,
 * deadlines counted once, the slowest requests of the window waited for, successive runs
 * walking the sample, and the measured window's start on time.
 */
import http from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import type { LoadOptions, ReplayRequest } from "../../src/core/ports.js";
import { arrivalGaps, OpenModelDriver } from "../../src/load/open-model.js";

const servers: http.Server[] = [];
async function server(handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(s.address() as { port: number }).port}`;
}
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

const paths = (n: number): ReplayRequest[] => Array.from({ length: n }, (_, i) => ({ method: "GET", path: `/r/${i}`, headers: {} }));
const options = (overrides: Partial<LoadOptions>): LoadOptions => ({ connections: 1, warmupMs: 0, durationMs: 1000, windowMs: 500, timeoutMs: 1000, ...overrides });

describe("open model", () => {
  it("keeps the recording's rhythm at the asked mean rate; a long pause counts at most ten median gaps", () => {
    const at = (ms: number): ReplayRequest => ({ method: "GET", path: "/", headers: {}, at: ms });
    // recorded gaps 100 and 300 (mean 200), and back to the first after the mean: at 10/s the mean gap is 100 ms
    expect(arrivalGaps([at(0), at(100), at(400)], 10)).toEqual([50, 150, 100]);
    expect(arrivalGaps([{ method: "GET", path: "/", headers: {} }, at(5)], 4)).toEqual([250, 250]);
    const night = arrivalGaps([at(0), at(5), at(10), at(3_600_000)], 10);
    expect(night.reduce((a, b) => a + b, 0) / night.length).toBeCloseTo(100, 9);
    // the hour's pause is cut to ten median gaps (5 ms each)
    expect(Math.max(...night)).toBeCloseTo(10 * Math.min(...night), 9);
  });

  it("counts a request past its deadline once, as a timeout, even while it waits for a socket", async () => {
    const url = await server(() => undefined); // never answers
    const driver = new OpenModelDriver({ maxSockets: 8 });
    const result = await driver.run(url, paths(10), options({ rate: 400, durationMs: 500, timeoutMs: 300 }));
    expect(result.sent).toBe(200);
    expect(result.errors).toBe(200);
    expect(result.timeouts).toBe(200);
    expect(result.requests).toBe(0);
  });

  it("waits for the window's slowest requests instead of dropping them", async () => {
    const url = await server((_req, res) => setTimeout(() => res.end("ok"), 600));
    const result = await new OpenModelDriver().run(url, paths(10), options({ rate: 40, durationMs: 500, timeoutMs: 5000 }));
    expect(result.sent).toBe(20);
    expect(result.requests).toBe(20);
    expect(result.errors).toBe(0);
    expect(result.latency.p50).toBeGreaterThanOrEqual(590);
  });

  it("walks the whole sample over successive runs, unless told where to start; starts the measured window on time", async () => {
    const seen: string[] = [];
    const url = await server((req, res) => {
      seen.push(req.url!);
      res.end("ok");
    });
    const list = paths(300);
    const driver = new OpenModelDriver();
    for (let run = 0; run < 3; run++) await driver.run(url, list, options({ rate: 100, durationMs: 1000 }));
    expect(new Set(seen).size).toBe(300);
    seen.length = 0;
    await driver.run(url, list, options({ rate: 100, durationMs: 200, startAt: 42 }));
    expect(seen[0]).toBe("/r/42");

    let startedAfter = NaN;
    const t0 = performance.now();
    await driver.run(url, list, options({ rate: 0.5, warmupMs: 600, durationMs: 300, onMeasureStart: () => (startedAfter = performance.now() - t0) }));
    expect(startedAfter).toBeGreaterThanOrEqual(595);
    expect(startedAfter).toBeLessThan(700);
  });
});
