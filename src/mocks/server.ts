/**
 * A loopback HTTP server that answers one external host's calls from the recording. Shadows
 * run with host networking, so the caller starts one mock per configured host and hands the
 * workload `url` through the configured environment variable.
 */
import { connectionListed, HOP_BY_HOP_HEADERS } from "../core/http.js";
import http from "node:http";
import { silentLogger } from "../core/errors.js";
import type { Logger, RecordedResponse } from "../core/ports.js";
import { MockMatcher, type MockHostRoutes, type MockRoute } from "./routes.js";

const LOOPBACK = "127.0.0.1";

export interface MockServerOptions {
  /** only 127.0.0.1: a mock must not be reachable from outside the runner */
  host?: "127.0.0.1";
  /** 0 (the default) lets the kernel pick a free port */
  port?: number;
  /** "recorded": wait as long as the recorded call took; "none": answer at once; a number: the recorded latency times it */
  latency: "recorded" | "none" | number;
  logger?: Logger;
  /** largest request body read, in bytes; larger ones get 413 (default 10 MiB) */
  maxBodyBytes?: number;
  /** "cycle" (default): repeated calls get the recorded responses in turn; "first": always the first */
  responses?: "cycle" | "first";
  /**
   * Applied to every miss line before it is logged or counted: a live call can carry a value
   * the recording never had (a real key from the shadow's environment), so the caller scrubs it
   */
  scrub?: (text: string) => string;
}

export interface MockStats {
  /** calls matched to a recorded one and answered with its response */
  served: number;
  /** calls no recorded call matches (answered 502) */
  unmatched: number;
  /** every route with how often it was served, most served first */
  perRoute: { route: string; served: number }[];
  /** the most frequent distinct miss lines, most frequent first */
  misses: { line: string; count: number }[];
}

export interface MockServer {
  /** the configured external host this mock stands in for */
  readonly host: string;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  stats(): MockStats;
  /** stop listening, drop every connection (idle keep-alive ones too) and pending delayed replies */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Hop-by-hop headers, and the ones this server sets itself: framing (bodies are stored decoded)
 * and Date (Node sets the current one; a stale recorded one skews clients that compute
 * freshness from Date + max-age).
 */
const DROPPED_HEADERS = new Set([...HOP_BY_HOP_HEADERS, "trailers", "content-length", "content-encoding", "date"]);

const MISS_ERROR = "shadowgate mock: no recorded call matches";
const TOP_MISSES = 5;
/** distinct miss lines tracked; later new ones only count in `unmatched` */
const MAX_MISS_LINES = 1000;
/** distinct miss lines logged as warnings; the rest go to debug */
const WARNED_MISSES = 5;

interface PreparedReply {
  status: number;
  headers: http.OutgoingHttpHeaders;
  body: Buffer;
}

/** Status, headers and body bytes as sent, computed once per recorded response. */
const prepared = new WeakMap<RecordedResponse, PreparedReply>();

function prepare(response: RecordedResponse): PreparedReply {
  const cached = prepared.get(response);
  if (cached !== undefined) return cached;
  const headers: http.OutgoingHttpHeaders = {};
  const listed = connectionListed(response.headers.connection);
  for (const [rawName, value] of Object.entries(response.headers)) {
    const name = rawName.toLowerCase();
    // HTTP/2 pseudo-headers (":status" in some HAR files) and hop-by-hop ones do not belong in an HTTP/1.1 reply
    if (name.startsWith(":") || DROPPED_HEADERS.has(name) || listed.has(name)) continue;
    const values = name === "set-cookie" ? value.split("\n").filter((v) => v !== "") : [value];
    try {
      http.validateHeaderName(name);
      for (const v of values) http.validateHeaderValue(name, v);
    } catch {
      continue; // a header Node cannot send (non-Latin-1 value, bad name): leave it out
    }
    headers[name] = values.length === 1 ? values[0] : values;
  }
  const bodyless = response.status === 204 || response.status === 304;
  const body = bodyless ? Buffer.alloc(0) : Buffer.from(response.body ?? "", "utf8");
  if (!bodyless) headers["content-length"] = body.length;
  const reply = { status: response.status, headers, body };
  prepared.set(response, reply);
  return reply;
}

function latencyFactor(latency: MockServerOptions["latency"]): number {
  if (latency === "recorded") return 1;
  if (latency === "none") return 0;
  if (typeof latency === "number" && Number.isFinite(latency) && latency >= 0) return latency;
  throw new Error(`mock server: latency: expected "recorded", "none" or a multiplier ≥ 0, got ${JSON.stringify(latency)}`);
}

/** path + query of a request line, also when a client sends the absolute form (as to a proxy). */
function requestPath(url: string | undefined): string {
  if (url === undefined || url === "") return "/";
  if (url.startsWith("/")) return url;
  try {
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
  } catch {
    return url;
  }
}

/** Miss lines are cut here: a repeated query parameter could make one very long. */
const MAX_MISS_LINE = 500;

/** Start a mock for one host on 127.0.0.1. Rejects for any other bind address. */
export async function startMockServer(hostRoutes: MockHostRoutes, options: MockServerOptions): Promise<MockServer> {
  const bind = options.host ?? LOOPBACK;
  if (bind !== LOOPBACK) {
    throw new Error(`mock server for ${hostRoutes.host}: host: expected 127.0.0.1 (shadows reach mocks over loopback; a mock must not be reachable from elsewhere), got "${String(bind)}"`);
  }
  const factor = latencyFactor(options.latency);
  const logger = options.logger ?? silentLogger;
  const maxBodyBytes = options.maxBodyBytes ?? 10 * 1024 * 1024;
  const matcher = new MockMatcher(hostRoutes, options.responses ?? "cycle");
  const scrub = options.scrub ?? ((text: string) => text);
  const timers = new Set<NodeJS.Timeout>();
  const perRoute = new Map<MockRoute, number>(hostRoutes.routes.map((route) => [route, 0]));
  const misses = new Map<string, number>();
  let served = 0;
  let unmatched = 0;

  const send = (res: http.ServerResponse, reply: PreparedReply, head: boolean, delayMs: number): void => {
    const write = (): void => {
      if (res.destroyed || res.writableEnded) return;
      res.writeHead(reply.status, reply.headers);
      res.end(head ? undefined : reply.body);
    };
    if (delayMs <= 0) return write();
    const timer = setTimeout(() => {
      timers.delete(timer);
      write();
    }, delayMs);
    timers.add(timer);
    res.once("close", () => {
      clearTimeout(timer);
      timers.delete(timer);
    });
  };

  const sendJson = (res: http.ServerResponse, status: number, value: unknown): void => {
    const body = Buffer.from(JSON.stringify(value), "utf8");
    send(res, { status, headers: { "content-type": "application/json", "content-length": body.length }, body }, false, 0);
  };

  const answer = (req: http.IncomingMessage, res: http.ServerResponse, body: string): void => {
    const result = matcher.match({ method: req.method ?? "GET", path: requestPath(req.url), body });
    if ("miss" in result) {
      unmatched++;
      const { request, closest } = result.miss;
      const line = scrub(result.miss.line).slice(0, MAX_MISS_LINE);
      const seen = misses.get(line);
      if (seen !== undefined) misses.set(line, seen + 1);
      else if (misses.size < MAX_MISS_LINES) {
        misses.set(line, 1);
        if (misses.size <= WARNED_MISSES) logger.warn(`mock ${hostRoutes.host}: ${line}`);
        else logger.debug(`mock ${hostRoutes.host}: ${line}`);
      }
      sendJson(res, 502, { error: MISS_ERROR, request, closest });
      return;
    }
    served++;
    perRoute.set(result.route, (perRoute.get(result.route) ?? 0) + 1);
    // fault injection goes here: swap `reply` / `delayMs` for an injected fault on `result.route` before sending
    const reply = prepare(result.response);
    const delayMs = result.latencyMs * factor;
    send(res, reply, req.method === "HEAD", delayMs);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBodyBytes) chunks.push(chunk);
    });
    req.on("end", () => {
      if (size > maxBodyBytes) sendJson(res, 413, { error: `shadowgate mock: request body over ${maxBodyBytes} bytes` });
      else answer(req, res, Buffer.concat(chunks).toString("utf8"));
    });
    req.on("error", () => res.destroy());
  });
  // longer than common client pools keep idle sockets, so a client never reuses a socket the mock just closed
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: LOOPBACK, port: options.port ?? 0, exclusive: true }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  const url = `http://${LOOPBACK}:${port}`;
  logger.debug(`mock ${hostRoutes.host} on ${url}: ${hostRoutes.routes.length} routes from ${hostRoutes.recorded} recorded calls (${hostRoutes.skipped} without a response skipped)`);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };

  return {
    host: hostRoutes.host,
    url,
    port,
    stats: () => ({
      served,
      unmatched,
      perRoute: [...perRoute].map(([route, count]) => ({ route: route.label, served: count })).sort((a, b) => b.served - a.served),
      misses: [...misses]
        .map(([line, count]) => ({ line, count }))
        .sort((a, b) => b.count - a.count)
        .slice(0, TOP_MISSES),
    }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
