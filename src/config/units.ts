/**
 * Parsers for the human units the config file accepts. Each returns undefined on bad
 * input so the schema can word the error with the field's path.
 */

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "250ms", "8s", "2m", "1.5h" or a bare number of seconds → milliseconds. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  if (typeof value !== "string") return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * DURATION_UNITS[match[2] ?? "s"]!;
}

const MEMORY_UNITS: Record<string, number> = { k: 1 / 1024, m: 1, g: 1024, t: 1024 * 1024 };

/** "512m", "1g", "1GiB", "256Mi" or a bare number of MiB → MiB. */
export function parseMemoryMiB(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value > 0 ? value : undefined;
  if (typeof value !== "string") return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt])?(?:i?b?)?\s*$/i.exec(value);
  if (!match) return undefined;
  const mib = Number(match[1]) * MEMORY_UNITS[(match[2] ?? "m").toLowerCase()]!;
  return mib > 0 ? mib : undefined;
}

/** "5%" → 0.05, "0.05" → 0.05, 0.05 → 0.05. */
export function parseFraction(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value !== "string") return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(%)?\s*$/.exec(value);
  if (!match) return undefined;
  return match[2] ? Number(match[1]) / 100 : Number(match[1]);
}

/**
 * An SLO bound in the KPI's own unit: latency in ms ("200ms", "0.2s", 200), rates as
 * fractions ("1%", 0.01), everything else a plain number.
 */
export function parseKpiBound(kpi: string, value: unknown): number | undefined {
  if (kpi.startsWith("latency.")) {
    if (typeof value === "number") return value >= 0 ? value : undefined;
    const ms = parseDuration(value);
    // a bare string number means ms for latencies, like a bare YAML number
    if (typeof value === "string" && /^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value);
    return ms;
  }
  if (kpi.endsWith(".rate")) return parseFraction(value);
  if (typeof value === "number") return value;
  if (typeof value === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  return undefined;
}
