/**
 * A byte-level scanner that streams a HAR document's `log.entries`: it reads the document as
 * a sequence of chunks and hands out each entry's raw JSON bytes as soon as the entry ends, so
 * memory holds one entry (plus the chunk being read), never the whole recording.
 *
 * Outside the entries the document is checked as JSON token by token (an invalid or truncated
 * document is an error with its byte offset); inside an entry only strings, escapes and nesting
 * depth are tracked, to find where it ends: the caller `JSON.parse`s the entry, which checks
 * the rest. A UTF-8 byte-order mark is skipped. A value other than an array under
 * `log.entries`, or a document without one, is a shape error.
 *
 * The scan also notes where each entry's `response.content.text` string lies (keys at the
 * entry's top three levels are read; the body is most of a recording's bytes), so the caller
 * can parse the entry without it and decode the body only when it keeps it.
 */

/** One entry of `log.entries`, as bytes. */
export interface HarEntryBytes {
  /** position in log.entries, from 0 */
  index: number;
  /** the entry's JSON text, UTF-8 */
  bytes: Buffer;
  /** byte offset of its first byte in the file (a BOM counted) */
  offset: number;
  /**
   * where in `bytes` its response.content.text string lies, quotes included (absent when it
   * has none, or when the entry spells it so the scan cannot tell: a key cut by a chunk end,
   * a repeated key)
   */
  responseText?: { start: number; end: number };
}

/** The document is not JSON ("json") or has no `log.entries` array ("shape"). */
export class HarFormatError extends Error {
  override name = "HarFormatError";
  constructor(
    message: string,
    readonly kind: "json" | "shape",
  ) {
    super(message);
  }
}

// bytes
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** Byte classes for the scan inside an entry: 0 = nothing to do. */
const IN_ENTRY = new Uint8Array(256);
IN_ENTRY[QUOTE] = 1;
IN_ENTRY[OPEN_BRACE] = 2;
IN_ENTRY[OPEN_BRACKET] = 2;
IN_ENTRY[CLOSE_BRACE] = 3;
IN_ENTRY[CLOSE_BRACKET] = 3;
IN_ENTRY[COLON] = 4;
IN_ENTRY[COMMA] = 5;
const RESPONSE = Buffer.from("response");
const CONTENT = Buffer.from("content");
const TEXT = Buffer.from("text");
/** inside a string: 1 = end, 2 = escape */
const IN_STRING = new Uint8Array(256);
IN_STRING[QUOTE] = 1;
IN_STRING[BACKSLASH] = 2;

const WHITESPACE = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0a, 0x0d]) WHITESPACE[c] = 1;
/** bytes a number or a literal (true, false, null) is made of */
const SCALAR = new Uint8Array(256);
for (const c of "0123456789+-.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") SCALAR[c.charCodeAt(0)] = 1;
const ESCAPES = new Set([...'"\\/bfnrtu'].map((c) => c.charCodeAt(0)));
const HEX = /^[0-9a-fA-F]$/;
const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
/** longer keys cannot be "log" or "entries": not collected */
const MAX_KEY_BYTES = 64;
const MAX_SCALAR = 512;

/** What the document expects next, outside a token. */
const enum Expect {
  Value,
  ValueOrClose,
  KeyOrClose,
  Key,
  Colon,
  CommaOrClose,
  End,
}

/** The token being read, outside the entries. */
const enum Token {
  None,
  String,
  Scalar,
}

/** Where the scan is inside log.entries. */
const enum At {
  /** after "[" (a "]" may close the array) or "," (a value must follow) */
  BeforeEntry,
  /** inside an object, array or string entry */
  InEntry,
  /** inside a number or literal entry */
  InScalarEntry,
  AfterEntry,
}

interface Frame {
  array: boolean;
  /** the document's root object */
  root: boolean;
  /** the object under root.log */
  log: boolean;
  /** the last key read (objects), when short */
  key: string | undefined;
}

function showByte(c: number): string {
  return c >= 0x20 && c < 0x7f ? JSON.stringify(String.fromCharCode(c)) : `byte 0x${c.toString(16).padStart(2, "0")}`;
}

/**
 * Push chunks in, take entries out. `push` returns the entries completed by the chunk (their
 * bytes may point into the chunk: use them before the chunk is reused); `end` checks the
 * document is complete and has a log.entries array. Throws HarFormatError.
 */
export class HarEntryScanner {
  /** byte offset of the current chunk in the file */
  private base = 0;
  private head: Buffer | undefined = Buffer.alloc(0);
  private inEntries = false;
  private foundEntries = false;

  // outside the entries
  private readonly stack: Frame[] = [];
  private expect = Expect.Value;
  private token = Token.None;
  private escape = false;
  private unicode = 0;
  private isKey = false;
  private keyBytes: number[] = [];
  private scalar = "";
  private tokenOffset = 0;

  // inside the entries
  private at = At.BeforeEntry;
  private afterComma = false;
  private index = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private pieces: Buffer[] = [];
  private entryOffset = 0;
  // response.content.text: keys of the entry's first three levels (absolute offsets)
  /** the last string closed at depth ≤ 3: its content's first byte and its closing quote */
  private stringStart = 0;
  private stringEnd = -1;
  private stringDepth = -1;
  /** the last key at depth 1 is "response" */
  private inResponse = false;
  /** …and the last key at depth 2 (in its object) is "content" */
  private inContent = false;
  /** the key "text" was read in response.content: its value comes next */
  private textNext = false;
  private textStart = -1;
  private textEnd = -1;
  /** a second text key, or one the scan could not read: no range for this entry */
  private textUnknown = false;
  private out: HarEntryBytes[] = [];

  push(chunk: Uint8Array): HarEntryBytes[] {
    let data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.head !== undefined) {
      // the first three bytes decide whether there is a byte-order mark
      data = this.head.length > 0 ? Buffer.concat([this.head, data]) : data;
      if (data.length < 3) {
        this.head = data;
        return [];
      }
      this.head = undefined;
      if (data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) {
        this.base = 3;
        data = data.subarray(3);
      }
    }
    this.out = [];
    let i = 0;
    while (i < data.length) i = this.inEntries ? this.scanEntries(data, i) : this.scanDocument(data, i);
    // an entry that goes on in the next chunk keeps its bytes so far
    if (this.inEntries && (this.at === At.InEntry || this.at === At.InScalarEntry)) {
      const start = this.pieces.length === 0 ? this.entryOffset - this.base : 0;
      this.pieces.push(data.subarray(start));
    }
    this.base += data.length;
    return this.out;
  }

  /** The document's end: the entries of a last scalar, or the error for an incomplete document. */
  end(): HarEntryBytes[] {
    const out: HarEntryBytes[] = [];
    if (this.head !== undefined) {
      // fewer than three bytes in all: no byte-order mark to look for
      const head = this.head;
      this.head = undefined;
      if (head.length > 0) out.push(...this.push(head));
    }
    if (this.inEntries) {
      const inEntry = this.at === At.InEntry || this.at === At.InScalarEntry;
      throw this.truncated(`inside log.entries${inEntry ? `[${this.index}]` : ""}`);
    }
    if (this.token === Token.String) throw this.truncated("inside a string");
    if (this.token === Token.Scalar) this.endScalar();
    if (this.expect !== Expect.End) throw this.truncated(this.stack.length > 0 ? "before the document's end" : "");
    if (!this.foundEntries) throw new HarFormatError("expected an object with log.entries (an array of recorded requests)", "shape");
    return out;
  }

  private truncated(where: string): HarFormatError {
    return new HarFormatError(`unexpected end of the file at byte ${this.base}${where ? ` ${where}` : ""}: truncated?`, "json");
  }

  private unexpected(c: number, offset: number, context = ""): HarFormatError {
    return new HarFormatError(`unexpected ${showByte(c)} at byte ${offset}${context}`, "json");
  }

  /** The entries: find where each ends; returns where the scan stopped in `data`. */
  private scanEntries(data: Buffer, from: number): number {
    const n = data.length;
    let i = from;
    while (i < n) {
      if (this.at === At.InEntry) {
        let depth = this.depth;
        let inString = this.inString;
        if (this.escaped) {
          // the byte after a backslash that ended the previous chunk
          this.escaped = false;
          i++;
        }
        // the hot loop: most bytes are inside strings, where only " and \ matter
        scan: while (i < n) {
          if (inString) {
            let c = 0;
            while (i < n && (c = data[i]!) !== QUOTE && c !== BACKSLASH) i++;
            if (i >= n) break;
            if (c === BACKSLASH) {
              i += 2;
              if (i > n) {
                this.escaped = true; // the escaped byte starts the next chunk
                i = n;
              }
              continue;
            }
            inString = false;
            if (depth <= 3) {
              if (depth === 0) break; // a string entry
              this.closedString(i, depth);
            }
            i++;
            continue;
          }
          for (; i < n; i++) {
            const kind = IN_ENTRY[data[i]!]!;
            if (kind === 0) continue;
            if (kind === 1) {
              inString = true;
              if (depth <= 3) this.openedString(i);
              i++;
              continue scan;
            }
            if (kind === 2) {
              if (++depth <= 3) this.opened(depth);
            } else if (kind === 3) {
              if (--depth === 0) break scan;
              if (depth < 3) this.textNext = false;
            } else if (depth <= 3) {
              if (kind === 4) this.readKey(data, depth);
              else this.textNext = false;
            }
          }
        }
        this.depth = depth;
        this.inString = inString;
        if (i >= n) return n;
        this.finishEntry(data, i + 1);
        i++;
        continue;
      }
      if (this.at === At.InScalarEntry) {
        while (i < n && SCALAR[data[i]!] === 1) i++;
        if (i === n) return n;
        this.finishEntry(data, i);
        continue;
      }
      const c = data[i]!;
      if (WHITESPACE[c] === 1) {
        i++;
        continue;
      }
      if (this.at === At.AfterEntry) {
        if (c === COMMA) {
          this.at = At.BeforeEntry;
          this.afterComma = true;
        } else if (c === CLOSE_BRACKET) {
          this.inEntries = false;
          this.afterValue();
          return i + 1;
        } else throw this.unexpected(c, this.base + i, ` after log.entries[${this.index - 1}]: expected "," or "]"`);
        i++;
        continue;
      }
      // before an entry
      if (c === CLOSE_BRACKET && !this.afterComma) {
        this.inEntries = false;
        this.afterValue();
        return i + 1;
      }
      this.entryOffset = this.base + i;
      this.pieces = [];
      this.stringDepth = -1;
      this.inResponse = this.inContent = this.textNext = this.textUnknown = false;
      this.textStart = this.textEnd = -1;
      if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        this.at = At.InEntry;
        this.depth = 1;
        this.inString = false;
        i++;
      } else if (c === QUOTE) {
        this.at = At.InEntry;
        this.depth = 0;
        this.inString = true;
        i++;
      } else if (SCALAR[c] === 1) {
        this.at = At.InScalarEntry;
        i++;
      } else throw this.unexpected(c, this.base + i, ` at log.entries[${this.index}]`);
    }
    return n;
  }

  /** A string opens at data[i], at depth 1–3 (only there can it be a key on the way to response.content.text). */
  private openedString(i: number): void {
    this.stringStart = this.base + i + 1;
    if (this.textNext) {
      this.textNext = false;
      this.textStart = this.base + i;
    }
  }

  /** The string closes at data[i], at depth 1–3. */
  private closedString(i: number, depth: number): void {
    this.stringEnd = this.base + i;
    this.stringDepth = depth;
    if (this.textStart >= 0 && this.textEnd < 0) this.textEnd = this.base + i + 1;
  }

  /** An object or array opens at depth 1–3. */
  private opened(depth: number): void {
    this.textNext = false;
    if (depth === 2) this.inContent = false;
  }

  /** A ":" at depth 1–3: the string before it is a key; follow the way to response.content.text. */
  private readKey(data: Buffer, depth: number): void {
    if (this.stringDepth !== depth) return;
    const start = this.stringStart - this.base;
    const end = this.stringEnd - this.base;
    // a key cut by the chunk's start cannot be read here: it counts as none of the three
    const is = (name: Buffer) => start >= 0 && end - start === name.length && data.compare(name, 0, name.length, start, end) === 0;
    if (depth === 1) this.inResponse = is(RESPONSE);
    else if (depth === 2) this.inContent = this.inResponse && is(CONTENT);
    else if (this.inContent) {
      if (is(TEXT)) {
        if (this.textStart >= 0) this.textUnknown = true;
        else this.textNext = true;
      } else if (start < 0) this.textUnknown = true; // it might have been "text"
    }
    this.stringDepth = -1;
  }

  /** The entry ends before data[end]. */
  private finishEntry(data: Buffer, end: number): void {
    let bytes: Buffer;
    if (this.pieces.length === 0) bytes = data.subarray(this.entryOffset - this.base, end);
    else {
      this.pieces.push(data.subarray(0, end));
      bytes = Buffer.concat(this.pieces);
      this.pieces = [];
    }
    const entry: HarEntryBytes = { index: this.index, bytes, offset: this.entryOffset };
    if (this.textEnd > this.textStart && this.textStart >= 0 && !this.textUnknown) {
      entry.responseText = { start: this.textStart - this.entryOffset, end: this.textEnd - this.entryOffset };
    }
    this.out.push(entry);
    this.index++;
    this.at = At.AfterEntry;
    this.afterComma = false;
  }

  /** Everything outside the entries, checked as JSON; returns where the scan stopped in `data`. */
  private scanDocument(data: Buffer, from: number): number {
    const n = data.length;
    let i = from;
    while (i < n) {
      const c = data[i]!;
      if (this.token === Token.String) {
        if (this.unicode > 0) {
          if (!HEX.test(String.fromCharCode(c))) throw this.unexpected(c, this.base + i, " in a \\u escape");
          this.unicode--;
        } else if (this.escape) {
          if (!ESCAPES.has(c)) throw this.unexpected(c, this.base + i, " after a backslash");
          this.escape = false;
          if (c === 0x75) this.unicode = 4;
        } else if (c === QUOTE) {
          this.token = Token.None;
          this.endString();
          i++;
          continue;
        } else if (c === BACKSLASH) this.escape = true;
        else if (c < 0x20) throw this.unexpected(c, this.base + i, " in a string (control characters must be escaped)");
        else if (!this.isKey) {
          // a value's plain bytes: skip to the next quote or backslash at once
          let j = i + 1;
          while (j < n && IN_STRING[data[j]!] === 0 && data[j]! >= 0x20) j++;
          i = j;
          continue;
        }
        if (this.isKey && this.keyBytes.length <= MAX_KEY_BYTES) this.keyBytes.push(c);
        i++;
        continue;
      }
      if (this.token === Token.Scalar) {
        if (SCALAR[c] === 1 && this.scalar.length < MAX_SCALAR) {
          this.scalar += String.fromCharCode(c);
          i++;
          continue;
        }
        this.endScalar();
        continue; // c is read again, as what follows the scalar
      }
      if (WHITESPACE[c] === 1) {
        i++;
        continue;
      }
      const top = this.stack[this.stack.length - 1];
      const offset = this.base + i;
      switch (this.expect) {
        case Expect.End:
          throw this.unexpected(c, offset, " after the end of the document");
        case Expect.Colon:
          if (c !== COLON) throw this.unexpected(c, offset, ': expected ":" after a key');
          this.expect = Expect.Value;
          break;
        case Expect.KeyOrClose:
        case Expect.Key:
          if (c === CLOSE_BRACE && this.expect === Expect.KeyOrClose) this.close();
          else if (c === QUOTE) this.startString(true, offset);
          else throw this.unexpected(c, offset, ": expected a key in quotes");
          break;
        case Expect.CommaOrClose:
          if (c === COMMA) this.expect = top!.array ? Expect.Value : Expect.Key;
          else if (c === (top!.array ? CLOSE_BRACKET : CLOSE_BRACE)) this.close();
          else throw this.unexpected(c, offset, top!.array ? ': expected "," or "]"' : ': expected "," or "}"');
          break;
        case Expect.Value:
        case Expect.ValueOrClose:
          if (c === CLOSE_BRACKET && this.expect === Expect.ValueOrClose) {
            this.close();
            break;
          }
          if (top !== undefined && top.log && top.key === "entries" && c === OPEN_BRACKET) {
            this.foundEntries = true;
            this.inEntries = true;
            this.at = At.BeforeEntry;
            this.afterComma = false;
            return i + 1;
          }
          if (c === OPEN_BRACE) {
            const root = this.stack.length === 0;
            this.stack.push({ array: false, root, log: top !== undefined && top.root && top.key === "log", key: undefined });
            this.expect = Expect.KeyOrClose;
          } else if (c === OPEN_BRACKET) {
            this.stack.push({ array: true, root: false, log: false, key: undefined });
            this.expect = Expect.ValueOrClose;
          } else if (c === QUOTE) this.startString(false, offset);
          else if (SCALAR[c] === 1) {
            this.token = Token.Scalar;
            this.scalar = String.fromCharCode(c);
            this.tokenOffset = offset;
          } else throw this.unexpected(c, offset, this.stack.length === 0 ? ": expected a JSON document" : ": expected a value");
          break;
      }
      i++;
    }
    return n;
  }

  private startString(isKey: boolean, offset: number): void {
    this.token = Token.String;
    this.isKey = isKey;
    this.escape = false;
    this.unicode = 0;
    this.keyBytes = [];
    this.tokenOffset = offset;
  }

  private endString(): void {
    if (!this.isKey) {
      this.afterValue();
      return;
    }
    const top = this.stack[this.stack.length - 1]!;
    top.key = undefined;
    if (this.keyBytes.length <= MAX_KEY_BYTES) {
      const text = Buffer.from(this.keyBytes).toString("utf8");
      top.key = text.includes("\\") ? (JSON.parse(`"${text}"`) as string) : text;
    }
    this.expect = Expect.Colon;
  }

  private endScalar(): void {
    const text = this.scalar;
    this.token = Token.None;
    if (text !== "true" && text !== "false" && text !== "null" && !NUMBER.test(text)) {
      throw new HarFormatError(`unexpected ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)} at byte ${this.tokenOffset}`, "json");
    }
    this.afterValue();
  }

  private close(): void {
    this.stack.pop();
    this.afterValue();
  }

  private afterValue(): void {
    this.expect = this.stack.length === 0 ? Expect.End : Expect.CommaOrClose;
  }
}

/**
 * The entries of a HAR document read from `chunks`, one at a time. Throws HarFormatError for
 * a document that is not JSON or has no log.entries array (after the entries read so far).
 */
export async function* harEntries(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<HarEntryBytes> {
  const scanner = new HarEntryScanner();
  for await (const chunk of chunks) yield* scanner.push(chunk);
  yield* scanner.end();
}
