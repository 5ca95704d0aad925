/** Small helpers shared by adapters and the core for wording failures. */
import type { Logger } from "./ports.js";

/** The message of anything thrown, without a stack. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A logger that drops everything, for adapters used without one. */
export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, debug: () => undefined };

/** The run was stopped by a signal; the exit code follows the shell convention 128 + n. */
export class InterruptedError extends Error {
  override name = "InterruptedError";
  constructor(readonly signal: NodeJS.Signals) {
    super(`run interrupted by ${signal}; shadows stopped`);
  }
  get exitCode(): number {
    return 128 + (SIGNAL_NUMBERS[this.signal] ?? 15);
  }
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15 };
