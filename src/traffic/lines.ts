/** Lines of a text file, streamed (bounded memory), gunzipped on the way when the name ends in .gz. */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { createGunzip } from "node:zlib";
import type { Readable } from "node:stream";
import { TrafficError } from "./har.js";
import { whyUnreadable } from "../core/errors.js";

export function isGzip(file: string): boolean {
  return file.toLowerCase().endsWith(".gz");
}

/** A file's stream, gunzipped for .gz: a read error reaches the consumer (it never just stops). */
export function openTraffic(file: string): Readable {
  const source = createReadStream(file);
  if (!isGzip(file)) return source;
  const gunzip = createGunzip();
  source.on("error", (error) => gunzip.destroy(error));
  gunzip.on("close", () => source.destroy());
  return source.pipe(gunzip);
}

/** A file-level failure, naming the file. */
export function fileError(file: string, error: unknown): TrafficError {
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === "string" && code.startsWith("Z_")) {
    return new TrafficError(`${file}: cannot decompress the recorded traffic (not a valid gzip file?): ${(error as Error).message}`);
  }
  return new TrafficError(`${file}: cannot read the recorded traffic: ${whyUnreadable(error)}`);
}

export async function* readLines(file: string): AsyncGenerator<string> {
  // openTraffic passes a read error on to the stream readline reads, and readline's iterator
  // rejects on its input's errors: nothing to race per line
  const input = openTraffic(file);
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    let first = true;
    for await (const line of lines) {
      // a UTF-8 byte-order mark belongs to no record
      yield first && line.charCodeAt(0) === 0xfeff ? line.slice(1) : line;
      first = false;
    }
  } catch (error) {
    throw error instanceof TrafficError ? error : fileError(file, error);
  } finally {
    lines.close();
    input.destroy();
  }
}

/**
 * The first lines of a file, as readLines gives them, for a look at its format: a line longer
 * than `maxLineBytes` is cut there and ends the reading (a one-line HAR of 150 MB is never held
 * as one string). Lines end at LF (a CR before it dropped).
 */
export async function* readHeadLines(file: string, maxLineBytes = 1 << 20): AsyncGenerator<string> {
  const input = openTraffic(file);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let first = true;
  const text = (bytes: Buffer): string => {
    let line = bytes.toString("utf8");
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (first && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    first = false;
    return line;
  };
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      let start = 0;
      for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
        const piece = chunk.subarray(start, nl);
        yield text(pending.length > 0 ? Buffer.concat([...pending, piece]) : piece);
        pending = [];
        pendingBytes = 0;
        start = nl + 1;
      }
      if (start < chunk.length) {
        pending.push(chunk.subarray(start));
        pendingBytes += chunk.length - start;
      }
      if (pendingBytes >= maxLineBytes) {
        yield text(Buffer.concat(pending).subarray(0, maxLineBytes));
        return;
      }
    }
    if (pendingBytes > 0) yield text(Buffer.concat(pending));
  } catch (error) {
    throw error instanceof TrafficError ? error : fileError(file, error);
  } finally {
    input.destroy();
  }
}
