/**
 * Training data for a prior from a trained tokenizer: tokenize a dataset once,
 * keep the codes on disk, and turn them into prior sequences.
 *
 * Tokenization is @vqkit/tokenize's `tokenizeDataset` (sharded, resumable,
 * parallel on request). Its output goes to
 *
 *   <cacheDir>/<tokenizer id>/<dataset fingerprint>/   manifest.json + shards/
 *
 * so the cache is keyed by the tokenizer id (a hash of its config and
 * weights): retraining the tokenizer changes the id and the codes are
 * recomputed, while a second prior on the same tokenizer and data reuses
 * them. A run interrupted half way resumes shard by shard.
 *
 * Images: every image must give the same code grid (the prior samples one
 * grid shape); codes are the grid in raster order. Audio (residual VQ):
 * codes `[frames, levels]` flattened frame by frame (see layout.ts); any
 * tokenizer that @vqkit/tokenize can load plugs in, so an audio tokenizer
 * only needs a dataset adapter there.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileFormatError, InvalidArgumentError } from '@vqkit/core';
import { AUDIO_TOKENIZER_FORMAT, frameRate, validateAudioTokenizerConfig } from '@vqkit/audio';
import { IMAGE_TOKENIZER_FORMAT, validateImageTokenizerConfig } from '@vqkit/image';
import {
  listItems,
  loadDatasetTokenizer,
  loadShard,
  readTokenDatasetManifest,
  tokenizeDataset,
  type DatasetModality,
  type TokenizeProgress,
} from '@vqkit/tokenize';
import { audioCodesToSequence, imageCodesToSequence, type AudioPattern, type GridShape } from './layout.js';
import type { PriorMetadata } from './prior-model.js';
import { createVocabulary, type Vocabulary } from './vocabulary.js';

/** The codes cache used when none is given: `$VQKIT_CACHE_DIR/codes`, else `$XDG_CACHE_HOME/vqkit/codes`, else `~/.cache/vqkit/codes`. */
export function defaultCodesCacheDir(): string {
  if (process.env.VQKIT_CACHE_DIR) return path.join(process.env.VQKIT_CACHE_DIR, 'codes');
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'vqkit', 'codes');
}

/** How items get class labels. */
export type LabelSource =
  /** IDX label files and `path<TAB>label` list files give labels; folders give none. */
  | 'auto'
  /** Folders: the first-level subfolder names a class (`root/<class>/<file>`); classes numbered in sorted order. */
  | 'subfolders'
  /** Ignore labels. */
  | 'none';

/** Options of {@link loadTokenizedCodes}. */
export interface LoadTokenizedCodesOptions {
  /** Tokenizer directory. */
  tokenizer: string;
  /** A folder, an IDX(.gz) image file (labels from the matching labels file) or a list file (`path[<TAB>label]` per line). */
  data: string;
  /** Root of the codes cache. Default {@link defaultCodesCacheDir}. */
  cacheDir?: string;
  /** Where labels come from. Default 'auto'. */
  labels?: LabelSource;
  /** Use only the first `limit` items of the dataset (all are tokenized and cached once). Default all. */
  limit?: number;
  /** Worker threads for tokenizing; 0 tokenizes in this thread with the running engine. Default 0. */
  workers?: number;
  /** Engine backend of worker threads. */
  backend?: string;
  onProgress?: (progress: TokenizeProgress) => void;
  /** Aborting stops after the current shard; finished shards stay cached. */
  signal?: AbortSignal;
}

/** One tokenized item. */
export interface CodeItem {
  /** Codes, row-major over `shape`. */
  codes: Int32Array;
  /** Image: [h, w] or [h, w, levels]; audio: [frames, levels]. */
  shape: number[];
  /** Class label, or -1. */
  label: number;
  /** File (or `file#index` for IDX stacks). */
  name: string;
}

/** What the tokenizer is, as the prior needs to know it. */
export interface TokenizerInfo {
  id: string;
  /** Absolute directory. */
  dir: string;
  modality: DatasetModality;
  codebookSizes: number[];
  /** Images: downsampling factor f (for bits per pixel). */
  downsampling?: number;
  /** Audio: code frames per second (for bits per second). */
  framesPerSecond?: number;
}

/** Codes of a dataset, read back from the cache. */
export interface TokenizedCodes {
  tokenizer: TokenizerInfo;
  /** The dataset path (absolute). */
  data: string;
  /** The cache directory holding these codes. */
  cacheDir: string;
  /** True when every shard came from the cache (nothing was tokenized). */
  fromCache: boolean;
  items: CodeItem[];
  /** Class names, when labels come from subfolders (label i ↔ classNames[i]). */
  classNames?: string[];
  /** Items that could not be tokenized (listed in the cache's errors.json). */
  errors: number;
}

/** What the tokenizer's config says about token rates: f for images, frames per second for audio. */
function tokenizerRates(dir: string): Pick<TokenizerInfo, 'downsampling' | 'framesPerSecond'> {
  const file = path.join(dir, 'config.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { format?: string };
  if (json.format === IMAGE_TOKENIZER_FORMAT) return { downsampling: validateImageTokenizerConfig(json, file).architecture.downsampling };
  if (json.format === AUDIO_TOKENIZER_FORMAT) return { framesPerSecond: frameRate(validateAudioTokenizerConfig(json, file)) };
  return {};
}

function itemName(source: string, index: number | undefined): string {
  return index === undefined ? source : `${source}#${index}`;
}

/**
 * Tokenizes `data` with the tokenizer in `tokenizer` (or reuses the cached
 * codes) and returns the codes of every item in dataset order.
 */
export async function loadTokenizedCodes(options: LoadTokenizedCodesOptions): Promise<TokenizedCodes> {
  const labels = options.labels ?? 'auto';
  if (labels !== 'auto' && labels !== 'subfolders' && labels !== 'none') {
    throw new InvalidArgumentError(`labels must be 'auto', 'subfolders' or 'none', got ${JSON.stringify(labels)}`);
  }
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 1)) {
    throw new InvalidArgumentError(`limit must be a positive integer, got ${options.limit}`);
  }
  const tokenizerDir = path.resolve(options.tokenizer);
  const probe = await loadDatasetTokenizer(tokenizerDir);
  const tokenizer: TokenizerInfo = { id: probe.id, dir: tokenizerDir, modality: probe.modality, codebookSizes: [...probe.codebookSizes] };
  probe.dispose();
  Object.assign(tokenizer, tokenizerRates(tokenizerDir));

  const listing = await listItems(options.data);
  const cacheDir = path.join(path.resolve(options.cacheDir ?? defaultCodesCacheDir()), tokenizer.id, listing.fingerprint.slice(0, 16));
  const result = await tokenizeDataset({
    tokenizer: tokenizerDir,
    data: options.data,
    outDir: cacheDir,
    workers: options.workers ?? 0,
    backend: options.backend,
    onProgress: options.onProgress,
    signal: options.signal,
  });
  if (!result.manifest.complete) {
    const reason = result.aborted ? 'interrupted' : `${result.failedShards.length} shard(s) failed: ${result.failedShards.map((f) => f.message).join('; ')}`;
    throw new InvalidArgumentError(`tokenizing ${options.data} did not finish (${reason}); run again to resume from the cached shards`);
  }
  const data = path.resolve(options.data);
  return { ...(await readCachedCodes(cacheDir, data, labels, options.limit)), tokenizer, data, cacheDir, fromCache: result.shardsWritten === 0 };
}

async function readCachedCodes(
  cacheDir: string,
  data: string,
  labels: LabelSource,
  limit: number | undefined,
): Promise<Pick<TokenizedCodes, 'items' | 'classNames' | 'errors'>> {
  const manifest = await readTokenDatasetManifest(cacheDir);
  const items: CodeItem[] = [];
  let errors = 0;
  for (const summary of manifest.shards) {
    const { index, tokens } = await loadShard(cacheDir, summary.shard);
    errors += index.errors.length;
    for (const item of index.items) {
      if (limit !== undefined && items.length >= limit) break;
      items.push({
        codes: Int32Array.from(tokens.subarray(item.offset, item.offset + item.length)),
        shape: item.shape,
        label: labels === 'none' ? -1 : (item.label ?? -1),
        name: itemName(item.source, item.index),
      });
    }
  }
  if (items.length === 0) throw new FileFormatError('no item of the dataset could be tokenized (see errors.json)', cacheDir);
  let classNames: string[] | undefined;
  if (labels === 'subfolders') {
    if (!fs.statSync(data).isDirectory()) throw new InvalidArgumentError(`labels 'subfolders' needs a folder dataset, ${data} is a file`);
    const root = data;
    const classOf = (name: string): string => {
      const rel = path.relative(root, name).split(path.sep);
      if (rel.length < 2) throw new InvalidArgumentError(`${name} is not inside a class subfolder of ${root} (labels: 'subfolders')`);
      return rel[0]!;
    };
    classNames = [...new Set(items.map((item) => classOf(item.name)))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const labelOf = new Map(classNames.map((n, i) => [n, i]));
    for (const item of items) item.label = labelOf.get(classOf(item.name))!;
  }
  return { items, errors, ...(classNames ? { classNames } : {}) };
}

/** Options of {@link priorDataFromCodes}. */
export interface PriorDataOptions {
  /** Condition on the items' labels (class tokens). Default: true when every item has a label. */
  classConditional?: boolean;
  /** Class names (label i ↔ classNames[i]); must cover every label. Default: the codes' own (subfolders), else none. */
  classNames?: string[];
  /** Number of class tokens. Default: classNames.length, else max label + 1. */
  numClasses?: number;
  /** Audio: sequence pattern. Default 'flatten'. */
  audioPattern?: AudioPattern;
  /** Audio: code frames per second (for bits per second). Default: the tokenizer's frame rate. */
  framesPerSecond?: number;
  /**
   * Audio: model only the first `levels` residual levels — a prior at a lower
   * bitrate whose samples decode from the coarse levels alone. Default: all.
   */
  levels?: number;
  /** Use this vocabulary (e.g. a validation set for an existing layout). Default: built from the tokenizer and labels. */
  vocabulary?: Vocabulary;
}

/** Prior sequences, the token layout and the metadata to store with the prior. */
export interface PriorData {
  vocabulary: Vocabulary;
  /** One sequence per item: `[prefix, tokens...]`. */
  sequences: Int32Array[];
  /** Label of each item (-1 without). */
  labels: Int32Array;
  /** Tokens per sequence after the prefix (images); audio sequences vary. */
  sequenceLength: number;
  metadata: PriorMetadata;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Turns tokenized codes into prior sequences: the vocabulary from the
 * codebook, levels and labels; images as raster-order grids; audio flattened
 * frame by frame (or with the delay pattern). The metadata records the
 * tokenizer id, the grid / pattern, the class names and the token rates.
 */
export function priorDataFromCodes(codes: TokenizedCodes, options: PriorDataOptions = {}): PriorData {
  const { tokenizer, items } = codes;
  const K = tokenizer.codebookSizes[0]!;
  if (tokenizer.codebookSizes.some((k) => k !== K)) {
    throw new InvalidArgumentError(`levels with different codebook sizes [${tokenizer.codebookSizes.join(', ')}] are not supported by the prior's token layout`);
  }
  const tokenizerLevels = tokenizer.codebookSizes.length;
  const levels = options.levels ?? tokenizerLevels;
  if (!Number.isInteger(levels) || levels < 1 || levels > tokenizerLevels) {
    throw new InvalidArgumentError(`levels must be an integer in [1, ${tokenizerLevels}] (the tokenizer's levels), got ${options.levels}`);
  }
  if (levels !== tokenizerLevels && tokenizer.modality !== 'audio') throw new InvalidArgumentError(`levels (modelling the first residual levels only) is for audio priors`);
  const labelled = items.every((item) => item.label >= 0);
  const classConditional = options.classConditional ?? labelled;
  if (classConditional && !labelled) {
    const missing = items.find((item) => item.label < 0)!;
    throw new InvalidArgumentError(`class conditioning needs a label for every item; ${missing.name} has none (IDX label files, list files with labels, or labels: 'subfolders')`);
  }
  const classNames = options.classNames ?? codes.classNames;
  const maxLabel = classConditional ? items.reduce((m, item) => Math.max(m, item.label), -1) : -1;
  const numClasses = classConditional ? (options.numClasses ?? classNames?.length ?? maxLabel + 1) : 0;
  if (maxLabel >= numClasses) throw new InvalidArgumentError(`label ${maxLabel} needs at least ${maxLabel + 1} classes, got ${numClasses}${classNames ? ' class names' : ''}`);
  if (classNames && classNames.length !== numClasses) throw new InvalidArgumentError(`${classNames.length} class names for ${numClasses} classes`);
  const pattern = options.audioPattern ?? 'flatten';
  const vocabulary =
    options.vocabulary ?? createVocabulary({ codebookSize: K, levels, numClasses, padToken: tokenizer.modality === 'audio' && pattern === 'delay' });
  if (vocabulary.codebookSize !== K || vocabulary.levels !== levels) {
    throw new InvalidArgumentError(`the vocabulary is for ${vocabulary.levels} level(s) of ${vocabulary.codebookSize} codes, these codes have ${levels} of ${K}`);
  }
  const labels = Int32Array.from(items, (item) => item.label);
  const classOf = (item: CodeItem): number | undefined => (classConditional ? item.label : undefined);
  const metadata: PriorMetadata = { modality: tokenizer.modality, tokenizer: tokenizer.id };
  if (classNames && classConditional) metadata.classNames = [...classNames];
  let sequences: Int32Array[];
  let sequenceLength: number;
  if (tokenizer.modality === 'image') {
    const shape = items[0]!.shape;
    const odd = items.find((item) => !sameShape(item.shape, shape));
    if (odd) {
      throw new InvalidArgumentError(
        `images give different code grids ([${shape.join(', ')}] for ${items[0]!.name}, [${odd.shape.join(', ')}] for ${odd.name}); ` +
          'the prior models one grid size: resize the images to one size first',
      );
    }
    const grid: GridShape = { height: shape[0]!, width: shape[1]! };
    sequences = items.map((item) => imageCodesToSequence(item.codes, grid, { vocabulary, classIndex: classOf(item) }));
    sequenceLength = grid.height * grid.width * levels;
    metadata.grid = grid;
    if (tokenizer.downsampling !== undefined) metadata.tokensPerPixel = levels / tokenizer.downsampling ** 2;
  } else {
    // Codes [frames, tokenizerLevels] → the first `levels` of every frame.
    const firstLevels = (codes: Int32Array): Int32Array => {
      if (levels === tokenizerLevels) return codes;
      const frames = codes.length / tokenizerLevels;
      const out = new Int32Array(frames * levels);
      for (let f = 0; f < frames; f++) out.set(codes.subarray(f * tokenizerLevels, f * tokenizerLevels + levels), f * levels);
      return out;
    };
    sequences = items.map((item) => audioCodesToSequence(firstLevels(item.codes), { vocabulary, pattern, classIndex: classOf(item) }));
    sequenceLength = Math.max(...sequences.map((s) => s.length - 1));
    metadata.audioPattern = pattern;
    const framesPerSecond = options.framesPerSecond ?? tokenizer.framesPerSecond;
    if (framesPerSecond !== undefined) {
      metadata.framesPerSecond = framesPerSecond;
      metadata.tokensPerSecond = framesPerSecond * levels;
    }
  }
  return { vocabulary, sequences, labels, sequenceLength, metadata };
}

/**
 * The static baseline a prior must beat: the empirical entropy of the code
 * tokens (everything after the `prefixLength` prefix) in bits per token,
 * measured per residual level (a token's level is fixed by its position, so
 * it carries no information) and averaged over tokens.
 */
export function unigramBitsPerToken(sequences: readonly Int32Array[], vocabulary: Vocabulary, prefixLength = 1): number {
  const counts = new Float64Array(vocabulary.codeTokens);
  for (const seq of sequences) {
    for (let i = prefixLength; i < seq.length; i++) {
      const t = seq[i]!;
      if (t < vocabulary.codeTokens) counts[t]! += 1;
    }
  }
  const K = vocabulary.codebookSize;
  let bits = 0;
  let total = 0;
  for (let l = 0; l < vocabulary.levels; l++) {
    const level = counts.subarray(l * K, (l + 1) * K);
    const n = level.reduce((a, b) => a + b, 0);
    for (const c of level) if (c > 0) bits -= c * Math.log2(c / n);
    total += n;
  }
  return total > 0 ? bits / total : NaN;
}
