/**
 * Image compression with a tokenizer: image → code grid → entropy-coded
 * token container (`.vqt`, core's format, docs/container.md) and back.
 *
 * Container use for images: modality `image`, one segment of shape
 * [h, w, levels] (the code grid), the tokenizer's codebook sizes, and — only
 * when the image size is not a multiple of the downsampling factor f — one
 * metadata byte `padH · 16 + padW` with the rows/columns of padding the
 * decoder crops (each < f). A 28×28 Fashion-MNIST image at f = 4 with K = 512
 * therefore costs 23 bytes of header + checksum (27 with a learned model's
 * fingerprint) on top of its payload.
 *
 * Entropy models (what `entropyModel` selects):
 * - 'fixed-length': ⌈log2 K⌉ bits per code, bit-packed;
 * - 'uniform': log2 K bits per code through the range coder;
 * - 'adaptive': adaptive code frequencies, nothing shipped;
 * - 'learned': the tokenizer's fitted model (`entropy.bin`, see compress-entropy.ts);
 * - 'prior': an external predictor such as the Transformer prior
 *   (`priorEntropyModel(prior)` from @vqkit/prior);
 * - 'auto' (default): codes with every available one and keeps the smallest
 *   file (the container records which, so decoding needs no flag).
 */
import {
  adaptiveSpec,
  ContainerCorruptError,
  EntropyModelMismatchError,
  fixedLengthSpec,
  InvalidArgumentError,
  readContainer,
  readContainerHeader,
  uniformSpec,
  writeContainer,
  CHECKSUM_BYTES,
  type ContainerHeader,
  type EntropyModelKind,
  type EntropyModelSpec,
} from '@vqkit/core';
import { gridShape } from './compress-entropy.js';
import { loadImage, type ImageF32, type ImageInput } from './io.js';
import type { EncodedImage, ImageTokenizer } from './tokenizer.js';

/** What identifies the code space of a tokenizer in a container. */
export interface ImageCodeSpace {
  /** Tokenizer id (16 hex digits, `ImageTokenizer.id`). */
  tokenizerId: string;
  /** Codebook size per level. */
  codebookSizes: readonly number[];
  /** Downsampling factor f. */
  downsampling: number;
}

/** Entropy models `compressImage` can use; see the module comment. */
export type ImageEntropyModelChoice = 'auto' | 'fixed-length' | 'uniform' | 'adaptive' | 'learned' | 'prior';

/** Models a container may need besides the parameter-free ones. */
export interface ImageEntropyModels {
  /** The tokenizer's learned model (`loadEntropyModel(dir)` / `fitEntropyModel`). */
  learnedModel?: EntropyModelSpec;
  /** An external predictor, e.g. `priorEntropyModel(prior)` from @vqkit/prior (the caller disposes it). */
  prior?: EntropyModelSpec;
}

export interface PackImageCodesOptions extends ImageEntropyModels {
  /** Default 'auto': the smallest of the available models. */
  entropyModel?: ImageEntropyModelChoice;
}

export type CompressImageOptions = PackImageCodesOptions;

export interface UnpackImageCodesOptions extends ImageEntropyModels {
  /**
   * Largest image (in pixels) a container may declare; bounds decoding time
   * and memory for untrusted input. Default 2^26 (e.g. 8192×8192).
   */
  maxPixels?: number;
}

export type DecompressImageOptions = UnpackImageCodesOptions;

/** Sizes of one compressed image. Every byte of the file is counted in `bytes`. */
export interface ImageCompressionStats {
  width: number;
  height: number;
  /** Code grid [h, w, levels]. */
  codeShape: number[];
  /** Entropy model the file was coded with. */
  entropyModel: EntropyModelKind;
  /** Whole container (header + payload + checksum). */
  bytes: number;
  /** Entropy-coded codes only. */
  payloadBytes: number;
  /** Header + checksum. */
  overheadBytes: number;
  /** 8 · bytes / pixels. */
  bitsPerPixel: number;
  /** 8 · payloadBytes / pixels. */
  payloadBitsPerPixel: number;
  /** Container size with each model tried ('auto' tries several). */
  candidates: { entropyModel: EntropyModelKind; bytes: number }[];
}

export interface PackedImage {
  bytes: Uint8Array;
  stats: ImageCompressionStats;
}

export interface CompressedImage extends PackedImage {
  /** The codes in the file. */
  codes: EncodedImage;
  /** The pixels that were encoded (the input after the tokenizer's channel/resize preprocessing). */
  image: ImageF32;
}

export interface DecompressedImage {
  image: ImageF32;
  codes: EncodedImage;
  header: ContainerHeader;
}

const DEFAULT_MAX_PIXELS = 2 ** 26;
/** Padding (< f) is stored in one nibble per axis. */
const MAX_PAD = 15;

const ids = new WeakMap<ImageTokenizer, string>();

/**
 * The code space of a tokenizer. The id (a hash of config and weights) is
 * computed once per tokenizer instance: compression treats weights as frozen.
 */
export function imageCodeSpace(tokenizer: ImageTokenizer): ImageCodeSpace {
  let id = ids.get(tokenizer);
  if (id === undefined) {
    id = tokenizer.id;
    ids.set(tokenizer, id);
  }
  return { tokenizerId: id, codebookSizes: tokenizer.codebookSizes, downsampling: tokenizer.downsampling };
}

function candidateSpecs(choice: ImageEntropyModelChoice, models: ImageEntropyModels): EntropyModelSpec[] {
  const need = (spec: EntropyModelSpec | undefined, what: string, hint: string): EntropyModelSpec => {
    if (spec === undefined) throw new InvalidArgumentError(`entropyModel '${what}' needs options.${hint}`);
    return spec;
  };
  switch (choice) {
    case 'auto':
      return [fixedLengthSpec, uniformSpec, adaptiveSpec, ...(models.learnedModel ? [models.learnedModel] : []), ...(models.prior ? [models.prior] : [])];
    case 'fixed-length':
      return [fixedLengthSpec];
    case 'uniform':
      return [uniformSpec];
    case 'adaptive':
      return [adaptiveSpec];
    case 'learned':
      return [need(models.learnedModel, 'learned', 'learnedModel (loadEntropyModel(tokenizerDir) or fitEntropyModel)')];
    case 'prior':
      return [need(models.prior, 'prior', 'prior (priorEntropyModel(prior) from @vqkit/prior)')];
    default:
      throw new InvalidArgumentError(`unknown entropyModel ${JSON.stringify(choice)}; expected auto, fixed-length, uniform, adaptive, learned or prior`);
  }
}

/** Codes of one image → container bytes (no neural network involved). */
export function packImageCodes(codes: EncodedImage, space: ImageCodeSpace, options: PackImageCodesOptions = {}): PackedImage {
  const levels = space.codebookSizes.length;
  const shape = gridShape(codes.shape, levels);
  if (shape.length !== 3 || shape[2] !== levels) throw new InvalidArgumentError(`code grid [${codes.shape.join(', ')}] must have all ${levels} level(s) of the tokenizer`);
  const f = space.downsampling;
  const padH = shape[0]! * f - codes.height;
  const padW = shape[1]! * f - codes.width;
  if (!(padH >= 0 && padH < f && padW >= 0 && padW < f && f - 1 <= MAX_PAD)) {
    throw new InvalidArgumentError(`image size ${codes.height}x${codes.width} does not match the code grid [${shape.join(', ')}] at f=${f}`);
  }
  const header = {
    modality: 'image' as const,
    tokenizerId: space.tokenizerId,
    codebookSizes: space.codebookSizes,
    metadata: padH === 0 && padW === 0 ? undefined : Uint8Array.of(padH * 16 + padW),
  };
  let best: Uint8Array | undefined;
  let bestKind: EntropyModelKind = 'fixed-length';
  const candidates: ImageCompressionStats['candidates'] = [];
  for (const spec of candidateSpecs(options.entropyModel ?? 'auto', options)) {
    const bytes = writeContainer(header, [{ shape, codes: codes.codes }], { model: spec });
    candidates.push({ entropyModel: spec.kind, bytes: bytes.length });
    if (best === undefined || bytes.length < best.length) {
      best = bytes;
      bestKind = spec.kind;
    }
  }
  const bytes = best!;
  const overhead = headerBytesOf(bytes) + CHECKSUM_BYTES;
  const pixels = codes.height * codes.width;
  return {
    bytes,
    stats: {
      width: codes.width,
      height: codes.height,
      codeShape: shape,
      entropyModel: bestKind,
      bytes: bytes.length,
      payloadBytes: bytes.length - overhead,
      overheadBytes: overhead,
      bitsPerPixel: (8 * bytes.length) / pixels,
      payloadBitsPerPixel: (8 * (bytes.length - overhead)) / pixels,
      candidates,
    },
  };
}

/** Header size of a container we just wrote (parses the header only, no payload decoding). */
function headerBytesOf(bytes: Uint8Array): number {
  return readContainerHeader(bytes).headerBytes;
}

/**
 * Container bytes → codes, after checking that the file is an image
 * container of this tokenizer (`TokenizerMismatchError` otherwise) whose
 * declared sizes stay within `maxPixels` (checked before decoding).
 * Every failure is a typed `VqkitError` (`ContainerError` for bad files).
 */
export function unpackImageCodes(bytes: Uint8Array, space: ImageCodeSpace, options: UnpackImageCodesOptions = {}): { codes: EncodedImage; header: ContainerHeader } {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!Number.isInteger(maxPixels) || maxPixels < 1) throw new InvalidArgumentError(`maxPixels must be a positive integer, got ${maxPixels}`);
  const f = space.downsampling;
  const levels = space.codebookSizes.length;
  const maxCodes = Math.ceil(maxPixels / (f * f)) * levels;
  const limits = {
    maxSegments: 1,
    maxLevels: levels,
    maxCodebookSize: Math.max(...space.codebookSizes),
    maxSymbolsPerSegment: maxCodes,
    maxTotalSymbols: maxCodes,
    maxMetadataBytes: 1,
  };
  const header = readContainerHeader(bytes, { expectedTokenizerId: space.tokenizerId, limits });
  if (header.modality !== 'image') throw new InvalidArgumentError(`the container holds ${header.modality} codes, not an image`);
  if (header.codebookSizes.length !== levels || header.codebookSizes.some((k, l) => k !== space.codebookSizes[l])) {
    throw new ContainerCorruptError(`corrupt: codebook sizes [${header.codebookSizes.join(', ')}] differ from the tokenizer's [${space.codebookSizes.join(', ')}]`);
  }
  const seg = header.segments[0];
  if (header.segments.length !== 1 || seg === undefined || seg.shape.length !== 3 || seg.shape[0]! < 1 || seg.shape[1]! < 1) {
    throw new ContainerCorruptError('corrupt: an image container holds exactly one non-empty [h, w, levels] code grid');
  }
  const pad = header.metadata === undefined ? 0 : header.metadata.length === 1 ? header.metadata[0]! : -1;
  const padH = pad >> 4;
  const padW = pad & 15;
  if (pad < 0 || (header.metadata !== undefined && pad === 0) || padH >= f || padW >= f || padH >= seg.shape[0]! * f || padW >= seg.shape[1]! * f) {
    throw new ContainerCorruptError('corrupt: invalid image padding metadata');
  }
  const kind = header.entropyModel;
  const model = kind === 'external' ? options.prior : kind === 'static' || kind === 'neighbour' ? options.learnedModel : undefined;
  if (model === undefined && kind === 'external') {
    throw new EntropyModelMismatchError(`the container is coded with a prior (fingerprint ${header.modelFingerprint ?? 'none'}); pass options.prior = priorEntropyModel(<that prior>)`);
  }
  if (model === undefined && (kind === 'static' || kind === 'neighbour')) {
    throw new EntropyModelMismatchError(
      `the container is coded with the tokenizer's learned '${kind}' entropy model (fingerprint ${header.modelFingerprint ?? 'none'}); pass options.learnedModel = loadEntropyModel(<tokenizer dir>)`,
    );
  }
  const { segments } = readContainer(bytes, { expectedTokenizerId: space.tokenizerId, limits, model });
  const [h, w] = seg.shape as [number, number, number];
  const shape = levels > 1 ? [h, w, levels] : [h, w];
  return { codes: { codes: segments[0]!.codes, shape, height: h * f - padH, width: w * f - padW }, header };
}

async function loadForTokenizer(input: ImageInput | ImageF32, tokenizer: ImageTokenizer): Promise<ImageF32> {
  const { channels, resize, height, width } = tokenizer.config.preprocessing;
  const raw = input as ImageF32;
  if (typeof input === 'object' && raw !== null && raw.data instanceof Float32Array && raw.channels === channels && resize === 'none') return raw;
  return resize === 'none' ? loadImage(input, { channels }) : loadImage(input, { channels, size: { width, height }, resize });
}

/**
 * Compresses an image (path, encoded bytes, sharp pipeline or pixels) with a
 * tokenizer into a `.vqt` container.
 */
export async function compressImage(input: ImageInput | ImageF32, tokenizer: ImageTokenizer, options: CompressImageOptions = {}): Promise<CompressedImage> {
  const image = await loadForTokenizer(input, tokenizer);
  const [codes] = await tokenizer.encodeBatch([image]);
  const packed = packImageCodes(codes!, imageCodeSpace(tokenizer), options);
  return { ...packed, codes: codes!, image };
}

/** Decompresses a `.vqt` image container written with `tokenizer`. */
export async function decompressImage(bytes: Uint8Array, tokenizer: ImageTokenizer, options: DecompressImageOptions = {}): Promise<DecompressedImage> {
  const { codes, header } = unpackImageCodes(bytes, imageCodeSpace(tokenizer), options);
  return { image: (await tokenizer.decodeBatch([codes]))[0]!, codes, header };
}
