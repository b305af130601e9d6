/**
 * Training loop of the image tokenizer.
 *
 * Each step: loss = MSE(x, x̂) + quantizer loss, one Adam update over
 * `model.trainableVariables()` (that order, so checkpoints can map optimizer
 * slots to variable names), then `quantizer.afterStep()` for the updates
 * that are not gradients (EMA codebook, dead-code restarts). The learning
 * rate follows linear warmup + cosine decay. After every epoch (and at the
 * end) a validation pass measures PSNR and codebook usage.
 *
 * Output directory:
 *   config.json, model.safetensors   the trained tokenizer (ImageTokenizer.load(outputDir))
 *   checkpoints/step-N/              resumable training state (see core's checkpoint module)
 *   report/                          reconstructions.png, codebook-usage.png, loss.png, summary.json
 *
 * Determinism: the dataset yields the same batches for an epoch on every run,
 * so a resumed run replays the remainder of the interrupted epoch exactly.
 * Quantizer-internal randomness (dead-code restarts) is not checkpointed, so
 * resumed runs with restarts enabled are equivalent but not bit-identical.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, latestCheckpoint, loadCheckpoint, saveCheckpoint } from '@vqkit/core';
import { ImageDataset, type ImageDatasetOptions, type ImageSplit } from '../data/dataset.js';
import {
  createImageTokenizerConfig,
  serializeImageTokenizerConfig,
  validateImageTokenizerConfig,
  type ImageTokenizerConfig,
  type ImageTokenizerConfigInput,
} from '../model/config.js';
import { ImageVQVAE } from '../model/vqvae.js';
import { writeTokenizerFiles } from '../tokenizer.js';
import { evaluateReconstruction } from './evaluate.js';
import { writeTrainingReport } from './report.js';
import { learningRateAt, validateSchedule, type LearningRateSchedule } from './schedule.js';

export interface TrainImageTokenizerOptions {
  /** Training data: a loaded dataset, or options to load one. Its validation split (if any) is used for validation. */
  dataset: ImageDataset | ImageDatasetOptions;
  /** Where the tokenizer, checkpoints and report go. Created if missing. */
  outputDir: string;
  /**
   * Model config, or overrides of the reference (Fashion-MNIST) config.
   * Default: the reference config with the dataset's sample height, width and channels.
   */
  config?: ImageTokenizerConfig | ImageTokenizerConfigInput;
  /** Total optimizer steps. Default `epochs` × batches per epoch. */
  steps?: number;
  /** Epochs, when `steps` is not given. Default 10. */
  epochs?: number;
  /** Images per step. Default 64. */
  batchSize?: number;
  /** Peak Adam learning rate. Default 2e-4. */
  learningRate?: number;
  /** Linear warmup steps. Default min(500, 5% of the steps). */
  warmupSteps?: number;
  /** Cosine decay floor as a fraction of `learningRate`. Default 0.1. */
  finalLearningRateRatio?: number;
  /** Model initialisation seed. Default 0. */
  seed?: number;
  /** Save a checkpoint every this many steps (and always at the end or on abort); 0 = only then. Default 1000. */
  checkpointEvery?: number;
  /** Checkpoints kept on disk. Default 3. */
  keepCheckpoints?: number;
  /** Continue from the latest checkpoint in `outputDir/checkpoints` if there is one. Default false. */
  resume?: boolean;
  /**
   * Validate on at most this many images (the first of the validation split,
   * else of the training split). Default 1000: cheap enough to run every
   * epoch; measure the full test set afterwards with `evaluateReconstruction`.
   */
  maxValidationImages?: number;
  /**
   * Stop after this many seconds of training in this session, as if the
   * steps were done (final checkpoint, tokenizer and report are written;
   * `stoppedEarly` is set). The learning-rate schedule then advances by
   * whichever is further along, steps or time, so a run cut short by the
   * limit still ends annealed (on a busy machine the decay follows the
   * clock; such runs are not bit-reproducible). Default: no limit.
   */
  timeLimitSeconds?: number;
  /** Image pairs in report/reconstructions.png. Default 16. */
  reportImages?: number;
  /** Called after every step. */
  onProgress?: (progress: TrainingProgress) => void;
  /** Called after every validation pass. */
  onValidation?: (result: ValidationResult) => void;
  /** Aborting stops after the current step, writes a checkpoint and returns with `aborted: true`. */
  signal?: AbortSignal;
}

/** Per-step progress, for progress bars and logs. */
export interface TrainingProgress {
  /** Steps completed (1-based after the first update). */
  step: number;
  totalSteps: number;
  epoch: number;
  /** Total loss of this step. */
  loss: number;
  /** Reconstruction MSE of this step. */
  reconLoss: number;
  /** PSNR (dB) of this batch's reconstructions, from the MSE. */
  psnr: number;
  /** Perplexity of this batch's codes. */
  perplexity: number;
  /** Fraction of the (first-level) codebook used by the training batches of the last 50 steps. */
  usage: number;
  learningRate: number;
  /** Smoothed training throughput. */
  imagesPerSecond: number;
  /** Estimated seconds to finish (validation excluded). */
  etaSeconds: number;
}

export interface ValidationResult {
  step: number;
  epoch: number;
  images: number;
  /** Mean per-image PSNR in dB. */
  psnr: number;
  /** Mean reconstruction MSE. */
  mse: number;
  /** Codes used at least once / codebook size, per level. */
  usedFraction: number[];
  /** Perplexity of the code distribution over the whole pass, per level. */
  perplexity: number[];
}

/** One smoothed point of the training curve. */
export interface LossPoint {
  step: number;
  loss: number;
  reconLoss: number;
}

/** What checkpoints store as trainer state. */
export interface ImageTrainerState {
  format: 'vqkit.image-trainer';
  version: 1;
  step: number;
  totalSteps: number;
  batchSize: number;
  seed: number;
  schedule: LearningRateSchedule;
  lossHistory: LossPoint[];
  validationHistory: ValidationResult[];
  /** Training time of all sessions so far. */
  elapsedSeconds: number;
}

export interface TrainImageTokenizerResult {
  /** Directory of the trained tokenizer (= outputDir), written unless aborted. */
  tokenizerDir: string;
  step: number;
  totalSteps: number;
  aborted: boolean;
  /** True when `timeLimitSeconds` ended training before `totalSteps` (the outputs are written as for a finished run). */
  stoppedEarly: boolean;
  /** The step the run resumed from (0 for a fresh run). */
  resumedFrom: number;
  /** Latest checkpoint directory. */
  checkpoint: string;
  validation: ValidationResult | undefined;
  lossHistory: LossPoint[];
  validationHistory: ValidationResult[];
}

/** Steps averaged into one point of the loss history. */
const LOSS_WINDOW = 10;
/** Steps over which the progress `usage` counts codes as used. */
const USAGE_WINDOW = 50;
const TRAINER_STATE_FORMAT = 'vqkit.image-trainer';

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function resolveConfig(input: TrainImageTokenizerOptions['config'], dataset: ImageDataset): ImageTokenizerConfig {
  const shape = dataset.sampleShape;
  let config: ImageTokenizerConfig;
  if (input && 'format' in input) config = validateImageTokenizerConfig(input);
  else {
    config = createImageTokenizerConfig({
      ...input,
      preprocessing: { height: shape.height, width: shape.width, channels: shape.channels, ...input?.preprocessing },
    });
  }
  if (config.preprocessing.channels !== shape.channels) {
    throw new InvalidArgumentError(`config has ${config.preprocessing.channels} channel(s) but the dataset yields ${shape.channels}; set the dataset's channels option to match`);
  }
  return config;
}

function setLearningRate(optimizer: tf.AdamOptimizer, value: number): void {
  // tfjs reads `learningRate` on every applyGradients but declares it protected; a schedule needs to move it.
  (optimizer as unknown as { learningRate: number }).learningRate = value;
}

/** Trains an image tokenizer; see the module comment for what is written where. */
export async function trainImageTokenizer(options: TrainImageTokenizerOptions): Promise<TrainImageTokenizerResult> {
  const dataset = options.dataset instanceof ImageDataset ? options.dataset : await ImageDataset.load(options.dataset);
  const train = dataset.train;
  const validationSplit = dataset.validation ?? train;
  const batchSize = positiveInt('batchSize', options.batchSize ?? 64);
  const dropLast = train.samplesPerEpoch >= batchSize;
  const stepsPerEpoch = train.batchCount(batchSize, dropLast);
  if (stepsPerEpoch < 1) throw new InvalidArgumentError('the training split is empty');
  const totalSteps = positiveInt('steps', options.steps ?? positiveInt('epochs', options.epochs ?? 10) * stepsPerEpoch);
  const seed = options.seed ?? 0;
  const checkpointEvery = options.checkpointEvery ?? 1000;
  if (!Number.isInteger(checkpointEvery) || checkpointEvery < 0) throw new InvalidArgumentError(`checkpointEvery must be a non-negative integer, got ${checkpointEvery}`);
  const maxValidationImages = positiveInt('maxValidationImages', options.maxValidationImages ?? 1000);
  const timeLimitSeconds = options.timeLimitSeconds ?? Number.POSITIVE_INFINITY;
  if (!(timeLimitSeconds > 0)) throw new InvalidArgumentError(`timeLimitSeconds must be > 0, got ${timeLimitSeconds}`);
  const outputDir = path.resolve(options.outputDir);
  const checkpointRoot = path.join(outputDir, 'checkpoints');
  fs.mkdirSync(outputDir, { recursive: true });

  const schedule: LearningRateSchedule = {
    baseLearningRate: options.learningRate ?? 2e-4,
    warmupSteps: options.warmupSteps ?? Math.min(500, Math.floor(totalSteps * 0.05)),
    totalSteps,
    finalRatio: options.finalLearningRateRatio ?? 0.1,
  };
  validateSchedule(schedule);

  let config = resolveConfig(options.config, dataset);
  let state: ImageTrainerState = {
    format: TRAINER_STATE_FORMAT,
    version: 1,
    step: 0,
    totalSteps,
    batchSize,
    seed,
    schedule,
    lossHistory: [],
    validationHistory: [],
    elapsedSeconds: 0,
  };
  const optimizer = tf.train.adam(schedule.baseLearningRate, 0.9, 0.999, 1e-8);
  let model: ImageVQVAE | undefined;
  let resumedFrom = 0;
  let checkpointPath = '';
  try {
    const latest = options.resume ? latestCheckpoint(checkpointRoot) : undefined;
    if (latest) {
      const savedConfig = validateImageTokenizerConfig(
        JSON.parse(fs.readFileSync(path.join(latest.path, 'config.json'), 'utf8')),
        path.join(latest.path, 'config.json'),
      );
      if (options.config && serializeImageTokenizerConfig(savedConfig) !== serializeImageTokenizerConfig(config)) {
        throw new InvalidArgumentError(`cannot resume: the checkpoint in ${latest.path} was trained with a different config`);
      }
      config = savedConfig;
      model = new ImageVQVAE(config, { seed });
      const loaded = await loadCheckpoint<ImageTrainerState>(latest.path, { model, optimizer });
      if (loaded.trainerState.format !== TRAINER_STATE_FORMAT) throw new InvalidArgumentError(`${latest.path} is not an image tokenizer checkpoint`);
      if (loaded.trainerState.batchSize !== batchSize) {
        throw new InvalidArgumentError(`cannot resume with batchSize ${batchSize}: the checkpoint used ${loaded.trainerState.batchSize} (epoch positions would not line up)`);
      }
      // The run may be extended (more steps): the schedule follows the new total.
      state = { ...loaded.trainerState, totalSteps, schedule };
      resumedFrom = state.step;
      checkpointPath = latest.path;
    } else {
      model = new ImageVQVAE(config, { seed });
    }
    const vars = model.trainableVariables();
    const configJson = serializeImageTokenizerConfig(config);
    const sessionStart = performance.now();
    const elapsedBefore = state.elapsedSeconds;

    let lastSavedStep = resumedFrom > 0 ? resumedFrom : -1;
    let lastHistogram: Int32Array[] | undefined;
    const saveNow = async (): Promise<void> => {
      state.elapsedSeconds = elapsedBefore + (performance.now() - sessionStart) / 1000;
      checkpointPath = await saveCheckpoint({
        root: checkpointRoot,
        step: state.step,
        model: model!,
        optimizer,
        trainerState: state,
        extraFiles: { 'config.json': configJson },
        keep: options.keepCheckpoints ?? 3,
      });
      lastSavedStep = state.step;
    };
    const runValidation = async (): Promise<ValidationResult> => {
      const { histogram, ...v } = await evaluateReconstruction(model!, validationSplit, { batchSize, maxImages: maxValidationImages, signal: options.signal });
      lastHistogram = histogram;
      const result: ValidationResult = { step: state.step, epoch: Math.ceil(state.step / stepsPerEpoch), ...v };
      state.validationHistory.push(result);
      options.onValidation?.(result);
      return result;
    };

    let window: LossPoint[] = [];
    // Step at which each first-level code was last used (-∞: never), for a windowed usage figure.
    const codebookSize = model.quantizer.codebookSizes[0]!;
    const levels = model.quantizer.codebookSizes.length;
    const lastSeen = new Float64Array(codebookSize).fill(-Infinity);
    let imagesPerSecond = 0;
    let lastTime = performance.now();
    let aborted = false;
    let stoppedEarly = false;
    while (state.step < totalSteps && !aborted && !stoppedEarly) {
      const epoch = Math.floor(state.step / stepsPerEpoch);
      let skip = state.step % stepsPerEpoch;
      for await (const batch of train.batches({ batchSize, epoch, dropLast })) {
        if (skip > 0) {
          skip--;
          continue;
        }
        // With a time limit the schedule follows the clock when that is further along than the step count.
        const timeFraction = (performance.now() - sessionStart) / 1000 / timeLimitSeconds;
        const scheduleStep = Math.max(state.step, Math.min(totalSteps, resumedFrom + Math.floor(timeFraction * (totalSteps - resumedFrom))));
        const lr = learningRateAt(schedule, scheduleStep);
        setLearningRate(optimizer, lr);
        const x = tf.tensor4d(batch.images, batch.shape);
        let kept: tf.Tensor[] = [];
        const cost = optimizer.minimize(
          () => {
            const l = model!.losses(x, { training: true });
            kept = [tf.keep(l.reconstruction), tf.keep(l.perplexity), tf.keep(l.codes)];
            tf.dispose(l.quantizer);
            return l.total;
          },
          true,
          vars,
        )!;
        model.quantizer.afterStep();
        const [recon, perplexity, codes] = kept as [tf.Scalar, tf.Scalar, tf.Tensor];
        const codeData = (await codes.data()) as Int32Array;
        // Multi-level codes interleave levels last: every `levels`-th entry is a first-level code.
        for (let i = 0; i < codeData.length; i += levels) lastSeen[codeData[i]!] = state.step;
        const loss = (await cost.data())[0]!;
        const reconLoss = (await recon.data())[0]!;
        const batchPerplexity = (await perplexity.data())[0]!;
        tf.dispose([x, cost, ...kept]);
        state.step++;

        const now = performance.now();
        const rate = (batch.size * 1000) / Math.max(1e-3, now - lastTime);
        lastTime = now;
        imagesPerSecond = imagesPerSecond === 0 ? rate : 0.9 * imagesPerSecond + 0.1 * rate;
        window.push({ step: state.step, loss, reconLoss });
        if (window.length === LOSS_WINDOW || state.step === totalSteps) {
          const mean = (k: 'loss' | 'reconLoss') => window.reduce((s, p) => s + p[k], 0) / window.length;
          state.lossHistory.push({ step: state.step, loss: mean('loss'), reconLoss: mean('reconLoss') });
          window = [];
        }
        let recentlyUsed = 0;
        for (const seen of lastSeen) if (state.step - seen < USAGE_WINDOW) recentlyUsed++;
        options.onProgress?.({
          step: state.step,
          totalSteps,
          epoch,
          loss,
          reconLoss,
          psnr: 10 * Math.log10(1 / Math.max(reconLoss, 1e-10)),
          perplexity: batchPerplexity,
          usage: recentlyUsed / codebookSize,
          learningRate: lr,
          imagesPerSecond,
          etaSeconds: ((totalSteps - state.step) * batchSize) / Math.max(imagesPerSecond, 1e-9),
        });

        stoppedEarly = state.step < totalSteps && (now - sessionStart) / 1000 >= timeLimitSeconds;
        const epochEnd = state.step % stepsPerEpoch === 0 || state.step === totalSteps;
        if (epochEnd && !stoppedEarly) await runValidation();
        aborted = options.signal?.aborted ?? false;
        if (aborted || (checkpointEvery > 0 && state.step % checkpointEvery === 0)) await saveNow();
        if (aborted || stoppedEarly || epochEnd) break;
      }
    }

    if (aborted) {
      return {
        tokenizerDir: outputDir,
        step: state.step,
        totalSteps,
        aborted: true,
        stoppedEarly: false,
        resumedFrom,
        checkpoint: checkpointPath,
        validation: state.validationHistory.at(-1),
        lossHistory: state.lossHistory,
        validationHistory: state.validationHistory,
      };
    }
    // Final state: checkpoint (unless just written), tokenizer, report.
    if (lastSavedStep !== state.step) await saveNow();
    let validation = state.validationHistory.at(-1);
    if (!lastHistogram || validation?.step !== state.step) validation = await runValidation();
    const tokenizerId = writeTokenizerFiles(outputDir, config, model);
    await writeTrainingReport({
      dir: path.join(outputDir, 'report'),
      model,
      split: validationSplit,
      reportImages: options.reportImages ?? 16,
      state,
      validation,
      histogram: lastHistogram!,
      tokenizerId,
      config,
    });
    return {
      tokenizerDir: outputDir,
      step: state.step,
      totalSteps,
      aborted: false,
      stoppedEarly,
      resumedFrom,
      checkpoint: checkpointPath,
      validation,
      lossHistory: state.lossHistory,
      validationHistory: state.validationHistory,
    };
  } finally {
    model?.dispose();
    optimizer.dispose();
  }
}
