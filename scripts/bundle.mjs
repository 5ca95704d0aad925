// Builds dist/: the Action entry (dist/index.js) and the CLI (dist/cli.js) as standalone ESM
// bundles (no hashed chunks, so a rebuild changes only the lines whose source changed). `--check` builds into a temp folder and fails when the committed
// dist/ differs from a fresh build (dist must always equal the source it came from).
import { build } from "esbuild";
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const check = process.argv.includes("--check");
const outdir = check ? mkdtempSync(path.join(tmpdir(), "shadowgate-dist-")) : path.join(root, "dist");

if (!check) rmSync(outdir, { recursive: true, force: true });

await build({
  absWorkingDir: root,
  entryPoints: { index: "src/index.ts", cli: "src/cli.ts" },
  outdir,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // optional native add-ons of ssh2 (pulled in by testcontainers) stay out of the bundle
  external: ["*.node", "cpu-features"],
  // CommonJS dependencies inside an ESM bundle still expect these
  banner: {
    js: [
      "import { createRequire as __sgCreateRequire } from 'node:module';",
      "import { fileURLToPath as __sgFileURLToPath } from 'node:url';",
      "import { dirname as __sgDirname } from 'node:path';",
      "const require = __sgCreateRequire(import.meta.url);",
      "const __filename = __sgFileURLToPath(import.meta.url);",
      "const __dirname = __sgDirname(__filename);",
    ].join("\n"),
  },
  legalComments: "none",
  logLevel: "warning",
});

if (check) {
  const differences = compareTrees(outdir, path.join(root, "dist"));
  rmSync(outdir, { recursive: true, force: true });
  if (differences.length > 0) {
    console.error(`dist/ differs from a fresh build (run npm run bundle and commit):\n  ${differences.join("\n  ")}`);
    process.exit(1);
  }
  console.log("dist/ equals a fresh build");
}

function listFiles(dir, prefix = "") {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? listFiles(full, `${prefix}${name}/`) : [`${prefix}${name}`];
  });
}

function compareTrees(fresh, committed) {
  const a = new Set(listFiles(fresh));
  const b = new Set(listFiles(committed));
  const out = [];
  for (const file of a) {
    if (!b.has(file)) out.push(`missing: dist/${file}`);
    else if (!readFileSync(path.join(fresh, file)).equals(readFileSync(path.join(committed, file)))) out.push(`changed: dist/${file}`);
  }
  for (const file of b) if (!a.has(file)) out.push(`stale: dist/${file}`);
  return out;
}
