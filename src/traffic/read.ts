/** Reads a recorded-traffic file and imports it in the configured (or detected) format. */
import { readFile } from "node:fs/promises";
import { importHar, TrafficError, type ImportResult } from "./har.js";

export async function readTraffic(file: string, format: "auto" | "har"): Promise<ImportResult> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new TrafficError(`${file}: cannot read the recorded traffic: ${code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : String(error)}`);
  }
  const detected = format === "auto" ? detectFormat(text) : format;
  if (detected !== "har") {
    throw new TrafficError(`${file}: unrecognised traffic format: expected a HAR 1.2 file (JSON with log.entries)`);
  }
  return importHar(text, file);
}

function detectFormat(text: string): "har" | undefined {
  const start = text.replace(/^\uFEFF/, "").trimStart();
  return start.startsWith("{") ? "har" : undefined;
}
