/**
 * The audio tokenizer's configuration: a typed, versioned JSON document saved
 * as `config.json` next to the weights. It fixes the model rate, the
 * SEANet-style encoder/decoder (SoundStream / EnCodec family) and the
 * residual vector quantizer, and so also every bitrate the model serves:
 *
 *   frame rate = sampleRate / Π strides,  bitrate(levels) = frame rate × levels × log2 K.
 */
import { InvalidArgumentError } from '@vqkit/core';

export const AUDIO_TOKENIZER_FORMAT = 'vqkit.audio-tokenizer';
export const AUDIO_TOKENIZER_CONFIG_VERSION = 1;

export interface AudioArchitectureConfig {
  /** Channels after the input convolution; every downsampling stage doubles them (the decoder mirrors). */
  channels: number;
  /** Downsampling factor of each encoder stage, first (highest rate) first; the decoder upsamples in reverse. */
  strides: number[];
  /** Residual units per stage (each: ELU → conv k → ELU → conv 1, plus the skip). */
  residualUnits: number;
  /** Kernel size of the input/output and residual convolutions (odd). */
  kernelSize: number;
  /** Dimension D of the latent frames that get quantized. */
  latentDim: number;
  /** Channel cap: stages never exceed this many channels. */
  maxChannels: number;
  /**
   * The decoder's output stage. 'waveform' (SEANet): transposed convolutions up to the sample rate.
   * 'istft' (Vocos-style): the decoder runs at frame rates only and predicts, every `istftHop`
   * samples, a log-magnitude and a phase spectrum of `istftNfft` points that an inverse STFT
   * (Hann windows, overlap-add) turns into the waveform. Default 'waveform' (configs written before it existed).
   */
  decoder?: AudioDecoderKind;
  /** iSTFT frame length (even). Default 4 × istftHop. */
  istftNfft?: number;
  /** iSTFT hop in samples; must divide the total stride. Default total stride / 4. */
  istftHop?: number;
  /**
   * The encoder's input stage. 'waveform' (SEANet): strided convolutions from the sample rate.
   * 'stft': the log power spectrum of `stftNfft`-point Hann frames every `stftHop` samples, then
   * convolutions at frame rates only (several times cheaper per second of audio). Default 'waveform'.
   */
  encoder?: AudioEncoderKind;
  /** STFT frame length of the 'stft' encoder (even). Default 4 × stftHop. */
  stftNfft?: number;
  /** STFT hop of the 'stft' encoder; must divide the total stride. Default total stride / 4. */
  stftHop?: number;
}

export type AudioDecoderKind = 'waveform' | 'istft';
export type AudioEncoderKind = 'waveform' | 'stft';

export interface AudioQuantizerConfig {
  /** Residual levels N (the highest bitrate uses all of them). */
  levels: number;
  /** Codes per level K. */
  codebookSize: number;
  /** Dimension the levels quantize in (learned projections when < latentDim). Default latentDim. */
  codebookDim?: number;
  /** β of the commitment loss. Default 0.25 (the quantizer's). */
  commitmentWeight?: number;
  /** EMA decay of the codebooks. Default 0.99. */
  decay?: number;
  /** k-means initialisation of each level from the first training batches. Default true. */
  kmeansInit?: boolean;
  /** Dead-code restart threshold (EMA hits per batch); 0 disables. Default 1 (the quantizer's). */
  restartThreshold?: number;
}

export interface AudioTokenizerConfig {
  format: typeof AUDIO_TOKENIZER_FORMAT;
  version: typeof AUDIO_TOKENIZER_CONFIG_VERSION;
  /** The model's sample rate (Hz); inputs are resampled to it and outputs come out at it. */
  sampleRate: number;
  architecture: AudioArchitectureConfig;
  quantizer: AudioQuantizerConfig;
}

/** What `createAudioTokenizerConfig` accepts: any part may be left out. */
export interface AudioTokenizerConfigInput {
  sampleRate?: number;
  architecture?: Partial<AudioArchitectureConfig>;
  quantizer?: Partial<AudioQuantizerConfig>;
}

/**
 * The reference config for 8 kHz speech: total stride 160 (50 frames/s),
 * 6 levels of 256 codes (8 bits) → 400 … 2400 bit/s in steps of 400.
 * Channels 16 → 32 → 64 → 128 → 256 (capped at 128) keep a training step
 * affordable on a laptop CPU. The decoder is the iSTFT head (20 ms frames every
 * 5 ms): it learns the spectral envelope and the harmonics within a few
 * thousand CPU steps, where the transposed-convolution decoder still emits a
 * fixed buzz.
 */
export const DEFAULT_AUDIO_TOKENIZER_CONFIG: AudioTokenizerConfig = Object.freeze({
  format: AUDIO_TOKENIZER_FORMAT,
  version: AUDIO_TOKENIZER_CONFIG_VERSION,
  sampleRate: 8000,
  architecture: Object.freeze({
    channels: 16,
    strides: [2, 4, 4, 5],
    residualUnits: 1,
    kernelSize: 7,
    latentDim: 64,
    maxChannels: 128,
    decoder: 'istft',
    istftNfft: 160,
    istftHop: 40,
    encoder: 'stft',
    stftNfft: 256,
    stftHop: 40,
  }),
  quantizer: Object.freeze({ levels: 6, codebookSize: 256 }),
}) as AudioTokenizerConfig;

function fail(where: string, message: string): never {
  throw new InvalidArgumentError(`${where}: ${message}`);
}

function positiveInt(where: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) fail(where, `${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return value;
}

function optionalNumber(where: string, name: string, value: unknown, ok: (v: number) => boolean, rule: string): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !ok(value)) fail(where, `${name} must be ${rule}, got ${JSON.stringify(value)}`);
}

/** Checks a parsed config and returns it typed. Throws InvalidArgumentError naming the bad field. */
export function validateAudioTokenizerConfig(value: unknown, where = 'audio tokenizer config'): AudioTokenizerConfig {
  if (value === null || typeof value !== 'object') fail(where, 'must be a JSON object');
  const c = value as Partial<AudioTokenizerConfig>;
  if (c.format !== AUDIO_TOKENIZER_FORMAT) fail(where, `format must be '${AUDIO_TOKENIZER_FORMAT}', got ${JSON.stringify(c.format)} (not an audio tokenizer?)`);
  if (c.version !== AUDIO_TOKENIZER_CONFIG_VERSION) fail(where, `unsupported version ${JSON.stringify(c.version)}; this vqkit reads version ${AUDIO_TOKENIZER_CONFIG_VERSION}`);
  positiveInt(where, 'sampleRate', c.sampleRate);
  const a = c.architecture as Partial<AudioArchitectureConfig> | undefined;
  if (!a || typeof a !== 'object') fail(where, 'architecture is missing');
  positiveInt(where, 'architecture.channels', a.channels);
  positiveInt(where, 'architecture.latentDim', a.latentDim);
  positiveInt(where, 'architecture.maxChannels', a.maxChannels);
  if (!Number.isInteger(a.residualUnits) || (a.residualUnits as number) < 0) fail(where, `architecture.residualUnits must be a non-negative integer, got ${JSON.stringify(a.residualUnits)}`);
  const k = positiveInt(where, 'architecture.kernelSize', a.kernelSize);
  if (k % 2 !== 1) fail(where, `architecture.kernelSize must be odd (symmetric context), got ${k}`);
  if (!Array.isArray(a.strides) || a.strides.length === 0) fail(where, 'architecture.strides must be a non-empty array');
  a.strides.forEach((s, i) => positiveInt(where, `architecture.strides[${i}]`, s));
  const q = c.quantizer as Partial<AudioQuantizerConfig> | undefined;
  if (!q || typeof q !== 'object') fail(where, 'quantizer is missing');
  positiveInt(where, 'quantizer.levels', q.levels);
  const size = positiveInt(where, 'quantizer.codebookSize', q.codebookSize);
  if (size < 2) fail(where, 'quantizer.codebookSize must be at least 2');
  if (q.codebookDim !== undefined) positiveInt(where, 'quantizer.codebookDim', q.codebookDim);
  optionalNumber(where, 'quantizer.commitmentWeight', q.commitmentWeight, (v) => v >= 0, '≥ 0');
  optionalNumber(where, 'quantizer.decay', q.decay, (v) => v > 0 && v < 1, 'in (0, 1)');
  optionalNumber(where, 'quantizer.restartThreshold', q.restartThreshold, (v) => v >= 0, '≥ 0');
  if (q.kmeansInit !== undefined && typeof q.kmeansInit !== 'boolean') fail(where, 'quantizer.kmeansInit must be a boolean');
  if (a.decoder !== undefined && a.decoder !== 'waveform' && a.decoder !== 'istft') fail(where, `architecture.decoder must be 'waveform' or 'istft', got ${JSON.stringify(a.decoder)}`);
  if (a.decoder === 'istft') {
    const hop = a.strides.reduce((p, s) => p * s, 1);
    const ih = a.istftHop ?? hop / 4;
    if (!Number.isInteger(ih) || ih < 1 || hop % ih !== 0) fail(where, `architecture.istftHop must be a positive integer dividing the total stride ${hop}, got ${JSON.stringify(a.istftHop)}`);
    const n = a.istftNfft ?? 4 * ih;
    if (!Number.isInteger(n) || n % 2 !== 0 || n < ih) fail(where, `architecture.istftNfft must be an even integer ≥ istftHop, got ${JSON.stringify(a.istftNfft)}`);
  } else if (a.istftHop !== undefined || a.istftNfft !== undefined) {
    fail(where, "architecture.istftHop / istftNfft apply only to decoder 'istft'");
  }
  if (a.encoder !== undefined && a.encoder !== 'waveform' && a.encoder !== 'stft') fail(where, `architecture.encoder must be 'waveform' or 'stft', got ${JSON.stringify(a.encoder)}`);
  if (a.encoder === 'stft') {
    const hop = a.strides.reduce((p, s) => p * s, 1);
    const sh = a.stftHop ?? hop / 4;
    if (!Number.isInteger(sh) || sh < 1 || hop % sh !== 0) fail(where, `architecture.stftHop must be a positive integer dividing the total stride ${hop}, got ${JSON.stringify(a.stftHop)}`);
    const n = a.stftNfft ?? 4 * sh;
    if (!Number.isInteger(n) || n % 2 !== 0 || n < sh) fail(where, `architecture.stftNfft must be an even integer ≥ stftHop, got ${JSON.stringify(a.stftNfft)}`);
  } else if (a.stftHop !== undefined || a.stftNfft !== undefined) {
    fail(where, "architecture.stftHop / stftNfft apply only to encoder 'stft'");
  }
  return c as AudioTokenizerConfig;
}

/** The reference config with `input` overrides applied, validated. */
export function createAudioTokenizerConfig(input: AudioTokenizerConfigInput = {}): AudioTokenizerConfig {
  const d = DEFAULT_AUDIO_TOKENIZER_CONFIG;
  const architecture: Partial<AudioArchitectureConfig> = { ...d.architecture, strides: [...d.architecture.strides], ...input.architecture };
  // The iSTFT framing follows the decoder kind and the strides unless given: a waveform decoder has none,
  // and new strides get hop/4 (frames of hop samples) rather than the reference's 40 / 160.
  if (architecture.decoder !== 'istft') {
    delete architecture.istftNfft;
    delete architecture.istftHop;
  } else if (input.architecture?.strides !== undefined) {
    const hop = architecture.strides!.reduce((p, s) => p * s, 1);
    if (input.architecture.istftHop === undefined) architecture.istftHop = hop / 4;
    if (input.architecture.istftNfft === undefined) architecture.istftNfft = 4 * architecture.istftHop!;
  }
  if (architecture.encoder !== 'stft') {
    delete architecture.stftNfft;
    delete architecture.stftHop;
  } else if (input.architecture?.strides !== undefined) {
    const hop = architecture.strides!.reduce((p, s) => p * s, 1);
    if (input.architecture.stftHop === undefined) architecture.stftHop = hop / 4;
    if (input.architecture.stftNfft === undefined) architecture.stftNfft = 4 * architecture.stftHop!;
  }
  for (const [key, v] of Object.entries(architecture)) if (v === undefined) delete (architecture as Record<string, unknown>)[key];
  const config = {
    format: AUDIO_TOKENIZER_FORMAT,
    version: AUDIO_TOKENIZER_CONFIG_VERSION,
    sampleRate: input.sampleRate ?? d.sampleRate,
    architecture,
    quantizer: { ...d.quantizer, ...input.quantizer },
  };
  for (const [key, v] of Object.entries(config.quantizer)) if (v === undefined) delete (config.quantizer as Record<string, unknown>)[key];
  return validateAudioTokenizerConfig(config);
}

/** Canonical JSON text of a config (stable key order, as written to config.json). */
export function serializeAudioTokenizerConfig(config: AudioTokenizerConfig): string {
  const { architecture: a, quantizer: q } = config;
  const quantizer: AudioQuantizerConfig = { levels: q.levels, codebookSize: q.codebookSize };
  if (q.codebookDim !== undefined) quantizer.codebookDim = q.codebookDim;
  if (q.commitmentWeight !== undefined) quantizer.commitmentWeight = q.commitmentWeight;
  if (q.decay !== undefined) quantizer.decay = q.decay;
  if (q.kmeansInit !== undefined) quantizer.kmeansInit = q.kmeansInit;
  if (q.restartThreshold !== undefined) quantizer.restartThreshold = q.restartThreshold;
  const ordered: AudioTokenizerConfig = {
    format: config.format,
    version: config.version,
    sampleRate: config.sampleRate,
    architecture: {
      channels: a.channels,
      strides: [...a.strides],
      residualUnits: a.residualUnits,
      kernelSize: a.kernelSize,
      latentDim: a.latentDim,
      maxChannels: a.maxChannels,
      ...(a.decoder === undefined ? {} : { decoder: a.decoder }),
      ...(a.istftNfft === undefined ? {} : { istftNfft: a.istftNfft }),
      ...(a.istftHop === undefined ? {} : { istftHop: a.istftHop }),
      ...(a.encoder === undefined ? {} : { encoder: a.encoder }),
      ...(a.stftNfft === undefined ? {} : { stftNfft: a.stftNfft }),
      ...(a.stftHop === undefined ? {} : { stftHop: a.stftHop }),
    },
    quantizer,
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/** Samples per code frame (the encoder's total stride). */
export function hopLength(config: AudioTokenizerConfig): number {
  return config.architecture.strides.reduce((p, s) => p * s, 1);
}

/** Code frames per second. */
export function frameRate(config: AudioTokenizerConfig): number {
  return config.sampleRate / hopLength(config);
}

/** Bits per second with the first `levels` quantizer levels: frame rate × levels × log2 K. */
export function bitrate(config: AudioTokenizerConfig, levels = config.quantizer.levels): number {
  return frameRate(config) * levels * Math.log2(config.quantizer.codebookSize);
}

/** Every bitrate the model serves, one per level count 1..N (bit/s). */
export function availableBitrates(config: AudioTokenizerConfig): number[] {
  return Array.from({ length: config.quantizer.levels }, (_, i) => bitrate(config, i + 1));
}

/**
 * Level count for a requested bitrate: the most levels whose bitrate does not
 * exceed it. Throws when even one level is above the request.
 */
export function levelsForBitrate(config: AudioTokenizerConfig, bitsPerSecond: number): number {
  if (!(bitsPerSecond > 0)) throw new InvalidArgumentError(`bitrate must be positive, got ${bitsPerSecond}`);
  const rates = availableBitrates(config);
  let levels = 0;
  // Tolerate rounding in the request (e.g. '1.6k' for 1600 exactly).
  for (let i = 0; i < rates.length; i++) if (rates[i]! <= bitsPerSecond * (1 + 1e-9)) levels = i + 1;
  if (levels === 0) {
    throw new InvalidArgumentError(`bitrate ${formatBitrate(bitsPerSecond)} is below this model's lowest (${formatBitrate(rates[0]!)}); available: ${rates.map(formatBitrate).join(', ')}`);
  }
  return levels;
}

/** Parses '1.6k', '1600', '2.4kbps', '6 kbit/s' → bits per second. */
export function parseBitrate(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(k)?\s*(?:b(?:it)?(?:ps|\/s)?)?\s*$/i.exec(text);
  if (!m) throw new InvalidArgumentError(`cannot read bitrate ${JSON.stringify(text)}; write e.g. 1600, 1.6k or 1.6kbps`);
  return Number(m[1]) * (m[2] ? 1000 : 1);
}

/** 1600 → '1.6 kbit/s', 600 → '600 bit/s'. */
export function formatBitrate(bitsPerSecond: number): string {
  return bitsPerSecond >= 1000 ? `${Number((bitsPerSecond / 1000).toFixed(3))} kbit/s` : `${Number(bitsPerSecond.toFixed(1))} bit/s`;
}
