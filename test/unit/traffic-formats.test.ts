import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { importJsonl } from "../../src/traffic/jsonl.js";
import { importAccessLog } from "../../src/traffic/access-log.js";
import { detectFormat, readTraffic } from "../../src/traffic/read.js";
import { parseConfig } from "../../src/config/schema.js";

const FIXTURES = path.join(import.meta.dirname, "../../fixtures/traffic");
const HAR = path.join(import.meta.dirname, "../../fixtures/example/traffic/recorded.har");
const tmp = () => mkdtempSync(path.join(tmpdir(), "sg-traffic-"));

describe("JSON Lines", () => {
  it("imports requests in timestamp order, path and query only, hop-by-hop and pseudo-headers dropped, base64 bodies decoded", async () => {
    const result = await importJsonl(path.join(FIXTURES, "sample.jsonl"));
    expect(result.total).toBe(6);
    expect(result.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /api/products/7?currency=EUR", "POST /api/quote?x=1", "PUT /api/events"]);
    expect(result.requests[0]!.headers).toEqual({ accept: "application/json" });
    expect(result.requests[1]!.headers).toEqual({ "content-type": "application/json", authorization: "Bearer abc" });
    expect(result.requests[1]!.body).toBe('{"items":[{"sku":"A1","qty":2}]}');
    expect(result.requests[2]!.body).toBe('{"type":"view"}');
  });

  it("skips and counts a bad line, naming the line and the reason", async () => {
    const file = path.join(FIXTURES, "sample.jsonl");
    const result = await importJsonl(file);
    expect(result.skippedCount).toBe(3);
    expect(result.skipped.map((s) => [s.index, s.where])).toEqual([
      [4, `${file}:4`],
      [5, `${file}:5`],
      [7, `${file}:7`],
    ]);
    expect(result.skipped[0]!.reason).toMatch(/^not JSON/);
    expect(result.skipped[1]!.reason).toBe("header x-evil contains CR, LF or NUL");
    expect(result.skipped[2]!.reason).toBe('method: expected an HTTP method, got "BREW"');
  });

  it("reads .gz, and refuses a file with nothing replayable, naming the first problem", async () => {
    const dir = tmp();
    const gz = path.join(dir, "t.jsonl.gz");
    writeFileSync(gz, gzipSync('{"method":"GET","url":"/a"}\n{"method":"GET","url":"/b"}\n'));
    expect((await importJsonl(gz)).requests.map((r) => r.path)).toEqual(["/a", "/b"]);
    const bad = path.join(dir, "bad.jsonl");
    writeFileSync(bad, '{"method":"GET","url":"relative/path"}\n');
    await expect(importJsonl(bad)).rejects.toThrow(/bad\.jsonl: no replayable request in the JSON Lines \(line 1: url: expected a path starting with \/ or an http\(s\) URL/);
  });
});

describe("access logs", () => {
  it("imports GET/HEAD with user agent and referer; leaves out what needs a body and junk, counted with the line", async () => {
    const file = path.join(FIXTURES, "access.log");
    const result = await importAccessLog(file);
    expect(result.total).toBe(6);
    // the log time as `at`, the logged status as the response
    const logged = (time: string) => ({ at: Date.parse(`2026-11-29T${time}Z`), response: { status: 200, headers: {} } });
    expect(result.requests).toEqual([
      { method: "GET", path: "/api/products/17?currency=USD", headers: { "user-agent": 'Mozilla/5.0 (X11; Linux) "quoted"', referer: "https://shop.example/" }, ...logged("10:00:00") },
      { method: "GET", path: "/healthz", headers: {}, ...logged("10:00:02") },
      { method: "HEAD", path: "/api/stats", headers: { "user-agent": "probe" }, ...logged("10:00:04") },
    ]);
    expect(result.withoutBody).toBe(1);
    expect(result.skippedCount).toBe(3);
    expect(result.skipped.map((s) => `${s.where}: ${s.reason}`)).toEqual([
      `${file}:2: POST needs a body, which an access log does not record`,
      `${file}:3: not an access-log line (combined or common format)`,
      expect.stringMatching(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:5: expected "METHOD /path HTTP/x.y"`)),
    ]);
  });
});

describe("format detection and reading", () => {
  it("tells the formats apart by their first line, and reads each", async () => {
    expect(await detectFormat(HAR)).toBe("har");
    expect(await detectFormat(path.join(FIXTURES, "sample.jsonl"))).toBe("jsonl");
    expect(await detectFormat(path.join(FIXTURES, "access.log"))).toBe("access-log");
    const dir = tmp();
    const minified = path.join(dir, "one-line.har");
    writeFileSync(minified, '\uFEFF{"log":{"version":"1.2","entries":[{"request":{"method":"GET","url":"http://x/a","headers":[]}}]}}');
    expect(await detectFormat(minified)).toBe("har");
    expect((await readTraffic(minified, "auto")).requests[0]!.path).toBe("/a");
    expect((await readTraffic(path.join(FIXTURES, "access.log"), "auto")).requests).toHaveLength(3);
    expect((await readTraffic(path.join(FIXTURES, "sample.jsonl"), "jsonl")).requests).toHaveLength(3);
  });

  it("detects GoReplay, and reads a folder of its chunk files in name order", async () => {
    const dir = tmp();
    const folder = path.join(dir, "capture");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(folder);
    const record = (id: string, ns: number, target: string) => `1 ${id} ${ns} 0\nGET ${target} HTTP/1.1\r\nHost: shop.example\r\nAccept: */*\r\n\r\n\n🐵🙈🙉\n`;
    writeFileSync(path.join(folder, "requests_0.gor"), record("a1", 2_000, "/second") + "2 a1 2500 300\nHTTP/1.1 200 OK\r\n\r\n\n🐵🙈🙉\n");
    writeFileSync(path.join(folder, "requests_1.gor.gz"), gzipSync(record("b1", 1_000, "/first?x=1")));
    expect(await detectFormat(path.join(folder, "requests_0.gor"))).toBe("goreplay");
    const result = await readTraffic(folder, "auto");
    expect(result.requests.map((r) => r.path)).toEqual(["/first?x=1", "/second"]);
    expect(result.requests[0]!.headers).toEqual({ accept: "*/*" });
  });

  it("says which formats it knows when none fits, and that a folder is for GoReplay chunks", async () => {
    const dir = tmp();
    const junk = path.join(dir, "junk.txt");
    writeFileSync(junk, "hello\nworld\n");
    await expect(readTraffic(junk, "auto")).rejects.toThrow(/junk\.txt: unrecognised traffic format: expected a HAR 1\.2 file.*JSON Lines.*GoReplay.*access log/);
    const folder = path.join(dir, "logs");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(folder);
    writeFileSync(path.join(folder, "a.log"), '1.2.3.4 - - [29/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1\n');
    writeFileSync(path.join(folder, "b.log"), '1.2.3.4 - - [29/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1\n');
    await expect(readTraffic(folder, "auto")).rejects.toThrow(/logs: a folder of chunk files is read for GoReplay only/);
    await expect(readTraffic(path.join(dir, "missing.har"), "auto")).rejects.toThrow(/missing\.har: cannot read the recorded traffic: no such file/);
  });

  it("the config accepts each format by name and names them on a typo", () => {
    const base = { workload: { name: "svc" }, parameters: [{ name: "P", type: "int", range: [1, 4] }], current: { P: 1 } };
    for (const format of ["auto", "har", "jsonl", "goreplay", "access-log"]) expect(parseConfig({ ...base, traffic: { file: "t", format } }).ok).toBe(true);
    const bad = parseConfig({ ...base, traffic: { file: "t", format: "pcap" } });
    expect(bad.ok ? "" : bad.issues[0]!.message).toBe('expected "auto" or one of har, jsonl, goreplay, access-log, got "pcap"');
  });
});

describe("what the recording says is what the shadow gets", () => {
  it("keeps paths exactly as recorded, joins repeated headers, refuses bad header names, keeps untimed lines in place, skips # lines", async () => {
    const dir = tmp();
    const file = path.join(dir, "t.jsonl");
    writeFileSync(
      file,
      [
        "# exported 2026-11-29",
        '{"timestamp":2000,"method":"GET","url":"//api/x?y=1","headers":[["Cookie","a=1"],["cookie","b=2"],["Accept","text/html"],["accept","*/*"]]}',
        '{"method":"GET","url":"/a/../b"}',
        '{"timestamp":1000,"method":"GET","url":"/first"}',
        '{"timestamp":3000,"method":"GET","url":"/x","headers":{"bad name":"v"}}',
      ].join("\n"),
    );
    const result = await importJsonl(file);
    expect(result.requests.map((r) => r.path)).toEqual(["/first", "//api/x?y=1", "/a/../b"]);
    expect(result.requests[1]!.headers).toEqual({ cookie: "a=1; b=2", accept: "text/html, */*" });
    expect(result.skipped[0]).toMatchObject({ index: 5, reason: 'header name "bad name" is not a valid HTTP token' });
  });

  it("decodes an access log's \\xHH runs as UTF-8 and replays raw path bytes percent-encoded", async () => {
    const dir = tmp();
    const file = path.join(dir, "access.log");
    writeFileSync(file, '::1 - - [29/Nov/2026:10:00:00 +0000] "GET /caf\\xC3\\xA9?q=1 HTTP/1.1" 200 5 "-" "Agent \\xC3\\xA9t\\xC3\\xA9"\n');
    const result = await importAccessLog(file);
    expect(result.requests).toEqual([{ method: "GET", path: "/caf%C3%A9?q=1", headers: { "user-agent": "Agent été" }, at: Date.parse("2026-11-29T10:00:00Z"), response: { status: 200, headers: {} } }]);
  });

  it("fails, never hangs, on a missing or corrupt .gz, and reads a gzipped HAR", async () => {
    const dir = tmp();
    await expect(importJsonl(path.join(dir, "missing.jsonl.gz"))).rejects.toThrow(/missing\.jsonl\.gz: cannot read the recorded traffic: no such file/);
    const corrupt = path.join(dir, "corrupt.jsonl.gz");
    writeFileSync(corrupt, "this is not gzip");
    await expect(importJsonl(corrupt)).rejects.toThrow(/corrupt\.jsonl\.gz: cannot decompress the recorded traffic/);
    const har = path.join(dir, "t.har.gz");
    writeFileSync(har, gzipSync('{\n"log": {"version": "1.2", "entries": [{"request": {"method": "GET", "url": "http://x/z", "headers": []}}]}}'));
    expect(await detectFormat(har)).toBe("har");
    expect((await readTraffic(har, "auto")).requests[0]!.path).toBe("/z");
  });

  it("detects JSON Lines whose first record is broken, and a HAR whose first line is a lone brace", async () => {
    const dir = tmp();
    const jsonl = path.join(dir, "a.jsonl");
    writeFileSync(jsonl, '{"method":"GET","url":\n{"method":"GET","url":"/ok"}\n');
    expect(await detectFormat(jsonl)).toBe("jsonl");
    const result = await readTraffic(jsonl, "auto");
    expect(result.requests.map((r) => r.path)).toEqual(["/ok"]);
    expect(result.skipped[0]!.index).toBe(1);
    const har = path.join(dir, "b.har");
    writeFileSync(har, '{\n  "log": {"version": "1.2", "entries": []}\n}\n');
    expect(await detectFormat(har)).toBe("har");
    // a JSON object that is neither: read as a HAR, whose importer says what a HAR needs
    const other = path.join(dir, "c.har");
    writeFileSync(other, '{"hello":1}\n');
    expect(await detectFormat(other)).toBe("har");
    await expect(readTraffic(other, "auto")).rejects.toThrow(/c\.har: not a HAR file: expected an object with log\.entries/);
  });
});

