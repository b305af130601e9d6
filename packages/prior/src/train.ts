/**
 * `trainPrior`: next-token training of the GPT prior with AdamW, warmup +
 * cosine learning rate, gradient clipping, validation in bits per token (and
 * per pixel / per second when the token rate is known), atomic single-file
 * checkpoints and exact resume.
 *
 * Determinism: the batch of step s depends only on (seed, s) — the epoch
 * permutation comes from `rng.fork('epoch<e>')` and the crops from
 * `rng.fork('step<s>')` — so a checkpoint only needs the step number (plus
 * weights and optimizer moments) for a resumed run to continue exactly as the
 * uninterrupted one would have.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import {
  FileFormatError,
  InvalidArgumentError,
  Rng,
  decodeSafetensors,
  encodeSafetensorsChunks,
  moduleTensors,
  writeFileAtomic,
  type SafetensorsTensor,
} from '@vqkit/core';
import { TrainingSampler, evaluationWindows, packWindows, toSequenceList, type TokenSequences, type WindowBatch, type WindowSpec } from './data.js';
import type { GPTConfig } from './gpt/config.js';
import { GPT, type GPTOptions } from './gpt/model.js';
import { AdamW, learningRateAt } from './optim.js';
import { PriorModel, type PriorMetadata } from './prior-model.js';
import type { GPTSource } from './sampling.js';

/** Progress of a training run, reported every `logEvery` steps and after each validation. */
export interface PriorTrainProgress {
  /** Steps completed. */
  step: number;
  totalSteps: number;
  /** Training cross-entropy (nats/token) of the last step. */
  loss: number;
  /** Training loss in bits per token, averaged over the steps since the last report. */
  bitsPerToken: number;
  learningRate: number;
  /** Training throughput (target tokens per second) since the start of this run. */
  tokensPerSecond: number;
  /** Estimated seconds to finish. */
  eta: number;
  /** Set when this report follows a validation pass. */
  validation?: PriorValidation;
}

/** Validation result: the model's code length on held-out sequences. */
export interface PriorValidation {
  /** Mean cross-entropy in nats per predicted token. */
  loss: number;
  /** Mean code length in bits per predicted token (loss / ln 2). */
  bitsPerToken: number;
  /** bitsPerToken × tokensPerPixel, when the token rate per pixel is known. */
  bitsPerPixel?: number;
  /** bitsPerToken × tokensPerSecond, when the token rate per second is known. */
  bitsPerSecond?: number;
  /** Predicted tokens evaluated. */
  tokens: number;
}

/** Options of {@link trainPrior}. */
export interface TrainPriorOptions {
  /** The model to train: a configuration for a fresh GPT, or an existing prior to continue. */
  model: GPTOptions | PriorModel;
  /** What the tokens are (stored with the model). Default: the existing prior's metadata, else {}. */
  metadata?: PriorMetadata;
  /** Training sequences, each `[prefix (BOS or class token), tokens...]` (see the layout helpers). */
  train: TokenSequences;
  /** Validation sequences. Default: a `validationFraction` split of `train`. */
  validation?: TokenSequences;
  /** Fraction of `train` held out when `validation` is not given (at least one sequence). 0 disables validation. Default 0.05. */
  validationFraction?: number;
  /** Optimisation steps. */
  steps: number;
  /** Sequences (windows) per step. Default 16. */
  batchSize?: number;
  /** Peak learning rate. Default 1e-3. */
  learningRate?: number;
  /** Learning rate at the last step (cosine floor). Default learningRate / 10. */
  minLearningRate?: number;
  /** Linear warmup steps. Default min(100, steps / 10). */
  warmupSteps?: number;
  /** AdamW decoupled weight decay on matrices and embeddings. Default 0.01. */
  weightDecay?: number;
  /** Global gradient-norm clip; 0 disables. Default 1. */
  clipNorm?: number;
  /** Leading tokens of every sequence that are conditions, never predicted, kept in every window. Default 1. */
  prefixLength?: number;
  /** Windows of long sequences start (after the prefix) on multiples of this, e.g. the residual levels. Default 1. */
  windowAlign?: number;
  /** Probability of replacing a class token prefix with BOS, so the model also learns the unconditional distribution. Default 0. */
  classDropout?: number;
  /** Seed of data order, crops and dropout. Default 0. */
  seed?: number;
  /** Progress report interval in steps. Default 10. */
  logEvery?: number;
  /** Validation interval in steps (validation also runs at the end). Default max(1, steps / 10). */
  evalEvery?: number;
  /** Evaluate at most this many validation sequences (the first ones). Default all. */
  maxValidationSequences?: number;
  /** Checkpoint file (single safetensors file: weights, optimizer moments, step). Default: no checkpoints. */
  checkpointPath?: string;
  /** Checkpoint interval in steps (also written at the end and on abort). Default evalEvery. */
  checkpointEvery?: number;
  /** Continue from `checkpointPath` if it exists. Default true. */
  resume?: boolean;
  /** Also write the final report (everything but the model, plus the config) as JSON here, atomically. Default: none. */
  reportPath?: string;
  /** Code tokens per pixel, to report bits per pixel. Default: metadata.tokensPerPixel. */
  tokensPerPixel?: number;
  /** Tokens per second of signal, to report bits per second. Default: metadata.tokensPerSecond. */
  tokensPerSecond?: number;
  onProgress?: (progress: PriorTrainProgress) => void;
  /** Stops after the current step; a checkpoint is written and the report has `aborted: true`. */
  signal?: AbortSignal;
}

/** The final report of {@link trainPrior}. */
export interface PriorTrainReport {
  /** The trained prior (the caller owns it: dispose when done). */
  model: PriorModel;
  /** Steps completed in total (including those before a resume). */
  steps: number;
  /** The step the run resumed from (0 for a fresh start). */
  resumedFromStep: number;
  /** True when stopped by the abort signal before `steps`. */
  aborted: boolean;
  /** Training loss (nats/token) of the last step. */
  finalLoss: number;
  /** Validation at the end (null without validation data). */
  validation: PriorValidation | null;
  /** Every validation pass of this run, by step. */
  history: { step: number; validation: PriorValidation }[];
  /** Training throughput of this run (target tokens per second). */
  tokensPerSecond: number;
  /** Target tokens trained on in this run (tokens/epoch of the training set gives the epochs). */
  tokensSeen: number;
  /** Wall time of this run in seconds. */
  elapsedSeconds: number;
  parameterCount: number;
}

const CHECKPOINT_FORMAT = 'vqkit-prior-checkpoint';

interface CheckpointState {
  step: number;
  config: GPTConfig;
  metadata: PriorMetadata;
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/** Mean cross-entropy (nats) of `batch` under the model, weighted by `batch.weights`. Returns [loss, sum of weights]. */
function batchLoss(model: GPT, batch: WindowBatch, training: boolean, dropoutRng?: Rng): tf.Scalar {
  const V = model.config.vocabSize;
  const inputs = tf.tensor2d(batch.inputs, [batch.batch, batch.time], 'int32');
  const logits = model.forward(inputs, { training, dropoutRng });
  const logp = tf.logSoftmax(tf.reshape(logits, [batch.batch * batch.time, V]));
  const onehot = tf.oneHot(tf.tensor1d(batch.targets, 'int32'), V);
  const nll = tf.neg(tf.sum(tf.mul(logp, onehot), -1));
  const weights = tf.tensor1d(batch.weights);
  return tf.div(tf.sum(tf.mul(nll, weights)), tf.maximum(tf.sum(weights), 1)) as tf.Scalar;
}

/** Options of {@link evaluatePrior}. */
export interface EvaluatePriorOptions {
  /** Windows per forward pass. Default 16. */
  batchSize?: number;
  /** Leading condition tokens of every sequence (never scored). Default 1. */
  prefixLength?: number;
  /** Alignment of the windows of long sequences. Default 1. */
  windowAlign?: number;
  /** Code tokens per pixel, to report bits per pixel. */
  tokensPerPixel?: number;
  /** Tokens per second of signal, to report bits per second. */
  tokensPerSecond?: number;
}

/**
 * The prior's code length on `sequences`: exact mean over every predicted
 * token (sequences longer than the context are scored window by window).
 */
export function evaluatePrior(source: GPTSource, sequences: TokenSequences, options: EvaluatePriorOptions = {}): PriorValidation {
  const model = source instanceof GPT ? source : source.gpt;
  const list = toSequenceList(sequences, model.config.vocabSize, 'validation');
  const spec: WindowSpec = { nPositions: model.config.nPositions, prefixLength: options.prefixLength ?? 1, windowAlign: options.windowAlign ?? 1 };
  const windows = list.flatMap((s) => evaluationWindows(s, spec));
  const batchSize = options.batchSize ?? 16;
  let total = 0;
  let count = 0;
  for (let i = 0; i < windows.length; i += batchSize) {
    const batch = packWindows(windows.slice(i, i + batchSize), spec.prefixLength);
    const n = batch.weights.reduce((a, w) => a + w, 0);
    const loss = tf.tidy(() => batchLoss(model, batch, false));
    total += loss.dataSync()[0]! * n;
    loss.dispose();
    count += n;
  }
  const loss = count > 0 ? total / count : NaN;
  const bitsPerToken = loss / Math.LN2;
  const out: PriorValidation = { loss, bitsPerToken, tokens: count };
  if (options.tokensPerPixel !== undefined) out.bitsPerPixel = bitsPerToken * options.tokensPerPixel;
  if (options.tokensPerSecond !== undefined) out.bitsPerSecond = bitsPerToken * options.tokensPerSecond;
  return out;
}

function writeCheckpoint(file: string, model: GPT, optimizer: AdamW, state: CheckpointState): void {
  const tensors: [string, SafetensorsTensor][] = moduleTensors(model);
  for (const [name, variable] of optimizer.namedState()) {
    tensors.push([name, { dtype: 'F32', shape: [...variable.shape], data: variable.dataSync() as Float32Array }]);
  }
  writeFileAtomic(file, encodeSafetensorsChunks(tensors, { format: CHECKPOINT_FORMAT, state: JSON.stringify(state) }));
}

function readCheckpoint(file: string): { state: CheckpointState; tensors: Map<string, SafetensorsTensor> } {
  const { tensors, metadata } = decodeSafetensors(fs.readFileSync(file), file);
  if (metadata.format !== CHECKPOINT_FORMAT || metadata.state === undefined) {
    throw new FileFormatError(`not a prior training checkpoint (metadata format is '${metadata.format ?? ''}')`, file);
  }
  let state: CheckpointState;
  try {
    state = JSON.parse(metadata.state) as CheckpointState;
  } catch (err) {
    throw new FileFormatError('checkpoint state is not valid JSON', file, { cause: err });
  }
  if (!Number.isInteger(state.step) || state.step < 0) throw new FileFormatError(`checkpoint has an invalid step ${String(state.step)}`, file);
  return { state, tensors };
}

function sameConfig(a: GPTConfig, b: GPTConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Trains (or continues training) a GPT prior; see {@link TrainPriorOptions}. */
export async function trainPrior(options: TrainPriorOptions): Promise<PriorTrainReport> {
  const steps = positiveInt('steps', options.steps);
  const batchSize = positiveInt('batchSize', options.batchSize ?? 16);
  const logEvery = positiveInt('logEvery', options.logEvery ?? 10);
  const evalEvery = positiveInt('evalEvery', options.evalEvery ?? Math.max(1, Math.floor(steps / 10)));
  const checkpointEvery = positiveInt('checkpointEvery', options.checkpointEvery ?? evalEvery);
  const peak = options.learningRate ?? 1e-3;
  if (!(peak > 0)) throw new InvalidArgumentError(`learningRate must be > 0, got ${peak}`);
  const schedule = {
    peak,
    min: options.minLearningRate ?? peak / 10,
    warmupSteps: options.warmupSteps ?? Math.min(100, Math.floor(steps / 10)),
    totalSteps: steps,
  };
  const classDropout = options.classDropout ?? 0;
  if (!(classDropout >= 0 && classDropout <= 1)) throw new InvalidArgumentError(`classDropout must be in [0, 1], got ${classDropout}`);
  const validationFraction = options.validationFraction ?? 0.05;
  if (!(validationFraction >= 0 && validationFraction < 1)) throw new InvalidArgumentError(`validationFraction must be in [0, 1), got ${validationFraction}`);

  const prior = options.model instanceof PriorModel ? options.model : new PriorModel(new GPT(options.model), options.metadata ?? {});
  const ownsModel = !(options.model instanceof PriorModel);
  const metadata = options.metadata ?? prior.metadata;
  const model = prior.gpt;
  const config = model.config;
  const vocab = config.vocabulary;
  const spec: WindowSpec = { nPositions: config.nPositions, prefixLength: options.prefixLength ?? 1, windowAlign: options.windowAlign ?? 1 };
  if (!Number.isInteger(spec.prefixLength) || spec.prefixLength < 0 || spec.prefixLength >= config.nPositions) {
    throw new InvalidArgumentError(`prefixLength must be an integer in [0, nPositions), got ${spec.prefixLength}`);
  }
  positiveInt('windowAlign', spec.windowAlign);
  const tokensPerPixel = options.tokensPerPixel ?? metadata.tokensPerPixel;
  const tokensPerSecond = options.tokensPerSecond ?? metadata.tokensPerSecond;

  const rng = new Rng(options.seed ?? 0);
  let train = toSequenceList(options.train, config.vocabSize, 'train');
  let validation: Int32Array[] = [];
  if (options.validation !== undefined) {
    validation = toSequenceList(options.validation, config.vocabSize, 'validation');
  } else if (validationFraction > 0 && train.length >= 2) {
    const order = rng.fork('split').permutation(train.length);
    const nVal = Math.max(1, Math.round(train.length * validationFraction));
    validation = Array.from(order.subarray(0, nVal), (i) => train[i]!);
    train = Array.from(order.subarray(nVal), (i) => train[i]!);
  }
  if (options.maxValidationSequences !== undefined) validation = validation.slice(0, positiveInt('maxValidationSequences', options.maxValidationSequences));
  if (train.length === 0) throw new InvalidArgumentError('no training sequences');

  const parameters = model.namedVariables().filter(([, v]) => v.trainable);
  const optimizer = new AdamW(parameters, { weightDecay: options.weightDecay, clipNorm: options.clipNorm });
  const byVariableName = new Map(parameters.map(([name, v]) => [v.name, name]));

  let step = 0;
  const checkpointPath = options.checkpointPath;
  try {
    if (checkpointPath !== undefined && (options.resume ?? true) && fs.existsSync(checkpointPath)) {
      const { state, tensors } = readCheckpoint(checkpointPath);
      if (!sameConfig(state.config, config)) {
        throw new InvalidArgumentError(
          `checkpoint ${checkpointPath} was trained with a different model configuration; delete it or pass resume: false to start over`,
        );
      }
      const before = state.metadata?.tokenizer;
      if (before !== undefined && metadata.tokenizer !== undefined && before !== metadata.tokenizer) {
        throw new InvalidArgumentError(
          `checkpoint ${checkpointPath} was trained on codes of tokenizer ${before}, these are from ${metadata.tokenizer}; delete it or pass resume: false to start over`,
        );
      }
      const weights = new Map<string, tf.Tensor>();
      try {
        for (const [name] of model.namedVariables()) {
          const t = tensors.get(name);
          if (!t) throw new FileFormatError(`weight '${name}' missing from the checkpoint`, checkpointPath);
          weights.set(name, tf.tensor(t.data, t.shape));
        }
        model.loadState(weights);
      } finally {
        for (const t of weights.values()) t.dispose();
      }
      optimizer.loadState(tensors as Map<string, { shape: number[]; data: Float32Array }>, state.step);
      step = state.step;
    }
    const resumedFromStep = step;

    const sampler = new TrainingSampler(train, { ...spec, batchSize, classDropout, vocabulary: vocab, rng });

    const history: { step: number; validation: PriorValidation }[] = [];
    let lastValidation: PriorValidation | null = null;
    const validate = (): PriorValidation | null => {
      if (validation.length === 0) return null;
      lastValidation = evaluatePrior(model, validation, { batchSize, prefixLength: spec.prefixLength, windowAlign: spec.windowAlign, tokensPerPixel, tokensPerSecond });
      history.push({ step, validation: lastValidation });
      return lastValidation;
    };
    const checkpoint = (): void => {
      if (checkpointPath !== undefined) writeCheckpoint(checkpointPath, model, optimizer, { step, config, metadata });
    };

    const started = performance.now();
    let trainSeconds = 0;
    let tokensSeen = 0;
    let finalLoss = NaN;
    let lossSinceReport = 0;
    let stepsSinceReport = 0;
    let aborted = false;
    while (step < steps) {
      if (options.signal?.aborted) {
        aborted = true;
        break;
      }
      const t0 = performance.now();
      const batch = packWindows(sampler.windows(step), spec.prefixLength);
      const dropoutRng = rng.fork(`step${step}`).fork('dropout');
      const lr = learningRateAt(step, schedule);
      const loss = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => batchLoss(model, batch, true, dropoutRng), parameters.map(([, v]) => v));
        const named = new Map<string, tf.Tensor>();
        for (const [varName, g] of Object.entries(grads)) named.set(byVariableName.get(varName)!, g);
        optimizer.step(named, lr).dispose();
        return value;
      });
      finalLoss = loss.dataSync()[0]!;
      loss.dispose();
      if (!Number.isFinite(finalLoss)) {
        throw new InvalidArgumentError(`training diverged at step ${step + 1} (loss ${finalLoss}); lower the learning rate`);
      }
      step++;
      trainSeconds += (performance.now() - t0) / 1000;
      tokensSeen += batch.weights.reduce((a, w) => a + w, 0);
      lossSinceReport += finalLoss;
      stepsSinceReport++;
      const report = (validationResult?: PriorValidation): void => {
        const perStep = trainSeconds / (step - resumedFromStep);
        options.onProgress?.({
          step,
          totalSteps: steps,
          loss: finalLoss,
          bitsPerToken: lossSinceReport / stepsSinceReport / Math.LN2,
          learningRate: lr,
          tokensPerSecond: tokensSeen / trainSeconds,
          eta: perStep * (steps - step),
          ...(validationResult ? { validation: validationResult } : {}),
        });
        lossSinceReport = 0;
        stepsSinceReport = 0;
      };
      const validateNow = step % evalEvery === 0 || step === steps;
      const v = validateNow ? validate() : null;
      if (v || step % logEvery === 0 || step === steps) report(v ?? undefined);
      if (step % checkpointEvery === 0 || step === steps) checkpoint();
      // Let timers, signals and progress output run between steps.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (aborted) checkpoint();
    if (!aborted && lastValidation === null && validation.length > 0) validate();
    const outPrior = prior.metadata === metadata ? prior : new PriorModel(model, metadata);
    const report: PriorTrainReport = {
      model: outPrior,
      steps: step,
      resumedFromStep,
      aborted,
      finalLoss,
      validation: lastValidation,
      history,
      tokensPerSecond: trainSeconds > 0 ? tokensSeen / trainSeconds : 0,
      tokensSeen,
      elapsedSeconds: (performance.now() - started) / 1000,
      parameterCount: model.parameterCount(),
    };
    if (options.reportPath !== undefined) {
      const { model: _omitted, ...rest } = report;
      writeFileAtomic(options.reportPath, `${JSON.stringify({ ...rest, config: outPrior.toConfigJson() }, null, 2)}\n`);
    }
    return report;
  } catch (err) {
    if (ownsModel) prior.dispose();
    throw err;
  } finally {
    optimizer.dispose();
  }
}
