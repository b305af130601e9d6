/**
 * The neural audio codec: a SEANet-style convolutional encoder (SoundStream /
 * EnCodec) mapping a waveform to latent frames at sampleRate / Π strides, a
 * ResidualVectorQuantizer from @vqkit/core, and a mirrored decoder with
 * transposed convolutions. Tensors are channels-last: audio [B, T] or
 * [B, T, 1], latents [B, frames, latentDim], codes [B, frames, levels].
 *
 * Differences from the references, and why:
 * - no dilated convolutions: tfjs has no gradient for dilated conv2d (which
 *   conv1d lowers to), so residual units use plain kernels;
 * - no weight norm / LSTM, no discriminators: the model is trained with
 *   time-domain L1 + multi-resolution STFT + mel losses only, which is what
 *   fits a CPU budget; LSD/MCD respond to these losses directly.
 *
 * Every convolution is non-causal with 'same' padding, so the output at t
 * depends on a finite window around t ({@link receptiveField}); that is what
 * lets long files be processed in overlapping chunks with identical results.
 */
import * as tf from '@tensorflow/tfjs';
import { Conv1d, ConvTranspose1d, deriveSeed, InvalidArgumentError, Module, ResidualVectorQuantizer } from '@vqkit/core';
import { stftTf } from '../dsp-tf.js';
import { validateAudioTokenizerConfig, hopLength, type AudioTokenizerConfig } from './config.js';

/** x + conv1(elu(convK(elu(x)))) with a bottleneck of half the channels (SEANet). Children `conv1`, `conv2`. */
export class ResidualUnit1d extends Module {
  readonly conv1: Conv1d;
  readonly conv2: Conv1d;

  constructor(channels: number, kernelSize: number, seed: number) {
    super();
    const hidden = Math.max(1, Math.floor(channels / 2));
    this.conv1 = this.addModule('conv1', new Conv1d({ inChannels: channels, outChannels: hidden, kernelSize, seed: deriveSeed(seed, 'conv1') }));
    // Small last layer: each unit starts close to the identity, which keeps deep stacks trainable without normalisation.
    this.conv2 = this.addModule('conv2', new Conv1d({ inChannels: hidden, outChannels: channels, kernelSize: 1, init: 'glorot', seed: deriveSeed(seed, 'conv2') }));
  }

  forward(x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => tf.add(x, this.conv2.forward(tf.elu(this.conv1.forward(tf.elu(x))))) as tf.Tensor3D);
  }
}

/** One encoder stage: residual units at the stage's rate, then a strided conv. Children `res{j}`, `down`. */
class EncoderStage extends Module {
  readonly units: ResidualUnit1d[] = [];
  readonly down: Conv1d;

  constructor(inChannels: number, outChannels: number, stride: number, units: number, kernelSize: number, seed: number) {
    super();
    for (let j = 0; j < units; j++) this.units.push(this.addModule(`res${j}`, new ResidualUnit1d(inChannels, kernelSize, deriveSeed(seed, `res${j}`))));
    // Kernel 2·stride (SEANet): each input sample reaches two output frames, so the downsampling is smooth.
    this.down = this.addModule('down', new Conv1d({ inChannels, outChannels, kernelSize: 2 * stride, stride, seed: deriveSeed(seed, 'down') }));
  }

  forward(x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      let h = x;
      for (const unit of this.units) h = unit.forward(h);
      return this.down.forward(tf.elu(h));
    });
  }
}

/** One decoder stage: a transposed strided conv, then residual units. Children `up`, `res{j}`. */
class DecoderStage extends Module {
  readonly up: ConvTranspose1d;
  readonly units: ResidualUnit1d[] = [];

  constructor(inChannels: number, outChannels: number, stride: number, units: number, kernelSize: number, seed: number) {
    super();
    this.up = this.addModule('up', new ConvTranspose1d({ inChannels, outChannels, kernelSize: 2 * stride, stride, seed: deriveSeed(seed, 'up') }));
    for (let j = 0; j < units; j++) this.units.push(this.addModule(`res${j}`, new ResidualUnit1d(outChannels, kernelSize, deriveSeed(seed, `res${j}`))));
  }

  forward(x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      let h = this.up.forward(tf.elu(x));
      for (const unit of this.units) h = unit.forward(h);
      return h;
    });
  }
}

/** Channels of each stage boundary: [after input conv, after stage 1, …]. */
export function stageChannels(config: AudioTokenizerConfig): number[] {
  const { channels, strides, maxChannels } = config.architecture;
  const out = [Math.min(channels, maxChannels)];
  for (let i = 0; i < strides.length; i++) out.push(Math.min(channels * 2 ** (i + 1), maxChannels));
  return out;
}

/** Waveform [B, T, 1] → latents [B, ceil(T / hop), latentDim]. Children `input`, `stage{i}.res{j}`, `stage{i}.down`, `output`. */
export class AudioEncoder extends Module {
  private readonly input: Conv1d;
  private readonly stages: EncoderStage[] = [];
  private readonly output: Conv1d;

  constructor(config: AudioTokenizerConfig, seed: number) {
    super();
    const { strides, residualUnits, kernelSize, latentDim } = config.architecture;
    const ch = stageChannels(config);
    this.input = this.addModule('input', new Conv1d({ inChannels: 1, outChannels: ch[0]!, kernelSize, seed: deriveSeed(seed, 'input') }));
    strides.forEach((stride, i) => {
      this.stages.push(this.addModule(`stage${i}`, new EncoderStage(ch[i]!, ch[i + 1]!, stride, residualUnits, kernelSize, deriveSeed(seed, `stage${i}`))));
    });
    this.output = this.addModule('output', new Conv1d({ inChannels: ch.at(-1)!, outChannels: latentDim, kernelSize: 3, init: 'glorot', seed: deriveSeed(seed, 'output') }));
  }

  forward(x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      let h = this.input.forward(x);
      for (const stage of this.stages) h = stage.forward(h);
      return this.output.forward(tf.elu(h));
    });
  }
}

/**
 * Spectral encoder: waveform [B, T, 1] → latents [B, T / hop, latentDim] from
 * the log power spectrum (ln(|X|² + 1e-6) of Hann frames of `stftNfft` every
 * `stftHop` samples, frame f centred on sample f·stftHop) — no sample-rate
 * convolution. Input conv and residual units at the STFT frame rate, a
 * strided conv (kernel 2r) down to the code frame rate, residual units there
 * and the output conv. Children `input`, `high{j}`, `down`, `low{j}`, `output`.
 */
export class StftEncoder extends Module {
  private readonly input: Conv1d;
  private readonly high: ResidualUnit1d[] = [];
  private readonly down: Conv1d;
  private readonly low: ResidualUnit1d[] = [];
  private readonly output: Conv1d;
  readonly nFft: number;
  readonly stftHop: number;

  constructor(config: AudioTokenizerConfig, seed: number) {
    super();
    const { residualUnits, kernelSize, latentDim } = config.architecture;
    const hop = hopLength(config);
    this.stftHop = config.architecture.stftHop ?? hop / 4;
    this.nFft = config.architecture.stftNfft ?? 4 * this.stftHop;
    const ratio = hop / this.stftHop;
    const channels = stageChannels(config).at(-1)!;
    const bins = Math.floor(this.nFft / 2) + 1;
    this.input = this.addModule('input', new Conv1d({ inChannels: bins, outChannels: channels, kernelSize, seed: deriveSeed(seed, 'input') }));
    for (let j = 0; j < residualUnits; j++) this.high.push(this.addModule(`high${j}`, new ResidualUnit1d(channels, kernelSize, deriveSeed(seed, `high${j}`))));
    this.down = this.addModule('down', new Conv1d({ inChannels: channels, outChannels: channels, kernelSize: ratio === 1 ? 1 : 2 * ratio, stride: ratio, seed: deriveSeed(seed, 'down') }));
    for (let j = 0; j < residualUnits; j++) this.low.push(this.addModule(`low${j}`, new ResidualUnit1d(channels, kernelSize, deriveSeed(seed, `low${j}`))));
    this.output = this.addModule('output', new Conv1d({ inChannels: channels, outChannels: latentDim, kernelSize: 3, init: 'glorot', seed: deriveSeed(seed, 'output') }));
  }

  forward(x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const [batch, length] = x.shape;
      const frames = length / this.stftHop;
      // The centred STFT has 1 + T/hop frames; the last one (centred past the end) is dropped.
      const { real, imag } = stftTf(tf.reshape(x, [batch, length]), { nFft: this.nFft, hopLength: this.stftHop });
      const power = tf.add(tf.square(real), tf.square(imag));
      // ln(|X|² + 1e-6), scaled to roughly unit range for speech at ordinary levels.
      const features = tf.mul(tf.add(tf.log(tf.add(tf.slice(power, [0, 0, 0], [batch, frames, -1]), 1e-6)), 4), 0.25) as tf.Tensor3D;
      let h = this.input.forward(features);
      for (const unit of this.high) h = unit.forward(h);
      h = this.down.forward(tf.elu(h));
      for (const unit of this.low) h = unit.forward(h);
      return this.output.forward(tf.elu(h));
    });
  }
}

/** Latents [B, frames, latentDim] → waveform [B, frames · hop, 1]. Children mirror the encoder (`stage{i}.up`). */
export class AudioDecoder extends Module {
  private readonly input: Conv1d;
  private readonly stages: DecoderStage[] = [];
  private readonly output: Conv1d;

  constructor(config: AudioTokenizerConfig, seed: number) {
    super();
    const { strides, residualUnits, kernelSize, latentDim } = config.architecture;
    const ch = stageChannels(config);
    const n = strides.length;
    this.input = this.addModule('input', new Conv1d({ inChannels: latentDim, outChannels: ch[n]!, kernelSize, seed: deriveSeed(seed, 'input') }));
    for (let k = 0; k < n; k++) {
      const i = n - 1 - k; // mirror of encoder stage i
      this.stages.push(this.addModule(`stage${k}`, new DecoderStage(ch[i + 1]!, ch[i]!, strides[i]!, residualUnits, kernelSize, deriveSeed(seed, `stage${k}`))));
    }
    // Zero-initialised output: the untrained decoder starts silent instead of emitting full-scale noise that the
    // spectral-convergence loss would first have to shrink by orders of magnitude.
    this.output = this.addModule('output', new Conv1d({ inChannels: ch[0]!, outChannels: 1, kernelSize, init: 'zeros', seed: deriveSeed(seed, 'output') }));
  }

  forward(z: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      let h = this.input.forward(z);
      for (const stage of this.stages) h = stage.forward(h);
      return this.output.forward(tf.elu(h));
    });
  }
}

/** Hann-windowed inverse-DFT filters of the iSTFT, cached per frame length. */
const istftFilterCache = new Map<number, { cos: Float32Array; sin: Float32Array }>();

/**
 * Synthesis filters [1, nFft, 1, bins] of the inverse real DFT times a periodic Hann window:
 * x[n] = w[n]/N · Σ_k a_k (Re_k cos(2πkn/N) − Im_k sin(2πkn/N)), a_0 = a_{N/2} = 1, else 2.
 */
function istftFilters(nFft: number): { cos: Float32Array; sin: Float32Array } {
  let filters = istftFilterCache.get(nFft);
  if (filters === undefined) {
    const bins = nFft / 2 + 1;
    const cos = new Float32Array(nFft * bins);
    const sin = new Float32Array(nFft * bins);
    for (let n = 0; n < nFft; n++) {
      const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / nFft);
      for (let k = 0; k < bins; k++) {
        const a = k === 0 || k === bins - 1 ? 1 : 2;
        const angle = (2 * Math.PI * ((k * n) % nFft)) / nFft;
        cos[n * bins + k] = (w * a * Math.cos(angle)) / nFft;
        sin[n * bins + k] = (-w * a * Math.sin(angle)) / nFft;
      }
    }
    filters = { cos, sin };
    istftFilterCache.set(nFft, filters);
  }
  return filters;
}

/** 1 / Σ_f w²(t − f·hop + start) for the F·hop output samples (the overlap-add normalisation). */
function istftEnvelope(frames: number, nFft: number, hop: number): Float32Array {
  const start = (nFft - hop) >> 1; // 'same' padding of the transposed convolution
  const length = frames * hop;
  const envelope = new Float32Array(length);
  for (let f = 0; f < frames; f++) {
    for (let n = 0; n < nFft; n++) {
      const t = f * hop + n - start;
      if (t >= 0 && t < length) envelope[t] += (0.5 - 0.5 * Math.cos((2 * Math.PI * n) / nFft)) ** 2;
    }
  }
  for (let t = 0; t < length; t++) envelope[t] = 1 / Math.max(envelope[t]!, 1e-3);
  return envelope;
}

/**
 * Inverse STFT by overlap-add of Hann-windowed frames, normalised by the
 * summed squared window (the least-squares inverse of a Hann-windowed STFT,
 * as torch.istft). `real`/`imag` [B, F, nFft/2 + 1]; frame f starts at
 * sample f·hop − ⌊(nFft − hop)/2⌋ (centred on f·hop + hop/2 when hop is even),
 * so F frames give exactly F·hop samples [B, F·hop]. Differentiable: one
 * 'same' transposed convolution per part (no slicing or concatenation,
 * whose gradients are slow on the CPU backends).
 */
export function istft(real: tf.Tensor3D, imag: tf.Tensor3D, nFft: number, hop: number): tf.Tensor2D {
  const [batch, frames, bins] = real.shape;
  if (bins !== nFft / 2 + 1) throw new InvalidArgumentError(`istft: expected ${nFft / 2 + 1} bins for nFft ${nFft}, got ${bins}`);
  if (nFft < hop) throw new InvalidArgumentError(`istft: nFft ${nFft} must be at least the hop ${hop}`);
  return tf.tidy(() => {
    const { cos, sin } = istftFilters(nFft);
    const length = frames * hop;
    const part = (x: tf.Tensor3D, filter: Float32Array): tf.Tensor4D =>
      tf.conv2dTranspose(tf.expandDims(x, 1) as tf.Tensor4D, tf.tensor4d(filter, [1, nFft, 1, bins]), [batch, 1, length, 1], [1, hop], 'same');
    const y = tf.reshape(tf.add(part(real, cos), part(imag, sin)), [batch, length]);
    return tf.mul(y, tf.tensor1d(istftEnvelope(frames, nFft, hop))) as tf.Tensor2D;
  });
}

/**
 * Vocos-style decoder: latents [B, frames, D] → waveform [B, frames · hop, 1]
 * without any sample-rate convolution. Input conv and residual units at the
 * code frame rate, one transposed conv up to the iSTFT frame rate (hop /
 * istftHop), residual units there, then two 1×1 heads: ln|X| (capped at 5)
 * and the phase φ of each bin; the spectrum |X|·e^{iφ} goes through {@link istft}.
 * Children `input`, `low{j}`, `up`, `high{j}`, `magnitude`, `phase`.
 */
export class IstftDecoder extends Module {
  private readonly input: Conv1d;
  private readonly low: ResidualUnit1d[] = [];
  private readonly up: ConvTranspose1d;
  private readonly high: ResidualUnit1d[] = [];
  private readonly magnitude: Conv1d;
  private readonly phase: Conv1d;
  readonly nFft: number;
  readonly istftHop: number;

  constructor(config: AudioTokenizerConfig, seed: number) {
    super();
    const { residualUnits, kernelSize, latentDim } = config.architecture;
    const hop = hopLength(config);
    this.istftHop = config.architecture.istftHop ?? hop / 4;
    this.nFft = config.architecture.istftNfft ?? 4 * this.istftHop;
    const ratio = hop / this.istftHop;
    const channels = stageChannels(config).at(-1)!;
    const bins = this.nFft / 2 + 1;
    this.input = this.addModule('input', new Conv1d({ inChannels: latentDim, outChannels: channels, kernelSize, seed: deriveSeed(seed, 'input') }));
    for (let j = 0; j < residualUnits; j++) this.low.push(this.addModule(`low${j}`, new ResidualUnit1d(channels, kernelSize, deriveSeed(seed, `low${j}`))));
    this.up = this.addModule('up', new ConvTranspose1d({ inChannels: channels, outChannels: channels, kernelSize: ratio === 1 ? 1 : 2 * ratio, stride: ratio, seed: deriveSeed(seed, 'up') }));
    for (let j = 0; j < residualUnits; j++) this.high.push(this.addModule(`high${j}`, new ResidualUnit1d(channels, kernelSize, deriveSeed(seed, `high${j}`))));
    // Start quiet, |X| = e^−4 in every bin whatever the input (zero weights), rather than at up to e^5 per bin:
    // with random weights the first steps' outputs were hundreds of times louder than speech.
    this.magnitude = this.addModule('magnitude', new Conv1d({ inChannels: channels, outChannels: bins, kernelSize: 1, init: 'zeros', seed: deriveSeed(seed, 'magnitude') }));
    this.magnitude.bias!.assign(tf.fill([bins], -4));
    this.phase = this.addModule('phase', new Conv1d({ inChannels: channels, outChannels: bins, kernelSize: 1, init: 'glorot', seed: deriveSeed(seed, 'phase') }));
  }

  forward(z: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      let h = this.input.forward(z);
      for (const unit of this.low) h = unit.forward(h);
      h = this.up.forward(tf.elu(h));
      for (const unit of this.high) h = unit.forward(h);
      h = tf.elu(h);
      const magnitude = tf.exp(tf.minimum(this.magnitude.forward(h), 5));
      const phase = this.phase.forward(h);
      const real = tf.mul(magnitude, tf.cos(phase)) as tf.Tensor3D;
      const imag = tf.mul(magnitude, tf.sin(phase)) as tf.Tensor3D;
      return tf.expandDims(istft(real, imag, this.nFft, this.istftHop), 2) as tf.Tensor3D;
    });
  }
}

export interface AudioCodecOptions {
  /** Seed of every initialisation. Default 0. */
  seed?: number;
}

/** Result of {@link AudioCodec.forward} (tensors owned by the caller). */
export interface AudioCodecOutput {
  /** Reconstruction [B, T] (T = input length padded to a multiple of the hop). */
  reconstruction: tf.Tensor2D;
  /** int32 codes [B, frames, levelsUsed]. */
  codes: tf.Tensor3D;
  /** Commitment loss of the quantizer. */
  quantizerLoss: tf.Scalar;
  /** Perplexity of the first level's codes in this batch. */
  perplexity: tf.Scalar;
}

/**
 * Encoder → residual VQ → decoder. Variables: `encoder.*`, `quantizer.*`,
 * `decoder.*`. Inputs whose length is not a multiple of the hop are padded
 * with zeros at the end (callers crop the output).
 */
export class AudioCodec extends Module {
  readonly config: AudioTokenizerConfig;
  readonly encoder: AudioEncoder | StftEncoder;
  readonly quantizer: ResidualVectorQuantizer;
  readonly decoder: AudioDecoder | IstftDecoder;
  /** Samples per code frame. */
  readonly hop: number;

  constructor(config: AudioTokenizerConfig, options: AudioCodecOptions = {}) {
    super();
    this.config = validateAudioTokenizerConfig(config);
    const seed = options.seed ?? 0;
    const { latentDim } = config.architecture;
    const q = config.quantizer;
    this.hop = hopLength(config);
    const encoderSeed = deriveSeed(seed, 'encoder');
    this.encoder = this.addModule('encoder', config.architecture.encoder === 'stft' ? new StftEncoder(config, encoderSeed) : new AudioEncoder(config, encoderSeed));
    this.quantizer = this.addModule(
      'quantizer',
      new ResidualVectorQuantizer({
        dim: latentDim,
        levels: q.levels,
        codebookSize: q.codebookSize,
        codebookDim: q.codebookDim,
        commitmentWeight: q.commitmentWeight,
        decay: q.decay,
        kmeansInit: q.kmeansInit,
        restartThreshold: q.restartThreshold,
        // The trainer picks the level count per batch itself (seeded, checkpointed), see trainAudioTokenizer.
        quantizerDropout: false,
        seed: deriveSeed(seed, 'quantizer'),
      }),
    );
    const decoderSeed = deriveSeed(seed, 'decoder');
    this.decoder = this.addModule('decoder', config.architecture.decoder === 'istft' ? new IstftDecoder(config, decoderSeed) : new AudioDecoder(config, decoderSeed));
  }

  /** Quantizer levels N. */
  get levels(): number {
    return this.config.quantizer.levels;
  }

  /** Pads [B, T] at the end to a multiple of the hop and adds the channel axis. */
  private prepare(audio: tf.Tensor): tf.Tensor3D {
    if (audio.rank !== 2 && !(audio.rank === 3 && audio.shape[2] === 1)) {
      throw new InvalidArgumentError(`AudioCodec expects audio [batch, samples] or [batch, samples, 1], got [${audio.shape}]`);
    }
    const length = audio.shape[1]!;
    if (length < 1) throw new InvalidArgumentError('AudioCodec: empty audio');
    return tf.tidy(() => {
      const x = (audio.rank === 2 ? tf.expandDims(audio, 2) : audio) as tf.Tensor3D;
      const padded = Math.ceil(length / this.hop) * this.hop;
      return padded === length ? x.clone() : (tf.pad(x, [[0, 0], [0, padded - length], [0, 0]]) as tf.Tensor3D);
    });
  }

  /** Audio [B, T] → latents [B, ceil(T / hop), latentDim] (before quantization). */
  encodeLatents(audio: tf.Tensor): tf.Tensor3D {
    return tf.tidy(() => this.encoder.forward(this.prepare(audio)));
  }

  /** Audio [B, T] → int32 codes [B, ceil(T / hop), levels]. */
  encode(audio: tf.Tensor, levels = this.levels): tf.Tensor3D {
    return tf.tidy(() => this.quantizer.forward(this.encodeLatents(audio), { levels }).codes as tf.Tensor3D);
  }

  /** Codes [B, frames, m ≤ levels] → audio [B, frames · hop]. */
  decode(codes: tf.Tensor): tf.Tensor2D {
    if (codes.rank !== 3) throw new InvalidArgumentError(`AudioCodec.decode expects codes [batch, frames, levels], got [${codes.shape}]`);
    return tf.tidy(() => tf.squeeze(this.decoder.forward(this.quantizer.decodeCodes(codes) as tf.Tensor3D), [2]) as tf.Tensor2D);
  }

  /** Full pass; `training` records quantizer statistics (call `quantizer.afterStep()` after the update). */
  forward(audio: tf.Tensor, options: { training?: boolean; levels?: number } = {}): AudioCodecOutput {
    return tf.tidy(() => {
      const z = this.encodeLatents(audio);
      const q = this.quantizer.forward(z, { training: options.training ?? false, levels: options.levels ?? this.levels });
      const reconstruction = tf.squeeze(this.decoder.forward(q.quantized as tf.Tensor3D), [2]) as tf.Tensor2D;
      return { reconstruction, codes: q.codes as tf.Tensor3D, quantizerLoss: q.loss, perplexity: q.perplexity };
    });
  }
}

/**
 * Half-width, in samples, of the window of input an output sample of
 * encoder+decoder can depend on (an upper bound): every kernel of size k at
 * a position with cumulative stride S reaches ⌈k/2⌉·S samples. Chunked
 * processing needs at least this much context on each side to be exact.
 */
export function receptiveField(config: AudioTokenizerConfig): { encoder: number; decoder: number } {
  const { strides, residualUnits, kernelSize } = config.architecture;
  const half = Math.ceil(kernelSize / 2);
  let encoder = half; // input conv
  let decoder = half; // output conv
  let cumulative = 1;
  for (const s of strides) {
    encoder += residualUnits * half * cumulative + s * cumulative; // residual units, then the 2s-kernel downsampling
    decoder += residualUnits * half * cumulative + 2 * s * cumulative;
    cumulative *= s;
  }
  encoder += 2 * cumulative; // output conv (k = 3) at the frame rate
  decoder += half * cumulative; // input conv at the frame rate
  if (config.architecture.decoder === 'istft') {
    // Input conv and units at the frame rate, the 2r-kernel upsampling, units at the iSTFT rate, frames of ±nFft/2.
    const istftHop = config.architecture.istftHop ?? cumulative / 4;
    const nFft = config.architecture.istftNfft ?? 4 * istftHop;
    decoder = (1 + residualUnits) * half * cumulative + 2 * cumulative + residualUnits * half * istftHop + nFft / 2 + istftHop;
  }
  if (config.architecture.encoder === 'stft') {
    // Frames of ±nFft/2, input conv and units at the STFT rate, the 2r-kernel downsampling, units and the k = 3 output conv at the frame rate.
    const stftHop = config.architecture.stftHop ?? cumulative / 4;
    const nFft = config.architecture.stftNfft ?? 4 * stftHop;
    encoder = nFft / 2 + (1 + residualUnits) * half * stftHop + 2 * cumulative + residualUnits * half * cumulative + 2 * cumulative + stftHop;
  }
  return { encoder, decoder };
}
