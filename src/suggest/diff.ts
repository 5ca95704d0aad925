/**
 * A pull request's diff (GitHub's `application/vnd.github.diff`, i.e. `git diff` output) and
 * where a suggestion can go: GitHub accepts review comments only on lines of the diff, and
 * fails the whole review (422) when one is elsewhere. Pure.
 */
import type { Edit } from "../results/schema.js";
import { suggestionBody } from "./render.js";

/** A line of the new (RIGHT) side of a hunk. */
export interface RightLine {
  /** 1-based line number in the new file */
  line: number;
  /** the line's text, without its line ending */
  text: string;
  kind: "added" | "context";
}

export interface Hunk {
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  /** the text after the second `@@` (often the enclosing function or section) */
  section: string;
  /** the RIGHT-side lines (added and context), in order */
  right: RightLine[];
}

/** Files of the diff that exist after the change (new path of a rename) → their hunks. */
export type PullRequestDiff = Map<string, Hunk[]>;

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$/;

/**
 * Parse `git diff` output. Deleted files are left out; binary files, pure renames and mode
 * changes are present with no hunks. Paths are the new paths without the `b/` prefix.
 */
export function parsePullRequestDiff(diff: string): PullRequestDiff {
  const files: PullRequestDiff = new Map();
  let file: { path: string | undefined; deleted: boolean; hunks: Hunk[] } | undefined;
  let hunk: Hunk | undefined;
  let oldLeft = 0;
  let newLeft = 0;
  let newLine = 0;

  const finish = () => {
    if (file?.path !== undefined && !file.deleted) files.set(file.path, [...(files.get(file.path) ?? []), ...file.hunks]);
    file = undefined;
    hunk = undefined;
    oldLeft = newLeft = 0;
  };

  for (const raw of diff.split("\n")) {
    const text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (hunk && (oldLeft > 0 || newLeft > 0)) {
      const mark = raw[0];
      const content = text.slice(1);
      if (mark === " " || raw === "" || raw === "\r") {
        hunk.right.push({ line: newLine++, text: raw === "" || raw === "\r" ? "" : content, kind: "context" });
        oldLeft--;
        newLeft--;
        continue;
      }
      if (mark === "+") {
        hunk.right.push({ line: newLine++, text: content, kind: "added" });
        newLeft--;
        continue;
      }
      if (mark === "-") {
        oldLeft--;
        continue;
      }
      if (mark === "\\") continue; // \ No newline at end of file
      // a truncated hunk: fall through to the headers
      hunk = undefined;
    }
    if (text.startsWith("\\")) continue;

    if (text.startsWith("diff --git ")) {
      finish();
      file = { path: gitHeaderPath(text.slice("diff --git ".length)), deleted: false, hunks: [] };
      continue;
    }
    const match = HUNK.exec(text);
    if (match) {
      if (!file) file = { path: undefined, deleted: false, hunks: [] };
      hunk = {
        oldStart: Number(match[1]),
        oldLines: match[2] === undefined ? 1 : Number(match[2]),
        newStart: Number(match[3]),
        newLines: match[4] === undefined ? 1 : Number(match[4]),
        section: match[5] ?? "",
        right: [],
      };
      oldLeft = hunk.oldLines;
      newLeft = hunk.newLines;
      newLine = hunk.newStart;
      file.hunks.push(hunk);
      continue;
    }
    if (text.startsWith("--- ")) {
      // a plain (non-git) diff starts with ---; a git one already has its file
      if (!file || file.hunks.length > 0) {
        finish();
        file = { path: undefined, deleted: false, hunks: [] };
      }
      continue;
    }
    if (!file) continue;
    if (text.startsWith("+++ ")) {
      const name = headerName(text.slice(4));
      if (name === "/dev/null") file.deleted = true;
      else file.path = stripPrefix(name);
    } else if (text.startsWith("rename to ") || text.startsWith("copy to ")) {
      file.path = unquote(text.slice(text.indexOf(" to ") + 4));
    } else if (text.startsWith("deleted file mode")) {
      file.deleted = true;
    }
  }
  finish();
  return files;
}

/** `a/x b/x` (possibly quoted) → the new path x. */
function gitHeaderPath(rest: string): string | undefined {
  if (rest.startsWith('"') || rest.endsWith('"')) {
    const names = [...rest.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? unquote(`"${m[1]}"`) : m[2]!));
    return names.length === 2 ? stripPrefix(names[1]!) : undefined;
  }
  // unquoted: the two names are the same length when the file was not renamed
  const half = (rest.length - 1) / 2;
  if (Number.isInteger(half) && rest[half] === " " && rest.slice(2, half) === rest.slice(half + 3)) return rest.slice(half + 3);
  const b = rest.lastIndexOf(" b/");
  return b === -1 ? undefined : rest.slice(b + 3);
}

function headerName(rest: string): string {
  const name = rest.startsWith('"') ? rest : rest.split("\t")[0]!;
  return unquote(name.trimEnd());
}

function stripPrefix(name: string): string {
  return /^[ab]\//.test(name) ? name.slice(2) : name;
}

const ESCAPES: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, "\\": 92 };

/** Git's C-style quoted path (`"t\303\244st"`) → the path; unquoted input is returned as is. */
export function unquote(name: string): string {
  if (!(name.length >= 2 && name.startsWith('"') && name.endsWith('"'))) return name;
  const bytes: number[] = [];
  const inner = name.slice(1, -1);
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!;
    if (c !== "\\") {
      bytes.push(...Buffer.from(c, "utf8"));
      continue;
    }
    const next = inner[i + 1] ?? "";
    const octal = /^[0-7]{3}/.exec(inner.slice(i + 1));
    if (octal) {
      bytes.push(parseInt(octal[0], 8));
      i += 3;
    } else {
      bytes.push(ESCAPES[next] ?? next.charCodeAt(0));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

/** A review comment ready for `pulls.createReview`'s `comments[]`, with the edit it carries. */
export interface PlacedSuggestion {
  path: string;
  /** the line at the PR head (may differ from `edit.line` when the file moved) */
  line: number;
  side: "RIGHT";
  body: string;
  edit: Edit;
}

/**
 * Split edits into review comments and the rest. An edit is suggested on a line only when
 * that line is on the RIGHT side of a hunk of its file and reads `edit.before` there. When
 * the line number holds other text (the PR head differs from the checked-out merge commit),
 * the edit goes to the one RIGHT-side line of the file that reads `edit.before`, if there is
 * exactly one. Everything else (and a second edit on an already used line) is `outside`.
 */
export function placeEdits(
  edits: readonly Edit[],
  diff: PullRequestDiff,
  body: (edit: Edit) => string = (edit) => suggestionBody(edit),
): { review: PlacedSuggestion[]; outside: Edit[] } {
  const review: PlacedSuggestion[] = [];
  const outside: Edit[] = [];
  const used = new Set<string>();
  for (const edit of edits) {
    const right = (diff.get(edit.path) ?? []).flatMap((h) => h.right);
    let line = right.find((r) => r.line === edit.line && r.text === edit.before)?.line;
    if (line === undefined) {
      const same = right.filter((r) => r.text === edit.before);
      if (same.length === 1) line = same[0]!.line;
    }
    const key = `${edit.path}\0${line}`;
    if (line === undefined || used.has(key)) {
      outside.push(edit);
      continue;
    }
    used.add(key);
    review.push({ path: edit.path, line, side: "RIGHT", body: body(edit), edit });
  }
  return { review, outside };
}
