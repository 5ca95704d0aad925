/** External-API mocks built from the recording: pure routes and matching, and the loopback server. */
export { buildMockRoutes, MockMatcher } from "./routes.js";
export type { BodyRule, ClosestMiss, MockHostRoutes, MockMatch, MockRequest, MockResponse, MockRoute } from "./routes.js";
export { startMockServer } from "./server.js";
export type { MockServer, MockServerOptions, MockStats } from "./server.js";
