/**
 * Docker tests are not optional: start (or install) the engine and build the local base
 * image before any integration test, and fail the whole run loudly when that is impossible.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export default function setup(): void {
  process.env.TESTCONTAINERS_RYUK_DISABLED = "true";
  for (const script of ["scripts/ensure-docker.sh", "scripts/build-base-image.sh"]) {
    try {
      execFileSync("bash", [path.join(root, script)], { stdio: ["ignore", "inherit", "pipe"] });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? "";
      throw new Error(`Docker is required for the integration tests and ${script} failed:\n${stderr}`);
    }
  }
}
