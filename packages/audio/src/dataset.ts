/**
 * Audio datasets for tokenizer training: WAV files are read, downmixed to
 * mono, resampled to the model's rate, level-adjusted by an explicit policy,
 * clamped to [-1, 1], and held in memory; training draws seeded random
 * fixed-length segments (shorter clips zero-padded, with a mask).
 *
 * Level policy (default 'none'): recordings keep their level. A codec has to
 * reproduce levels as recorded, and normalising quiet clips would also
 * amplify their noise floor. 'peak' and 'rms' are there for corpora whose
 * levels differ wildly; both leave silent clips untouched and never push a
 * peak past full scale.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FileFormatError, InvalidArgumentError, Rng, type Seed } from '@vqkit/core';
import { readWavMono, type MonoAudio } from './wav.js';

/** How clip levels are adjusted at load time. */
export type LevelPolicy =
  | { readonly mode: 'none' }
  /** Scale so the absolute peak equals `peak` (default 0.95). */
  | { readonly mode: 'peak'; readonly peak?: number }
  /** Scale to `targetDbfs` RMS (default −20 dBFS), limited so the peak stays ≤ 1. */
  | { readonly mode: 'rms'; readonly targetDbfs?: number };

/** 'skip' (report and continue) or 'fail' (throw FileFormatError) on unreadable files. */
export type CorruptFilePolicy = 'skip' | 'fail';

/** A file that could not be used, and why. */
export interface SkippedAudioFile {
  readonly path: string;
  readonly reason: string;
}

/** Options for {@link AudioDataset.load}. */
export interface AudioDatasetOptions {
  /** Sample rate every clip is resampled to (Hz). */
  sampleRate: number;
  /** Level adjustment. Default `{ mode: 'none' }`. */
  level?: LevelPolicy;
  /** What to do with unreadable, truncated, non-WAV or empty files. Default 'skip'. */
  onCorrupt?: CorruptFilePolicy;
  /**
   * Called for each skipped file. Without it, skips are reported as Node
   * process warnings (stderr), so they are never silent.
   */
  onSkip?: (skipped: SkippedAudioFile) => void;
  /** File-name extensions picked up when scanning a folder (case-insensitive). Default ['.wav']. */
  extensions?: readonly string[];
}

/** One loaded recording. */
export interface AudioClip {
  /** Where it came from. */
  readonly path: string;
  /** Mono samples at the dataset's rate, in [-1, 1]. */
  readonly samples: Float32Array;
  /** Rate of the file before resampling. */
  readonly sourceSampleRate: number;
  /** Channels in the file before downmixing. */
  readonly sourceChannels: number;
  /** Gain applied by the level policy (1 for 'none'). */
  readonly gain: number;
  /** Samples that were beyond ±1 after the gain and got clamped. */
  readonly clampedSamples: number;
}

/** A batch of fixed-length training segments, row-major [count, segmentLength]. */
export interface AudioSegmentBatch {
  /** Number of segments. */
  readonly count: number;
  /** Samples per segment. */
  readonly segmentLength: number;
  /** count × segmentLength samples; zero where a clip was too short. */
  readonly audio: Float32Array;
  /**
   * count × segmentLength: 1 for real samples, 0 for padding. Multiply the
   * model's output by it before computing losses, so padding costs nothing.
   */
  readonly mask: Float32Array;
  /** Index of the source clip for each segment. */
  readonly clipIndices: Int32Array;
  /** Start sample of each segment within its clip. */
  readonly offsets: Int32Array;
}

async function listAudioFiles(root: string, extensions: readonly string[]): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(root, { recursive: true });
  } catch (cause) {
    throw new FileFormatError(`cannot list dataset folder: ${(cause as Error).message}`, root, { cause });
  }
  const wanted = extensions.map((e) => e.toLowerCase());
  return entries
    .filter((rel) => wanted.some((ext) => rel.toLowerCase().endsWith(ext)))
    .map((rel) => path.join(root, rel))
    .sort();
}

function levelGain(samples: Float32Array, policy: LevelPolicy): number {
  let peak = 0;
  let energy = 0;
  for (const v of samples) {
    peak = Math.max(peak, Math.abs(v));
    energy += v * v;
  }
  if (policy.mode === 'none' || peak === 0) return 1;
  if (policy.mode === 'peak') {
    const target = policy.peak ?? 0.95;
    if (!(target > 0 && target <= 1)) throw new InvalidArgumentError(`level.peak must be in (0, 1], got ${target}`);
    return target / peak;
  }
  const targetDbfs = policy.targetDbfs ?? -20;
  if (!(targetDbfs < 0)) throw new InvalidArgumentError(`level.targetDbfs must be negative, got ${targetDbfs}`);
  const rms = Math.sqrt(energy / samples.length);
  return Math.min(10 ** (targetDbfs / 20) / rms, 1 / peak);
}

/** An in-memory collection of mono clips at one sample rate. */
export class AudioDataset {
  /** Sample rate of every clip (Hz). */
  readonly sampleRate: number;
  /** The clips, in path order for folder sources, list order otherwise. */
  readonly clips: readonly AudioClip[];
  /** Files that were skipped while loading. */
  readonly skipped: readonly SkippedAudioFile[];

  private constructor(sampleRate: number, clips: readonly AudioClip[], skipped: readonly SkippedAudioFile[]) {
    this.sampleRate = sampleRate;
    this.clips = clips;
    this.skipped = skipped;
  }

  /**
   * Loads a folder (recursively, files sorted by path) or an explicit list of WAV files.
   * @throws FileFormatError for an unreadable folder, or for a bad file with onCorrupt 'fail'.
   */
  static async load(source: string | readonly string[], options: AudioDatasetOptions): Promise<AudioDataset> {
    const { sampleRate, level = { mode: 'none' }, onCorrupt = 'skip', onSkip, extensions = ['.wav'] } = options;
    if (!Number.isInteger(sampleRate) || sampleRate < 1) {
      throw new InvalidArgumentError(`AudioDataset: sampleRate must be a positive integer, got ${sampleRate}`);
    }
    if (onCorrupt !== 'skip' && onCorrupt !== 'fail') {
      throw new InvalidArgumentError(`AudioDataset: onCorrupt must be 'skip' or 'fail', got '${String(onCorrupt)}'`);
    }
    let files: string[];
    if (typeof source === 'string') {
      const info = await stat(source).catch((cause: Error) => {
        throw new FileFormatError(`dataset source does not exist: ${cause.message}`, source, { cause });
      });
      files = info.isDirectory() ? await listAudioFiles(source, extensions) : [source];
    } else {
      files = [...source];
    }
    const clips: AudioClip[] = [];
    const skipped: SkippedAudioFile[] = [];
    const skip = (file: string, reason: string, cause?: unknown): void => {
      if (onCorrupt === 'fail') {
        throw cause instanceof FileFormatError ? cause : new FileFormatError(reason, file, { cause });
      }
      const entry = { path: file, reason };
      skipped.push(entry);
      if (onSkip !== undefined) onSkip(entry);
      else process.emitWarning(`skipped ${file}: ${reason}`, { code: 'VQKIT_DATASET_SKIPPED_FILE' });
    };
    for (const file of files) {
      let audio: MonoAudio;
      try {
        audio = await readWavMono(file, sampleRate);
      } catch (error) {
        if (!(error instanceof FileFormatError)) throw error;
        // FileFormatError messages start with the path; the reason is the rest.
        skip(file, error.message.startsWith(`${file}: `) ? error.message.slice(file.length + 2) : error.message, error);
        continue;
      }
      const mono = audio.samples;
      if (mono.length === 0) {
        skip(file, 'no samples (empty data chunk, or too short to resample)');
        continue;
      }
      const gain = levelGain(mono, level);
      let clampedSamples = 0;
      for (let i = 0; i < mono.length; i++) {
        const v = mono[i]! * gain;
        if (v > 1 || v < -1) clampedSamples++;
        mono[i] = Math.max(-1, Math.min(1, v));
      }
      clips.push({ path: file, samples: mono, sourceSampleRate: audio.sourceSampleRate, sourceChannels: audio.sourceChannels, gain, clampedSamples });
    }
    return new AudioDataset(sampleRate, clips, skipped);
  }

  /** Builds a dataset from clips already in memory (e.g. synthetic signals). */
  static fromClips(sampleRate: number, clips: readonly AudioClip[]): AudioDataset {
    return new AudioDataset(sampleRate, clips, []);
  }

  /** Number of clips. */
  get size(): number {
    return this.clips.length;
  }

  /** Total duration in seconds. */
  get durationSeconds(): number {
    return this.clips.reduce((s, c) => s + c.samples.length, 0) / this.sampleRate;
  }

  /** A dataset with the clips that pass `keep` (e.g. an FSDD split); skipped files carry over. */
  filter(keep: (clip: AudioClip, index: number) => boolean): AudioDataset {
    return new AudioDataset(this.sampleRate, this.clips.filter(keep), this.skipped);
  }

  /**
   * Draws `count` random segments of `segmentLength` samples: a clip uniformly
   * at random, then a uniform start inside it. A clip shorter than the
   * segment is placed at the start and zero-padded; `mask` marks real samples.
   */
  sampleSegments(count: number, segmentLength: number, rng: Rng): AudioSegmentBatch {
    if (this.clips.length === 0) throw new InvalidArgumentError('AudioDataset: cannot sample segments from an empty dataset');
    if (!Number.isInteger(count) || count < 1) throw new InvalidArgumentError(`count must be a positive integer, got ${count}`);
    if (!Number.isInteger(segmentLength) || segmentLength < 1) {
      throw new InvalidArgumentError(`segmentLength must be a positive integer, got ${segmentLength}`);
    }
    const audio = new Float32Array(count * segmentLength);
    const mask = new Float32Array(count * segmentLength);
    const clipIndices = new Int32Array(count);
    const offsets = new Int32Array(count);
    for (let b = 0; b < count; b++) {
      const c = rng.int(this.clips.length);
      const samples = this.clips[c]!.samples;
      const offset = samples.length > segmentLength ? rng.int(samples.length - segmentLength + 1) : 0;
      const take = Math.min(segmentLength, samples.length - offset);
      audio.set(samples.subarray(offset, offset + take), b * segmentLength);
      mask.fill(1, b * segmentLength, b * segmentLength + take);
      clipIndices[b] = c;
      offsets[b] = offset;
    }
    return { count, segmentLength, audio, mask, clipIndices, offsets };
  }

  /** An endless, reproducible stream of segment batches for a seed. */
  *segmentBatches(batchSize: number, segmentLength: number, seed: Seed): Generator<AudioSegmentBatch, never> {
    const rng = new Rng(seed).fork('audio-segments');
    for (;;) yield this.sampleSegments(batchSize, segmentLength, rng);
  }
}

/** The batch as tensors: audio and mask, both [count, segmentLength] (caller disposes). */
export function segmentBatchToTensors(batch: AudioSegmentBatch): { audio: tf.Tensor2D; mask: tf.Tensor2D } {
  return {
    audio: tf.tensor2d(batch.audio, [batch.count, batch.segmentLength]),
    mask: tf.tensor2d(batch.mask, [batch.count, batch.segmentLength]),
  };
}
