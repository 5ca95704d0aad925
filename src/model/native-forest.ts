/**
 * Shadowgate's own random-forest engine: CART regression trees grown on bootstrap samples
 * (or subsamples), with the feature columns sampled afresh at every split.
 *
 * Growing. Each feature column is sorted once per fit; each tree keeps, per feature, the
 * in-bag rows in that order and partitions the lists stably as nodes split, so a node's rows
 * are always a contiguous, sorted range of every list. The best split of a feature is then
 * one scan with running sums (variance reduction, O(rows) per feature per node); thresholds
 * are midpoints between consecutive distinct values. As in scikit-learn, `mtry` counts the
 * features that vary in the node: constant ones are skipped and another is drawn, so a node
 * becomes a leaf for want of a split only when no feature varies. `minLeaf` counts distinct
 * rows (bootstrap copies of a row are one row, weighted by their count). Features are read
 * as 32-bit floats (training and prediction alike); thresholds and leaf values are 32-bit
 * floats, which is what is stored, so a loaded forest predicts exactly what the fitted
 * one did.
 *
 * Storage. All trees live in flat typed arrays, in preorder (a split node's left child is
 * the next node): feature index (-1 for a leaf), threshold or leaf value, right child. The
 * JSON holds the feature indices (1 or 2 bytes per node) and the values (float32) as two
 * DEFLATE-compressed, base64 blocks: 1.5–4.5 characters per node, fewer the more thresholds
 * and leaf values repeat (configuration options with few levels); children are rebuilt from
 * the preorder on load.
 *
 * Each tree draws from its own stream derived from (seed, tree index): the first k trees of
 * a forest are the forest grown with nTrees = k.
 */
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { deriveSeed, mulberry32, randomInt } from "../search/random.js";
import type { FitForest, ForestParams, ForestRegressor, TreeStats } from "./regressor.js";
import { packNodes, treeSums, walkTrees, type PackedNodes } from "./tree-walk.js";

export const NATIVE_FOREST_KIND = "native-forest";
export const NATIVE_FOREST_VERSION = 1;

/** The JSON document of a native forest. */
export interface NativeForestJson {
  kind: typeof NATIVE_FOREST_KIND;
  version: typeof NATIVE_FOREST_VERSION;
  nFeatures: number;
  nTrees: number;
  params: ForestParams;
  /** nodes per tree, in tree order */
  nodes: number[];
  /** bytes per feature index: 1 (leaf = 255) when nFeatures < 255, else 2 (leaf = 65535); little-endian */
  featureBytes: 1 | 2;
  /** how `feature` and `value` are packed: raw DEFLATE (RFC 1951), then base64 */
  compression: "deflate-raw";
  /** the feature index of every node */
  feature: string;
  /** float32 little-endian: the threshold of a split node, the value of a leaf */
  value: string;
}

/** A fitted native forest: the engine interface plus a look inside. */
export interface NativeForest extends ForestRegressor {
  readonly nFeatures: number;
  /** nodes over all trees */
  readonly nodeCount: number;
  readonly params: Readonly<ForestParams>;
  /** the features a tree splits on, in preorder (root first) */
  splitFeatures(tree: number): number[];
  /** splits per feature over the whole forest */
  splitCounts(): number[];
  toJSON(): NativeForestJson;
}

const LEAF = -1;

// ---------------------------------------------------------------------------------------
// Validation

function checkParams(params: ForestParams): ForestParams {
  const fail: (what: string) => never = (what) => {
    throw new Error(`native forest: ${what}`);
  };
  const { nTrees, mtry, minLeaf, maxDepth, sampleFraction, bootstrap, seed } = params;
  if (!Number.isInteger(nTrees) || nTrees < 1) fail(`nTrees must be a positive integer (got ${nTrees})`);
  if (!(mtry > 0 && mtry <= 1)) fail(`mtry must be a fraction in (0, 1] (got ${mtry})`);
  if (!Number.isInteger(minLeaf) || minLeaf < 1) fail(`minLeaf must be a positive integer (got ${minLeaf})`);
  if (!(maxDepth >= 0) || !(Number.isInteger(maxDepth) || maxDepth === Infinity)) fail(`maxDepth must be a non-negative integer (got ${maxDepth})`);
  if (!(sampleFraction > 0 && sampleFraction <= 1)) fail(`sampleFraction must be in (0, 1] (got ${sampleFraction})`);
  if (typeof bootstrap !== "boolean") fail(`bootstrap must be a boolean`);
  if (!Number.isFinite(seed)) fail(`seed must be a finite number (got ${seed})`);
  return { nTrees, mtry, minLeaf, maxDepth, sampleFraction, bootstrap, seed };
}

/** Rows → row-major float32 matrix, checking shape and finiteness. */
function toMatrix(X: readonly (readonly number[])[], p: number, who: string): Float32Array {
  const n = X.length;
  const out = new Float32Array(n * p);
  for (let i = 0; i < n; i++) {
    const row = X[i] as readonly number[];
    if (!row || row.length !== p) throw new Error(`${who}: row ${i} has ${row ? row.length : "no"} features, expected ${p}`);
    for (let j = 0; j < p; j++) {
      const v = row[j] as number;
      if (!Number.isFinite(v)) throw new Error(`${who}: row ${i}, feature ${j} is not a finite number (${v})`);
      out[i * p + j] = v;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Growing

interface GrowContext {
  n: number;
  p: number;
  /** column-major float32 features: cols[f * n + i] */
  cols: Float32Array;
  y: Float64Array;
  /** per feature, all rows sorted by value (stable by index): order[f * n + k] */
  order: Int32Array;
  params: ForestParams;
}

interface TreeArrays {
  feature: number[];
  value: number[];
  right: number[];
}

/** A threshold t with a ≤ t < b, both float32; the midpoint when float32 can hold it. */
function midpoint(a: number, b: number): number {
  const t = Math.fround(a + (b - a) / 2);
  return t >= a && t < b ? t : a;
}

function growTree(ctx: GrowContext, treeIndex: number, out: TreeArrays): void {
  const { n, p, cols, y, order, params } = ctx;
  const rng = mulberry32(deriveSeed(params.seed, `native-forest:tree:${treeIndex}`));

  // In-bag rows and their weights (bootstrap counts).
  const weight = new Float64Array(n);
  const draws = Math.max(1, Math.round(params.sampleFraction * n));
  if (params.bootstrap) {
    for (let k = 0; k < draws; k++) weight[randomInt(rng, n)]! += 1;
  } else {
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    for (let k = 0; k < Math.min(draws, n); k++) {
      const j = k + randomInt(rng, n - k);
      const tmp = idx[k]!;
      idx[k] = idx[j]!;
      idx[j] = tmp;
      weight[idx[k]!] = 1;
    }
  }
  let m = 0;
  for (let i = 0; i < n; i++) if (weight[i]! > 0) m++;

  if (p === 0) {
    let W = 0;
    let S = 0;
    for (let i = 0; i < n; i++) {
      W += weight[i]!;
      S += weight[i]! * y[i]!;
    }
    out.feature.push(LEAF);
    out.value.push(Math.fround(S / W));
    out.right.push(-1);
    return;
  }

  // Per feature, the in-bag rows in sorted order.
  const sorted = new Int32Array(p * m);
  for (let f = 0; f < p; f++) {
    let k = f * m;
    const base = f * n;
    for (let r = 0; r < n; r++) {
      const i = order[base + r]!;
      if (weight[i]! > 0) sorted[k++] = i;
    }
  }

  const k = Math.min(p, Math.max(1, Math.round(params.mtry * p)));
  const features = Int32Array.from({ length: p }, (_, i) => i);
  const goLeft = new Uint8Array(n);
  const buffer = new Int32Array(m);
  const { minLeaf, maxDepth } = params;

  // Explicit stack: start, end, depth, parent whose right child this is (-1 for a left child).
  const stack: number[] = [0, m, 0, -1];
  while (stack.length > 0) {
    const parent = stack.pop()!;
    const depth = stack.pop()!;
    const end = stack.pop()!;
    const start = stack.pop()!;
    const node = out.feature.length;
    if (parent >= 0) out.right[parent] = node;

    // Node statistics (any feature's list holds the node's rows).
    let W = 0;
    let S = 0;
    let yMin = Infinity;
    let yMax = -Infinity;
    for (let q = start; q < end; q++) {
      const i = sorted[q]!;
      const w = weight[i]!;
      const v = y[i]!;
      W += w;
      S += w * v;
      if (v < yMin) yMin = v;
      if (v > yMax) yMax = v;
    }
    const mean = S / W;
    const rows = end - start;
    if (depth >= maxDepth || rows < 2 * minLeaf || !(yMax > yMin)) {
      out.feature.push(LEAF);
      out.value.push(Math.fround(mean));
      out.right.push(-1);
      continue;
    }

    // Best split over up to k varying features, drawn in random order.
    let bestScore = -1;
    let bestFeature = -1;
    let bestPos = -1;
    let bestThreshold = 0;
    let tried = 0;
    for (let d = 0; d < p && tried < k; d++) {
      const j = d + randomInt(rng, p - d);
      const f = features[j]!;
      features[j] = features[d]!;
      features[d] = f;
      const base = f * m;
      const colBase = f * n;
      if (!(cols[colBase + sorted[base + end - 1]!]! > cols[colBase + sorted[base + start]!]!)) continue; // constant here
      tried++;
      // Centred running sums: score = SL²/WL + SR²/WR with S = 0 is the variance reduction × W.
      let wl = 0;
      let sl = 0;
      let cl = 0;
      for (let q = start; q < end - 1; q++) {
        const i = sorted[base + q]!;
        const w = weight[i]!;
        wl += w;
        sl += w * (y[i]! - mean);
        cl++;
        if (cl < minLeaf) continue;
        if (rows - cl < minLeaf) break;
        const a = cols[colBase + i]!;
        const b = cols[colBase + sorted[base + q + 1]!]!;
        if (!(b > a)) continue;
        const sr = -sl;
        const score = (sl * sl) / wl + (sr * sr) / (W - wl);
        if (score > bestScore) {
          bestScore = score;
          bestFeature = f;
          bestPos = q + 1;
          bestThreshold = midpoint(a, b);
        }
      }
    }
    if (bestFeature < 0) {
      out.feature.push(LEAF);
      out.value.push(Math.fround(mean));
      out.right.push(-1);
      continue;
    }

    // Partition every feature's list stably: rows of the left child first.
    const splitBase = bestFeature * m;
    for (let q = start; q < end; q++) goLeft[sorted[splitBase + q]!] = q < bestPos ? 1 : 0;
    for (let f = 0; f < p; f++) {
      if (f === bestFeature) continue;
      const base = f * m;
      let l = base + start;
      let r = 0;
      for (let q = base + start; q < base + end; q++) {
        const i = sorted[q]!;
        if (goLeft[i] === 1) sorted[l++] = i;
        else buffer[r++] = i;
      }
      sorted.set(buffer.subarray(0, r), l);
    }

    out.feature.push(bestFeature);
    out.value.push(bestThreshold);
    out.right.push(-1);
    // right child is popped after the whole left subtree: preorder, left = node + 1
    stack.push(bestPos, end, depth + 1, node);
    stack.push(start, bestPos, depth + 1, -1);
  }
}

/** Grows a native forest (see the module comment); a `FitForest` whose forests can be looked into. */
export function fitNativeForest(X: readonly (readonly number[])[], y: readonly number[], params: ForestParams): NativeForest {
  const checked = checkParams(params);
  const n = X.length;
  if (n === 0) throw new Error("native forest: no training rows");
  if (y.length !== n) throw new Error(`native forest: ${n} rows but ${y.length} targets`);
  const p = (X[0] as readonly number[]).length;
  const rowMajor = toMatrix(X, p, "native forest");
  const yy = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = y[i] as number;
    if (!Number.isFinite(v)) throw new Error(`native forest: target ${i} is not a finite number (${v})`);
    yy[i] = v;
  }
  const cols = new Float32Array(n * p);
  for (let i = 0; i < n; i++) for (let f = 0; f < p; f++) cols[f * n + i] = rowMajor[i * p + f]!;
  const order = new Int32Array(n * p);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let f = 0; f < p; f++) {
    const base = f * n;
    idx.sort((a, b) => cols[base + a]! - cols[base + b]! || a - b);
    for (let i = 0; i < n; i++) order[base + i] = idx[i]!;
  }
  const ctx: GrowContext = { n, p, cols, y: yy, order, params: checked };
  const arrays: TreeArrays = { feature: [], value: [], right: [] };
  const roots = new Int32Array(checked.nTrees);
  for (let t = 0; t < checked.nTrees; t++) {
    roots[t] = arrays.feature.length;
    const tree: TreeArrays = { feature: [], value: [], right: [] };
    growTree(ctx, t, tree);
    const offset = roots[t]!;
    for (let q = 0; q < tree.feature.length; q++) {
      arrays.feature.push(tree.feature[q]!);
      arrays.value.push(tree.value[q]!);
      arrays.right.push(tree.right[q]! < 0 ? -1 : tree.right[q]! + offset);
    }
  }
  return new Native(p, checked, roots, Int32Array.from(arrays.feature), Float32Array.from(arrays.value), Int32Array.from(arrays.right));
}
fitNativeForest satisfies FitForest;

// ---------------------------------------------------------------------------------------
// The fitted forest

class Native implements NativeForest {
  readonly nTrees: number;

  constructor(
    readonly nFeatures: number,
    readonly params: Readonly<ForestParams>,
    private readonly roots: Int32Array,
    private readonly feature: Int32Array,
    private readonly value: Float32Array,
    private readonly right: Int32Array,
  ) {
    this.nTrees = roots.length;
    this.nodes = packNodes(feature, value, right);
  }

  private readonly nodes: PackedNodes;

  get nodeCount(): number {
    return this.feature.length;
  }

  predict(X: readonly (readonly number[])[]): number[] {
    return Array.from(this.treeStats(X).mean);
  }

  treeStats(X: readonly (readonly number[])[]): TreeStats {
    const M = toMatrix(X, this.nFeatures, "native forest treeStats");
    const rows = X.length;
    const { sum, sumSq } = treeSums(this.roots, this.nodes, M, this.nFeatures, rows);
    const n = this.nTrees;
    for (let r = 0; r < rows; r++) {
      const m = sum[r]! / n;
      sum[r] = m;
      sumSq[r] = n > 1 ? Math.sqrt(Math.max(0, sumSq[r]! / n - m * m)) : 0;
    }
    return { mean: sum, sd: sumSq };
  }

  treeValues(X: readonly (readonly number[])[]): number[][] {
    const M = toMatrix(X, this.nFeatures, "native forest treeValues");
    const rows = X.length;
    const out = Array.from({ length: rows }, () => new Array<number>(this.nTrees));
    walkTrees(this.roots, this.nodes, M, this.nFeatures, rows, (tree, from, to, leaves) => {
      for (let r = from; r < to; r++) (out[r] as number[])[tree] = leaves[r - from]!;
    });
    return out;
  }

  splitFeatures(tree: number): number[] {
    if (!(Number.isInteger(tree) && tree >= 0 && tree < this.nTrees)) throw new Error(`native forest: no tree ${tree}`);
    const from = this.roots[tree]!;
    const to = tree + 1 < this.nTrees ? this.roots[tree + 1]! : this.feature.length;
    const out: number[] = [];
    for (let q = from; q < to; q++) if (this.feature[q] !== LEAF) out.push(this.feature[q]!);
    return out;
  }

  splitCounts(): number[] {
    const counts = new Array<number>(this.nFeatures).fill(0);
    for (const f of this.feature) if (f !== LEAF) counts[f]!++;
    return counts;
  }

  toJSON(): NativeForestJson {
    const featureBytes: 1 | 2 = this.nFeatures < 255 ? 1 : 2;
    const count = this.feature.length;
    const fb = Buffer.alloc(count * featureBytes);
    const vb = Buffer.alloc(count * 4);
    for (let q = 0; q < count; q++) {
      const f = this.feature[q]!;
      if (featureBytes === 1) fb.writeUInt8(f === LEAF ? 255 : f, q);
      else fb.writeUInt16LE(f === LEAF ? 65535 : f, q * 2);
      vb.writeFloatLE(this.value[q]!, q * 4);
    }
    const nodes: number[] = [];
    for (let t = 0; t < this.nTrees; t++) nodes.push((t + 1 < this.nTrees ? this.roots[t + 1]! : count) - this.roots[t]!);
    return {
      kind: NATIVE_FOREST_KIND,
      version: NATIVE_FOREST_VERSION,
      nFeatures: this.nFeatures,
      nTrees: this.nTrees,
      params: { ...this.params, maxDepth: Number.isFinite(this.params.maxDepth) ? this.params.maxDepth : (null as unknown as number) },
      nodes,
      featureBytes,
      compression: "deflate-raw",
      feature: deflateRawSync(fb).toString("base64"),
      value: deflateRawSync(vb).toString("base64"),
    };
  }
}

// ---------------------------------------------------------------------------------------
// Loading

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function unpack(text: unknown, bytes: number, what: string): Buffer {
  if (typeof text !== "string" || text.length % 4 !== 0 || !BASE64.test(text)) {
    throw new Error(`loadNativeForest: ${what} is not base64`);
  }
  let buf: Buffer;
  try {
    buf = inflateRawSync(Buffer.from(text, "base64"), { maxOutputLength: Math.max(1, bytes + 1) });
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") throw new Error(`loadNativeForest: ${what} holds more than ${bytes} bytes, expected ${bytes}`);
    throw new Error(`loadNativeForest: ${what} does not inflate (${(error as Error).message})`);
  }
  if (buf.length !== bytes) throw new Error(`loadNativeForest: ${what} holds ${buf.length} bytes, expected ${bytes}`);
  return buf;
}

/** Rebuilds a forest from its `toJSON()`; throws on another kind or version, or a damaged document. */
export function loadNativeForest(json: unknown): NativeForest {
  const fail: (what: string) => never = (what) => {
    throw new Error(`loadNativeForest: ${what}`);
  };
  if (typeof json !== "object" || json === null) fail("not an object");
  const doc = json as Partial<Record<keyof NativeForestJson, unknown>>;
  if (doc.kind !== NATIVE_FOREST_KIND) fail(`not a native forest (kind ${JSON.stringify(doc.kind)}, expected "${NATIVE_FOREST_KIND}")`);
  if (doc.version !== NATIVE_FOREST_VERSION) {
    fail(`unsupported version ${JSON.stringify(doc.version)} (this build reads version ${NATIVE_FOREST_VERSION}); refit the model`);
  }
  const p = doc.nFeatures;
  const nTrees = doc.nTrees;
  if (typeof p !== "number" || !Number.isInteger(p) || p < 0) fail("nFeatures must be a non-negative integer");
  if (typeof nTrees !== "number" || !Number.isInteger(nTrees) || nTrees < 1) fail("nTrees must be a positive integer");
  if (typeof doc.params !== "object" || doc.params === null) fail("params missing");
  let params: ForestParams;
  try {
    const raw = doc.params as Record<string, unknown>;
    // JSON has no Infinity: an unlimited depth is stored as null
    params = checkParams({ ...(raw as unknown as ForestParams), maxDepth: raw.maxDepth === null ? Infinity : (raw.maxDepth as number) });
  } catch (error) {
    return fail(`params: ${(error as Error).message}`);
  }
  if (params.nTrees !== nTrees) fail(`params.nTrees ${params.nTrees} differs from nTrees ${nTrees}`);
  const nodes = doc.nodes;
  if (!Array.isArray(nodes) || nodes.length !== nTrees) fail(`nodes must list the node count of each of the ${nTrees} trees`);
  let total = 0;
  for (const c of nodes as unknown[]) {
    if (typeof c !== "number" || !Number.isInteger(c) || c < 1) fail("node counts must be positive integers");
    total += c as number;
  }
  const featureBytes = doc.featureBytes;
  if (featureBytes !== 1 && featureBytes !== 2) fail("featureBytes must be 1 or 2");
  if (doc.compression !== "deflate-raw") fail(`unknown compression ${JSON.stringify(doc.compression)}`);
  const fb = unpack(doc.feature, total * (featureBytes as number), "feature");
  const vb = unpack(doc.value, total * 4, "value");

  const feature = new Int32Array(total);
  const value = new Float32Array(total);
  const right = new Int32Array(total).fill(-1);
  const roots = new Int32Array(nTrees);
  const leafCode = featureBytes === 1 ? 255 : 65535;
  for (let q = 0; q < total; q++) {
    const raw = featureBytes === 1 ? fb.readUInt8(q) : fb.readUInt16LE(q * 2);
    const f = raw === leafCode ? LEAF : raw;
    if (f !== LEAF && f >= (p as number)) fail(`node ${q} splits on feature ${f}, but there are ${p}`);
    const v = vb.readFloatLE(q * 4);
    if (!Number.isFinite(v)) fail(`node ${q} holds a non-finite value`);
    feature[q] = f;
    value[q] = v;
  }
  // Children from the preorder: walk each tree, a split's right child follows its left subtree.
  let offset = 0;
  for (let t = 0; t < nTrees; t++) {
    const count = (nodes as number[])[t]!;
    roots[t] = offset;
    const end = offset + count;
    const pending: number[] = []; // split nodes whose right child comes next once their left subtree closes
    let q = offset;
    let open = 1; // subtrees still to read
    while (open > 0) {
      if (q >= end) fail(`tree ${t} is truncated`);
      if (feature[q] === LEAF) {
        open--;
        if (pending.length > 0 && open > 0) right[pending.pop()!] = q + 1;
      } else {
        pending.push(q);
        open++;
      }
      q++;
    }
    if (q !== end) fail(`tree ${t} has ${end - q} node(s) beyond its last leaf`);
    offset = end;
  }
  return new Native(p as number, params, roots, feature, value, right);
}
