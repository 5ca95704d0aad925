/** Lines of a text file, streamed (bounded memory), gunzipped on the way when the name ends in .gz. */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { createGunzip } from "node:zlib";
import type { Readable } from "node:stream";
import { TrafficError } from "./har.js";

export async function* readLines(file: string): AsyncGenerator<string> {
  const raw = createReadStream(file);
  const failed = new Promise<never>((_, reject) => raw.once("error", reject));
  failed.catch(() => undefined);
  let input: Readable = raw;
  if (file.endsWith(".gz")) input = raw.pipe(createGunzip());
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    let first = true;
    for await (const line of lines) {
      // a UTF-8 byte-order mark belongs to no record
      yield first && line.charCodeAt(0) === 0xfeff ? line.slice(1) : line;
      first = false;
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new TrafficError(`${file}: cannot read the recorded traffic: ${code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (error as Error).message}`);
  } finally {
    lines.close();
    raw.destroy();
  }
}
