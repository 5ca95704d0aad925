/**
 * The parameter space as a unit hypercube: one coordinate in [0, 1] per catalog parameter.
 *
 * - int/float, linear: uniform between min and max. Ints take equal slices of the unit
 *   interval (each integer is equally likely), so a design over [1, 4] with 4 points
 *   hits every integer once.
 * - int/float, log: uniform in log space between min and max (min must be > 0); ints are
 *   rounded to the nearest integer and clamped to [min, max].
 * - enum: k equal slices, one per value.
 * - bool: [0, 0.5) is false, [0.5, 1] is true.
 *
 * `encodeUnit` maps a configuration back to the centre of its slice (enum, bool, linear
 * int) or to its exact position (float, log int), so `decode(encodeUnit(c))` returns `c`
 * (floats up to rounding error; ints rounded and clamped first).
 */
import type { Configuration, ParamValue, ParameterCatalog, ParameterSpec } from "../core/types.js";

/** A configuration or point that does not fit the catalog; the message names the parameter. */
export class SpaceError extends Error {
  override readonly name = "SpaceError";
}

const clamp01 = (u: number): number => (Number.isFinite(u) ? Math.min(1, Math.max(0, u)) : 0.5);

/** Checks the catalog once, so decode/encode can trust it. Throws a SpaceError naming the parameter. */
export function checkCatalog(catalog: ParameterCatalog): void {
  const seen = new Set<string>();
  catalog.forEach((spec, i) => {
    const where = `catalog[${i}] (${spec.name})`;
    if (seen.has(spec.name)) throw new SpaceError(`${where}: duplicate parameter name`);
    seen.add(spec.name);
    if (spec.type === "int" || spec.type === "float") {
      if (!Number.isFinite(spec.min) || !Number.isFinite(spec.max) || spec.min > spec.max) {
        throw new SpaceError(`${where}: expected finite min <= max, got [${spec.min}, ${spec.max}]`);
      }
      if (spec.scale === "log" && spec.min <= 0) {
        throw new SpaceError(`${where}: log scale needs min > 0, got ${spec.min}`);
      }
      if (spec.type === "int" && Math.ceil(spec.min) > Math.floor(spec.max)) {
        throw new SpaceError(`${where}: no integer in [${spec.min}, ${spec.max}]`);
      }
    } else if (spec.type === "enum" && spec.values.length === 0) {
      throw new SpaceError(`${where}: enum needs at least one value`);
    }
  });
}

/** The value of one parameter at unit coordinate u. */
export function decodeValue(spec: ParameterSpec, u: number): ParamValue {
  const x = clamp01(u);
  switch (spec.type) {
    case "bool":
      return x >= 0.5;
    case "enum": {
      const k = spec.values.length;
      return spec.values[Math.min(k - 1, Math.floor(x * k))] as string;
    }
    case "int": {
      const lo = Math.ceil(spec.min);
      const hi = Math.floor(spec.max);
      if (spec.scale === "log") {
        const v = Math.round(Math.exp(Math.log(spec.min) + x * (Math.log(spec.max) - Math.log(spec.min))));
        return Math.min(hi, Math.max(lo, v));
      }
      // equal slices: each integer of [lo, hi] owns 1/(hi-lo+1) of the interval
      return Math.min(hi, lo + Math.floor(x * (hi - lo + 1)));
    }
    case "float": {
      if (spec.min === spec.max) return spec.min;
      const v = spec.scale === "log" ? Math.exp(Math.log(spec.min) + x * (Math.log(spec.max) - Math.log(spec.min))) : spec.min + x * (spec.max - spec.min);
      return Math.min(spec.max, Math.max(spec.min, v));
    }
  }
}

/**
 * Recommended floats keep 3 significant digits: cpus 2.92 is a value a person can apply
 * (2.922830266864854 is noise), and 1,000 levels per decade is finer than any measurement.
 */
export function roundFloat(value: number): number {
  return value === 0 ? 0 : Number(value.toPrecision(3));
}

/** The configuration with every float parameter rounded (see roundFloat), kept in range. */
export function roundFloats(catalog: ParameterCatalog, config: Configuration): Configuration {
  const rounded = { ...config };
  for (const spec of catalog) {
    const value = rounded[spec.name];
    if (spec.type === "float" && typeof value === "number") rounded[spec.name] = Math.min(spec.max, Math.max(spec.min, roundFloat(value)));
  }
  return rounded;
}

/** Reads a numeric parameter (numbers, or numeric strings as they arrive from env-like sources). */
function asNumber(spec: ParameterSpec, value: ParamValue | undefined): number {
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
  if (!Number.isFinite(n)) {
    throw new SpaceError(`${spec.name}: expected a number, got ${JSON.stringify(value)}`);
  }
  return n;
}

function asBool(spec: ParameterSpec, value: ParamValue | undefined): boolean {
  if (typeof value === "boolean") return value;
  if (value === "true") return true;
  if (value === "false") return false;
  throw new SpaceError(`${spec.name}: expected true or false, got ${JSON.stringify(value)}`);
}

/** The unit coordinate of one parameter's value (the centre of its slice for discrete values). */
export function encodeValue(spec: ParameterSpec, value: ParamValue | undefined): number {
  switch (spec.type) {
    case "bool":
      return asBool(spec, value) ? 0.75 : 0.25;
    case "enum": {
      const i = spec.values.indexOf(String(value));
      if (i < 0) {
        throw new SpaceError(`${spec.name}: expected one of ${spec.values.join(", ")}, got ${JSON.stringify(value)}`);
      }
      return (i + 0.5) / spec.values.length;
    }
    case "int":
    case "float": {
      let v = asNumber(spec, value);
      if (spec.type === "int") {
        const lo = Math.ceil(spec.min);
        const hi = Math.floor(spec.max);
        v = Math.min(hi, Math.max(lo, Math.round(v)));
        if (spec.scale === "linear") return (v - lo + 0.5) / (hi - lo + 1);
      }
      if (spec.min === spec.max) return 0.5;
      if (spec.scale === "log") {
        const c = Math.min(spec.max, Math.max(spec.min, v));
        return clamp01((Math.log(c) - Math.log(spec.min)) / (Math.log(spec.max) - Math.log(spec.min)));
      }
      return clamp01((v - spec.min) / (spec.max - spec.min));
    }
  }
}

/** The configuration at a point of the unit hypercube (one coordinate per catalog entry, in order). */
export function decode(catalog: ParameterCatalog, unitPoint: readonly number[]): Configuration {
  if (unitPoint.length !== catalog.length) {
    throw new SpaceError(`decode: expected ${catalog.length} coordinates, got ${unitPoint.length}`);
  }
  const config: Configuration = {};
  catalog.forEach((spec, i) => {
    config[spec.name] = decodeValue(spec, unitPoint[i] as number);
  });
  return config;
}

/** The unit-hypercube point of a configuration. Throws a SpaceError for a missing or invalid value. */
export function encodeUnit(catalog: ParameterCatalog, config: Configuration): number[] {
  return catalog.map((spec) => {
    if (!(spec.name in config)) throw new SpaceError(`${spec.name}: missing from the configuration`);
    return encodeValue(spec, config[spec.name]);
  });
}

/** A configuration snapped onto the catalog (ints rounded and clamped, strings parsed). */
export function normalizeConfig(catalog: ParameterCatalog, config: Configuration): Configuration {
  return { ...config, ...decode(catalog, encodeUnit(catalog, config)) };
}

/** A stable key of the catalog parameters of a configuration, for de-duplication. */
export function configKey(catalog: ParameterCatalog, config: Configuration): string {
  return JSON.stringify(catalog.map((spec) => config[spec.name] ?? null));
}

/** Whether two values of a parameter are the same (floats to a relative 1e-9). */
export function sameValue(a: ParamValue | undefined, b: ParamValue | undefined): boolean {
  if (typeof a === "number" && typeof b === "number") {
    return a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
  }
  return a === b;
}

/** Whether two configurations give every catalog parameter the same value. */
export function sameConfig(catalog: ParameterCatalog, a: Configuration, b: Configuration): boolean {
  return changedParams(catalog, a, b).length === 0;
}

/** Names of the catalog parameters whose values differ between two configurations. */
export function changedParams(catalog: readonly { name: string }[], from: Configuration, to: Configuration): string[] {
  return catalog.filter((spec) => !sameValue(from[spec.name], to[spec.name])).map((spec) => spec.name);
}
