/**
 * The runner's noise, measured by an A/A gate (the base against itself) and stored with the
 * history: per KPI, the standard deviation of one block's log ratio. Later gates compare
 * their threshold with what that noise lets them resolve (compare.ts, resolvableRegression).
 */
import { KPI_NAMES, type KpiName } from "../core/types.js";
import type { GateResult } from "./run-gate.js";

export interface NoiseProfile {
  version: 1;
  workload: string;
  /** ISO time of the A/A run */
  at: string;
  mode: GateResult["mode"];
  /** the measured window per side per round it ran with (gate.round): noise depends on it */
  roundMs: number;
  /** blocks measured (each a fresh pair of shadows; see compare.ts BLOCK_ROUNDS) */
  blocks: number;
  /** per KPI: sd of log(head / base) per block, ≈ the CV of one block's ratio */
  kpis: Partial<Record<KpiName, number>>;
}

export function noiseProfileOf(result: GateResult, workload: string, at: Date): NoiseProfile {
  return {
    version: 1,
    workload,
    at: at.toISOString(),
    mode: result.mode,
    roundMs: result.settings.roundMs,
    blocks: result.blocks,
    kpis: Object.fromEntries(result.kpis.filter((k) => Number.isFinite(k.noise) && k.observations >= 2).map((k) => [k.name, k.noise])),
  };
}

/** A stored profile, checked field by field; a string says what is wrong with it. */
export function parseNoiseProfile(raw: unknown, workload: string): NoiseProfile | string {
  if (typeof raw !== "object" || raw === null) return "not a JSON object";
  const doc = raw as Record<string, unknown>;
  if (doc.version !== 1) return `version ${JSON.stringify(doc.version)} is not 1`;
  if (doc.workload !== workload) return `it belongs to workload ${JSON.stringify(doc.workload)}, not ${JSON.stringify(workload)}`;
  if (typeof doc.at !== "string" || Number.isNaN(Date.parse(doc.at))) return "at: expected an ISO time";
  if (doc.mode !== "duet" && doc.mode !== "interleaved" && doc.mode !== "sequential") return "mode: expected duet, interleaved or sequential";
  if (typeof doc.roundMs !== "number" || !(doc.roundMs > 0)) return "roundMs: expected a duration in ms > 0";
  if (typeof doc.blocks !== "number" || !Number.isInteger(doc.blocks) || doc.blocks < 2) return "blocks: expected a whole number ≥ 2";
  if (typeof doc.kpis !== "object" || doc.kpis === null) return "kpis: expected an object";
  const kpis: NoiseProfile["kpis"] = {};
  for (const [name, value] of Object.entries(doc.kpis)) {
    if (!(KPI_NAMES as readonly string[]).includes(name)) return `kpis.${name}: not a KPI`;
    if (typeof value !== "number" || !(value >= 0) || !Number.isFinite(value)) return `kpis.${name}: expected a number ≥ 0`;
    kpis[name as KpiName] = value;
  }
  return { version: 1, workload, at: doc.at, mode: doc.mode, roundMs: doc.roundMs, blocks: doc.blocks, kpis };
}
