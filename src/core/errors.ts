/** Small helpers shared by adapters and the core for wording failures. */
import type { Logger } from "./ports.js";

/** The message of anything thrown, without a stack. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Why a file could not be read, in words (the usual error codes), else the error's message. */
export function whyUnreadable(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : errorText(error);
}

/** A logger that drops everything, for adapters used without one. */
export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, debug: () => undefined };

/** Why an aborted operation stopped: the signal's reason when it is an Error, else `fallback`. */
export function abortReason(signal: AbortSignal, fallback: string): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error(fallback);
}

/** The signals that stop a run, with the shell's exit code for each (128 + n). */
export const STOP_SIGNAL_EXIT_CODES: Readonly<Partial<Record<NodeJS.Signals, number>>> = {
  SIGHUP: 129,
  SIGINT: 130,
  SIGQUIT: 131,
  SIGTERM: 143,
};

/** The run was stopped by a signal. */
export class InterruptedError extends Error {
  override name = "InterruptedError";
  constructor(readonly signal: NodeJS.Signals) {
    super(`run interrupted by ${signal}; shadows stopped`);
  }
  get exitCode(): number {
    return STOP_SIGNAL_EXIT_CODES[this.signal] ?? 143;
  }
}
