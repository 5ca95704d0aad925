/** The CPU quota and memory limit: parameters of every category, around the primary's allocation. */
import type { CatalogKnob } from "./types.js";

export interface ResourceContext {
  /** the primary's allocation */
  cpus: number;
  memoryMiB: number;
  /** the smallest primary allocation whose shadow share Docker accepts */
  minCpus: number;
  minMemoryMiB: number;
}

/**
 * cpus and memory from half to twice the primary's allocation (log scale, so the primary's sits
 * in the middle), never below what a shadow's share needs; `current` defaults to the primary's.
 */
export function resourceKnobs(context: ResourceContext): CatalogKnob[] {
  return [
    {
      name: "cpus",
      type: "float",
      min: Math.max(round3(context.cpus / 2), Math.ceil(context.minCpus * 1000) / 1000),
      max: round3(context.cpus * 2),
      scale: "log",
      apply: { kind: "cpus" },
      doc: "the CPU quota in cores of the primary; a shadow gets its fraction (Docker docs, Resource constraints: --cpus)",
    },
    {
      name: "memory",
      type: "int",
      min: Math.max(Math.round(context.memoryMiB / 2), Math.ceil(context.minMemoryMiB)),
      max: Math.round(context.memoryMiB * 2),
      scale: "log",
      apply: { kind: "memory" },
      doc: "the memory limit in MiB of the primary; a shadow gets its fraction (Docker docs, Resource constraints: --memory)",
    },
  ];
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
