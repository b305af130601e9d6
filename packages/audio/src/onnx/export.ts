/**
 * Export of an audio tokenizer to two ONNX graphs:
 *
 *   encoder.onnx   waveform float32 [batch, samples] (model rate, samples a
 *                  multiple of the hop) → codes int32 [batch, frames, levels]
 *                  with frames = samples / hop and every level of the model
 *   decoder.onnx   codes int32 [batch, frames, m], 1 ≤ m ≤ levels
 *                  → waveform float32 [batch, frames · hop]
 *
 * Batch, samples/frames and m are dynamic axes.
 *
 * The residual quantizer runs inside the encoder graph, as in the image
 * export: per level a MatMul of [r, 1] against [−2·Eᵀ; ‖e‖²] and an ArgMin on
 * the running residual r (‖r‖² is the same for every code and is left out),
 * then r − e[code] for the next level. A level's code depends only on the
 * levels before it, so the first m of the exported levels are exactly the
 * codes of an m-level encode: fewer levels (a lower bitrate) are a slice of
 * the output.
 *
 * The decoder takes any number m ≤ N of leading levels: the codes are padded
 * to N levels with −1, and each level's table holds one extra all-zero row
 * that Gather reads for index −1 (negative indices count from the end), so a
 * missing level adds exactly 0 — the sum over the given levels, in the order
 * of `ResidualVectorQuantizer.decodeCodes`.
 *
 * Encoders and decoders: the SEANet-style waveform encoder/decoder (strided
 * and transposed convolutions at sample rates) and the spectral heads (the
 * STFT encoder's log power spectrum, the Vocos-style iSTFT decoder), as the
 * tokenizer's config selects; any weight the exporter does not place is an
 * error, so a model it does not know is never exported as a different net.
 *
 * The convolutions are written as 2-D ONNX convolutions over [batch,
 * channels, 1, time] (kernels 1×k): ONNX Runtime runs 2-D Conv on its blocked
 * (NCHWc) kernels, which it does not do for 1-D Conv (measured: 10–35 % less
 * CPU per second of audio). TF.js's 'same' padding is `auto_pad: SAME_UPPER`
 * (any extra zero at the end); a stride-s transposed conv with TF.js 'same'
 * padding (output = s · input) crops (k − s)/2 outputs per side, the extra
 * one at the end, i.e. ONNX pads [⌊(k−s)/2⌋, ⌈(k−s)/2⌉].
 *
 * Opset 17 (DEFAULT_OPSET), IR version 8. `manifest.json` records the
 * tokenizer id the graphs were made from, so a stale export (of weights that
 * have since changed) is detected instead of used.
 *
 * Not in the graphs: resampling, padding a signal to a whole number of
 * frames, chunking long signals and trimming decoded audio (the tokenizer
 * does all of these the same way on both runtimes).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_OPSET, InvalidArgumentError, OnnxGraphBuilder, writeFileAtomic, type OnnxAttributeValue, type VectorQuantizer } from '@vqkit/core';
import { codeVectors, nearestCodeNode, ONNX_DECODER_FILE, ONNX_ENCODER_FILE, ONNX_MANIFEST_FILE } from '@vqkit/image';
import { type AudioCodec } from '../model/codec.js';
import { hopLength, type AudioTokenizerConfig } from '../model/config.js';
import { paddedWindow, resolveStftOptions, stftLeftPad } from '../dsp.js';

export const AUDIO_ONNX_FORMAT = 'vqkit.audio-tokenizer-onnx';

/** `manifest.json` of an audio tokenizer export. */
export interface AudioOnnxManifest {
  format: typeof AUDIO_ONNX_FORMAT;
  version: 1;
  /** Id of the tokenizer (config + weights) the graphs were exported from. */
  tokenizerId: string;
  opset: number;
  encoder: string;
  decoder: string;
  /** The model's sample rate (Hz). */
  sampleRate: number;
  /** Samples per code frame: encoder inputs must be multiples of it. */
  hop: number;
  /** Quantizer levels N: the encoder emits all of them, the decoder takes 1..N. */
  levels: number;
  /** Codes per level. */
  codebookSizes: number[];
}

/** The two serialised graphs and their manifest. */
export interface AudioOnnxExport {
  encoder: Uint8Array;
  decoder: Uint8Array;
  manifest: AudioOnnxManifest;
}

/**
 * Weights by dotted name, copied out of the model. Records which ones the
 * graphs use, so that a model with weights the exporter does not know about
 * (an architecture change) fails loudly instead of exporting a different net.
 */
class WeightTable {
  private readonly values = new Map<string, { data: Float32Array; shape: number[] }>();
  private readonly used = new Set<string>();

  constructor(model: AudioCodec) {
    for (const [name, variable] of model.namedVariables()) {
      this.values.set(name, { data: Float32Array.from(variable.dataSync() as Float32Array), shape: [...variable.shape] });
    }
  }

  get(name: string): { data: Float32Array; shape: number[] } {
    const w = this.values.get(name);
    if (!w) throw new InvalidArgumentError(`ONNX export: the audio model has no weight '${name}' (has its architecture changed?)`);
    this.used.add(name);
    return w;
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** Throws if a weight under one of `prefixes` was never read. */
  checkAllUsed(prefixes: readonly string[]): void {
    const unused = [...this.values.keys()].filter((n) => prefixes.some((p) => n.startsWith(p)) && !this.used.has(n));
    if (unused.length > 0) throw new InvalidArgumentError(`ONNX export: the audio exporter does not know the weights ${unused.join(', ')} (has the model's architecture changed?)`);
  }
}

/** How the graphs are written (exposed for measurements; the defaults are the fastest measured). */
export interface AudioOnnxExportOptions {
  /** '2d': activations [batch, channels, 1, time] and 1×k kernels (default); '1d': [batch, channels, time]. */
  layout?: '1d' | '2d';
  /**
   * Transposed convolutions as ONNX ConvTranspose ('convtranspose', default),
   * or as one stride-1 Conv computing all s output phases followed by an
   * interleaving reshape ('phases': as fast in the 2-D layout, faster in 1-D).
   */
  transposed?: 'convtranspose' | 'phases';
}

/** Graph-building helpers over [batch, channels, (1,) time] tensors. */
class LayerWriter {
  private readonly two: boolean;
  /** Spatial axes of the activations: 1 ([B, C, T]) or 2 ([B, C, 1, T]). */
  readonly spatialRank: 1 | 2;

  constructor(
    readonly g: OnnxGraphBuilder,
    readonly w: WeightTable,
    readonly options: Required<AudioOnnxExportOptions>,
  ) {
    this.two = options.layout === '2d';
    this.spatialRank = this.two ? 2 : 1;
  }

  /** Kernel/stride/pads attributes of a 1-D window in the layout. */
  private kernel(k: number): number[] {
    return this.two ? [1, k] : [k];
  }

  private pads(before: number, after: number): number[] {
    return this.two ? [0, before, 0, after] : [before, after];
  }

  private weightDims(a: number, b: number, k: number): number[] {
    return this.two ? [a, b, 1, k] : [a, b, k];
  }

  /** Waveform [B, T] → [B, 1, (1,) T]. */
  fromWaveform(x: string): string {
    return this.g.node('Unsqueeze', [x, this.g.int64s(this.two ? [1, 2] : [1])]);
  }

  /** [B, 1, (1,) T] → waveform [B, T]. */
  toWaveform(x: string): string {
    return this.g.node('Squeeze', [x, this.g.int64s(this.two ? [1, 2] : [1])]);
  }

  /** [B, C, (1,) F] → [B, F, C]. */
  toFrames(x: string): string {
    return this.g.node('Transpose', [this.two ? this.g.node('Squeeze', [x, this.g.int64s([2])]) : x], { perm: [0, 2, 1] });
  }

  /** [B, F, C] → [B, C, (1,) F]. */
  fromFrames(x: string): string {
    const t = this.g.node('Transpose', [x], { perm: [0, 2, 1] });
    return this.two ? this.g.node('Unsqueeze', [t, this.g.int64s([2])]) : t;
  }

  private bias(name: string, inputs: string[]): void {
    if (this.w.has(`${name}.bias`)) {
      const b = this.w.get(`${name}.bias`);
      inputs.push(this.g.initializer(`${name}.bias`, b.data, b.shape));
    }
  }

  /** Conv1d (tfjs kernel [k, in, out] → ONNX [out, in, 1, k]) with 'same' padding. */
  conv(x: string, name: string, stride = 1): string {
    const w = this.w.get(`${name}.weight`);
    const bias = this.w.has(`${name}.bias`) ? this.w.get(`${name}.bias`).data : undefined;
    return this.convFrom(x, name, w.data, w.shape as [number, number, number], stride, 'same', bias);
  }

  /** A conv with kernel `data` in tfjs layout [k, in, out]: 'same' padding (SAME_UPPER) or explicit [before, after]. */
  convFrom(x: string, name: string, data: Float32Array, [k, inC, outC]: readonly [number, number, number], stride: number, padding: 'same' | readonly [number, number], bias?: Float32Array): string {
    const kernel = new Float32Array(data.length);
    for (let t = 0; t < k; t++) for (let i = 0; i < inC; i++) for (let o = 0; o < outC; o++) kernel[(o * inC + i) * k + t] = data[(t * inC + i) * outC + o]!;
    const inputs = [x, this.g.initializer(`${name}.weight`, kernel, this.weightDims(outC, inC, k))];
    if (bias) inputs.push(this.g.initializer(`${name}.bias`, bias, [outC]));
    const pad: Record<string, OnnxAttributeValue> = padding === 'same' ? { auto_pad: 'SAME_UPPER' } : { pads: this.pads(padding[0], padding[1]) };
    return this.g.node('Conv', inputs, { kernel_shape: this.kernel(k), strides: this.kernel(stride), ...pad });
  }

  /**
   * ConvTranspose1d with 'same' padding (output = stride · input): TF.js
   * crops (k − s)/2 outputs per side, the extra one at the end, i.e. ONNX
   * pads [⌊(k−s)/2⌋, ⌈(k−s)/2⌉]; tfjs kernel [k, out, in].
   */
  convTranspose(x: string, name: string, stride: number): string {
    const w = this.w.get(`${name}.weight`);
    const [k, outC, inC] = w.shape as [number, number, number];
    if (k < stride) throw new InvalidArgumentError(`ONNX export: transposed conv ${name} with kernel < stride is not supported`);
    const bias = this.w.has(`${name}.bias`) ? this.w.get(`${name}.bias`).data : undefined;
    return this.transposedConv(x, name, w.data, [k, outC, inC], stride, Math.floor((k - stride) / 2), bias);
  }

  /**
   * A transposed conv with output length stride · input length: kernel
   * `data` in tfjs layout [k, out, in], the first `before` outputs of the
   * full transposed conv cropped (and k − stride − before at the end).
   */
  transposedConv(x: string, name: string, data: Float32Array, [k, outC, inC]: readonly [number, number, number], stride: number, before: number, bias?: Float32Array): string {
    const after = k - stride - before;
    if (before < 0 || after < 0) throw new InvalidArgumentError(`ONNX export: transposed conv ${name}: unsupported cropping`);
    if (this.options.transposed === 'convtranspose' || stride === 1) {
      // ONNX weight [in, out, (1,) k].
      const kernel = new Float32Array(data.length);
      for (let t = 0; t < k; t++) for (let o = 0; o < outC; o++) for (let i = 0; i < inC; i++) kernel[(i * outC + o) * k + t] = data[(t * outC + o) * inC + i]!;
      const inputs = [x, this.g.initializer(`${name}.weight`, kernel, this.weightDims(inC, outC, k))];
      if (bias) inputs.push(this.g.initializer(`${name}.bias`, bias, [outC]));
      return this.g.node('ConvTranspose', inputs, { kernel_shape: this.kernel(k), strides: this.kernel(stride), pads: this.pads(before, after) });
    }
    // Output o = s·m + a (phase a) sums x[i]·w[t] over o = s·i − before + t, i.e. taps t ≡ a + before
    // (mod s) reading x[m − r] with r = (t − a − before) / s. All phases as one stride-1 Conv over the
    // window m − rMax … m − rMin (tap j = rMax − r, pads [rMax, −rMin], zeros where a phase has no tap),
    // with output channel c·s + a; a reshape/transpose then interleaves the phases along time.
    const taps: { t: number; a: number; r: number }[] = [];
    for (let t = 0; t < k; t++) {
      const a = (((t - before) % stride) + stride) % stride;
      taps.push({ t, a, r: (t - a - before) / stride });
    }
    const rMax = Math.max(...taps.map((p) => p.r));
    const rMin = Math.min(...taps.map((p) => p.r));
    if (rMax < 0 || rMin > 0) throw new InvalidArgumentError(`ONNX export: transposed conv ${name}: unsupported padding`);
    const size = rMax - rMin + 1;
    const kernel = new Float32Array(outC * stride * inC * size);
    for (const { t, a, r } of taps) {
      const j = rMax - r;
      for (let o = 0; o < outC; o++) for (let i = 0; i < inC; i++) kernel[((o * stride + a) * inC + i) * size + j] = data[(t * outC + o) * inC + i]!;
    }
    const inputs = [x, this.g.initializer(`${name}.phases.weight`, kernel, this.weightDims(outC * stride, inC, size))];
    if (bias) inputs.push(this.g.initializer(`${name}.phases.bias`, Float32Array.from({ length: outC * stride }, (_, c) => bias[Math.floor(c / stride)]!), [outC * stride]));
    const phases = this.g.node('Conv', inputs, { kernel_shape: this.kernel(size), pads: this.pads(rMax, -rMin) }); // [B, C·s, (1,) L]
    const split = this.g.node('Reshape', [phases, this.g.int64s([0, outC, stride, -1])]); // [B, C, s, L]
    const interleaved = this.g.node('Transpose', [split], { perm: [0, 1, 3, 2] }); // [B, C, L, s]
    return this.g.node('Reshape', [interleaved, this.g.int64s(this.two ? [0, outC, 1, -1] : [0, outC, -1])]);
  }

  elu(x: string): string {
    return this.g.node('Elu', [x]); // alpha 1, as tf.elu
  }

  /** ResidualUnit1d: x + conv2(elu(conv1(elu(x)))). */
  residualUnit(x: string, name: string): string {
    return this.g.node('Add', [x, this.conv(this.elu(this.conv(this.elu(x), `${name}.conv1`)), `${name}.conv2`)]);
  }

  /** y = x·W + b on the last axis (Linear: weight [in, out]). */
  linear(x: string, name: string): string {
    const w = this.w.get(`${name}.weight`);
    let y = this.g.node('MatMul', [x, this.g.initializer(`${name}.weight`, w.data, w.shape)]);
    if (this.w.has(`${name}.bias`)) {
      const b = this.w.get(`${name}.bias`);
      y = this.g.node('Add', [y, this.g.initializer(`${name}.bias`, b.data, b.shape)]);
    }
    return y;
  }
}

/** The per-level quantizers, checked to quantize in the RVQ's codebook space (no per-level projections). */
function levels(model: AudioCodec, w: WeightTable): readonly VectorQuantizer[] {
  const rvq = model.quantizer;
  rvq.layers.forEach((layer, i) => {
    if (layer.codebookDim !== rvq.codebookDim || w.has(`quantizer.level${i}.projectIn.weight`)) {
      throw new InvalidArgumentError(`ONNX export: quantizer level ${i} has its own projection, which the exporter does not support`);
    }
  });
  return rvq.layers;
}

function buildEncoder(model: AudioCodec, config: AudioTokenizerConfig, w: WeightTable, options: Required<AudioOnnxExportOptions>): OnnxGraphBuilder {
  const g = new OnnxGraphBuilder('vqkit_audio_encoder');
  const L = new LayerWriter(g, w, options);
  const { strides, residualUnits, latentDim } = config.architecture;
  const waveform = g.input('waveform', 'float32', ['batch', 'samples']);
  const arch = config.architecture as AudioTokenizerConfig['architecture'] & { encoder?: string; stftNfft?: number; stftHop?: number };
  let h: string;
  if (arch.encoder === 'stft') {
    // Spectral encoder: (ln(|X|² + 1e-6) + 4) / 4 of centred Hann frames, units at the STFT frame rate,
    // a strided conv down to the code frame rate, units there.
    const hop = hopLength(config);
    const stftHop = arch.stftHop ?? hop / 4;
    const nFft = arch.stftNfft ?? 4 * stftHop;
    h = stftLogPower(L, L.fromWaveform(waveform), nFft, stftHop);
    h = L.conv(h, 'encoder.input');
    for (let j = 0; j < residualUnits; j++) h = L.residualUnit(h, `encoder.high${j}`);
    h = L.conv(L.elu(h), 'encoder.down', hop / stftHop);
    for (let j = 0; j < residualUnits; j++) h = L.residualUnit(h, `encoder.low${j}`);
  } else {
    if (arch.encoder !== undefined && arch.encoder !== 'waveform') throw new InvalidArgumentError(`ONNX export: unknown audio encoder '${arch.encoder}'`);
    h = L.conv(L.fromWaveform(waveform), 'encoder.input'); // [B, C, (1,) T]
    strides.forEach((stride, i) => {
      for (let j = 0; j < residualUnits; j++) h = L.residualUnit(h, `encoder.stage${i}.res${j}`);
      h = L.conv(L.elu(h), `encoder.stage${i}.down`, stride);
    });
  }
  h = L.conv(L.elu(h), 'encoder.output'); // [B, D, (1,) F]
  const latents = L.toFrames(h); // [B, F, D]
  const frameShape = g.node('Slice', [g.node('Shape', [latents]), g.int64s([0]), g.int64s([2])]); // [B, F]
  let z = g.node('Reshape', [latents, g.int64s([-1, latentDim])]);
  if (w.has('quantizer.projectIn.weight')) z = L.linear(z, 'quantizer.projectIn');

  const layers = levels(model, w);
  let residual = z;
  const perLevel: string[] = [];
  layers.forEach((layer, i) => {
    const vectors = codeVectors(layer);
    const idx = nearestCodeNode(g, residual, vectors, layer.codebookSize, layer.codebookDim, `quantizer.level${i}`);
    perLevel.push(g.node('Unsqueeze', [idx, g.int64s([1])]));
    if (i + 1 < layers.length) {
      const table = g.initializer(`quantizer.level${i}.codebook`, vectors, [layer.codebookSize, layer.codebookDim]);
      residual = g.node('Sub', [residual, g.node('Gather', [table, idx], { axis: 0 })]);
    }
  });
  const codes = perLevel.length === 1 ? perLevel[0]! : g.node('Concat', perLevel, { axis: 1 }); // [N, levels]
  const outShape = g.node('Concat', [frameShape, g.int64s([layers.length])], { axis: 0 });
  g.output(g.node('Cast', [g.node('Reshape', [codes, outShape])], { to: 6 /* INT32 */ }), 'codes', 'int32', ['batch', 'frames', layers.length]);
  return g;
}

function buildDecoder(model: AudioCodec, config: AudioTokenizerConfig, w: WeightTable, options: Required<AudioOnnxExportOptions>): OnnxGraphBuilder {
  const g = new OnnxGraphBuilder('vqkit_audio_decoder');
  const L = new LayerWriter(g, w, options);
  const { strides, residualUnits } = config.architecture;
  const layers = levels(model, w);
  const N = layers.length;
  const codes = g.input('codes', 'int32', ['batch', 'frames', 'levels']);
  // Pad the levels axis to N with −1 (the zero row of every table).
  const given = g.node('Slice', [g.node('Shape', [codes]), g.int64s([2]), g.int64s([3])]);
  const pads = g.node('Concat', [g.int64s([0, 0, 0, 0, 0]), g.node('Sub', [g.int64s([N]), given])], { axis: 0 });
  const padded = g.node('Pad', [codes, pads, g.constant(Int32Array.of(-1), [])], { mode: 'constant' });
  let sum = '';
  layers.forEach((layer, i) => {
    const D = layer.codebookDim;
    const table = new Float32Array((layer.codebookSize + 1) * D);
    table.set(codeVectors(layer));
    const column = g.node('Gather', [padded, g.constant(Int32Array.of(i), [])], { axis: 2 }); // [B, F]
    const v = g.node('Gather', [g.initializer(`quantizer.level${i}.code_vectors`, table, [layer.codebookSize + 1, D]), column], { axis: 0 });
    // Same summation order as ResidualVectorQuantizer.decodeCodes.
    sum = i === 0 ? v : g.node('Add', [sum, v]);
  });
  let vectors = sum; // [B, F, codebookDim]
  if (w.has('quantizer.projectOut.weight')) vectors = L.linear(vectors, 'quantizer.projectOut');
  let h = L.conv(L.fromFrames(vectors), 'decoder.input'); // [B, C, (1,) F]
  const arch = config.architecture as AudioTokenizerConfig['architecture'] & { decoder?: string; istftNfft?: number; istftHop?: number };
  if (arch.decoder === 'istft') {
    // Vocos-style head: units at the frame rate, one transposed conv up to the iSTFT frame rate, units there,
    // ln|X| (capped at 5) and phase per bin, and the inverse STFT.
    const hop = hopLength(config);
    const istftHop = arch.istftHop ?? hop / 4;
    const nFft = arch.istftNfft ?? 4 * istftHop;
    for (let j = 0; j < residualUnits; j++) h = L.residualUnit(h, `decoder.low${j}`);
    h = L.convTranspose(L.elu(h), 'decoder.up', hop / istftHop);
    for (let j = 0; j < residualUnits; j++) h = L.residualUnit(h, `decoder.high${j}`);
    h = L.elu(h);
    const magnitude = g.node('Exp', [g.node('Min', [L.conv(h, 'decoder.magnitude'), g.scalar(5)])]);
    const phase = L.conv(h, 'decoder.phase');
    const spectrum = g.node('Concat', [g.node('Mul', [magnitude, g.node('Cos', [phase])]), g.node('Mul', [magnitude, g.node('Sin', [phase])])], { axis: 1 });
    g.output(L.toWaveform(istft(L, spectrum, nFft, istftHop)), 'waveform', 'float32', ['batch', 'samples']);
    return g;
  }
  if (arch.decoder !== undefined && arch.decoder !== 'waveform') throw new InvalidArgumentError(`ONNX export: unknown audio decoder '${arch.decoder}'`);
  const n = strides.length;
  for (let k = 0; k < n; k++) {
    h = L.convTranspose(L.elu(h), `decoder.stage${k}.up`, strides[n - 1 - k]!);
    for (let j = 0; j < residualUnits; j++) h = L.residualUnit(h, `decoder.stage${k}.res${j}`);
  }
  h = L.conv(L.elu(h), 'decoder.output'); // [B, 1, (1,) T]
  g.output(L.toWaveform(h), 'waveform', 'float32', ['batch', 'samples']);
  return g;
}

/**
 * The spectral encoder's features: x [B, 1, (1,) T] (T a multiple of hop) →
 * (ln(re² + im² + 1e-6) + 4) / 4 [B, bins, (1,) T / hop]. The STFT is centred
 * (⌊nFft/2⌋ zeros before the signal) with a periodic Hann window, as the
 * encoder's stftTf: one strided Conv per part with the windowed DFT filters,
 * its frames 0 … T/hop − 1 (the last centred frame, past the end, is dropped).
 */
function stftLogPower(L: LayerWriter, x: string, nFft: number, hop: number): string {
  const g = L.g;
  const options = resolveStftOptions({ nFft, hopLength: hop });
  const window = paddedWindow(options);
  const bins = Math.floor(nFft / 2) + 1;
  const cos = new Float32Array(nFft * bins);
  const sin = new Float32Array(nFft * bins);
  for (let i = 0; i < nFft; i++) {
    for (let k = 0; k < bins; k++) {
      const angle = (2 * Math.PI * ((i * k) % nFft)) / nFft;
      cos[i * bins + k] = window[i]! * Math.cos(angle);
      sin[i * bins + k] = -window[i]! * Math.sin(angle);
    }
  }
  // Left ⌊nFft/2⌋ zeros, right enough for exactly 1 + T/hop frames; then the last frame is dropped.
  const left = stftLeftPad(options);
  const pads = [left, nFft - left] as const;
  const part = (filters: Float32Array, name: string) => {
    const y = L.convFrom(x, name, filters, [nFft, 1, bins], hop, pads);
    const frames = g.node('Slice', [y, g.int64s([0]), g.int64s([-1]), g.int64s([-1])]);
    return g.node('Mul', [frames, frames]);
  };
  const power = g.node('Add', [part(cos, 'encoder.stft_cos'), part(sin, 'encoder.stft_sin')]);
  return g.node('Mul', [g.node('Add', [g.node('Log', [g.node('Add', [power, g.scalar(1e-6)])]), g.scalar(4)]), g.scalar(0.25)]);
}

/** Periodic Hann window value n of N. */
function hann(n: number, N: number): number {
  return 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / N);
}

/**
 * The decoder's inverse STFT: spectrum [B, 2·bins (real, then imaginary), (1,) F']
 * → [B, 1, (1,) F'·hop]. The windowed inverse real DFT of every frame and the
 * overlap-add together are one transposed conv (in 2·bins, out 1, kernel nFft,
 * stride hop) whose kernel is the synthesis basis, cropped like TF.js's
 * 'same' transposed conv: frame f starts at sample f·hop − ⌊(nFft − hop)/2⌋.
 * The result is divided by the overlap-added squared window (at least 1e-3),
 * computed the same way from a row of ones, since it depends on F' at the end.
 */
function istft(L: LayerWriter, spectrum: string, nFft: number, hop: number): string {
  const g = L.g;
  const bins = nFft / 2 + 1;
  // x[n] = w[n]/N · Σ_k a_k (Re_k cos(2πkn/N) − Im_k sin(2πkn/N)), a_0 = a_{N/2} = 1, else 2; tfjs layout [n, out 1, in c].
  const basis = new Float32Array(nFft * 2 * bins);
  for (let n = 0; n < nFft; n++) {
    const w = hann(n, nFft);
    for (let k = 0; k < bins; k++) {
      const a = k === 0 || k === bins - 1 ? 1 : 2;
      const angle = (2 * Math.PI * ((k * n) % nFft)) / nFft;
      basis[n * 2 * bins + k] = (w * a * Math.cos(angle)) / nFft;
      basis[n * 2 * bins + bins + k] = (-w * a * Math.sin(angle)) / nFft;
    }
  }
  const start = Math.floor((nFft - hop) / 2);
  const signal = L.transposedConv(spectrum, 'decoder.istft', basis, [nFft, 1, 2 * bins], hop, start);
  const frames = g.node('Slice', [g.node('Shape', [spectrum]), g.int64s([-1]), g.int64s([Number.MAX_SAFE_INTEGER])]);
  const lead = L.spatialRank === 2 ? [1, 1, 1] : [1, 1];
  const ones = g.node('Expand', [g.constant(Float32Array.of(1), [...lead, 1]), g.node('Concat', [g.int64s(lead), frames], { axis: 0 })]);
  const windowSquared = Float32Array.from({ length: nFft }, (_, n) => hann(n, nFft) ** 2);
  const envelope = L.transposedConv(ones, 'decoder.istft_window', windowSquared, [nFft, 1, 1], hop, start);
  return g.node('Mul', [signal, g.node('Reciprocal', [g.node('Max', [envelope, g.scalar(1e-3)])])]);
}

/** Builds the encoder and decoder graphs of an audio codec. */
export function exportAudioModelToOnnx(model: AudioCodec, tokenizerId: string, options: AudioOnnxExportOptions = {}): AudioOnnxExport {
  const config = model.config;
  const w = new WeightTable(model);
  const resolved: Required<AudioOnnxExportOptions> = { layout: options.layout ?? '2d', transposed: options.transposed ?? 'convtranspose' };
  const metadata = { 'vqkit.tokenizer_id': tokenizerId };
  const encoder = buildEncoder(model, config, w, resolved).toBytes({ metadata, docString: 'vqkit audio tokenizer encoder: waveform [batch, samples] -> codes [batch, frames, levels]' });
  const decoder = buildDecoder(model, config, w, resolved).toBytes({ metadata, docString: 'vqkit audio tokenizer decoder: codes [batch, frames, levels<=N] -> waveform [batch, frames*hop]' });
  w.checkAllUsed(['encoder.', 'decoder.', 'quantizer.projectIn.', 'quantizer.projectOut.']);
  return {
    encoder,
    decoder,
    manifest: {
      format: AUDIO_ONNX_FORMAT,
      version: 1,
      tokenizerId,
      opset: DEFAULT_OPSET,
      encoder: ONNX_ENCODER_FILE,
      decoder: ONNX_DECODER_FILE,
      sampleRate: config.sampleRate,
      hop: hopLength(config),
      levels: model.quantizer.levelCount,
      codebookSizes: [...model.quantizer.codebookSizes],
    },
  };
}

/** Writes `encoder.onnx`, `decoder.onnx` and `manifest.json` into `dir` (created if needed; manifest last). */
export function writeAudioOnnxExport(dir: string, exported: AudioOnnxExport): void {
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomic(path.join(dir, ONNX_ENCODER_FILE), exported.encoder);
  writeFileAtomic(path.join(dir, ONNX_DECODER_FILE), exported.decoder);
  writeFileAtomic(path.join(dir, ONNX_MANIFEST_FILE), `${JSON.stringify(exported.manifest, null, 2)}\n`);
}

/**
 * Exports an audio tokenizer (anything with its model and id, e.g. an
 * AudioTokenizer) into `dir` (`onnx/` inside the tokenizer directory is where
 * `AudioTokenizer.load` looks). Returns the manifest written.
 */
export function exportAudioTokenizerToOnnx(tokenizer: { readonly model: AudioCodec; readonly id: string }, dir: string): AudioOnnxManifest {
  const exported = exportAudioModelToOnnx(tokenizer.model, tokenizer.id);
  writeAudioOnnxExport(dir, exported);
  return exported.manifest;
}
