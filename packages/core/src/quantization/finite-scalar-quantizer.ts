/**
 * FiniteScalarQuantizer (FSQ; Mentzer et al. 2023, "Finite Scalar
 * Quantization: VQ-VAE Made Simple"): each of d channels is squashed to a
 * bounded range with tanh and rounded to one of L_i integer levels (with a
 * straight-through gradient). The codebook is implicit — the grid of all
 * level combinations, ∏ L_i codes — so there is nothing to learn, no
 * auxiliary loss and no collapse; the index is the mixed-radix number whose
 * digits are the per-channel levels.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '../errors.js';
import { Module } from '../nn/module.js';
import { Rng } from '../util/rng.js';
import { batchPerplexity } from './perplexity.js';
import { Linear } from '../nn/linear.js';
import { roundStraightThrough, withoutGradient } from './straight-through.js';
import type { CodeUsage, Quantizer, QuantizerForwardOptions, QuantizerOutput } from './types.js';
import { CodeUsageTracker } from './usage.js';

export interface FiniteScalarQuantizerOptions {
  /** Levels per FSQ channel, each in [2, 256]; the paper's choices include [8, 5, 5, 5] (1000 codes) and [8, 8, 8, 5, 5, 5] (64000). */
  levels: readonly number[];
  /**
   * Input dimension (last axis). When it differs from `levels.length`, a
   * learned linear projects dim → levels.length before quantization and
   * another projects back. Default `levels.length` (no projection).
   */
  dim?: number;
  /** Seed of the projection init. Default 0. */
  seed?: number;
}

/** Most levels per channel; FSQ wants few levels on more channels. */
const MAX_LEVEL = 256;

/** Largest implicit codebook accepted: histograms and batch perplexity allocate one slot per code. */
const MAX_CODEBOOK_SIZE = 2 ** 24;

/**
 * The tanh range is widened by this factor beyond the outer levels (as in
 * vector-quantize-pytorch), so the extreme levels are reachable with finite
 * inputs and L = 2 keeps a finite shift (|offset / halfLevel| < 1).
 */
const BOUND_EPSILON = 1e-3;

/** Variables: only `projectIn.*` / `projectOut.*` when `dim` ≠ `levels.length`. */
export class FiniteScalarQuantizer extends Module implements Quantizer {
  readonly dim: number;
  /** Levels per FSQ channel. */
  readonly levels: readonly number[];
  /** Size of the implicit codebook, ∏ levels. */
  readonly codebookSize: number;
  readonly codebookSizes: readonly number[];
  private readonly projectIn: Linear | undefined;
  private readonly projectOut: Linear | undefined;
  private readonly usageTracker: CodeUsageTracker;
  // Per-channel constants; tiny, rebuilt per call so the module owns no non-variable tensors.
  private readonly halfLevel: Float32Array;
  private readonly offset: Float32Array;
  private readonly shift: Float32Array;
  private readonly halfWidth: Float32Array;
  private readonly basis: Int32Array;

  constructor(options: FiniteScalarQuantizerOptions) {
    super();
    const levels = [...options.levels];
    if (levels.length === 0) throw new InvalidArgumentError('FiniteScalarQuantizer: levels must not be empty');
    let size = 1;
    for (const l of levels) {
      // Above ~1000 levels the widened tanh range would round past the outer level.
      if (!Number.isInteger(l) || l < 2 || l > MAX_LEVEL) {
        throw new InvalidArgumentError(`FiniteScalarQuantizer: every level must be an integer in [2, ${MAX_LEVEL}], got ${l}`);
      }
      size *= l;
    }
    if (size > MAX_CODEBOOK_SIZE) {
      throw new InvalidArgumentError(`FiniteScalarQuantizer: implicit codebook ∏levels = ${size} exceeds ${MAX_CODEBOOK_SIZE}; use fewer or smaller levels`);
    }
    const d = levels.length;
    const dim = options.dim ?? d;
    if (!Number.isInteger(dim) || dim < 1) throw new InvalidArgumentError(`FiniteScalarQuantizer: dim must be a positive integer, got ${dim}`);
    this.dim = dim;
    this.levels = levels;
    this.codebookSize = size;
    this.codebookSizes = [size];
    this.halfLevel = Float32Array.from(levels, (l) => ((l - 1) * (1 + BOUND_EPSILON)) / 2);
    // Even level counts are asymmetric ({-L/2, …, L/2 − 1}); the offset and
    // shift centre tanh's range on that grid, as in the reference code.
    this.offset = Float32Array.from(levels, (l) => (l % 2 === 0 ? 0.5 : 0));
    this.shift = Float32Array.from(levels, (_, i) => Math.atanh(this.offset[i]! / this.halfLevel[i]!));
    this.halfWidth = Float32Array.from(levels, (l) => Math.floor(l / 2));
    this.basis = new Int32Array(d);
    let place = 1;
    for (let i = 0; i < d; i++) {
      this.basis[i] = place;
      place *= levels[i]!;
    }
    if (dim !== d) {
      const rng = new Rng(options.seed ?? 0).fork('fsq');
      this.projectIn = this.addModule('projectIn', new Linear({ inFeatures: dim, outFeatures: d, seed: rng.fork('projectIn').int(2 ** 31) }));
      this.projectOut = this.addModule('projectOut', new Linear({ inFeatures: d, outFeatures: dim, seed: rng.fork('projectOut').int(2 ** 31) }));
    }
    this.usageTracker = new CodeUsageTracker(this.codebookSizes);
  }

  /**
   * Quantizes x [..., dim] → codes [...] (int32) and quantized [..., dim].
   * FSQ has no training-time state, so `options` change nothing; the loss is 0.
   */
  forward(x: tf.Tensor, _options: QuantizerForwardOptions = {}): QuantizerOutput {
    if (x.rank < 1 || x.shape[x.rank - 1] !== this.dim) {
      throw new InvalidArgumentError(`FiniteScalarQuantizer expects input [..., ${this.dim}], got shape [${x.shape}]`);
    }
    const d = this.levels.length;
    return tf.tidy(() => {
      let z = tf.reshape(x, [-1, this.dim]) as tf.Tensor2D;
      if (this.projectIn) z = this.projectIn.forward(z) as tf.Tensor2D;
      const bounded = tf.sub(tf.mul(tf.tanh(tf.add(z, this.channelConstant(this.shift))), this.channelConstant(this.halfLevel)), this.channelConstant(this.offset));
      const rounded = roundStraightThrough(bounded);
      const normalized = tf.div(rounded, this.channelConstant(this.halfWidth)) as tf.Tensor2D;
      const codes = withoutGradient(() =>
        tf.sum(tf.mul(tf.add(rounded, this.channelConstant(this.halfWidth)).toInt(), tf.tensor2d(this.basis, [1, d], 'int32')), 1),
      );
      const out = this.projectOut ? this.projectOut.forward(normalized) : normalized;
      return {
        quantized: tf.reshape(out, x.shape),
        codes: tf.reshape(codes, x.shape.slice(0, -1)),
        loss: tf.scalar(0),
        perplexity: batchPerplexity(codes, this.codebookSize),
      };
    });
  }

  /** Codes [...] → the grid points in FSQ space [..., levels.length], each channel in [-1, 1]. */
  codeVectors(codes: tf.Tensor): tf.Tensor {
    if (codes.dtype !== 'int32') throw new InvalidArgumentError(`codes must be int32, got ${codes.dtype}`);
    const d = this.levels.length;
    return tf.tidy(() => {
      const flat = tf.reshape(codes, [-1, 1]);
      const digits = tf.mod(tf.floorDiv(flat, tf.tensor2d(this.basis, [1, d], 'int32')), tf.tensor2d(Int32Array.from(this.levels), [1, d], 'int32'));
      const halfWidth = this.channelConstant(this.halfWidth);
      const vectors = tf.div(tf.sub(digits.toFloat(), halfWidth), halfWidth);
      return tf.reshape(vectors, [...codes.shape, d]);
    });
  }

  decodeCodes(codes: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const vectors = this.codeVectors(codes);
      return this.projectOut ? this.projectOut.forward(vectors) : vectors;
    });
  }

  /** The whole implicit codebook in FSQ space, [codebookSize, levels.length], row i = code i. */
  implicitCodebook(): tf.Tensor2D {
    return tf.tidy(() => this.codeVectors(tf.range(0, this.codebookSize, 1, 'int32')) as tf.Tensor2D);
  }

  /** FSQ learns nothing outside the gradient step. */
  afterStep(): void {}

  trackUsage(codes: tf.Tensor): void {
    this.usageTracker.add(codes, false);
  }

  usage(): CodeUsage {
    return this.usageTracker.usage();
  }

  resetUsage(): void {
    this.usageTracker.reset();
  }

  private channelConstant(values: Float32Array): tf.Tensor2D {
    return tf.tensor2d(values, [1, values.length]);
  }
}
