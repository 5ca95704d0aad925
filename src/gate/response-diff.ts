/**
 * The gate's response-correctness diff (src/diff/): two base shadows and one head shadow, fresh
 * and unloaded, answer the same sampled requests at the same moment; what the two bases
 * disagree on is noise, and only head differences above it are reported.
 */
import { abortReason, errorText } from "../core/errors.js";
import type { RunningShadow } from "../core/ports.js";
import type { DiffSettings, ShadowgateConfig } from "../config/schema.js";
import { collectDiff, type DiffReport } from "../diff/compare.js";
import { captureTriples, diffSamples, pickDiffRequests } from "../diff/probe.js";
import type { GateDeps } from "./run-gate.js";
import { startGateShadow } from "./shadow.js";

export type ResponseDiffResult = { report: DiffReport; requests: number } | { error: string };

export async function runResponseDiff(
  config: ShadowgateConfig,
  images: { base: string; head: string },
  settings: DiffSettings,
  deps: Pick<GateDeps, "runtime" | "freePort" | "requests" | "runId" | "signal" | "logger" | "startDiffMocks">,
): Promise<ResponseDiffResult> {
  const requests = pickDiffRequests(deps.requests, settings.perRoute, config.shadows.seed, { includeUnsafe: settings.unsafe });
  if (requests.length === 0) {
    return { error: "no request to compare: the sample has only POST/PUT/PATCH/DELETE requests (set gate.diff.unsafe: true to send them too)" };
  }
  const sides = [
    ["baseA", images.base],
    ["baseB", images.base],
    ["head", images.head],
  ] as const;
  // each instance its own mocks, answering every call with its first recorded response: a shared
  // mock cycling through a route's recorded answers would hand the three different ones
  const mocks: { close(): Promise<void> }[] = [];
  const started = await Promise.allSettled(
    sides.map(async ([side, image]) => {
      const sideMocks = await deps.startDiffMocks?.();
      if (sideMocks) mocks.push(sideMocks);
      return startGateShadow(config, deps, image, `diff-${side}`, sideMocks?.env);
    }),
  );
  const shadows = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  try {
    // a timeout or a signal is the gate's end, not a diff that "did not start"
    if (deps.signal?.aborted) throw abortReason(deps.signal, "gate aborted");
    const failed = started.findIndex((s) => s.status === "rejected");
    if (failed >= 0) return { error: `the ${sides[failed]![0]} shadow did not start: ${errorText((started[failed] as PromiseRejectedResult).reason)}` };
    const [baseA, baseB, head] = shadows as [RunningShadow, RunningShadow, RunningShadow];
    deps.logger.info(`gate: comparing the responses to ${requests.length} requests (base, base again, head)`);
    const triples = await captureTriples({ baseA: baseA.url, baseB: baseB.url, head: head.url }, requests, {
      timeoutMs: config.traffic.timeoutMs,
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
    return { report: collectDiff(diffSamples(requests, triples)), requests: requests.length };
  } finally {
    await Promise.allSettled(shadows.map((shadow) => shadow.stop()));
    await Promise.allSettled(mocks.map((mock) => mock.close()));
  }
}
