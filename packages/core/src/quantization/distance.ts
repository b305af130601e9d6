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
