/**
 * Tables of measured configurations for the model benchmark (`shadowgate bench-model`):
 * a CSV with a header row, every column but the last a configuration option, the last the
 * measured performance. Reading validates everything the protocol relies on and fails with
 * one line that names the file, the line, the column and what was expected.
 */
import { readFile } from "node:fs/promises";
import { whyUnreadable } from "../core/errors.js";

/** Bad benchmark input: the message is one line, starting with the file name. */
export class PerfDataError extends Error {
  override name = "PerfDataError";
}

/** One CSV record: its cells and the (1-based) line it starts on. */
export interface CsvRecord {
  line: number;
  cells: string[];
}

/** A validated table: `X` the options (one row per configuration), `y` the target. */
export interface PerfData {
  /** the file as given (used in messages) */
  file: string;
  /** the option columns' names, in order */
  options: string[];
  /** the target column's name */
  target: string;
  X: number[][];
  y: number[];
}

/**
 * RFC 4180 CSV: comma-separated, `"` quotes (with `""` inside), CRLF or LF line ends, a
 * leading BOM ignored. Blank lines are skipped. Throws (message without the file name) on
 * a quote left open or text right after a closing quote.
 */
export function parseCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < text.length) {
    const start = line;
    const cells: string[] = [];
    let cell = "";
    let quotedCell = false;
    let blank = true;
    for (;;) {
      const ch = text[i];
      if (ch === undefined || ch === "\n" || ch === "\r") {
        cells.push(cell);
        if (ch === "\r" && text[i + 1] === "\n") i++;
        if (ch !== undefined) {
          i++;
          line++;
        }
        break;
      }
      blank = false;
      if (ch === '"' && cell === "" && !quotedCell) {
        // a quoted cell: up to the closing quote, which must end the cell
        quotedCell = true;
        i++;
        for (;;) {
          const q = text[i];
          if (q === undefined) throw new Error(`${start}: a quoted cell is never closed`);
          if (q === '"') {
            if (text[i + 1] === '"') {
              cell += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (q === "\n") line++;
          cell += q;
          i++;
        }
        const after = text[i];
        if (after !== undefined && after !== "," && after !== "\n" && after !== "\r") throw new Error(`${line}: unexpected text after a closing quote`);
        continue;
      }
      if (ch === ",") {
        cells.push(cell);
        cell = "";
        quotedCell = false;
      } else {
        cell += ch;
      }
      i++;
    }
    if (!blank) records.push({ line: start, cells });
  }
  return records;
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A decimal number (`12`, `-0.5`, `1e3`; surrounding spaces allowed), else undefined. */
export function parseNumber(text: string): number | undefined {
  const trimmed = text.trim();
  if (!NUMBER.test(trimmed)) return undefined;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : undefined;
}

/** Show a cell in a message: quoted, and cut when long. */
function showCell(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/** Parse and validate the text of a benchmark CSV; `file` names it in the errors. */
export function parsePerfData(text: string, file: string): PerfData {
  let records: CsvRecord[];
  try {
    records = parseCsv(text);
  } catch (error) {
    throw new PerfDataError(`${file}:${(error as Error).message}`);
  }
  const header = records[0];
  if (header === undefined) throw new PerfDataError(`${file}: empty file: expected a header row (options…, target) and rows of numbers`);
  const names = header.cells.map((name) => name.trim());
  if (names.length < 2) throw new PerfDataError(`${file}:${header.line}: expected a header with at least 2 columns (options…, target), got ${names.length}`);
  names.forEach((name, column) => {
    if (name === "") throw new PerfDataError(`${file}:${header.line}: column ${column + 1} of the header has no name`);
    if (parseNumber(name) !== undefined)
      throw new PerfDataError(`${file}:${header.line}: expected a header row of column names as the first line, got the number ${showCell(name)} in column ${column + 1}`);
  });
  const rows = records.slice(1);
  if (rows.length === 0) throw new PerfDataError(`${file}: no data rows after the header`);

  const target = names[names.length - 1]!;
  const X: number[][] = [];
  const y: number[] = [];
  for (const record of rows) {
    if (record.cells.length !== names.length)
      throw new PerfDataError(`${file}:${record.line}: expected ${names.length} cells like the header, got ${record.cells.length}`);
    const values = record.cells.map((cell, column) => {
      const value = parseNumber(cell);
      if (value === undefined) throw new PerfDataError(`${file}:${record.line}: column "${names[column]}": expected a number, got ${showCell(cell)}`);
      return value;
    });
    const last = values.pop()!;
    if (last === 0)
      throw new PerfDataError(`${file}:${record.line}: column "${target}" (the target): expected a non-zero performance value (the relative error divides by it), got ${showCell(record.cells[names.length - 1]!.trim())}`);
    X.push(values);
    y.push(last);
  }
  if (y.every((value) => value === y[0]))
    throw new PerfDataError(`${file}: column "${target}" (the target) is constant (${y[0]} on all ${y.length} rows): nothing to learn, expected measurements that vary`);
  return { file, options: names.slice(0, -1), target, X, y };
}

/** Read and validate a benchmark CSV. */
export async function readPerfData(file: string): Promise<PerfData> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const why = whyUnreadable(error);
    throw new PerfDataError(`${file}: cannot read the data file: ${why}`);
  }
  return parsePerfData(text, file);
}

/**
 * An option column as a numeric parameter: a name a catalog accepts (letters, digits, _ . -,
 * not starting with a digit) and its observed range (widened by 1 when the column is constant).
 */
export function optionParameter(data: PerfData, column: number): { name: string; values: number[]; min: number; max: number } {
  const cleaned = data.options[column]!.replace(/[^A-Za-z0-9_.-]/g, "_");
  const name = /^[A-Za-z_]/.test(cleaned) ? cleaned : `o${column}_${cleaned}`;
  const values = data.X.map((row) => row[column]!);
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { name, values, min, max: max > min ? max : min + 1 };
}
