/**
 * The recommended configuration as text a person can apply: a review comment body with a
 * GitHub ```suggestion block, or a unified diff for `git apply`. Pure.
 */
import type { Edit } from "../results/schema.js";
import { PARAMETER_SEPARATOR } from "./locate.js";

/**
 * A fenced code block whose fence is longer than any run of backticks in the content, so
 * the content cannot close it early.
 */
export function fenced(content: string, info = ""): string {
  const longest = Math.max(0, ...[...content.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  return `${fence}${info}\n${content}\n${fence}`;
}

/** A review comment body: a sentence, an optional note, and the replacement line as a suggestion. */
export function suggestionBody(edit: Edit, note?: string): string {
  const names = edit.parameter.split(PARAMETER_SEPARATOR).map((name) => `\`${name}\``);
  const list = names.length === 1 ? names[0]! : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]!}`;
  const lead = `Shadowgate recommends ${names.length === 1 ? "a new value" : "new values"} for ${list}. Commit the suggestion to apply ${names.length === 1 ? "it" : "them"}.`;
  return [lead, ...(note ? [note.trim()] : []), fenced(edit.after, "suggestion")].join("\n\n");
}

/**
 * The edits as a unified diff (`--- a/path`, `+++ b/path`, `@@ -l,n +l,n @@`). With the files'
 * text (`readFile(path)`, path relative to the repository root) each change gets up to two lines
 * of context, close changes share a hunk, and `git apply` accepts the result; without it (or
 * when a file no longer reads `before` on an edit's line) hunks have no context, which
 * `git apply --unidiff-zero` accepts.
 */
export function unifiedDiff(edits: readonly Edit[], readFile?: (path: string) => string | undefined): string {
  const byPath = new Map<string, Edit[]>();
  for (const edit of edits) byPath.set(edit.path, [...(byPath.get(edit.path) ?? []), edit]);
  const out: string[] = [];
  for (const file of [...byPath.keys()].sort()) {
    const fileEdits = uniqueLines(byPath.get(file)!);
    const name = (prefix: string) => quotePath(`${prefix}/${file}`);
    out.push(`diff --git ${name("a")} ${name("b")}`, `--- ${name("a")}`, `+++ ${name("b")}`);
    const text = readFile?.(file);
    const lines = text === undefined ? undefined : fileLines(text);
    const fits = lines !== undefined && fileEdits.every((e) => lines.lines[e.line - 1] !== undefined && stripCr(lines.lines[e.line - 1]!) === e.before);
    out.push(...(fits ? withContext(fileEdits, lines, 2) : withoutContext(fileEdits)));
  }
  return out.length > 0 ? `${out.join("\n")}\n` : "";
}

function uniqueLines(edits: Edit[]): Edit[] {
  const seen = new Set<number>();
  return [...edits].sort((a, b) => a.line - b.line).filter((e) => !seen.has(e.line) && Boolean(seen.add(e.line)));
}

function fileLines(text: string): { lines: string[]; noEol: boolean } {
  const lines = text.split("\n");
  const noEol = !text.endsWith("\n");
  if (!noEol) lines.pop();
  return { lines, noEol: noEol && text.length > 0 };
}

function stripCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

const NO_EOL = "\\ No newline at end of file";

function withContext(edits: Edit[], file: { lines: string[]; noEol: boolean }, context: number): string[] {
  const total = file.lines.length;
  const ranges: { start: number; end: number; edits: Edit[] }[] = [];
  for (const edit of edits) {
    const start = Math.max(1, edit.line - context);
    const end = Math.min(total, edit.line + context);
    const last = ranges[ranges.length - 1];
    if (last && start <= last.end + 1) {
      last.end = end;
      last.edits.push(edit);
    } else ranges.push({ start, end, edits: [edit] });
  }
  const out: string[] = [];
  for (const range of ranges) {
    const count = range.end - range.start + 1;
    out.push(`@@ -${range.start},${count} +${range.start},${count} @@`);
    const byLine = new Map(range.edits.map((e) => [e.line, e]));
    let n = range.start;
    while (n <= range.end) {
      if (!byLine.has(n)) {
        out.push(` ${file.lines[n - 1]!}`);
        if (n === total && file.noEol) out.push(NO_EOL);
        n++;
        continue;
      }
      // a run of changed lines: all removals, then all additions
      const run: number[] = [];
      while (byLine.has(n) && n <= range.end) run.push(n++);
      const endsFile = run[run.length - 1] === total && file.noEol;
      for (const l of run) out.push(`-${file.lines[l - 1]!}`);
      if (endsFile) out.push(NO_EOL);
      for (const l of run) out.push(`+${byLine.get(l)!.after}${file.lines[l - 1]!.endsWith("\r") ? "\r" : ""}`);
      if (endsFile) out.push(NO_EOL);
    }
  }
  return out;
}

function withoutContext(edits: Edit[]): string[] {
  return edits.flatMap((e) => [`@@ -${e.line},1 +${e.line},1 @@`, `-${e.before}`, `+${e.after}`]);
}

/** Git's quoting of a path with special characters: `"a/tab\there"`. */
function quotePath(name: string): string {
  if (!/["\\\x00-\x1f\x7f]/.test(name)) return name;
  const escaped = name.replace(/["\\\x00-\x1f\x7f]/g, (c) => {
    const named: Record<string, string> = { '"': '\\"', "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x07": "\\a", "\b": "\\b", "\f": "\\f", "\v": "\\v" };
    return named[c] ?? `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`;
  });
  return `"${escaped}"`;
}
