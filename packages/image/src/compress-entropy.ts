/**
 * The learned entropy model an image tokenizer ships with: code frequencies
 * (core's `static` model) or, by default, frequencies conditioned on the left
 * and upper neighbour in the code grid (core's `neighbour` model), fitted on
 * the codes of a training set and stored next to the tokenizer:
 *
 *   <tokenizer dir>/entropy.bin    the model (core's compact binary serialisation)
 *   <tokenizer dir>/entropy.json   what it was fitted on and what it measured (informational)
 *
 * Identity: the model is NOT part of the tokenizer id (which hashes only
 * config.json + model.safetensors). Fitting or refitting it therefore never
 * invalidates codes or containers made with the tokenizer; instead every
 * container coded with it carries the model's 4-byte fingerprint, and
 * decoding with any other model fails with `EntropyModelMismatchError`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  adaptiveSpec,
  FileFormatError,
  fixedLengthSpec,
  InvalidArgumentError,
  measureCodeBits,
  NeighbourContextModelSet,
  StaticModelSet,
  toHex,
  writeFileAtomic,
  type EntropyModelSpec,
  type NeighbourContextMode,
} from '@vqkit/core';
import { ADAPTIVE_MIXTURE_MAGIC, AdaptiveMixtureSpec, MAX_LOG2_BETA, MIN_LOG2_BETA } from './compress-adaptive.js';
import { ImageDataset, ImageSplit, batchImages } from './data/dataset.js';
import { loadImage, type ImageF32, type ImageInput } from './io.js';
import type { EncodedImage, ImageTokenizer } from './tokenizer.js';

export const ENTROPY_MODEL_FILE = 'entropy.bin';
export const ENTROPY_INFO_FILE = 'entropy.json';
export const ENTROPY_INFO_FORMAT = 'vqkit.entropy-model';

/**
 * A learned entropy model of image codes: what `fitEntropyModel` produces and
 * `loadEntropyModel` reads — core's static or neighbour-context set, or one
 * of them mixed with per-image adaptive counts (`AdaptiveMixtureSpec`).
 */
export type LearnedEntropyModel = StaticModelSet | NeighbourContextModelSet | AdaptiveMixtureSpec;

/** `entropy.json`: provenance and measured rates of a fitted model. */
export interface EntropyModelInfo {
  format: typeof ENTROPY_INFO_FORMAT;
  version: 1;
  /** 'static' (unconditional code frequencies) or 'neighbour' (conditioned on the left/upper code). */
  kind: LearnedEntropyModel['kind'];
  /** Neighbour context of a 'neighbour' model. */
  context?: NeighbourContextMode;
  /** log2 of β when the model adapts to each image (absent: it does not). */
  adaptiveLog2Beta?: number;
  /** Model fingerprint (8 hex digits) stored in the containers it codes. */
  fingerprint: string;
  /** Id of the tokenizer whose codes it was fitted on. */
  tokenizerId: string;
  /** Training images and codes. */
  images: number;
  codes: number;
  /** Size of `entropy.bin`. */
  modelBytes: number;
  /** Payload bits per code on the training codes (whole bytes per image, as containers store them). */
  bitsPerCode: { fixedLength: number; adaptive: number; learned: number };
}

/** Images to fit on: a dataset (its training split), a split, or individual images (paths, buffers, pixels). */
export type EntropyFitSource = ImageDataset | ImageSplit | Iterable<ImageInput | ImageF32> | AsyncIterable<ImageInput | ImageF32>;

export interface FitEntropyModelOptions {
  /**
   * Which neighbours condition the model: 'left-up' (default; pair context
   * backing off to left+up, then the code frequencies), 'left', 'up', or
   * 'none' for plain code frequencies (core's `static` model).
   */
  context?: NeighbourContextMode | 'none';
  /** Fit on at most this many images (the first ones, in order). Default 60000 (all of Fashion-MNIST's training set). */
  maxImages?: number;
  /** Images encoded per batch. Default 64. */
  batchSize?: number;
  /** Contexts seen fewer times are not stored (smaller model). Default: core's (2). */
  minContextCount?: number;
  /**
   * Let the model also adapt to each image's own code counts when that codes
   * held-out images in fewer bits (β chosen on every 5th image, see
   * compress-adaptive.ts). Default true; false gives the plain learned model.
   */
  adaptive?: boolean;
  /** Write `entropy.bin` + `entropy.json` into this directory (normally the tokenizer's). Default: not written. */
  outputDir?: string;
  /** Called after each encoded batch with the images encoded so far. */
  onProgress?: (imagesDone: number) => void;
  /** Stops encoding more images; the model is fitted on those encoded so far. */
  signal?: AbortSignal;
}

export interface FitEntropyModelResult {
  model: LearnedEntropyModel;
  info: EntropyModelInfo;
}

/** Codes → a learned model (no tokenizer needed); `codes` are the tokenizer's outputs. */
export function fitEntropyModelToCodes(
  codes: readonly EncodedImage[],
  codebookSizes: readonly number[],
  options: Pick<FitEntropyModelOptions, 'context' | 'minContextCount' | 'adaptive'> = {},
): LearnedEntropyModel {
  if (codes.length === 0) throw new InvalidArgumentError('cannot fit an entropy model on zero images');
  const samples = codes.map((c) => ({ codes: c.codes, shape: gridShape(c.shape, codebookSizes.length) }));
  const context = options.context ?? 'left-up';
  const fit = (subset: typeof samples) =>
    context === 'none'
      ? StaticModelSet.train(subset.map((s) => s.codes), codebookSizes)
      : NeighbourContextModelSet.train(subset, codebookSizes, { context, minContextCount: options.minContextCount });
  const full = fit(samples);
  if (options.adaptive === false || samples.length < 5) return full;
  // β by held-out likelihood: fit on 4 of every 5 images, score the 5th.
  const heldOut = samples.filter((_, i) => i % 5 === 4);
  const partial = fit(samples.filter((_, i) => i % 5 !== 4));
  const candidates: Record<string, EntropyModelSpec> = { plain: partial };
  for (let b = MIN_LOG2_BETA + 2; b <= MAX_LOG2_BETA - 4; b += 2) candidates[`beta-2^${b}`] = new AdaptiveMixtureSpec(partial, b);
  const scores = measureCodeBits(heldOut, codebookSizes, candidates);
  const plain = scores.find((r) => r.name === 'plain')!;
  const best = scores.reduce((a, b) => (b.idealBits < a.idealBits ? b : a));
  // Adapt only for a clear gain (≥ 0.5% of the held-out bits): otherwise the plain model is as good and simpler.
  return best === plain || best.idealBits > 0.995 * plain.idealBits ? full : new AdaptiveMixtureSpec(full, Number(best.name.slice('beta-2^'.length)));
}

/** [h, w] or [h, w, L] → [h, w, L]. */
export function gridShape(shape: readonly number[], levels: number): number[] {
  return shape.length === 2 ? [shape[0]!, shape[1]!, levels] : [...shape];
}

async function* sourceImages(source: EntropyFitSource, tokenizer: ImageTokenizer, batchSize: number): AsyncGenerator<ImageF32[]> {
  const split = source instanceof ImageDataset ? source.train : source;
  if (split instanceof ImageSplit) {
    for await (const batch of split.batches({ batchSize, shuffle: false, augment: false })) yield batchImages(batch);
    return;
  }
  const { channels } = tokenizer.config.preprocessing;
  let pending: ImageF32[] = [];
  for await (const item of split as AsyncIterable<ImageInput | ImageF32>) {
    const image = isImageF32(item) ? item : await loadImage(item, { channels });
    pending.push(image);
    if (pending.length >= batchSize) {
      yield pending;
      pending = [];
    }
  }
  if (pending.length > 0) yield pending;
}

function isImageF32(value: unknown): value is ImageF32 {
  return typeof value === 'object' && value !== null && (value as ImageF32).data instanceof Float32Array && typeof (value as ImageF32).width === 'number';
}

/**
 * Encodes images with the tokenizer and fits its learned entropy model on
 * the codes; with `outputDir`, writes `entropy.bin` and `entropy.json` there
 * (atomically). Call it at the end of tokenizer training:
 *
 *   await fitEntropyModel(new ImageTokenizer(model), dataset, { outputDir })
 */
export async function fitEntropyModel(tokenizer: ImageTokenizer, source: EntropyFitSource, options: FitEntropyModelOptions = {}): Promise<FitEntropyModelResult> {
  const maxImages = options.maxImages ?? 60000;
  const batchSize = options.batchSize ?? 64;
  if (!Number.isInteger(maxImages) || maxImages < 1) throw new InvalidArgumentError(`maxImages must be a positive integer, got ${maxImages}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError(`batchSize must be a positive integer, got ${batchSize}`);
  const encoded: EncodedImage[] = [];
  for await (const images of sourceImages(source, tokenizer, batchSize)) {
    if (options.signal?.aborted) break;
    encoded.push(...tokenizer.encodeImages(images.slice(0, maxImages - encoded.length)));
    options.onProgress?.(encoded.length);
    if (encoded.length >= maxImages) break;
  }
  const sizes = tokenizer.codebookSizes;
  const model = fitEntropyModelToCodes(encoded, sizes, options);
  const tensors = encoded.map((c) => ({ codes: c.codes, shape: gridShape(c.shape, sizes.length) }));
  const bits = measureCodeBits(tensors, sizes, { fixedLength: fixedLengthSpec, adaptive: adaptiveSpec, learned: model });
  const perCode = (name: string) => bits.find((b) => b.name === name)!.bitsPerCode;
  const bytes = model.toBytes();
  const context = options.context ?? 'left-up';
  const info: EntropyModelInfo = {
    format: ENTROPY_INFO_FORMAT,
    version: 1,
    kind: model.kind,
    ...(context === 'none' ? {} : { context }),
    ...(model instanceof AdaptiveMixtureSpec ? { adaptiveLog2Beta: model.log2Beta } : {}),
    fingerprint: toHex(model.fingerprint),
    tokenizerId: tokenizer.id,
    images: encoded.length,
    codes: bits[0]!.codes,
    modelBytes: bytes.length,
    bitsPerCode: { fixedLength: perCode('fixedLength'), adaptive: perCode('adaptive'), learned: perCode('learned') },
  };
  if (options.outputDir !== undefined) saveEntropyModel(options.outputDir, model, info);
  return { model, info };
}

/** Writes `entropy.bin` (and `entropy.json` when `info` is given) into `dir`, atomically. */
export function saveEntropyModel(dir: string, model: LearnedEntropyModel, info?: EntropyModelInfo): void {
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomic(path.join(dir, ENTROPY_MODEL_FILE), model.toBytes());
  if (info !== undefined) writeFileAtomic(path.join(dir, ENTROPY_INFO_FILE), `${JSON.stringify(info, null, 2)}\n`);
}

/** Parses a serialised learned model (the bytes of `entropy.bin`). Throws `FileFormatError`. */
export function parseEntropyModel(bytes: Uint8Array, source?: string): LearnedEntropyModel {
  try {
    // Core's serialisations start with a kind byte ('S' static, 'N' neighbour); 'A' wraps one of them.
    if (bytes[0] === ADAPTIVE_MIXTURE_MAGIC) {
      const log2Beta = bytes[1];
      if (log2Beta === undefined || log2Beta < MIN_LOG2_BETA || log2Beta > MAX_LOG2_BETA) throw new FileFormatError('adaptive entropy model: bad β');
      const inner = parseLearnedSet(bytes.subarray(2));
      if (inner === undefined) throw new FileFormatError('adaptive entropy model: unknown inner model');
      return new AdaptiveMixtureSpec(inner, log2Beta);
    }
    const set = parseLearnedSet(bytes);
    if (set !== undefined) return set;
  } catch (err) {
    if (err instanceof FileFormatError && source !== undefined) throw new FileFormatError(err.message, source, { cause: err });
    throw err;
  }
  throw new FileFormatError('not a vqkit entropy model (unknown kind byte)', source);
}

function parseLearnedSet(bytes: Uint8Array): StaticModelSet | NeighbourContextModelSet | undefined {
  if (bytes[0] === 0x53) return StaticModelSet.fromBytes(bytes);
  if (bytes[0] === 0x4e) return NeighbourContextModelSet.fromBytes(bytes);
  return undefined;
}

/**
 * The learned entropy model saved in a tokenizer directory, or undefined when
 * it has none (compression then falls back to parameter-free models).
 */
export function loadEntropyModel(dir: string): LearnedEntropyModel | undefined {
  const file = path.join(dir, ENTROPY_MODEL_FILE);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FileFormatError(`cannot read the entropy model (${(err as NodeJS.ErrnoException).code ?? String(err)})`, file, { cause: err });
  }
  return parseEntropyModel(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), file);
}

/** `entropy.json` of a tokenizer directory, or undefined when absent. */
export function readEntropyModelInfo(dir: string): EntropyModelInfo | undefined {
  const file = path.join(dir, ENTROPY_INFO_FILE);
  if (!fs.existsSync(file)) return undefined;
  try {
    const info = JSON.parse(fs.readFileSync(file, 'utf8')) as EntropyModelInfo;
    if (info?.format !== ENTROPY_INFO_FORMAT) throw new Error(`"format" is not "${ENTROPY_INFO_FORMAT}"`);
    return info;
  } catch (err) {
    throw new FileFormatError(`not a valid entropy model info file (${(err as Error).message})`, file, { cause: err });
  }
}
