/**
 * Code-usage accumulator: histograms of the codes a quantizer emitted over
 * many batches (a validation pass, an epoch), from which the used fraction
 * and the perplexity of the whole pass are derived. Batch perplexity alone
 * hides codes that are never used anywhere; this is what catches collapse.
 */
import type * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '../errors.js';
import { perplexityFromCounts } from './perplexity.js';
import type { CodeUsage } from './types.js';

export class CodeUsageTracker {
  /** Codebook size of each level. */
  readonly codebookSizes: readonly number[];
  private readonly histograms: Int32Array[];

  constructor(codebookSizes: readonly number[]) {
    if (codebookSizes.length === 0) throw new InvalidArgumentError('CodeUsageTracker needs at least one level');
    for (const size of codebookSizes) {
      if (!Number.isInteger(size) || size < 1) throw new InvalidArgumentError(`codebook sizes must be positive integers, got ${size}`);
    }
    this.codebookSizes = [...codebookSizes];
    this.histograms = codebookSizes.map((size) => new Int32Array(size));
  }

  /**
   * Adds codes laid out row-major as [..., levelCount]: entry `i` belongs to
   * level `i % levelCount`. `levelCount` may be smaller than the number of
   * levels (a residual quantizer run at a lower bitrate); those levels get
   * the codes, later levels nothing.
   */
  addCodes(codes: ArrayLike<number>, levelCount = 1): void {
    if (!Number.isInteger(levelCount) || levelCount < 1 || levelCount > this.histograms.length) {
      throw new InvalidArgumentError(`levelCount must be an integer in [1, ${this.histograms.length}], got ${levelCount}`);
    }
    if (codes.length % levelCount !== 0) {
      throw new InvalidArgumentError(`${codes.length} codes do not divide into rows of ${levelCount} levels`);
    }
    for (let i = 0; i < codes.length; i++) {
      const level = i % levelCount;
      const code = codes[i]!;
      const histogram = this.histograms[level]!;
      if (!Number.isInteger(code) || code < 0 || code >= histogram.length) {
        throw new InvalidArgumentError(`code ${code} at level ${level} is outside [0, ${histogram.length})`);
      }
      histogram[code]! += 1;
    }
  }

  /** Adds an int32 code tensor; its last axis is the levels axis when `levelsAxis` is true. */
  add(codes: tf.Tensor, levelsAxis: boolean): void {
    if (codes.dtype !== 'int32') throw new InvalidArgumentError(`codes must be int32, got ${codes.dtype}`);
    const levelCount = levelsAxis ? (codes.shape[codes.rank - 1] ?? 1) : 1;
    this.addCodes(codes.dataSync(), levelCount);
  }

  /** A snapshot of the accumulated statistics (copies; safe to keep). */
  usage(): CodeUsage {
    return {
      histogram: this.histograms.map((h) => h.slice()),
      usedFraction: this.histograms.map((h) => {
        let used = 0;
        for (let i = 0; i < h.length; i++) if (h[i]! > 0) used++;
        return used / h.length;
      }),
      perplexity: this.histograms.map((h) => perplexityFromCounts(h)),
    };
  }

  reset(): void {
    for (const h of this.histograms) h.fill(0);
  }
}
