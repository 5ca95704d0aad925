import http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import type { RecordedResponse, ReplayRequest } from "../../src/core/ports.js";
import { MockMatcher, buildMockRoutes } from "../../src/mocks/routes.js";
import { startMockServer, type MockServer, type MockServerOptions } from "../../src/mocks/server.js";

const HOST = "api.rates.example";

function call(method: string, path: string, response?: Partial<RecordedResponse> & { status?: number }, extra: Partial<ReplayRequest> = {}): ReplayRequest {
  return {
    method,
    path,
    headers: extra.headers ?? {},
    host: HOST,
    ...extra,
    ...(response === undefined ? {} : { response: { status: 200, headers: { "content-type": "application/json" }, ...response } }),
  };
}

const servers: MockServer[] = [];
const agents: http.Agent[] = [];

async function mock(exchanges: ReplayRequest[], options: Partial<MockServerOptions> = {}): Promise<MockServer> {
  const [routes] = buildMockRoutes(exchanges, [HOST]);
  const server = await startMockServer(routes!, { host: "127.0.0.1", latency: "none", ...options });
  servers.push(server);
  return server;
}

function keepAliveAgent(maxSockets = 20): http.Agent {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  agents.push(agent);
  return agent;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  ms: number;
}

function request(base: string, method: string, path: string, options: { body?: string; agent?: http.Agent; headers?: Record<string, string> } = {}): Promise<Reply> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, agent: options.agent ?? keepAliveAgent(1), headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString("utf8"), ms: performance.now() - started });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
  for (const agent of agents.splice(0)) agent.destroy();
});

describe("buildMockRoutes", () => {
  it("keeps only the configured hosts, skips and counts exchanges without a usable response", () => {
    const exchanges: ReplayRequest[] = [
      call("GET", "/v1/rates", { body: "{}" }),
      call("GET", "/v1/rates", undefined),
      call("GET", "/v1/rates", { status: 0 }),
      { ...call("GET", "/v1/other", { body: "x" }), host: "api.rates.example:443" },
      { ...call("GET", "/v1/other", { body: "x" }), host: "pay.example" },
      { method: "GET", path: "/orders", headers: {} },
    ];
    const [rates, pay, none] = buildMockRoutes(exchanges, ["API.Rates.Example", "pay.example", "nothing.example"]);
    expect(rates).toMatchObject({ host: HOST, recorded: 4, skipped: 2 });
    expect(rates!.routes.map((route) => route.label)).toEqual(["GET /v1/rates", "GET /v1/other"]);
    expect(pay).toMatchObject({ recorded: 1, skipped: 0 });
    expect(none).toMatchObject({ recorded: 0, skipped: 0, routes: [] });
  });

  it("groups repeated calls into one route with the responses in recorded time order", () => {
    const [routes] = buildMockRoutes(
      [call("GET", "/a?x=1&y=2", { body: "second" }, { at: 20 }), call("GET", "/a?y=2&x=1", { body: "first" }, { at: 10 }), call("POST", "/a", { body: "p" }, { body: '{"b":1, "a":2}' }), call("POST", "/a", { body: "q" }, { body: '{"a":2,"b":1}' })],
      [HOST],
    );
    expect(routes!.routes.map((route) => [route.label, route.responses.map((r) => r.response.body)])).toEqual([
      ["GET /a?x=1&y=2", ["first", "second"]],
      ["POST /a", ["p", "q"]],
    ]);
  });
});

describe("MockMatcher misses", () => {
  const matcher = () =>
    new MockMatcher(
      buildMockRoutes(
        [
          call("GET", "/v1/rates?base=EUR", { body: "eur" }),
          call("POST", "/v1/convert", { body: "ok" }, { body: JSON.stringify({ from: "EUR", to: "USD", amount: 10 }) }),
          call("GET", "/v1/currencies/list", { body: "[]" }),
        ],
        [HOST],
      )[0]!,
    );

  it("names the differing query value", () => {
    const result = matcher().match({ method: "GET", path: "/v1/rates?base=USD" });
    expect("miss" in result && result.miss.line).toBe("GET /v1/rates?base=USD: no recorded call matches; closest GET /v1/rates?base=EUR (query base: recorded EUR, got USD)");
  });

  it("names a missing query parameter", () => {
    const result = matcher().match({ method: "GET", path: "/v1/rates" });
    expect("miss" in result && result.miss.closest).toBe("GET /v1/rates?base=EUR (query base: recorded EUR, got none)");
  });

  it("names the differing body field", () => {
    const result = matcher().match({ method: "POST", path: "/v1/convert", body: JSON.stringify({ from: "EUR", to: "GBP", amount: 10 }) });
    expect("miss" in result && result.miss.line).toBe('POST /v1/convert: no recorded call matches; closest POST /v1/convert (body to: recorded "USD", got "GBP")');
    const notJson = matcher().match({ method: "POST", path: "/v1/convert", body: "from=EUR" });
    expect("miss" in notJson && notJson.miss.closest).toBe("POST /v1/convert (body: recorded JSON, got non-JSON (8 bytes))");
  });

  it("picks the nearest path by segments for a path never recorded, and says when the method differs", () => {
    const path = matcher().match({ method: "GET", path: "/v1/currencies/all" });
    expect("miss" in path && path.miss.line).toBe("GET /v1/currencies/all: no recorded call matches; closest GET /v1/currencies/list (path differs in 1 segment)");
    const method = matcher().match({ method: "DELETE", path: "/v1/rates?base=EUR" });
    expect("miss" in method && method.miss.closest).toBe("GET /v1/rates?base=EUR (method: recorded GET, got DELETE)");
    const empty = new MockMatcher(buildMockRoutes([], [HOST])[0]!).match({ method: "GET", path: "/x" });
    expect("miss" in empty && empty.miss.line).toBe("GET /x: no recorded call matches; none: no calls to api.rates.example were recorded");
  });
});

describe("startMockServer", () => {
  it("serves an exact match with the recorded status, headers and body, dropping hop-by-hop and framing headers", async () => {
    const server = await mock([
      call("GET", "/v1/rates", {
        status: 201,
        headers: { "content-type": "application/json", "x-request-id": "abc", "transfer-encoding": "chunked", "content-encoding": "gzip", "content-length": "999", connection: "keep-alive", ":status": "201" },
        body: '{"EUR":1.1}',
      }),
    ]);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const reply = await request(server.url, "GET", "/v1/rates");
    expect(reply.status).toBe(201);
    expect(reply.text).toBe('{"EUR":1.1}');
    expect(reply.headers).toMatchObject({ "content-type": "application/json", "x-request-id": "abc", "content-length": "11" });
    expect(reply.headers["content-encoding"]).toBeUndefined();
    expect(reply.headers["transfer-encoding"]).toBeUndefined();
  });

  it("matches the query as a multiset of recorded params, tolerating extra live params", async () => {
    const server = await mock([call("GET", "/v1/rates?base=EUR&symbols=USD", { body: "eur-usd" }), call("GET", "/v1/rates?tag=a&tag=b", { body: "tags" })]);
    expect((await request(server.url, "GET", "/v1/rates?symbols=USD&base=EUR")).text).toBe("eur-usd");
    expect((await request(server.url, "GET", "/v1/rates?cb=123&symbols=USD&base=EUR")).text).toBe("eur-usd");
    expect((await request(server.url, "GET", "/v1/rates?tag=b&tag=a")).text).toBe("tags");
    expect((await request(server.url, "GET", "/v1/rates?tag=a")).status).toBe(502);
    expect((await request(server.url, "GET", "/v1/rates?base=USD&symbols=USD")).status).toBe(502);
  });

  it("matches a recorded JSON body as a subset of the live one, ignoring key order and whitespace", async () => {
    const server = await mock([call("POST", "/v1/convert", { body: "converted" }, { body: '{"from":"EUR","amount":10,"opts":{"round":true,"tags":["a","b"]}}' })]);
    const live = JSON.stringify({ opts: { tags: ["a", "b"], round: true, extra: 1 }, amount: 10, from: "EUR", trace: "t-1" }, null, 2);
    expect((await request(server.url, "POST", "/v1/convert", { body: live })).text).toBe("converted");
    const reordered = await request(server.url, "POST", "/v1/convert", { body: JSON.stringify({ from: "EUR", amount: 10, opts: { round: true, tags: ["b", "a"] } }) });
    expect(reordered.status).toBe(502);
    expect(JSON.parse(reordered.text)).toEqual({
      error: "shadowgate mock: no recorded call matches",
      request: "POST /v1/convert",
      closest: 'POST /v1/convert (body opts.tags: recorded ["a","b"], got ["b","a"])',
    });
  });

  it("matches non-JSON bodies exactly and ignores the live body when none was recorded", async () => {
    const server = await mock([
      call("POST", "/token", { body: "tok" }, { body: "grant_type=client_credentials&scope=rates", headers: { "content-type": "application/x-www-form-urlencoded" } }),
      call("POST", "/raw", { body: "raw" }, { body: "<xml>1</xml>" }),
      call("POST", "/any", { body: "any" }),
    ]);
    expect((await request(server.url, "POST", "/token", { body: "scope=rates&grant_type=client_credentials&client_id=x" })).text).toBe("tok");
    expect((await request(server.url, "POST", "/raw", { body: "<xml>1</xml>" })).text).toBe("raw");
    expect((await request(server.url, "POST", "/raw", { body: "<xml>2</xml>" })).status).toBe(502);
    expect((await request(server.url, "POST", "/any", { body: "whatever" })).text).toBe("any");
  });

  it("replays repeated calls in recorded order, then cycles", async () => {
    const server = await mock([call("GET", "/seq", { body: "1" }), call("GET", "/seq", { body: "2" }), call("GET", "/seq", { status: 503, body: "3" })]);
    const agent = keepAliveAgent(1);
    const seen: string[] = [];
    for (let i = 0; i < 7; i++) {
      const reply = await request(server.url, "GET", "/seq", { agent });
      seen.push(`${reply.status}:${reply.text}`);
    }
    expect(seen).toEqual(["200:1", "200:2", "503:3", "200:1", "200:2", "503:3", "200:1"]);
    // "first": every call gets the first recorded answer (the response diff's instances must agree)
    const first = await mock([call("GET", "/seq", { body: "1" }), call("GET", "/seq", { body: "2" })], { responses: "first" });
    for (let i = 0; i < 3; i++) expect((await request(first.url, "GET", "/seq", { agent })).text).toBe("1");
  });

  it("scrubs and shortens the miss lines it logs and counts", async () => {
    const warned: string[] = [];
    const logger = { info: () => undefined, warn: (line: string) => warned.push(line), debug: () => undefined };
    const server = await mock([call("GET", "/v1/rates?key=abc", { body: "ok" })], { scrub: (text) => text.replace(/LIVE-\w+/g, "[scrubbed]"), logger });
    expect((await request(server.url, "GET", `/v1/rates?key=LIVE-SECRET&pad=${"x".repeat(900)}`)).status).toBe(502);
    const [miss] = server.stats().misses;
    expect(miss!.line).toContain("[scrubbed]");
    expect(miss!.line).not.toContain("LIVE-SECRET");
    expect(miss!.line.length).toBeLessThanOrEqual(500);
    expect(warned.join("\n")).not.toContain("LIVE-SECRET");
  });

  it("prefers the most specific matching route", async () => {
    const server = await mock([
      call("GET", "/v1/rates", { body: "generic" }),
      call("GET", "/v1/rates?base=EUR&symbols=USD", { body: "both" }),
      call("GET", "/v1/rates?base=EUR", { body: "base" }),
      call("POST", "/v1/q", { body: "one field" }, { body: '{"a":1}' }),
      call("POST", "/v1/q", { body: "two fields" }, { body: '{"a":1,"b":2}' }),
    ]);
    expect((await request(server.url, "GET", "/v1/rates?base=EUR")).text).toBe("base");
    expect((await request(server.url, "GET", "/v1/rates?symbols=USD&base=EUR")).text).toBe("both");
    expect((await request(server.url, "GET", "/v1/rates?base=GBP")).text).toBe("generic");
    expect((await request(server.url, "POST", "/v1/q", { body: '{"b":2,"a":1,"c":3}' })).text).toBe("two fields");
    expect((await request(server.url, "POST", "/v1/q", { body: '{"a":1,"b":3}' })).text).toBe("one field");
  });

  it("replays the recorded latency with timers, scales it, or drops it with latency none", async () => {
    const exchanges = [call("GET", "/slow", { body: "s", latencyMs: 120 }), call("GET", "/fast", { body: "f", latencyMs: 0 })];
    const recorded = await mock(exchanges, { latency: "recorded" });
    const agent = keepAliveAgent(4);
    await request(recorded.url, "GET", "/fast", { agent }); // open the connection
    const [slow, fast] = await Promise.all([request(recorded.url, "GET", "/slow", { agent }), request(recorded.url, "GET", "/fast", { agent })]);
    expect(slow.ms).toBeGreaterThanOrEqual(110);
    expect(slow.ms).toBeLessThan(400);
    expect(fast.ms).toBeLessThan(100);
    const concurrentSlow = await Promise.all(Array.from({ length: 4 }, () => request(recorded.url, "GET", "/slow", { agent })));
    expect(Math.max(...concurrentSlow.map((reply) => reply.ms))).toBeLessThan(400); // timers, not a queue

    const none = await mock(exchanges, { latency: "none" });
    expect((await request(none.url, "GET", "/slow")).ms).toBeLessThan(100);
    const doubled = await mock(exchanges, { latency: 2 });
    expect((await request(doubled.url, "GET", "/slow")).ms).toBeGreaterThanOrEqual(230);
  });

  it("serves many concurrent requests over a few keep-alive connections and counts them", async () => {
    const server = await mock([call("GET", "/v1/rates?base=EUR", { body: "eur", latencyMs: 5 }), call("GET", "/v1/rates?base=GBP", { body: "gbp", latencyMs: 5 })], { latency: "recorded" });
    const agent = keepAliveAgent(20);
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => request(server.url, "GET", `/v1/rates?base=${i % 2 === 0 ? "EUR" : "GBP"}`, { agent })));
    expect(replies.every((reply, i) => reply.status === 200 && reply.text === (i % 2 === 0 ? "eur" : "gbp"))).toBe(true);
    await Promise.all([request(server.url, "GET", "/v1/rates?base=USD", { agent }), request(server.url, "GET", "/v1/rates?base=USD", { agent }), request(server.url, "GET", "/v1/nope", { agent })]);
    const stats = server.stats();
    expect(stats.served).toBe(200);
    expect(stats.unmatched).toBe(3);
    expect(stats.perRoute).toEqual([
      { route: "GET /v1/rates?base=EUR", served: 100 },
      { route: "GET /v1/rates?base=GBP", served: 100 },
    ]);
    expect(stats.misses).toEqual([
      { line: "GET /v1/rates?base=USD: no recorded call matches; closest GET /v1/rates?base=EUR (query base: recorded EUR, got USD)", count: 2 },
      { line: "GET /v1/nope: no recorded call matches; closest GET /v1/rates?base=EUR (path differs in 1 segment)", count: 1 },
    ]);
  });

  it("logs the first distinct misses as warnings", async () => {
    const warnings: string[] = [];
    const server = await mock([call("GET", "/a", { body: "a" })], { logger: { info: () => undefined, debug: () => undefined, warn: (line) => warnings.push(line) } });
    await request(server.url, "GET", "/b");
    await request(server.url, "GET", "/b");
    expect(warnings).toEqual(["mock api.rates.example: GET /b: no recorded call matches; closest GET /a (path differs in 1 segment)"]);
  });

  it("refuses to bind anything but 127.0.0.1 and rejects a bad latency", async () => {
    const [routes] = buildMockRoutes([], [HOST]);
    await expect(startMockServer(routes!, { host: "0.0.0.0" as "127.0.0.1", latency: "none" })).rejects.toThrow('mock server for api.rates.example: host: expected 127.0.0.1 (shadows reach mocks over loopback; a mock must not be reachable from elsewhere), got "0.0.0.0"');
    await expect(startMockServer(routes!, { host: "::1" as "127.0.0.1", latency: "none" })).rejects.toThrow("host: expected 127.0.0.1");
    await expect(startMockServer(routes!, { latency: -1 })).rejects.toThrow('latency: expected "recorded", "none" or a multiplier ≥ 0, got -1');
  });

  it("closes fast with idle keep-alive sockets and delayed replies pending", async () => {
    const server = await mock([call("GET", "/fast", { body: "f" }), call("GET", "/hang", { body: "h", latencyMs: 10_000 })], { latency: "recorded" });
    const agent = keepAliveAgent(4);
    await Promise.all([request(server.url, "GET", "/fast", { agent }), request(server.url, "GET", "/fast", { agent })]);
    const pending = request(server.url, "GET", "/hang", { agent }).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const started = performance.now();
    await server.close();
    expect(performance.now() - started).toBeLessThan(200);
    expect(await pending).toBeInstanceOf(Error);
    await server.close(); // idempotent
  });

  it("serves a decoded (formerly base64) body byte-exact as UTF-8 with the right content-length", async () => {
    const text = Buffer.from(Buffer.from("héllo ✓ 日本語 🚀\u0000\u0001\u007f", "utf8").toString("base64"), "base64").toString("utf8");
    const server = await mock([call("GET", "/blob", { headers: { "content-type": "application/octet-stream" }, body: text })]);
    const reply = await request(server.url, "GET", "/blob");
    expect(reply.body.equals(Buffer.from(text, "utf8"))).toBe(true);
    expect(Number(reply.headers["content-length"])).toBe(Buffer.byteLength(text, "utf8"));
  });
});
