import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkoutBase } from "../../src/action/base-checkout.js";

const git = (cwd: string, ...args: string[]) => execFileSync("git", ["-C", cwd, "-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { encoding: "utf8" }).trim();

/** An "upstream" with a base and a head commit, and a shallow clone of the head as the workspace (as actions/checkout makes). */
function repos() {
  const root = mkdtempSync(path.join(tmpdir(), "sg-base-"));
  const upstream = path.join(root, "upstream");
  execFileSync("git", ["init", "-q", "-b", "main", upstream]);
  writeFileSync(path.join(upstream, "server.js"), "base\n");
  git(upstream, "add", ".");
  git(upstream, "commit", "-qm", "base");
  const baseSha = git(upstream, "rev-parse", "HEAD");
  writeFileSync(path.join(upstream, "server.js"), "head\n");
  git(upstream, "commit", "-qam", "head");
  git(upstream, "config", "uploadpack.allowReachableSHA1InWant", "true");
  const workspace = path.join(root, "workspace");
  execFileSync("git", ["clone", "-q", "--depth=1", `file://${upstream}`, workspace]);
  return { root, workspace, baseSha };
}

describe("checkoutBase", () => {
  it("fetches the base commit into a shallow workspace and checks it out beside it; remove() cleans up", async () => {
    const { root, workspace, baseSha } = repos();
    expect(() => git(workspace, "cat-file", "-e", `${baseSha}^{commit}`)).toThrow();
    const base = await checkoutBase(workspace, baseSha, root);
    expect(readFileSync(path.join(base.dir, "server.js"), "utf8")).toBe("base\n");
    expect(readFileSync(path.join(workspace, "server.js"), "utf8")).toBe("head\n");
    expect(git(workspace, "worktree", "list")).toContain(base.dir);
    await base.remove();
    await base.remove();
    expect(existsSync(base.dir)).toBe(false);
    expect(git(workspace, "worktree", "list")).not.toContain(base.dir);
  });

  it("says which commit it could not fetch, and refuses a SHA that is not one", async () => {
    const { root, workspace } = repos();
    await expect(checkoutBase(workspace, "f".repeat(40), root)).rejects.toThrow(/cannot fetch the base commit f{40} into .*workspace/);
    await expect(checkoutBase(workspace, "main; rm -rf /", root)).rejects.toThrow(/is not a full SHA/);
  });
});
