/**
 * Rules between parameters, e.g. "threads * workers <= 64" or "gc != 'ZGC' or heap >= 512": a
 * small expression language, parsed and type-checked against the catalog once, then evaluated
 * per configuration by closures (no eval).
 *
 * Grammar, loosest binding first:
 *   or      := and ("or" and)*
 *   and     := not ("and" not)*
 *   not     := "not" not | compare
 *   compare := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?     comparisons do not chain
 *   sum     := product (("+" | "-") product)*
 *   product := unary (("*" | "/") unary)*
 *   unary   := "-" unary | atom
 *   atom    := number | 'text' | "text" | true | false | parameter | "(" or ")"
 *
 * int/float parameters are numbers, enum parameters text (compared with == and != only), bool
 * parameters true/false. A comparison with a number that is not finite (a division by zero) is
 * false, whatever the operator.
 */
import type { Configuration, ParamValue, ParameterCatalog, ParameterSpec } from "../core/types.js";
import { mulberry32, randomInt } from "./random.js";
import { decode } from "./space.js";
import type { Constraint } from "./types.js";

/** A constraint that cannot be compiled; the message names it, the column and what was expected. */
export class ConstraintError extends Error {
  override readonly name = "ConstraintError";
  /** the constraint as written */
  readonly source: string;
  /** 1-based column of the problem */
  readonly column: number;
  /** its index in the list given to compileConstraints */
  readonly index: number;
  /** the name it does not know, when that is the problem */
  readonly unknownParameter: string | undefined;

  constructor(message: string, where: { source: string; column: number; index: number; unknownParameter?: string }) {
    super(message);
    this.source = where.source;
    this.column = where.column;
    this.index = where.index;
    this.unknownParameter = where.unknownParameter;
  }
}

type Kind = "number" | "text" | "bool";
type Evaluate = (config: Configuration) => ParamValue;

interface Token {
  kind: "number" | "text" | "name" | "op" | "end";
  text: string;
  /** 0-based offset in the source */
  at: number;
  value?: number | string;
}

/** A checked sub-expression: its kind, how to evaluate it, and words for error messages. */
interface Typed {
  kind: Kind;
  evaluate: Evaluate;
  /** e.g. `gc (an enum)`, `512 (a number)`, `a comparison` */
  describe: string;
  at: number;
  /** the enum parameter it reads, so a compared literal can be checked against its values */
  enumOf?: Extract<ParameterSpec, { type: "enum" }>;
  /** a text literal's value */
  literal?: string;
}

const KEYWORDS = new Set(["and", "or", "not", "true", "false"]);
const COMPARISONS = new Set(["<", "<=", ">", ">=", "==", "!="]);
/** Operators of other languages, with what to write instead. */
const FOREIGN: Record<string, string> = { "=": "==", "&&": "and", "||": "or", "!": "not", "<>": "!=" };

/** Number literals of each compiled constraint: checkSatisfiable tries them as parameter values. */
const literalsOf = new WeakMap<Constraint, number[]>();

/** Compile constraints against the parameters they may name. Throws a ConstraintError at the first problem. */
export function compileConstraints(sources: readonly string[], catalog: ParameterCatalog): Constraint[] {
  return sources.map((source, index) => compileConstraint(source, catalog, index));
}

/** Compile one constraint; `index` is only used to place a ConstraintError. */
export function compileConstraint(source: string, catalog: ParameterCatalog, index = 0): Constraint {
  return new Parser(source, catalog, index).parse();
}

class Parser {
  private readonly tokens: Token[];
  private next = 0;
  private readonly names: string[] = [];
  private readonly numbers: number[] = [];
  private readonly specs: Map<string, ParameterSpec>;

  constructor(
    private readonly source: string,
    private readonly catalog: ParameterCatalog,
    private readonly index: number,
  ) {
    this.specs = new Map(catalog.map((spec) => [spec.name, spec]));
    this.tokens = this.tokenize();
  }

  parse(): Constraint {
    if (this.peek().kind === "end") throw this.error(0, 'expected a rule such as "threads * workers <= 64", got an empty constraint');
    const rule = this.or();
    const end = this.peek();
    if (end.kind !== "end") throw this.error(end.at, `expected "and", "or" or the end of the constraint, got ${show(end)}`);
    if (rule.kind !== "bool") throw this.error(rule.at, `expected a comparison such as "heap >= 512" or a true/false expression, got ${rule.describe}`);
    const evaluate = rule.evaluate;
    const constraint: Constraint = {
      source: this.source,
      parameters: [...new Set(this.names)],
      holds: (config) => evaluate(config) === true,
    };
    literalsOf.set(constraint, this.numbers);
    return constraint;
  }

  private error(at: number, message: string, unknownParameter?: string): ConstraintError {
    return new ConstraintError(`constraint ${JSON.stringify(this.source)}, column ${at + 1}: ${message}`, {
      source: this.source,
      column: at + 1,
      index: this.index,
      ...(unknownParameter !== undefined ? { unknownParameter } : {}),
    });
  }

  private tokenize(): Token[] {
    const tokens: Token[] = [];
    const text = this.source;
    let i = 0;
    while (i < text.length) {
      const rest = text.slice(i);
      const space = /^\s+/.exec(rest);
      if (space) {
        i += space[0].length;
        continue;
      }
      const number = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(rest);
      if (number) {
        tokens.push({ kind: "number", text: number[0], at: i, value: Number(number[0]) });
        i += number[0].length;
        continue;
      }
      const quote = rest[0];
      if (quote === "'" || quote === '"') {
        const close = rest.indexOf(quote, 1);
        if (close < 0) throw this.error(i, `expected a closing ${quote} for the text that starts here`);
        tokens.push({ kind: "text", text: rest.slice(0, close + 1), at: i, value: rest.slice(1, close) });
        i += close + 1;
        continue;
      }
      const name = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(rest);
      if (name) {
        const word = this.longestName(rest, name[0]);
        tokens.push({ kind: "name", text: word, at: i });
        i += word.length;
        continue;
      }
      const op = /^(<=|>=|==|!=|<>|&&|\|\||[<>=!+\-*/()])/.exec(rest);
      if (op) {
        const instead = FOREIGN[op[0]];
        if (instead) throw this.error(i, `expected ${JSON.stringify(instead)} instead of ${JSON.stringify(op[0])}`);
        tokens.push({ kind: "op", text: op[0], at: i });
        i += op[0].length;
        continue;
      }
      throw this.error(i, `expected a number, a parameter, a quoted text or an operator, got ${JSON.stringify(rest[0])}`);
    }
    tokens.push({ kind: "end", text: "", at: text.length });
    return tokens;
  }

  /**
   * Parameter names may contain "-" (max-pool): a name followed by "-word" is read as one name
   * when the catalog has it, else the "-" is a minus.
   */
  private longestName(rest: string, base: string): string {
    const extended = new RegExp(`^${escapeRegExp(base)}(-[A-Za-z0-9_.]+)+`).exec(rest);
    if (!extended) return base;
    const parts = extended[0].slice(base.length).split("-").slice(1);
    for (let n = parts.length; n >= 1; n--) {
      const candidate = [base, ...parts.slice(0, n)].join("-");
      if (this.specs.has(candidate)) return candidate;
    }
    return base;
  }

  private peek(): Token {
    return this.tokens[this.next]!;
  }

  private take(): Token {
    const token = this.tokens[this.next]!;
    if (token.kind !== "end") this.next++;
    return token;
  }

  private isWord(word: string): boolean {
    const token = this.peek();
    return token.kind === "name" && token.text === word;
  }

  private isOp(...ops: string[]): boolean {
    const token = this.peek();
    return token.kind === "op" && ops.includes(token.text);
  }

  private or(): Typed {
    let left = this.and();
    while (this.isWord("or")) {
      const op = this.take();
      const right = this.and();
      left = this.logical(op, left, right, (a, b) => (config) => a(config) === true || b(config) === true);
    }
    return left;
  }

  private and(): Typed {
    let left = this.not();
    while (this.isWord("and")) {
      const op = this.take();
      const right = this.not();
      left = this.logical(op, left, right, (a, b) => (config) => a(config) === true && b(config) === true);
    }
    return left;
  }

  private logical(op: Token, left: Typed, right: Typed, combine: (a: Evaluate, b: Evaluate) => Evaluate): Typed {
    for (const side of [left, right]) {
      if (side.kind !== "bool") throw this.error(side.at, `expected a comparison or true/false on both sides of "${op.text}", got ${side.describe}`);
    }
    return { kind: "bool", evaluate: combine(left.evaluate, right.evaluate), describe: `an "${op.text}" expression`, at: left.at };
  }

  private not(): Typed {
    if (!this.isWord("not")) return this.compare();
    const op = this.take();
    const operand = this.not();
    if (operand.kind !== "bool") throw this.error(operand.at, `expected a comparison or true/false after "not", got ${operand.describe}`);
    const evaluate = operand.evaluate;
    return { kind: "bool", evaluate: (config) => evaluate(config) !== true, describe: 'a "not" expression', at: op.at };
  }

  private compare(): Typed {
    const left = this.sum();
    if (!this.isOp(...COMPARISONS)) return left;
    const op = this.take();
    const right = this.sum();
    if (this.isOp(...COMPARISONS)) {
      const again = this.peek();
      throw this.error(again.at, `expected "and" or "or" between comparisons (write a < b and b < c), got ${show(again)}`);
    }
    const ordered = op.text !== "==" && op.text !== "!=";
    if (ordered) {
      for (const side of [left, right]) {
        if (side.kind !== "number") throw this.error(side.at, `expected a number on both sides of "${op.text}", got ${side.describe}${side.enumOf ? ' (compare an enum with == or !=)' : ""}`);
      }
    } else if (left.kind !== right.kind) {
      throw this.error(op.at, `expected the same kind of value on both sides of "${op.text}", got ${left.describe} and ${right.describe}`);
    }
    for (const [side, other] of [[left, right], [right, left]] as const) {
      if (side.enumOf && other.literal !== undefined && !side.enumOf.values.includes(other.literal)) {
        throw this.error(other.at, `expected one of ${side.enumOf.values.map((v) => `'${v}'`).join(", ")} (the values of ${side.enumOf.name}), got '${other.literal}'`);
      }
    }
    const a = left.evaluate;
    const b = right.evaluate;
    const test = comparison(op.text);
    const evaluate: Evaluate = (config) => {
      const x = a(config);
      const y = b(config);
      if ((typeof x === "number" && !Number.isFinite(x)) || (typeof y === "number" && !Number.isFinite(y))) return false;
      return test(x, y);
    };
    return { kind: "bool", evaluate, describe: "a comparison", at: left.at };
  }

  private sum(): Typed {
    let left = this.product();
    while (this.isOp("+", "-")) {
      const op = this.take();
      left = this.arithmetic(op, left, this.product());
    }
    return left;
  }

  private product(): Typed {
    let left = this.unary();
    while (this.isOp("*", "/")) {
      const op = this.take();
      left = this.arithmetic(op, left, this.unary());
    }
    return left;
  }

  private arithmetic(op: Token, left: Typed, right: Typed): Typed {
    for (const side of [left, right]) {
      if (side.kind !== "number") throw this.error(side.at, `expected a number on both sides of "${op.text}", got ${side.describe}`);
    }
    const a = left.evaluate;
    const b = right.evaluate;
    const evaluate: Evaluate =
      op.text === "+"
        ? (config) => (a(config) as number) + (b(config) as number)
        : op.text === "-"
          ? (config) => (a(config) as number) - (b(config) as number)
          : op.text === "*"
            ? (config) => (a(config) as number) * (b(config) as number)
            : (config) => (a(config) as number) / (b(config) as number);
    return { kind: "number", evaluate, describe: "a number", at: left.at };
  }

  private unary(): Typed {
    if (!this.isOp("-")) return this.atom();
    const op = this.take();
    const operand = this.unary();
    if (operand.kind !== "number") throw this.error(operand.at, `expected a number after "-", got ${operand.describe}`);
    const evaluate = operand.evaluate;
    return { kind: "number", evaluate: (config) => -(evaluate(config) as number), describe: "a number", at: op.at };
  }

  private atom(): Typed {
    const token = this.take();
    switch (token.kind) {
      case "number": {
        const value = token.value as number;
        this.numbers.push(value);
        return { kind: "number", evaluate: () => value, describe: `${token.text} (a number)`, at: token.at };
      }
      case "text": {
        const value = token.value as string;
        return { kind: "text", evaluate: () => value, describe: `${token.text} (a text)`, at: token.at, literal: value };
      }
      case "name":
        if (token.text === "true" || token.text === "false") {
          const value = token.text === "true";
          return { kind: "bool", evaluate: () => value, describe: `${token.text} (a bool)`, at: token.at };
        }
        if (KEYWORDS.has(token.text)) break;
        return this.parameter(token);
      case "op":
        if (token.text === "(") {
          const inner = this.or();
          const close = this.take();
          if (close.kind !== "op" || close.text !== ")") throw this.error(close.at, `expected ")" to close the "(" at column ${token.at + 1}, got ${show(close)}`);
          return { ...inner, at: token.at };
        }
        break;
      case "end":
        break;
    }
    throw this.error(token.at, `expected a number, a parameter, a quoted text, true, false or "(", got ${show(token)}`);
  }

  private parameter(token: Token): Typed {
    const spec = this.specs.get(token.text);
    if (!spec) {
      const known = this.catalog.map((p) => p.name).join(", ");
      throw this.error(token.at, `unknown parameter "${token.text}"; expected one of ${known || "(no parameters)"}, a number, a quoted text, true or false`, token.text);
    }
    this.names.push(spec.name);
    const name = spec.name;
    const read = (config: Configuration): ParamValue => {
      const value = config[name];
      if (value === undefined) throw new Error(`constraint ${JSON.stringify(this.source)}: the configuration has no value for ${name}`);
      return value;
    };
    switch (spec.type) {
      case "int":
      case "float":
        return { kind: "number", evaluate: (config) => Number(read(config)), describe: `${name} (a number)`, at: token.at };
      case "enum":
        return { kind: "text", evaluate: (config) => String(read(config)), describe: `${name} (an enum)`, at: token.at, enumOf: spec };
      case "bool":
        return { kind: "bool", evaluate: (config) => { const value = read(config); return value === true || value === "true"; }, describe: `${name} (a bool)`, at: token.at };
    }
  }
}

function comparison(op: string): (x: ParamValue, y: ParamValue) => boolean {
  switch (op) {
    case "<":
      return (x, y) => x < y;
    case "<=":
      return (x, y) => x <= y;
    case ">":
      return (x, y) => x > y;
    case ">=":
      return (x, y) => x >= y;
    case "==":
      return (x, y) => x === y;
    default:
      return (x, y) => x !== y;
  }
}

function show(token: Token): string {
  return token.kind === "end" ? "the end of the constraint" : JSON.stringify(token.text);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Random configurations tried, on top of the level combinations. */
const RANDOM_SAMPLES = 2000;
/** Level combinations tried: all of them up to this many, else this many at random. */
const LEVEL_SAMPLES = 4096;

/**
 * Whether some configuration of the catalog satisfies every constraint, by sampling: seeded
 * random configurations plus combinations of each parameter's levels (its ends and middle,
 * every value of an enum, bool or short int range, and the numbers the constraints mention).
 * Undefined when one does; else a message naming a smallest set of constraints that no sampled
 * configuration satisfies together. A region thinner than the samples (a float held to equal
 * an expression) can be reported as contradictory.
 */
export function checkSatisfiable(catalog: ParameterCatalog, constraints: readonly Constraint[], seed: number): string | undefined {
  if (constraints.length === 0) return undefined;
  const samples = sampleConfigurations(catalog, constraints, seed);
  const satisfiable = (set: readonly Constraint[]): boolean => samples.some((config) => set.every((c) => c.holds(config)));
  if (satisfiable(constraints)) return undefined;
  // shrink to a set that still conflicts without any one of its members
  let conflict = [...constraints];
  for (const constraint of constraints) {
    const without = conflict.filter((c) => c !== constraint);
    if (without.length > 0 && !satisfiable(without)) conflict = without;
  }
  const names = conflict.map((c) => JSON.stringify(c.source));
  const which = names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} and ${names.at(-1)} together`;
  return `contradictory constraints: none of ${samples.length} sampled configurations satisfies ${which} within the parameters' ranges`;
}

function sampleConfigurations(catalog: ParameterCatalog, constraints: readonly Constraint[], seed: number): Configuration[] {
  const rng = mulberry32(seed);
  const literals = constraints.flatMap((c) => literalsOf.get(c) ?? []);
  const levels = catalog.map((spec) => levelsOf(spec, literals));
  const combinations = levels.reduce((n, values) => n * values.length, 1);
  const samples: Configuration[] = [];
  if (combinations <= LEVEL_SAMPLES) {
    for (let k = 0; k < combinations; k++) {
      const config: Configuration = {};
      let rest = k;
      catalog.forEach((spec, i) => {
        const values = levels[i]!;
        config[spec.name] = values[rest % values.length]!;
        rest = Math.floor(rest / values.length);
      });
      samples.push(config);
    }
  } else {
    for (let k = 0; k < LEVEL_SAMPLES; k++) {
      samples.push(Object.fromEntries(catalog.map((spec, i) => [spec.name, levels[i]![randomInt(rng, levels[i]!.length)]!])));
    }
  }
  for (let k = 0; k < RANDOM_SAMPLES; k++) samples.push(decode(catalog, catalog.map(() => rng())));
  return samples;
}

/** The values of a parameter worth trying: ends, middle, every value of a small set, and the constraints' numbers in range. */
function levelsOf(spec: ParameterSpec, literals: readonly number[]): ParamValue[] {
  switch (spec.type) {
    case "bool":
      return [false, true];
    case "enum":
      return [...spec.values];
    case "int":
    case "float": {
      const middle = spec.scale === "log" ? Math.sqrt(spec.min * spec.max) : (spec.min + spec.max) / 2;
      const values = new Set<number>([spec.min, spec.max, spec.type === "int" ? Math.round(middle) : middle]);
      if (spec.type === "int" && spec.max - spec.min <= 16) for (let v = spec.min; v <= spec.max; v++) values.add(v);
      for (const n of literals) {
        if (n >= spec.min && n <= spec.max && (spec.type === "float" || Number.isInteger(n))) values.add(n);
      }
      return [...values];
    }
  }
}
