/**
 * Child process for the SIGTERM test (test/integration/shadows.test.ts): starts two shadows
 * through the runtime with installSignalCleanup, prints "ready <ids>", then waits to be signalled.
 * argv: <runId> <image>
 */
import { TestcontainersRuntime, findFreePort, installSignalCleanup } from "../../../src/shadows/testcontainers-runtime.js";

const [runId, image] = process.argv.slice(2);
if (!runId || !image) {
  console.error("usage: shadows-signal-child <runId> <image>");
  process.exit(2);
}
const logger = { info: (m: string) => console.error(`info: ${m}`), warn: (m: string) => console.error(`warn: ${m}`), debug: () => undefined };
const runtime = new TestcontainersRuntime({ runId, logger });
installSignalCleanup(runtime, { logger });

const shadows = await Promise.all(
  ["sig-a", "sig-b"].map(async (name) => {
    const port = await findFreePort();
    return runtime.start({
      image,
      name,
      port,
      env: { PORT: String(port) },
      cpus: 0.25,
      memoryMiB: 128,
      readyPath: "/healthz",
      readyTimeoutMs: 20_000,
      config: { name },
    });
  }),
);
console.log(`ready ${shadows.map((s) => s.id).join(" ")}`);
setInterval(() => undefined, 60_000);
