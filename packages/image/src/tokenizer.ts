/**
 * ImageTokenizer: a trained image VQ-VAE on disk (a directory with
 * `config.json` + `model.safetensors`) and the API to turn images into
 * discrete codes and back.
 *
 * Sizes: the model is fully convolutional, so with the default
 * `preprocessing.resize: 'none'` an image of any size is encoded at its
 * native resolution. Sides that are not multiples of the downsampling factor
 * f are padded (bottom/right, by reflection) to the next multiple; the code
 * grid is then ceil(H/f)×ceil(W/f) and `decode` crops the padding away again
 * using the `height`/`width` recorded with the codes.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FileFormatError, InvalidArgumentError, loadModuleFromBytes, moduleToSafetensors, writeFileAtomic } from '@vqkit/core';
import { encodeImage, loadImage, type ImageF32, type ImageInput } from './io.js';
import { serializeImageTokenizerConfig, validateImageTokenizerConfig, type ImageTokenizerConfig } from './model/config.js';
import { ImageVQVAE } from './model/vqvae.js';
import { decodeCodesOnnx, encodeImagesOnnx } from './onnx/inference.js';
import { openImageOnnxRuntime, type ImageOnnxRuntime, type InferenceRuntime } from './onnx/runtime.js';

export const TOKENIZER_CONFIG_FILE = 'config.json';
export const TOKENIZER_WEIGHTS_FILE = 'model.safetensors';
/** Hex digits of the SHA-256 kept in a tokenizer id (64 bits). */
const ID_HEX_DIGITS = 16;
/** Images encoded per forward pass when a batch holds many images of one size. */
const ENCODE_CHUNK = 32;

/** The codes of one image. */
export interface EncodedImage {
  /** Code indices, row-major over `shape`. */
  codes: Int32Array;
  /** Code grid shape: [h, w], or [h, w, levels] for multi-level quantizers. */
  shape: number[];
  /** Height of the encoded image in pixels (before padding to a multiple of f); decode crops to it. */
  height: number;
  /** Width of the encoded image in pixels. */
  width: number;
}

/** Codes to decode: an `EncodedImage`, or bare codes + grid shape (decoded at the full grid size). */
export type CodesInput = EncodedImage | { codes: Int32Array | ArrayLike<number>; shape: number[]; height?: number; width?: number };

function tokenizerId(configJson: string, weights: Uint8Array): string {
  return createHash('sha256').update(configJson, 'utf8').update(weights).digest('hex').slice(0, ID_HEX_DIGITS);
}

/** Writes `config.json` and `model.safetensors` atomically; returns the tokenizer id of what was written. */
export function writeTokenizerFiles(dir: string, config: ImageTokenizerConfig, model: ImageVQVAE): string {
  fs.mkdirSync(dir, { recursive: true });
  const configJson = serializeImageTokenizerConfig(config);
  const weights = moduleToSafetensors(model);
  writeFileAtomic(path.join(dir, TOKENIZER_WEIGHTS_FILE), weights);
  writeFileAtomic(path.join(dir, TOKENIZER_CONFIG_FILE), configJson);
  return tokenizerId(configJson, weights);
}

function readFileOrThrow(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'ENOENT' ? `missing ${what}; a tokenizer directory holds ${TOKENIZER_CONFIG_FILE} and ${TOKENIZER_WEIGHTS_FILE}` : `cannot read ${what} (${code ?? String(err)})`;
    throw new FileFormatError(hint, file, { cause: err });
  }
}

export interface ImageTokenizerOptions {
  /** Initialisation seed of an untrained model. Default 0. */
  seed?: number;
}

/** Options of {@link ImageTokenizer.load}. */
export interface ImageTokenizerLoadOptions {
  /**
   * Inference engine of `encode` / `decodeBatch` / `decodeToPng` / `reconstruct`:
   * `'auto'` (default) uses ONNX Runtime when the directory holds an ONNX
   * export of these weights (`vqkit export onnx`) and onnxruntime-node loads,
   * else TF.js; `'onnx'` requires it; `'tfjs'` never uses it.
   */
  runtime?: InferenceRuntime;
  /** Where the ONNX export is. Default `<dir>/onnx`. */
  onnxDir?: string;
  /** ONNX Runtime intra-op threads. Default: ORT's choice (one per core). */
  onnxThreads?: number;
  /** Let ONNX Runtime's idle threads spin (for processes that only run ONNX inference). Default false. */
  onnxSpinning?: boolean;
}

export class ImageTokenizer {
  readonly config: ImageTokenizerConfig;
  readonly model: ImageVQVAE;
  /** ONNX Runtime sessions when the ONNX path is in use. */
  private onnx: ImageOnnxRuntime | undefined;
  private runtimeReason = 'not loaded from a directory';

  /** Wraps a model; `ImageTokenizer.load` or `ImageTokenizer.create` are the usual entry points. */
  constructor(model: ImageVQVAE) {
    this.model = model;
    this.config = model.config;
  }

  /** A tokenizer with freshly initialised (untrained) weights. */
  static create(config: ImageTokenizerConfig, options: ImageTokenizerOptions = {}): ImageTokenizer {
    return new ImageTokenizer(new ImageVQVAE(config, { seed: options.seed ?? 0 }));
  }

  /**
   * Loads `config.json` and `model.safetensors` from `dir`. Throws
   * FileFormatError naming the file for missing, malformed or mutually
   * incompatible files.
   */
  static async load(dir: string, options: ImageTokenizerLoadOptions = {}): Promise<ImageTokenizer> {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new FileFormatError('tokenizer directory does not exist', dir);
    const configFile = path.join(dir, TOKENIZER_CONFIG_FILE);
    const weightsFile = path.join(dir, TOKENIZER_WEIGHTS_FILE);
    const configText = readFileOrThrow(configFile, 'tokenizer config').toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(configText);
    } catch (err) {
      throw new FileFormatError(`not valid JSON (${err instanceof Error ? err.message : String(err)})`, configFile, { cause: err });
    }
    let config: ImageTokenizerConfig;
    try {
      config = validateImageTokenizerConfig(parsed, 'config');
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw new FileFormatError(err.message, configFile, { cause: err });
      throw err;
    }
    const weights = readFileOrThrow(weightsFile, 'tokenizer weights');
    const model = new ImageVQVAE(config);
    try {
      loadModuleFromBytes(model, weights, weightsFile);
    } catch (err) {
      model.dispose();
      throw err;
    }
    const tokenizer = new ImageTokenizer(model);
    const choice = await openImageOnnxRuntime(dir, () => tokenizer.id, options.runtime ?? 'auto', { onnxDir: options.onnxDir, threads: options.onnxThreads, spinning: options.onnxSpinning });
    tokenizer.onnx = choice.runtime;
    tokenizer.runtimeReason = choice.reason ?? '';
    return tokenizer;
  }

  /** The inference engine in use: `'onnx'` (ONNX Runtime) or `'tfjs'`. */
  get runtime(): 'onnx' | 'tfjs' {
    return this.onnx ? 'onnx' : 'tfjs';
  }

  /** One line for logs, e.g. `onnx (…/onnx, opset 17)` or `tfjs (no ONNX export …)`. */
  get runtimeDescription(): string {
    return this.onnx ? `onnx (ONNX Runtime, ${this.onnx.dir}, opset ${this.onnx.manifest.opset})` : `tfjs (${this.runtimeReason})`;
  }

  /** Writes the tokenizer to `dir` (created if needed); each file is replaced atomically. */
  async save(dir: string): Promise<void> {
    writeTokenizerFiles(dir, this.config, this.model);
  }

  /**
   * Identity of the tokenizer: the first 16 hex digits of SHA-256 over the
   * canonical `config.json` text followed by the `model.safetensors` bytes —
   * what a saved tokenizer directory holds, so `sha256sum` of the two files
   * concatenated reproduces it. Computed from the current weights on each call.
   */
  get id(): string {
    return tokenizerId(serializeImageTokenizerConfig(this.config), moduleToSafetensors(this.model));
  }

  /** Downsampling factor f. */
  get downsampling(): number {
    return this.model.factor;
  }

  /** Codebook size per level (one entry unless the quantizer is residual). */
  get codebookSizes(): readonly number[] {
    return this.model.quantizer.codebookSizes;
  }

  /** Code grid shape for an image of height×width: [ceil(H/f), ceil(W/f)] (+ [levels] for multi-level quantizers). */
  codeShape(height: number, width: number): number[] {
    const grid = this.model.latentSize(height, width);
    const levels = this.codebookSizes.length;
    return levels > 1 ? [...grid, levels] : grid;
  }

  private async loadInput(input: ImageInput): Promise<ImageF32> {
    const { channels, resize, height, width } = this.config.preprocessing;
    if (resize === 'none') return loadImage(input, { channels });
    return loadImage(input, { channels, size: { width, height }, resize });
  }

  /** Encodes one image (path, encoded bytes, sharp pipeline or raw pixels). */
  encode(input: ImageInput): Promise<EncodedImage>;
  /** Encodes several images; same-size images share forward passes. */
  encode(inputs: ImageInput[]): Promise<EncodedImage[]>;
  async encode(input: ImageInput | ImageInput[]): Promise<EncodedImage | EncodedImage[]> {
    if (!Array.isArray(input)) return (await this.encodeBatch([await this.loadInput(input)]))[0]!;
    const images: ImageF32[] = [];
    for (const item of input) images.push(await this.loadInput(item));
    return this.encodeBatch(images);
  }

  /** Like {@link encodeImages}, on ONNX Runtime when it is in use (see `runtime`). */
  async encodeBatch(images: readonly ImageF32[]): Promise<EncodedImage[]> {
    if (!this.onnx) return this.encodeImages(images);
    images.forEach((img, i) => {
      if (img.channels !== this.model.channels) throw new InvalidArgumentError(`image ${i} has ${img.channels} channel(s) but the tokenizer expects ${this.model.channels}`);
    });
    return encodeImagesOnnx(this.onnx, images, (pixels, shape) => {
      const padded = tf.tidy(() => this.model.padToMultiple(tf.tensor4d(pixels, shape)));
      const out = { pixels: padded.dataSync() as Float32Array, shape: padded.shape as [number, number, number, number] };
      padded.dispose();
      return out;
    });
  }

  /** Decodes many code grids (batched per grid shape), on ONNX Runtime when it is in use. */
  async decodeBatch(inputs: readonly CodesInput[]): Promise<ImageF32[]> {
    const checked = inputs.map((c) => this.checkCodes(c));
    const levels = this.onnx?.manifest.levels ?? 0;
    // The exported decoder takes every RVQ level; grids with fewer levels decode on TF.js.
    const fits = (c: { shape: number[] }): boolean => (levels > 1 ? c.shape[2] === levels : c.shape.length === 2);
    if (!this.onnx || !checked.every(fits)) return checked.map((c) => this.decode(c));
    return decodeCodesOnnx(this.onnx, checked);
  }

  /** Encodes already decoded float images (HWC in [0, 1], the tokenizer's channel count). */
  encodeImages(images: readonly ImageF32[]): EncodedImage[] {
    const out: EncodedImage[] = new Array(images.length);
    const groups = new Map<string, number[]>();
    images.forEach((img, i) => {
      if (img.channels !== this.model.channels) {
        throw new InvalidArgumentError(`image ${i} has ${img.channels} channel(s) but the tokenizer expects ${this.model.channels}`);
      }
      const key = `${img.height}x${img.width}`;
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    for (const indices of groups.values()) {
      for (let start = 0; start < indices.length; start += ENCODE_CHUNK) {
        const chunk = indices.slice(start, start + ENCODE_CHUNK);
        const { height, width, channels } = images[chunk[0]!]!;
        const pixels = new Float32Array(chunk.length * height * width * channels);
        chunk.forEach((idx, j) => pixels.set(images[idx]!.data, j * height * width * channels));
        const codes = tf.tidy(() => this.model.encode(tf.tensor4d(pixels, [chunk.length, height, width, channels])));
        const data = codes.dataSync() as Int32Array;
        const shape = codes.shape.slice(1);
        codes.dispose();
        const per = shape.reduce((a, b) => a * b, 1);
        chunk.forEach((idx, j) => {
          out[idx] = { codes: data.slice(j * per, (j + 1) * per), shape: [...shape], height, width };
        });
      }
    }
    return out;
  }

  private checkCodes(encoded: CodesInput): { codes: Int32Array; shape: number[]; height: number; width: number } {
    const levels = this.model.quantizer.codebookSizes;
    const multi = levels.length > 1;
    const { shape } = encoded;
    const rankOk = shape.length === (multi ? 3 : 2) && shape.every((d) => Number.isInteger(d) && d > 0);
    if (!rankOk || (multi && shape[2]! > levels.length)) {
      throw new InvalidArgumentError(`code grid shape [${shape}] does not fit this tokenizer (expected [h, w${multi ? `, ≤${levels.length} levels` : ''}])`);
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if (encoded.codes.length !== count) throw new InvalidArgumentError(`${encoded.codes.length} codes do not fill a [${shape}] grid`);
    const codes = encoded.codes instanceof Int32Array ? encoded.codes : Int32Array.from(encoded.codes);
    const depth = multi ? shape[2]! : 1;
    for (let i = 0; i < codes.length; i++) {
      const size = levels[i % depth]!;
      if (!(codes[i]! >= 0 && codes[i]! < size)) throw new InvalidArgumentError(`code ${codes[i]} at position ${i} is outside the codebook (0..${size - 1})`);
    }
    const f = this.model.factor;
    const height = encoded.height ?? shape[0]! * f;
    const width = encoded.width ?? shape[1]! * f;
    if (Math.ceil(height / f) !== shape[0] || Math.ceil(width / f) !== shape[1]) {
      throw new InvalidArgumentError(`image size ${height}x${width} does not match the code grid [${shape}] at f=${f}`);
    }
    return { codes, shape, height, width };
  }

  /** Codes → image (HWC float pixels in [0, 1]). */
  decode(encoded: CodesInput): ImageF32 {
    const { codes, shape, height, width } = this.checkCodes(encoded);
    const pixels = tf.tidy(() => {
      const full = this.model.decode(tf.tensor(codes, [1, ...shape], 'int32'));
      return tf.slice(full, [0, 0, 0, 0], [1, height, width, this.model.channels]);
    });
    const data = pixels.dataSync() as Float32Array;
    pixels.dispose();
    return { data, height, width, channels: this.model.channels as 1 | 3 };
  }

  /** Codes → PNG bytes. */
  async decodeToPng(encoded: CodesInput): Promise<Buffer> {
    return encodeImage((await this.decodeBatch([encoded]))[0]!, 'png');
  }

  /** encode → decode. */
  async reconstruct(input: ImageInput): Promise<ImageF32> {
    return (await this.decodeBatch([await this.encode(input)]))[0]!;
  }

  /** Frees the model's tensors. */
  dispose(): void {
    void this.onnx?.release();
    this.onnx = undefined;
    this.model.dispose();
  }
}
