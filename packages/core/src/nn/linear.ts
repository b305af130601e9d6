/** Dense layers: `Linear` (affine map on the last axis) and `Embedding` (index lookup). */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '../errors.js';
import { checkPositiveInt, initWeight, type LayerInitOptions } from './init.js';
import { Module } from './module.js';

export interface LinearOptions extends LayerInitOptions {
  inFeatures: number;
  outFeatures: number;
  /** Default true. */
  bias?: boolean;
}

/** y = x·W + b on the last axis of any-rank input. Variables: `weight` [in, out], `bias` [out]. Default init Glorot. */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | undefined;

  constructor(options: LinearOptions) {
    super();
    checkPositiveInt('inFeatures', options.inFeatures);
    checkPositiveInt('outFeatures', options.outFeatures);
    this.inFeatures = options.inFeatures;
    this.outFeatures = options.outFeatures;
    this.weight = this.addVariable(
      'weight',
      initWeight([this.inFeatures, this.outFeatures], this.inFeatures, this.outFeatures, options.init ?? 'glorot', options.seed ?? 0),
    );
    this.bias = options.bias === false ? undefined : this.addVariable('bias', tf.zeros([this.outFeatures]));
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (x.rank < 1 || x.shape[x.rank - 1] !== this.inFeatures) {
      throw new InvalidArgumentError(`Linear expects last axis ${this.inFeatures}, got shape [${x.shape}]`);
    }
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const y = tf.matMul(tf.reshape(x, [-1, this.inFeatures]) as tf.Tensor2D, this.weight as tf.Tensor2D);
      const out = this.bias ? tf.add(y, this.bias) : y;
      return tf.reshape(out, [...lead, this.outFeatures]);
    });
  }
}

export interface EmbeddingOptions {
  numEmbeddings: number;
  embeddingDim: number;
  /** Initial values ~ N(0, std²). Default std 1 (as torch.nn.Embedding). */
  std?: number;
  /** Default 0. */
  seed?: number;
}

/** Lookup table: int32 indices [...] → [..., dim]. Variable: `weight` [num, dim]. */
export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly weight: tf.Variable;

  constructor(options: EmbeddingOptions) {
    super();
    checkPositiveInt('numEmbeddings', options.numEmbeddings);
    checkPositiveInt('embeddingDim', options.embeddingDim);
    this.numEmbeddings = options.numEmbeddings;
    this.embeddingDim = options.embeddingDim;
    this.weight = this.addVariable(
      'weight',
      tf.randomNormal([this.numEmbeddings, this.embeddingDim], 0, options.std ?? 1, 'float32', options.seed ?? 0),
    );
  }

  forward(indices: tf.Tensor): tf.Tensor {
    if (indices.dtype !== 'int32') throw new InvalidArgumentError(`Embedding expects int32 indices, got ${indices.dtype}`);
    return tf.gather(this.weight, indices);
  }
}
