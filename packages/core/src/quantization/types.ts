/**
 * The contract every quantizer (VectorQuantizer, ResidualVectorQuantizer,
 * FiniteScalarQuantizer) implements, so models compose with any of them.
 *
 * Training-step protocol:
 *   1. inside the loss closure: `const q = quantizer.forward(z, { training: true })`
 *      and add `q.loss` to the reconstruction loss;
 *   2. after the optimizer step: `quantizer.afterStep()` applies updates that
 *      are not gradients (EMA codebook, dead-code restart) from statistics the
 *      forward pass recorded.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Module } from '../nn/module.js';

export interface QuantizerForwardOptions {
  /** Record statistics for `afterStep` and apply quantizer dropout. Default false. */
  training?: boolean;
  /** Residual quantizers: number of levels to use (bitrate selection). Default all. */
  levels?: number;
}

export interface QuantizerOutput {
  /** Quantized vectors, same shape as the input, with straight-through gradients to the input. */
  quantized: tf.Tensor;
  /** int32 code indices: input shape without the last axis, plus a trailing levels axis for multi-level quantizers. */
  codes: tf.Tensor;
  /** Scalar auxiliary loss to add to the task loss (codebook + β·commitment; 0 where not applicable). */
  loss: tf.Scalar;
  /** Perplexity of the batch's code distribution (first level for multi-level). */
  perplexity: tf.Scalar;
}

/** Code usage over many batches (e.g. a whole validation pass). */
export interface CodeUsage {
  /** Counts per code for each level. */
  histogram: Int32Array[];
  /** Codes used at least once divided by the codebook size, per level. */
  usedFraction: number[];
  /** Perplexity of the accumulated distribution, per level. */
  perplexity: number[];
}

export interface Quantizer extends Module {
  /** Dimension of the vectors it quantizes (last input axis). */
  readonly dim: number;
  /** Codebook size of each level (one entry for single-level quantizers). */
  readonly codebookSizes: readonly number[];
  forward(x: tf.Tensor, options?: QuantizerForwardOptions): QuantizerOutput;
  /** Codes (shape as `QuantizerOutput.codes`) back to vectors [..., dim]. */
  decodeCodes(codes: tf.Tensor): tf.Tensor;
  /** Applies EMA / restart updates recorded by the last training forward pass; no-op otherwise. */
  afterStep(): void;
  /** Adds a batch of codes to the running usage statistics. */
  trackUsage(codes: tf.Tensor): void;
  /** Usage accumulated since the last `resetUsage`. */
  usage(): CodeUsage;
  resetUsage(): void;
}
