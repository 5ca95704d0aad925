import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { importHar, TrafficError } from "../../src/traffic/har.js";
import { prepareTraffic, pseudonymise } from "../../src/traffic/prepare.js";

function har(entries: unknown[]): string {
  return JSON.stringify({ log: { version: "1.2", creator: { name: "test", version: "1" }, entries } });
}

const entry = (request: Record<string, unknown>) => ({ startedDateTime: "2026-11-01T00:00:00Z", time: 1, request, response: { status: 200 } });

describe("HAR import", () => {
  it("keeps method, path with query, headers and body; drops host, hop-by-hop and pseudo headers", () => {
    const result = importHar(
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
    expect(result.requests[0]).toEqual({ method: "POST", path: "/v1/orders?x=1&y=2", headers: { "content-type": "application/json", "x-trace": "abc" }, body: '{"qty":3}' });
    expect(result.requests[1]).toEqual({ method: "GET", path: "/healthz", headers: {} });
  });

  it("decodes base64 bodies and tolerates a UTF-8 BOM", () => {
    const text = "\uFEFF" + har([entry({ method: "PUT", url: "http://x/a", headers: [], postData: { mimeType: "text/plain", text: Buffer.from("héllo").toString("base64"), encoding: "base64" } })]);
    const result = importHar(text, "t.har");
    expect(result.requests[0]!.body).toBe("héllo");
    expect(result.requests[0]!.headers["content-type"]).toBe("text/plain");
  });

  it("skips and counts bad entries, naming the reason", () => {
    const result = importHar(
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

  it("rejects what is not a HAR with a one-line error naming the file", () => {
    expect(() => importHar('{"hello":1}', "x.har")).toThrow(new TrafficError("x.har: not a HAR file: expected an object with log.entries (an array of recorded requests)"));
    expect(() => importHar("not json", "x.har")).toThrow(/^x\.har: not a HAR file: invalid JSON/);
    expect(() => importHar(har([{ request: { method: "GET" } }]), "x.har")).toThrow(/x\.har: no replayable request in log\.entries \(log\.entries\[0\]: expected request\.url\)/);
  });

  it("imports the example workload's recording", () => {
    const text = readFileSync(new URL("../../fixtures/example/traffic/recorded.har", import.meta.url), "utf8");
    const result = importHar(text, "recorded.har");
    expect(result.requests.length).toBeGreaterThan(100);
    expect(result.skippedCount).toBe(0);
    const methods = new Set(result.requests.map((r) => r.method));
    expect(methods.has("GET") && methods.has("POST")).toBe(true);
    expect(result.requests.every((r) => r.path.startsWith("/"))).toBe(true);
  });
});

describe("traffic preparation", () => {
  const requests = Array.from({ length: 1000 }, (_, i) => ({
    method: "GET",
    path: `/item/${i}`,
    headers: { authorization: `Bearer secret-token-${i % 7}`, cookie: "session=abcdef", accept: "application/json" },
  }));

  it("samples a seeded fraction, reproducibly", () => {
    const a = prepareTraffic(requests, { sample: 0.2, seed: 7, key: "k" });
    const b = prepareTraffic(requests, { sample: 0.2, seed: 7, key: "k" });
    const c = prepareTraffic(requests, { sample: 0.2, seed: 8, key: "k" });
    expect(a.requests.length).toBeGreaterThan(150);
    expect(a.requests.length).toBeLessThan(250);
    expect(a.requests.map((r) => r.path)).toEqual(b.requests.map((r) => r.path));
    expect(a.requests.map((r) => r.path)).not.toEqual(c.requests.map((r) => r.path));
  });

  it("pseudonymises credentials: same length, scheme kept, equal inputs stay equal, no secret left", () => {
    const { requests: out, redactions } = prepareTraffic(requests, { sample: 1, seed: 1, key: "k" });
    expect(redactions).toEqual({ authorization: 1000, cookie: 1000 });
    for (const [i, request] of out.entries()) {
      expect(request.headers.authorization).toMatch(/^Bearer [0-9a-f]+$/);
      expect(request.headers.authorization!.length).toBe(requests[i]!.headers.authorization.length);
      expect(request.headers.authorization).not.toContain("secret");
      expect(request.headers.cookie).not.toContain("abcdef");
      expect(request.headers.accept).toBe("application/json");
    }
    expect(out[0]!.headers.authorization).toBe(out[7]!.headers.authorization);
    expect(out[0]!.headers.authorization).not.toBe(out[1]!.headers.authorization);
    expect(pseudonymise("abc", "k1")).not.toBe(pseudonymise("abc", "k2"));
  });
});
