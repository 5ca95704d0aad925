import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { HarEntryScanner, type HarEntryBytes } from "../../src/traffic/har-stream.js";
import { importHar, importHarFrom, recordedHost, TrafficError } from "../../src/traffic/har.js";
import { importJsonl } from "../../src/traffic/jsonl.js";
import { importGoReplay } from "../../src/traffic/goreplay.js";
import { accessLogTime, importAccessLog } from "../../src/traffic/access-log.js";
import { detectFormat, readTraffic } from "../../src/traffic/read.js";
import { mulberry32 } from "../../src/search/random.js";

const FIXTURES = path.join(import.meta.dirname, "../../fixtures/traffic");
const dir = mkdtempSync(path.join(tmpdir(), "sg-har-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const write = (name: string, content: string | Buffer) => {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
};

/** `text` cut into chunks of the given sizes (cycled), as a stream would hand them over. */
function chunked(text: string | Buffer, sizes: number[]): Buffer[] {
  const bytes = typeof text === "string" ? Buffer.from(text, "utf8") : text;
  const chunks: Buffer[] = [];
  for (let at = 0, k = 0; at < bytes.length; k++) {
    const size = sizes[k % sizes.length]!;
    chunks.push(Buffer.from(bytes.subarray(at, at + size)));
    at += size;
  }
  return chunks;
}

/** Every entry the scanner finds in `chunks`. */
function scan(chunks: Buffer[]): HarEntryBytes[] {
  const scanner = new HarEntryScanner();
  const out: HarEntryBytes[] = [];
  for (const chunk of chunks) out.push(...scanner.push(chunk).map((e) => ({ ...e, bytes: Buffer.from(e.bytes) })));
  out.push(...scanner.end());
  return out;
}

const har = (entries: unknown[], extra = "") => `{"log":{"version":"1.2","creator":{"name":"t","version":"1"}${extra},"entries":${JSON.stringify(entries)}}}`;
const get = (url: string, headers: [string, string][] = [], more: Record<string, unknown> = {}) => ({
  startedDateTime: "2026-11-29T10:00:00.000Z",
  time: 5,
  request: { method: "GET", url, headers: headers.map(([name, value]) => ({ name, value })) },
  response: { status: 200, headers: [], content: { size: 2, mimeType: "text/plain", text: "ok" } },
  ...more,
});

/** Tricky entries: strings with quotes, braces, backslashes, escapes and multi-byte characters. */
const TRICKY = [
  { request: { method: "GET", url: "http://x/a", headers: [{ name: "x-json", value: '{"a":"}]"}' }] }, response: { status: 200, content: { text: 'say \\"hi\\" {[ ]} \\\\', mimeType: "text/plain" } } },
  { request: { method: "POST", url: "http://x/b", headers: [], postData: { text: "{\"text\":\"not the body\"}", mimeType: "application/json" } }, response: { status: 200, headers: [], content: { mimeType: "x", text: "é🐵\u0000\u001f\\", size: 3 } } },
  { _text: { text: "custom" }, request: { method: "GET", url: "http://x/c", headers: [] }, response: { status: 404, content: { mimeType: "text/html" } }, comment: "\\" },
  { request: { method: "GET", url: "http://x/d", headers: [] }, response: { content: { text: ["not", "a string"] }, status: 200 } },
  { request: { method: "GET", url: "http://x/e", headers: [] }, response: { status: 200, headers: [{ name: "text", value: "text" }], content: { size: 0, text: "", encoding: "base64" } } },
];

describe("the HAR scanner", () => {
  const doc = `\uFEFF{"log": {"pages": [{"id": "p\\"}]"}], "entries": [\n ${TRICKY.map((e) => JSON.stringify(e, null, 1)).join(" ,\n")} , 42, "s\\"]", null, [1, {"a": []}], {} ], "comment": "after"}}`;

  it("hands out each entry's exact bytes whatever the chunking, a BOM skipped, offsets pointing into the file", () => {
    const expected = [...TRICKY, 42, 's"]', null, [1, { a: [] }], {}];
    const bytes = Buffer.from(doc, "utf8");
    for (const sizes of [[1], [2], [3], [7], [64], [1 << 16], [5, 1, 13, 2, 1, 30]]) {
      const entries = scan(chunked(bytes, sizes));
      expect(entries.map((e) => JSON.parse(e.bytes.toString("utf8")) as unknown)).toEqual(expected);
      expect(entries.map((e) => e.index)).toEqual(expected.map((_, i) => i));
      for (const entry of entries) expect(bytes.subarray(entry.offset, entry.offset + entry.bytes.length).equals(entry.bytes)).toBe(true);
    }
  });

  it("notes where response.content.text lies, only when it is that string (not postData.text, a custom field or a header)", () => {
    const rng = mulberry32(7);
    for (let round = 0; round < 20; round++) {
      const sizes = Array.from({ length: 8 }, () => 1 + Math.floor(rng() * 12));
      const entries = scan(chunked(doc, sizes));
      const ranges = entries.map((e) => (e.responseText ? JSON.parse(e.bytes.toString("utf8", e.responseText.start, e.responseText.end)) : undefined) as unknown);
      // a key cut by a chunk end is not read: no range then, never a wrong one
      const expected = ['say \\"hi\\" {[ ]} \\\\', "é🐵\u0000\u001f\\", undefined, undefined, ""];
      ranges.slice(0, 5).forEach((range, i) => expect([expected[i], undefined]).toContainEqual(range));
      expect(ranges.slice(5)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    }
    const whole = scan([Buffer.from(doc)]).map((e) => e.responseText !== undefined);
    expect(whole).toEqual([true, true, false, false, true, false, false, false, false, false]);
    // a repeated text key: no range (the parse sees both)
    const twice = scan([Buffer.from('{"log":{"entries":[{"response":{"content":{"text":"a","text":"b"}}}]}}')]);
    expect(twice[0]!.responseText).toBeUndefined();
  });

  it("says where a document is not JSON, truncated, or has no log.entries array", () => {
    const fails = (text: string, sizes = [3]) => {
      try {
        scan(chunked(text, sizes));
      } catch (error) {
        return `${(error as { kind: string }).kind}: ${(error as Error).message}`;
      }
      return "no error";
    };
    expect(fails("")).toBe("json: unexpected end of the file at byte 0: truncated?");
    expect(fails("not json")).toBe('json: unexpected "not" at byte 0');
    expect(fails('{"log": {"entries": [{"a": 1}, {"b": ')).toBe("json: unexpected end of the file at byte 37 inside log.entries[1]: truncated?");
    expect(fails('{"log": {"entries": [{"a": 1}')).toBe("json: unexpected end of the file at byte 29 inside log.entries: truncated?");
    expect(fails('{"log": {"entries": [], "x": "abc')).toBe("json: unexpected end of the file at byte 33 inside a string: truncated?");
    expect(fails('{"log": {"entries": [{"a": 1},]}}')).toBe('json: unexpected "]" at byte 30 at log.entries[1]');
    expect(fails('{"log": {"entries": [{"a": 1} {"b": 2}]}}')).toBe('json: unexpected "{" at byte 30 after log.entries[0]: expected "," or "]"');
    expect(fails('{"log": {"entries": []}} x')).toBe('json: unexpected "x" at byte 25 after the end of the document');
    expect(fails('{"log": {"version": 1.2.3, "entries": []}}')).toBe('json: unexpected "1.2.3" at byte 20');
    expect(fails('{"log": {"x": "a\tb", "entries": []}}')).toMatch(/^json: unexpected byte 0x09 at byte 16 in a string/);
    expect(fails('{"log": {"x": "\\q", "entries": []}}')).toMatch(/^json: unexpected "q" at byte 16 after a backslash/);
    expect(fails('{"log": {"entries": {}}}')).toBe("shape: expected an object with log.entries (an array of recorded requests)");
    expect(fails('{"entries": []}')).toBe("shape: expected an object with log.entries (an array of recorded requests)");
    expect(fails('[{"log": {"entries": []}}]')).toBe("shape: expected an object with log.entries (an array of recorded requests)");
    expect(fails('{"log": {"pages": {"entries": []}}}')).toBe("shape: expected an object with log.entries (an array of recorded requests)");
    // an escaped key is still the key
    expect(fails('{"\\u006cog": {"entri\\u0065s": []}}', [1])).toBe("no error");
  });
});

describe("HAR import: files as exporters write them", () => {
  const keepAll = { keepResponseBody: () => true };

  it("Chrome: pseudo-headers dropped, :authority is the host, entries in startedDateTime order, status 0 kept without a response, custom fields ignored", async () => {
    const file = path.join(FIXTURES, "chrome.har");
    const result = await importHar(file, keepAll);
    expect(result.total).toBe(5);
    expect(result.skippedCount).toBe(0);
    const [cart, products, blocked, logo, health] = result.requests;
    expect(result.requests.map((r) => `${r.method} ${r.host}${r.path}`)).toEqual([
      "POST api.shop.example/v1/cart",
      "GET shop.example/api/products?page=2&q=mug",
      "GET ads.example.net/track.js?id=1",
      "GET cdn.shop.example/img/logo.png",
      "GET shop.example:8443/healthz",
    ]);
    expect(products).toEqual({
      method: "GET",
      path: "/api/products?page=2&q=mug",
      // accept-encoding and content-length dropped; the two HTTP/2 cookie headers joined
      headers: { accept: "application/json", cookie: "sid=abc123; consent=yes", "user-agent": expect.stringMatching(/^Mozilla/) },
      at: Date.parse("2026-11-29T10:00:00.200Z"),
      host: "shop.example",
      response: {
        status: 200,
        headers: { "content-type": "application/json; charset=utf-8", "content-encoding": "br", "cache-control": "private", "set-cookie": "seen=1; Path=/\nab=B; Path=/" },
        body: '{"items":[{"id":7,"name":"Mug \\"Classic\\"","tags":["{kitchen}","[sale]"],"path":"C:\\\\mugs"}],"next":"/api/products?page=3"}',
        latencyMs: 44,
      },
    });
    expect(cart).toMatchObject({ body: '{"sku":"A1","qty":2,"note":"gift \\"wrap\\" {please}"}', headers: { "content-type": "application/json", origin: "https://shop.example" } });
    expect(cart!.response).toEqual({ status: 201, headers: { "content-type": "application/json", location: "/v1/cart/c-42" }, body: '{"cartId":"c-42","total":19.9}', latencyMs: 29.25 });
    expect(blocked!.response).toBeUndefined();
    expect(blocked!.headers).toEqual({ referer: "https://shop.example/" });
    // a binary (base64 PNG) body is not text: status and headers kept, no body
    expect(logo!.response).toEqual({ status: 200, headers: { "content-type": "image/png" }, latencyMs: 10.75 });
    expect(health!.response).toEqual({ status: 204, headers: {}, latencyMs: 2.75 });
    expect(JSON.stringify(result.requests)).not.toMatch(/_initiator|callFrames|_priority/);
  });

  it("Firefox: the Host header is the host, Set-Cookie lines joined with LF kept, offsets in startedDateTime honoured", async () => {
    const result = await importHar(path.join(FIXTURES, "firefox.har"), keepAll);
    expect(result.requests.map((r) => [r.method, r.path, r.at])).toEqual([
      ["POST", "/login", Date.parse("2026-11-29T10:00:00.000Z")],
      ["GET", "/", Date.parse("2026-11-29T10:00:00.500Z")],
      ["GET", "/static/site.css", Date.parse("2026-11-29T10:00:00.600Z")],
    ]);
    const [login, page, css] = result.requests;
    expect(login).toMatchObject({ host: "shop.example", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "u=a&pw=b%21", response: { status: 303, headers: { location: "/" }, body: "", latencyMs: 12 } });
    // Connection and TE are hop-by-hop
    expect(page!.headers).toEqual({ "user-agent": expect.stringContaining("Firefox"), accept: "text/html" });
    expect(page!.response!.headers["set-cookie"]).toBe("a=1; Path=/\nb=2; Path=/; Secure");
    expect(page!.response!.body).toContain("Grüße {shop}");
    expect(page!.response!.latencyMs).toBe(32); // send + wait + receive: the recording client's connection setup is not replayed
    expect(css!.response).toEqual({ status: 304, headers: { etag: '"abc"' }, latencyMs: 5 });
  });

  it("mitmproxy: base64 request and response bodies decoded, the port kept unless default, latency from timings, response null kept without one", async () => {
    const result = await importHar(path.join(FIXTURES, "mitmproxy.har"), keepAll);
    const [upload, ping, items] = result.requests;
    expect(upload).toEqual({
      method: "POST",
      path: "/upload",
      headers: { "content-type": "application/octet-stream" },
      body: "hello world",
      at: Date.parse("2026-11-29T10:00:01.123Z"),
      host: "api.internal:8080",
      // no entry.time: the sum of the non-negative timings
      response: { status: 200, headers: { "content-type": "application/json" }, body: '{"ok": true, "name": "Grüße"}', latencyMs: 13.5 },
    });
    expect(ping!.host).toBe("api.internal");
    expect(ping!.response!.latencyMs).toBe(2.5);
    expect(items).toEqual({ method: "GET", path: "/items?x=1", headers: {}, at: Date.parse("2026-11-29T10:00:03Z"), host: "api.internal:8080" });
  });

  it("keeps response bodies only for the hosts keepResponseBody accepts (none by default); status, headers and latency always", async () => {
    const file = path.join(FIXTURES, "chrome.har");
    const none = await importHar(file);
    expect(none.requests.every((r) => r.response?.body === undefined)).toBe(true);
    expect(none.requests[0]!.response).toEqual({ status: 201, headers: { "content-type": "application/json", location: "/v1/cart/c-42" }, latencyMs: 29.25 });
    const asked: (string | undefined)[] = [];
    const some = await importHar(file, { keepResponseBody: (host) => (asked.push(host), host === "api.shop.example") });
    expect(some.requests.filter((r) => r.response?.body !== undefined).map((r) => r.host)).toEqual(["api.shop.example"]);
    expect(asked).toEqual(expect.arrayContaining(["shop.example", "api.shop.example", "cdn.shop.example"]));
    // asked only where there is a body to keep
    expect(asked).not.toContain("ads.example.net");
  });

  it("reads a gzipped HAR, and the same entries whatever the chunking (entries and bodies across chunk ends)", async () => {
    const text = readFileSync(path.join(FIXTURES, "chrome.har"));
    const reference = await importHar(path.join(FIXTURES, "chrome.har"), keepAll);
    const gz = write("chrome.har.gz", gzipSync(text));
    expect(await importHar(gz, keepAll)).toEqual(reference);
    expect(await readTraffic(gz, "auto", keepAll)).toEqual(reference);
    for (const sizes of [[1], [2, 3], [17], [4096]]) expect(await importHarFrom(chunked(text, sizes), "chrome.har", keepAll)).toEqual(reference);
  });

  it("reads entries and bodies larger than a read chunk (64 KiB) from a file", async () => {
    const big = (n: number) => `{"n":${n},"text":"${'\\"{[x]}\\\\ é🐵 '.repeat(20_000)}"}`;
    const entries = [0, 1, 2].map((n) => ({ ...get(`http://big/${n}`), response: { status: 200, headers: [], content: { mimeType: "application/json", text: big(n) } }, request: { method: "POST", url: `http://big/${n}`, headers: [], postData: { mimeType: "text/plain", text: big(n + 10) } } }));
    const file = write("big.har", JSON.stringify({ log: { entries } }, null, 2));
    const result = await importHar(file, keepAll);
    expect(result.requests.map((r) => [r.body, r.response?.body])).toEqual([0, 1, 2].map((n) => [big(n + 10), big(n)]));
    const gz = write("big.har.gz", gzipSync(readFileSync(file)));
    expect(await importHar(gz, keepAll)).toEqual(result);
  });
});

describe("HAR import: entries that cannot be replayed, documents that are not HARs", () => {
  it("skips an entry with CR, LF or NUL in a header value (Host and :authority too), counted and named, not the whole file", async () => {
    const result = await importHarFrom(
      [
        Buffer.from(
          har([
            get("http://x/ok"),
            get("http://x/a", [["X-Evil", "a\r\nInjected: 1"]]),
            get("http://x/b", [["Host", "x\r\nInjected: 1"]]),
            get("http://x/c", [[":authority", "x\u0000y"]]),
            { ...get("http://x/d"), response: { status: 200, headers: [{ name: "Location", value: "/a\r\nSet-Cookie: x=1" }] } },
          ]),
        ),
      ],
      "t.har",
    );
    expect(result.requests.map((r) => r.path)).toEqual(["/ok"]);
    expect(result.total).toBe(5);
    expect(result.skippedCount).toBe(4);
    expect(result.skipped.map((s) => `${s.where}: ${s.reason}`)).toEqual([
      "t.har: log.entries[1]: header x-evil contains CR, LF or NUL",
      "t.har: log.entries[2]: header host contains CR, LF or NUL",
      "t.har: log.entries[3]: header :authority contains CR, LF or NUL",
      "t.har: log.entries[4]: response header location contains CR, LF or NUL",
    ]);
  });

  it("skips an entry that is not an object, naming it; orders by startedDateTime, untimed entries after the one before them", async () => {
    const at = (url: string, time?: string) => ({ ...get(url), startedDateTime: time });
    const result = await importHarFrom(
      [Buffer.from(har([at("http://x/c", "2026-11-29T10:00:03Z"), 42, at("http://x/c-untimed"), at("http://x/a", "2026-11-29T10:00:01Z"), [], at("http://x/b", "not a time"), at("http://x/a2", "2026-11-29T10:00:01Z"), "x"]))],
      "t.har",
    );
    expect(result.requests.map((r) => r.path)).toEqual(["/a", "/b", "/a2", "/c", "/c-untimed"]);
    expect(result.requests.map((r) => r.at)).toEqual([Date.parse("2026-11-29T10:00:01Z"), undefined, Date.parse("2026-11-29T10:00:01Z"), Date.parse("2026-11-29T10:00:03Z"), undefined]);
    expect(result.skipped.map((s) => [s.index, s.reason])).toEqual([
      [1, "expected an entry object {startedDateTime, request, response}, got 42"],
      [4, "expected an entry object {startedDateTime, request, response}, got an array"],
      [7, 'expected an entry object {startedDateTime, request, response}, got "x"'],
    ]);
  });

  it("keeps a request whose response is null or has status 0, without a response", async () => {
    const result = await importHarFrom([Buffer.from(har([{ ...get("http://x/a"), response: null }, { ...get("http://x/b"), response: { status: 0, headers: [], content: { size: 0 } } }]))], "t.har");
    expect(result.requests.map((r) => [r.path, r.response])).toEqual([
      ["/a", undefined],
      ["/b", undefined],
    ]);
  });

  it("fails with one line naming the file: truncated, invalid JSON in an entry, entries not an array, nothing replayable, unreadable", async () => {
    const full = Buffer.from(har([get("http://x/a"), get("http://x/b")]));
    const truncated = write("truncated.har", full.subarray(0, full.length - 40));
    await expect(importHar(truncated)).rejects.toThrow(new TrafficError(`${truncated}: not a HAR file: invalid JSON (unexpected end of the file at byte ${full.length - 40} inside log.entries[1]: truncated?)`));
    await expect(importHarFrom([Buffer.from('{"log":{"entries":[{"request":tru}]}}')], "bad.har")).rejects.toThrow(/^bad\.har: not a HAR file: invalid JSON \(log\.entries\[0\], from byte 19: .*\)$/);
    await expect(importHarFrom([Buffer.from('{"log":{"entries":{"0":{}}}}')], "obj.har")).rejects.toThrow(new TrafficError("obj.har: not a HAR file: expected an object with log.entries (an array of recorded requests)"));
    await expect(importHarFrom([Buffer.from('{"log":{"entries":[]}}')], "empty.har")).rejects.toThrow(new TrafficError("empty.har: no replayable request in log.entries (log.entries is empty)"));
    await expect(importHarFrom([Buffer.from(har([get("ftp://x/a")]))], "ftp.har")).rejects.toThrow(new TrafficError('ftp.har: no replayable request in log.entries (log.entries[0]: expected an http(s) URL, got "ftp://x/a")'));
    await expect(importHar(path.join(dir, "missing.har"))).rejects.toThrow(new TrafficError(`${path.join(dir, "missing.har")}: cannot read the recorded traffic: no such file`));
    const corrupt = write("corrupt.har.gz", "not gzip");
    await expect(importHar(corrupt)).rejects.toThrow(/corrupt\.har\.gz: cannot decompress the recorded traffic/);
    await expect(importHar(dir)).rejects.toThrow(new TrafficError(`${dir}: cannot read the recorded traffic: is a directory`));
  });

  it("detects a one-line HAR larger than the detection reads (1 MiB), and imports it", async () => {
    const entries = Array.from({ length: 40 }, (_, i) => ({ ...get(`http://x/${i}`), response: { status: 200, headers: [], content: { text: "y".repeat(40_000) } } }));
    const file = write("one-line.har", har(entries));
    expect(readFileSync(file).length).toBeGreaterThan(1 << 20);
    expect(await detectFormat(file)).toBe("har");
    expect((await readTraffic(file, "auto")).requests).toHaveLength(40);
  });

  it("recorded hosts: lowercased, the scheme's default port dropped, junk refused", () => {
    expect(recordedHost("API.Example.com:443", "https:")).toBe("api.example.com");
    expect(recordedHost("api.example.com:443", "http:")).toBe("api.example.com:443");
    expect(recordedHost("[::1]:80", "http")).toBe("[::1]");
    expect(recordedHost("x:8080")).toBe("x:8080");
    expect(recordedHost(" ")).toBeUndefined();
    expect(recordedHost("a b")).toBeUndefined();
    expect(recordedHost("user@x")).toBeUndefined();
  });
});

describe("the other importers fill at, host and response", () => {
  it("JSON Lines: at from the timestamp, host from :authority, Host or an absolute url, the response with its body only when kept", async () => {
    const file = write(
      "r.jsonl",
      [
        '{"timestamp":"2026-11-29T10:00:01Z","method":"GET","url":"https://Shop.example:443/a","response":{"status":200,"headers":{"Content-Type":"text/plain","Content-Length":"2"},"body":"ok","latencyMs":12.5}}',
        '{"timestamp":1795946400000,"method":"GET","url":"/b","headers":{"Host":"api.example:8080"},"response":{"status":404,"headers":[["Set-Cookie","a=1"],["set-cookie","b=2"]],"body":"eyJlcnJvciI6Im5vIn0=","bodyEncoding":"base64"}}',
        '{"method":"GET","url":"/c","headers":[[":authority","h2.example"],["Host","ignored.example"]],"response":null}',
        '{"method":"GET","url":"/d","response":{"status":"200"}}',
        '{"method":"GET","url":"/e","response":{"status":200,"latencyMs":-1}}',
        '{"method":"GET","url":"/f","response":{"status":200,"headers":{"X-A":"1\\r\\nX-B: 2"}}}',
        '{"method":"GET","url":"/g","response":{"status":200,"body":"//79","bodyEncoding":"base64"}}',
      ].join("\n"),
    );
    const none = await importJsonl(file);
    expect(none.requests.map((r) => [r.path, r.at, r.host, r.response])).toEqual([
      ["/b", 1795946400000, "api.example:8080", { status: 404, headers: { "set-cookie": "a=1\nb=2" } }],
      // untimed: right after the line before them (/b)
      ["/c", undefined, "h2.example", undefined],
      ["/g", undefined, undefined, { status: 200, headers: {} }],
      ["/a", Date.parse("2026-11-29T10:00:01Z"), "shop.example", { status: 200, headers: { "content-type": "text/plain" }, latencyMs: 12.5 }],
    ]);
    expect(none.skipped.map((s) => [s.index, s.reason])).toEqual([
      [4, 'response.status: expected an HTTP status (100–999), got "200"'],
      [5, "response.latencyMs: expected a duration in ms (≥ 0), got -1"],
      [6, "response header x-a contains CR, LF or NUL"],
    ]);
    const kept = await readTraffic(file, "jsonl", { keepResponseBody: (host) => host === "api.example:8080" || host === undefined });
    // "//79" is not UTF-8 once decoded: a binary body is not kept
    expect(kept.requests.map((r) => r.response?.body)).toEqual(['{"error":"no"}', undefined, undefined, undefined]);
    expect(kept.requests.map((r) => r.path)).toEqual(["/b", "/c", "/g", "/a"]);
  });

  it("GoReplay: at from the ns timestamp, host from Host, the type-2 response attached to the request read before it, latency ns → ms", async () => {
    const SEP = "🐵🙈🙉";
    const record = (meta: string, payload: string | Buffer) => Buffer.concat([Buffer.from(`${meta}\n`), Buffer.from(payload), Buffer.from(`\n${SEP}\n`)]);
    const crlf = (...lines: string[]) => lines.join("\r\n");
    const gzBody = gzipSync('{"items":[1,2]}');
    const file = write(
      "r.gor",
      Buffer.concat([
        record("2 early 1000 5000000", crlf("HTTP/1.1 200 OK", "", "before its request")),
        record("1 early 1700000000000500000 0", crlf("GET /early HTTP/1.1", "Host: Api.Example:80", "", "")),
        record("1 a 1700000000000000000 0", crlf("GET /a?x=1 HTTP/1.1", "Host: api.example:8080", "", "")),
        record("2 a 1700000000012000000 12500000", Buffer.concat([Buffer.from(crlf("HTTP/1.1 200 OK", "Content-Type: application/json", "Content-Encoding: gzip", "Transfer-Encoding: chunked", "Set-Cookie: s=1", "", `${gzBody.length.toString(16)}`, "")), gzBody, Buffer.from("\r\n0\r\n\r\n")])),
        record("3 a 1700000000013000000 999", crlf("HTTP/1.1 500 Replayed", "", "")),
        record("1 b 1700000000001000000 0", crlf("GET http://abs.example:9000/b HTTP/1.1", "", "")),
        record("2 b 1700000000002000000 1000", "not an HTTP response"),
      ]),
    );
    const result = await importGoReplay([file], "t", { keepResponseBody: (host) => host === "api.example:8080" });
    expect(result.requests.map((r) => [r.path, r.at, r.host, r.response])).toEqual([
      ["/a?x=1", 1700000000000, "api.example:8080", { status: 200, headers: { "content-type": "application/json", "content-encoding": "gzip", "set-cookie": "s=1" }, body: '{"items":[1,2]}', latencyMs: 12.5 }],
      // a response before its request is not kept for later
      ["/early", 1700000000000.5, "api.example", undefined],
      // a response that cannot be read leaves its request without one
      ["/b", 1700000000001, "abs.example:9000", undefined],
    ]);
    expect(result.total).toBe(3);
    const noBodies = await importGoReplay([file], "t");
    expect(noBodies.requests[0]!.response).toEqual({ status: 200, headers: { "content-type": "application/json", "content-encoding": "gzip", "set-cookie": "s=1" }, latencyMs: 12.5 });
  });

  it("access logs: at from the log time, the logged status as the response, no host", async () => {
    expect(accessLogTime("10/Oct/2000:13:55:36 -0700")).toBe(Date.UTC(2000, 9, 10, 20, 55, 36));
    expect(accessLogTime("29/Nov/2026:10:00:00 +0130")).toBe(Date.UTC(2026, 10, 29, 8, 30, 0));
    expect(accessLogTime("29/Foo/2026:10:00:00 +0000")).toBeUndefined();
    const file = write("a.log", ['1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 304 0 "-" "curl/8"', '1.2.3.4 - - [not a time] "GET /b HTTP/1.1" 200 5'].join("\n"));
    const result = await importAccessLog(file, { keepResponseBody: () => true });
    expect(result.requests).toEqual([
      { method: "GET", path: "/a", headers: { "user-agent": "curl/8" }, at: Date.UTC(2000, 9, 10, 20, 55, 36), response: { status: 304, headers: {} } },
      { method: "GET", path: "/b", headers: {}, response: { status: 200, headers: {} } },
    ]);
  });
});

describe("HAR paths", () => {
  it("replays the path exactly as recorded, never normalised", async () => {
    const { importHarFrom } = await import("../../src/traffic/har.js");
    const har = JSON.stringify({
      log: {
        entries: [
          { startedDateTime: "2026-11-01T10:00:00.000Z", request: { method: "GET", url: "http://shop.example/a/../b//c?x=%41&y=1", headers: [] } },
          { startedDateTime: "2026-11-01T10:00:01.000Z", request: { method: "GET", url: "http://shop.example/with space", headers: [] } },
        ],
      },
    });
    const result = await importHarFrom([Buffer.from(har)], "paths.har");
    expect(result.requests.map((r) => r.path)).toEqual(["/a/../b//c?x=%41&y=1", "/with%20space"]);
  });
});
