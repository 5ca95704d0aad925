/**
 * Sending the diff's requests to shadows and keeping what they answer. Loopback only, like the
 * load driver: shadows listen on 127.0.0.1 and Shadowgate sends nothing anywhere else.
 *
 * One bad request never fails the capture: a timeout, a refused connection or a reset is that
 * request's `{ error }`. Only an abort (the run is stopping) rejects.
 */
import { HTTP_TOKEN } from "../core/http.js";
import http from "node:http";
import { abortReason, errorText } from "../core/errors.js";
import type { ReplayRequest } from "../core/ports.js";
import { assertLoopback, replayHeaders, requestTarget } from "../load/requests.js";
import { deriveSeed, mulberry32, shuffleInPlace } from "../search/random.js";
import type { Captured, DiffSample } from "./compare.js";

export interface CaptureOptions {
  /** per request, from sending to the end of the body */
  timeoutMs: number;
  /** requests in flight at once (per shadow); default 4 */
  concurrency?: number;
  signal?: AbortSignal;
  /** a longer body is cut here (and compared as cut); default 1 MiB */
  maxBodyBytes?: number;
}

export interface CapturedTriple {
  baseA: Captured;
  baseB: Captured;
  head: Captured;
}

/** Methods replayed by default: they should not change what later requests see. */
export const SAFE_METHODS: readonly string[] = ["GET", "HEAD", "OPTIONS"];

const DEFAULT_CONCURRENCY = 4;
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Send every request to one shadow; the answers in the requests' order. */
export async function captureResponses(baseUrl: string, requests: ReplayRequest[], options: CaptureOptions): Promise<Captured[]> {
  const target = targetOf(baseUrl);
  const concurrency = checkOptions(options);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const inFlight = new InFlight(options.signal);
  try {
    const out: Captured[] = new Array(requests.length);
    await pool(requests.length, concurrency, options.signal, async (i) => {
      out[i] = await send(target, agent, requests[i] as ReplayRequest, options, inFlight);
    });
    return out;
  } finally {
    inFlight.dispose();
    agent.destroy();
  }
}

/**
 * Send every request to base A, base B and head at the same moment (each request's three copies
 * together), so anything that depends on the time — a timestamp to the second, a cache that
 * expires — is the same for the three and does not pass for a difference.
 */
export async function captureTriples(urls: { baseA: string; baseB: string; head: string }, requests: ReplayRequest[], options: CaptureOptions): Promise<CapturedTriple[]> {
  const targets = { baseA: targetOf(urls.baseA), baseB: targetOf(urls.baseB), head: targetOf(urls.head) };
  const concurrency = checkOptions(options);
  const agents = [1, 2, 3].map(() => new http.Agent({ keepAlive: true, maxSockets: concurrency }));
  const [agentA, agentB, agentH] = agents as [http.Agent, http.Agent, http.Agent];
  const inFlight = new InFlight(options.signal);
  try {
    const out: CapturedTriple[] = new Array(requests.length);
    await pool(requests.length, concurrency, options.signal, async (i) => {
      const request = requests[i] as ReplayRequest;
      const [baseA, baseB, head] = await Promise.all([
        send(targets.baseA, agentA, request, options, inFlight),
        send(targets.baseB, agentB, request, options, inFlight),
        send(targets.head, agentH, request, options, inFlight),
      ]);
      out[i] = { baseA, baseB, head };
    });
    return out;
  } finally {
    inFlight.dispose();
    for (const agent of agents) agent.destroy();
  }
}

/** The samples `collectDiff` takes: each request with its three answers. */
export function diffSamples(requests: readonly ReplayRequest[], triples: readonly CapturedTriple[]): DiffSample[] {
  if (requests.length !== triples.length) throw new Error(`diff: ${requests.length} requests but ${triples.length} captured answers`);
  return requests.map((request, i) => ({ route: routeOf(request), request: `${request.method.toUpperCase()} ${request.path}`, ...(triples[i] as CapturedTriple) }));
}

/** The request's route: the one sampling set, else method and path without the query. */
export function routeOf(request: ReplayRequest): string {
  return request.route ?? `${request.method.toUpperCase()} ${request.path.replace(/[?#].*$/s, "")}`;
}

/**
 * Up to `perRoute` requests of each route, chosen at random but reproducibly from `seed` (each
 * route draws from its own stream, so adding a route does not change another's choice), distinct
 * requests before repeats; returned in recorded order with `route` set.
 *
 * Only GET, HEAD and OPTIONS by default. `includeUnsafe` replays the others too: each request then
 * reaches base A, base B and head once, which is fine for shadows — they are disposable and each
 * has its own state — unless the workload is configured to write to something shared (a real
 * database, a queue), which is why it is opt-in. A write's answer often carries what it created
 * (an id), which the noise rule handles like any generated value.
 */
export function pickDiffRequests(requests: readonly ReplayRequest[], perRoute: number, seed: number, options: { includeUnsafe?: boolean } = {}): ReplayRequest[] {
  if (!Number.isInteger(perRoute) || perRoute < 1) throw new Error(`diff: perRoute: expected an integer ≥ 1, got ${perRoute}`);
  const groups = new Map<string, number[]>();
  requests.forEach((request, i) => {
    if (!options.includeUnsafe && !SAFE_METHODS.includes(request.method.toUpperCase())) return;
    const route = routeOf(request);
    const group = groups.get(route);
    if (group) group.push(i);
    else groups.set(route, [i]);
  });
  const chosen: number[] = [];
  for (const [route, indices] of groups) {
    const shuffled = shuffleInPlace(mulberry32(deriveSeed(seed, `diff:${route}`)), indices.slice());
    const seen = new Set<string>();
    const firsts: number[] = [];
    const repeats: number[] = [];
    for (const i of shuffled) {
      const r = requests[i] as ReplayRequest;
      const key = `${r.method.toUpperCase()} ${r.path}\n${r.body ?? ""}`;
      (seen.has(key) ? repeats : firsts).push(i);
      seen.add(key);
    }
    chosen.push(...[...firsts, ...repeats].slice(0, perRoute));
  }
  return chosen.sort((x, y) => x - y).map((i) => {
    const request = requests[i] as ReplayRequest;
    return { ...request, route: routeOf(request) };
  });
}

interface Target {
  hostname: string;
  port: number;
  /** the base URL's path, prefixed to every request path */
  prefix: string;
}

function targetOf(baseUrl: string): Target {
  const url = assertLoopback(baseUrl);
  return {
    hostname: url.hostname.replace(/^\[|\]$/g, ""),
    port: url.port === "" ? 80 : Number(url.port),
    prefix: url.pathname.replace(/\/+$/, ""),
  };
}

function checkOptions(options: CaptureOptions): number {
  if (!(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0)) throw new Error(`diff: timeoutMs: expected a number > 0, got ${options.timeoutMs}`);
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`diff: concurrency: expected an integer ≥ 1, got ${concurrency}`);
  if (options.signal?.aborted) throw abortReason(options.signal, "diff: response capture aborted");
  return concurrency;
}

/** Run `task(0..n-1)` with at most `concurrency` at once; an abort stops starting new ones and rejects. */
async function pool(n: number, concurrency: number, signal: AbortSignal | undefined, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n && !signal?.aborted) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  if (signal?.aborted) throw abortReason(signal, "diff: response capture aborted");
}

/**
 * The requests of one capture in flight, cancelled together on abort: one listener on the
 * signal however many requests run (a listener each would pass Node's leak warning at 11).
 */
class InFlight {
  private readonly cancels = new Set<() => void>();
  private readonly onAbort = () => {
    for (const cancel of [...this.cancels]) cancel();
  };
  constructor(private readonly signal?: AbortSignal) {
    signal?.addEventListener("abort", this.onAbort, { once: true });
  }
  get aborted(): boolean {
    return this.signal?.aborted ?? false;
  }
  /** register a cancel callback; returns its removal */
  add(cancel: () => void): () => void {
    this.cancels.add(cancel);
    return () => this.cancels.delete(cancel);
  }
  dispose(): void {
    this.signal?.removeEventListener("abort", this.onAbort);
    this.cancels.clear();
  }
}

/** One request, one answer: never rejects. */
function send(target: Target, agent: http.Agent, request: ReplayRequest, options: CaptureOptions, inFlight: InFlight): Promise<Captured> {
  const method = request.method.toUpperCase();
  if (!HTTP_TOKEN.test(method)) return Promise.resolve({ error: `invalid method ${JSON.stringify(request.method)}` });
  const headers = replayHeaders(request.headers);
  // Identity encoding: a compressed body is not text, and a one-byte change would garble all of it.
  for (const name of Object.keys(headers)) if (name.toLowerCase() === "accept-encoding") delete headers[name];
  headers["accept-encoding"] = "identity";
  const body = request.body !== undefined && request.body.length > 0 ? Buffer.from(request.body) : undefined;
  if (body) headers["content-length"] = String(body.length);
  const maxBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const { timeoutMs } = options;

  return new Promise<Captured>((resolve) => {
    let done = false;
    let req: http.ClientRequest | undefined;
    // `cutShort`: the exchange did not end normally, so its socket is closed rather than reused.
    const finish = (captured: Captured, cutShort = true) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      forget();
      resolve(captured);
      if (cutShort) req?.destroy();
    };
    const timer = setTimeout(() => finish({ error: `timeout after ${timeoutMs} ms` }), timeoutMs);
    const forget = inFlight.add(() => finish({ error: "aborted" }));
    if (inFlight.aborted) {
      finish({ error: "aborted" });
      return;
    }
    try {
      req = http.request({ host: target.hostname, port: target.port, method, path: requestTarget(target.prefix, request.path), headers, agent });
    } catch (error) {
      finish({ error: errorText(error) });
      return;
    }
    req.on("error", (error) => finish({ error: describeError(error) }));
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const complete = (cutShort: boolean) => {
        const responseHeaders: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) responseHeaders[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
        }
        finish({ status: res.statusCode ?? 0, headers: responseHeaders, body: Buffer.concat(chunks).toString("utf8") }, cutShort);
      };
      res.on("data", (chunk: Buffer) => {
        if (done) return;
        const room = maxBytes - size;
        chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
        size += Math.min(chunk.length, room);
        if (size >= maxBytes) complete(true);
      });
      res.on("end", () => complete(false));
      res.on("error", (error) => finish({ error: describeError(error) }));
      res.on("close", () => {
        if (!res.complete) finish({ error: "connection closed before the response ended" });
      });
    });
    req.end(body);
  });
}

function describeError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ECONNRESET") return "connection reset";
  if (code === "ETIMEDOUT") return "connect timed out";
  return errorText(error);
}
