/**
 * How one configuration becomes one shadow: environment variables, command arguments,
 * and the CPU/memory limits scaled to the shadow's fraction of the primary.
 */
import type { ShadowSpec } from "./ports.js";
import type { Configuration, ParameterCatalog, WorkloadProfile } from "./types.js";


export function shadowSpecFor(input: {
  workload: WorkloadProfile;
  catalog: ParameterCatalog;
  config: Configuration;
  fraction: number;
  image: string;
  port: number;
  name: string;
}): ShadowSpec {
  const { workload, catalog, config, fraction } = input;
  const env: Record<string, string> = { ...workload.env, [workload.portEnv]: String(input.port) };
  const args: string[] = [];
  let cpus = workload.resources.cpus;
  let memoryMiB = workload.resources.memoryMiB;
  for (const parameter of catalog) {
    const value = config[parameter.name];
    if (value === undefined) throw new Error(`configuration has no value for parameter ${parameter.name}`);
    switch (parameter.apply.kind) {
      case "env":
        env[parameter.apply.name] = String(value);
        break;
      case "arg":
        args.push(parameter.apply.template.replaceAll("{value}", String(value)));
        break;
      case "cpus":
        cpus = Number(value);
        break;
      case "memory":
        memoryMiB = Number(value);
        break;
    }
  }
  const command = workload.command || args.length > 0 ? [...(workload.command ?? []), ...args] : undefined;
  if (args.length > 0 && !workload.command) {
    throw new Error(`parameters applied as arguments need workload.command (the image's command is not known to append to)`);
  }
  return {
    image: input.image,
    name: input.name,
    port: input.port,
    env,
    ...(command ? { command } : {}),
    // the config schema guarantees these clear Docker's minimums (0.01 CPUs, 6 MiB)
    cpus: round(cpus * fraction, 3),
    memoryMiB: Math.round(memoryMiB * fraction),
    readyPath: workload.ready.path,
    readyTimeoutMs: workload.ready.timeoutMs,
    config,
  };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
