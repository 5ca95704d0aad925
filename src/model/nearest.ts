/**
 * Distance to the nearest of a fixed set of points, for the model's extrapolation term: it
 * runs for every predicted configuration and KPI (100,000 × up to 2,000 measured ones), and
 * a plain scan over all points was most of a prediction's time.
 *
 * A k-d tree: each node splits its points at the median of the coordinate with the widest
 * range; a search visits the near side first and skips the far side when the split plane
 * alone is farther than the best distance so far (or than the caller's limit). The points
 * are pre-scaled by the caller (per-parameter relevance), so a handful of coordinates carry
 * most of the distance and the pruning works even with 20 or more dimensions.
 */

/** Points per leaf: below this a scan is cheaper than more splitting. */
const LEAF_SIZE = 8;

interface Node {
  /** splitting coordinate, or -1 for a leaf */
  dim: number;
  /** points with the coordinate ≥ split are on the right */
  split: number;
  /** the largest coordinate on the left (< split): the far-side bound from the right */
  leftMax: number;
  left: Node | undefined;
  right: Node | undefined;
  /** a leaf's points (indexes into the point array) */
  members: Int32Array | undefined;
}

export class NearestIndex {
  private readonly root: Node | undefined;

  /**
   * @param points the points, row after row (`dims` values each)
   * @param dims coordinates per point
   */
  constructor(
    private readonly points: Float64Array,
    readonly dims: number,
  ) {
    if (!(Number.isInteger(dims) && dims >= 1)) throw new Error(`NearestIndex: dims must be an integer ≥ 1, got ${dims}`);
    if (points.length % dims !== 0) throw new Error(`NearestIndex: ${points.length} values are not rows of ${dims}`);
    const count = points.length / dims;
    this.root = count === 0 ? undefined : this.build(Int32Array.from({ length: count }, (_, i) => i));
  }

  get size(): number {
    return this.points.length / this.dims;
  }

  private build(members: Int32Array): Node {
    const { points, dims } = this;
    let dim = -1;
    let widest = 0;
    if (members.length > LEAF_SIZE) {
      for (let k = 0; k < dims; k++) {
        let lo = Infinity;
        let hi = -Infinity;
        for (const i of members) {
          const v = points[i * dims + k]!;
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        if (hi - lo > widest) {
          widest = hi - lo;
          dim = k;
        }
      }
    }
    // all points equal (or few): a leaf
    if (dim < 0) return { dim: -1, split: 0, leftMax: 0, left: undefined, right: undefined, members };
    const sorted = Int32Array.from(members).sort((a, b) => points[a * dims + dim]! - points[b * dims + dim]!);
    const half = sorted.length >> 1;
    const split = points[sorted[half]! * dims + dim]!;
    // points equal to the split go right; a side left empty by ties makes this a leaf
    let cut = half;
    while (cut > 0 && points[sorted[cut - 1]! * dims + dim]! === split) cut--;
    if (cut === 0) return { dim: -1, split: 0, leftMax: 0, left: undefined, right: undefined, members };
    const leftMax = points[sorted[cut - 1]! * dims + dim]!;
    return { dim, split, leftMax, left: this.build(sorted.subarray(0, cut)), right: this.build(sorted.subarray(cut)), members: undefined };
  }

  /**
   * The squared distance from `query` to the nearest point, or `limitSq` when no point is
   * nearer than that (pass Infinity for the exact distance). An empty index gives `limitSq`.
   * `skip`: a point (by its row number) not to count, e.g. the query's own.
   */
  nearestSq(query: ArrayLike<number>, limitSq = Infinity, skip = -1): number {
    if (query.length !== this.dims) throw new Error(`NearestIndex: query has ${query.length} coordinates, expected ${this.dims}`);
    return this.root ? this.search(this.root, query, limitSq, skip) : limitSq;
  }

  private search(node: Node, query: ArrayLike<number>, bestSq: number, skip: number): number {
    const { points, dims } = this;
    if (node.members) {
      for (const i of node.members) {
        if (i === skip) continue;
        const base = i * dims;
        let d2 = 0;
        for (let k = 0; k < dims && d2 < bestSq; k++) {
          const d = query[k]! - points[base + k]!;
          d2 += d * d;
        }
        if (d2 < bestSq) bestSq = d2;
      }
      return bestSq;
    }
    // the far side is at least `gap` away along this coordinate (ties are all on the right)
    const x = query[node.dim]!;
    const right = x >= node.split;
    const gap = right ? x - node.leftMax : node.split - x;
    bestSq = this.search(right ? node.right! : node.left!, query, bestSq, skip);
    if (gap * gap < bestSq) bestSq = this.search(right ? node.left! : node.right!, query, bestSq, skip);
    return bestSq;
  }
}
