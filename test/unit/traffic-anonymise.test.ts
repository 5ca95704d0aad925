import { describe, expect, it } from "vitest";
import { isIPv4, isIPv6 } from "node:net";
import { inspect } from "node:util";
import type { ReplayRequest } from "../../src/core/ports.js";
import { Anonymiser, type AnonymiseRule, type DetectorName } from "../../src/traffic/anonymise.js";
import { ibanValid, luhnValid, ORDINARY, piiCorpus } from "../helpers/pii-corpus.js";

const KEY = "test-key-0123456789";
const EMAIL = /^[A-Za-z0-9][\w.%+-]*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}$/;

/** percent-decode what can be decoded, leave the rest */
function looseDecode(s: string): string {
  return s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (m) => {
    try {
      return decodeURIComponent(m);
    } catch {
      return m;
    }
  });
}

/** every way an output could still show a planted value: raw, JSON-escaped, percent-decoded, inside Basic credentials or a JWT payload */
function haystack(outputs: ReplayRequest[]): string {
  const parts = [JSON.stringify(outputs)];
  const add = (s: string | undefined) => {
    if (s === undefined) return;
    parts.push(s, looseDecode(s), looseDecode(s.replace(/\+/g, " ")));
  };
  for (const r of outputs) {
    add(r.path);
    add(r.body);
    Object.values(r.headers).forEach(add);
    add(r.response?.body);
    Object.values(r.response?.headers ?? {}).forEach(add);
  }
  const all = parts.join("\n");
  for (const m of all.matchAll(/Basic ([A-Za-z0-9+/=]+)/g)) parts.push(Buffer.from(m[1] ?? "", "base64").toString("utf8"));
  for (const m of all.matchAll(/eyJ[\w-]+\.([\w-]+)\.[\w-]*/g)) parts.push(Buffer.from(m[1] ?? "", "base64url").toString("utf8"));
  return parts.join("\n");
}

function cookie(header: string | undefined, name: string): string | undefined {
  return new RegExp(`(?:^|[;,\\n]\\s*)${name}=([^;\\n]*)`).exec(header ?? "")?.[1];
}

/** [kind, input value, output value] for the sensitive values whose position the corpus fixes */
function pairs(inputs: ReplayRequest[], outputs: ReplayRequest[]): [string, string, string][] {
  const out: [string, string, string][] = [];
  inputs.forEach((input, i) => {
    const output = outputs[i]!;
    const push = (kind: string, a: unknown, b: unknown) => {
      if (typeof a === "string" && typeof b === "string") out.push([kind, a, b]);
      else if (typeof a === "number" && typeof b === "number") out.push([kind, String(a), String(b)]);
    };
    push("session", cookie(input.headers.cookie, "session"), cookie(output.headers.cookie, "session"));
    push("session", cookie(input.response?.headers["set-cookie"], "session"), cookie(output.response?.headers["set-cookie"], "session"));
    push("csrf", cookie(input.headers.cookie, "csrftoken"), cookie(output.headers.cookie, "csrftoken"));
    const bearer = (r: ReplayRequest) => /^Bearer (eyJ\S+)$/.exec(r.headers.authorization ?? "")?.[1];
    push("jwt", bearer(input), bearer(output));
    if (input.path.startsWith("/api/v1/users/")) {
      const email = (r: ReplayRequest) => decodeURIComponent(r.path.split("/")[4] ?? "");
      push("email", email(input), email(output));
    }
    const json = (text: string | undefined): Record<string, any> | undefined => {
      try {
        return text === undefined ? undefined : JSON.parse(text);
      } catch {
        return undefined;
      }
    };
    const [a, b] = [json(input.body), json(output.body)];
    if (a && b && a.payment) {
      push("card", a.payment.card_number, b.payment.card_number);
      push("email", a.billing_email, b.billing_email);
      push("phone", a.contact.phone, b.contact.phone);
      push("ipv4", a.client_ip, b.client_ip);
    }
    const [ra, rb] = [json(input.response?.body), json(output.response?.body)];
    if (ra && rb && ra.access_token) {
      push("jwt", ra.access_token, rb.access_token);
      push("email", ra.user.email, rb.user.email);
    }
    if (ra && rb && ra.last_login_ip) {
      push("email", ra.email, rb.email);
      push("phone", ra.phone, rb.phone);
      push("ipv4", ra.last_login_ip, rb.last_login_ip);
      push("ipv6", ra.last_login_ip6, rb.last_login_ip6);
      push("ssn", ra.ssn, rb.ssn);
      push("iban", ra.bank.iban, rb.bank.iban);
    }
  });
  return out;
}

const shapeOf = (s: string) => s.replace(/\d/g, "9");
/** character classes: digits → 9, lowercase → a, uppercase → A */
const classes = (s: string) => s.replace(/\d/g, "9").replace(/[a-z]/g, "a").replace(/[A-Z]/g, "A");

describe("anonymise: the PII corpus", () => {
  const corpus = piiCorpus(20261101, 400);
  const anonymiser = new Anonymiser({ key: KEY });
  const outputs = corpus.requests.map((r) => anonymiser.request(r));
  const found = pairs(corpus.requests, outputs);

  it("plants hundreds of values of every kind", () => {
    expect(corpus.planted.length).toBeGreaterThan(1000);
    const kinds = new Set(found.map(([kind]) => kind));
    expect([...kinds].sort()).toEqual(["card", "csrf", "email", "iban", "ipv4", "ipv6", "jwt", "phone", "session", "ssn"]);
    expect(piiCorpus(20261101, 400)).toEqual(corpus);
  });

  it("leaves none of the planted values in any output, however it is encoded", () => {
    const hay = haystack(outputs);
    const leaked = corpus.planted.filter((p) => hay.includes(p));
    expect(leaked).toEqual([]);
  });

  it("leaves none behind for other seeds either", () => {
    for (const seed of [1, 2, 3]) {
      const c = piiCorpus(seed, 64);
      const a = new Anonymiser({ key: `k${seed}` });
      const hay = haystack(c.requests.map((r) => a.request(r)));
      expect(c.planted.filter((p) => hay.includes(p))).toEqual([]);
    }
  });

  it("counts what it replaced per rule, and the summary holds no value", () => {
    const summary = anonymiser.summary();
    const labels = [
      ...["authorization", "cookie", "set-cookie", "x-api-key", "x-hub-signature-256"].map((h) => `header:${h}`),
      ...["email", "password", "card_number", "token", "secret"].map((f) => `field:${f}`),
      ...["email", "phone", "card", "ipv4", "ipv6", "jwt", "aws-key", "aws-secret", "github-token", "slack-token", "google-api-key", "private-key", "url-credentials", "ssn", "iban"].map((d) => `detector:${d}`),
    ];
    for (const label of labels) {
      expect(summary[label], label).toBeGreaterThan(0);
    }
    const text = JSON.stringify(summary);
    expect(corpus.planted.filter((p) => text.includes(p))).toEqual([]);
  });

  it("maps equal inputs to equal outputs across requests and responses, distinct inputs to distinct outputs", () => {
    const forward = new Map<string, Set<string>>();
    const backward = new Map<string, Set<string>>();
    for (const [, a, b] of found) {
      forward.set(a, (forward.get(a) ?? new Set()).add(b));
      backward.set(b, (backward.get(b) ?? new Set()).add(a));
    }
    expect([...forward.values()].filter((s) => s.size > 1)).toEqual([]);
    expect([...backward.values()].filter((s) => s.size > 1)).toEqual([]);
    // the same values really do recur: a session set by a login is sent again later
    const sessions = found.filter(([kind]) => kind === "session");
    expect(new Set(sessions.map(([, a]) => a)).size).toBeLessThan(sessions.length);
  });

  it("keeps formats: emails, cards, phones, IPs, JWTs, SSNs, IBANs, session ids", () => {
    for (const [kind, a, b] of found) {
      expect(b, kind).not.toBe(a);
      expect(b.length, `${kind} length`).toBe(a.length);
      switch (kind) {
        case "email":
          expect(b).toMatch(EMAIL);
          expect(b.split(".").pop()).toBe(a.split(".").pop());
          break;
        case "card":
          expect(luhnValid(b.replace(/\D/g, ""))).toBe(true);
          expect(b.replace(/\d/g, "9")).toBe(a.replace(/\d/g, "9"));
          expect(b.slice(0, 2)).toBe(a.slice(0, 2));
          break;
        case "phone":
          expect(shapeOf(b)).toBe(shapeOf(a));
          break;
        case "ipv4":
          expect(isIPv4(b)).toBe(true);
          break;
        case "ipv6":
          expect(isIPv6(b)).toBe(true);
          break;
        case "ssn":
          expect(b).toMatch(/^(?!000|666|9)\d{3}-(?!00)\d{2}-(?!0000)\d{4}$/);
          break;
        case "iban":
          expect(ibanValid(b)).toBe(true);
          expect(b.slice(0, 2)).toBe("GB");
          break;
        case "session":
          expect(b).toMatch(/^[0-9a-f]{32}$/);
          break;
        case "jwt": {
          const [h, p, s] = b.split(".");
          const [ha, pa] = a.split(".");
          expect(b.split(".")).toHaveLength(3);
          expect(h).toBe(ha);
          expect(s).toMatch(/^[\w-]+$/);
          const claims = JSON.parse(Buffer.from(p!, "base64url").toString("utf8"));
          const original = JSON.parse(Buffer.from(pa!, "base64url").toString("utf8"));
          expect(Object.keys(claims)).toEqual(Object.keys(original));
          expect(claims.iss).toBe(original.iss);
          expect(claims.exp).toBe(original.exp);
          expect(claims.email).toMatch(EMAIL);
          expect(claims.email).not.toBe(original.email);
          expect(claims.sub).not.toBe(original.sub);
          break;
        }
      }
    }
  });

  it("leaves ordinary values alone: ids, versions, timestamps, counts, user agents, token_type", () => {
    outputs.forEach((out, i) => {
      const input = corpus.requests[i]!;
      expect(out.method).toBe(input.method);
      expect(out.at).toBe(input.at);
      expect(out.headers["x-request-id"]).toBe(input.headers["x-request-id"]);
      expect(out.headers["user-agent"]).toBe(ORDINARY.userAgent);
      expect(out.headers["content-type"]).toBe(input.headers["content-type"]);
      if (input.path.includes("version=")) expect(out.path).toContain(`version=${ORDINARY.version}`);
      if (input.path.startsWith("/api/v1/orders/")) expect(out.path).toBe(input.path);
      for (const body of [out.body, out.response?.body]) {
        if (body?.includes("created_at")) expect(body).toContain(ORDINARY.timestamp);
        if (body?.includes('"count"')) expect(body).toMatch(/"count": ?42/);
        if (body?.includes("token_type")) expect(body).toContain('"token_type":"Bearer"');
        if (body?.includes("request_id")) expect(body).toContain(input.headers["x-request-id"]);
      }
    });
  });

  it("uses the key: the same key gives the same output, another key another output", () => {
    const again = new Anonymiser({ key: KEY });
    expect(corpus.requests.map((r) => again.request(r))).toEqual(outputs);
    const other = new Anonymiser({ key: "another-key" });
    const otherFound = pairs(corpus.requests, corpus.requests.map((r) => other.request(r)));
    expect(otherFound.map(([k, a]) => [k, a])).toEqual(found.map(([k, a]) => [k, a]));
    const same = otherFound.filter(([, , b], i) => b === found[i]![2]);
    expect(same).toEqual([]);
  });

  it("anonymises a recorded response alone exactly as inside its request (mocks match replays)", () => {
    const fresh = new Anonymiser({ key: KEY });
    for (const [i, input] of corpus.requests.entries()) {
      if (input.response) expect(fresh.response(input.response)).toEqual(outputs[i]!.response);
    }
  });

  it("prints a throughput figure", () => {
    const bulk = piiCorpus(7, 5000);
    const bytes = bulk.requests.reduce((n, r) => n + r.path.length + (r.body?.length ?? 0) + (r.response?.body?.length ?? 0) + JSON.stringify(r.headers).length, 0);
    const a = new Anonymiser({ key: KEY });
    const start = performance.now();
    for (const r of bulk.requests) a.request(r);
    const ms = performance.now() - start;
    console.log(`anonymise: ${bulk.requests.length} PII-dense requests (${Math.round(bytes / bulk.requests.length)} B each) in ${ms.toFixed(0)} ms = ${Math.round((bulk.requests.length / ms) * 1000)} req/s`);
  });
});

describe("anonymise: names", () => {
  it("replaces sensitive headers whole, keeping the auth scheme; Basic credentials stay decodable user:password", () => {
    const a = new Anonymiser({ key: KEY });
    const basic = Buffer.from("alice:correct-horse-battery").toString("base64");
    const out = a.request({ method: "GET", path: "/", headers: { authorization: `Basic ${basic}`, "proxy-authorization": "Bearer abc123def456", "x-api-key": "key_8f7d6e5c4b3a", "x-goog-api-key": "some-key-value", accept: "*/*" } });
    const decoded = Buffer.from(out.headers.authorization!.slice(6), "base64").toString("utf8");
    expect(out.headers.authorization).toMatch(/^Basic /);
    expect(decoded).toMatch(/^[a-z]{5}:[a-z]{7}-[a-z]{5}-[a-z]{7}$/);
    expect(decoded).not.toContain("alice");
    expect(out.headers["proxy-authorization"]).toMatch(/^Bearer [a-z]{3}\d{3}[a-z]{3}\d{3}$/);
    expect(classes(out.headers["x-api-key"]!)).toBe(classes("key_8f7d6e5c4b3a"));
    expect(out.headers["x-api-key"]).not.toBe("key_8f7d6e5c4b3a");
    expect(out.headers["x-goog-api-key"]).not.toBe("some-key-value");
    expect(out.headers.accept).toBe("*/*");
    expect(a.summary()).toEqual({ "header:authorization": 1, "header:proxy-authorization": 1, "header:x-api-key": 1, "header:x-goog-api-key": 1 });
  });

  it("replaces every cookie value, keeping names, attributes and Expires dates", () => {
    const a = new Anonymiser({ key: KEY });
    const out = a.request({
      method: "GET",
      path: "/",
      headers: { cookie: 'sid=s%3Aabc123.def456; theme=dark; q="quoted value"' },
      response: { status: 200, headers: { "set-cookie": "sid=s%3Aabc123.def456; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT; HttpOnly, lang=en-GB; Path=/" } },
    });
    expect(out.headers.cookie).toMatch(/^sid=[a-z]%3A[a-z]{3}\d{3}\.[a-z]{3}\d{3}; theme=[a-z]{4}; q="[a-z]{6} [a-z]{5}"$/);
    const sid = cookie(out.headers.cookie, "sid");
    expect(out.response!.headers["set-cookie"]).toBe(`sid=${sid}; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT; HttpOnly, lang=${cookie(out.response!.headers["set-cookie"], "lang")}; Path=/`);
    expect(cookie(out.response!.headers["set-cookie"], "lang")).toMatch(/^[a-z]{2}-[A-Z]{2}$/);
    expect(a.summary()).toEqual({ "header:cookie": 3, "header:set-cookie": 2 });
  });

  it("matches names at any depth, case-, dash- and underscore-insensitively; subtrees of sensitive names go whole", () => {
    const a = new Anonymiser({ key: KEY });
    const body = '{"data":{"User":{"E-Mail":"not an address","clientSecret":"abcDEF123","home_phone":"5551234","Credentials":{"user":"bob","pin":1234}},"status":"ok"}}';
    const out = JSON.parse(a.request({ method: "POST", path: "/", headers: { "content-type": "application/json" }, body }).body!);
    expect(out.data.User["E-Mail"]).toMatch(/^[a-z]{3} [a-z]{2} [a-z]{7}$/);
    expect(out.data.User.clientSecret).toMatch(/^[a-z]{3}[A-Z]{3}\d{3}$/);
    expect(out.data.User.clientSecret).not.toBe("abcDEF123");
    expect(out.data.User.home_phone).toMatch(/^\d{7}$/);
    expect(out.data.User.Credentials.user).toMatch(/^[a-z]{3}$/);
    expect(out.data.User.Credentials.user).not.toBe("bob");
    expect(out.data.User.Credentials.pin).toBeGreaterThanOrEqual(1000);
    expect(out.data.User.Credentials.pin).not.toBe(1234);
    expect(out.data.status).toBe("ok");
    expect(a.summary()).toEqual({ "field:client_secret": 1, "field:credentials": 2, "field:email": 1, "field:phone": 1 });
  });

  it("rewrites JSON in place: formatting, key order and big numbers survive; sensitive numbers stay numbers", () => {
    const a = new Anonymiser({ key: KEY });
    const body = '{\n  "id": 12345678901234567890,\n  "card_number": 4111111111111111,\n  "pin": 987,\n  "ratio": 1.5e3,\n  "ok": true,\n  "none": null\n}';
    const out = a.request({ method: "POST", path: "/", headers: { "content-type": "application/json" }, body }).body!;
    expect(out.split("\n").map((l) => l.replace(/\d/g, "9"))).toEqual(body.split("\n").map((l) => l.replace(/\d/g, "9")));
    expect(out).toContain('"id": 12345678901234567890');
    expect(out).toContain('"ratio": 1.5e3');
    const card = /"card_number": (\d+)/.exec(out)![1]!;
    expect(luhnValid(card)).toBe(true);
    expect(card).not.toBe("4111111111111111");
    expect(out).not.toContain('"pin": 987');
  });

  it("handles form bodies field by field, NDJSON line by line and truncated JSON by its name pairs", () => {
    const a = new Anonymiser({ key: KEY });
    const form = a.request({ method: "POST", path: "/", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "user=bob&password=p%40ss+word%21&note=call+%2B14155550123&lang=en" }).body!;
    expect(form).toMatch(/^user=bob&password=[a-z]%40[a-z]{2}\+[a-z]{4}%21&note=call\+%2B1\d{10}&lang=en$/);
    expect(form).not.toContain("4155550123");
    const nd = a.request({ method: "POST", path: "/", headers: { "content-type": "application/x-ndjson" }, body: '{"email":"a.b@example.com"}\n{"n":1}\n' }).body!;
    expect(nd).toMatch(/^\{"email":"[a-z]\.[a-z]@[a-z]{7}\.com"\}\n\{"n":1\}\n$/);
    const cut = a.request({ method: "POST", path: "/", headers: { "content-type": "application/json" }, body: '{"user":{"password":"hunter2hunter2","card_number":"4111 1111 1111 11' }).body!;
    expect(cut).not.toContain("hunter2hunter2");
    expect(cut).not.toContain("4111 1111 1111 11");
    expect(cut).toMatch(/^\{"user":\{"password":"[a-z]+\d[a-z]+\d","card_number":"\d{4} \d{4} \d{4} \d\d$/);
  });

  it("finds sensitive names in free text: INI, YAML, GraphQL, XML, HTML form fields and meta tags", () => {
    const a = new Anonymiser({ key: KEY });
    const text = [
      "password = hunter2hunter2",
      "api_key: 'abc123def'",
      'mutation { login(email: "alice@example.com", pin: 4321) { ok } }',
      "<user><ssn>078-05-1120</ssn><name>Widget</name></user>",
      '<input type="hidden" name="csrf_token" value="a1b2c3d4e5f6"><input name="q" value="shoes">',
      '<meta name="csrf-token" content="Zx9Yw8Vu7Ts6">',
    ].join("\n");
    const out = a.text(text).split("\n");
    expect(out[0]).toMatch(/^password = [a-z]{6}\d[a-z]{6}\d$/);
    expect(out[1]).toMatch(/^api_key: '[a-z]{3}\d{3}[a-z]{3}'$/);
    expect(out[2]).toMatch(/^mutation \{ login\(email: "[a-z]{5}@[a-z]{7}\.com", pin: \d{4}\) \{ ok \} \}$/);
    expect(out[2]).not.toContain("4321");
    expect(out[3]).toMatch(/^<user><ssn>\d{3}-\d{2}-\d{4}<\/ssn><name>Widget<\/name><\/user>$/);
    expect(out[4]).toMatch(/^<input type="hidden" name="csrf_token" value="[a-z\d]{12}"><input name="q" value="shoes">$/);
    expect(out[5]).toMatch(/^<meta name="csrf-token" content="[A-Z][a-z]\d[A-Z][a-z]\d[A-Z][a-z]\d[A-Z][a-z]\d">$/);
    const leaked = ["hunter2hunter2", "abc123def", "alice@example.com", "078-05-1120", "a1b2c3d4e5f6", "Zx9Yw8Vu7Ts6"].filter((v) => out.join("\n").includes(v));
    expect(leaked).toEqual([]);
  });

  it("leaves nothing of a value that straddles a name pair and a detector", () => {
    const a = new Anonymiser({ key: KEY });
    const out = a.text("card_number=4111 1111 1111 1111 end");
    expect(out).toMatch(/^card_number=\d{4} \d{4} \d{4} \d{4} end$/);
    expect(out).not.toMatch(/1111/);
  });

  it("keeps multipart structure: part headers, boundaries, file parts scanned, named parts replaced", () => {
    const a = new Anonymiser({ key: KEY });
    const body = ["--XyZ", 'Content-Disposition: form-data; name="password"', "", "hunter2hunter2", "--XyZ", 'Content-Disposition: form-data; name="bio"', "", "mail me: a.b@example.com", "--XyZ--", ""].join("\r\n");
    const out = a.request({ method: "POST", path: "/", headers: { "content-type": "multipart/form-data; boundary=XyZ" }, body }).body!;
    const lines = out.split("\r\n");
    expect(lines.filter((_, i) => ![3, 7].includes(i))).toEqual(body.split("\r\n").filter((_, i) => ![3, 7].includes(i)));
    expect(lines[3]).toMatch(/^[a-z]{6}\d[a-z]{6}\d$/);
    expect(lines[7]).toMatch(/^mail me: [a-z]\.[a-z]@[a-z]{7}\.com$/);
    expect(a.summary()).toEqual({ "detector:email": 1, "field:password": 1 });
  });

  it("keeps Digest and AWS4 authorization parameters that say how, replaces the ones that say who", () => {
    const a = new Anonymiser({ key: KEY });
    const digest = 'Digest username="alice", realm="api@example.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, response="6629fae49393a05397450978507c4ef1"';
    const aws = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-date, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024";
    const out = a.request({ method: "GET", path: "/", headers: { authorization: digest, "proxy-authorization": aws } }).headers;
    expect(out.authorization).toMatch(/^Digest username="[a-z]{5}", realm="api@example\.com", nonce="[0-9a-f]{34}", uri="\/dir\/index\.html", qop=auth, nc=00000001, response="[0-9a-f]{32}"$/);
    expect(out.authorization).not.toMatch(/alice|dcd98b71|6629fae4/);
    expect(out["proxy-authorization"]).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIA[A-Z0-9]{16}\/20130524\/us-east-1\/s3\/aws4_request, SignedHeaders=host;range;x-amz-date, Signature=[0-9a-f]{64}$/);
    expect(out["proxy-authorization"]).not.toMatch(/IOSFODNN7EXAMPLE|fe5f80f7/);
  });

  it("keeps dates valid under date-of-birth names and IPv4 tails of IPv6 addresses valid", () => {
    const a = new Anonymiser({ key: KEY });
    const body = JSON.parse(a.request({ method: "POST", path: "/", headers: { "content-type": "application/json" }, body: '{"dob":"1990-05-17","birthday":"1990-05-17T08:30:00Z"}' }).body!);
    for (const value of [body.dob, body.birthday]) {
      expect(Number.isNaN(Date.parse(value))).toBe(false);
      expect(value.startsWith("1990-05-17")).toBe(false);
    }
    expect(body.birthday).toMatch(/T08:30:00Z$/);
    const ips = a.text("::ffff:192.0.2.128 and 64:ff9b::203.0.113.5").split(" and ");
    for (const ip of ips) expect(isIPv6(ip)).toBe(true);
    expect(ips.join(" ")).not.toMatch(/192\.0\.2\.128|203\.0\.113\.5/);
  });

  it("keeps names listed in keep (whole subtrees), and token_type by default", () => {
    const a = new Anonymiser({ key: KEY, keep: ["theme", "X-Request-Id", "email", "recovery"] });
    const out = a.request({
      method: "POST",
      path: "/?email=a.b@example.com&token=abc123",
      headers: { cookie: "theme=dark; sid=abc123", "x-request-id": "alice@example.com", "content-type": "application/json" },
      body: '{"email":"a.b@example.com","token_type":"Bearer","recovery":{"password":"abc123","note":"x@y.com"},"password":"abc123"}',
    });
    expect(out.path).toBe(`/?email=a.b@example.com&token=${cookie(out.headers.cookie, "sid")}`);
    expect(out.headers.cookie).toMatch(/^theme=dark; sid=[a-z]{3}\d{3}$/);
    expect(out.headers["x-request-id"]).toBe("alice@example.com");
    expect(out.body).toMatch(/^\{"email":"a\.b@example\.com","token_type":"Bearer","recovery":\{"password":"abc123","note":"x@y\.com"\},"password":"[a-z]{3}\d{3}"\}$/);
  });

  it("adds the extra header and field names given", () => {
    const a = new Anonymiser({ key: KEY, headers: ["X-Tenant"], fields: ["employeeNumber"] });
    const out = a.request({ method: "POST", path: "/?employee_number=778899", headers: { "x-tenant": "acme-corp", "content-type": "application/json" }, body: '{"employeeNumber":"E-778899","name":"widget"}' });
    expect(out.headers["x-tenant"]).toMatch(/^[a-z]{4}-[a-z]{4}$/);
    expect(out.headers["x-tenant"]).not.toBe("acme-corp");
    expect(out.path).toMatch(/^\/\?employee_number=\d{6}$/);
    expect(out.body).toMatch(/^\{"employeeNumber":"[A-Z]-\d{6}","name":"widget"\}$/);
    expect(a.summary()).toEqual({ "field:employeeNumber": 2, "header:x-tenant": 1 });
  });
});

describe("anonymise: detectors", () => {
  const jwt = `${Buffer.from('{"alg":"RS256","typ":"JWT"}').toString("base64url")}.${Buffer.from('{"sub":"1234567890","name":"John Doe","admin":true,"iat":1516239022}').toString("base64url")}.${"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"}`;
  const cases: [DetectorName, string, (out: string) => void][] = [
    ["email", "mail jane.doe+tag@mail.example.co.uk now", (o) => expect(o).toMatch(/^mail [a-z]{4}\.[a-z]{3}\+[a-z]{3}@[a-z]{4}\.[a-z]{7}\.[a-z]{2}\.uk now$/)],
    ["phone", "call +1 (415) 555-0123 or 020 7946 0958 or +447700900123", (o) => expect(o.replace(/\d/g, "9")).toBe("call +9 (999) 999-9999 or 999 9999 9999 or +999999999999")],
    ["ipv4", "from 203.0.113.195 and 10.0.0.1", (o) => o.match(/\d+\.\d+\.\d+\.\d+/g)!.forEach((ip) => expect(isIPv4(ip)).toBe(true))],
    ["ipv6", "via [2001:db8:85a3::8a2e:370:7334]:443 and fe80::1ff:fe23:4567:890a", (o) => expect(o.match(/[0-9a-f:]{6,}/g)!.every((ip) => isIPv6(ip))).toBe(true)],
    ["card", "cards 4242-4242-4242-4242 and 378282246310005", (o) => o.match(/[\d-]{15,}/g)!.forEach((c) => expect(luhnValid(c.replace(/-/g, ""))).toBe(true))],
    ["jwt", `token ${jwt}.`, (o) => expect(o).toMatch(/^token eyJ[\w-]+\.eyJ[\w-]+\.[\w-]{43}\.$/)],
    ["aws-key", "AKIAIOSFODNN7EXAMPLE / ASIAY34FZKBOKMUTVV7A", (o) => expect(o).toMatch(/^AKIA[A-Z0-9]{16} \/ ASIA[A-Z0-9]{16}$/)],
    ["aws-secret", "AWS secret key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", (o) => expect(o).toMatch(/^AWS secret key: [a-z][A-Z][a-z]{3}[A-Z]{2}[a-z]{2}[A-Z]{4}\/[A-Z]\d[A-Z]{5}\/[a-z][A-Z][a-z][A-Z][a-z]{2}[A-Z]{12}$/)],
    ["github-token", "ghp_16C7e42F292c6912E7710c838347Ae178B4a and github_pat_11ABCDEFG0123456789abc_defghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWX", (o) => expect(o).toMatch(/^ghp_[A-Za-z0-9]{36} and github_pat_\w+$/)],
    ["slack-token", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", (o) => expect(o).toMatch(/^xoxb-\d{12}-\d{13}-[A-Za-z]{24}$/)],
    ["stripe-key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc pk_test_TYooMQauvdEDq54NiTphI7jx", (o) => expect(o).toMatch(/^sk_live_\w{24} pk_test_\w{24}$/)],
    ["google-api-key", "key=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe", (o) => expect(o).toMatch(/^key=AIza[\w-]{35}$/)],
    ["private-key", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oXmv/ts8A7Q6oAoGCCqGSM49\n-----END EC PRIVATE KEY-----", (o) => expect(o).toMatch(/^-----BEGIN EC PRIVATE KEY-----\n[\w/+]{64}\n-----END EC PRIVATE KEY-----$/)],
    ["url-credentials", "DATABASE_URL=postgres://admin:s3cr3t-pw@db.internal:5432/app", (o) => expect(o).toMatch(/^DATABASE_URL=postgres:\/\/[a-z]{5}:[a-z]\d[a-z]{2}\d[a-z]-[a-z]{2}@db\.internal:5432\/app$/)],
    ["ssn", "SSN 078-05-1120.", (o) => expect(o).toMatch(/^SSN \d{3}-\d{2}-\d{4}\.$/)],
    ["iban", "IBAN DE89 3704 0044 0532 0130 00", (o) => expect(ibanValid(o.slice(5))).toBe(true)],
    ["bearer", "curl -H 'X-Upstream: Bearer abcdef0123456789abcdef'", (o) => expect(o).toMatch(/^curl -H 'X-Upstream: Bearer [a-f\d]{22}'$/)],
  ];

  it.each(cases)("%s: replaced in free text, format kept, counted", (name, text, check) => {
    const a = new Anonymiser({ key: KEY });
    const out = a.text(text);
    expect(out).not.toBe(text);
    expect(out.length).toBe(text.length);
    check(out);
    expect(a.summary()[`detector:${name}`]).toBeGreaterThan(0);
    const off = new Anonymiser({ key: KEY, detectors: [] });
    const plain = text.replace(/^(DATABASE_URL|key)=/, "$1 ");
    expect(off.text(plain)).toBe(plain);
  });

  it("finds values in path segments, query values, header values and response bodies of any type", () => {
    const a = new Anonymiser({ key: KEY });
    const out = a.request({
      method: "GET",
      path: "/users/alice%40example.com/orders/12345?ref=bob@example.org&ip=198.51.100.7",
      headers: { "x-forwarded-for": "198.51.100.7, 2001:db8::42", referer: "https://app.example.com/cb?access_token=abc123xyz&state=1" },
      response: { status: 200, headers: { "content-type": "text/csv" }, body: "name,email\nAlice,alice@example.com\n" },
    });
    const email = /^\/users\/([a-z]{5}%40[a-z]{7}\.com)\/orders\/12345\?ref=[a-z]{3}@[a-z]{7}\.org&ip=([\d.]+)$/.exec(out.path);
    expect(email).not.toBeNull();
    expect(out.response!.body).toBe(`name,email\nAlice,${decodeURIComponent(email![1]!)}\n`);
    expect(out.headers["x-forwarded-for"]!.startsWith(`${email![2]}, `)).toBe(true);
    expect(out.headers.referer).toMatch(/^https:\/\/app\.example\.com\/cb\?access_token=[a-z]{3}\d{3}[a-z]{3}&state=1$/);
  });

  it("leaves ordinary values alone", () => {
    const a = new Anonymiser({ key: KEY });
    const ordinary = [
      "/orders/12345",
      "version=1.2.3",
      "v1.2.3.4 and release 10.4.1",
      '"version": "1.2.3.4"',
      '"count": 42',
      "2026-11-01T10:20:30.123Z, 2026-11-01 10:20:30+01:00, 01/11/2026",
      "123e4567-e89b-12d3-a456-426614174000",
      "12345678-1234-1234-1234-123456789012",
      "Mozilla/5.0 Chrome/120.0.0.0 Safari/537.36",
      "localhost:8080, 127.0.0.1, 0.0.0.0, ::1",
      "created 1790000000000 (ms), order 12345678, total 1,234.56",
      "ISBN 978-3-16-148410-0, std::vector, 12:30:45",
      "sha256:0123456789abcdef0123456789abcdef",
      "Basic information about Bearer tokens",
    ];
    for (const text of ordinary) expect(a.text(text)).toBe(text);
    const body = '{"id":"123e4567-e89b-12d3-a456-426614174000","count":42,"price":19.99,"status":"shipped","version":"1.2.3.4","created_at":"2026-11-01T10:20:30Z","big":12345678901234567890}';
    const request: ReplayRequest = { method: "GET", path: "/orders/12345?version=1.2.3&page=2", headers: { "content-type": "application/json", "user-agent": "Mozilla/5.0 Chrome/120.0.0.0" }, body, host: "10.1.2.3:8080", route: "GET /orders/{id}", weight: 3, at: 5 };
    expect(a.request(request)).toEqual(request);
    expect(a.summary()).toEqual({});
  });

  it("honours the detectors option", () => {
    const a = new Anonymiser({ key: KEY, detectors: ["email"] });
    expect(a.text("a.b@example.com from 203.0.113.9")).toMatch(/^[a-z]\.[a-z]@[a-z]{7}\.com from 203\.0\.113\.9$/);
    expect(() => new Anonymiser({ key: KEY, detectors: ["emails" as DetectorName] })).toThrow(/detectors\[0\]: expected one of private-key, .*, got "emails"/);
  });

  it("never gives a short value back unchanged", () => {
    const a = new Anonymiser({ key: KEY });
    for (const v of ["1", "7", "a", "Z", "42", "ab"]) {
      const out = a.request({ method: "GET", path: `/?pin=${v}`, headers: {} }).path;
      expect(out).not.toBe(`/?pin=${v}`);
      expect(out.length).toBe(`/?pin=${v}`.length);
    }
  });
});

describe("anonymise: user rules", () => {
  it("applies user rules where they are told to, counting each under its name", () => {
    const rules: AnonymiseRule[] = [
      { name: "employee-id", pattern: /EMP-\d{6}/, in: ["body", "path"] },
      { name: "order-ref", pattern: /ref:(?<value>[A-Z]{3}\d{4})/, in: ["headers"] },
      { name: "badge", pattern: /badge-[a-z]+/i, in: ["headers", "query", "path", "body", "response"] },
    ];
    const a = new Anonymiser({ key: KEY, rules });
    const out = a.request({
      method: "POST",
      path: "/staff/EMP-123456",
      headers: { "x-ref": "ref:ABC1234", "x-emp": "EMP-123456", "content-type": "text/plain" },
      body: "by EMP-123456 with BADGE-Blue",
      response: { status: 200, headers: {}, body: "EMP-123456 ref:ABC1234 badge-red" },
    });
    const emp = /^\/staff\/([A-Z]{3}-\d{6})$/.exec(out.path)![1]!;
    expect(emp).not.toBe("EMP-123456");
    expect(out.body).toBe(`by ${emp} with ${out.body!.slice(-10)}`);
    expect(out.body!.slice(-10)).toMatch(/^[A-Z]{5}-[A-Z][a-z]{3}$/);
    expect(out.headers["x-ref"]).toMatch(/^ref:[A-Z]{3}\d{4}$/);
    expect(out.headers["x-ref"]).not.toBe("ref:ABC1234");
    expect(out.headers["x-emp"]).toBe("EMP-123456");
    expect(out.response!.body).toMatch(/^EMP-123456 ref:ABC1234 [a-z]{5}-[a-z]{3}$/);
    expect(a.summary()).toEqual({ "rule:badge": 2, "rule:employee-id": 2, "rule:order-ref": 1 });
  });

  it("takes RegExp objects directly, without needing the g flag", () => {
    const a = new Anonymiser({ key: KEY, rules: [{ name: "ticket", pattern: /TCK\d{5}/, in: ["body"] }] });
    const body = a.request({ method: "POST", path: "/", headers: {}, body: "TCK12345 TCK54321" }).body!;
    expect(body).toMatch(/^[A-Z]{3}\d{5} [A-Z]{3}\d{5}$/);
    expect(body).not.toMatch(/12345|54321/);
    expect(a.summary()).toEqual({ "rule:ticket": 2 });
    expect(() => new Anonymiser({ key: KEY, rules: [{ name: "x", pattern: /x/, in: ["bodies" as "body"] }] })).toThrow('anonymise: rules[0].in[0]: expected one of headers, query, path, body, response, got "bodies"');
  });
});

describe("anonymise: the key", () => {
  it("is required, and never shows in errors, inspection or serialisation", () => {
    expect(() => new Anonymiser({ key: "" })).toThrow("anonymise: key: expected a non-empty secret string");
    const secret = "super-secret-key-material";
    const a = new Anonymiser({ key: secret });
    a.text("alice@example.com");
    expect(inspect(a, { depth: 10, showHidden: true })).not.toContain(secret);
    expect(inspect(a, { depth: 10, showHidden: true })).not.toContain("alice@example.com");
    expect(JSON.stringify(a)).toBe("{}");
    try {
      new Anonymiser({ key: secret, rules: [{ name: "", pattern: /x/, in: ["body"] }] });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toBe("anonymise: rules[0].name: expected a non-empty string");
    }
  });
});
