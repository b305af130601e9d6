/** Layer normalisation over the last axis. */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '../errors.js';
import { checkPositiveInt } from './init.js';
import { Module } from './module.js';

export interface LayerNormOptions {
  /** Size of the normalised (last) axis. */
  dim: number;
  /** Added to the variance. Default 1e-5 (as torch.nn.LayerNorm). */
  eps?: number;
  /** Learn a per-feature scale `weight` and shift `bias`. Default true. */
  affine?: boolean;
}

/** (x - mean) / sqrt(var + eps) · weight + bias over the last axis. Variables: `weight`, `bias` [dim]. */
export class LayerNorm extends Module {
  readonly dim: number;
  readonly eps: number;
  readonly weight: tf.Variable | undefined;
  readonly bias: tf.Variable | undefined;

  constructor(options: LayerNormOptions) {
    super();
    checkPositiveInt('dim', options.dim);
    this.dim = options.dim;
    this.eps = options.eps ?? 1e-5;
    if (!(this.eps > 0)) throw new InvalidArgumentError(`eps must be > 0, got ${this.eps}`);
    const affine = options.affine ?? true;
    this.weight = affine ? this.addVariable('weight', tf.ones([this.dim])) : undefined;
    this.bias = affine ? this.addVariable('bias', tf.zeros([this.dim])) : undefined;
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (x.rank < 1 || x.shape[x.rank - 1] !== this.dim) {
      throw new InvalidArgumentError(`LayerNorm expects last axis ${this.dim}, got shape [${x.shape}]`);
    }
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, -1, true);
      let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.eps)));
      if (this.weight && this.bias) y = tf.add(tf.mul(y, this.weight), this.bias);
      return y;
    });
  }
}
