/**
 * The load level as a model feature (foresight). A run with `traffic.levels` measures each
 * configuration at several multiples of today's traffic; the model then learns each KPI over
 * the parameters *and* the level, through one more column: a log-scale pseudo-parameter that
 * the search never varies and no shadow is configured with. Everything that wants today's
 * answer (the recommendation, the sweep) sees the model pinned at level 1.
 */
import type { Configuration, History, ParameterCatalog, ParameterSpec, PredictiveModel } from "../core/types.js";

/** The column's name: not a valid parameter name in a config, so it cannot clash with one. */
export const LOAD_FEATURE = "~load";

/** The level a trial was measured at (absent: today's, 1). */
export function loadOf(trial: { load?: number | undefined }): number {
  return trial.load ?? 1;
}

/**
 * The catalog the model is trained and read with: the parameters, plus the load column when
 * the history holds a trial at another level than 1 (else exactly the parameters, so a
 * history without levels keeps its model).
 */
export function modelCatalog(catalog: ParameterCatalog, history: History, levels: readonly number[] = [1]): ParameterCatalog {
  const measured = history.trials.map(loadOf);
  if (!measured.some((level) => level !== 1)) return catalog;
  const all = [...measured, ...levels];
  const spec: ParameterSpec = { name: LOAD_FEATURE, type: "float", min: Math.min(...all), max: Math.max(...all), scale: "log", apply: { kind: "env", name: "SHADOWGATE_LOAD_LEVEL" } };
  return [...catalog, spec];
}

/** Whether a model catalog has the load column (modelCatalog added it). */
export function hasLoadColumn(catalog: ParameterCatalog): boolean {
  return catalog.some((p) => p.name === LOAD_FEATURE);
}

/** The history as the model reads it: each trial's configuration carries its load level. */
export function withLoadColumn(history: History): History {
  return { ...history, trials: history.trials.map((trial) => ({ ...trial, config: { ...trial.config, [LOAD_FEATURE]: loadOf(trial) } })) };
}

/**
 * The model pinned at one load level: configurations without the column predict at `level`.
 * A model trained without the column is returned as it is (it only knows level 1).
 */
export function atLoad<M extends PredictiveModel>(model: M, catalog: ParameterCatalog, level: number): M {
  if (!hasLoadColumn(catalog)) return model;
  const pinned = Object.create(model) as M;
  Object.defineProperty(pinned, "predict", {
    value: (configs: Configuration[], options?: Parameters<M["predict"]>[1]) => model.predict(configs.map((c) => ({ [LOAD_FEATURE]: level, ...c })), options),
  });
  return pinned;
}
