/**
 * ResidualVectorQuantizer (SoundStream / EnCodec RVQ, vector-quantize-pytorch's
 * `ResidualVQ`): N vector quantizers in cascade, each quantizing what the
 * previous ones left over. Codes are [..., levels]; dropping trailing levels
 * lowers the bitrate, and quantizer dropout trains one model for all of them.
 *
 * Gradients: one straight-through estimator over the sum of the levels, so
 * the encoder sees exactly the decoder's gradient; each level's commitment
 * loss pulls the encoder output toward the partial reconstruction up to that
 * level (residuals are formed with stopped gradients, as in EnCodec).
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '../errors.js';
import { Module } from '../nn/module.js';
import { Rng } from '../util/rng.js';
import { perplexityOfCountsTensor } from './perplexity.js';
import { Linear } from '../nn/linear.js';
import { stopGradient, straightThrough } from './straight-through.js';
import type { CodeUsage, Quantizer, QuantizerForwardOptions, QuantizerOutput } from './types.js';
import { CodeUsageTracker } from './usage.js';
import { VectorQuantizer, type VectorQuantizerOptions } from './vector-quantizer.js';

export interface ResidualVectorQuantizerOptions extends Omit<VectorQuantizerOptions, 'cosine'> {
  /** Number of quantizer levels N. */
  levels: number;
  /**
   * Quantizer dropout (SoundStream): in training, each batch uses a random
   * number of levels in 1..N, so one model serves every bitrate. Ignored
   * when `forward` is given an explicit `levels`. Default false.
   */
  quantizerDropout?: boolean;
  /**
   * Dimension every level quantizes in. When smaller than `dim`, one learned
   * projection D→codebookDim feeds all levels and one projects the sum back.
   * Default `dim` (no projection).
   */
  codebookDim?: number;
}

/**
 * Variables: `level0.*` … `level{N-1}.*` (each a VectorQuantizer working in
 * `codebookDim`), and `projectIn.*` / `projectOut.*` when `codebookDim` < `dim`.
 */
export class ResidualVectorQuantizer extends Module implements Quantizer {
  readonly dim: number;
  readonly codebookDim: number;
  readonly levelCount: number;
  readonly codebookSizes: readonly number[];
  readonly quantizerDropout: boolean;
  /** The per-level quantizers, coarsest first. */
  readonly layers: readonly VectorQuantizer[];
  private readonly projectIn: Linear | undefined;
  private readonly projectOut: Linear | undefined;
  private readonly rng: Rng;
  private readonly usageTracker: CodeUsageTracker;

  constructor(options: ResidualVectorQuantizerOptions) {
    super();
    const { levels, quantizerDropout, codebookDim, dim, seed, ...levelOptions } = options;
    if (!Number.isInteger(levels) || levels < 1) throw new InvalidArgumentError(`ResidualVectorQuantizer: levels must be a positive integer, got ${levels}`);
    if (!Number.isInteger(dim) || dim < 1) throw new InvalidArgumentError(`ResidualVectorQuantizer: dim must be a positive integer, got ${dim}`);
    if ((options as { cosine?: unknown }).cosine) {
      throw new InvalidArgumentError('ResidualVectorQuantizer does not support cosine codebooks: normalised levels cannot sum to a residual');
    }
    this.dim = dim;
    this.codebookDim = codebookDim ?? dim;
    this.levelCount = levels;
    this.quantizerDropout = quantizerDropout ?? false;
    this.rng = new Rng(seed ?? 0).fork('rvq');
    const seedFor = (label: string): number => this.rng.fork(label).int(2 ** 31);
    if (this.codebookDim !== dim) {
      this.projectIn = this.addModule('projectIn', new Linear({ inFeatures: dim, outFeatures: this.codebookDim, seed: seedFor('projectIn') }));
      this.projectOut = this.addModule('projectOut', new Linear({ inFeatures: this.codebookDim, outFeatures: dim, seed: seedFor('projectOut') }));
    }
    const built: VectorQuantizer[] = [];
    for (let i = 0; i < levels; i++) {
      built.push(this.addModule(`level${i}`, new VectorQuantizer({ ...levelOptions, dim: this.codebookDim, seed: seedFor(`level${i}`) })));
    }
    this.layers = built;
    this.codebookSizes = built.map((level) => level.codebookSize);
    this.usageTracker = new CodeUsageTracker(this.codebookSizes);
  }

  /**
   * Quantizes with `options.levels` levels (default all; a random count with
   * quantizer dropout in training). Codes are [..., levelsUsed]; the
   * perplexity is the first level's.
   */
  forward(x: tf.Tensor, options: QuantizerForwardOptions = {}): QuantizerOutput {
    if (x.rank < 1 || x.shape[x.rank - 1] !== this.dim) {
      throw new InvalidArgumentError(`ResidualVectorQuantizer expects input [..., ${this.dim}], got shape [${x.shape}]`);
    }
    const training = options.training ?? false;
    let used = this.levelCount;
    if (options.levels !== undefined) {
      used = this.checkLevels(options.levels);
    } else if (training && this.quantizerDropout) {
      used = 1 + this.rng.int(this.levelCount);
    }
    return tf.tidy(() => {
      let z = tf.reshape(x, [-1, this.dim]) as tf.Tensor2D;
      if (this.projectIn) z = this.projectIn.forward(z) as tf.Tensor2D;
      let residual = z;
      let sum: tf.Tensor2D | undefined;
      let loss: tf.Scalar | undefined;
      let firstCounts: tf.Tensor1D | undefined;
      const codes: tf.Tensor1D[] = [];
      for (let i = 0; i < used; i++) {
        const lookup = this.layers[i]!.quantizeVectors(residual, { training });
        sum = sum ? (tf.add(sum, lookup.quantized) as tf.Tensor2D) : lookup.quantized;
        loss = loss ? (tf.add(loss, lookup.loss) as tf.Scalar) : lookup.loss;
        firstCounts ??= lookup.counts;
        codes.push(lookup.codes);
        residual = tf.sub(residual, stopGradient(lookup.quantized));
      }
      const passed = straightThrough(z, sum!);
      const out = this.projectOut ? this.projectOut.forward(passed) : passed;
      return {
        quantized: tf.reshape(out, x.shape),
        codes: tf.reshape(tf.stack(codes, 1), [...x.shape.slice(0, -1), used]),
        loss: loss!,
        perplexity: perplexityOfCountsTensor(firstCounts!),
      };
    });
  }

  /** Codes [..., m] with m ≤ levels → vectors [..., dim]: the sum of the first m levels' codes. */
  decodeCodes(codes: tf.Tensor): tf.Tensor {
    if (codes.dtype !== 'int32') throw new InvalidArgumentError(`codes must be int32, got ${codes.dtype}`);
    if (codes.rank < 1) throw new InvalidArgumentError('residual codes need a trailing levels axis');
    const used = this.checkLevels(codes.shape[codes.rank - 1]!);
    return tf.tidy(() => {
      const flat = tf.reshape(codes, [-1, used]) as tf.Tensor2D;
      const columns = tf.unstack(flat, 1);
      // Same summation order as forward, so decoding reproduces it exactly.
      let sum = this.layers[0]!.codeVectors(columns[0]!);
      for (let i = 1; i < used; i++) sum = tf.add(sum, this.layers[i]!.codeVectors(columns[i]!));
      const out = this.projectOut ? this.projectOut.forward(sum) : sum;
      return tf.reshape(out, [...codes.shape.slice(0, -1), this.dim]);
    });
  }

  afterStep(): void {
    for (const level of this.layers) level.afterStep();
  }

  trackUsage(codes: tf.Tensor): void {
    this.usageTracker.add(codes, true);
  }

  usage(): CodeUsage {
    return this.usageTracker.usage();
  }

  resetUsage(): void {
    this.usageTracker.reset();
  }

  private checkLevels(levels: number): number {
    if (!Number.isInteger(levels) || levels < 1 || levels > this.levelCount) {
      throw new InvalidArgumentError(`levels must be an integer in [1, ${this.levelCount}], got ${levels}`);
    }
    return levels;
  }
}
