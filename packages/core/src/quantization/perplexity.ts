/**
 * Perplexity of a code distribution: exp(entropy) in nats, i.e. the number of
 * equally likely codes that would give the same entropy. It equals the
 * codebook size under uniform use and 1 when a single code is used, so it is
 * the standard codebook-utilisation metric of VQ-VAE training.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '../errors.js';

/** Perplexity of a histogram of non-negative counts; 0 for an empty histogram. */
export function perplexityFromCounts(counts: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (!(c >= 0)) throw new InvalidArgumentError(`counts must be non-negative, got ${c} at index ${i}`);
    total += c;
  }
  if (total === 0) return 0;
  let entropy = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c > 0) {
      const p = c / total;
      entropy -= p * Math.log(p);
    }
  }
  return Math.exp(entropy);
}

/** Tensor version of `perplexityFromCounts` for a 1-D float histogram (stays on the device). */
export function perplexityOfCountsTensor(counts: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const total = tf.sum(counts);
    const p = tf.div(counts, tf.maximum(total, 1e-12));
    // p·log(p) is 0 for p = 0; the tiny offset keeps log finite there.
    const entropy = tf.neg(tf.sum(tf.mul(p, tf.log(tf.add(p, 1e-12)))));
    return tf.exp(entropy) as tf.Scalar;
  });
}

/** Perplexity of a batch of int32 codes in [0, codebookSize). */
export function batchPerplexity(codes: tf.Tensor, codebookSize: number): tf.Scalar {
  return tf.tidy(() => {
    const counts = tf.bincount(tf.reshape(codes, [-1]) as tf.Tensor1D, tf.tensor1d([], 'float32'), codebookSize);
    return perplexityOfCountsTensor(counts.toFloat());
  });
}
