/**
 * The predicted objective across the parameter that moves it most, the others held at the
 * recommended configuration: the data behind the report's chart ("what does this knob do?").
 */
import type { Configuration, KpiName, ParamValue, ParameterCatalog, ParameterSpec, PredictiveModel, Prediction } from "../core/types.js";
import { decodeValue, roundFloat, sameValue } from "../search/space.js";

export interface Sweep {
  parameter: string;
  kpi: KpiName;
  heldAt: "current" | "recommended";
  points: { value: ParamValue; predicted: Prediction }[];
}

/** Points per parameter; enough for a smooth line, few enough for a readable axis. */
const POINTS = 9;

export function sweepMostInfluential(input: {
  model: PredictiveModel;
  catalog: ParameterCatalog;
  base: Configuration;
  heldAt: Sweep["heldAt"];
  kpi: KpiName;
}): Sweep | null {
  const { model, catalog, base, kpi } = input;
  if (!model.kpis.includes(kpi)) return null;
  let best: { sweep: Sweep; range: number } | undefined;
  for (const spec of catalog) {
    const values = sweepValues(spec);
    if (values.length < 2) continue;
    const predictions = model.predict(values.map((value) => ({ ...base, [spec.name]: value })));
    const points = values.flatMap((value, i) => {
      const predicted = predictions[i]?.[kpi];
      return predicted ? [{ value, predicted: { mean: predicted.mean, sd: predicted.sd, lo: predicted.lo, hi: predicted.hi } }] : [];
    });
    if (points.length < 2) continue;
    const means = points.map((p) => p.predicted.mean);
    const range = Math.max(...means) - Math.min(...means);
    if (!best || range > best.range) best = { sweep: { parameter: spec.name, kpi, heldAt: input.heldAt, points }, range };
  }
  return best?.sweep ?? null;
}

/** Distinct values spread over the parameter's range (on its own scale). */
export function sweepValues(spec: ParameterSpec): ParamValue[] {
  if (spec.type === "enum") return [...spec.values];
  if (spec.type === "bool") return [false, true];
  const values: ParamValue[] = [];
  for (let i = 0; i < POINTS; i++) {
    const raw = decodeValue(spec, i / (POINTS - 1));
    const value = typeof raw === "number" && spec.type === "float" ? roundFloat(raw) : raw;
    if (!values.some((v) => sameValue(v, value))) values.push(value);
  }
  return values;
}
