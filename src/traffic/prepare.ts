/**
 * From recorded exchanges to what a run replays: every exchange anonymised first (so nothing
 * personal reaches a route name, a shadow, a mock, a report or the cache), the calls to
 * external hosts split off for the mocks, and a stratified, weighted sample of the rest.
 * One pass over the recording, which may be a stream (streamTraffic): memory holds the sample
 * and the mocked calls, never the recording.
 */
import { randomBytes } from "node:crypto";
import type { ReplayRequest } from "../core/ports.js";
import type { AnonymiseSettings } from "../config/schema.js";
import { mockedHost } from "../mocks/routes.js";
import { Anonymiser } from "./anonymise.js";
import type { OpenApiRoutes } from "./routes.js";
import { MAX_SAMPLE, paceRate, sampleTraffic, type StratumSummary } from "./sample.js";

export interface TrafficSettings {
  /**
   * a fraction of the recorded requests (≤ 1) or a number of them (> 1); a fraction keeps at
   * most `maxSample` requests
   */
  sample: number;
  /**
   * the most requests a fraction keeps (default MAX_SAMPLE, 100,000): the sampler reads the
   * recording once, so it holds room for the largest sample a fraction may ask for
   */
  maxSample?: number;
  floor: number;
  seed: number;
  /** "closed", or a multiple of the recorded pace */
  pace: "closed" | number;
  openApi?: OpenApiRoutes;
  /** every exchange goes through it before anything else sees it (see createAnonymiser) */
  anonymiser: Anonymiser;
  /** hosts whose recorded calls become mocks instead of being replayed */
  mockHosts: string[];
}

/**
 * The run's anonymiser. Without a key (a secret input) a fresh random one is drawn, so
 * pseudonyms hold within the run (the mocks still match) but not across runs.
 */
export function createAnonymiser(settings: AnonymiseSettings, key?: string): Anonymiser {
  return new Anonymiser({
    key: key ?? randomBytes(32).toString("hex"),
    headers: settings.headers,
    fields: settings.fields,
    keep: settings.keep,
    rules: settings.rules.map((rule) => ({ name: rule.name, pattern: new RegExp(rule.pattern, rule.flags), in: [...rule.in] })),
  });
}

export interface PreparedTraffic {
  /** the sample replayed into the shadows, anonymised, each with its route and weight */
  requests: ReplayRequest[];
  /** recorded requests to the workload (the calls to mocked hosts not counted) */
  recorded: number;
  /** per route: recorded, sampled, weight */
  strata: StratumSummary[];
  /** values replaced, per rule (`header:authorization`, `detector:email`, …) */
  redactions: Record<string, number>;
  /**
   * anonymised recorded calls to the mocked hosts, as the mocks match them: query parameters
   * and JSON/form fields whose values anonymisation replaced are left out (the workload sends
   * its own key, not the recording's pseudonym, so they could never match)
   */
  mockExchanges: ReplayRequest[];
  /** requests/s the recording shows, when it has times */
  recordedRate?: number;
  /** the request rate the pace asks for (open model); absent for a closed loop */
  rate?: number;
  /** the most recorded requests the sampler held at once (see SampleResult.peakHeld): the memory bound in practice */
  peakHeld: number;
}

/**
 * Prepares a recording in one pass: each request is anonymised as it streams by, a call to a
 * mocked host is kept for the mocks (anonymised, with its response: they are few), any other
 * goes on to the sampler without its recorded response, so memory is bounded by the sample
 * (see sampleTraffic; a fraction keeps at most settings.maxSample), not by the recording.
 * `recorded` is an array or an import's stream (ImportStream.requests): what its iteration
 * throws (an unreadable file, a recording without a replayable request) is thrown here as it is.
 */
export async function prepareTraffic(recorded: Iterable<ReplayRequest> | AsyncIterable<ReplayRequest>, settings: TrafficSettings): Promise<PreparedTraffic> {
  const { anonymiser } = settings;
  const mockExchanges: ReplayRequest[] = [];
  let inbound = 0;
  /** the request as the sampler sees it; undefined for a call to a mocked host, kept aside */
  const replayed = (request: ReplayRequest): ReplayRequest | undefined => {
    if (mockedHost(request.host, settings.mockHosts) !== undefined) {
      mockExchanges.push(matchable(request, anonymiser.request(request)));
      return undefined;
    }
    inbound++;
    // a replayed request's recorded response is not needed (and would only hold memory)
    const { response: _response, ...rest } = request;
    return anonymiser.request(rest);
  };
  const input =
    typeof (recorded as AsyncIterable<ReplayRequest>)[Symbol.asyncIterator] === "function"
      ? (async function* () {
          for await (const request of recorded as AsyncIterable<ReplayRequest>) {
            const out = replayed(request);
            if (out !== undefined) yield out;
          }
        })()
      : (function* () {
          for (const request of recorded as Iterable<ReplayRequest>) {
            const out = replayed(request);
            if (out !== undefined) yield out;
          }
        })();

  const sample = await sampleTraffic(input, {
    ...(settings.sample <= 1 ? { fraction: settings.sample, maxSize: settings.maxSample ?? MAX_SAMPLE } : { size: settings.sample }),
    floor: settings.floor,
    seed: settings.seed,
    ...(settings.openApi ? { openApi: settings.openApi } : {}),
  });
  if (inbound === 0) throw new Error(`traffic: every recorded request goes to a mocked host (${settings.mockHosts.join(", ")}); none is left to replay into the workload`);
  const prepared: PreparedTraffic = {
    requests: sample.requests,
    recorded: inbound,
    strata: sample.strata,
    redactions: anonymiser.summary(),
    mockExchanges,
    peakHeld: sample.peakHeld,
  };
  if (sample.recordedRate !== undefined) prepared.recordedRate = sample.recordedRate;
  if (settings.pace !== "closed") prepared.rate = paceRate(sample.recordedRate, settings.pace);
  return prepared;
}

/**
 * A mocked call as its mock matches it: the anonymised call without the query parameters and
 * JSON or form fields whose values anonymisation changed (a live call carries the workload's
 * own credential there, never the recording's pseudonym).
 */
export function matchable(raw: ReplayRequest, anonymised: ReplayRequest): ReplayRequest {
  const out: ReplayRequest = { ...anonymised, path: withoutChangedQuery(raw.path, anonymised.path) };
  if (raw.body !== undefined && anonymised.body !== undefined && raw.body !== anonymised.body) {
    const body = withoutChangedFields(raw.body, anonymised.body);
    if (body !== undefined) out.body = body;
    else delete out.body; // a body anonymised beyond recognition matches any body
  }
  return out;
}

function withoutChangedQuery(rawPath: string, path: string): string {
  const q = path.indexOf("?");
  const rq = rawPath.indexOf("?");
  if (q < 0 || rq < 0) return path;
  const raw = [...new URLSearchParams(rawPath.slice(rq + 1))];
  const kept = [...new URLSearchParams(path.slice(q + 1))].filter(([name, value], i) => raw[i]?.[0] !== name || raw[i]?.[1] === value);
  return kept.length === 0 ? path.slice(0, q) : `${path.slice(0, q)}?${new URLSearchParams(kept).toString()}`;
}

/** The anonymised body without the fields whose values changed: JSON objects or a form; undefined otherwise. */
function withoutChangedFields(rawBody: string, body: string): string | undefined {
  const json = (text: string): unknown => {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  };
  const raw = json(rawBody);
  const anonymised = json(body);
  if (isObject(raw) && isObject(anonymised)) return JSON.stringify(unchangedFields(raw, anonymised));
  if (/^[^=&\s]+=[^&\s]*(?:&[^=&\s]+=[^&\s]*)*$/.test(rawBody)) return withoutChangedQuery(`?${rawBody}`, `?${body}`).slice(1);
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function unchangedFields(raw: Record<string, unknown>, anonymised: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(anonymised)) {
    const before = raw[name];
    if (isObject(value) && isObject(before)) out[name] = unchangedFields(before, value);
    else if (JSON.stringify(value) === JSON.stringify(before)) out[name] = value;
  }
  return out;
}
