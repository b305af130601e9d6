/**
 * k-means for codebook initialisation (as in vector-quantize-pytorch's
 * `kmeans_init`): k-means++ seeding (Arthur & Vassilvitskii 2007) then a few
 * Lloyd iterations. Starting codes on the data is what keeps a VQ from
 * collapsing onto a handful of codes early in training.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { nearestCodes } from './distance.js';

export interface KMeansOptions {
  /** Lloyd iterations after k-means++ seeding. Default 10. */
  iterations?: number;
  /** Spherical k-means: centroids renormalised to unit length (for cosine codebooks). Default false. */
  spherical?: boolean;
  /** Seed of the k-means++ sampling. Default 0. */
  seed?: number;
}

export interface KMeansResult {
  /** Centroids, row-major [k, d]. */
  centroids: Float32Array;
  /** Points assigned to each centroid by the final assignment. */
  counts: Float32Array;
  /** Mean squared distance of the points to their centroid. */
  distortion: number;
}

function checkShape(data: Float32Array, n: number, d: number, k: number): void {
  for (const [name, v] of [['n', n], ['d', d], ['k', k]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError(`k-means: ${name} must be a positive integer, got ${v}`);
  }
  if (data.length !== n * d) throw new InvalidArgumentError(`k-means: data has ${data.length} values, expected n·d = ${n * d}`);
}

/**
 * k-means++ seeding: the first centre uniformly, each next one with
 * probability proportional to the squared distance to the nearest chosen
 * centre. When fewer distinct points than `k` exist the remaining centres
 * are uniform picks (duplicates), left for dead-code restart to sort out.
 */
export function kmeansPlusPlusInit(data: Float32Array, n: number, d: number, k: number, rng: Rng): Float32Array {
  checkShape(data, n, d, k);
  const centroids = new Float32Array(k * d);
  const minDist = new Float64Array(n).fill(Infinity);
  let pick = rng.int(n);
  for (let c = 0; c < k; c++) {
    centroids.set(data.subarray(pick * d, pick * d + d), c * d);
    let total = 0;
    for (let i = 0; i < n; i++) {
      let dist = 0;
      const base = i * d;
      const cBase = c * d;
      for (let j = 0; j < d; j++) {
        const diff = data[base + j]! - centroids[cBase + j]!;
        dist += diff * diff;
      }
      if (dist < minDist[i]!) minDist[i] = dist;
      total += minDist[i]!;
    }
    if (c + 1 === k) break;
    if (!(total > 0)) {
      pick = rng.int(n);
      continue;
    }
    let target = rng.uniform() * total;
    pick = n - 1;
    for (let i = 0; i < n; i++) {
      target -= minDist[i]!;
      if (target < 0) {
        pick = i;
        break;
      }
    }
  }
  return centroids;
}

/** Counts per code of the nearest-code assignment of `x` [N, D] to `codebook` [K, D]. */
export function assignmentCounts(x: tf.Tensor2D, codebook: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const codes = nearestCodes(x, codebook);
    return tf.bincount(codes, tf.tensor1d([], 'float32'), codebook.shape[0]) as tf.Tensor1D;
  });
}

/**
 * Nearest centroid of every point (plain JS: for these one-off sizes it beats
 * tfjs's cpu GEMM and does not depend on the backend). Fills `codes` and
 * returns the summed squared distance.
 */
function assignPoints(data: Float32Array, n: number, d: number, centroids: Float32Array, k: number, codes: Int32Array): number {
  const centroidNorm = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += centroids[c * d + j]! ** 2;
    centroidNorm[c] = s;
  }
  let total = 0;
  for (let i = 0; i < n; i++) {
    const base = i * d;
    let pointNorm = 0;
    for (let j = 0; j < d; j++) pointNorm += data[base + j]! ** 2;
    let best = Infinity;
    let bestCode = 0;
    let c = 0;
    // Four centroids per pass: each point coordinate is loaded once for four dot products.
    for (; c + 4 <= k; c += 4) {
      const b0 = c * d;
      const b1 = b0 + d;
      const b2 = b1 + d;
      const b3 = b2 + d;
      let dot0 = 0;
      let dot1 = 0;
      let dot2 = 0;
      let dot3 = 0;
      for (let j = 0; j < d; j++) {
        const x = data[base + j]!;
        dot0 += x * centroids[b0 + j]!;
        dot1 += x * centroids[b1 + j]!;
        dot2 += x * centroids[b2 + j]!;
        dot3 += x * centroids[b3 + j]!;
      }
      const dist0 = centroidNorm[c]! - 2 * dot0;
      const dist1 = centroidNorm[c + 1]! - 2 * dot1;
      const dist2 = centroidNorm[c + 2]! - 2 * dot2;
      const dist3 = centroidNorm[c + 3]! - 2 * dot3;
      if (dist0 < best) [best, bestCode] = [dist0, c];
      if (dist1 < best) [best, bestCode] = [dist1, c + 1];
      if (dist2 < best) [best, bestCode] = [dist2, c + 2];
      if (dist3 < best) [best, bestCode] = [dist3, c + 3];
    }
    for (; c < k; c++) {
      const cBase = c * d;
      let dot = 0;
      for (let j = 0; j < d; j++) dot += data[base + j]! * centroids[cBase + j]!;
      const dist = centroidNorm[c]! - 2 * dot;
      if (dist < best) {
        best = dist;
        bestCode = c;
      }
    }
    codes[i] = bestCode;
    total += Math.max(0, best + pointNorm);
  }
  return total;
}

function normalizeRows(values: Float32Array, rows: number, d: number): void {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += values[r * d + j]! ** 2;
    const scale = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let j = 0; j < d; j++) values[r * d + j]! *= scale;
  }
}

/** k-means++ then Lloyd iterations on `n` points of dimension `d` (row-major `data`). */
export function kmeans(data: Float32Array, n: number, d: number, k: number, options: KMeansOptions = {}): KMeansResult {
  checkShape(data, n, d, k);
  const iterations = options.iterations ?? 10;
  if (!Number.isInteger(iterations) || iterations < 0) throw new InvalidArgumentError(`k-means: iterations must be a non-negative integer, got ${iterations}`);
  const spherical = options.spherical ?? false;
  const centroids = kmeansPlusPlusInit(data, n, d, k, new Rng(options.seed ?? 0));
  if (spherical) normalizeRows(centroids, k, d);
  const codes = new Int32Array(n);
  const sums = new Float64Array(k * d);
  const counts = new Float32Array(k);
  for (let it = 0; it < iterations; it++) {
    assignPoints(data, n, d, centroids, k, codes);
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const c = codes[i]!;
      counts[c]! += 1;
      for (let j = 0; j < d; j++) sums[c * d + j]! += data[i * d + j]!;
    }
    for (let c = 0; c < k; c++) {
      // Empty clusters keep their centroid rather than collapsing to the origin.
      if (counts[c]! > 0) for (let j = 0; j < d; j++) centroids[c * d + j] = sums[c * d + j]! / counts[c]!;
    }
    if (spherical) normalizeRows(centroids, k, d);
  }
  const total = assignPoints(data, n, d, centroids, k, codes);
  counts.fill(0);
  for (let i = 0; i < n; i++) counts[codes[i]!]! += 1;
  return { centroids, counts, distortion: total / n };
}
