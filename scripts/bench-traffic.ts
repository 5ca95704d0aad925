/**
 * npm run bench:traffic — the HAR importer on a large recording: the streaming importer
 * (src/traffic/har.ts + har-stream.ts) beside the way it was read before (readFile +
 * JSON.parse of the whole document).
 *
 * Writes a HAR shaped like a Chrome DevTools export (pages; entries with HTTP/2 pseudo-headers,
 * a session's cookies, query strings, postData on some, responses whose content.text varies
 * from ~100 B to ~100 KB — JSON with escapes, HTML, JS, base64 images — or is absent; timings;
 * "_initiator"-style custom fields; ~5% of the entries out of startedDateTime order; a few
 * blocked requests with status 0) into the temp folder, then imports it in a fresh child
 * process per path, measuring wall time, MB/s and peak RSS (process.resourceUsage().maxRSS in
 * the child, which runs this script bundled to plain JavaScript; its RSS before the import is
 * shown beside it). The files are removed afterwards.
 *
 * Four paths: the streaming importer collecting every request (importHar, no response body
 * kept), the same with keepResponseBody accepting every host (memory then grows with the
 * bodies), readFile + JSON.parse, and a run's path: streamTraffic handing one request at a
 * time through anonymisation into the sampler (prepareTraffic, a sample of 2,000), which
 * holds the sample, never the recording (its peakHeld is printed below the table). Prints
 * numbers; asserts nothing.
 *
 * Environment: BENCH_MB (default 155), the size of the generated HAR in MB (10^6 bytes);
 * BENCH_RUNS (default 1), runs per path (the median is shown).
 */
import { execFile } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { mulberry32, type Rng } from "../src/search/random.js";
import { importHar } from "../src/traffic/har.js";
import { createAnonymiser, prepareTraffic } from "../src/traffic/prepare.js";
import { streamTraffic } from "../src/traffic/read.js";

const MB = 1_000_000;
const script = fileURLToPath(import.meta.url);

interface ChildResult {
  seconds: number;
  requests: number;
  /** peak resident set, MiB */
  peakRssMb: number;
  /** resident set before the import, MiB */
  baseRssMb: number;
  /** the sampling path: requests sampled, and the most requests the sampler held at once */
  sampled?: number;
  peakHeld?: number;
}

/** The sample a run of the sampling path replays. */
const SAMPLE = 2000;

const rssMb = () => process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB

/** In the child: one import, measured. */
async function child(mode: string, file: string): Promise<void> {
  const baseRssMb = process.memoryUsage().rss / (1024 * 1024);
  const start = performance.now();
  let requests: number;
  let sampled: Pick<ChildResult, "sampled" | "peakHeld"> = {};
  if (mode === "streaming") {
    requests = (await importHar(file)).requests.length;
  } else if (mode === "stream-sample") {
    // as loadTraffic does it, with the default config: no mocked host, anonymisation on
    const stream = await streamTraffic(file, "auto");
    const prepared = await prepareTraffic(stream.requests, {
      sample: SAMPLE,
      floor: 3,
      seed: 1,
      pace: "closed",
      anonymiser: createAnonymiser({ headers: [], fields: [], keep: [], rules: [] }),
      mockHosts: [],
    });
    requests = prepared.recorded;
    sampled = { sampled: prepared.requests.length, peakHeld: prepared.peakHeld };
  } else if (mode === "streaming-bodies") {
    requests = (await importHar(file, { keepResponseBody: () => true })).requests.length;
  } else {
    const doc = JSON.parse((await readFile(file)).toString("utf8")) as { log: { entries: unknown[] } };
    requests = doc.log.entries.length;
  }
  const seconds = (performance.now() - start) / 1000;
  const result: ChildResult = { seconds, requests, peakRssMb: rssMb(), baseRssMb, ...sampled };
  process.stdout.write(JSON.stringify(result));
}

// ---------------------------------------------------------------- a Chrome-shaped HAR

const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
const hex = (rng: Rng, n: number) => Array.from({ length: n }, () => Math.floor(rng() * 16).toString(16)).join("");
const WORDS = ["order", "cart", "price", "shipping", "delivery", "customer", "Größe", "naïve", "total", "item", "rabatt", "€", "quote \"x\"", "path\\to", "{brace}", "[list]", "emoji 🐵"];

/** A response body of about `size` bytes: JSON (escapes, braces in strings), HTML, JS or base64 binary. */
function body(rng: Rng, size: number): { mimeType: string; text: string; encoding?: string } {
  const kind = rng();
  if (kind < 0.5) {
    const items: unknown[] = [];
    let length = 2;
    while (length < size) {
      const item = { id: Math.floor(rng() * 1e6), name: `${pick(rng, WORDS)} ${pick(rng, WORDS)}`, price: Math.round(rng() * 1e4) / 100, tags: [pick(rng, WORDS), pick(rng, WORDS)], note: rng() < 0.2 ? '{"nested":"json \\"inside\\" a string"}' : null };
      const text = JSON.stringify(item);
      items.push(item);
      length += text.length + 1;
    }
    return { mimeType: "application/json", text: JSON.stringify({ items }) };
  }
  if (kind < 0.7) {
    let html = '<!doctype html><html><head><meta charset="utf-8"><title>Shop</title></head><body>\n';
    while (html.length < size) html += `<div class="product" data-id="${hex(rng, 8)}"><a href="/p/${hex(rng, 6)}?ref=list&amp;x=1">${pick(rng, WORDS)}</a> <span>{{price}}</span></div>\n`;
    return { mimeType: "text/html", text: `${html}</body></html>` };
  }
  if (kind < 0.85) {
    let js = "";
    while (js.length < size) js += `function f${hex(rng, 4)}(a){if(a==="\\"")return {k:'${pick(rng, WORDS)}',v:[1,2,{x:"}"}]};\n\treturn a.replace(/\\\\/g,"/")}\n`;
    return { mimeType: "application/javascript", text: js };
  }
  const bytes = Buffer.alloc(Math.max(16, Math.floor((size * 3) / 4)));
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rng() * 256);
  return { mimeType: pick(rng, ["image/png", "image/webp", "font/woff2"]), text: bytes.toString("base64"), encoding: "base64" };
}

const USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

function entry(rng: Rng, i: number, startMs: number): unknown {
  const host = pick(rng, ["shop.example", "api.shop.example", "cdn.shop.example", "shop.example:8443"]);
  const post = rng() < 0.2;
  const segments = [pick(rng, ["api", "static", "p", "cart", "v2"]), pick(rng, ["orders", "items", "search", "img", "session"]), String(Math.floor(rng() * 1e5))];
  const query = rng() < 0.6 ? [{ name: "q", value: pick(rng, WORDS) }, { name: "page", value: String(Math.floor(rng() * 20)) }] : [];
  const search = query.length ? `?${query.map((q) => `${q.name}=${encodeURIComponent(q.value)}`).join("&")}` : "";
  const url = `https://${host}/${segments.join("/")}${search}`;
  // one browsing session per ~500 entries: its cookies repeat on every request, as in a real export
  const session = mulberry32(Math.floor(i / 500));
  const cookies = [
    { name: "sid", value: hex(session, 32) },
    { name: "_ga", value: `GA1.2.${Math.floor(session() * 1e9)}.${Math.floor(session() * 1e9)}` },
    { name: "consent", value: "analytics%3Dtrue%26ads%3Dfalse" },
  ];
  const cookie = cookies.map((c) => `${c.name}=${c.value}`).join("; ");
  const postText = post ? JSON.stringify({ items: [{ sku: hex(rng, 6), qty: 1 + Math.floor(rng() * 4) }], note: `${pick(rng, WORDS)} "quoted" {brace}` }) : "";
  const headers = [
    { name: ":authority", value: host },
    { name: ":method", value: post ? "POST" : "GET" },
    { name: ":path", value: `/${segments.join("/")}${search}` },
    { name: ":scheme", value: "https" },
    { name: "accept", value: "application/json, text/plain, */*" },
    { name: "accept-encoding", value: "gzip, deflate, br, zstd" },
    { name: "accept-language", value: "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7" },
    { name: "cookie", value: cookie },
    { name: "priority", value: "u=1, i" },
    { name: "referer", value: "https://shop.example/" },
    { name: "sec-ch-ua", value: '"Chromium";v="131", "Not_A Brand";v="24"' },
    { name: "sec-ch-ua-mobile", value: "?0" },
    { name: "sec-fetch-mode", value: "cors" },
    { name: "user-agent", value: USER_AGENT },
    ...(post ? [{ name: "content-type", value: "application/json" }, { name: "content-length", value: String(postText.length) }] : []),
  ];
  // log-uniform sizes from ~100 B to ~100 KB; a third of the entries recorded without content
  const size = Math.floor(100 * Math.exp(rng() * Math.log(1000)));
  const content = rng() < 0.35 ? { mimeType: "image/png", text: undefined, encoding: undefined } : body(rng, size);
  const status = rng() < 0.01 ? 0 : pick(rng, [200, 200, 200, 200, 201, 204, 304, 404]);
  const timings = { blocked: rng() * 3, dns: -1, ssl: -1, connect: -1, send: 0.2, wait: 20 + rng() * 200, receive: rng() * 30, _blocked_queueing: rng() * 2, _workerStart: -1, _workerReady: -1, _workerFetchStart: -1, _workerRespondWithSettled: -1 };
  const time = timings.blocked + timings.send + timings.wait + timings.receive;
  // ~5% start earlier than the entry before them (Chrome writes entries by finish order at times)
  const started = startMs + i * 40 - (rng() < 0.05 ? 1_000 : 0);
  return {
    _connectionId: String(100 + Math.floor(rng() * 50)),
    _initiator: { type: "script", stack: { callFrames: [{ functionName: "fetchJson", scriptId: String(Math.floor(rng() * 100)), url: "https://shop.example/static/app.js", lineNumber: Math.floor(rng() * 1e4), columnNumber: Math.floor(rng() * 200) }] } },
    _priority: "High",
    _resourceType: post ? "fetch" : pick(rng, ["fetch", "xhr", "script", "image", "document"]),
    cache: {},
    connection: "443",
    pageref: "page_1",
    request: {
      method: post ? "POST" : "GET",
      url,
      httpVersion: "http/2.0",
      headers,
      queryString: query,
      cookies: cookies.map((c) => ({ ...c, path: "/", domain: ".shop.example", expires: "2027-11-29T10:00:00.000Z", httpOnly: false, secure: true })),
      headersSize: -1,
      bodySize: postText.length,
      ...(post ? { postData: { mimeType: "application/json", text: postText } } : {}),
    },
    response: {
      status,
      statusText: "",
      httpVersion: "http/2.0",
      headers: [
        { name: "cache-control", value: "private, max-age=0" },
        { name: "content-encoding", value: "br" },
        { name: "content-type", value: `${content.mimeType}; charset=utf-8` },
        { name: "date", value: new Date(started).toUTCString() },
        { name: "server", value: "nginx" },
        ...(i % 500 === 0 ? [{ name: "set-cookie", value: `sid=${cookies[0]!.value}; Path=/; Secure; HttpOnly` }] : []),
        { name: "etag", value: `W/"${hex(rng, 16)}"` },
        { name: "vary", value: "Accept-Encoding" },
      ],
      cookies: [],
      content: { size: content.text?.length ?? size, mimeType: content.mimeType, ...(status === 0 || content.text === undefined ? {} : { text: content.text }), ...(content.encoding ? { encoding: content.encoding } : {}) },
      redirectURL: "",
      headersSize: -1,
      bodySize: -1,
      _transferSize: Math.floor((content.text?.length ?? size) / 3),
      _error: status === 0 ? "net::ERR_BLOCKED_BY_CLIENT" : null,
      _fetchedViaServiceWorker: false,
    },
    serverIPAddress: "192.0.2.10",
    startedDateTime: new Date(started).toISOString(),
    time,
    timings,
  };
}

/** Indent `json` (2-space, as Chrome writes) by `depth` levels. */
const indent = (json: string, depth: number) => json.replace(/\n/g, `\n${"  ".repeat(depth)}`);

async function writeHar(file: string, bytes: number): Promise<{ entries: number }> {
  const rng = mulberry32(20261129);
  const out = createWriteStream(file);
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, "drain");
  };
  const startMs = Date.parse("2026-11-29T10:00:00.000Z");
  const pages = [{ startedDateTime: new Date(startMs).toISOString(), id: "page_1", title: "https://shop.example/", pageTimings: { onContentLoad: 812.3, onLoad: 1432.1 } }];
  await write(`{\n  "log": {\n    "version": "1.2",\n    "creator": {\n      "name": "WebInspector",\n      "version": "537.36"\n    },\n    "pages": ${indent(JSON.stringify(pages, null, 2), 2)},\n    "entries": [`);
  let written = 200;
  let entries = 0;
  while (written < bytes) {
    const text = `${entries === 0 ? "" : ","}\n      ${indent(JSON.stringify(entry(rng, entries, startMs), null, 2), 3)}`;
    written += Buffer.byteLength(text);
    entries++;
    await write(text);
  }
  await write("\n    ]\n  }\n}\n");
  out.end();
  await once(out, "finish");
  return { entries };
}

// ---------------------------------------------------------------- the parent

/**
 * This script bundled to plain JavaScript for the children: they run on bare node, so their
 * RSS is the import's and node's, not the TypeScript loader's (tsx adds ~30 MB).
 */
async function bundleChild(dir: string): Promise<string> {
  const { build } = await import("esbuild");
  const outfile = path.join(dir, "bench-traffic-child.mjs");
  await build({
    entryPoints: [script],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    external: ["esbuild"],
    // the run's path pulls in CommonJS dependencies (yaml), which expect require in an ESM bundle
    banner: { js: "import { createRequire as __sgCreateRequire } from 'node:module';\nconst require = __sgCreateRequire(import.meta.url);" },
    logLevel: "warning",
  });
  return outfile;
}

async function runChild(childScript: string, mode: string, file: string): Promise<ChildResult> {
  const { stdout } = await promisify(execFile)(process.execPath, [childScript, "--child", mode, file], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as ChildResult;
}

const medianOf = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const sizeMb = Number(process.env.BENCH_MB ?? 155);
  const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 1));
  if (!(sizeMb > 0)) throw new Error(`BENCH_MB: expected a size in MB (> 0), got ${JSON.stringify(process.env.BENCH_MB)}`);
  const dir = mkdtempSync(path.join(tmpdir(), "shadowgate-bench-traffic-"));
  try {
    const file = path.join(dir, "chrome-export.har");
    const written = performance.now();
    const { entries } = await writeHar(file, sizeMb * MB);
    const size = statSync(file).size / MB;
    const childScript = await bundleChild(dir);
    console.log(`# HAR import: ${size.toFixed(1)} MB Chrome-shaped HAR, ${entries} entries (written in ${((performance.now() - written) / 1000).toFixed(1)} s), node ${process.version}, median of ${runs} run(s)\n`);
    const notes: string[] = [];
    console.log("| path | s | MB/s | peak RSS (MiB) | RSS before import (MiB) | requests |");
    console.log("|---|---:|---:|---:|---:|---:|");
    for (const [mode, label] of [
      ["streaming", "streaming (importHar)"],
      ["streaming-bodies", "streaming, every response body kept"],
      ["json-parse", "readFile + JSON.parse"],
      ["stream-sample", `streaming import + sample of ${SAMPLE.toLocaleString("en")} (a run's path)`],
    ] as const) {
      const results: ChildResult[] = [];
      for (let run = 0; run < runs; run++) results.push(await runChild(childScript, mode, file));
      const seconds = medianOf(results.map((r) => r.seconds));
      const peak = medianOf(results.map((r) => r.peakRssMb));
      const base = medianOf(results.map((r) => r.baseRssMb));
      console.log(`| ${label} | ${seconds.toFixed(2)} | ${(size / seconds).toFixed(0)} | ${peak.toFixed(0)} | ${base.toFixed(0)} | ${results[0]!.requests} |`);
      if (results[0]!.peakHeld !== undefined) notes.push(`${label}: ${results[0]!.sampled} requests sampled; the sampler held at most ${results[0]!.peakHeld} at once`);
    }
    if (notes.length > 0) console.log(`\n${notes.join("\n")}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// the parent, or (this script bundled) a child measuring one path
if (process.argv[2] === "--child") await child(process.argv[3]!, process.argv[4]!);
else await main();
