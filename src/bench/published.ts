/**
 * The published MRE of other learners on the shared performance datasets
 * (`published_mre.csv`: DeepPerf ICSE'19 means, DaL FSE'23 medians), as typed rows, so the
 * benchmark can print ours beside theirs.
 */
import { readFile } from "node:fs/promises";
import { PerfDataError, parseCsv, parseNumber } from "./perf-data.js";
import { whyUnreadable } from "../core/errors.js";

export type Statistic = "mean" | "median";

export interface PublishedMre {
  /** the dataset, e.g. "x264" (the CSV's name without `.csv`) */
  system: string;
  /** training sample size N */
  nTrain: number;
  /** the paper's label of the size, e.g. "1n" or "S1" */
  sizeLabel: string;
  /** e.g. "RF", "DeepPerf", "DaL", "DT(CART)", "DECART" */
  method: string;
  statistic: Statistic;
  /** MRE in percent */
  mrePercent: number;
  /** the spread the paper gives (see spreadKind), if any */
  spread: number | undefined;
  /** e.g. "IQR" or "margin95" */
  spreadKind: string;
  nRuns: number;
  source: string;
}

const COLUMNS = ["system", "n_train", "size_label", "method", "statistic", "MRE_percent", "spread", "spread_kind", "n_runs", "source"] as const;

export function parsePublished(text: string, file: string): PublishedMre[] {
  let records;
  try {
    records = parseCsv(text);
  } catch (error) {
    throw new PerfDataError(`${file}:${(error as Error).message}`);
  }
  const header = records[0];
  if (header === undefined) throw new PerfDataError(`${file}: empty file`);
  const index = new Map(header.cells.map((name, i) => [name.trim(), i]));
  for (const column of COLUMNS) if (!index.has(column)) throw new PerfDataError(`${file}:${header.line}: missing column "${column}"`);
  return records.slice(1).map((record) => {
    const cell = (column: (typeof COLUMNS)[number]) => (record.cells[index.get(column)!] ?? "").trim();
    const number = (column: (typeof COLUMNS)[number], optional = false): number | undefined => {
      const text = cell(column);
      if (optional && text === "") return undefined;
      const value = parseNumber(text);
      if (value === undefined) throw new PerfDataError(`${file}:${record.line}: column "${column}": expected a number, got ${JSON.stringify(text)}`);
      return value;
    };
    const statistic = cell("statistic");
    if (statistic !== "mean" && statistic !== "median")
      throw new PerfDataError(`${file}:${record.line}: column "statistic": expected mean or median, got ${JSON.stringify(statistic)}`);
    return {
      system: cell("system"),
      nTrain: number("n_train")!,
      sizeLabel: cell("size_label"),
      method: cell("method"),
      statistic,
      mrePercent: number("MRE_percent")!,
      spread: number("spread", true),
      spreadKind: cell("spread_kind"),
      nRuns: number("n_runs")!,
      source: cell("source"),
    };
  });
}

export async function readPublished(file: string): Promise<PublishedMre[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new PerfDataError(`${file}: cannot read the published results: ${whyUnreadable(error)}`);
  }
  return parsePublished(text, file);
}

/** The published MRE (percent) of `method` on `system` at size `n`, if the table has it. */
export function publishedMre(rows: readonly PublishedMre[], query: { system: string; n: number; method: string; statistic: Statistic }): number | undefined {
  return rows.find((r) => r.system === query.system && r.nTrain === query.n && r.method === query.method && r.statistic === query.statistic)?.mrePercent;
}

/** The systems in the table and, per system, its sample sizes (ascending). */
export function publishedSizes(rows: readonly PublishedMre[]): Map<string, number[]> {
  const sizes = new Map<string, Set<number>>();
  for (const row of rows) {
    const set = sizes.get(row.system) ?? new Set<number>();
    set.add(row.nTrain);
    sizes.set(row.system, set);
  }
  return new Map([...sizes].map(([system, set]) => [system, [...set].sort((a, b) => a - b)]));
}
