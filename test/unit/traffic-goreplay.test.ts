import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { importGoReplay } from "../../src/traffic/goreplay.js";
import { TrafficError } from "../../src/traffic/har.js";

const SEP = "🐵🙈🙉";

/** One GoReplay record as gor writes it: meta line, payload, "\n", separator line. */
function record(type: 1 | 2 | 3 | string, id: string, ts: string, payload: string | Buffer, latency = type === 1 ? "0" : "1234"): Buffer {
  return Buffer.concat([
    Buffer.from(`${type} ${id} ${ts} ${latency}\n`),
    typeof payload === "string" ? Buffer.from(payload, "utf8") : payload,
    Buffer.from(`\n${SEP}\n`),
  ]);
}

const crlf = (...lines: string[]) => lines.join("\r\n");

let dir: string;
const file = (name: string, ...records: Buffer[]) => {
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat(records));
  return path;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "goreplay-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const GET = crlf("GET /v1/items?page=2&q=a%20b HTTP/1.1", "Host: api.example.com", "User-Agent: curl/8.0", "Accept: */*", "Accept-Encoding: gzip", "Connection: keep-alive", "", "");
const POST_BODY = '{"qty":3,"note":"line1\\nline2"}';
const POST = crlf(
  "POST /v1/orders HTTP/1.1",
  "Host: api.example.com",
  "Content-Type: application/json",
  `Content-Length: ${Buffer.byteLength(POST_BODY)}`,
  "X-Trace:   abc  ",
  "",
  POST_BODY,
);
const RESPONSE = crlf("HTTP/1.1 200 OK", "Content-Type: application/json", "Content-Length: 2", "", "{}");

describe("GoReplay import", () => {
  it("imports GET and POST requests, attaches original responses (type 2; replayed ones ignored), keeps path+query, drops host and hop-by-hop headers", async () => {
    const path = file(
      "requests.gor",
      record(1, "a1", "1700000000000000001", GET),
      record(2, "a1", "1700000000000000900", RESPONSE),
      record(1, "b2", "1700000000000001000", POST),
      record(3, "b2", "1700000000000002000", RESPONSE),
    );
    const result = await importGoReplay([path], "traffic");
    expect(result.total).toBe(2);
    expect(result.skippedCount).toBe(0);
    expect(result.skipped).toEqual([]);
    expect(result.requests).toEqual([
      {
        method: "GET",
        path: "/v1/items?page=2&q=a%20b",
        headers: { "user-agent": "curl/8.0", accept: "*/*" },
        at: 1700000000000,
        host: "api.example.com",
        // the type-2 record a1 (latency 1234 ns); no body unless keepResponseBody accepts the host
        response: { status: 200, headers: { "content-type": "application/json" }, latencyMs: 0.001234 },
      },
      // b2 has only a replayed response (type 3): none attached
      { method: "POST", path: "/v1/orders", headers: { "content-type": "application/json", "x-trace": "abc" }, body: POST_BODY, at: 1700000000000.001, host: "api.example.com" },
    ]);
  });

  it("keeps a body's own trailing CRLF/newlines; only the newline gor adds before the separator is removed", async () => {
    const body = "a=1\r\n\r\nb\n";
    const payload = crlf("PUT /form HTTP/1.1", `Content-Length: ${body.length}`, "", body);
    const noLength = crlf("PATCH /raw HTTP/1.1", "", "x\r\n");
    const result = await importGoReplay([file("bodies.gor", record(1, "c", "1", payload), record(1, "d", "2", noLength))], "t");
    expect(result.requests[0]).toEqual({ method: "PUT", path: "/form", headers: {}, body, at: 1e-6 });
    expect(result.requests[1]).toEqual({ method: "PATCH", path: "/raw", headers: {}, body: "x\r\n", at: 2e-6 });
  });

  it("reduces an absolute-form target to path+query", async () => {
    const result = await importGoReplay(
      [
        file(
          "absolute.gor",
          record(1, "a", "1", crlf("GET http://api.example.com:8080/v2/search?q=x#frag HTTP/1.1", "Host: api.example.com", "", "")),
          record(1, "b", "2", crlf("OPTIONS https://api.example.com?probe=1 HTTP/1.0", "", "")),
          record(1, "c", "3", crlf("get HTTP://Example.com HTTP/1.1", "", "")),
        ),
      ],
      "t",
    );
    expect(result.requests.map((r) => [r.method, r.path])).toEqual([
      ["GET", "/v2/search?q=x"],
      ["OPTIONS", "/?probe=1"],
      ["GET", "/"],
    ]);
  });

  it("de-chunks a chunked POST body and drops transfer-encoding", async () => {
    const chunked = crlf(
      "POST /upload HTTP/1.1",
      "Host: x",
      "Content-Type: text/plain",
      "Transfer-Encoding: chunked",
      "",
      "5;ext=1",
      "hello",
      "7",
      ", world",
      "0",
      "X-Trailer: t",
      "",
      "",
    );
    const result = await importGoReplay([file("chunked.gor", record(1, "a", "10", chunked))], "t");
    expect(result.requests).toEqual([{ method: "POST", path: "/upload", headers: { "content-type": "text/plain" }, body: "hello, world", at: 1e-5, host: "x" }]);
  });

  it("skips records with a NUL in a header, junk records, unknown methods and truncated bodies, counting each with where and why", async () => {
    const path = file(
      "mixed.gor",
      record(1, "a", "1", GET), // record 1, line 1
      record(1, "b", "2", crlf("GET /evil HTTP/1.1", "X-Bad: a\0b", "", "")), // record 2
      Buffer.from(`this is not a meta line\nGET / HTTP/1.1\r\n\r\n\n${SEP}\n`), // record 3
      record(1, "d", "4", crlf("BREW /pot HTTP/1.1", "", "")), // record 4
      record(1, "e", "5", crlf("POST /short HTTP/1.1", "Content-Length: 100", "", "only a few")), // record 5
      record(1, "f", "6", crlf("GET /split HTTP/1.1", "X-Odd: a\rb", "", "")), // record 6
      record(1, "g", "not-a-number", GET), // record 7
      record(1, "h", "8", ""), // record 8: meta line, no request line
    );
    const result = await importGoReplay([path], "traffic");
    expect(result.requests.map((r) => r.path)).toEqual(["/v1/items?page=2&q=a%20b"]);
    expect(result.total).toBe(8);
    expect(result.skippedCount).toBe(7);
    expect(result.skipped.map((s) => s.index)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const [nul, junk, method, truncated, cr, ts, empty] = result.skipped;
    // record 1: meta, 6 request/header lines, blank line, the newline gor adds, separator → record 2 starts on line 11
    // `where` names the file by its full path (a folder of chunks is read)
    expect(nul).toEqual({ index: 1, where: `${path}: record 2 (line 11)`, reason: "header x-bad contains CR, LF or NUL" });
    expect(junk?.where).toMatch(/\/mixed\.gor: record 3 \(line \d+\)$/);
    expect(junk?.reason).toMatch(/expected a meta line "TYPE ID TIMESTAMP LATENCY".*this is not a meta line/);
    expect(method?.reason).toMatch(/expected an HTTP method .*"BREW"/);
    expect(truncated?.reason).toBe("body truncated: 10 of 100 bytes (content-length) recorded");
    expect(cr?.reason).toBe("header x-odd contains CR, LF or NUL");
    expect(ts?.reason).toMatch(/bad TIMESTAMP "not-a-number"/);
    expect(empty?.reason).toBe("no HTTP request line after the meta line");
    expect(empty?.where).toMatch(/\/mixed\.gor: record 8 /);
  });

  it("keeps at most 20 skipped entries but counts them all", async () => {
    const junk = Array.from({ length: 25 }, (_, i) => record(1, `j${i}`, String(i), crlf("TRACE / HTTP/1.1", "", "")));
    const result = await importGoReplay([file("many.gor", ...junk, record(1, "ok", "99", GET))], "t");
    expect(result.total).toBe(26);
    expect(result.skippedCount).toBe(25);
    expect(result.skipped).toHaveLength(20);
    expect(result.requests).toHaveLength(1);
  });

  it("gunzips .gz files while streaming", async () => {
    const raw = Buffer.concat([record(1, "a", "5", POST), record(2, "a", "6", RESPONSE)]);
    const path = join(dir, "requests.gor.gz");
    writeFileSync(path, gzipSync(raw));
    const result = await importGoReplay([path], "t");
    expect(result.total).toBe(1);
    expect(result.requests).toEqual([
      {
        method: "POST",
        path: "/v1/orders",
        headers: { "content-type": "application/json", "x-trace": "abc" },
        body: POST_BODY,
        at: 5e-6,
        host: "api.example.com",
        response: { status: 200, headers: { "content-type": "application/json" }, latencyMs: 0.001234 },
      },
    ]);
  });

  it("reads chunk files in the given order and sorts requests by timestamp (stable on ties)", async () => {
    const get = (p: string) => crlf(`GET ${p} HTTP/1.1`, "Host: h", "", "");
    const first = file("chunk_0.gor", record(1, "1", "1000", get("/a")), record(1, "2", "3000", get("/c")), record(1, "3", "3000", get("/c2")));
    const second = join(dir, "chunk_1.gor.gz");
    writeFileSync(second, gzipSync(Buffer.concat([record(1, "4", "2000", get("/b")), record(1, "5", "3000", get("/c3")), record(1, "6", "18446744073709551615", get("/z"))])));
    const result = await importGoReplay([first, second], "t");
    expect(result.requests.map((r) => r.path)).toEqual(["/a", "/b", "/c", "/c2", "/c3", "/z"]);
    expect(result.total).toBe(6);
  });

  it("tolerates a last record with no separator line and no final newline", async () => {
    const path = join(dir, "tail.gor");
    writeFileSync(path, Buffer.concat([record(1, "a", "1", GET), Buffer.from(`1 b 2 0\n${crlf("DELETE /x/1 HTTP/1.1", "", "")}`)]));
    const result = await importGoReplay([path], "t");
    expect(result.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /v1/items?page=2&q=a%20b", "DELETE /x/1"]);
  });

  it("handles records and separators split across stream chunks (bodies larger than a read chunk)", async () => {
    const body = JSON.stringify({ text: "é🐵\n".repeat(40_000) }); // ~280 KB, multi-byte characters
    const payload = crlf("POST /big HTTP/1.1", "Content-Type: application/json", `Content-Length: ${Buffer.byteLength(body)}`, "", body);
    const records = Array.from({ length: 3 }, (_, i) => record(1, `r${i}`, String(i), payload));
    const plain = await importGoReplay([file("big.gor", ...records)], "t");
    const gz = join(dir, "big.gor.gz");
    writeFileSync(gz, gzipSync(Buffer.concat(records)));
    const zipped = await importGoReplay([gz], "t");
    for (const result of [plain, zipped]) {
      expect(result.skippedCount).toBe(0);
      expect(result.requests).toHaveLength(3);
      for (const request of result.requests) expect(request.body).toBe(body);
    }
  });

  it("skips a non-UTF-8 body instead of corrupting it", async () => {
    const payload = Buffer.concat([Buffer.from(crlf("POST /bin HTTP/1.1", "Content-Length: 3", "", "")), Buffer.from([0xff, 0x00, 0xfe])]);
    const result = await importGoReplay([file("bin.gor", record(1, "a", "1", payload), record(1, "b", "2", GET))], "t");
    expect(result.skipped[0]?.reason).toMatch(/body is not valid UTF-8/);
    expect(result.requests).toHaveLength(1);
  });

  it("throws a TrafficError naming the label when nothing is replayable", async () => {
    const path = file("nothing.gor", record(2, "a", "1", RESPONSE), record(1, "b", "2", crlf("CONNECT host:443 HTTP/1.1", "", "")));
    await expect(importGoReplay([path], "recorded-traffic")).rejects.toThrow(TrafficError);
    await expect(importGoReplay([path], "recorded-traffic")).rejects.toThrow(/^recorded-traffic: no replayable request .*nothing\.gor: record 2 \(line \d+\).*"CONNECT"/);
  });

  it("throws a TrafficError naming an unreadable or corrupt file", async () => {
    const missing = join(dir, "missing.gor");
    const error = await importGoReplay([missing], "t").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrafficError);
    expect((error as Error).message).toBe(`${missing}: cannot read the recorded traffic: no such file`);

    const missingGz = join(dir, "missing.gor.gz");
    await expect(importGoReplay([missingGz], "t")).rejects.toThrow(`${missingGz}: cannot read the recorded traffic: no such file`);

    const corrupt = join(dir, "corrupt.gor.gz");
    writeFileSync(corrupt, "not gzip at all");
    const corruptError = await importGoReplay([corrupt], "t").catch((e: unknown) => e);
    expect(corruptError).toBeInstanceOf(TrafficError);
    expect((corruptError as Error).message).toContain(`${corrupt}: cannot decompress`);

    await expect(importGoReplay([dir], "t")).rejects.toThrow(`${dir}: cannot read the recorded traffic`);
  });
});
