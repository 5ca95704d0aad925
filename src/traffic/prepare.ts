/**
 * From recorded exchanges to what a run replays: every exchange anonymised first (so nothing
 * personal reaches a route name, a shadow, a mock, a report or the cache), the calls to
 * external hosts split off for the mocks, and a stratified, weighted sample of the rest.
 */
import { randomBytes } from "node:crypto";
import type { ReplayRequest } from "../core/ports.js";
import type { AnonymiseSettings } from "../config/schema.js";
import { sameHost } from "../mocks/routes.js";
import { Anonymiser } from "./anonymise.js";
import type { OpenApiRoutes } from "./routes.js";
import { paceRate, sampleTraffic, type StratumSummary } from "./sample.js";

export interface TrafficSettings {
  /** a fraction of the recorded requests (≤ 1) or a number of them (> 1) */
  sample: number;
  floor: number;
  seed: number;
  /** "closed", or a multiple of the recorded pace */
  pace: "closed" | number;
  openApi?: OpenApiRoutes;
  anonymise: AnonymiseSettings;
  /**
   * The pseudonymisation key (a secret input). Absent: a fresh random key, so pseudonyms hold
   * within the run (the mocks still match) but not across runs.
   */
  key?: string;
  /** hosts whose recorded calls become mocks instead of being replayed */
  mockHosts: string[];
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
  /** anonymised recorded calls to the mocked hosts */
  mockExchanges: ReplayRequest[];
  /** requests/s the recording shows, when it has times */
  recordedRate?: number;
  /** the request rate the pace asks for (open model); absent for a closed loop */
  rate?: number;
}

export async function prepareTraffic(recorded: readonly ReplayRequest[], settings: TrafficSettings): Promise<PreparedTraffic> {
  const anonymiser = new Anonymiser({
    key: settings.key ?? randomBytes(32).toString("hex"),
    headers: settings.anonymise.headers,
    fields: settings.anonymise.fields,
    keep: settings.anonymise.keep,
    rules: settings.anonymise.rules.map((rule) => ({ name: rule.name, pattern: new RegExp(rule.pattern), in: [...rule.in] })),
  });
  const hosts = settings.mockHosts.map((host) => host.toLowerCase());
  const isMocked = (request: ReplayRequest): boolean => request.host !== undefined && hosts.some((host) => sameHost(request.host!.toLowerCase(), host));

  const inbound: ReplayRequest[] = [];
  const mockExchanges: ReplayRequest[] = [];
  for (const request of recorded) {
    if (isMocked(request)) mockExchanges.push(anonymiser.request(request));
    else {
      // a replayed request's recorded response is not needed (and would only hold memory)
      const { response: _response, ...rest } = request;
      inbound.push(anonymiser.request(rest));
    }
  }
  if (inbound.length === 0) throw new Error(`traffic: every recorded request goes to a mocked host (${settings.mockHosts.join(", ")}); none is left to replay into the workload`);

  const size = settings.sample <= 1 ? Math.max(1, Math.round(settings.sample * inbound.length)) : settings.sample;
  const sample = await sampleTraffic(inbound, {
    size,
    floor: settings.floor,
    seed: settings.seed,
    ...(settings.openApi ? { openApi: settings.openApi } : {}),
  });
  const prepared: PreparedTraffic = {
    requests: sample.requests,
    recorded: inbound.length,
    strata: sample.strata,
    redactions: anonymiser.summary(),
    mockExchanges,
  };
  if (sample.recordedRate !== undefined) prepared.recordedRate = sample.recordedRate;
  if (settings.pace !== "closed") prepared.rate = paceRate(sample.recordedRate, settings.pace);
  return prepared;
}
