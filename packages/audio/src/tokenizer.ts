/**
 * AudioTokenizer: a trained audio codec on disk (a directory with
 * `config.json` + `model.safetensors`) and the API to turn sound into
 * multi-level residual codes and back.
 *
 * Input: any WAV the reader accepts (8–48 kHz, 16/24-bit PCM or float,
 * mono or multichannel → downmixed), or samples in memory, resampled to the
 * model's rate. Output audio is at the model's rate.
 *
 * Long signals are processed in overlapping chunks (see chunking.ts): chunk
 * cores are whole code frames and each chunk sees `context` extra samples on
 * both sides, more than the codec's receptive field, so chunked encoding
 * yields the unchunked codes and chunked decoding has no seams. The signal
 * is zero-padded at the end to a whole number of frames first, so both paths
 * see exactly the same input.
 *
 * Inference runtime: a tokenizer loaded from a directory that holds a current
 * ONNX export (`vqkit export onnx`, see onnx/export.ts) runs the asynchronous
 * `encode` / `decodeAsync` / `reconstruct` on ONNX Runtime, through the same
 * chunking; the synchronous `encodeSamples` / `decode` always use TF.js.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { computeTokenizerId, FileFormatError, InvalidArgumentError, loadModuleFromBytes, moduleToSafetensors, writeFileAtomic } from '@vqkit/core';
import type { InferenceRuntime } from '@vqkit/image';
import { planChunks, processChunked, type Chunk, type ChunkingOptions } from './chunking.js';
import { AudioCodec, receptiveField } from './model/codec.js';
import {
  availableBitrates,
  bitrate,
  frameRate,
  hopLength,
  levelsForBitrate,
  serializeAudioTokenizerConfig,
  validateAudioTokenizerConfig,
  type AudioTokenizerConfig,
} from './model/config.js';
import { openAudioOnnxRuntime, type AudioOnnxRuntime } from './onnx/runtime.js';
import { resample } from './resample.js';
import { readWavMono } from './wav.js';

export const AUDIO_TOKENIZER_CONFIG_FILE = 'config.json';
export const AUDIO_TOKENIZER_WEIGHTS_FILE = 'model.safetensors';

/** The codes of one signal. */
export interface EncodedAudio {
  /** Code indices, row-major [frames, levels]. */
  codes: Int32Array;
  /** Code frames. */
  frames: number;
  /** Levels used (≤ the model's; fewer = lower bitrate). */
  levels: number;
  /** Samples of the encoded signal at the model rate; decode trims to it. */
  length: number;
  /** The model's sample rate. */
  sampleRate: number;
}

/** Options of encode/decode over long signals. */
export interface AudioChunkOptions {
  /**
   * Seconds of audio per chunk core; signals up to this long take one pass.
   * Default 10. Memory grows linearly with it.
   */
  chunkSeconds?: number;
}

/** Options of {@link AudioTokenizer.encode}. */
export interface AudioEncodeOptions extends AudioChunkOptions {
  /** Quantizer levels to keep. Default: from `bitrate`, else all. */
  levels?: number;
  /** Target bitrate in bit/s: the most levels whose bitrate does not exceed it. */
  bitrate?: number;
}

/** Options of {@link AudioTokenizer.load}. */
export interface AudioTokenizerLoadOptions {
  /**
   * Inference engine of `encode` / `decodeAsync` / `reconstruct`: `'auto'`
   * (default) uses ONNX Runtime when the directory holds an ONNX export of
   * these weights (`vqkit export onnx`) and onnxruntime-node loads, else
   * TF.js; `'onnx'` requires it; `'tfjs'` never uses it.
   */
  runtime?: InferenceRuntime;
  /** Where the ONNX export is. Default `<dir>/onnx`. */
  onnxDir?: string;
  /** ONNX Runtime intra-op threads. Default: ORT's choice (one per core). */
  onnxThreads?: number;
  /** Let ONNX Runtime's idle threads spin (for processes that only run ONNX inference). Default false. */
  onnxSpinning?: boolean;
}

/** One chunk of an encode: the samples the encoder sees and where its core frames go. */
interface EncodeChunk {
  piece: Float32Array;
  /** Copies the core frames out of the chunk's codes [chunk frames, levels] (at least `levels` wide rows). */
  store(codes: Int32Array, rowWidth: number): void;
}

/** Audio to encode: a WAV path or bytes, or mono samples with their rate. */
export type AudioInput = string | Uint8Array | { samples: Float32Array; sampleRate: number };

function readFileOrThrow(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint =
      code === 'ENOENT'
        ? `missing ${what}; an audio tokenizer directory holds ${AUDIO_TOKENIZER_CONFIG_FILE} and ${AUDIO_TOKENIZER_WEIGHTS_FILE}`
        : `cannot read ${what} (${code ?? String(err)})`;
    throw new FileFormatError(hint, file, { cause: err });
  }
}

/** The id stored in containers: computeTokenizerId over the canonical config text and the weights file bytes. */
export function audioTokenizerId(configJson: string, weights: Uint8Array): string {
  return computeTokenizerId([configJson, weights]);
}

/** Writes `config.json` and `model.safetensors` atomically; returns the tokenizer id. */
export function writeAudioTokenizerFiles(dir: string, config: AudioTokenizerConfig, model: AudioCodec): string {
  fs.mkdirSync(dir, { recursive: true });
  const configJson = serializeAudioTokenizerConfig(config);
  const weights = moduleToSafetensors(model);
  writeFileAtomic(path.join(dir, AUDIO_TOKENIZER_WEIGHTS_FILE), weights);
  writeFileAtomic(path.join(dir, AUDIO_TOKENIZER_CONFIG_FILE), configJson);
  return audioTokenizerId(configJson, weights);
}

export class AudioTokenizer {
  readonly config: AudioTokenizerConfig;
  readonly model: AudioCodec;
  /** ONNX Runtime sessions when the ONNX path is in use. */
  private onnx: AudioOnnxRuntime | undefined;
  private runtimeReason = 'not loaded from a directory';

  constructor(model: AudioCodec) {
    this.model = model;
    this.config = model.config;
  }

  /** A tokenizer with freshly initialised (untrained) weights. */
  static create(config: AudioTokenizerConfig, options: { seed?: number } = {}): AudioTokenizer {
    return new AudioTokenizer(new AudioCodec(config, { seed: options.seed ?? 0 }));
  }

  /** Loads `config.json` + `model.safetensors`; FileFormatError names the bad file. */
  static async load(dir: string, options: AudioTokenizerLoadOptions = {}): Promise<AudioTokenizer> {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new FileFormatError('tokenizer directory does not exist', dir);
    const configFile = path.join(dir, AUDIO_TOKENIZER_CONFIG_FILE);
    const configText = readFileOrThrow(configFile, 'tokenizer config').toString('utf8');
    let config: AudioTokenizerConfig;
    try {
      config = validateAudioTokenizerConfig(JSON.parse(configText), 'config');
    } catch (err) {
      if (err instanceof SyntaxError || err instanceof InvalidArgumentError) throw new FileFormatError(err.message, configFile, { cause: err });
      throw err;
    }
    const weightsFile = path.join(dir, AUDIO_TOKENIZER_WEIGHTS_FILE);
    const weights = readFileOrThrow(weightsFile, 'tokenizer weights');
    const model = new AudioCodec(config);
    try {
      loadModuleFromBytes(model, weights, weightsFile);
    } catch (err) {
      model.dispose();
      throw err;
    }
    const tokenizer = new AudioTokenizer(model);
    try {
      const choice = await openAudioOnnxRuntime(dir, () => tokenizer.id, options.runtime ?? 'auto', {
        onnxDir: options.onnxDir,
        threads: options.onnxThreads,
        spinning: options.onnxSpinning,
      });
      tokenizer.onnx = choice.runtime;
      tokenizer.runtimeReason = choice.reason ?? '';
    } catch (err) {
      model.dispose();
      throw err;
    }
    return tokenizer;
  }

  /** The inference engine of the asynchronous API: `'onnx'` (ONNX Runtime) or `'tfjs'`. */
  get runtime(): 'onnx' | 'tfjs' {
    return this.onnx ? 'onnx' : 'tfjs';
  }

  /** One line for logs, e.g. `onnx (ONNX Runtime, …/onnx, opset 17)` or `tfjs (no ONNX export …)`. */
  get runtimeDescription(): string {
    return this.onnx ? `onnx (ONNX Runtime, ${this.onnx.dir}, opset ${this.onnx.manifest.opset})` : `tfjs (${this.runtimeReason})`;
  }

  /** Writes the tokenizer to `dir`; returns its id. */
  save(dir: string): string {
    return writeAudioTokenizerFiles(dir, this.config, this.model);
  }

  /** See {@link audioTokenizerId}; computed from the current weights. */
  get id(): string {
    return audioTokenizerId(serializeAudioTokenizerConfig(this.config), moduleToSafetensors(this.model));
  }

  get sampleRate(): number {
    return this.config.sampleRate;
  }

  /** Samples per code frame. */
  get hopLength(): number {
    return hopLength(this.config);
  }

  /** Code frames per second. */
  get frameRate(): number {
    return frameRate(this.config);
  }

  /** Codebook size of every level. */
  get codebookSizes(): readonly number[] {
    return this.model.quantizer.codebookSizes;
  }

  /** Bitrate (bit/s) of each level count 1..N. */
  get bitrates(): number[] {
    return availableBitrates(this.config);
  }

  /** Bitrate (bit/s) with `levels` levels. */
  bitrate(levels = this.config.quantizer.levels): number {
    return bitrate(this.config, levels);
  }

  /**
   * Reads (WAV), downmixes and resamples an input to the model's rate, and
   * clamps it to [-1, 1] as in training (float WAVs may exceed full scale).
   */
  async loadAudio(input: AudioInput): Promise<Float32Array> {
    let samples: Float32Array;
    if (typeof input === 'string' || input instanceof Uint8Array) samples = (await readWavMono(input, this.sampleRate)).samples;
    else samples = input.sampleRate === this.sampleRate ? input.samples.slice() : resample(input.samples, input.sampleRate, this.sampleRate);
    for (let i = 0; i < samples.length; i++) samples[i] = Math.max(-1, Math.min(1, samples[i]!));
    return samples;
  }

  private resolveLevels(options: AudioEncodeOptions): number {
    const max = this.config.quantizer.levels;
    if (options.levels !== undefined) {
      if (!Number.isInteger(options.levels) || options.levels < 1 || options.levels > max) {
        throw new InvalidArgumentError(`levels must be an integer in [1, ${max}], got ${options.levels}`);
      }
      return options.levels;
    }
    return options.bitrate === undefined ? max : levelsForBitrate(this.config, options.bitrate);
  }

  /** Chunk geometry in samples: core and context, both whole frames. */
  private chunkGeometry(options: AudioChunkOptions, reach: number): { chunkLength: number; context: number } {
    const hop = this.hopLength;
    const seconds = options.chunkSeconds ?? 10;
    if (!(seconds > 0)) throw new InvalidArgumentError(`chunkSeconds must be positive, got ${seconds}`);
    const chunkLength = Math.max(1, Math.round((seconds * this.sampleRate) / hop)) * hop;
    const context = Math.ceil(reach / hop) * hop;
    return { chunkLength, context };
  }

  /** Encodes one input (WAV path/bytes or samples), on ONNX Runtime when it is in use (see `runtime`). */
  async encode(input: AudioInput, options: AudioEncodeOptions = {}): Promise<EncodedAudio> {
    return this.encodeSamplesAsync(await this.loadAudio(input), options);
  }

  /**
   * The chunks of an encode and the result they fill: the signal is padded
   * to whole frames, and each chunk (core + context, whole frames) is encoded
   * on its own; only its core frames are kept.
   */
  private planEncode(samples: Float32Array, options: AudioEncodeOptions): { result: EncodedAudio; chunks: EncodeChunk[] } {
    const levels = this.resolveLevels(options);
    const hop = this.hopLength;
    const length = samples.length;
    const frames = Math.ceil(length / hop);
    const codes = new Int32Array(frames * levels);
    const result: EncodedAudio = { codes, frames, levels, length, sampleRate: this.sampleRate };
    if (frames === 0) return { result, chunks: [] };
    const padded = new Float32Array(frames * hop);
    padded.set(samples);
    const { chunkLength, context } = this.chunkGeometry(options, receptiveField(this.config).encoder);
    const chunks = planChunks(padded.length, { chunkLength, context, hop }).map((chunk: Chunk): EncodeChunk => ({
      piece: padded.subarray(chunk.inputStart, chunk.inputEnd),
      store: (data, rowWidth) => {
        // Keep the frames of the core: frame j of the chunk starts at inputStart + j·hop.
        const first = (chunk.coreStart - chunk.inputStart) / hop;
        const count = (chunk.coreEnd - chunk.coreStart) / hop;
        const at = chunk.coreStart / hop;
        if (rowWidth === levels) codes.set(data.subarray(first * levels, (first + count) * levels), at * levels);
        else for (let f = 0; f < count; f++) codes.set(data.subarray((first + f) * rowWidth, (first + f) * rowWidth + levels), (at + f) * levels);
      },
    }));
    return { result, chunks };
  }

  /** Encodes mono samples at the model rate, on TF.js. */
  encodeSamples(samples: Float32Array, options: AudioEncodeOptions = {}): EncodedAudio {
    const { result, chunks } = this.planEncode(samples, options);
    for (const { piece, store } of chunks) {
      const out = tf.tidy(() => this.model.encode(tf.tensor2d(piece, [1, piece.length]), result.levels));
      store(out.dataSync() as Int32Array, result.levels);
      out.dispose();
    }
    return result;
  }

  /**
   * Encodes mono samples at the model rate, on ONNX Runtime when it is in use
   * (same chunks as {@link encodeSamples}; the exported encoder emits every
   * level and the first `levels` are kept, which are the codes of a
   * `levels`-level encode).
   */
  async encodeSamplesAsync(samples: Float32Array, options: AudioEncodeOptions = {}): Promise<EncodedAudio> {
    const onnx = this.onnx;
    if (!onnx) return this.encodeSamples(samples, options);
    const { result, chunks } = this.planEncode(samples, options);
    for (const { piece, store } of chunks) {
      const out = await onnx.encode(piece, [1, piece.length]);
      store(out.codes, out.shape[2]);
    }
    return result;
  }

  private checkCodes(encoded: Pick<EncodedAudio, 'codes' | 'frames' | 'levels'> & { length?: number }): number {
    const { codes, frames, levels } = encoded;
    const sizes = this.codebookSizes;
    if (!Number.isInteger(levels) || levels < 1 || levels > sizes.length) {
      throw new InvalidArgumentError(`codes have ${levels} levels but this tokenizer has 1..${sizes.length}`);
    }
    if (!Number.isInteger(frames) || frames < 0 || codes.length !== frames * levels) {
      throw new InvalidArgumentError(`${codes.length} codes do not fill [${frames} frames, ${levels} levels]`);
    }
    for (let i = 0; i < codes.length; i++) {
      const k = sizes[i % levels]!;
      if (!(codes[i]! >= 0 && codes[i]! < k)) throw new InvalidArgumentError(`code ${codes[i]} at position ${i} is outside the codebook (0..${k - 1})`);
    }
    const full = frames * this.hopLength;
    const length = encoded.length ?? full;
    if (!Number.isInteger(length) || length < 0 || length > full || Math.ceil(length / this.hopLength) !== frames) {
      throw new InvalidArgumentError(`a length of ${length} samples does not match ${frames} frames of ${this.hopLength} samples`);
    }
    return length;
  }

  /**
   * Codes → mono samples at the model rate (trimmed to the encoded length).
   * Long code sequences are decoded in overlapping chunks, cross-faded.
   */
  decode(encoded: Pick<EncodedAudio, 'codes' | 'frames' | 'levels'> & { length?: number }, options: AudioChunkOptions = {}): Float32Array {
    const { length, total, chunking } = this.planDecode(encoded, options);
    const { codes, levels } = encoded;
    const hop = this.hopLength;
    if (total === 0) return new Float32Array(0);
    // processChunked only needs the signal's length here: each chunk decodes its own frame range.
    const output = processChunked(
      new Float32Array(total),
      (_input, chunk) => {
        const f0 = chunk.inputStart / hop;
        const f1 = chunk.inputEnd / hop;
        const piece = codes.subarray(f0 * levels, f1 * levels);
        const audio = tf.tidy(() => this.model.decode(tf.tensor3d(piece, [1, f1 - f0, levels], 'int32')));
        const result = audio.dataSync() as Float32Array;
        audio.dispose();
        return result;
      },
      chunking,
    );
    return output.subarray(0, length).slice();
  }

  /** Chunk plan of a decode (codes checked first). */
  private planDecode(
    encoded: Pick<EncodedAudio, 'codes' | 'frames' | 'levels'> & { length?: number },
    options: AudioChunkOptions,
  ): { length: number; total: number; plan: Chunk[]; chunking: ChunkingOptions } {
    const length = this.checkCodes(encoded);
    const hop = this.hopLength;
    const total = encoded.frames * hop;
    if (total === 0) return { length, total, plan: [], chunking: { chunkLength: hop } };
    const { chunkLength, context } = this.chunkGeometry(options, receptiveField(this.config).decoder);
    // Seams are cross-faded over one frame (beyond the receptive-field margin, the two sides agree anyway).
    const crossfade = Math.min(hop, chunkLength, 2 * context);
    const chunking = { chunkLength, context, crossfade, hop };
    return { length, total, plan: planChunks(total, chunking), chunking };
  }

  /**
   * Like {@link decode}, on ONNX Runtime when it is in use: the same chunks,
   * each decoded by the exported decoder (which takes any number of leading
   * levels), stitched with the same cross-fades.
   */
  async decodeAsync(encoded: Pick<EncodedAudio, 'codes' | 'frames' | 'levels'> & { length?: number }, options: AudioChunkOptions = {}): Promise<Float32Array> {
    const onnx = this.onnx;
    if (!onnx) return this.decode(encoded, options);
    const { length, total, plan, chunking } = this.planDecode(encoded, options);
    const { codes, levels } = encoded;
    const hop = this.hopLength;
    if (total === 0) return new Float32Array(0);
    // Decode every chunk first (ONNX Runtime is asynchronous), then stitch them as decode does.
    const pieces: Float32Array[] = [];
    for (const chunk of plan) {
      const f0 = chunk.inputStart / hop;
      const f1 = chunk.inputEnd / hop;
      pieces.push((await onnx.decode(codes.subarray(f0 * levels, f1 * levels), [1, f1 - f0, levels])).samples);
    }
    const output = processChunked(new Float32Array(total), (_input, chunk) => pieces[chunk.index]!, chunking);
    return output.subarray(0, length).slice();
  }

  /** encode → decode at the model rate (on the runtime in use); returns the input (resampled) and its reconstruction. */
  async reconstruct(input: AudioInput, options: AudioEncodeOptions = {}): Promise<{ input: Float32Array; output: Float32Array; encoded: EncodedAudio }> {
    const samples = await this.loadAudio(input);
    const encoded = await this.encodeSamplesAsync(samples, options);
    return { input: samples, output: await this.decodeAsync(encoded, options), encoded };
  }

  dispose(): void {
    void this.onnx?.release();
    this.onnx = undefined;
    this.model.dispose();
  }
}
