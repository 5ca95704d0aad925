/**
 * The pull request's base, checked out beside the workspace for the gate: a detached git
 * worktree of the base commit (fetched first when a shallow checkout does not have it), so
 * the base image is built from exactly what the PR would merge into.
 */
import { execFile, execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface BaseCheckout {
  /** the worktree's root: the base commit's files */
  dir: string;
  /** removes the worktree (idempotent) */
  remove(): Promise<void>;
}

export async function checkoutBase(workspace: string, baseSha: string, temp: string = tmpdir()): Promise<BaseCheckout> {
  if (!/^[0-9a-f]{40}$/.test(baseSha)) throw new Error(`the base commit ${JSON.stringify(baseSha)} is not a full SHA`);
  const git = async (...args: string[]) => (await run("git", ["-C", workspace, ...args], { maxBuffer: 16 << 20 })).stdout;
  const has = await git("cat-file", "-e", `${baseSha}^{commit}`).then(
    () => true,
    () => false,
  );
  if (!has) {
    try {
      await git("fetch", "--no-tags", "--depth=1", "origin", baseSha);
    } catch (error) {
      throw new Error(`cannot fetch the base commit ${baseSha} into ${workspace}: ${firstLine(error)}`);
    }
  }
  const dir = await mkdtemp(path.join(temp, "shadowgate-base-"));
  try {
    await git("worktree", "add", "--detach", dir, baseSha);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`cannot check out the base commit ${baseSha}: ${firstLine(error)}`);
  }
  let removed = false;
  // a stop signal ends the process from the runtime's cleanup (process.exit): the worktree
  // goes too, synchronously, on the way out
  const onExit = (): void => {
    try {
      execFileSync("git", ["-C", workspace, "worktree", "remove", "--force", dir], { stdio: "ignore" });
    } catch {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  process.once("exit", onExit);
  return {
    dir,
    async remove() {
      if (removed) return;
      removed = true;
      process.removeListener("exit", onExit);
      await git("worktree", "remove", "--force", dir).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function firstLine(error: unknown): string {
  const e = error as { stderr?: string; message?: string };
  return (e.stderr?.trim() || e.message || String(error)).split("\n")[0]!;
}
