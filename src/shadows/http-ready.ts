/**
 * Readiness of a shadow on host networking: poll http://127.0.0.1:<port><path> until it answers
 * 2xx. Testcontainers' `Wait.forHttp` waits for mapped ports, which host networking does not have;
 * `AbstractWaitStrategy` is not exported, so this implements the `WaitStrategy` interface.
 */
import http from "node:http";
import type { WaitStrategy } from "testcontainers";
import { containerLogTail, type Dockerode } from "./docker.js";

type WaitContainer = Parameters<WaitStrategy["waitUntilReady"]>[0];

export interface HttpReadyOptions {
  name: string;
  port: number;
  path: string;
  timeoutMs: number;
  /** aborts the wait (the runtime is shutting down) */
  signal?: AbortSignal;
  /** reads the container's log tail for the error message */
  docker?: Dockerode;
  /** called once with the time from the start of the wait to the first 2xx */
  onReady?: (elapsedMs: number) => void;
}

/** Resolves after `ms`, or at once when `signal` fires. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** One GET; resolves with the status code, rejects with the connection error (or the abort). */
function probe(url: string, timeoutMs: number, signal?: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs, ...(signal ? { signal } : {}) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

export class HttpReadyWaitStrategy implements WaitStrategy {
  private timeoutMs: number;
  private timeoutSet = false;

  constructor(private readonly options: HttpReadyOptions) {
    this.timeoutMs = options.timeoutMs;
  }

  get url(): string {
    return `http://127.0.0.1:${this.options.port}${this.options.path}`;
  }

  withStartupTimeout(startupTimeoutMs: number): WaitStrategy {
    this.timeoutMs = startupTimeoutMs;
    this.timeoutSet = true;
    return this;
  }

  isStartupTimeoutSet(): boolean {
    return this.timeoutSet;
  }

  getStartupTimeout(): number {
    return this.timeoutMs;
  }

  async waitUntilReady(container: WaitContainer): Promise<void> {
    const { name, signal } = this.options;
    const started = performance.now();
    const deadline = started + this.timeoutMs;
    let lastError = "no attempt made";
    let lastStateCheck = 0;
    let interval = 25;
    const checkAborted = (): void => {
      if (signal?.aborted) {
        const reason: unknown = signal.reason;
        throw new Error(`shadow ${name}: start aborted (${reason instanceof Error ? reason.message : String(reason ?? "runtime shutting down")})`, {
          cause: reason,
        });
      }
    };
    for (;;) {
      checkAborted();
      const remaining = deadline - performance.now();
      if (remaining <= 0) break;
      try {
        // the probe and the pause below end at once when the signal fires
        const status = await probe(this.url, Math.max(50, Math.min(2000, remaining)), signal);
        if (status >= 200 && status < 300) {
          this.options.onReady?.(performance.now() - started);
          return;
        }
        lastError = `HTTP ${status}`;
      } catch (error) {
        checkAborted();
        lastError = error instanceof Error ? error.message : String(error);
      }
      // A container that has exited will never become ready: say so at once.
      if (performance.now() - lastStateCheck > 250) {
        lastStateCheck = performance.now();
        const state = await container.inspect().then(
          (info) => info.State,
          () => undefined,
        );
        if (state && !state.Running && !state.Restarting) {
          lastError = `container ${state.Status} with exit code ${state.ExitCode}${state.OOMKilled ? " (OOM-killed)" : ""}${state.Error ? `: ${state.Error}` : ""}`;
          break;
        }
      }
      await sleep(Math.min(interval, Math.max(0, deadline - performance.now())), signal);
      interval = Math.min(200, interval * 1.5);
    }
    const elapsed = Math.round(performance.now() - started);
    let message = `shadow ${name} not ready at ${this.url} after ${elapsed} ms: ${lastError}`;
    if (this.options.docker) {
      const logs = await containerLogTail(this.options.docker, container.id, 20);
      message += logs ? `\nlast log lines of container ${container.id.slice(0, 12)}:\n${logs}` : `\n(container ${container.id.slice(0, 12)} wrote no log lines)`;
    }
    throw new Error(message);
  }
}
