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
 * The convolutions are written as 2-D ONNX convolutions over [batch,
 * channels, 1, time] (kernels 1×k): ONNX Runtime runs 2-D Conv on its blocked
 * (NCHWc) kernels, which it does not do for 1-D Conv. TF.js's 'same' padding
 * is `auto_pad: SAME_UPPER` (any extra zero at the end); a stride-s transposed
 * conv with TF.js 'same' padding (output = s · input) crops (k − s)/2 outputs
 * per side, the extra one at the end, i.e. ONNX pads [⌊(k−s)/2⌋, ⌈(k−s)/2⌉].
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
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_OPSET, InvalidArgumentError, OnnxGraphBuilder, writeFileAtomic, type VectorQuantizer } from '@vqkit/core';
import { ONNX_DECODER_FILE, ONNX_ENCODER_FILE, ONNX_MANIFEST_FILE } from '@vqkit/image';
import { type AudioCodec } from '../model/codec.js';
import { hopLength, type AudioTokenizerConfig } from '../model/config.js';

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

/** Graph-building helpers over [batch, channels, 1, time] tensors. */
class LayerWriter {
  constructor(
    readonly g: OnnxGraphBuilder,
    readonly w: WeightTable,
  ) {}

  private bias(name: string, inputs: string[]): void {
    if (this.w.has(`${name}.bias`)) {
      const b = this.w.get(`${name}.bias`);
      inputs.push(this.g.initializer(`${name}.bias`, b.data, b.shape));
    }
  }

  /** Conv1d (tfjs kernel [k, in, out] → ONNX [out, in, 1, k]) with 'same' padding. */
  conv(x: string, name: string, stride = 1): string {
    const w = this.w.get(`${name}.weight`);
    const [k, inC, outC] = w.shape as [number, number, number];
    const kernel = new Float32Array(w.data.length);
    for (let t = 0; t < k; t++) for (let i = 0; i < inC; i++) for (let o = 0; o < outC; o++) kernel[(o * inC + i) * k + t] = w.data[(t * inC + i) * outC + o]!;
    const inputs = [x, this.g.initializer(`${name}.weight`, kernel, [outC, inC, 1, k])];
    this.bias(name, inputs);
    return this.g.node('Conv', inputs, { kernel_shape: [1, k], strides: [1, stride], auto_pad: 'SAME_UPPER' });
  }

  /**
   * ConvTranspose1d with 'same' padding (output = stride · input): tfjs
   * kernel [k, out, in] → ONNX [in, out, 1, k]; pads [⌊(k−s)/2⌋, ⌈(k−s)/2⌉].
   */
  convTranspose(x: string, name: string, stride: number): string {
    const w = this.w.get(`${name}.weight`);
    const [k, outC, inC] = w.shape as [number, number, number];
    const total = k - stride;
    if (total < 0) throw new InvalidArgumentError(`ONNX export: transposed conv ${name} with kernel < stride is not supported`);
    const kernel = new Float32Array(w.data.length);
    for (let t = 0; t < k; t++) for (let o = 0; o < outC; o++) for (let i = 0; i < inC; i++) kernel[(i * outC + o) * k + t] = w.data[(t * outC + o) * inC + i]!;
    const inputs = [x, this.g.initializer(`${name}.weight`, kernel, [inC, outC, 1, k])];
    this.bias(name, inputs);
    const before = Math.floor(total / 2);
    return this.g.node('ConvTranspose', inputs, { kernel_shape: [1, k], strides: [1, stride], pads: [0, before, 0, total - before] });
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

/**
 * Nearest-code search for rows z [N, D] against `vectors` [K, D]:
 * argmin_k ‖e_k‖² − 2·z·e_k as one MatMul of [z, 1] against [−2·Eᵀ; ‖e‖²]
 * ([D + 1, K]) and an ArgMin; int64 indices [N].
 */
function nearestCodeNode(g: OnnxGraphBuilder, z: string, vectors: Float32Array, K: number, D: number, name: string): string {
  const table = new Float32Array((D + 1) * K);
  for (let k = 0; k < K; k++) {
    let n = 0;
    for (let d = 0; d < D; d++) {
      const v = vectors[k * D + d]!;
      table[d * K + k] = -2 * v;
      n += v * v;
    }
    table[D * K + k] = n;
  }
  const withOne = g.node('Pad', [z, g.int64s([0, 0, 0, 1]), g.scalar(1)], { mode: 'constant' }); // [N, D + 1]
  const scores = g.node('MatMul', [withOne, g.initializer(`${name}.search_table`, table, [D + 1, K])]);
  return g.node('ArgMin', [scores], { axis: 1, keepdims: 0 });
}

/** The code vectors of one level exactly as TF.js uses them. */
function codeVectors(vq: VectorQuantizer): Float32Array {
  return tf.tidy(() => Float32Array.from(vq.codeVectors(tf.range(0, vq.codebookSize, 1, 'int32')).dataSync() as Float32Array));
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

function buildEncoder(model: AudioCodec, config: AudioTokenizerConfig, w: WeightTable): OnnxGraphBuilder {
  const g = new OnnxGraphBuilder('vqkit_audio_encoder');
  const L = new LayerWriter(g, w);
  const { strides, residualUnits, latentDim } = config.architecture;
  const waveform = g.input('waveform', 'float32', ['batch', 'samples']);
  let h = L.conv(g.node('Unsqueeze', [waveform, g.int64s([1, 2])]), 'encoder.input'); // [B, C, 1, T]
  strides.forEach((stride, i) => {
    for (let j = 0; j < residualUnits; j++) h = L.residualUnit(h, `encoder.stage${i}.res${j}`);
    h = L.conv(L.elu(h), `encoder.stage${i}.down`, stride);
  });
  h = L.conv(L.elu(h), 'encoder.output'); // [B, D, 1, F]
  const latents = g.node('Transpose', [g.node('Squeeze', [h, g.int64s([2])])], { perm: [0, 2, 1] }); // [B, F, D]
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

function buildDecoder(model: AudioCodec, config: AudioTokenizerConfig, w: WeightTable): OnnxGraphBuilder {
  const g = new OnnxGraphBuilder('vqkit_audio_decoder');
  const L = new LayerWriter(g, w);
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
  let h = g.node('Unsqueeze', [g.node('Transpose', [vectors], { perm: [0, 2, 1] }), g.int64s([2])]); // [B, D, 1, F]
  h = L.conv(h, 'decoder.input');
  const n = strides.length;
  for (let k = 0; k < n; k++) {
    h = L.convTranspose(L.elu(h), `decoder.stage${k}.up`, strides[n - 1 - k]!);
    for (let j = 0; j < residualUnits; j++) h = L.residualUnit(h, `decoder.stage${k}.res${j}`);
  }
  h = L.conv(L.elu(h), 'decoder.output'); // [B, 1, 1, T]
  g.output(g.node('Squeeze', [h, g.int64s([1, 2])]), 'waveform', 'float32', ['batch', 'samples']);
  return g;
}

/** Builds the encoder and decoder graphs of an audio codec. */
export function exportAudioModelToOnnx(model: AudioCodec, tokenizerId: string): AudioOnnxExport {
  const config = model.config;
  const w = new WeightTable(model);
  const metadata = { 'vqkit.tokenizer_id': tokenizerId };
  const encoder = buildEncoder(model, config, w).toBytes({ metadata, docString: 'vqkit audio tokenizer encoder: waveform [batch, samples] -> codes [batch, frames, levels]' });
  const decoder = buildDecoder(model, config, w).toBytes({ metadata, docString: 'vqkit audio tokenizer decoder: codes [batch, frames, levels<=N] -> waveform [batch, frames*hop]' });
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
