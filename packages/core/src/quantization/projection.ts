/**
 * The learned linear maps quantizers use to move between the model's
 * dimension and a smaller codebook / FSQ space (vector-quantize-pytorch's
 * `project_in` / `project_out`). Variables `weight` [in, out] and `bias`
 * [out], the same layout as a dense layer, so weight files stay uniform.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '../errors.js';
import { Module } from '../nn/module.js';

export interface QuantizerProjectionOptions {
  inFeatures: number;
  outFeatures: number;
  /** Seed of the Glorot-uniform weight init. Default 0. */
  seed?: number;
}

export class QuantizerProjection extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  private readonly weight: tf.Variable;
  private readonly bias: tf.Variable;

  constructor(options: QuantizerProjectionOptions) {
    super();
    for (const key of ['inFeatures', 'outFeatures'] as const) {
      const v = options[key];
      if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError(`projection ${key} must be a positive integer, got ${v}`);
    }
    this.inFeatures = options.inFeatures;
    this.outFeatures = options.outFeatures;
    const limit = Math.sqrt(6 / (this.inFeatures + this.outFeatures));
    this.weight = this.addVariable('weight', tf.randomUniform([this.inFeatures, this.outFeatures], -limit, limit, 'float32', options.seed ?? 0));
    this.bias = this.addVariable('bias', tf.zeros([this.outFeatures]));
  }

  /** x [..., in] → [..., out]. */
  apply(x: tf.Tensor): tf.Tensor {
    if (x.rank < 1 || x.shape[x.rank - 1] !== this.inFeatures) {
      throw new InvalidArgumentError(`projection expects last axis ${this.inFeatures}, got shape [${x.shape}]`);
    }
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const y = tf.add(tf.matMul(tf.reshape(x, [-1, this.inFeatures]) as tf.Tensor2D, this.weight as tf.Tensor2D), this.bias);
      return tf.reshape(y, [...lead, this.outFeatures]);
    });
  }
}
