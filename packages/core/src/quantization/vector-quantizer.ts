/**
 * VectorQuantizer: the VQ-VAE bottleneck (van den Oord et al. 2017) with the
 * training aids that make it work in practice, modelled on
 * vector-quantize-pytorch's `VectorQuantize`:
 *
 * - codebook learned by exponential moving averages of the assigned encoder
 *   outputs (default; Laplace-smoothed cluster sizes) or by the codebook loss
 *   ‖sg(z) − q‖²;
 * - commitment loss β·‖z − sg(q)‖² and the straight-through estimator;
 * - k-means++ initialisation from the first training batch(es);
 * - dead-code restart: codes whose EMA usage falls under a threshold are
 *   re-seeded from recent encoder outputs;
 * - cosine-similarity codebooks (L2-normalised inputs and codes);
 * - a low-dimensional codebook behind learned in/out projections.
 *
 * Training protocol: see `types.ts` (`forward(x, { training: true })` inside
 * the loss closure, `afterStep()` after the optimizer step).
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '../errors.js';
import { Module } from '../nn/module.js';
import { Rng } from '../util/rng.js';
import { gatherRows, l2Normalize, nearestCodes, scatterAddRows } from './distance.js';
import { assignmentCounts, kmeans } from './kmeans.js';
import { perplexityOfCountsTensor } from './perplexity.js';
import { Linear } from '../nn/linear.js';
import { stopGradient, straightThrough, withoutGradient } from './straight-through.js';
import type { CodeUsage, Quantizer, QuantizerForwardOptions, QuantizerOutput } from './types.js';
import { CodeUsageTracker } from './usage.js';

/** How the codebook learns: EMA of assigned vectors, or gradient of the codebook loss. */
export type CodebookUpdate = 'ema' | 'loss';

export interface VectorQuantizerOptions {
  /** Number of codes K. */
  codebookSize: number;
  /** Dimension D of the input vectors (last axis). */
  dim: number;
  /**
   * Dimension of the codebook. When smaller than `dim`, inputs are projected
   * D→codebookDim by a learned linear map, quantized there and projected back
   * (better code usage for large codebooks). Default `dim` (no projection).
   */
  codebookDim?: number;
  /** β, the weight of the commitment loss ‖z − sg(q)‖². Default 0.25. */
  commitmentWeight?: number;
  /** Codebook learning rule. Default `'ema'`. */
  codebook?: CodebookUpdate;
  /** EMA decay of cluster sizes and sums ('ema' mode) and of usage counts (restart). Default 0.99. */
  decay?: number;
  /** Laplace smoothing of EMA cluster sizes, so rarely used codes never divide by ~0. Default 1e-5. */
  epsilon?: number;
  /** Initialise the codebook with k-means++ and Lloyd iterations on the first training batch(es). Default true. */
  kmeansInit?: boolean;
  /** Training batches recorded before k-means initialisation runs. Default 1. */
  kmeansBatches?: number;
  /** Lloyd iterations of the initialisation. Default 10. */
  kmeansIterations?: number;
  /** At most this many vectors (sampled evenly over the recorded batches) go into k-means. Default 8192. */
  kmeansMaxSamples?: number;
  /**
   * Dead-code restart: a code whose EMA usage (hits per training batch) falls
   * under this is re-seeded from a random vector of the latest training
   * batch. Capped at half the uniform share (rows per batch / K) so small
   * batches with a large codebook do not churn. 0 disables. Default 1.
   */
  restartThreshold?: number;
  /** Check for dead codes every this many `afterStep` calls. Default 1. */
  restartEvery?: number;
  /** Cosine-similarity codebook: inputs and codes are L2-normalised before the search. Default false. */
  cosine?: boolean;
  /** Seed of the codebook / projection init, k-means++ and restarts. Default 0. */
  seed?: number;
}

/** The options with every default filled in. */
export type ResolvedVectorQuantizerOptions = Readonly<Required<VectorQuantizerOptions>>;

/** Result of quantizing vectors that are already in codebook space. */
export interface CodebookLookup {
  /** Nearest-code indices, int32 [N]. */
  codes: tf.Tensor1D;
  /** The code vectors [N, codebookDim]; gradients reach the codebook only in 'loss' mode, never the input. */
  quantized: tf.Tensor2D;
  /** Commitment loss (+ codebook loss in 'loss' mode). */
  loss: tf.Scalar;
  /** Hits per code in this batch, float [K]. */
  counts: tf.Tensor1D;
}

/**
 * Statistics of the training forwards since the last `afterStep`, summed so
 * memory stays constant however many forwards a step makes (gradient
 * accumulation, or a caller that never calls `afterStep`). Tensors are kept
 * past the callers' tidy scopes and disposed by `afterStep` / `dispose`.
 */
interface PendingStatistics {
  /** Hits per code, summed over the batches, float [K]. */
  counts: tf.Tensor1D;
  /** Assigned vectors summed per code, [K, codebookDim] ('ema' mode only). */
  sums: tf.Tensor2D | undefined;
  /** The latest batch's codebook-space inputs: the restart candidates. */
  latest: tf.Tensor2D;
  batches: number;
  rows: number;
}

function disposePending(pending: PendingStatistics): void {
  tf.dispose([pending.counts, pending.latest]);
  if (pending.sums) pending.sums.dispose();
}

function checkInt(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new InvalidArgumentError(`VectorQuantizer: ${name} must be an integer ≥ ${min}, got ${value}`);
}

function resolveOptions(options: VectorQuantizerOptions): ResolvedVectorQuantizerOptions {
  const resolved: Required<VectorQuantizerOptions> = {
    codebookSize: options.codebookSize,
    dim: options.dim,
    codebookDim: options.codebookDim ?? options.dim,
    commitmentWeight: options.commitmentWeight ?? 0.25,
    codebook: options.codebook ?? 'ema',
    decay: options.decay ?? 0.99,
    epsilon: options.epsilon ?? 1e-5,
    kmeansInit: options.kmeansInit ?? true,
    kmeansBatches: options.kmeansBatches ?? 1,
    kmeansIterations: options.kmeansIterations ?? 10,
    kmeansMaxSamples: options.kmeansMaxSamples ?? 8192,
    restartThreshold: options.restartThreshold ?? 1,
    restartEvery: options.restartEvery ?? 1,
    cosine: options.cosine ?? false,
    seed: options.seed ?? 0,
  };
  checkInt('codebookSize', resolved.codebookSize, 1);
  checkInt('dim', resolved.dim, 1);
  checkInt('codebookDim', resolved.codebookDim, 1);
  checkInt('kmeansBatches', resolved.kmeansBatches, 1);
  checkInt('kmeansIterations', resolved.kmeansIterations, 0);
  checkInt('kmeansMaxSamples', resolved.kmeansMaxSamples, 1);
  checkInt('restartEvery', resolved.restartEvery, 1);
  if (resolved.codebook !== 'ema' && resolved.codebook !== 'loss') {
    throw new InvalidArgumentError(`VectorQuantizer: codebook must be 'ema' or 'loss', got '${String(resolved.codebook)}'`);
  }
  if (!(resolved.commitmentWeight >= 0)) throw new InvalidArgumentError(`VectorQuantizer: commitmentWeight must be ≥ 0, got ${resolved.commitmentWeight}`);
  if (!(resolved.decay >= 0 && resolved.decay < 1)) throw new InvalidArgumentError(`VectorQuantizer: decay must be in [0, 1), got ${resolved.decay}`);
  if (!(resolved.epsilon > 0)) throw new InvalidArgumentError(`VectorQuantizer: epsilon must be > 0, got ${resolved.epsilon}`);
  if (!(resolved.restartThreshold >= 0)) throw new InvalidArgumentError(`VectorQuantizer: restartThreshold must be ≥ 0, got ${resolved.restartThreshold}`);
  if (!Number.isFinite(resolved.seed)) throw new InvalidArgumentError(`VectorQuantizer: seed must be a finite number, got ${resolved.seed}`);
  return resolved;
}

/**
 * Variables (weight-file names): `codebook` [K, codebookDim] (trainable only
 * in 'loss' mode), `clusterSize` [K] (EMA hits per batch), `embedSum`
 * [K, codebookDim] ('ema' mode only), `initialized` ([1], 0 or 1, so a loaded
 * model is not re-initialised by k-means), and `projectIn.*` / `projectOut.*`
 * when `codebookDim` < `dim`.
 */
export class VectorQuantizer extends Module implements Quantizer {
  readonly dim: number;
  readonly codebookSize: number;
  readonly codebookDim: number;
  readonly codebookSizes: readonly number[];
  readonly options: ResolvedVectorQuantizerOptions;
  /** The raw codebook variable; in cosine mode use `codeVectors` for the normalised codes. */
  readonly codebook: tf.Variable;
  private readonly clusterSize: tf.Variable;
  private readonly embedSum: tf.Variable | undefined;
  private readonly initializedFlag: tf.Variable;
  private readonly projectIn: Linear | undefined;
  private readonly projectOut: Linear | undefined;
  private readonly rng: Rng;
  private readonly usageTracker: CodeUsageTracker;
  private pending: PendingStatistics | undefined;
  private initialized = false;
  private initSamples: Float32Array[] = [];
  private initRowsSeen = 0;
  private initRowsKept = 0;
  private initBatches = 0;
  private steps = 0;
  private restarted = 0;

  constructor(options: VectorQuantizerOptions) {
    super();
    this.options = resolveOptions(options);
    const { codebookSize, dim, codebookDim, seed } = this.options;
    this.dim = dim;
    this.codebookSize = codebookSize;
    this.codebookDim = codebookDim;
    this.codebookSizes = [codebookSize];
    this.rng = new Rng(seed).fork('vq');
    const seedFor = (label: string): number => this.rng.fork(label).int(2 ** 31);
    let initial = tf.randomNormal([codebookSize, codebookDim], 0, 1, 'float32', seedFor('codebook')) as tf.Tensor2D;
    if (this.options.cosine) {
      const normalized = l2Normalize(initial);
      initial.dispose();
      initial = normalized;
    }
    const ema = this.options.codebook === 'ema';
    this.codebook = this.addVariable('codebook', initial, !ema);
    this.clusterSize = this.addVariable('clusterSize', tf.zeros([codebookSize]), false);
    this.embedSum = ema ? this.addVariable('embedSum', tf.zeros([codebookSize, codebookDim]), false) : undefined;
    this.initializedFlag = this.addVariable('initialized', tf.zeros([1]), false);
    if (codebookDim !== dim) {
      this.projectIn = this.addModule('projectIn', new Linear({ inFeatures: dim, outFeatures: codebookDim, seed: seedFor('projectIn') }));
      this.projectOut = this.addModule('projectOut', new Linear({ inFeatures: codebookDim, outFeatures: dim, seed: seedFor('projectOut') }));
    }
    this.usageTracker = new CodeUsageTracker(this.codebookSizes);
  }

  /** Total number of codes re-seeded by dead-code restart since construction. */
  get restartCount(): number {
    return this.restarted;
  }

  /**
   * Quantizes x [..., dim] → codes [...] (int32) and quantized [..., dim]
   * with straight-through gradients. `options.levels` does not apply to a
   * single-level quantizer and is ignored.
   */
  forward(x: tf.Tensor, options: QuantizerForwardOptions = {}): QuantizerOutput {
    if (x.rank < 1 || x.shape[x.rank - 1] !== this.dim) {
      throw new InvalidArgumentError(`VectorQuantizer expects input [..., ${this.dim}], got shape [${x.shape}]`);
    }
    const training = options.training ?? false;
    return tf.tidy(() => {
      let z = tf.reshape(x, [-1, this.dim]) as tf.Tensor2D;
      if (this.projectIn) z = this.projectIn.forward(z) as tf.Tensor2D;
      if (this.options.cosine) z = l2Normalize(z);
      const lookup = this.quantizeVectors(z, { training });
      const passed = straightThrough(z, lookup.quantized);
      const out = this.projectOut ? this.projectOut.forward(passed) : passed;
      return {
        quantized: tf.reshape(out, x.shape),
        codes: tf.reshape(lookup.codes, x.shape.slice(0, -1)),
        loss: lookup.loss,
        perplexity: perplexityOfCountsTensor(lookup.counts),
      };
    });
  }

  /**
   * Quantizes vectors already in codebook space (after projection and
   * normalisation), without the straight-through estimator: the building
   * block `forward` and `ResidualVectorQuantizer` share. With `training`,
   * runs the pending initialisation and records the batch for `afterStep`.
   */
  quantizeVectors(z: tf.Tensor2D, options: { training?: boolean } = {}): CodebookLookup {
    if (z.rank !== 2 || z.shape[1] !== this.codebookDim) {
      throw new InvalidArgumentError(`quantizeVectors expects [N, ${this.codebookDim}], got shape [${z.shape}]`);
    }
    const training = options.training ?? false;
    if (training) this.initializeFrom(z);
    return tf.tidy(() => {
      const codebook = this.codeVectorsTensor();
      // Off the tape: indices have no gradient, and the [N, K] distance GEMM
      // would otherwise be backpropagated (with zeros) at the cost of two more.
      const codes = withoutGradient(() => nearestCodes(z, codebook));
      // In 'loss' mode the codebook gradient is a scatter-add over the assigned rows.
      const quantized = this.options.codebook === 'loss' ? gatherRows(codebook, codes) : (tf.gather(codebook, codes) as tf.Tensor2D);
      let loss = tf.mul(tf.mean(tf.square(tf.sub(z, stopGradient(quantized)))), this.options.commitmentWeight) as tf.Scalar;
      if (this.options.codebook === 'loss') {
        loss = tf.add(loss, tf.mean(tf.square(tf.sub(stopGradient(z), quantized)))) as tf.Scalar;
      }
      const counts = tf.bincount(codes, tf.tensor1d([], 'float32'), this.codebookSize).toFloat() as tf.Tensor1D;
      if (training) this.record(z, codes, counts);
      return { codes, quantized, loss, counts };
    });
  }

  /** Code vectors for int32 `codes` [...], in codebook space: [..., codebookDim]. */
  codeVectors(codes: tf.Tensor): tf.Tensor {
    if (codes.dtype !== 'int32') throw new InvalidArgumentError(`codes must be int32, got ${codes.dtype}`);
    return tf.tidy(() => {
      const flat = tf.reshape(codes, [-1]) as tf.Tensor1D;
      return tf.reshape(tf.gather(this.codeVectorsTensor(), flat), [...codes.shape, this.codebookDim]);
    });
  }

  decodeCodes(codes: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const vectors = this.codeVectors(codes);
      return this.projectOut ? this.projectOut.forward(vectors) : vectors;
    });
  }

  afterStep(): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    try {
      // Before initialisation (k-means still collecting batches) there is nothing to update.
      if (!this.initialized) return;
      const { decay, epsilon, cosine } = this.options;
      const K = this.codebookSize;
      tf.tidy(() => {
        // Statistics per training batch, so thresholds do not depend on how many forwards one step made.
        const counts = tf.div(pending.counts, pending.batches);
        const clusterSize = tf.add(tf.mul(this.clusterSize, decay), tf.mul(counts, 1 - decay));
        this.clusterSize.assign(clusterSize);
        if (this.embedSum && pending.sums) {
          const sums = tf.div(pending.sums, pending.batches);
          const embedSum = tf.add(tf.mul(this.embedSum, decay), tf.mul(sums, 1 - decay));
          this.embedSum.assign(embedSum);
          const total = tf.sum(clusterSize);
          const smoothed = tf.mul(tf.div(tf.add(clusterSize, epsilon), tf.add(total, K * epsilon)), total);
          let codebook = tf.div(embedSum, tf.reshape(smoothed, [K, 1]));
          if (cosine) codebook = l2Normalize(codebook);
          this.codebook.assign(codebook);
        }
      });
      this.steps++;
      if (this.options.restartThreshold > 0 && this.steps % this.options.restartEvery === 0) {
        this.restartDeadCodes(pending.latest, pending.rows / pending.batches);
      }
    } finally {
      disposePending(pending);
    }
  }

  trackUsage(codes: tf.Tensor): void {
    this.usageTracker.add(codes, false);
  }

  usage(): CodeUsage {
    return this.usageTracker.usage();
  }

  resetUsage(): void {
    this.usageTracker.reset();
  }

  override dispose(): void {
    if (this.pending) disposePending(this.pending);
    this.pending = undefined;
    super.dispose();
  }

  /** The codebook as used for the search (unit rows in cosine mode); differentiable. */
  private codeVectorsTensor(): tf.Tensor2D {
    return this.options.cosine ? l2Normalize(this.codebook as tf.Tensor2D) : (this.codebook as tf.Tensor2D);
  }

  private record(z: tf.Tensor2D, codes: tf.Tensor1D, counts: tf.Tensor1D): void {
    const K = this.codebookSize;
    const previous = this.pending;
    // Off the gradient tape (these are not part of the loss), and kept past
    // the caller's tidy and the optimizer's.
    const sums = this.embedSum ? withoutGradient(() => scatterAddRows(z, codes, K)) : undefined;
    this.pending = {
      counts: tf.keep(previous ? tf.add(previous.counts, counts) : counts.clone()),
      sums: sums && (tf.keep(previous?.sums ? tf.add(previous.sums, sums) : sums) as tf.Tensor2D),
      latest: tf.keep(withoutGradient(() => z.clone())),
      batches: (previous?.batches ?? 0) + 1,
      rows: (previous?.rows ?? 0) + z.shape[0],
    };
    if (previous) disposePending(previous);
  }

  /**
   * First training batch(es): set the codebook (k-means, or the random init
   * as is) and start the EMA statistics from the actual assignment counts
   * rather than zeros, so early EMA steps are not biased toward the origin.
   */
  private initializeFrom(z: tf.Tensor2D): void {
    if (this.initialized) return;
    if (this.initializedFlag.dataSync()[0]! > 0) {
      this.initialized = true;
      return;
    }
    const { kmeansInit, kmeansBatches, kmeansMaxSamples, kmeansIterations, cosine } = this.options;
    const n = z.shape[0];
    const d = this.codebookDim;
    const values = z.dataSync();
    const perBatch = Math.max(1, Math.floor(kmeansMaxSamples / (kmeansInit ? kmeansBatches : 1)));
    let kept: Float32Array;
    if (n <= perBatch) {
      kept = Float32Array.from(values);
    } else {
      const rows = this.rng.sampleWithoutReplacement(n, perBatch);
      kept = new Float32Array(perBatch * d);
      rows.forEach((r, i) => kept.set(values.subarray(r * d, r * d + d), i * d));
    }
    this.initSamples.push(kept);
    this.initRowsSeen += n;
    this.initRowsKept += kept.length / d;
    this.initBatches++;
    if (kmeansInit && this.initBatches < kmeansBatches) return;

    const samples = new Float32Array(this.initRowsKept * d);
    let offset = 0;
    for (const s of this.initSamples) {
      samples.set(s, offset);
      offset += s.length;
    }
    const rowsPerSample = this.initRowsSeen / this.initRowsKept;
    const batches = this.initBatches;
    tf.tidy(() => {
      let centroids: tf.Tensor2D;
      let counts: tf.Tensor1D;
      if (kmeansInit) {
        const result = kmeans(samples, this.initRowsKept, d, this.codebookSize, {
          iterations: kmeansIterations,
          spherical: cosine,
          seed: this.rng.int(2 ** 31),
        });
        centroids = tf.tensor2d(result.centroids, [this.codebookSize, d]);
        counts = tf.tensor1d(result.counts);
      } else {
        centroids = tf.clone(this.codeVectorsTensor());
        counts = assignmentCounts(tf.tensor2d(samples, [this.initRowsKept, d]), centroids);
      }
      const clusterSize = tf.mul(counts, rowsPerSample / batches);
      this.codebook.assign(centroids);
      this.clusterSize.assign(clusterSize);
      this.embedSum?.assign(tf.mul(centroids, tf.reshape(clusterSize, [this.codebookSize, 1])));
      this.initializedFlag.assign(tf.ones([1]));
    });
    this.initSamples = [];
    this.initialized = true;
  }

  /** Re-seeds codes whose EMA usage is under the threshold with random rows of `recent`. */
  private restartDeadCodes(recent: tf.Tensor2D, rowsPerBatch: number): void {
    const K = this.codebookSize;
    const d = this.codebookDim;
    const threshold = Math.min(this.options.restartThreshold, (0.5 * rowsPerBatch) / K);
    const clusterSize = Float32Array.from(this.clusterSize.dataSync());
    const dead: number[] = [];
    for (let i = 0; i < K; i++) if (clusterSize[i]! < threshold) dead.push(i);
    if (dead.length === 0) return;
    const n = recent.shape[0];
    const samples = recent.dataSync();
    const picks = dead.length <= n ? this.rng.sampleWithoutReplacement(n, dead.length) : Int32Array.from(dead, () => this.rng.int(n));
    const codebook = Float32Array.from(this.codebook.dataSync());
    const embedSum = this.embedSum ? Float32Array.from(this.embedSum.dataSync()) : undefined;
    dead.forEach((code, i) => {
      const row = samples.subarray(picks[i]! * d, picks[i]! * d + d);
      codebook.set(row, code * d);
      // Restarted codes start at the threshold: they survive only if they earn hits.
      clusterSize[code] = threshold;
      if (embedSum) for (let j = 0; j < d; j++) embedSum[code * d + j] = row[j]! * threshold;
    });
    tf.tidy(() => {
      this.codebook.assign(tf.tensor2d(codebook, [K, d]));
      this.clusterSize.assign(tf.tensor1d(clusterSize));
      if (this.embedSum && embedSum) this.embedSum.assign(tf.tensor2d(embedSum, [K, d]));
    });
    this.restarted += dead.length;
  }
}
