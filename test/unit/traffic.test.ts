import { describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { importHar, importHarFrom, TrafficError } from "../../src/traffic/har.js";
import { createAnonymiser, matchable, prepareTraffic } from "../../src/traffic/prepare.js";
import type { ReplayRequest } from "../../src/core/ports.js";
import { trafficSettings } from "../helpers/traffic-settings.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadTraffic } from "../../src/app.js";
import { loadConfig } from "../../src/config/load.js";

function har(entries: unknown[]): string {
  return JSON.stringify({ log: { version: "1.2", creator: { name: "test", version: "1" }, entries } });
}

/** HAR text imported as the file `file` would be (the importer streams; here one chunk). */
const importHarText = (text: string, file: string) => importHarFrom([Buffer.from(text, "utf8")], file);

const entry = (request: Record<string, unknown>) => ({ startedDateTime: "2026-11-01T00:00:00Z", time: 1, request, response: { status: 200 } });

describe("HAR import", () => {
  it("keeps method, path with query, headers and body; drops host, hop-by-hop and pseudo headers", async () => {
    const result = await importHarText(
      har([
        entry({
          method: "post",
          url: "https://api.example.com/v1/orders?x=1&y=2",
          headers: [
            { name: ":authority", value: "api.example.com" },
            { name: "Host", value: "api.example.com" },
            { name: "Connection", value: "keep-alive" },
            { name: "Content-Length", value: "12" },
            { name: "Content-Type", value: "application/json" },
            { name: "X-Trace", value: "abc" },
          ],
          postData: { mimeType: "application/json", text: '{"qty":3}' },
        }),
        entry({ method: "GET", url: "http://api.example.com/healthz", headers: [] }),
      ]),
      "t.har",
    );
    expect(result.total).toBe(2);
    // at, host and response: what the recording says beside the request
    const recorded = { at: Date.parse("2026-11-01T00:00:00Z"), host: "api.example.com", response: { status: 200, headers: {}, latencyMs: 1 } };
    expect(result.requests[0]).toEqual({ method: "POST", path: "/v1/orders?x=1&y=2", headers: { "content-type": "application/json", "x-trace": "abc" }, body: '{"qty":3}', ...recorded });
    expect(result.requests[1]).toEqual({ method: "GET", path: "/healthz", headers: {}, ...recorded });
  });

  it("decodes base64 bodies and tolerates a UTF-8 BOM", async () => {
    const text = "\uFEFF" + har([entry({ method: "PUT", url: "http://x/a", headers: [], postData: { mimeType: "text/plain", text: Buffer.from("héllo").toString("base64"), encoding: "base64" } })]);
    const result = await importHarText(text, "t.har");
    expect(result.requests[0]!.body).toBe("héllo");
    expect(result.requests[0]!.headers["content-type"]).toBe("text/plain");
  });

  it("skips and counts bad entries, naming the reason", async () => {
    const result = await importHarText(
      har([
        entry({ method: "GET", url: "http://x/ok", headers: [] }),
        entry({ method: "BREW", url: "http://x/pot" }),
        { nothing: true },
        entry({ method: "GET", url: "http://x/a", headers: [{ name: "X-Evil", value: "a\r\nInjected: 1" }] }),
        entry({ method: "GET", url: "not a url" }),
      ]),
      "t.har",
    );
    expect(result.requests).toHaveLength(1);
    expect(result.skippedCount).toBe(4);
    expect(result.skipped.map((s) => s.index)).toEqual([1, 2, 3, 4]);
    expect(result.skipped[3]!.reason).toBe('expected an absolute URL, got "not a url"');
    expect(result.skipped[0]!.reason).toMatch(/expected an HTTP method, got "BREW"/);
    expect(result.skipped[2]!.reason).toMatch(/CR, LF or NUL/);
  });

  it("rejects what is not a HAR with a one-line error naming the file", async () => {
    await expect(importHarText('{"hello":1}', "x.har")).rejects.toThrow(new TrafficError("x.har: not a HAR file: expected an object with log.entries (an array of recorded requests)"));
    await expect(importHarText("not json", "x.har")).rejects.toThrow(/^x\.har: not a HAR file: invalid JSON/);
    await expect(importHarText(har([{ request: { method: "GET" } }]), "x.har")).rejects.toThrow(/x\.har: no replayable request in log\.entries \(log\.entries\[0\]: expected request\.url\)/);
  });

  it("imports the example workload's recording", async () => {
    const result = await importHar(fileURLToPath(new URL("../../fixtures/example/traffic/recorded.har", import.meta.url)));
    expect(result.requests.length).toBeGreaterThan(100);
    expect(result.skippedCount).toBe(0);
    const methods = new Set(result.requests.map((r) => r.method));
    expect(methods.has("GET") && methods.has("POST")).toBe(true);
    expect(result.requests.every((r) => r.path.startsWith("/"))).toBe(true);
  });
});

describe("traffic preparation", () => {
  const requests: ReplayRequest[] = Array.from({ length: 1000 }, (_, i) => ({
    method: "GET",
    path: `/item/${i}`,
    headers: { authorization: `Bearer secret-token-${i % 7}`, cookie: "session=abcdef", accept: "application/json" },
    at: 1_700_000_000_000 + i * 100,
  }));
  const settings = trafficSettings;

  it("samples a seeded fraction or count, reproducibly, each request weighted by what it stands for", async () => {
    const a = await prepareTraffic(requests, settings({ sample: 0.2, seed: 7 }));
    const b = await prepareTraffic(requests, settings({ sample: 0.2, seed: 7 }));
    const c = await prepareTraffic(requests, settings({ sample: 0.2, seed: 8 }));
    expect(a.requests).toHaveLength(200);
    expect(a.requests.map((r) => r.path)).toEqual(b.requests.map((r) => r.path));
    expect(a.requests.map((r) => r.path)).not.toEqual(c.requests.map((r) => r.path));
    // one route (/item/{id}): every kept request stands for five recorded ones
    expect(a.strata).toEqual([{ route: "GET /item/{id}", recorded: 1000, sampled: 200, weight: 5 }]);
    expect(a.requests.every((r) => r.weight === 5 && r.route === "GET /item/{id}")).toBe(true);
    expect((await prepareTraffic(requests, settings({ sample: 50 }))).requests).toHaveLength(50);
    // the recorded pace: 10 requests/s; an open model at 2x asks for 20/s
    expect(a.recordedRate).toBeCloseTo(10, 6);
    expect(a.rate).toBeUndefined();
    expect((await prepareTraffic(requests, settings({ pace: 2 }))).rate).toBeCloseTo(20, 6);
  });

  it("pseudonymises credentials before sampling: same length, scheme kept, equal inputs stay equal, no secret left", async () => {
    const { requests: out, redactions } = await prepareTraffic(requests, settings());
    expect(redactions["header:authorization"]).toBe(1000);
    expect(Object.keys(redactions).some((rule) => rule.includes("cookie"))).toBe(true);
    const byPath = new Map(out.map((r) => [r.path, r]));
    for (const original of requests) {
      const request = byPath.get(original.path)!;
      expect(request.headers.authorization).toMatch(/^Bearer /);
      expect(request.headers.authorization!.length).toBe(original.headers.authorization!.length);
      expect(request.headers.authorization).not.toContain("secret-token");
      expect(request.headers.cookie).not.toContain("abcdef");
      expect(request.headers.accept).toBe("application/json");
    }
    expect(byPath.get("/item/0")!.headers.authorization).toBe(byPath.get("/item/7")!.headers.authorization);
    expect(byPath.get("/item/0")!.headers.authorization).not.toBe(byPath.get("/item/1")!.headers.authorization);
    const other = await prepareTraffic(requests, settings({ anonymiser: createAnonymiser({ headers: [], fields: [], keep: [], rules: [] }, "k2") }));
    expect(other.requests.find((r) => r.path === "/item/0")!.headers.authorization).not.toBe(byPath.get("/item/0")!.headers.authorization);
  });

  it("splits off the calls to mocked hosts (anonymised, responses kept) and never replays them", async () => {
    const exchanges: ReplayRequest[] = [
      ...requests.slice(0, 10),
      { method: "GET", path: "/v1/rates?base=EUR", headers: { "x-api-key": "live-key-123456" }, host: "api.rates.example:443", response: { status: 200, headers: {}, body: '{"email":"jane@example.com"}', latencyMs: 12 } },
    ];
    const prepared = await prepareTraffic(exchanges, settings({ mockHosts: ["api.rates.example"] }));
    expect(prepared.recorded).toBe(10);
    expect(prepared.requests.map((r) => r.path)).not.toContain("/v1/rates?base=EUR");
    expect(prepared.mockExchanges).toHaveLength(1);
    expect(JSON.stringify(prepared.mockExchanges)).not.toContain("live-key-123456");
    expect(JSON.stringify(prepared.mockExchanges)).not.toContain("jane@example.com");
    expect(prepared.mockExchanges[0]!.response!.latencyMs).toBe(12);
    // the mock matches on what anonymisation left alone: the pseudonymised key is no query to require
    const keyed = await prepareTraffic(
      [...requests.slice(0, 2), { method: "POST", path: "/v1/convert?apikey=LIVEKEY123456&base=EUR", headers: { "content-type": "application/json" }, body: '{"amount":12,"password":"hunter2-secret","to":{"currency":"USD","email":"jane@example.com"}}', host: "api.rates.example", response: { status: 200, headers: {}, body: "{}" } }],
      settings({ mockHosts: ["API.rates.example:443"] }),
    );
    expect(keyed.mockExchanges).toHaveLength(1);
    expect(keyed.mockExchanges[0]!.path).toBe("/v1/convert?base=EUR");
    expect(JSON.parse(keyed.mockExchanges[0]!.body!)).toEqual({ amount: 12, to: { currency: "USD" } });
    expect(matchable({ method: "GET", path: "/x?a=1", headers: {}, body: "<xml/>" }, { method: "GET", path: "/x?a=1", headers: {}, body: "<xml a='zz'/>" }).body).toBeUndefined();
    await expect(prepareTraffic(exchanges.slice(10), settings({ mockHosts: ["api.rates.example"] }))).rejects.toThrow(/every recorded request goes to a mocked host \(api.rates.example\)/);
  });
});

describe("loading a recording for a run", () => {
  it("never logs or throws a recorded secret: importer messages are scrubbed with the run's key", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "sg-load-"));
    writeFileSync(
      path.join(dir, "t.jsonl"),
      [
        JSON.stringify({ method: "GET", url: "http://shop.example/ok" }),
        // a broken line whose text quotes a token and an email
        '{"method": "GET", "url": "ftp://shop.example/a?token=tok_9f8e7d6c5b4a&email=jane.doe@example.com"}',
      ].join("\n"),
    );
    writeFileSync(path.join(dir, "shadowgate.yml"), "workload: { name: api }\ntraffic: { file: t.jsonl }\n");
    const warned: string[] = [];
    const logger = { info: () => undefined, warn: (line: string) => warned.push(line), debug: () => undefined };
    const loaded = await loadTraffic(await loadConfig(path.join(dir, "shadowgate.yml")), logger);
    expect(loaded.prepared.requests).toHaveLength(1);
    expect(warned.join("\n")).toMatch(/skipped/);
    expect(warned.join("\n")).not.toMatch(/tok_9f8e7d6c5b4a|jane\.doe@example\.com/);

    writeFileSync(path.join(dir, "t.jsonl"), '{"method": "GET", "url": "ftp://x/?email=jane.doe@example.com"}\n');
    const error = await loadTraffic(await loadConfig(path.join(dir, "shadowgate.yml")), logger).then(() => undefined, (e: Error) => e);
    expect(error?.message).toMatch(/no replayable request/);
    expect(error?.message).not.toContain("jane.doe@example.com");
  });
});
