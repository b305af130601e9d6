/** Nearest-code search shared by the vector quantizers and k-means. */
import * as tf from '@tensorflow/tfjs';

/**
 * Squared L2 distances [N, K] between rows of `x` [N, D] and `codebook` [K, D],
 * as ‖x‖² − 2·x·Eᵀ + ‖e‖²: one GEMM instead of an [N, K, D] broadcast.
 */
export function squaredDistances(x: tf.Tensor2D, codebook: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const xNorm = tf.sum(tf.square(x), 1, true); // [N, 1]
    const eNorm = tf.reshape(tf.sum(tf.square(codebook), 1), [1, -1]); // [1, K]
    const cross = tf.matMul(x, codebook, false, true); // [N, K]
    return tf.add(tf.sub(xNorm, tf.mul(cross, 2)), eNorm) as tf.Tensor2D;
  });
}

/** Index of the nearest code (squared L2) for each row of `x`; int32 [N]. */
export function nearestCodes(x: tf.Tensor2D, codebook: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.argMin(squaredDistances(x, codebook), 1) as tf.Tensor1D);
}

/** Rows scaled to unit L2 norm (zero rows stay zero). */
export function l2Normalize<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.sum(tf.square(x), -1, true));
    return tf.div(x, tf.maximum(norm, 1e-12)) as T;
  });
}

/**
 * Sums rows of `values` [N, D] into `numRows` buckets by int32 `rows` [N]:
 * out[k] = Σ_{i: rows[i] = k} values[i]. A scatter-add in O(N·D); tfjs's cpu
 * `unsortedSegmentSum` makes one full pass per bucket instead.
 */
export function scatterAddRows(values: tf.Tensor2D, rows: tf.Tensor1D, numRows: number): tf.Tensor2D {
  return tf.tidy(() => tf.scatterND(tf.reshape(rows, [-1, 1]), values, [numRows, values.shape[1]]) as tf.Tensor2D);
}

/**
 * `gather(table, rows)` whose gradient w.r.t. `table` is a scatter-add
 * (`scatterAddRows`) rather than tfjs's unsorted-segment-sum, which the cpu
 * backend runs as one pass per table row. `rows` gets no gradient.
 */
export function gatherRows(table: tf.Tensor2D, rows: tf.Tensor1D): tf.Tensor2D {
  const op = tf.customGrad(((t: tf.Tensor) => ({
    value: tf.gather(t, rows),
    gradFunc: (dy: tf.Tensor) => scatterAddRows(dy as tf.Tensor2D, rows, table.shape[0]),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(table) as tf.Tensor2D;
}
