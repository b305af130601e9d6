/**
 * `samplePrior`: modality-aware sampling from a {@link PriorModel}. Builds the
 * prompt from a class, constrains every step to the token ids that are legal
 * there (image codes; the right residual level or PAD for audio), and turns
 * the tokens back into tokenizer codes ready for decoding.
 */
import { InvalidArgumentError } from '@vqkit/core';
import { audioSequenceLength, audioTokenConstraint, imageTokenConstraint, sequenceToAudioCodes, sequenceToImageCodes, type TokenRange } from './layout.js';
import type { PriorModel } from './prior-model.js';
import { generate, type SamplingOptions } from './sampling.js';
import type { Seed } from '@vqkit/core';

/** Options of {@link samplePrior}. */
export interface SamplePriorOptions extends SamplingOptions {
  /** Samples to draw. Default 1. */
  count?: number;
  /** Condition on this class (0-based index), for every sample or one per sample. */
  classIndex?: number | readonly number[];
  /** Condition on a class by name (looked up in the model's `classNames`). */
  className?: string;
  /** Seed; the same seed gives the same samples. Default 0. */
  seed?: Seed;
  /** Sample i uses the seed's stream `firstRow + i`, so samples drawn in several calls match one big call. Default 0. */
  firstRow?: number;
  /** Audio: frames to generate. Required for audio. */
  frames?: number;
  /** Generic priors: tokens to generate. Required for the generic modality. */
  length?: number;
  /** Called after every generated step. */
  onStep?: (step: number, total: number) => void;
  signal?: AbortSignal;
}

/** One sample. */
export interface PriorSample {
  /** The class it was conditioned on, or null. */
  classIndex: number | null;
  /** The generated tokens (no prompt). */
  tokens: Int32Array;
  /** Tokenizer codes: image `[height, width(, levels)]` raster order; audio `[frames, levels]` row-major; generic = tokens. */
  codes: Int32Array;
  /** Audio: number of frames. */
  frames?: number;
}

function resolveClasses(prior: PriorModel, options: SamplePriorOptions, count: number): (number | null)[] {
  if (options.className !== undefined) {
    const names = prior.metadata.classNames ?? [];
    const index = names.indexOf(options.className);
    if (index < 0) {
      throw new InvalidArgumentError(
        names.length === 0
          ? `class '${options.className}' requested but the prior has no class names`
          : `unknown class '${options.className}'; the prior knows: ${names.join(', ')}`,
      );
    }
    return Array.from({ length: count }, () => index);
  }
  const ci = options.classIndex;
  if (ci === undefined) return Array.from({ length: count }, () => null);
  if (typeof ci === 'number') return Array.from({ length: count }, () => ci);
  if (ci.length !== count) throw new InvalidArgumentError(`got ${ci.length} class indices for ${count} samples`);
  return [...ci];
}

/** Draws samples from a prior and returns them as tokenizer codes (see {@link PriorSample}). */
export function samplePrior(prior: PriorModel, options: SamplePriorOptions = {}): PriorSample[] {
  const count = options.count ?? 1;
  if (!Number.isInteger(count) || count < 1) throw new InvalidArgumentError(`count must be a positive integer, got ${count}`);
  const vocab = prior.config.vocabulary;
  const classes = resolveClasses(prior, options, count);
  const prompts = classes.map((c) => {
    if (c === null) return [vocab.bosId];
    if (!Number.isInteger(c) || c < 0 || c >= vocab.numClasses) throw new InvalidArgumentError(`classIndex must be in [0, ${vocab.numClasses}), got ${c}`);
    return [vocab.firstClassId + c];
  });
  const modality = prior.metadata.modality ?? 'generic';
  let maxNewTokens: number;
  let constrain: (step: number) => TokenRange;
  let windowAlign = 1;
  const frames = options.frames;
  if (modality === 'image') {
    const grid = prior.metadata.grid;
    if (!grid) throw new InvalidArgumentError('this image prior has no grid shape in its metadata');
    maxNewTokens = grid.height * grid.width * vocab.levels;
    constrain = imageTokenConstraint(vocab);
    windowAlign = vocab.levels;
  } else if (modality === 'audio') {
    if (frames === undefined || !Number.isInteger(frames) || frames < 1) throw new InvalidArgumentError('audio sampling needs frames (a positive integer)');
    const pattern = prior.metadata.audioPattern ?? 'flatten';
    maxNewTokens = audioSequenceLength(frames, vocab.levels, pattern);
    constrain = audioTokenConstraint(vocab, pattern, frames);
    windowAlign = vocab.levels;
  } else {
    const length = options.length;
    if (length === undefined || !Number.isInteger(length) || length < 1) throw new InvalidArgumentError(`sampling a ${modality} prior needs length (tokens to generate)`);
    maxNewTokens = length;
    constrain = () => ({ start: 0, end: vocab.codeTokens });
  }
  const rows = generate(prior.gpt, {
    prompt: prompts,
    maxNewTokens,
    temperature: options.temperature,
    topK: options.topK,
    topP: options.topP,
    seed: options.seed,
    firstRow: options.firstRow,
    constrain,
    windowAlign,
    onStep: options.onStep,
    signal: options.signal,
  });
  return rows.map((tokens, i) => {
    const classIndex = classes[i]!;
    if (modality === 'image') return { classIndex, tokens, codes: sequenceToImageCodes(tokens, prior.metadata.grid!, vocab).codes };
    if (modality === 'audio') {
      const decoded = sequenceToAudioCodes(tokens, vocab, prior.metadata.audioPattern ?? 'flatten');
      return { classIndex, tokens, codes: decoded.codes, frames: decoded.frames };
    }
    return { classIndex, tokens, codes: tokens };
  });
}
