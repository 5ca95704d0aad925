import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ReplayRequest } from "../../src/core/ports.js";
import { mulberry32 } from "../../src/search/random.js";
import { loadOpenApi, openApiTemplates, pathSegments, RouteTemplater, segmentKind, SIBLING_RULE } from "../../src/traffic/routes.js";
import { allocate, paceRate, recordedPace, sampleTraffic } from "../../src/traffic/sample.js";

const FIXTURE = path.resolve("fixtures/traffic/openapi.yaml");

/** "aaa", "aab", …: letters only, so no id shape claims them */
function letters(i: number): string {
  let out = "";
  for (let k = 0; k < 3; k++) {
    out = String.fromCharCode(97 + (i % 26)) + out;
    i = Math.floor(i / 26);
  }
  return out;
}
const userName = (i: number): string => `user${letters(i)}`;

function tempFile(name: string, text: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "sg-routes-")), name);
  writeFileSync(file, text);
  return file;
}

describe("segmentKind and typed templates", () => {
  it("names id shapes and leaves words alone", () => {
    expect(segmentKind("42")).toBe("id");
    expect(segmentKind("0017")).toBe("id");
    expect(segmentKind("3f2504e0-4f89-11d3-9a0c-0305e82c3301")).toBe("uuid");
    expect(segmentKind("3F2504E0-4F89-41D3-9A0C-0305E82C3301")).toBe("uuid");
    expect(segmentKind("507f1f77bcf86cd799439011")).toBe("objectId");
    expect(segmentKind("9f86d081884c7d659a2feaa0c55ad015")).toBe("hex");
    expect(segmentKind("a94a8fe5ccb19ba61c4c0873d391e987982fbbd3")).toBe("hex");
    expect(segmentKind("dGhpcyBpcyBhIHRva2VuIDEyMw")).toBe("token");
    for (const word of ["orders", "v1", "me", "", "deadbeefcafefeed", "abc123", "my-long-article-title-2024", "ordersummaryreportexport", "550e8400"]) {
      expect(segmentKind(word), word).toBeUndefined();
    }
  });

  it("splits paths without query, fragment or trailing slash", () => {
    expect(pathSegments("/a/b/?x=1#f")).toEqual(["a", "b"]);
    expect(pathSegments("/")).toEqual([]);
    expect(pathSegments("/a//b")).toEqual(["a", "", "b"]);
    expect(pathSegments("/a?x=/y")).toEqual(["a"]);
  });

  it("routes numeric, UUID, hex and ObjectId segments to placeholders, query excluded", () => {
    const templater = new RouteTemplater([]);
    expect(templater.route("get", "/orders/42/items/7?expand=all")).toBe("GET /orders/{id}/items/{id}");
    expect(templater.route("DELETE", "/sessions/3f2504e0-4f89-11d3-9a0c-0305e82c3301")).toBe("DELETE /sessions/{uuid}");
    expect(templater.route("GET", "/blobs/9f86d081884c7d659a2feaa0c55ad015/")).toBe("GET /blobs/{hex}");
    expect(templater.route("GET", "/docs/507f1f77bcf86cd799439011")).toBe("GET /docs/{objectId}");
    expect(templater.route("GET", "/")).toBe("GET /");
    expect(templater.route("GET", "/?q=1")).toBe("GET /");
  });
});

describe("inference from siblings", () => {
  /** 500 user names seen 10–30 times each, /users/me as often as 10% of them, a fixed API prefix */
  function recorded(): string[] {
    const rng = mulberry32(7);
    const paths: string[] = [];
    for (let i = 0; i < 500; i++) {
      const times = 10 + Math.floor(rng() * 20);
      for (let k = 0; k < times; k++) paths.push(k % 3 === 0 ? `/users/${userName(i)}/orders?page=${k}` : `/users/${userName(i)}`);
    }
    const users = paths.length;
    for (let k = 0; k < users / 9; k++) paths.push("/users/me");
    for (const resource of ["orders", "customers", "invoices", "products", "carts", "payments", "refunds", "shipments"]) {
      for (let k = 0; k < 300; k++) paths.push(`/api/v1/${resource}/${k}`);
    }
    return paths;
  }

  it("makes /users/<500 names> a parameter, keeps the frequent /users/me and /api/v1/... literal", () => {
    const templater = new RouteTemplater(recorded());
    expect(templater.route("GET", `/users/${userName(3)}`)).toBe("GET /users/{param}");
    expect(templater.route("GET", `/users/${userName(499)}/orders?page=2`)).toBe("GET /users/{param}/orders");
    expect(templater.route("GET", "/users/me")).toBe("GET /users/me");
    expect(templater.route("GET", "/api/v1/orders/17")).toBe("GET /api/v1/orders/{id}");
    expect(templater.route("POST", "/api/v1/refunds")).toBe("POST /api/v1/refunds");
    // a name it never saw, at a parameter position
    expect(templater.route("GET", "/users/zed")).toBe("GET /users/{param}");
  });

  it("keeps a few siblings literal, and many siblings when a few dominate the traffic", () => {
    const few = Array.from({ length: 30 }, (_, i) => `/teams/${userName(i)}`);
    expect(new RouteTemplater(few).route("GET", `/teams/${userName(4)}`)).toBe(`GET /teams/${userName(4)}`);

    // 60 resources; 5 of them carry 90% of the traffic: a big API prefix, not a parameter
    const skewed: string[] = [];
    for (let r = 0; r < 60; r++) for (let k = 0; k < (r < 5 ? 1000 : 10); k++) skewed.push(`/api/${userName(r)}`);
    const templater = new RouteTemplater(skewed);
    expect(templater.route("GET", `/api/${userName(59)}`)).toBe(`GET /api/${userName(59)}`);
  });

  it("is deterministic, and a parent keeps learning until it has too many new values", () => {
    const paths = recorded();
    const a = new RouteTemplater(paths);
    const b = new RouteTemplater(paths);
    for (const p of paths.slice(0, 2000)) expect(a.route("GET", p)).toBe(b.route("GET", p));

    // built from a prefix that saw 10 tags; the 51st distinct tag and later become {param}
    const templater = new RouteTemplater(Array.from({ length: 10 }, (_, i) => `/tags/${userName(i)}`));
    const routes = new Set<string>();
    for (let i = 0; i < 2000; i++) routes.add(templater.route("GET", `/tags/${userName(i)}`));
    expect(routes.size).toBe(51);
    expect(routes.has("GET /tags/{param}")).toBe(true);
    expect(templater.route("GET", `/tags/${userName(5)}`)).toBe(`GET /tags/${userName(5)}`);
  });

  it("settles learned words that turned out rare into {param}, keeping frequent ones", () => {
    const templater = new RouteTemplater([]);
    const routes: string[] = [];
    for (let i = 0; i < 5000; i++) routes.push(templater.route("GET", i % 5 === 0 ? "/users/me" : `/users/${userName(i % 700)}`));
    expect(routes[1]).toBe(`GET /users/${userName(1)}`);
    expect(templater.settle(routes[1]!)).toBe("GET /users/{param}");
    expect(templater.settle("GET /users/me")).toBe("GET /users/me");
    expect(templater.settle("GET /users/{param}")).toBe("GET /users/{param}");
    expect(new Set(routes.map((r) => templater.settle(r)))).toEqual(new Set(["GET /users/me", "GET /users/{param}"]));
  });

  it("stops learning at its limit: unseen words become {param}", () => {
    const templater = new RouteTemplater([], { learnLimit: 3 });
    expect(templater.route("GET", "/a/b/c")).toBe("GET /a/b/c");
    expect(templater.route("GET", "/x/y")).toBe("GET /{param}/{param}");
  });
});

describe("OpenAPI templates", () => {
  it("loads YAML with a server prefix (variables at their defaults); literal segments beat parameters", async () => {
    const routes = openApiTemplates(await loadOpenApi(FIXTURE), FIXTURE);
    expect(routes.templates).toContain("/v2/orders/{orderId}/items/{itemId}");
    const templater = new RouteTemplater(["/v2/orders/1", "/v2/users/me"], { openApi: routes });
    expect(templater.route("GET", "/v2/orders/A-17/items/9?x=1")).toBe("GET /v2/orders/{orderId}/items/{itemId}");
    expect(templater.route("GET", "/v2/orders/export")).toBe("GET /v2/orders/export");
    expect(templater.route("GET", "/v2/orders/42")).toBe("GET /v2/orders/{orderId}");
    expect(templater.route("GET", "/v2/users/me")).toBe("GET /v2/users/me");
    expect(templater.route("GET", "/v2/users/alice/")).toBe("GET /v2/users/{userId}");
    expect(templater.route("GET", "/v2/reports/report-2026-01-31.csv")).toBe("GET /v2/reports/report-{date}.{format}");
    // outside the document (no prefix): inference as usual
    expect(templater.route("GET", "/orders/42")).toBe("GET /orders/{id}");
    expect(templater.route("GET", "/v2/health")).toBe("GET /v2/health");
  });

  it("loads JSON: Swagger 2 with basePath, OpenAPI 3 with a relative server", async () => {
    const swagger = tempFile("swagger.json", JSON.stringify({ swagger: "2.0", basePath: "/api/", paths: { "/pets/{petId}": { get: {} }, "/pets/mine": { get: {} } } }));
    const routes = openApiTemplates(await loadOpenApi(swagger), swagger);
    expect(routes.templates).toEqual(["/api/pets/{petId}", "/api/pets/mine"]);
    expect(routes.match("/api/pets/mine")).toBe("/api/pets/mine");
    expect(routes.match("/api/pets/rex")).toBe("/api/pets/{petId}");
    expect(routes.match("/pets/rex")).toBeUndefined();

    const relative = openApiTemplates({ openapi: "3.1.0", servers: [{ url: "/base" }], paths: { "/": {}, "/a/{x}": {} } });
    expect(relative.templates).toEqual(["/base", "/base/a/{x}"]);
    expect(relative.match("/base?x=1")).toBe("/base");
    expect(relative.match("/base/a/")).toBeUndefined();
  });

  it("says which file is wrong and what it expected", async () => {
    await expect(loadOpenApi("/nonexistent/openapi.yaml")).rejects.toThrow("/nonexistent/openapi.yaml: cannot read the OpenAPI document: no such file");
    const broken = tempFile("broken.yaml", "openapi: 3.0.0\npaths: {\n  /a: [\n");
    await expect(loadOpenApi(broken)).rejects.toThrow(new RegExp(`^${broken}: cannot parse the OpenAPI document as YAML or JSON: `));
    const notApi = tempFile("package.json", JSON.stringify({ name: "x", version: "1.0.0" }));
    await expect(loadOpenApi(notApi)).rejects.toThrow(`${notApi}: expected an OpenAPI 3 document ("openapi: 3.x") or a Swagger 2 document ("swagger: '2.0'") with a "paths" object, got neither an openapi nor a swagger field`);
    const oldVersion = tempFile("old.yaml", "swagger: '1.2'\npaths: {}\n");
    await expect(loadOpenApi(oldVersion)).rejects.toThrow(`${oldVersion}: expected an OpenAPI 3 document`);
    await expect(loadOpenApi(oldVersion)).rejects.toThrow('got swagger: "1.2"');
    const empty = tempFile("empty.yaml", "");
    await expect(loadOpenApi(empty)).rejects.toThrow(`${empty}: expected an OpenAPI 3 document ("openapi: 3.x") or a Swagger 2 document ("swagger: '2.0'") with a "paths" object, got an empty document`);
    const badPaths = tempFile("paths.yaml", "openapi: 3.0.0\npaths: [/a]\n");
    await expect(loadOpenApi(badPaths)).rejects.toThrow(`${badPaths}: paths: expected an object of "/path": {operations}, got a list`);
    const badKey = tempFile("key.yaml", "openapi: 3.0.0\npaths:\n  orders: {}\n");
    await expect(loadOpenApi(badKey)).rejects.toThrow(`${badKey}: paths: expected keys starting with "/", got "orders"`);
    expect(() => openApiTemplates({ openapi: "3.0.0", servers: [{ url: "https://x/{v}" }], paths: {} }, "spec.yaml")).toThrow("spec.yaml: servers[0].url: the variable {v} has no default in servers[0].variables");
  });
});

describe("sampleTraffic", () => {
  const T0 = Date.UTC(2026, 10, 1);
  const N = 100_000;

  /**
   * 100k requests, 10 ms apart: GET /orders/{id} 90%, GET /admin/stats 0.05% (50 requests),
   * POST /orders 4.95%, GET /users/<500 names> 4%, GET /users/me 1%.
   */
  function* synthetic(n = N, seed = 1, timed = true): Generator<ReplayRequest> {
    const rng = mulberry32(seed);
    for (let i = 0; i < n; i++) {
      const base = { headers: {}, ...(timed ? { at: T0 + i * 10 } : {}) };
      const u = rng();
      if (i % 2000 === 1000) yield { ...base, method: "GET", path: "/admin/stats" };
      else if (u < 0.9) yield { ...base, method: "GET", path: `/orders/${Math.floor(rng() * 1e6)}?expand=items` };
      else if (u < 0.9495) yield { ...base, method: "POST", path: "/orders", body: "{}" };
      else if (u < 0.99) yield { ...base, method: "GET", path: `/users/${userName(Math.floor(rng() * 500))}` };
      else yield { ...base, method: "GET", path: "/users/me" };
    }
  }

  async function* asAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
    for (const item of items) yield item;
  }

  it("keeps the rare route with the floor, shares proportional, weights summing to the recorded total", async () => {
    const result = await sampleTraffic(synthetic(), { size: 1000, floor: 5, seed: 42, inferWindow: 5000 });
    expect(result.recorded).toBe(N);
    expect(result.requests).toHaveLength(1000);
    const byRoute = new Map(result.strata.map((s) => [s.route, s]));
    expect([...byRoute.keys()].sort()).toEqual(["GET /admin/stats", "GET /orders/{id}", "GET /users/me", "GET /users/{param}", "POST /orders"]);
    expect(result.strata.map((s) => s.recorded)).toEqual([...result.strata.map((s) => s.recorded)].sort((a, b) => b - a));

    const rare = byRoute.get("GET /admin/stats")!;
    expect(rare).toEqual({ route: "GET /admin/stats", recorded: 50, sampled: 5, weight: 10 });
    for (const s of result.strata) {
      if (s === rare) continue;
      // proportional: within one request of the exact share of what the floor leaves
      expect(Math.abs(s.sampled - (995 * s.recorded) / (N - 50))).toBeLessThanOrEqual(1);
      expect(s.weight).toBeCloseTo(s.recorded / s.sampled, 12);
    }
    expect(byRoute.get("GET /orders/{id}")!.recorded / N).toBeCloseTo(0.9, 2);

    let weightTotal = 0;
    const reweighted = new Map<string, number>();
    for (const request of result.requests) {
      expect(request.route).toBeDefined();
      expect(request.weight).toBe(byRoute.get(request.route!)!.weight);
      weightTotal += request.weight!;
      reweighted.set(request.route!, (reweighted.get(request.route!) ?? 0) + request.weight!);
    }
    expect(weightTotal).toBeCloseTo(N, 6);
    // the re-weighted mix is the recorded mix, the floored route included
    for (const s of result.strata) expect(reweighted.get(s.route)! / N).toBeCloseTo(s.recorded / N, 10);

    // replay order is recorded time order
    const times = result.requests.map((r) => r.at!);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // a uniform sample of the big route spans the recording
    const orderTimes = result.requests.filter((r) => r.route === "GET /orders/{id}").map((r) => (r.at! - T0) / 10);
    expect(orderTimes.reduce((a, b) => a + b, 0) / orderTimes.length / N).toBeGreaterThan(0.45);
    expect(orderTimes.reduce((a, b) => a + b, 0) / orderTimes.length / N).toBeLessThan(0.55);
    expect(result.recordedRate).toBeCloseTo(100, 6);
  });

  it("holds memory bounded by the sample, not by the input", async () => {
    let read = 0;
    const counted = (function* () {
      for (const request of synthetic()) {
        read++;
        yield request;
      }
    })();
    const result = await sampleTraffic(counted, { size: 1000, floor: 5, seed: 3, inferWindow: 5000 });
    expect(read).toBe(N);
    // the inference window, then at most 2·size + floor·routes
    expect(result.peakHeld).toBeLessThanOrEqual(5000 + 2 * 1000 + 5 * result.strata.length);
    const templater = new RouteTemplater([]);
    const streamed = await sampleTraffic(synthetic(), { size: 1000, floor: 5, seed: 3, templater });
    // plus the floors of the (at most 50) names learned under /users before it became a parameter
    expect(streamed.peakHeld).toBeLessThanOrEqual(2 * 1000 + 5 * (streamed.strata.length + SIBLING_RULE.minDistinct));
    expect(streamed.requests).toHaveLength(1000);
    // streaming from an empty templater, the user names learned before /users/… turned into
    // a parameter settle into it: the same routes and allocation as with the window
    expect(streamed.strata.map((s) => [s.route, s.recorded, s.sampled])).toEqual(result.strata.map((s) => [s.route, s.recorded, s.sampled]));
  });

  it("is deterministic by seed, and different seeds draw different samples", async () => {
    const options = { size: 500, floor: 3, inferWindow: 5000 };
    const paths = async (seed: number) => (await sampleTraffic(synthetic(20_000), { ...options, seed })).requests.map((r) => `${r.at} ${r.path}`);
    const a = await paths(1);
    expect(await paths(1)).toEqual(a);
    const b = await paths(2);
    expect(b).toHaveLength(a.length);
    expect(b).not.toEqual(a);
    const overlap = b.filter((p) => a.includes(p)).length;
    expect(overlap).toBeLessThan(a.length / 2);
  });

  it("reads async iterables the same as arrays", async () => {
    const items = [...synthetic(20_000)];
    const options = { size: 300, floor: 2, seed: 9, inferWindow: 2000 };
    const fromArray = await sampleTraffic(items, options);
    const fromAsync = await sampleTraffic(asAsync(items), options);
    expect(fromAsync).toEqual(fromArray);
    expect(items[0]!.route).toBeUndefined();
  });

  it("keeps recorded order without times, and everything when there is less than size", async () => {
    const untimed = await sampleTraffic(synthetic(5000, 4, false), { size: 200, floor: 2, seed: 1 });
    expect(untimed.recordedRate).toBeUndefined();
    const paths = [...synthetic(5000, 4, false)].map((r) => r.path);
    const positions = untimed.requests.map((r) => paths.indexOf(r.path));
    // POST /orders repeats its path; the unique order paths show the order
    const orderPositions = positions.filter((_, i) => untimed.requests[i]!.route === "GET /orders/{id}");
    expect(orderPositions).toEqual([...orderPositions].sort((a, b) => a - b));

    const small = await sampleTraffic(synthetic(300), { size: 1000, floor: 5, seed: 1 });
    expect(small.requests).toHaveLength(300);
    expect(small.requests.every((r) => r.weight === 1)).toBe(true);
    expect(small.requests.map((r) => r.at)).toEqual([...synthetic(300)].map((r) => r.at));
  });

  it("rejects bad options naming them", async () => {
    await expect(sampleTraffic([], { size: 0, floor: 1, seed: 1 })).rejects.toThrow("sampleTraffic: size: expected a positive integer, got 0");
    await expect(sampleTraffic([], { size: 10, floor: -1, seed: 1 })).rejects.toThrow("sampleTraffic: floor: expected a non-negative integer, got -1");
    const empty = await sampleTraffic([], { size: 10, floor: 1, seed: 1 });
    expect(empty).toEqual({ requests: [], recorded: 0, strata: [], recordedRate: undefined, peakHeld: 0 });
  });
});

describe("allocate", () => {
  it("is proportional with floors, capped by what is available, summing to size", () => {
    expect(allocate([{ recorded: 900 }, { recorded: 95 }, { recorded: 5 }], 100, 0)).toEqual([90, 10, 0]);
    expect(allocate([{ recorded: 900 }, { recorded: 95 }, { recorded: 5 }], 100, 3)).toEqual([88, 9, 3]);
    expect(allocate([{ recorded: 900 }, { recorded: 98 }, { recorded: 1 }, { recorded: 1 }], 100, 5)).toEqual([88, 10, 1, 1]);
    // floors alone exceed size: everyone gets the floor
    expect(allocate([{ recorded: 50 }, { recorded: 50 }, { recorded: 50 }], 6, 4)).toEqual([4, 4, 4]);
    // a stratum short of candidates keeps what it has; the rest goes to the others
    expect(allocate([{ recorded: 500, available: 40 }, { recorded: 500 }], 100, 1)).toEqual([40, 60]);
    expect(allocate([{ recorded: 3 }, { recorded: 4 }], 100, 5)).toEqual([3, 4]);
  });
});

describe("pace", () => {
  const at = (ms: number): ReplayRequest => ({ method: "GET", path: "/", headers: {}, at: ms });

  it("computes the recorded pace with guards", () => {
    expect(recordedPace([at(0), at(500), at(1000), at(2000)])).toBeCloseTo(1.5, 12);
    expect(recordedPace([at(1000), at(0), { method: "GET", path: "/", headers: {} }, at(500)])).toBeCloseTo(2, 12);
    expect(recordedPace([])).toBeUndefined();
    expect(recordedPace([at(5)])).toBeUndefined();
    expect(recordedPace([at(5), at(5)])).toBeUndefined();
    expect(recordedPace([{ method: "GET", path: "/", headers: {} }, { method: "GET", path: "/", headers: {} }])).toBeUndefined();
  });

  it("turns a pace into a request rate for the open model", () => {
    expect(paceRate(40, 1)).toBe(40);
    expect(paceRate(40, 2)).toBe(80);
    expect(paceRate(40, 0.5)).toBe(20);
    expect(() => paceRate(undefined, 1)).toThrow("pace: the recorded traffic has no recorded pace (fewer than two requests with a time, or all at one instant); use pace: closed");
    expect(() => paceRate(1.5, 0.5)).toThrow("pace: 0.5x the recorded pace of 1.50 requests/s is 0.750 requests/s, below the load generator's minimum of 1/s");
    expect(() => paceRate(10, 0)).toThrow("paceRate: multiplier: expected a number above 0, got 0");
  });
});
