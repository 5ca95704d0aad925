/** prepareTraffic's settings for tests: everything replayed, a fixed key, no mocks; override what a test varies. */
import { createAnonymiser, type TrafficSettings } from "../../src/traffic/prepare.js";

export function trafficSettings(overrides: Partial<TrafficSettings> = {}): TrafficSettings {
  return {
    sample: 1,
    floor: 3,
    seed: 1,
    pace: "closed",
    anonymiser: createAnonymiser({ headers: [], fields: [], keep: [], rules: [] }, "k"),
    mockHosts: [],
    ...overrides,
  };
}
