/**
 * What is kept of a workload's model between runs, beside the history (docs/adr/003): not
 * the forests (retraining them from the history takes well under the cost of storing them,
 * see the ADR's numbers) but what was expensive to find — the hyper-parameters cross-
 * validation chose per KPI, the interval calibration and the errors. A compatible stored
 * model lets the next run skip the search while the history has not grown much; anything
 * else (corrupted, another version, another feature encoding) is ignored with a warning and
 * the model is rebuilt from the history.
 */
import { z } from "zod";
import { KPI_NAMES } from "../core/types.js";
import type { ForestModel } from "./forest.js";

export const STORED_MODEL_KIND = "shadowgate-model";
export const STORED_MODEL_VERSION = 1;
/** Reuse the stored hyper-parameters until the history has grown by this share since they were chosen. */
export const RETUNE_GROWTH = 0.25;

const kpi = z.enum(KPI_NAMES);
const chosen = z.object({
  mtry: z.number().gt(0).max(1),
  minLeaf: z.number().int().min(1),
  maxDepth: z.number().int().min(1).nullable(),
  bootstrap: z.boolean(),
  sampleFraction: z.number().gt(0).max(1),
  trend: z.enum(["none", "ridge"]),
  trendWeight: z.number().min(0).max(1),
});

export const storedModelSchema = z.object({
  kind: z.literal(STORED_MODEL_KIND),
  version: z.literal(STORED_MODEL_VERSION),
  featureVersion: z.number().int(),
  features: z.array(z.string()),
  engine: z.enum(["native", "ml-random-forest"]),
  /** history trials when the hyper-parameters were chosen */
  tunedAtTrials: z.number().int().min(0),
  historyTrials: z.number().int().min(0),
  savedAt: z.string(),
  params: z.partialRecord(kpi, chosen),
  cvError: z.partialRecord(kpi, z.number()),
  intervalScale: z.partialRecord(kpi, z.number()),
});
export type StoredModel = z.output<typeof storedModelSchema>;

/** The stored model, or why it cannot be used with this encoding and engine. */
export function parseStoredModel(json: unknown, expected: { featureVersion: number; features: readonly string[]; engine: string }): StoredModel | string {
  const parsed = storedModelSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return `${issue.path.join(".") || "document"}: ${issue.message}`;
  }
  const model = parsed.data;
  if (model.featureVersion !== expected.featureVersion) return `feature encoding version ${model.featureVersion}, expected ${expected.featureVersion}`;
  if (model.features.join("\n") !== expected.features.join("\n")) return `trained on features ${model.features.join(", ")}, the catalog now gives ${expected.features.join(", ")}`;
  if (model.engine !== expected.engine) return `trained with the ${model.engine} engine, configured ${expected.engine}`;
  return model;
}

/** Keep the stored hyper-parameters, or search again (the history grew past RETUNE_GROWTH). */
export function shouldRetune(stored: StoredModel, historyTrials: number): boolean {
  return historyTrials > stored.tunedAtTrials * (1 + RETUNE_GROWTH) || historyTrials < stored.tunedAtTrials;
}

export function toStoredModel(model: ForestModel, historyTrials: number, tunedAtTrials: number, now: Date): StoredModel {
  const summary = model.toJSON() as ReturnType<ForestModel["toJSON"]>;
  return {
    kind: STORED_MODEL_KIND,
    version: STORED_MODEL_VERSION,
    featureVersion: summary.featureVersion,
    features: [...summary.features],
    engine: summary.engine,
    tunedAtTrials,
    historyTrials,
    savedAt: now.toISOString(),
    params: summary.params,
    cvError: summary.cvError,
    intervalScale: summary.intervalScale,
  };
}
