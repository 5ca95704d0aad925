/** One shadow of the gate: a build with the current configuration and the shadows' share, named by its role. */
import { shadowSpecFor } from "../core/apply.js";
import type { RunningShadow, ShadowRuntime } from "../core/ports.js";
import type { ShadowgateConfig } from "../config/schema.js";

export async function startGateShadow(
  config: ShadowgateConfig,
  deps: { runtime: ShadowRuntime; freePort: () => Promise<number>; runId: string; signal?: AbortSignal },
  image: string,
  role: string,
  /** more environment (a response-diff instance's own mocks) */
  env: Record<string, string> = {},
): Promise<RunningShadow> {
  const spec = shadowSpecFor({
    workload: Object.keys(env).length > 0 ? { ...config.workload, env: { ...config.workload.env, ...env } } : config.workload,
    catalog: config.parameters,
    config: config.current,
    fraction: config.shadows.fraction,
    image,
    port: await deps.freePort(),
    name: `${config.workload.name}-${deps.runId}-${role}`,
  });
  return deps.runtime.start(spec, deps.signal);
}
