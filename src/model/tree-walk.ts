/**
 * Walking rows down the native engine's trees (native-forest.ts grows them): the hot path of
 * every prediction, 100,000 configurations × 100 trees × ~12 levels.
 *
 * Three things make it fast, each measured on 1,000 trials × 20 features, 100 trees:
 * - nodes packed four 32-bit words each (feature, threshold bits, left, right), the child
 *   picked by index rather than by a branch;
 * - four rows walked at once, so the CPU overlaps their memory reads (940 → 450 ms);
 * - large inputs split across worker threads, one per spare core: the prediction API stays
 *   synchronous (the main thread walks its share, then waits on an Atomics flag per worker).
 *   A worker that fails or stalls is retired and its rows are walked here instead.
 *
 * `leavesOfTree` and `sumRows` are also the workers' code (sent as source text), so they use
 * nothing from outside themselves but each other.
 */
import os from "node:os";
import { Worker } from "node:worker_threads";

/** A forest's nodes, packed for walking (in shared memory, so workers read them in place). */
export interface PackedNodes {
  /** per node: feature (-1 for a leaf), threshold or leaf value (float32 bits), 4 × left, 4 × right */
  words: Int32Array;
  /** the same memory as float32 */
  floats: Float32Array;
}

/** Packs nodes given as feature (-1: leaf), value (threshold or leaf value) and right child; the left child is the next node. */
export function packNodes(feature: Int32Array, value: Float32Array, right: Int32Array): PackedNodes {
  const buffer = new SharedArrayBuffer(feature.length * 16);
  const words = new Int32Array(buffer);
  const floats = new Float32Array(buffer);
  for (let q = 0; q < feature.length; q++) {
    words[4 * q] = feature[q]!;
    floats[4 * q + 1] = value[q]!;
    words[4 * q + 2] = 4 * (q + 1);
    words[4 * q + 3] = 4 * right[q]!;
  }
  return { words, floats };
}

/**
 * The leaf value of one tree (its root at word `root`) for rows [from, to) of M (row-major,
 * p columns), into leaves[r - from]. Four rows at once: their steps are independent.
 */
function leavesOfTree(root: number, words: Int32Array, floats: Float32Array, M: Float32Array, p: number, from: number, to: number, leaves: Float64Array): void {
  const leaf = -1;
  let r = from;
  for (; r + 3 < to; r += 4) {
    const b0 = r * p;
    const b1 = b0 + p;
    const b2 = b1 + p;
    const b3 = b2 + p;
    let q0 = root;
    let q1 = root;
    let q2 = root;
    let q3 = root;
    let f0 = words[root]!;
    let f1 = f0;
    let f2 = f0;
    let f3 = f0;
    while (f0 !== leaf || f1 !== leaf || f2 !== leaf || f3 !== leaf) {
      if (f0 !== leaf) {
        q0 = words[q0 + 2 + +(M[b0 + f0]! > floats[q0 + 1]!)]!;
        f0 = words[q0]!;
      }
      if (f1 !== leaf) {
        q1 = words[q1 + 2 + +(M[b1 + f1]! > floats[q1 + 1]!)]!;
        f1 = words[q1]!;
      }
      if (f2 !== leaf) {
        q2 = words[q2 + 2 + +(M[b2 + f2]! > floats[q2 + 1]!)]!;
        f2 = words[q2]!;
      }
      if (f3 !== leaf) {
        q3 = words[q3 + 2 + +(M[b3 + f3]! > floats[q3 + 1]!)]!;
        f3 = words[q3]!;
      }
    }
    leaves[r - from] = floats[q0 + 1]!;
    leaves[r - from + 1] = floats[q1 + 1]!;
    leaves[r - from + 2] = floats[q2 + 1]!;
    leaves[r - from + 3] = floats[q3 + 1]!;
  }
  for (; r < to; r++) {
    const base = r * p;
    let q = root;
    let f = words[q]!;
    while (f !== leaf) {
      q = words[q + 2 + +(M[base + f]! > floats[q + 1]!)]!;
      f = words[q]!;
    }
    leaves[r - from] = floats[q + 1]!;
  }
}

/**
 * Sum and sum of squares over all trees of the leaf values of rows [from, to), into
 * sum/sumSq at [r - from]. Blocks of 512 rows go through all trees before the next block, so
 * a block's features stay in the L1 cache while the trees stream past.
 */
function sumRows(roots: Int32Array, words: Int32Array, floats: Float32Array, M: Float32Array, p: number, from: number, to: number, sum: Float64Array, sumSq: Float64Array): void {
  const block = 512;
  const leaves = new Float64Array(block);
  for (let start = from; start < to; start += block) {
    const end = Math.min(to, start + block);
    for (let t = 0; t < roots.length; t++) {
      leavesOfTree(4 * roots[t]!, words, floats, M, p, start, end, leaves);
      for (let r = start; r < end; r++) {
        const v = leaves[r - start]!;
        sum[r - from]! += v;
        sumSq[r - from]! += v * v;
      }
    }
  }
}

/** Every tree's leaf values for all rows, handed over a block of rows and one tree at a time. */
export function walkTrees(
  roots: Int32Array,
  nodes: PackedNodes,
  M: Float32Array,
  p: number,
  rows: number,
  take: (tree: number, from: number, to: number, leaves: Float64Array) => void,
): void {
  const block = 512;
  const leaves = new Float64Array(block);
  for (let from = 0; from < rows; from += block) {
    const to = Math.min(rows, from + block);
    for (let t = 0; t < roots.length; t++) {
      leavesOfTree(4 * roots[t]!, nodes.words, nodes.floats, M, p, from, to, leaves);
      take(t, from, to, leaves);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Worker threads

/** Below this many row × tree visits the threads' hand-over costs more than it saves. */
const PARALLEL_MIN_VISITS = 1_000_000;
/** A worker gets this long beyond 4× the main thread's own share before it is given up. */
const WORKER_GRACE_MS = 2000;

interface Pool {
  workers: Worker[];
  broken: boolean;
}

let pool: Pool | undefined;

/** Rows walked by worker threads, and rows a failed or stalled worker left to this thread (for tests and benchmarks). */
export const threadCounters = { rowsByWorkers: 0, rowsTakenBack: 0 };

/**
 * Helper threads to use: SHADOWGATE_MODEL_THREADS (total threads, 1 = none) or one per
 * spare core, at most 3.
 */
function helperCount(): number {
  const setting = process.env.SHADOWGATE_MODEL_THREADS;
  if (setting !== undefined && setting.trim() !== "") {
    const n = Number(setting);
    return Number.isInteger(n) && n >= 1 ? Math.min(n, 16) - 1 : 0;
  }
  const cores = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
  return Math.max(0, Math.min(3, cores - 1));
}

const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
${leavesOfTree.toString()}
const run = (${sumRows.toString()});
parentPort.on("message", (job) => {
  const done = new Int32Array(job.done);
  try {
    const out = new Float64Array(job.out);
    const rows = job.to - job.from;
    run(new Int32Array(job.roots), new Int32Array(job.nodes), new Float32Array(job.nodes), new Float32Array(job.M), job.p, job.from, job.to, out.subarray(0, rows), out.subarray(rows));
    Atomics.store(done, job.slot, 1);
  } catch (error) {
    Atomics.store(done, job.slot, 2);
  }
  Atomics.notify(done, job.slot);
});
`;

function helpers(): Worker[] {
  const wanted = helperCount();
  if (wanted === 0) return [];
  if (pool && (pool.broken || pool.workers.length !== wanted)) {
    for (const worker of pool.workers) void worker.terminate();
    pool = undefined;
  }
  if (!pool) {
    const created: Pool = { workers: [], broken: false };
    for (let i = 0; i < wanted; i++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      // never keeps the process alive; a failed worker retires the pool (rebuilt on next use)
      worker.unref();
      worker.on("error", () => (created.broken = true));
      worker.on("exit", () => (created.broken = true));
      created.workers.push(worker);
    }
    pool = created;
  }
  return pool.workers;
}

/**
 * Per row of M (row-major float32, p columns), the sum and sum of squares of the trees'
 * leaf values. Large inputs are split across worker threads (see the module comment).
 */
export function treeSums(roots: Int32Array, nodes: PackedNodes, M: Float32Array, p: number, rows: number): { sum: Float64Array; sumSq: Float64Array } {
  const sum = new Float64Array(rows);
  const sumSq = new Float64Array(rows);
  const workers = rows * roots.length >= PARALLEL_MIN_VISITS && nodes.words.buffer instanceof SharedArrayBuffer ? helpers() : [];
  if (workers.length === 0) {
    sumRows(roots, nodes.words, nodes.floats, M, p, 0, rows, sum, sumSq);
    return { sum, sumSq };
  }
  const shared = new Float32Array(new SharedArrayBuffer(M.byteLength));
  shared.set(M);
  const parts = workers.length + 1;
  const edges = Array.from({ length: parts + 1 }, (_, i) => Math.round((i * rows) / parts));
  const done = new Int32Array(new SharedArrayBuffer(4 * workers.length));
  const outs = workers.map((worker, w) => {
    const from = edges[w + 1]!;
    const to = edges[w + 2]!;
    const out = new SharedArrayBuffer(16 * (to - from));
    worker.postMessage({ roots: roots.slice().buffer, nodes: nodes.words.buffer, M: shared.buffer, p, from, to, out, done: done.buffer, slot: w });
    return { from, to, out };
  });
  const started = performance.now();
  sumRows(roots, nodes.words, nodes.floats, M, p, 0, edges[1]!, sum, sumSq);
  const timeout = 4 * (performance.now() - started) + WORKER_GRACE_MS;
  outs.forEach(({ from, to, out }, w) => {
    const left = Math.max(0, timeout - (performance.now() - started));
    const state = Atomics.wait(done, w, 0, left) === "timed-out" ? 0 : Atomics.load(done, w);
    if (state === 1) {
      const values = new Float64Array(out);
      sum.set(values.subarray(0, to - from), from);
      sumSq.set(values.subarray(to - from), from);
      threadCounters.rowsByWorkers += to - from;
      return;
    }
    // failed or stalled: this thread walks its rows, and the pool is rebuilt next time
    if (pool) pool.broken = true;
    threadCounters.rowsTakenBack += to - from;
    sumRows(roots, nodes.words, nodes.floats, M, p, from, to, sum.subarray(from, to), sumSq.subarray(from, to));
  });
  return { sum, sumSq };
}
