/**
 * k-means for codebook initialisation (as in vector-quantize-pytorch's
 * `kmeans_init`): k-means++ seeding (Arthur & Vassilvitskii 2007) then a few
 * Lloyd iterations. Starting codes on the data is what keeps a VQ from
 * collapsing onto a handful of codes early in training.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { l2Normalize, nearestCodes, squaredDistances } from './distance.js';

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

/** k-means++ then Lloyd iterations on `n` points of dimension `d` (row-major `data`). */
export function kmeans(data: Float32Array, n: number, d: number, k: number, options: KMeansOptions = {}): KMeansResult {
  checkShape(data, n, d, k);
  const iterations = options.iterations ?? 10;
  if (!Number.isInteger(iterations) || iterations < 0) throw new InvalidArgumentError(`k-means: iterations must be a non-negative integer, got ${iterations}`);
  const spherical = options.spherical ?? false;
  const initial = kmeansPlusPlusInit(data, n, d, k, new Rng(options.seed ?? 0));
  return tf.tidy(() => {
    const points = tf.tensor2d(data, [n, d]);
    let centroids = tf.tensor2d(initial, [k, d]);
    if (spherical) centroids = l2Normalize(centroids);
    for (let it = 0; it < iterations; it++) {
      const next = tf.tidy(() => {
        const oneHot = tf.oneHot(nearestCodes(points, centroids), k).toFloat() as tf.Tensor2D; // [n, k]
        const counts = tf.sum(oneHot, 0); // [k]
        const sums = tf.matMul(oneHot, points, true, false); // [k, d]
        // Empty clusters keep their centroid rather than collapsing to 0.
        const mean = tf.div(sums, tf.reshape(tf.maximum(counts, 1), [k, 1]));
        const updated = tf.where(tf.reshape(tf.greater(counts, 0), [k, 1]).tile([1, d]), mean, centroids) as tf.Tensor2D;
        return spherical ? l2Normalize(updated) : updated;
      });
      centroids.dispose();
      centroids = next;
    }
    const distances = squaredDistances(points, centroids);
    const distortion = tf.mean(tf.min(distances, 1)).dataSync()[0]!;
    const counts = assignmentCounts(points, centroids);
    return { centroids: Float32Array.from(centroids.dataSync()), counts: Float32Array.from(counts.dataSync()), distortion };
  });
}
