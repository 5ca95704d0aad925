import { describe, expect, it } from "vitest";
import type { Configuration, ParameterCatalog } from "../../src/core/types.js";
import { checkSatisfiable, compileConstraint, compileConstraints, ConstraintError } from "../../src/search/constraints.js";

const catalog: ParameterCatalog = [
  { name: "workers", type: "int", min: 1, max: 32, scale: "log", apply: { kind: "env", name: "W" } },
  { name: "threads", type: "int", min: 1, max: 16, scale: "linear", apply: { kind: "env", name: "T" } },
  { name: "cpus", type: "float", min: 0.5, max: 4, scale: "linear", apply: { kind: "cpus" } },
  { name: "heap", type: "int", min: 64, max: 4096, scale: "log", apply: { kind: "env", name: "H" } },
  { name: "gc", type: "enum", values: ["G1GC", "ParallelGC", "ZGC"], apply: { kind: "env", name: "G" } },
  { name: "fast", type: "bool", apply: { kind: "env", name: "F" } },
  { name: "max-pool", type: "int", min: 1, max: 8, scale: "linear", apply: { kind: "env", name: "M" } },
];
const base: Configuration = { workers: 4, threads: 2, cpus: 2, heap: 256, gc: "G1GC", fast: false, "max-pool": 4 };
const holds = (source: string, config: Partial<Configuration> = {}) => compileConstraint(source, catalog).holds({ ...base, ...config } as Configuration);

function errorOf(source: string): ConstraintError {
  try {
    compileConstraint(source, catalog);
  } catch (error) {
    if (error instanceof ConstraintError) return error;
    throw error;
  }
  throw new Error(`expected a ConstraintError for ${source}`);
}

describe("constraints: evaluation", () => {
  it("compares arithmetic on parameters and numbers", () => {
    expect(holds("threads * workers <= 8")).toBe(true);
    expect(holds("threads * workers <= 8", { threads: 3 })).toBe(false);
    expect(holds("workers <= 2 * cpus")).toBe(true);
    expect(holds("workers <= 2 * cpus", { cpus: 1.5 })).toBe(false);
    expect(holds("heap / 64 - 1 == 3")).toBe(true);
    expect(holds("-workers + 10 > 5")).toBe(true);
    expect(holds("workers != 4")).toBe(false);
    expect(holds("cpus >= .5e1")).toBe(false);
  });

  it("binds * and / tighter than + and -, and parentheses tightest", () => {
    expect(holds("1 + 2 * 3 == 7")).toBe(true);
    expect(holds("(1 + 2) * 3 == 9")).toBe(true);
    expect(holds("12 / 2 / 3 == 2")).toBe(true);
    expect(holds("10 - 4 - 3 == 3")).toBe(true);
    expect(holds("- - 2 == 2")).toBe(true);
  });

  it("binds not tighter than and, and and tighter than or", () => {
    // or(true, and(false, …)) = true; and(or(true, false), false) would be false
    expect(holds("workers == 4 or workers == 1 and threads == 9")).toBe(true);
    expect(holds("(workers == 4 or workers == 1) and threads == 9")).toBe(false);
    // not applies to the comparison, and not to the and
    expect(holds("not workers == 1 and threads == 2")).toBe(true);
    expect(holds("not (workers == 4 and threads == 2)")).toBe(false);
    expect(holds("not not fast == false")).toBe(true);
  });

  it("compares enums with quoted values and reads bools", () => {
    expect(holds("gc != 'ZGC' or heap >= 512")).toBe(true);
    expect(holds("gc != 'ZGC' or heap >= 512", { gc: "ZGC" })).toBe(false);
    expect(holds("gc != 'ZGC' or heap >= 512", { gc: "ZGC", heap: 1024 })).toBe(true);
    expect(holds('gc == "G1GC"')).toBe(true);
    expect(holds("fast")).toBe(false);
    expect(holds("fast or true")).toBe(true);
    expect(holds("fast == false and not fast")).toBe(true);
    expect(holds("fast", { fast: "true" })).toBe(true);
  });

  it("reads a name with a hyphen when the catalog has it, else subtracts", () => {
    const constraint = compileConstraint("max-pool <= workers-threads", catalog);
    expect(constraint.parameters).toEqual(["max-pool", "workers", "threads"]);
    expect(constraint.holds(base)).toBe(false);
    expect(constraint.holds({ ...base, "max-pool": 2 })).toBe(true);
  });

  it("lists the parameters it names once each, in order", () => {
    const [a, b] = compileConstraints(["threads * workers <= 64 or workers < threads", "true"], catalog);
    expect(a).toMatchObject({ source: "threads * workers <= 64 or workers < threads", parameters: ["threads", "workers"] });
    expect(b!.parameters).toEqual([]);
    expect(b!.holds(base)).toBe(true);
  });

  it("makes every comparison with a division by zero false", () => {
    expect(holds("workers / 0 > 1")).toBe(false);
    expect(holds("workers / 0 != 1")).toBe(false);
    expect(holds("not (workers / 0 > 1)")).toBe(true);
  });

  it("refuses to evaluate a configuration that lacks a parameter it names", () => {
    expect(() => compileConstraint("workers <= 8", catalog).holds({ threads: 1 })).toThrow('constraint "workers <= 8": the configuration has no value for workers');
  });
});

describe("constraints: errors name the constraint, the column and what was expected", () => {
  it.each([
    ["an unknown parameter", "threads * workres <= 64", 'constraint "threads * workres <= 64", column 11: unknown parameter "workres"; expected one of workers, threads, cpus, heap, gc, fast, max-pool, a number, a quoted text, true or false'],
    ["a missing operand", "workers <= ", 'constraint "workers <= ", column 12: expected a number, a parameter, a quoted text, true, false or "(", got the end of the constraint'],
    ["an unclosed parenthesis", "(workers <= 4", 'constraint "(workers <= 4", column 14: expected ")" to close the "(" at column 1, got the end of the constraint'],
    ["a single =", "workers = 4", 'constraint "workers = 4", column 9: expected "==" instead of "="'],
    ["&&", "workers == 4 && fast", 'constraint "workers == 4 && fast", column 14: expected "and" instead of "&&"'],
    ["an unknown character", "workers % 2 == 0", 'constraint "workers % 2 == 0", column 9: expected a number, a parameter, a quoted text or an operator, got "%"'],
    ["an unclosed quote", "gc == 'ZGC", 'constraint "gc == \'ZGC", column 7: expected a closing \' for the text that starts here'],
    ["a chained comparison", "1 < workers < 8", 'constraint "1 < workers < 8", column 13: expected "and" or "or" between comparisons (write a < b and b < c), got "<"'],
    ["no comparison", "workers * 2", 'constraint "workers * 2", column 1: expected a comparison such as "heap >= 512" or a true/false expression, got a number'],
    ["an enum ordered", "gc < 'ZGC'", "constraint \"gc < 'ZGC'\", column 1: expected a number on both sides of \"<\", got gc (an enum) (compare an enum with == or !=)"],
    ["an enum compared with a number", "gc == 1", 'constraint "gc == 1", column 4: expected the same kind of value on both sides of "==", got gc (an enum) and 1 (a number)'],
    ["a value the enum lacks", "gc == 'Shenandoah'", "constraint \"gc == 'Shenandoah'\", column 7: expected one of 'G1GC', 'ParallelGC', 'ZGC' (the values of gc), got 'Shenandoah'"],
    ["arithmetic on a bool", "fast + 1 > 0", 'constraint "fast + 1 > 0", column 1: expected a number on both sides of "+", got fast (a bool)'],
    ["and on a number", "workers and fast", 'constraint "workers and fast", column 1: expected a comparison or true/false on both sides of "and", got workers (a number)'],
    ["not on a number", "not workers", 'constraint "not workers", column 5: expected a comparison or true/false after "not", got workers (a number)'],
    ["trailing tokens", "workers <= 4 threads", 'constraint "workers <= 4 threads", column 14: expected "and", "or" or the end of the constraint, got "threads"'],
    ["an empty constraint", "  ", 'constraint "  ", column 1: expected a rule such as "threads * workers <= 64", got an empty constraint'],
    ["a keyword as an operand", "workers <= and", 'constraint "workers <= and", column 12: expected a number, a parameter, a quoted text, true, false or "(", got "and"'],
  ])("%s", (_what, source, message) => {
    const error = errorOf(source);
    expect(error.message).toBe(message);
    expect(error.source).toBe(source);
    expect(error.column).toBe(Number(/column (\d+)/.exec(message)![1]));
  });

  it("names the unknown parameter and the index of the failing constraint", () => {
    let error: unknown;
    try {
      compileConstraints(["workers <= 8", "heapsize >= 1"], catalog);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConstraintError);
    expect(error).toMatchObject({ index: 1, column: 1, unknownParameter: "heapsize" });
  });
});

describe("checkSatisfiable", () => {
  it("accepts constraints some configuration satisfies, even a narrow one", () => {
    const constraints = compileConstraints(["threads * workers <= 64", "gc != 'ZGC' or heap >= 512", "cpus == 3.25", "workers == 17"], catalog);
    expect(checkSatisfiable(catalog, constraints, 1)).toBeUndefined();
    expect(checkSatisfiable(catalog, [], 1)).toBeUndefined();
  });

  it("names a constraint no value in range satisfies", () => {
    const constraints = compileConstraints(["threads <= 16", "workers > 40"], catalog);
    expect(checkSatisfiable(catalog, constraints, 1)).toMatch(/^contradictory constraints: none of \d+ sampled configurations satisfies "workers > 40" within the parameters' ranges$/);
  });

  it("names the smallest set that conflicts, leaving out the innocent ones", () => {
    const constraints = compileConstraints(["heap >= 128", "workers > 8", "fast or not fast", "workers * threads < 8"], catalog);
    expect(checkSatisfiable(catalog, constraints, 7)).toMatch(/^contradictory constraints: none of \d+ sampled configurations satisfies "workers > 8" and "workers \* threads < 8" together within the parameters' ranges$/);
  });

  it("is deterministic for a seed", () => {
    const constraints = compileConstraints(["gc == 'ZGC' and heap < 64"], catalog);
    expect(checkSatisfiable(catalog, constraints, 3)).toBe(checkSatisfiable(catalog, constraints, 3));
  });
});
