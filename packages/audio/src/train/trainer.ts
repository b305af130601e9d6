/**
 * Training loop of the audio tokenizer, following the image trainer's
 * conventions (progress callbacks, checkpoints in core's format, resume,
 * time limit, abort signal, a report directory).
 *
 * Each step draws a batch of random fixed-length segments, picks the number
 * of quantizer levels (quantizer dropout, SoundStream: with probability
 * `quantizerDropout` a uniform count in 1..N, else all N, so one model serves
 * every bitrate while most updates train the full-rate path), and minimises
 *
 *   λ_t · L1(x, x̂) + λ_f · MR-STFT(x, x̂) + λ_mel · mel-L1(x, x̂) + commitment
 *
 * with Adam over `model.trainableVariables()` (linear warmup + cosine decay),
 * then applies the codebook EMA / dead-code restarts (`quantizer.afterStep`).
 * Padding of segments cut from clips shorter than the segment is masked out
 * of the reconstruction (the target is zero there already).
 *
 * Batches and level counts are pure functions of (seed, step), so a resumed
 * run draws exactly what the uninterrupted run would have drawn.
 *
 * Output directory:
 *   config.json, model.safetensors   the trained tokenizer (AudioTokenizer.load(outputDir))
 *   checkpoints/step-N/              resumable training state
 *   report/                          spectrograms.png, loss.png, codebook-usage.png, summary.json
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, latestCheckpoint, loadCheckpoint, Rng, saveCheckpoint } from '@vqkit/core';
import { learningRateAt, validateSchedule, type LearningRateSchedule } from '@vqkit/image';
import { AudioDataset, type AudioDatasetOptions } from '../dataset.js';
import { l1Loss, melLoss, multiResolutionStftLoss, type StftResolution } from '../losses.js';
import { AudioCodec } from '../model/codec.js';
import {
  bitrate,
  createAudioTokenizerConfig,
  hopLength,
  serializeAudioTokenizerConfig,
  validateAudioTokenizerConfig,
  type AudioTokenizerConfig,
  type AudioTokenizerConfigInput,
} from '../model/config.js';
import { writeAudioTokenizerFiles } from '../tokenizer.js';
import { evaluateAudioCodec, type AudioEvaluation } from './evaluate.js';
import { writeAudioTrainingReport } from './report.js';

/** Weights of the reconstruction losses. */
export interface AudioLossWeights {
  /** Time-domain L1. Default 1. */
  l1?: number;
  /** Multi-resolution STFT loss. Default 1. */
  stft?: number;
  /** Log-mel L1. Default 1. */
  mel?: number;
}

export interface TrainAudioTokenizerOptions {
  /** Training clips: a loaded dataset, or a folder/file list (loaded at the config's sample rate). */
  dataset: AudioDataset | string | readonly string[];
  /** Validation clips (loaded like `dataset`). Default: the first `validationClips` training clips. */
  validation?: AudioDataset | string | readonly string[];
  /** Options for loading paths (sample rate comes from the config). */
  loadOptions?: Omit<AudioDatasetOptions, 'sampleRate'>;
  /** Where the tokenizer, checkpoints and report go. */
  outputDir: string;
  /** Model config, or overrides of the reference (8 kHz speech) config. */
  config?: AudioTokenizerConfig | AudioTokenizerConfigInput;
  /** Total optimizer steps. Default 2000. */
  steps?: number;
  /** Segments per step. Default 8. */
  batchSize?: number;
  /** Segment length in seconds (rounded to whole code frames). Default 0.5. */
  segmentSeconds?: number;
  /** Peak Adam learning rate. Default 1e-3. */
  learningRate?: number;
  /** Linear warmup steps. Default min(200, 5 % of the steps). */
  warmupSteps?: number;
  /** Cosine floor as a fraction of the peak. Default 0.1. */
  finalLearningRateRatio?: number;
  /** Probability that a step trains with a random level count (quantizer dropout). Default 0.5; 0 trains only all levels. */
  quantizerDropout?: number;
  lossWeights?: AudioLossWeights;
  /** STFT resolutions of the spectral loss. Default: losses.ts's 8 kHz set. */
  stftResolutions?: readonly StftResolution[];
  /** Seed of initialisation, batches and level draws. Default 0. */
  seed?: number;
  /** Checkpoint every this many steps (and at the end / on abort); 0 = only then. Default 500. */
  checkpointEvery?: number;
  /** Checkpoints kept. Default 3. */
  keepCheckpoints?: number;
  /** Continue from the latest checkpoint in `outputDir/checkpoints`. Default false. */
  resume?: boolean;
  /** Validate every this many steps (and at the end); 0 = only at the end. Default 500. */
  validateEvery?: number;
  /** Validation clips used (the first ones). Default 32. */
  validationClips?: number;
  /** Stop after this many seconds in this session, as if done (outputs written, `stoppedEarly`). */
  timeLimitSeconds?: number;
  /** Clips in report/spectrograms.png. Default 4. */
  reportClips?: number;
  onProgress?: (progress: AudioTrainingProgress) => void;
  onValidation?: (result: AudioValidationResult) => void;
  /** Aborting stops after the current step, writes a checkpoint and returns `aborted: true`. */
  signal?: AbortSignal;
}

export interface AudioTrainingProgress {
  step: number;
  totalSteps: number;
  loss: number;
  /** Terms of this step's loss. */
  l1: number;
  stft: number;
  mel: number;
  /** Levels used by this step. */
  levels: number;
  /** Perplexity of the first level's codes in this batch. */
  perplexity: number;
  learningRate: number;
  /** Smoothed throughput in seconds of audio per second. */
  audioSecondsPerSecond: number;
  etaSeconds: number;
}

export interface AudioValidationResult extends Omit<AudioEvaluation, 'histogram'> {
  step: number;
}

export interface AudioLossPoint {
  step: number;
  loss: number;
  stft: number;
  mel: number;
}

/** Trainer state stored in checkpoints. */
export interface AudioTrainerState {
  format: 'vqkit.audio-trainer';
  version: 1;
  step: number;
  totalSteps: number;
  batchSize: number;
  segmentLength: number;
  seed: number;
  schedule: LearningRateSchedule;
  lossHistory: AudioLossPoint[];
  validationHistory: AudioValidationResult[];
  elapsedSeconds: number;
}

export interface TrainAudioTokenizerResult {
  tokenizerDir: string;
  step: number;
  totalSteps: number;
  aborted: boolean;
  stoppedEarly: boolean;
  resumedFrom: number;
  checkpoint: string;
  /** Final validation at every bitrate (undefined when aborted). */
  validation: AudioValidationResult | undefined;
  lossHistory: AudioLossPoint[];
}

const TRAINER_STATE_FORMAT = 'vqkit.audio-trainer';
const LOSS_WINDOW = 10;

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${value}`);
  return value;
}

async function loadDataset(source: AudioDataset | string | readonly string[], sampleRate: number, options: TrainAudioTokenizerOptions['loadOptions']): Promise<AudioDataset> {
  if (source instanceof AudioDataset) {
    if (source.sampleRate !== sampleRate) throw new InvalidArgumentError(`the dataset is at ${source.sampleRate} Hz but the model runs at ${sampleRate} Hz; load it at the model rate`);
    return source;
  }
  return AudioDataset.load(source, { ...options, sampleRate });
}

function setLearningRate(optimizer: tf.AdamOptimizer, value: number): void {
  // tfjs reads `learningRate` on every update but declares it protected; the schedule moves it.
  (optimizer as unknown as { learningRate: number }).learningRate = value;
}

/** The level count a step trains with: a pure function of (seed, step). */
export function levelsForStep(seed: number, step: number, levels: number, dropout: number): number {
  const rng = new Rng(seed).fork('quantizer-dropout').fork(step);
  return rng.uniform() < dropout ? 1 + rng.int(levels) : levels;
}

/** Trains an audio tokenizer; see the module comment. */
export async function trainAudioTokenizer(options: TrainAudioTokenizerOptions): Promise<TrainAudioTokenizerResult> {
  let config: AudioTokenizerConfig =
    options.config && 'format' in options.config ? validateAudioTokenizerConfig(options.config) : createAudioTokenizerConfig(options.config as AudioTokenizerConfigInput | undefined);
  const outputDir = path.resolve(options.outputDir);
  const checkpointRoot = path.join(outputDir, 'checkpoints');
  const latest = options.resume ? latestCheckpoint(checkpointRoot) : undefined;
  if (latest) {
    const file = path.join(latest.path, 'config.json');
    const saved = validateAudioTokenizerConfig(JSON.parse(fs.readFileSync(file, 'utf8')), file);
    if (options.config && serializeAudioTokenizerConfig(saved) !== serializeAudioTokenizerConfig(config)) {
      throw new InvalidArgumentError(`cannot resume: the checkpoint in ${latest.path} was trained with a different config`);
    }
    config = saved;
  }
  const train = await loadDataset(options.dataset, config.sampleRate, options.loadOptions);
  if (train.size === 0) throw new InvalidArgumentError('the training set has no usable clips');
  const validationCount = positiveInt('validationClips', options.validationClips ?? 32);
  const validationSet = options.validation === undefined ? train : await loadDataset(options.validation, config.sampleRate, options.loadOptions);
  const validationClips = validationSet.clips.slice(0, validationCount).map((c) => c.samples);
  if (validationClips.length === 0) throw new InvalidArgumentError('the validation set has no usable clips');

  const totalSteps = positiveInt('steps', options.steps ?? 2000);
  const batchSize = positiveInt('batchSize', options.batchSize ?? 8);
  const seed = options.seed ?? 0;
  const hop = hopLength(config);
  const segmentLength = Math.max(1, Math.round(((options.segmentSeconds ?? 0.5) * config.sampleRate) / hop)) * hop;
  const dropout = options.quantizerDropout ?? 0.5;
  if (!(dropout >= 0 && dropout <= 1)) throw new InvalidArgumentError(`quantizerDropout must be in [0, 1], got ${dropout}`);
  const weights = { l1: options.lossWeights?.l1 ?? 1, stft: options.lossWeights?.stft ?? 1, mel: options.lossWeights?.mel ?? 1 };
  const checkpointEvery = options.checkpointEvery ?? 500;
  const validateEvery = options.validateEvery ?? 500;
  for (const [name, v] of [['checkpointEvery', checkpointEvery], ['validateEvery', validateEvery]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer, got ${v}`);
  }
  const timeLimitSeconds = options.timeLimitSeconds ?? Number.POSITIVE_INFINITY;
  if (!(timeLimitSeconds > 0)) throw new InvalidArgumentError(`timeLimitSeconds must be > 0, got ${timeLimitSeconds}`);
  const schedule: LearningRateSchedule = {
    baseLearningRate: options.learningRate ?? 1e-3,
    warmupSteps: options.warmupSteps ?? Math.min(200, Math.floor(totalSteps * 0.05)),
    totalSteps,
    finalRatio: options.finalLearningRateRatio ?? 0.1,
  };
  validateSchedule(schedule);
  fs.mkdirSync(outputDir, { recursive: true });

  let state: AudioTrainerState = {
    format: TRAINER_STATE_FORMAT,
    version: 1,
    step: 0,
    totalSteps,
    batchSize,
    segmentLength,
    seed,
    schedule,
    lossHistory: [],
    validationHistory: [],
    elapsedSeconds: 0,
  };
  const optimizer = tf.train.adam(schedule.baseLearningRate, 0.9, 0.999, 1e-8);
  const model = new AudioCodec(config, { seed });
  let resumedFrom = 0;
  let checkpointPath = '';
  try {
    if (latest) {
      const loaded = await loadCheckpoint<AudioTrainerState>(latest.path, { model, optimizer });
      const saved = loaded.trainerState;
      if (saved.format !== TRAINER_STATE_FORMAT) throw new InvalidArgumentError(`${latest.path} is not an audio tokenizer checkpoint`);
      if (saved.batchSize !== batchSize || saved.segmentLength !== segmentLength || saved.seed !== seed) {
        throw new InvalidArgumentError(
          `cannot resume with batchSize ${batchSize}, segment ${segmentLength} samples, seed ${seed}: the checkpoint used ${saved.batchSize}, ${saved.segmentLength}, ${saved.seed}`,
        );
      }
      state = { ...saved, totalSteps, schedule };
      resumedFrom = state.step;
      checkpointPath = latest.path;
    }
    const vars = model.trainableVariables();
    const configJson = serializeAudioTokenizerConfig(config);
    const sessionStart = performance.now();
    const elapsedBefore = state.elapsedSeconds;
    let lastSavedStep = resumedFrom > 0 ? resumedFrom : -1;
    const saveNow = async (): Promise<void> => {
      state.elapsedSeconds = elapsedBefore + (performance.now() - sessionStart) / 1000;
      checkpointPath = await saveCheckpoint({
        root: checkpointRoot,
        step: state.step,
        model,
        optimizer,
        trainerState: state,
        extraFiles: { 'config.json': configJson },
        keep: options.keepCheckpoints ?? 3,
      });
      lastSavedStep = state.step;
    };
    let lastHistogram: Int32Array = new Int32Array(config.quantizer.codebookSize);
    const validate = (allLevels: boolean): AudioValidationResult => {
      const levels = allLevels ? Array.from({ length: config.quantizer.levels }, (_, i) => i + 1) : [config.quantizer.levels];
      const { histogram, ...metrics } = evaluateAudioCodec(model, validationClips, { levels });
      lastHistogram = histogram;
      const result: AudioValidationResult = { step: state.step, ...metrics };
      state.validationHistory.push(result);
      options.onValidation?.(result);
      return result;
    };

    let window: AudioLossPoint[] = [];
    let throughput = 0;
    let lastTime = performance.now();
    let aborted = false;
    let stoppedEarly = false;
    const batchRng = new Rng(seed).fork('batches');
    while (state.step < totalSteps) {
      const lr = learningRateAt(schedule, state.step);
      setLearningRate(optimizer, lr);
      const batch = train.sampleSegments(batchSize, segmentLength, batchRng.fork(state.step));
      const levels = levelsForStep(seed, state.step, config.quantizer.levels, dropout);
      const x = tf.tensor2d(batch.audio, [batch.count, segmentLength]);
      const mask = tf.tensor2d(batch.mask, [batch.count, segmentLength]);
      let terms: tf.Scalar[] = [];
      const cost = optimizer.minimize(
        () => {
          const out = model.forward(x, { training: true, levels });
          const y = tf.mul(out.reconstruction, mask);
          const l1 = l1Loss(y, x);
          const stft = multiResolutionStftLoss(y, x, { resolutions: options.stftResolutions });
          const mel = melLoss(y, x, { sampleRate: config.sampleRate });
          terms = [tf.keep(l1), tf.keep(stft), tf.keep(mel), tf.keep(out.perplexity)];
          return tf.addN([tf.mul(l1, weights.l1), tf.mul(stft, weights.stft), tf.mul(mel, weights.mel), out.quantizerLoss]) as tf.Scalar;
        },
        true,
        vars,
      )!;
      model.quantizer.afterStep();
      const loss = (await cost.data())[0]!;
      const [l1, stft, mel, perplexity] = await Promise.all(terms.map(async (t) => (await t.data())[0]!));
      tf.dispose([x, mask, cost, ...terms]);
      if (!Number.isFinite(loss)) throw new InvalidArgumentError(`training diverged at step ${state.step + 1} (loss ${loss}); lower the learning rate`);
      state.step++;

      const now = performance.now();
      const rate = (batchSize * segmentLength) / config.sampleRate / Math.max(1e-3, (now - lastTime) / 1000);
      lastTime = now;
      throughput = throughput === 0 ? rate : 0.9 * throughput + 0.1 * rate;
      window.push({ step: state.step, loss, stft: stft!, mel: mel! });
      if (window.length === LOSS_WINDOW || state.step === totalSteps) {
        const mean = (k: 'loss' | 'stft' | 'mel') => window.reduce((s, p) => s + p[k], 0) / window.length;
        state.lossHistory.push({ step: state.step, loss: mean('loss'), stft: mean('stft'), mel: mean('mel') });
        window = [];
      }
      options.onProgress?.({
        step: state.step,
        totalSteps,
        loss,
        l1: l1!,
        stft: stft!,
        mel: mel!,
        levels,
        perplexity: perplexity!,
        learningRate: lr,
        audioSecondsPerSecond: throughput,
        etaSeconds: ((totalSteps - state.step) * batchSize * segmentLength) / config.sampleRate / Math.max(throughput, 1e-9),
      });
      stoppedEarly = state.step < totalSteps && (now - sessionStart) / 1000 >= timeLimitSeconds;
      aborted = options.signal?.aborted ?? false;
      if (validateEvery > 0 && state.step % validateEvery === 0 && state.step < totalSteps && !aborted && !stoppedEarly) validate(false);
      if (aborted || (checkpointEvery > 0 && state.step % checkpointEvery === 0)) await saveNow();
      if (aborted || stoppedEarly) break;
    }

    if (aborted) {
      return { tokenizerDir: outputDir, step: state.step, totalSteps, aborted: true, stoppedEarly: false, resumedFrom, checkpoint: checkpointPath, validation: undefined, lossHistory: state.lossHistory };
    }
    const validation = validate(true);
    if (lastSavedStep !== state.step) await saveNow();
    const tokenizerId = writeAudioTokenizerFiles(outputDir, config, model);
    await writeAudioTrainingReport({
      dir: path.join(outputDir, 'report'),
      model,
      clips: validationClips.slice(0, options.reportClips ?? 4),
      state,
      validation,
      histogram: lastHistogram,
      tokenizerId,
      config,
      bitrates: Array.from({ length: config.quantizer.levels }, (_, i) => bitrate(config, i + 1)),
    });
    return { tokenizerDir: outputDir, step: state.step, totalSteps, aborted: false, stoppedEarly, resumedFrom, checkpoint: checkpointPath, validation, lossHistory: state.lossHistory };
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}
