/**
 * The image tokenizer's configuration: a typed, versioned JSON document that
 * is saved as `config.json` next to the weights and fully determines the
 * model's architecture, how images are brought to the model, and the
 * quantizer. Everything a loader needs to rebuild the model is here; the
 * weights file only holds numbers.
 */
import { InvalidArgumentError } from '@vqkit/core';
import type { ResizePolicy } from '../io.js';

export const IMAGE_TOKENIZER_FORMAT = 'vqkit.image-tokenizer';
export const IMAGE_TOKENIZER_CONFIG_VERSION = 1;

/** Spatial downsampling factors the encoder supports (number of stride-2 stages = log2 f). */
export type DownsamplingFactor = 2 | 4 | 8;
const FACTORS: readonly DownsamplingFactor[] = [2, 4, 8];

export interface ImageArchitectureConfig {
  /** Downsampling factor f: an H×W image becomes an (H/f)×(W/f) grid of codes. */
  downsampling: DownsamplingFactor;
  /** Channels of the last down block and of the residual stack (Sonnet's `num_hiddens`). The earlier down blocks use half. */
  hiddenChannels: number;
  /** Residual blocks in the encoder and in the decoder. */
  residualBlocks: number;
  /** Bottleneck channels of each residual block's 3×3 conv (Sonnet's `num_residual_hiddens`). */
  residualHiddenChannels: number;
  /** Dimension D of the latent vectors that get quantized. */
  codeDim: number;
  /**
   * Output non-linearity: `'sigmoid'` (pixels = σ(logits)) or `'clamp'`
   * (linear output, clamped to [0, 1] at inference; the training loss sees the unclamped value).
   */
  output: 'sigmoid' | 'clamp';
}

export interface ImagePreprocessingConfig {
  /** Training image height; also the target height of the resize policies. */
  height: number;
  /** Training image width. */
  width: number;
  /** 1 = grayscale, 3 = RGB. Inputs are converted to this. */
  channels: 1 | 3;
  /**
   * How inputs of another size are handled when encoding. `'none'` (default)
   * keeps the native size — the model is fully convolutional — padding the
   * bottom/right edges by reflection up to a multiple of f; the others bring
   * the image to height×width first (see the io module's ResizePolicy).
   */
  resize: ResizePolicy;
}

interface VqCommonConfig {
  /** Codes per codebook K. */
  codebookSize: number;
  /** β of the commitment loss. Default (quantizer's) 0.25. */
  commitmentWeight?: number;
  /** `'ema'` (default) or `'loss'` codebook learning. */
  codebook?: 'ema' | 'loss';
  /** EMA decay. Default 0.99. */
  decay?: number;
  /** k-means initialisation from the first training batch. Default true. */
  kmeansInit?: boolean;
  /** Dead-code restart threshold (EMA hits per batch); 0 disables. Default 1. */
  restartThreshold?: number;
  /** Factorised codes: quantize in a lower-dimensional projection. Default codeDim. */
  codebookDim?: number;
}

/** Single-codebook vector quantizer (VQ-VAE). */
export interface VqQuantizerConfig extends VqCommonConfig {
  type: 'vq';
  /** Cosine-similarity codebook. Default false. */
  cosine?: boolean;
}

/** Residual VQ (SoundStream/EnCodec): `levels` codebooks quantizing successive residuals. */
export interface RvqQuantizerConfig extends VqCommonConfig {
  type: 'rvq';
  /** Number of residual levels. */
  levels: number;
  /** Train with a random number of levels per batch (SoundStream), so any prefix of levels decodes well. Default false. */
  quantizerDropout?: boolean;
}

/**
 * Finite scalar quantization (Mentzer et al. 2023): each channel rounded to a
 * few levels. When `levels.length` ≠ codeDim, learned linear maps project
 * codeDim → levels.length and back.
 */
export interface FsqQuantizerConfig {
  type: 'fsq';
  /** Levels per channel, e.g. [8, 5, 5, 5] (codebook size = product). */
  levels: number[];
}

export type ImageQuantizerConfig = VqQuantizerConfig | RvqQuantizerConfig | FsqQuantizerConfig;

/** `config.json` of an image tokenizer. */
export interface ImageTokenizerConfig {
  format: typeof IMAGE_TOKENIZER_FORMAT;
  version: typeof IMAGE_TOKENIZER_CONFIG_VERSION;
  architecture: ImageArchitectureConfig;
  preprocessing: ImagePreprocessingConfig;
  quantizer: ImageQuantizerConfig;
}

/** The reference architecture: Fashion-MNIST 28×28×1, f=4 (7×7 codes), 128 hidden channels, D=64, VQ K=512. */
export function fashionMnistConfig(): ImageTokenizerConfig {
  return {
    format: IMAGE_TOKENIZER_FORMAT,
    version: IMAGE_TOKENIZER_CONFIG_VERSION,
    architecture: { downsampling: 4, hiddenChannels: 128, residualBlocks: 2, residualHiddenChannels: 32, codeDim: 64, output: 'sigmoid' },
    preprocessing: { height: 28, width: 28, channels: 1, resize: 'none' },
    quantizer: { type: 'vq', codebookSize: 512 },
  };
}

/** Partial configs: every section optional, merged over {@link fashionMnistConfig}. */
export interface ImageTokenizerConfigInput {
  architecture?: Partial<ImageArchitectureConfig>;
  preprocessing?: Partial<ImagePreprocessingConfig>;
  quantizer?: ImageQuantizerConfig;
}

/** Builds a validated config from overrides of the reference config. */
export function createImageTokenizerConfig(input: ImageTokenizerConfigInput = {}): ImageTokenizerConfig {
  const base = fashionMnistConfig();
  return validateImageTokenizerConfig({
    ...base,
    architecture: { ...base.architecture, ...input.architecture },
    preprocessing: { ...base.preprocessing, ...input.preprocessing },
    quantizer: input.quantizer ?? base.quantizer,
  });
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class ConfigChecker {
  constructor(private readonly source: string) {}

  fail(field: string, message: string): never {
    throw new InvalidArgumentError(`${this.source}: ${field} ${message}`);
  }

  section(obj: Json, key: string): Json {
    const v = obj[key];
    if (!isObject(v)) this.fail(key, 'must be an object');
    return v as Json;
  }

  int(obj: Json, key: string, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = obj[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(field, `must be an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? '∞' : max}], got ${JSON.stringify(v)}`);
    }
    return v as number;
  }

  optionalNumber(obj: Json, key: string, field: string, min: number, max: number): number | undefined {
    const v = obj[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !(v >= min && v <= max)) this.fail(field, `must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
    return v as number;
  }

  oneOf<T extends string | number>(obj: Json, key: string, field: string, allowed: readonly T[]): T {
    const v = obj[key];
    if (!allowed.includes(v as T)) this.fail(field, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${JSON.stringify(v)}`);
    return v as T;
  }

  optionalBool(obj: Json, key: string, field: string): boolean | undefined {
    const v = obj[key];
    if (v !== undefined && typeof v !== 'boolean') this.fail(field, `must be true or false, got ${JSON.stringify(v)}`);
    return v as boolean | undefined;
  }

  noUnknownKeys(obj: Json, allowed: readonly string[], section: string): void {
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) this.fail(`${section}.${key}`, `is not a known option (known: ${allowed.join(', ')})`);
    }
  }
}

const VQ_KEYS = ['type', 'codebookSize', 'commitmentWeight', 'codebook', 'decay', 'kmeansInit', 'restartThreshold', 'codebookDim'] as const;

function checkQuantizer(c: ConfigChecker, q: Json, codeDim: number): ImageQuantizerConfig {
  const type = c.oneOf(q, 'type', 'quantizer.type', ['vq', 'rvq', 'fsq'] as const);
  if (type === 'fsq') {
    c.noUnknownKeys(q, ['type', 'levels'], 'quantizer');
    const levels = q.levels;
    if (!Array.isArray(levels) || levels.length === 0 || !levels.every((l) => Number.isInteger(l) && l >= 2 && l <= 256)) {
      c.fail('quantizer.levels', `must be a non-empty array of integers in [2, 256], got ${JSON.stringify(levels)}`);
    }
    const size = (levels as number[]).reduce((a, b) => a * b, 1);
    if (size > 2 ** 24) c.fail('quantizer.levels', `give a codebook of ${size} codes; at most 2^24 are supported`);
    return { type, levels: [...(levels as number[])] };
  }
  c.noUnknownKeys(q, type === 'rvq' ? [...VQ_KEYS, 'levels', 'quantizerDropout'] : [...VQ_KEYS, 'cosine'], 'quantizer');
  const out: VqCommonConfig = { codebookSize: c.int(q, 'codebookSize', 'quantizer.codebookSize', 2, 2 ** 20) };
  const beta = c.optionalNumber(q, 'commitmentWeight', 'quantizer.commitmentWeight', 0, 100);
  if (beta !== undefined) out.commitmentWeight = beta;
  if (q.codebook !== undefined) out.codebook = c.oneOf(q, 'codebook', 'quantizer.codebook', ['ema', 'loss'] as const);
  const decay = c.optionalNumber(q, 'decay', 'quantizer.decay', 0, 1);
  if (decay !== undefined) out.decay = decay;
  const kmeans = c.optionalBool(q, 'kmeansInit', 'quantizer.kmeansInit');
  if (kmeans !== undefined) out.kmeansInit = kmeans;
  const restart = c.optionalNumber(q, 'restartThreshold', 'quantizer.restartThreshold', 0, 1e9);
  if (restart !== undefined) out.restartThreshold = restart;
  if (q.codebookDim !== undefined) out.codebookDim = c.int(q, 'codebookDim', 'quantizer.codebookDim', 1, codeDim);
  if (type === 'rvq') {
    const rvq: RvqQuantizerConfig = { type, ...out, levels: c.int(q, 'levels', 'quantizer.levels', 1, 64) };
    const dropout = c.optionalBool(q, 'quantizerDropout', 'quantizer.quantizerDropout');
    if (dropout !== undefined) rvq.quantizerDropout = dropout;
    return rvq;
  }
  const vq: VqQuantizerConfig = { type, ...out };
  const cosine = c.optionalBool(q, 'cosine', 'quantizer.cosine');
  if (cosine !== undefined) vq.cosine = cosine;
  return vq;
}

/**
 * Checks a parsed `config.json` (or a config object from code) and returns a
 * normalised copy. Throws InvalidArgumentError naming the offending field and
 * `source` (e.g. the file path).
 */
export function validateImageTokenizerConfig(value: unknown, source = 'image tokenizer config'): ImageTokenizerConfig {
  const c = new ConfigChecker(source);
  if (!isObject(value)) c.fail('config', 'must be a JSON object');
  const root = value as Json;
  if (root.format !== IMAGE_TOKENIZER_FORMAT) {
    c.fail('format', `must be "${IMAGE_TOKENIZER_FORMAT}", got ${JSON.stringify(root.format)}; this is not an image tokenizer config`);
  }
  if (root.version !== IMAGE_TOKENIZER_CONFIG_VERSION) {
    c.fail('version', `${JSON.stringify(root.version)} is not supported; this vqkit reads version ${IMAGE_TOKENIZER_CONFIG_VERSION} (upgrade vqkit for newer files)`);
  }
  c.noUnknownKeys(root, ['format', 'version', 'architecture', 'preprocessing', 'quantizer'], 'config');

  const a = c.section(root, 'architecture');
  c.noUnknownKeys(a, ['downsampling', 'hiddenChannels', 'residualBlocks', 'residualHiddenChannels', 'codeDim', 'output'], 'architecture');
  const architecture: ImageArchitectureConfig = {
    downsampling: c.oneOf(a, 'downsampling', 'architecture.downsampling', FACTORS),
    hiddenChannels: c.int(a, 'hiddenChannels', 'architecture.hiddenChannels', 2, 4096),
    residualBlocks: c.int(a, 'residualBlocks', 'architecture.residualBlocks', 0, 64),
    residualHiddenChannels: c.int(a, 'residualHiddenChannels', 'architecture.residualHiddenChannels', 1, 4096),
    codeDim: c.int(a, 'codeDim', 'architecture.codeDim', 1, 4096),
    output: c.oneOf(a, 'output', 'architecture.output', ['sigmoid', 'clamp'] as const),
  };

  const p = c.section(root, 'preprocessing');
  c.noUnknownKeys(p, ['height', 'width', 'channels', 'resize'], 'preprocessing');
  const preprocessing: ImagePreprocessingConfig = {
    height: c.int(p, 'height', 'preprocessing.height', 1, 65536),
    width: c.int(p, 'width', 'preprocessing.width', 1, 65536),
    channels: c.oneOf(p, 'channels', 'preprocessing.channels', [1, 3] as const),
    resize: p.resize === undefined ? 'none' : c.oneOf(p, 'resize', 'preprocessing.resize', ['none', 'center-crop', 'resize', 'pad'] as const),
  };

  const quantizer = checkQuantizer(c, c.section(root, 'quantizer'), architecture.codeDim);
  return { format: IMAGE_TOKENIZER_FORMAT, version: IMAGE_TOKENIZER_CONFIG_VERSION, architecture, preprocessing, quantizer };
}

/** Canonical JSON text of a config (what `config.json` holds and the tokenizer id hashes). */
export function serializeImageTokenizerConfig(config: ImageTokenizerConfig): string {
  return `${JSON.stringify(validateImageTokenizerConfig(config), null, 2)}\n`;
}
