import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ReplayRequest } from "../../src/core/ports.js";
import { collectDiff, stands, type Captured, type DiffSample } from "../../src/diff/compare.js";
import { ARRAY, OBJECT, displayValue, fieldType, flattenBody, flattenJson, parentPath, templatePath } from "../../src/diff/flatten.js";
import { captureResponses, captureTriples, diffSamples, pickDiffRequests, routeOf } from "../../src/diff/probe.js";
import { diffJson, renderDiffMarkdown } from "../../src/diff/render.js";
import { mulberry32 } from "../../src/search/random.js";

const json = (body: unknown, status = 200): Captured => ({ status, headers: { "content-type": "application/json; charset=utf-8" }, body: JSON.stringify(body) });

function sample(route: string, request: string, baseA: Captured, baseB: Captured, head: Captured): DiffSample {
  return { route, request, baseA, baseB, head };
}

/** A product as an instance answers it: a random id and a timestamp per answer, the rest from the request. */
function product(n: number, rng: () => number, priceDelta = 0): unknown {
  return {
    id: Math.floor(rng() * 1e9),
    timestamp: new Date(1_700_000_000_000 + Math.floor(rng() * 1e6)).toISOString(),
    name: `product ${n}`,
    price: 10 * n + priceDelta,
    tags: ["a", "b"],
  };
}

describe("flattenJson", () => {
  it("nested objects, arrays by index with their lengths, and containers as typed entries", () => {
    const flat = flattenJson({ user: { name: "ada", age: 36 }, items: [{ price: 1 }, { price: 2, note: null }], ok: true });
    expect([...flat]).toEqual([
      ["$", OBJECT],
      ["user", OBJECT],
      ["user.name", "ada"],
      ["user.age", 36],
      ["items", ARRAY],
      ["items.length", 2],
      ["items[0]", OBJECT],
      ["items[0].price", 1],
      ["items[1]", OBJECT],
      ["items[1].price", 2],
      ["items[1].note", null],
      ["ok", true],
    ]);
  });

  it("types are visible: null, number, string, boolean, object, array, missing", () => {
    const flat = flattenJson({ a: null, b: 1, c: "1", d: false, e: {}, f: [] });
    expect(["a", "b", "c", "d", "e", "f", "g"].map((p) => fieldType(flat.get(p)))).toEqual(["null", "number", "string", "boolean", "object", "array", "missing"]);
    expect(["a", "b", "c", "e", "f", "g"].map((p) => displayValue(flat.get(p)))).toEqual(["null", "1", '"1"', "{…}", "[…]", "(missing)"]);
  });

  it("quotes keys that are not identifiers or would read as something else; root arrays and scalars", () => {
    const flat = flattenJson({ "content-type": "x", length: 3, $: 1, "a.b": 2, list: [[1]] });
    expect([...flat.keys()]).toEqual(["$", '["content-type"]', '["length"]', '["$"]', '["a.b"]', "list", "list.length", "list[0]", "list[0].length", "list[0][0]"]);
    expect([...flattenJson([{ id: 1 }])]).toEqual([
      ["$", ARRAY],
      ["$.length", 1],
      ["[0]", OBJECT],
      ["[0].id", 1],
    ]);
    expect([...flattenJson(42)]).toEqual([["$", 42]]);
  });

  it("caps arrays, depth and field count, keeping lengths", () => {
    const flat = flattenJson({ xs: Array.from({ length: 500 }, (_, i) => i) }, { maxArrayItems: 3 });
    expect(flat.get("xs.length")).toBe(500);
    expect(flat.has("xs[2]")).toBe(true);
    expect(flat.has("xs[3]")).toBe(false);
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = { d: deep };
    const capped = flattenJson(deep, { maxDepth: 4 });
    expect(capped.get("d.d.d.d")).toBe(OBJECT);
    expect(capped.has("d.d.d.d.d")).toBe(false);
    expect(flattenJson({ a: 1, b: 2, c: 3 }, { maxFields: 2 }).size).toBe(2);
  });

  it("template and parent paths", () => {
    expect(templatePath("items[3].tags[0]")).toBe("items[].tags[]");
    expect(templatePath('m["[1]"][2]')).toBe('m["[1]"][]');
    expect(parentPath("items[3].price")).toBe("items[3]");
    expect(parentPath("items[3]")).toBe("items");
    expect(parentPath("items.length")).toBe("items");
    expect(parentPath("price")).toBe("$");
    expect(parentPath('["content-type"]')).toBe("$");
    expect(parentPath("[0]")).toBe("$");
    expect(parentPath("$.length")).toBe("$");
    expect(parentPath("$")).toBeUndefined();
  });
});

describe("flattenBody", () => {
  it("JSON by content type or by shape; text otherwise, hashed when long", () => {
    expect(flattenBody('{"a":1}', "application/json").get("a")).toBe(1);
    expect(flattenBody('{"a":1}', "application/problem+json").get("a")).toBe(1);
    expect(flattenBody(' [1] ', "text/plain").get("$.length")).toBe(1);
    expect([...flattenBody("hello", "text/plain")]).toEqual([["body", "hello"]]);
    expect([...flattenBody("{not json", "application/json")]).toEqual([["body", "{not json"]]);
    expect([...flattenBody("", undefined)]).toEqual([["body", ""]]);
    const long = "x".repeat(1000);
    const value = flattenBody(long).get("body") as string;
    expect(value).toMatch(/^x{40}… \(1000 chars, sha256 [0-9a-f]{16}\)$/);
    expect(flattenBody(`${long}y`).get("body")).not.toBe(value);
  });
});

describe("collectDiff", () => {
  it("learns noise: a timestamp and a random id are ignored, a changed price is reported with an example", () => {
    const rng = mulberry32(7);
    const samples = Array.from({ length: 10 }, (_, i) =>
      sample("GET /products/{id}", `GET /products/${i}`, json(product(i, rng)), json(product(i, rng)), json(product(i, rng, 1))),
    );
    const report = collectDiff(samples);
    expect(report.verdict).toBe("different");
    expect(report.differences).toBe(1);
    const [route] = report.routes;
    expect(route?.requests).toBe(10);
    expect(route?.compared).toBe(10);
    expect(route?.fields).toEqual([
      { path: "price", kind: "value", diffRate: 1, noiseRate: 0, example: { request: "GET /products/0", path: "price", base: "0", head: "1" } },
    ]);
    expect(route?.ignored).toEqual([
      { path: "id", diffRate: 0, noiseRate: 1, reason: "noise" },
      { path: "timestamp", diffRate: 0, noiseRate: 1, reason: "noise" },
    ]);
    expect(report.noisyFields).toBe(2);
    expect(route?.status).toEqual({ noiseRate: 0, diffRate: 0, reported: false });
  });

  it("the same build on all three is 'same', whatever its noise", () => {
    const rng = mulberry32(3);
    const samples = Array.from({ length: 10 }, (_, i) => sample("GET /p", `GET /p/${i}`, json(product(i, rng)), json(product(i, rng)), json(product(i, rng))));
    const report = collectDiff(samples);
    expect(report).toMatchObject({ verdict: "same", differences: 0, noisyFields: 2 });
  });

  it("a status change on one route is reported; its fields are not compared, other routes unaffected", () => {
    const ok = json({ ok: true });
    const samples = [
      ...Array.from({ length: 4 }, (_, i) => sample("GET /a", `GET /a?i=${i}`, ok, ok, json({ error: "boom" }, 500))),
      ...Array.from({ length: 4 }, (_, i) => sample("GET /b", `GET /b?i=${i}`, ok, ok, ok)),
    ];
    const report = collectDiff(samples);
    expect(report.differences).toBe(1);
    const [a, b] = report.routes;
    expect(a).toMatchObject({ route: "GET /a", compared: 0, fields: [], status: { diffRate: 1, noiseRate: 0, reported: true, example: { request: "GET /a?i=0", base: "200", head: "500" } } });
    expect(b).toMatchObject({ route: "GET /b", compared: 4, fields: [], ignored: [], status: { reported: false } });
  });

  it("a status the bases already disagree on is noise, not a difference", () => {
    const samples = Array.from({ length: 10 }, (_, i) => sample("GET /flaky", `GET /flaky/${i}`, json({}, i % 2 ? 200 : 503), json({}, 200), json({}, 503)));
    const report = collectDiff(samples);
    expect(report.routes[0]?.status).toMatchObject({ noiseRate: 0.5, diffRate: 0.5, reported: false });
  });

  it("a type change is reported as such, even on a field whose value is noisy", () => {
    const rng = mulberry32(11);
    const samples = Array.from({ length: 10 }, (_, i) => {
      const stamp = () => new Date(1_700_000_000_000 + Math.floor(rng() * 1e6)).toISOString();
      return sample("GET /t", `GET /t/${i}`, json({ count: i, at: stamp() }), json({ count: i, at: stamp() }), json({ count: String(i), at: Date.parse(stamp()) }));
    });
    const fields = collectDiff(samples).routes[0]?.fields ?? [];
    expect(fields.map((f) => [f.path, f.kind, f.types, f.diffRate, f.noiseRate])).toEqual([
      ["at", "type", { base: "string", head: "number" }, 1, 0],
      ["count", "type", { base: "number", head: "string" }, 1, 0],
    ]);
    expect(fields[1]?.example).toEqual({ request: "GET /t/0", path: "count", base: "0", head: '"0"' });
  });

  it("a removed field is a type change to missing; an array that grows is its length only", () => {
    const base = json({ discount: 5, items: [{ price: 1 }, { price: 2 }] });
    const head = json({ items: [{ price: 1 }, { price: 2 }, { price: 3 }] });
    const report = collectDiff([sample("GET /cart", "GET /cart", base, base, head)]);
    expect(report.routes[0]?.fields.map((f) => [f.path, f.kind, f.example.base, f.example.head])).toEqual([
      ["discount", "type", "5", "(missing)"],
      ["items.length", "value", "2", "3"],
    ]);
  });

  it("array elements are grouped by template; the example names the element", () => {
    const samples = Array.from({ length: 4 }, (_, i) => {
      const base = json({ items: [{ price: 1 }, { price: 2 + i }] });
      return sample("GET /list", `GET /list?page=${i}`, base, base, json({ items: [{ price: 1 }, { price: 99 }] }));
    });
    const fields = collectDiff(samples).routes[0]?.fields;
    expect(fields).toEqual([{ path: "items[].price", kind: "value", diffRate: 1, noiseRate: 0, example: { request: "GET /list?page=0", path: "items[1].price", base: "2", head: "99" } }]);
  });

  it("an error capture is a status of its own, shown with its message", () => {
    const ok = json({ ok: true });
    const report = collectDiff([sample("GET /x", "GET /x", ok, ok, { error: "connection refused" })]);
    expect(report.routes[0]?.status).toMatchObject({ reported: true, example: { base: "200", head: "error: connection refused" } });
    const allFailing = collectDiff([sample("GET /x", "GET /x", { error: "timeout" }, { error: "connection reset" }, { error: "timeout" })]);
    expect(allFailing.verdict).toBe("same");
  });

  it("content type is compared (normalised); other headers are not", () => {
    const a: Captured = { status: 200, headers: { "content-type": "application/json;charset=UTF-8", date: "1" }, body: "{}" };
    const b: Captured = { status: 200, headers: { "content-type": 'application/json; charset="utf-8"', date: "2" }, body: "{}" };
    expect(collectDiff([sample("GET /", "GET /", a, b, a)]).verdict).toBe("same");
    const html: Captured = { status: 200, headers: { "content-type": "text/html", date: "3" }, body: "{}" };
    const fields = collectDiff([sample("GET /", "GET /", a, a, html)]).routes[0]?.fields;
    expect(fields?.map((f) => [f.path, f.example.base, f.example.head])).toEqual([["headers.content-type", '"application/json; charset=utf-8"', '"text/html"']]);
  });

  it("examples are cut to 80 characters", () => {
    const long = "z".repeat(150);
    const report = collectDiff([sample("GET /l", `GET /l?q=${long}`, json({ s: "a" }), json({ s: "a" }), json({ s: long }))]);
    const example = report.routes[0]?.fields[0]?.example;
    expect(example?.head.length).toBe(80);
    expect(example?.request.length).toBe(80);
    expect(example?.head.endsWith("…")).toBe(true);
  });

  it("rates and thresholds: absolute excess over the noise, and differences well above it", () => {
    const t = { absolute: 0.05, relative: 2 };
    expect(stands(1, 0, 10, t)).toBe(true); // one in ten, no noise
    expect(stands(1, 0, 20, t)).toBe(false); // exactly 5%: not above
    expect(stands(2, 0, 20, t)).toBe(true);
    expect(stands(2, 1, 10, t)).toBe(false); // not more than twice the noise
    expect(stands(3, 1, 10, t)).toBe(true);
    expect(stands(4, 5, 10, t)).toBe(false); // fewer differences than noise
    expect(stands(0, 0, 10, t)).toBe(false);
    expect(stands(1, 0, 0, t)).toBe(false);
    expect(() => collectDiff([], { relativeThreshold: -1 })).toThrow(/relativeThreshold: expected a number ≥ 0, got -1/);
  });

  it("a field that is rarely noisy is still reported when head differs far more often than the bases", () => {
    // `region` differs between the bases on 1 request of 10; head changed it everywhere else.
    const samples = Array.from({ length: 10 }, (_, i) =>
      sample("GET /r", `GET /r/${i}`, json({ region: "eu" }), json({ region: i === 0 ? "us" : "eu" }), json({ region: "EU" })),
    );
    expect(collectDiff(samples).routes[0]?.fields[0]).toMatchObject({ path: "region", diffRate: 0.9, noiseRate: 0.1 });
  });

  it("a random field (head drawn like the bases) stays below the relative threshold", () => {
    const rng = mulberry32(5);
    const coin = () => json({ heads: rng() < 0.5 });
    const report = collectDiff(Array.from({ length: 200 }, (_, i) => sample("GET /coin", `GET /coin/${i}`, coin(), coin(), coin())));
    const ignored = report.routes[0]?.ignored[0];
    expect(report.verdict).toBe("same");
    expect(ignored?.reason).toBe("noise");
    // P(noise) = ½, P(difference) = ¼ for a fair coin.
    expect(ignored?.noiseRate).toBeGreaterThan(0.4);
    expect(ignored?.diffRate).toBeLessThan(0.35);
  });

  it("a difference too rare to report is kept as ignored (threshold)", () => {
    const ok = json({ v: 1 });
    const samples = Array.from({ length: 40 }, (_, i) => sample("GET /v", `GET /v/${i}`, ok, ok, i === 0 ? json({ v: 2 }) : ok));
    const report = collectDiff(samples);
    expect(report.verdict).toBe("same");
    expect(report.routes[0]?.ignored).toEqual([{ path: "v", diffRate: 0.025, noiseRate: 0, reason: "threshold" }]);
  });
});

describe("pickDiffRequests", () => {
  const recorded: ReplayRequest[] = [
    ...Array.from({ length: 30 }, (_, i) => ({ method: "GET", path: `/items/${i % 12}?v=${i}`, headers: {}, route: "GET /items/{id}" })),
    ...Array.from({ length: 5 }, () => ({ method: "GET", path: "/health", headers: {} })),
    { method: "POST", path: "/orders", headers: {}, body: "{}" },
    { method: "get", path: "/search?q=a", headers: {} },
  ];

  it("is deterministic, keeps recorded order, sets the route, and takes at most N per route", () => {
    const first = pickDiffRequests(recorded, 4, 42);
    expect(pickDiffRequests(recorded, 4, 42)).toEqual(first);
    expect(pickDiffRequests(recorded, 4, 43)).not.toEqual(first);
    const counts = new Map<string, number>();
    for (const r of first) counts.set(r.route as string, (counts.get(r.route as string) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({ "GET /items/{id}": 4, "GET /health": 4, "GET /search": 1 });
    const positions = first.map((r) => recorded.findIndex((x) => x.path === r.path && x.method === r.method));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });

  it("prefers distinct requests over repeats", () => {
    const picked = pickDiffRequests(recorded, 3, 1).filter((r) => r.route === "GET /health");
    expect(picked).toHaveLength(3); // only one distinct request, so repeats fill up
    const items = pickDiffRequests(recorded, 30, 1).filter((r) => r.route === "GET /items/{id}");
    expect(items).toHaveLength(30);
  });

  it("safe methods only unless asked; route from method and path without the query", () => {
    expect(pickDiffRequests(recorded, 10, 1).some((r) => r.method === "POST")).toBe(false);
    expect(pickDiffRequests(recorded, 10, 1, { includeUnsafe: true }).filter((r) => r.method === "POST").map((r) => r.route)).toEqual(["POST /orders"]);
    expect(routeOf({ method: "get", path: "/a/b?c=1#x", headers: {} })).toBe("GET /a/b");
    expect(() => pickDiffRequests(recorded, 0, 1)).toThrow(/perRoute: expected an integer ≥ 1, got 0/);
  });

  it("a route's choice does not depend on the other routes", () => {
    const alone = pickDiffRequests(recorded.slice(0, 30), 4, 9);
    const together = pickDiffRequests(recorded, 4, 9).filter((r) => r.route === "GET /items/{id}");
    expect(together).toEqual(alone);
  });
});

describe("renderDiffMarkdown", () => {
  it("one line when the responses are the same, naming a few noisy fields", () => {
    const rng = mulberry32(2);
    const samples = ["GET /a", "GET /b"].flatMap((route) =>
      Array.from({ length: 5 }, (_, i) => {
        const answer = () => json({ createdAt: rng(), requestId: rng(), traceId: rng(), zeta: rng(), n: i });
        return sample(route, `${route}/${i}`, answer(), answer(), answer());
      }),
    );
    expect(renderDiffMarkdown(collectDiff(samples))).toBe("Responses: same as base on 2 routes (4 noisy fields ignored: `createdAt`, `requestId`, `traceId`, …)");
    const quiet = collectDiff([sample("GET /q", "GET /q", json({ a: 1 }), json({ a: 1 }), json({ a: 1 }))]);
    expect(renderDiffMarkdown(quiet)).toBe("Responses: same as base on 1 route");
    expect(renderDiffMarkdown(collectDiff([]))).toBe("Responses: not compared (no requests sampled)");
  });

  it("a table of differences, everything from the responses escaped", () => {
    const base = json({ "a|b`c": "<script>alert(1)</script> @octocat", price: 1 });
    const head = json({ "a|b`c": "</details> | `x`", price: 2 });
    const ok = json({});
    const report = collectDiff([
      sample("GET /x|y", "GET /x|y?q=`1`", base, base, head),
      sample("GET /z", "GET /z", ok, ok, json({}, 502)),
    ]);
    const markdown = renderDiffMarkdown(report);
    const lines = markdown.split("\n");
    expect(lines[0]).toBe("Responses: 3 differences on 2 routes (2 compared)");
    expect(lines[2]).toBe("| route | field | head differs in | noise (base vs base) | example: base → head |");
    const rows = lines.slice(4);
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      // five cells: six pipes that are not escaped
      expect(row.match(/(?<!\\)\|/g)).toHaveLength(6);
    }
    // HTML, mentions, pipes and backticks only ever inside code spans whose fence they cannot close
    expect(rows[0]).toBe('| `GET /x\\|y` | ``["a\\|b`c"]`` | 100% | 0% | `` GET /x\\|y?q=`1` ``: `"<script>alert(1)</script> @octocat"` → ``"</details> \\| `x`"`` |');
    expect(rows[1]).toBe("| `GET /x\\|y` | `price` | 100% | 0% | `` GET /x\\|y?q=`1` ``: `1` → `2` |");
    expect(rows[2]).toBe("| `GET /z` | status | 100% | 0% | `GET /z`: `200` → `502` |");
  });

  it("caps the table and points to the JSON results", () => {
    const body = (v: number) => json(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${String(i).padStart(2, "0")}`, v])));
    const markdown = renderDiffMarkdown(collectDiff([sample("GET /w", "GET /w", body(1), body(1), body(2))]), { maxRows: 5 });
    expect(markdown.split("\n").filter((l) => l.startsWith("| `GET /w`"))).toHaveLength(5);
    expect(markdown).toContain("…and 25 more differences in the JSON results.");
  });

  it("diffJson: snake_case with rounded rates", () => {
    const samples = Array.from({ length: 3 }, (_, i) => sample("GET /j", `GET /j/${i}`, json({ v: 1 }), json({ v: 1 }), json({ v: i === 0 ? 1 : 2 })));
    const out = diffJson(collectDiff(samples));
    expect(out).toEqual({
      verdict: "different",
      requests: 3,
      differences: 1,
      noisy_fields: 0,
      thresholds: { absolute: 0.05, relative: 2 },
      routes: [
        {
          route: "GET /j",
          requests: 3,
          compared: 3,
          status: { diff_rate: 0, noise_rate: 0, reported: false, example: null },
          fields: [{ path: "v", kind: "value", diff_rate: 0.6667, noise_rate: 0, types: null, example: { request: "GET /j/1", path: "v", base: "1", head: "2" } }],
          ignored: [],
        },
      ],
    });
    expect(JSON.parse(JSON.stringify(out))).toEqual(out);
  });
});

describe("captureResponses over real HTTP on 127.0.0.1", () => {
  const servers: Server[] = [];
  const urls = { baseA: "", baseB: "", head: "" };
  let refusedUrl = "";

  /** A tiny workload: random ids and times per answer; head's build adds 1 to the price. */
  function workload(variant: "base" | "head") {
    return (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? "/", "http://x");
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const item = /^\/items\/(\d+)$/.exec(url.pathname);
        if (item) {
          const n = Number(item[1]);
          res.writeHead(200, { "Content-Type": "application/json", "X-Instance": variant });
          res.end(JSON.stringify({ id: Math.random().toString(36).slice(2), servedAt: Date.now() + Math.random(), n, price: n * 10 + (variant === "head" ? 1 : 0) }));
        } else if (url.pathname === "/echo") {
          res.writeHead(201, { "content-type": "text/plain" });
          res.end(`${req.method} ${url.search} ${req.headers["accept-encoding"]} ${Buffer.concat(chunks).toString()}`);
        } else if (url.pathname === "/slow") {
          // never answers
        } else {
          res.writeHead(404, { "content-type": "text/plain" });
          res.end("not found");
        }
      });
    };
  }

  async function listen(server: Server): Promise<string> {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  beforeAll(async () => {
    urls.baseA = await listen(createServer(workload("base")));
    urls.baseB = await listen(createServer(workload("base")));
    urls.head = await listen(createServer(workload("head")));
    const closed = createServer();
    refusedUrl = await listen(closed);
    await new Promise<void>((resolve) => closed.close(() => resolve()));
  });

  afterAll(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("end to end: three shadows, head's changed field reported, ids and times ignored", async () => {
    const recorded: ReplayRequest[] = Array.from({ length: 12 }, (_, i) => ({ method: "GET", path: `/items/${i % 6}`, headers: { "Accept-Encoding": "gzip" }, route: "GET /items/{n}" }));
    recorded.push({ method: "GET", path: "/missing", headers: {} });
    const requests = pickDiffRequests(recorded, 5, 1);
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on("warning", onWarning);
    // one abort listener per capture, however many requests are in flight (15 here)
    const triples = await captureTriples(urls, requests, { timeoutMs: 2000, concurrency: 5, signal: new AbortController().signal });
    await new Promise((resolve) => setImmediate(resolve));
    process.off("warning", onWarning);
    expect(warnings.filter((w) => /listener/i.test(w))).toEqual([]);
    expect(triples.every((t) => !("error" in t.baseA) && !("error" in t.baseB) && !("error" in t.head))).toBe(true);
    const report = collectDiff(diffSamples(requests, triples));
    expect(report.verdict).toBe("different");
    expect(report.differences).toBe(1);
    const items = report.routes.find((r) => r.route === "GET /items/{n}");
    expect(items?.requests).toBe(5);
    expect(items?.fields.map((f) => [f.path, f.diffRate, f.noiseRate])).toEqual([["price", 1, 0]]);
    expect(items?.ignored.map((f) => [f.path, f.reason])).toEqual([
      ["id", "noise"],
      ["servedAt", "noise"],
    ]);
    expect(report.routes.find((r) => r.route === "GET /missing")).toMatchObject({ fields: [], status: { reported: false } });
    expect(renderDiffMarkdown(report)).toMatch(/^Responses: 1 difference on 1 route \(2 compared; 2 noisy fields ignored: `id`, `servedAt`\)/);
  });

  it("captures status, lowercased headers and body; sends method, query and body", async () => {
    const [item, echo, missing] = await captureResponses(
      `${urls.head}/`,
      [
        { method: "GET", path: "/items/2", headers: {} },
        { method: "POST", path: "/echo?x=1", headers: { "Content-Type": "text/plain", Connection: "close", "accept-encoding": "br" }, body: "hello" },
        { method: "GET", path: "/nope", headers: {} },
      ],
      { timeoutMs: 2000 },
    );
    expect(item).toMatchObject({ status: 200, headers: { "content-type": "application/json", "x-instance": "head" } });
    expect(JSON.parse((item as { body: string }).body)).toMatchObject({ n: 2, price: 21 });
    expect(echo).toMatchObject({ status: 201, body: "POST ?x=1 identity hello" });
    expect(missing).toMatchObject({ status: 404, body: "not found" });
  });

  it("a refused connection and a timeout are captured per request, never thrown", async () => {
    const [refused] = await captureResponses(refusedUrl, [{ method: "GET", path: "/", headers: {} }], { timeoutMs: 2000 });
    expect(refused).toEqual({ error: "connection refused" });
    const [slow, fine] = await captureResponses(
      urls.baseA,
      [
        { method: "GET", path: "/slow", headers: {} },
        { method: "GET", path: "/items/1", headers: {} },
      ],
      { timeoutMs: 300, concurrency: 2 },
    );
    expect(slow).toEqual({ error: "timeout after 300 ms" });
    expect(fine).toMatchObject({ status: 200 });
  });

  it("refuses anything but loopback, and rejects when aborted", async () => {
    const request: ReplayRequest[] = [{ method: "GET", path: "/", headers: {} }];
    await expect(captureResponses("http://example.com", request, { timeoutMs: 100 })).rejects.toThrow(/only loopback/);
    await expect(captureResponses("http://10.0.0.8:8080", request, { timeoutMs: 100 })).rejects.toThrow(/only loopback/);
    await expect(captureTriples({ ...urls, head: "https://127.0.0.1:1" }, request, { timeoutMs: 100 })).rejects.toThrow(/http:\/\/ on loopback/);
    const controller = new AbortController();
    const pending = captureResponses(urls.baseA, [{ method: "GET", path: "/slow", headers: {} }], { timeoutMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(new Error("run stopped")), 50);
    await expect(pending).rejects.toThrow("run stopped");
  });
});
