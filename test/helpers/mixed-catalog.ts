/** A small catalog with every parameter type and scale, and a configuration of it: for search tests. */
import type { Configuration, ParameterCatalog } from "../../src/core/types.js";

export const env = (name: string) => ({ kind: "env" as const, name });

export const mixedCatalog: ParameterCatalog = [
  { name: "POOL_SIZE", type: "int", min: 1, max: 64, scale: "log", apply: env("POOL_SIZE") },
  { name: "WORKERS", type: "int", min: 1, max: 8, scale: "linear", apply: env("WORKERS") },
  { name: "CACHE_MODE", type: "enum", values: ["none", "lru", "lfu"], apply: env("CACHE_MODE") },
  { name: "GZIP", type: "bool", apply: env("GZIP") },
  { name: "cpus", type: "float", min: 0.25, max: 1, scale: "linear", apply: { kind: "cpus" } },
  { name: "TIMEOUT_MS", type: "float", min: 1, max: 1000, scale: "log", apply: env("TIMEOUT_MS") },
];

export const mixedCurrent: Configuration = { POOL_SIZE: 8, WORKERS: 2, CACHE_MODE: "lru", GZIP: false, cpus: 0.5, TIMEOUT_MS: 100 };
