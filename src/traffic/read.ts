/**
 * Reads a recorded-traffic file (or a folder of chunk files, in name order) and imports it in
 * the configured format, or the one its first lines show: HAR, JSON Lines, GoReplay, or an
 * access log. Every importer streams its input; `readTraffic` collects the requests (HAR,
 * JSON Lines and GoReplay ordered by time, an access log as written), `streamTraffic` hands
 * them on one at a time in file order. The sampler draws by iteration order, so on a
 * recording that is not in time order the two can sample differently for one seed; runs use
 * `streamTraffic`.
 */
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { importHar, streamHar, TrafficError, type ImportOptions, type ImportResult, type ImportStream } from "./har.js";
import { importJsonl, streamJsonl } from "./jsonl.js";
import { ACCESS_LOG_LINE, importAccessLog, streamAccessLog } from "./access-log.js";
import { importGoReplay, streamGoReplay } from "./goreplay.js";
import { readHeadLines } from "./lines.js";
import { whyUnreadable } from "../core/errors.js";

export const TRAFFIC_FORMATS = ["har", "jsonl", "goreplay", "access-log"] as const;
export type TrafficFormat = (typeof TRAFFIC_FORMATS)[number];

/** `options` apply to every format (which response bodies to keep). */
export async function readTraffic(file: string, format: "auto" | TrafficFormat, options: ImportOptions = {}): Promise<ImportResult> {
  const { files, format: detected } = await resolveTraffic(file, format);
  switch (detected) {
    case "har":
      return importHar(files[0]!, options);
    case "jsonl":
      return importJsonl(files[0]!, options);
    case "access-log":
      return importAccessLog(files[0]!, options);
    case "goreplay":
      return importGoReplay(files, file, options);
  }
}

/**
 * The recording as a stream (see ImportStream): the requests one at a time in file order,
 * never collected, so a recording larger than memory can be sampled. Detection and folders
 * as readTraffic; a file that cannot be read, is not of the format or has no replayable
 * request throws from the iteration with readTraffic's error.
 */
export async function streamTraffic(file: string, format: "auto" | TrafficFormat, options: ImportOptions = {}): Promise<ImportStream> {
  const { files, format: detected } = await resolveTraffic(file, format);
  switch (detected) {
    case "har":
      return streamHar(files[0]!, options);
    case "jsonl":
      return streamJsonl(files[0]!, options);
    case "access-log":
      return streamAccessLog(files[0]!, options);
    case "goreplay":
      return streamGoReplay(files, file, options);
  }
}

/** The files to read and their format: the configured one, or the one the first file shows. */
async function resolveTraffic(file: string, format: "auto" | TrafficFormat): Promise<{ files: string[]; format: TrafficFormat }> {
  const files = await filesOf(file);
  const detected = format === "auto" ? await detectFormat(files[0]!) : format;
  if (detected === undefined) {
    throw new TrafficError(`${files[0]}: unrecognised traffic format: expected a HAR 1.2 file (JSON with log.entries), JSON Lines (one {"method", "url", …} per line), GoReplay (records of "1 id timestamp latency" + the raw request, separated by 🐵🙈🙉) or an access log (nginx/Apache combined); or set traffic.format`);
  }
  if (detected !== "goreplay" && files.length > 1) throw new TrafficError(`${file}: a folder of chunk files is read for GoReplay only; give one ${detected} file`);
  return { files, format: detected };
}

/** The file, or a folder's files in name order (GoReplay writes numbered chunks). */
async function filesOf(file: string): Promise<string[]> {
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
    throw new TrafficError(`${file}: cannot read the recorded traffic: ${whyUnreadable(error)}`);
  });
  if (!info.isDirectory()) return [file];
  // regular files only, in natural name order (requests_2 before requests_10)
  const names = (await readdir(file, { withFileTypes: true }))
    .filter((entry) => entry.isFile() && !entry.name.startsWith("."))
    .map((entry) => entry.name)
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  if (names.length === 0) throw new TrafficError(`${file}: the folder holds no recorded-traffic file`);
  return names.map((name) => path.join(file, name));
}

/**
 * The format the first non-empty lines show, if any (comment lines starting with # skipped).
 * Reads at most the first MiB of a line (a minified HAR is one line).
 */
export async function detectFormat(file: string): Promise<TrafficFormat | undefined> {
  const lines: string[] = [];
  for await (const line of readHeadLines(file)) {
    const text = line.trim();
    if (text !== "" && !text.startsWith("#")) lines.push(text);
    if (lines.length === 2) break;
  }
  const [first, second] = lines;
  if (first === undefined) return undefined;
  if (/^[123] \S+ \d+(?: -?\d+)?$/.test(first)) return "goreplay";
  if (first.startsWith("{")) {
    const object = (text: string | undefined): Record<string, unknown> | undefined => {
      try {
        const doc: unknown = JSON.parse(text ?? "");
        return doc !== null && typeof doc === "object" && !Array.isArray(doc) ? (doc as Record<string, unknown>) : undefined;
      } catch {
        return undefined;
      }
    };
    const request = (doc: Record<string, unknown> | undefined): boolean => doc !== undefined && ("method" in doc || "url" in doc);
    const doc = object(first);
    // a request on the first line, or on the second after a broken first record, is JSON
    // Lines; anything else that starts with "{" is read as a HAR (a minified one has "log"),
    // whose importer says what is missing
    if (request(doc) || (!doc && first.startsWith('{"') && request(object(second)))) return "jsonl";
    return "har";
  }
  if (ACCESS_LOG_LINE.test(first)) return "access-log";
  return undefined;
}
