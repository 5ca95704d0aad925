import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ReplayRequest } from "../../src/core/ports.js";
import { trafficSettings } from "../helpers/traffic-settings.js";
import { importAccessLog, streamAccessLog } from "../../src/traffic/access-log.js";
import { GOREPLAY_RESPONSE_WINDOW, importGoReplay, streamGoReplay } from "../../src/traffic/goreplay.js";
import { importHar, streamHar, TrafficError, type ImportResult, type ImportStream } from "../../src/traffic/har.js";
import { importJsonl, streamJsonl } from "../../src/traffic/jsonl.js";
import { createAnonymiser, prepareTraffic, type TrafficSettings } from "../../src/traffic/prepare.js";
import { readTraffic, streamTraffic } from "../../src/traffic/read.js";
import { INFER_WINDOW, MAX_SAMPLE, sampleTraffic } from "../../src/traffic/sample.js";

const FIXTURES = path.join(import.meta.dirname, "../../fixtures/traffic");
const EXAMPLE_HAR = path.join(import.meta.dirname, "../../fixtures/example/traffic/recorded.har");

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "sg-traffic-stream-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function drain(stream: ImportStream): Promise<ReplayRequest[]> {
  const out: ReplayRequest[] = [];
  for await (const request of stream.requests) out.push(request);
  return out;
}

/** The requests as a multiset: each one's JSON, sorted. */
const multiset = (requests: readonly ReplayRequest[]) => requests.map((r) => JSON.stringify(r)).sort();

/** What the array form returns besides its requests. */
const summaryOf = ({ requests: _requests, ...summary }: ImportResult) => summary;

const settings = trafficSettings;

// ---------------------------------------------------------------- GoReplay records

const SEP = "🐵🙈🙉";
function record(type: 1 | 2 | 3, id: string, ts: string, payload: string, latency = type === 1 ? "0" : "2000000"): Buffer {
  return Buffer.from(`${type} ${id} ${ts} ${latency}\n${payload}\n${SEP}\n`, "utf8");
}
const crlf = (...lines: string[]) => lines.join("\r\n");
const get = (target: string) => crlf(`GET ${target} HTTP/1.1`, "Host: api.example.com", "Accept: */*", "", "");
const ok = (body: string) => crlf("HTTP/1.1 200 OK", "Content-Type: text/plain", `Content-Length: ${body.length}`, "", body);

describe("streamed import: the same requests as the array import, in file order", () => {
  it.each([
    ["chrome.har", path.join(FIXTURES, "chrome.har")],
    ["firefox.har", path.join(FIXTURES, "firefox.har")],
    ["mitmproxy.har", path.join(FIXTURES, "mitmproxy.har")],
    ["the example's recorded.har", EXAMPLE_HAR],
  ])("HAR: %s", async (_name, file) => {
    const keep = { keepResponseBody: () => true };
    const array = await importHar(file, keep);
    const stream = streamHar(file, keep);
    const streamed = await drain(stream);
    expect(multiset(streamed)).toEqual(multiset(array.requests));
    expect(stream.summary()).toEqual(summaryOf(array));
    // file order: the entries of log.entries, less the skipped ones
    const skipped = new Set(array.skipped.map((s) => s.index));
    expect(array.skippedCount).toBe(skipped.size);
    const entries = (JSON.parse(readFileSync(file, "utf8").replace(/^\uFEFF/, "")) as { log: { entries: { startedDateTime?: string; request: { method: string } }[] } }).log.entries;
    const inFile = entries.filter((_, i) => !skipped.has(i)).map((e) => [e.request.method.toUpperCase(), Date.parse(e.startedDateTime ?? "")]);
    expect(streamed.map((r) => [r.method, r.at ?? NaN])).toEqual(inFile);
  });

  it("JSON Lines: file order (the array form orders by time), same summary", async () => {
    const file = path.join(FIXTURES, "sample.jsonl");
    const array = await importJsonl(file);
    const stream = streamJsonl(file);
    const streamed = await drain(stream);
    expect(multiset(streamed)).toEqual(multiset(array.requests));
    expect(stream.summary()).toEqual(summaryOf(array));
    expect(stream.summary().skippedCount).toBe(3);
    // the fixture's first line is recorded after its second
    expect(streamed.map((r) => `${r.method} ${r.path}`)).toEqual(["POST /api/quote?x=1", "GET /api/products/7?currency=EUR", "PUT /api/events"]);
    expect(array.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /api/products/7?currency=EUR", "POST /api/quote?x=1", "PUT /api/events"]);
  });

  it("access log: the same requests in the same order, withoutBody counted", async () => {
    const file = path.join(FIXTURES, "access.log");
    const array = await importAccessLog(file);
    const stream = streamAccessLog(file);
    expect(await drain(stream)).toEqual(array.requests);
    expect(stream.summary()).toEqual(summaryOf(array));
    expect(stream.summary().withoutBody).toBe(1);
  });

  it("GoReplay: file order (the array form orders by timestamp), responses attached, same summary", async () => {
    const file = path.join(dir, "order.gor");
    writeFileSync(
      file,
      Buffer.concat([
        record(1, "a", "1700000000000000300", get("/a")),
        record(1, "b", "1700000000000000100", get("/b")),
        record(2, "b", "1700000000000000400", ok("bee")),
        Buffer.from(`junk meta\nGET / HTTP/1.1\r\n\r\n\n${SEP}\n`),
        record(2, "a", "1700000000000000500", ok("ay")),
        record(1, "c", "1700000000000000200", get("/c")),
        record(3, "c", "1700000000000000600", ok("replayed")),
      ]),
    );
    const keep = { keepResponseBody: () => true };
    const array = await importGoReplay([file], "rec", keep);
    const stream = streamGoReplay([file], "rec", keep);
    const streamed = await drain(stream);
    expect(multiset(streamed)).toEqual(multiset(array.requests));
    expect(stream.summary()).toEqual(summaryOf(array));
    expect(stream.summary()).toMatchObject({ total: 4, skippedCount: 1 });
    expect(streamed.map((r) => r.path)).toEqual(["/a", "/b", "/c"]);
    expect(array.requests.map((r) => r.path)).toEqual(["/b", "/c", "/a"]);
    expect(streamed.map((r) => r.response?.body)).toEqual(["ay", "bee", undefined]);
    expect(streamed[0]!.response).toEqual({ status: 200, headers: { "content-type": "text/plain" }, body: "ay", latencyMs: 2 });
  });

  it("streamTraffic detects the format and reads a folder of GoReplay chunks in name order, as readTraffic", async () => {
    const folder = mkdtempSync(path.join(dir, "chunks-"));
    writeFileSync(path.join(folder, "requests_10.gor"), Buffer.concat([record(1, "y", "3", get("/ten")), record(2, "x", "4", ok("late"))]));
    writeFileSync(path.join(folder, "requests_2.gor"), record(1, "x", "2", get("/two")));
    const stream = await streamTraffic(folder, "auto", { keepResponseBody: () => true });
    const streamed = await drain(stream);
    expect(streamed.map((r) => r.path)).toEqual(["/two", "/ten"]);
    // a response in the next chunk file still finds its request
    expect(streamed[0]!.response?.body).toBe("late");
    expect(multiset(streamed)).toEqual(multiset((await readTraffic(folder, "auto", { keepResponseBody: () => true })).requests));
    for (const file of [path.join(FIXTURES, "chrome.har"), path.join(FIXTURES, "sample.jsonl"), path.join(FIXTURES, "access.log")]) {
      expect(multiset(await drain(await streamTraffic(file, "auto")))).toEqual(multiset((await readTraffic(file, "auto")).requests));
    }
    await expect(streamTraffic(path.join(dir, "missing.har"), "auto")).rejects.toThrow(/missing\.har: cannot read the recorded traffic: no such file/);
  });
});

describe("GoReplay responses in streaming form", () => {
  it("holds a request until its response arrives, at most the response window of records; then yields it without one", async () => {
    expect(GOREPLAY_RESPONSE_WINDOW).toBe(10_000);
    const file = path.join(dir, "window.gor");
    writeFileSync(
      file,
      Buffer.concat([
        record(1, "a", "1", get("/a")), // record 1
        record(1, "b", "2", get("/b")), // 2
        record(1, "c", "3", get("/c")), // 3
        record(2, "b", "4", ok("b")), // 4: b's response, 2 records after it
        record(1, "d", "5", get("/d")), // 5
        record(2, "a", "6", ok("a")), // 6: a's response, 5 records after it
        record(2, "d", "7", ok("d")), // 7
      ]),
    );
    const keep = { keepResponseBody: () => true };
    const bodies = async (window?: number) => (await drain(streamGoReplay([file], "t", keep, window))).map((r) => `${r.path}:${r.response?.body ?? "-"}`);
    // the default window: every response attached, as the array import does
    expect(await bodies()).toEqual(["/a:a", "/b:b", "/c:-", "/d:d"]);
    expect((await importGoReplay([file], "t", keep)).requests.map((r) => `${r.path}:${r.response?.body ?? "-"}`)).toEqual(["/a:a", "/b:b", "/c:-", "/d:d"]);
    // a window of 3 records: a (response 5 records later) goes without; b and d are answered in time
    expect(await bodies(3)).toEqual(["/a:-", "/b:b", "/c:-", "/d:d"]);
    // a window of 1: each request goes on at the next record, before any response
    expect(await bodies(1)).toEqual(["/a:-", "/b:-", "/c:-", "/d:-"]);
    expect(() => streamGoReplay([file], "t", {}, 0)).toThrow(/responseWindow: expected a number of records ≥ 1, got 0/);
  });

  it("yields a request as soon as it is answered (and those before it went on): memory holds the unanswered ones only", async () => {
    const records: Buffer[] = [];
    for (let i = 0; i < 50; i++) records.push(record(1, `r${i}`, String(i + 1), get(`/r/${i}`)), record(2, `r${i}`, String(i + 1), ok(`${i}`)));
    const file = path.join(dir, "answered.gor");
    writeFileSync(file, Buffer.concat(records));
    const stream = streamGoReplay([file], "t", { keepResponseBody: () => true });
    let seen = 0;
    for await (const request of stream.requests) {
      expect(request.response?.body).toBe(String(seen));
      // the request comes out right after its response's record: the summary has counted it and no further one
      expect(stream.summary().total).toBe(seen + 1);
      seen++;
    }
    expect(seen).toBe(50);
  });
});

describe("streaming import + sampling: memory bounded by the sample", () => {
  const ROUTES = ["/api/items/", "/api/users/", "/api/search?q=", "/api/orders/"];

  /** `n` JSON Lines requests in time order: four common routes, one rare one (every 50,000th). */
  async function writeJsonl(file: string, n: number): Promise<void> {
    const out = createWriteStream(file);
    const t0 = Date.parse("2026-11-29T10:00:00Z");
    let chunk = "";
    for (let i = 0; i < n; i++) {
      const rare = i % 50_000 === 25_000;
      const url = rare ? `/api/rare/report?page=${i}` : `${ROUTES[i % ROUTES.length]}${(i * 7919) % 100_000}`;
      chunk += `${JSON.stringify({ timestamp: t0 + i * 10, method: "GET", url, headers: { authorization: `Bearer tok-${i % 97}`, accept: "application/json" } })}\n`;
      if (chunk.length > 1 << 16) {
        if (!out.write(chunk)) await once(out, "drain");
        chunk = "";
      }
    }
    out.end(chunk);
    await once(out, "finish");
  }

  it("300,000 requests through streamTraffic + prepareTraffic with a sample of 2,000", async () => {
    const N = 300_000;
    const file = path.join(dir, "large.jsonl");
    await writeJsonl(file, N);
    const heapBefore = process.memoryUsage().heapUsed;
    const stream = await streamTraffic(file, "auto");
    const prepared = await prepareTraffic(stream.requests, settings({ sample: 2000, floor: 3, seed: 11 }));
    const heapAfter = process.memoryUsage().heapUsed;
    console.log(`streaming ${N} requests into a sample of 2,000: heap ${(heapBefore / 2 ** 20).toFixed(0)} → ${(heapAfter / 2 ** 20).toFixed(0)} MiB, peakHeld ${prepared.peakHeld}`);

    expect(stream.summary()).toEqual({ total: N, skipped: [], skippedCount: 0 });
    expect(prepared.recorded).toBe(N);
    expect(prepared.requests).toHaveLength(2000);
    // the inference window, then the reservoirs: 2·size and the routes' floors
    expect(prepared.peakHeld).toBeLessThanOrEqual(INFER_WINDOW + 2 * 2000 + 3 * prepared.strata.length);
    // the rare route (6 recorded) survives with its floor
    expect(prepared.strata.find((s) => s.route.startsWith("GET /api/rare/report"))).toMatchObject({ recorded: 6, sampled: 3, weight: 2 });
    expect(prepared.requests.filter((r) => r.path.startsWith("/api/rare/report"))).toHaveLength(3);
    // the weights describe the recording again
    expect(prepared.requests.reduce((sum, r) => sum + r.weight!, 0)).toBeCloseTo(N, 6);
    expect(prepared.strata.reduce((sum, s) => sum + s.recorded, 0)).toBe(N);
    // anonymised on the way, in recorded time order
    expect(prepared.redactions["header:authorization"]).toBe(N);
    expect(prepared.requests.some((r) => r.headers.authorization?.includes("tok-"))).toBe(false);
    const times = prepared.requests.map((r) => r.at!);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(prepared.recordedRate).toBeCloseTo(100, 6);
  }, 120_000);

  it("draws the sample the array path draws from a recording in time order, by count and by fraction", async () => {
    const file = path.join(dir, "medium.jsonl");
    await writeJsonl(file, 30_000);
    const key = (overrides: Partial<TrafficSettings>) => settings({ anonymiser: createAnonymiser({ headers: [], fields: [], keep: [], rules: [] }, "same key"), ...overrides });
    for (const sample of [500, 0.05, 1]) {
      const viaArray = await prepareTraffic((await readTraffic(file, "jsonl")).requests, key({ sample, seed: 5 }));
      const viaStream = await prepareTraffic((await streamTraffic(file, "jsonl")).requests, key({ sample, seed: 5 }));
      expect(viaStream.requests).toEqual(viaArray.requests);
      expect(viaStream.strata).toEqual(viaArray.strata);
      expect(viaStream.redactions).toEqual(viaArray.redactions);
      expect(viaStream.requests).toHaveLength(sample > 1 ? 500 : Math.round(sample * 30_000));
    }
  }, 60_000);

  it("a fraction keeps at most maxSample requests, and holds room for 2·maxSample", async () => {
    expect(MAX_SAMPLE).toBe(100_000);
    const requests: ReplayRequest[] = Array.from({ length: 5000 }, (_, i) => ({ method: "GET", path: `/item/${i}`, headers: {}, at: i }));
    const capped = await prepareTraffic(requests, settings({ sample: 0.5, maxSample: 300 }));
    expect(capped.requests).toHaveLength(300);
    expect(capped.recorded).toBe(5000);
    expect(capped.requests.reduce((sum, r) => sum + r.weight!, 0)).toBeCloseTo(5000, 6);
    const direct = await sampleTraffic(requests, { fraction: 0.5, maxSize: 300, floor: 3, seed: 1, inferWindow: 1000 });
    expect(direct.requests).toHaveLength(300);
    expect(direct.peakHeld).toBeLessThanOrEqual(1000 + 2 * 300 + 3 * direct.strata.length);
    // under the cap, the fraction of what was read
    expect((await sampleTraffic(requests, { fraction: 0.01, floor: 3, seed: 1 })).requests).toHaveLength(50);
    await expect(sampleTraffic(requests, { fraction: 0, floor: 3, seed: 1 })).rejects.toThrow("sampleTraffic: fraction: expected a number above 0 and at most 1, got 0");
    await expect(sampleTraffic(requests, { size: 10, fraction: 0.5, floor: 3, seed: 1 })).rejects.toThrow("sampleTraffic: expected size or fraction, got both");
  });
});

describe("a stream without a replayable request", () => {
  it("fails prepareTraffic with the importer's own 'no replayable request' error", async () => {
    const jsonl = path.join(dir, "bad.jsonl");
    writeFileSync(jsonl, 'not json\n{"method": "BREW", "url": "/pot"}\n');
    const log = path.join(dir, "bad.log");
    writeFileSync(log, "garbage\n10.0.0.2 - - [29/Nov/2026:10:00:01 +0000] \"POST /api/quote HTTP/1.1\" 200 80 \"-\" \"curl/8.5.0\"\n");
    const har = path.join(dir, "bad.har");
    writeFileSync(har, JSON.stringify({ log: { version: "1.2", entries: [{ request: { method: "BREW", url: "http://x/" } }] } }));
    const gor = path.join(dir, "bad.gor");
    writeFileSync(gor, record(1, "a", "1", crlf("BREW /pot HTTP/1.1", "", "")));
    const cases: [string, () => Promise<ImportResult>, () => Promise<ImportStream>][] = [
      [jsonl, () => importJsonl(jsonl), () => streamTraffic(jsonl, "jsonl")],
      [log, () => importAccessLog(log), () => streamTraffic(log, "access-log")],
      [har, () => importHar(har), () => streamTraffic(har, "har")],
      [gor, () => importGoReplay([gor], gor), () => streamTraffic(gor, "goreplay")],
    ];
    for (const [file, array, stream] of cases) {
      const expected = await array().then(
        () => undefined,
        (error: Error) => error,
      );
      expect(expected).toBeInstanceOf(TrafficError);
      expect(expected!.message).toMatch(/no replayable request/);
      expect(expected!.message).toContain(file);
      const error = await prepareTraffic((await stream()).requests, settings()).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error).toBeInstanceOf(TrafficError);
      expect(error!.message).toBe(expected!.message);
    }
    // an empty file too
    const empty = path.join(dir, "empty.jsonl");
    writeFileSync(empty, "");
    await expect(prepareTraffic((await streamTraffic(empty, "jsonl")).requests, settings())).rejects.toThrow(`${empty}: no replayable request in the JSON Lines (the file has no line)`);
  });

  it("a stream that fails part-way fails the preparation with the importer's error", async () => {
    const file = path.join(dir, "truncated.har");
    const text = JSON.stringify({ log: { version: "1.2", entries: [{ startedDateTime: "2026-11-01T00:00:00Z", request: { method: "GET", url: "http://x/a", headers: [] }, response: { status: 200 } }] } });
    writeFileSync(file, text.slice(0, -3));
    const expected = await importHar(file).then(
      () => "",
      (error: Error) => error.message,
    );
    expect(expected).toMatch(/truncated\.har: not a HAR file/);
    await expect(prepareTraffic(streamHar(file).requests, settings())).rejects.toThrow(expected);
  });
});
