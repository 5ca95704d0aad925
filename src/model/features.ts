/**
 * Feature encoding of configurations for the model, derived from the catalog alone so that
 * training and prediction encode identically:
 *
 * - int/float: the value, or log10(value) where the parameter's scale is log;
 * - bool: 0 or 1;
 * - enum: one-hot, one column per value.
 *
 * `FEATURE_VERSION` changes whenever this encoding changes; anything stored with encoded
 * features (nothing today: the model is retrained from history each run) must check it.
 */
import type { Configuration, ParamValue, ParameterCatalog, ParameterSpec } from "../core/types.js";

export const FEATURE_VERSION = 1;

/** A configuration the encoder cannot encode; the message names the parameter. */
export class FeatureError extends Error {
  override readonly name = "FeatureError";
}

export interface FeatureEncoder {
  readonly version: number;
  /** column names, e.g. "POOL_SIZE:log10", "CACHE_MODE=lru", "GZIP" */
  readonly names: readonly string[];
  /** the columns of each catalog parameter, in catalog order */
  readonly parameters: readonly { name: string; offset: number; width: number }[];
  /** one row of features; throws a FeatureError for a missing or invalid value */
  encode(config: Configuration): number[];
  /** why a configuration cannot be encoded, or undefined when it can */
  problem(config: Configuration): string | undefined;
  /**
   * The same row scaled to about [0, 1] per parameter (numeric by its range, log where log;
   * one-hot by 1/sqrt(2) so a different enum value is at distance 1): for distances.
   */
  normalize(features: readonly number[]): number[];
  /** the configuration a feature row encodes (ints rounded, enums by the largest column) */
  decode(features: readonly number[]): Configuration;
}

interface Column {
  spec: ParameterSpec;
  /** first column of this parameter */
  offset: number;
  width: number;
}

function numericValue(spec: ParameterSpec, value: ParamValue | undefined): number {
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
  if (!Number.isFinite(n)) throw new FeatureError(`${spec.name}: expected a number, got ${JSON.stringify(value)}`);
  if (spec.type !== "bool" && spec.type !== "enum" && spec.scale === "log" && n <= 0) {
    throw new FeatureError(`${spec.name}: log-scale parameter needs a value > 0, got ${n}`);
  }
  return n;
}

/** The feature encoder of a catalog. */
export function featureEncoder(catalog: ParameterCatalog): FeatureEncoder {
  const columns: Column[] = [];
  const names: string[] = [];
  for (const spec of catalog) {
    const offset = names.length;
    if (spec.type === "enum") {
      for (const v of spec.values) names.push(`${spec.name}=${v}`);
    } else if (spec.type === "bool") {
      names.push(spec.name);
    } else {
      names.push(spec.scale === "log" ? `${spec.name}:log10` : spec.name);
    }
    columns.push({ spec, offset, width: names.length - offset });
  }

  const encode = (config: Configuration): number[] => {
    const row = new Array<number>(names.length).fill(0);
    for (const { spec, offset } of columns) {
      const value = config[spec.name];
      if (value === undefined) throw new FeatureError(`${spec.name}: missing from the configuration`);
      if (spec.type === "enum") {
        const i = spec.values.indexOf(String(value));
        if (i < 0) {
          throw new FeatureError(`${spec.name}: expected one of ${spec.values.join(", ")}, got ${JSON.stringify(value)}`);
        }
        row[offset + i] = 1;
      } else if (spec.type === "bool") {
        if (value === true || value === "true") row[offset] = 1;
        else if (value === false || value === "false") row[offset] = 0;
        else throw new FeatureError(`${spec.name}: expected true or false, got ${JSON.stringify(value)}`);
      } else {
        const n = numericValue(spec, value);
        row[offset] = spec.scale === "log" ? Math.log10(n) : n;
      }
    }
    return row;
  };

  // per column: features are normalised as (value − lo) × factor
  const lows = new Float64Array(names.length);
  const factors = new Float64Array(names.length);
  for (const { spec, offset, width } of columns) {
    if (spec.type === "enum") {
      for (let k = 0; k < width; k++) factors[offset + k] = Math.SQRT1_2;
    } else if (spec.type === "bool") {
      factors[offset] = 1;
    } else {
      const lo = spec.scale === "log" ? Math.log10(spec.min) : spec.min;
      const hi = spec.scale === "log" ? Math.log10(spec.max) : spec.max;
      lows[offset] = lo;
      factors[offset] = hi > lo ? 1 / (hi - lo) : 0;
    }
  }

  const normalize = (features: readonly number[]): number[] => {
    const out = new Array<number>(names.length);
    for (let k = 0; k < names.length; k++) out[k] = ((features[k] ?? lows[k]!) - lows[k]!) * factors[k]!;
    return out;
  };

  const decodeRow = (features: readonly number[]): Configuration => {
    const config: Configuration = {};
    for (const { spec, offset, width } of columns) {
      if (spec.type === "enum") {
        let best = 0;
        for (let k = 1; k < width; k++) if ((features[offset + k] ?? 0) > (features[offset + best] ?? 0)) best = k;
        config[spec.name] = spec.values[best] as string;
      } else if (spec.type === "bool") {
        config[spec.name] = (features[offset] ?? 0) >= 0.5;
      } else {
        const x = features[offset] ?? 0;
        const v = spec.scale === "log" ? 10 ** x : x;
        config[spec.name] = spec.type === "int" ? Math.round(v) : v;
      }
    }
    return config;
  };

  return {
    version: FEATURE_VERSION,
    names,
    parameters: columns.map(({ spec, offset, width }) => ({ name: spec.name, offset, width })),
    encode,
    problem(config) {
      try {
        encode(config);
        return undefined;
      } catch (error) {
        if (error instanceof FeatureError) return error.message;
        throw error;
      }
    },
    normalize,
    decode: decodeRow,
  };
}
