/**
 * History kept in a local folder (the CLI, the tests, and the Action's cached folder).
 * A corrupted or incompatible file is moved aside with a warning, never a crash, so
 * nothing is lost and the run goes on with an empty history.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type { HistoryStore, Logger } from "../core/ports.js";
import type { History } from "../core/types.js";
import { KPI_NAMES } from "../core/types.js";

export class LocalFolderStore implements HistoryStore {
  constructor(
    private readonly folder: string,
    private readonly logger: Logger,
  ) {}

  fileFor(workload: string): string {
    return path.join(this.folder, safeName(workload), "history.json");
  }

  async load(workload: string): Promise<History> {
    const file = this.fileFor(workload);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return emptyHistory(workload);
      throw new Error(`${file}: cannot read the history: ${(error as Error).message}`);
    }
    const problem = checkHistory(text, workload);
    if (typeof problem === "string") {
      const aside = await setAside(file);
      this.logger.warn(`${file}: ignored (${problem}); moved to ${aside}, starting with an empty history`);
      return emptyHistory(workload);
    }
    return problem;
  }

  async save(history: History): Promise<void> {
    await writeAtomically(this.fileFor(history.workload), serializeHistory(history));
  }

  modelFileFor(workload: string): string {
    return this.documentFile(workload, "model.json");
  }

  agentFileFor(workload: string): string {
    return this.documentFile(workload, "agent.json");
  }

  noiseFileFor(workload: string): string {
    return this.documentFile(workload, "noise.json");
  }

  /** The stored model as parsed JSON; unparsable files are moved aside with a warning. */
  async loadModel(workload: string): Promise<unknown> {
    return this.loadJson(this.modelFileFor(workload), "the stored model", "the model is rebuilt from the history");
  }

  async saveModel(workload: string, model: unknown): Promise<void> {
    await writeAtomically(this.modelFileFor(workload), JSON.stringify(model));
  }

  /** The search agent's stored state as parsed JSON; unparsable files are moved aside with a warning. */
  async loadAgent(workload: string): Promise<unknown> {
    return this.loadJson(this.agentFileFor(workload), "the search agent's state", "the agent starts afresh");
  }

  async saveAgent(workload: string, state: unknown): Promise<void> {
    await writeAtomically(this.agentFileFor(workload), JSON.stringify(state));
  }

  /** The runner's noise from the last A/A gate as parsed JSON; unparsable files are moved aside with a warning. */
  async loadNoise(workload: string): Promise<unknown> {
    return this.loadJson(this.noiseFileFor(workload), "the noise profile", "the gate judges its noise from its own pairs");
  }

  async saveNoise(workload: string, profile: unknown): Promise<void> {
    await writeAtomically(this.noiseFileFor(workload), JSON.stringify(profile));
  }

  /** A document kept beside the workload's history. */
  private documentFile(workload: string, name: string): string {
    return path.join(this.folder, safeName(workload), name);
  }

  /** A JSON file of the store, undefined when absent, unreadable or unparsable (the last moved aside). */
  private async loadJson(file: string, what: string, consequence: string): Promise<unknown> {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      this.logger.warn(`${file}: cannot read ${what} (${(error as Error).message}); ${consequence}`);
      return undefined;
    }
    try {
      return JSON.parse(text);
    } catch {
      const aside = await setAside(file);
      this.logger.warn(`${file}: not valid JSON; moved to ${aside}, ${consequence}`);
      return undefined;
    }
  }
}

/** Write then rename: a crash mid-write never leaves a truncated file. */
async function writeAtomically(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, text);
  await rename(temp, file);
}

/** Set-aside files kept for inspection; the store folder is cached, so older ones are removed. */
const KEEP_SET_ASIDE = 2;

/** Move an unusable file aside (kept for inspection), pruning older set-aside copies. */
async function setAside(file: string): Promise<string> {
  const aside = `${file}.unreadable-${new Date().toISOString().replace(/[:.]/g, "-")}-${randomBytes(3).toString("hex")}`;
  await rename(file, aside);
  await pruneSetAside(file, KEEP_SET_ASIDE);
  return aside;
}

async function pruneSetAside(file: string, keep: number): Promise<void> {
  const prefix = `${path.basename(file)}.unreadable-`;
  const names = (await readdir(path.dirname(file))).filter((name) => name.startsWith(prefix)).sort();
  // names carry an ISO timestamp, so sorting puts the oldest first
  for (const name of names.slice(0, Math.max(0, names.length - keep))) await rm(path.join(path.dirname(file), name), { force: true });
}

/** The history as stored: JSON with 6 significant digits (far below any measurement's spread, and a fifth fewer bytes). */
export function serializeHistory(history: History): string {
  return JSON.stringify(history, (_key, value) => (typeof value === "number" && !Number.isInteger(value) ? Number(value.toPrecision(6)) : value));
}

export function emptyHistory(workload: string): History {
  return { version: 1, workload, trials: [] };
}

/** The parsed history, or why it cannot be used. */
export function checkHistory(text: string, workload: string): History | string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return "not valid JSON";
  }
  const history = doc as Partial<History> | null;
  if (!history || typeof history !== "object") return "not a history object";
  if (history.version !== 1) return `schema version ${JSON.stringify(history.version)}, expected 1`;
  if (history.workload !== workload) return `history of workload ${JSON.stringify(history.workload)}, expected ${JSON.stringify(workload)}`;
  if (!Array.isArray(history.trials)) return "trials is not a list";
  for (const [i, trial] of history.trials.entries()) {
    if (!trial || typeof trial.runId !== "string" || typeof trial.config !== "object" || typeof trial.kpis !== "object") {
      return `trials[${i}] is malformed`;
    }
    for (const kpi of KPI_NAMES) {
      if (typeof trial.kpis[kpi] !== "number") return `trials[${i}].kpis.${kpi} is missing`;
    }
  }
  return history as History;
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, "_");
}
