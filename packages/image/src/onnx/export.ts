/**
 * Export of an image tokenizer to two ONNX graphs:
 *
 *   encoder.onnx   images float32 [batch, height, width, C] (NHWC, pixels in
 *                  [0, 1], height and width multiples of f)
 *                  → codes int32 [batch, height/f, width/f] ([…, levels] for RVQ)
 *   decoder.onnx   codes int32 [batch, h, w] ([…, levels] for RVQ)
 *                  → images float32 [batch, h·f, w·f, C] in [0, 1]
 *
 * Batch, height and width are dynamic axes. The quantizer runs inside the
 * encoder graph, so one session call turns pixels into code indices:
 * VQ as one MatMul of [z, 1] against [−2·Eᵀ; ‖e‖²] followed by ArgMin (the
 * ‖z‖² term of the squared distance is the same for every code and is left
 * out), RVQ as that search once per level on the running residual, FSQ as
 * tanh → Round → mixed-radix digits. The convolutions run in NCHW (ONNX's
 * layout) between a Transpose at each end, with `auto_pad: SAME_UPPER`, which
 * is TensorFlow's 'same' padding for any input size. Stride-2 transposed
 * convolutions with 16 or more output channels are written as stride-1 Convs
 * of their output phases + DepthToSpace (see LayerWriter.convTranspose),
 * which ONNX Runtime runs about twice as fast as ConvTranspose.
 *
 * Opset 17 (DEFAULT_OPSET), IR version 8. Beside the graphs, `manifest.json`
 * records the tokenizer id the graphs were made from, so a stale export (of
 * weights that have since changed) is detected instead of used.
 *
 * Not in the graphs: padding images to a multiple of f (done by the caller,
 * as in `ImageVQVAE.padToMultiple`) and cropping decoded images.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_OPSET, InvalidArgumentError, OnnxGraphBuilder, writeFileAtomic, type FiniteScalarQuantizer, type VectorQuantizer, type ResidualVectorQuantizer } from '@vqkit/core';
import type { ImageTokenizerConfig } from '../model/config.js';
import type { ImageVQVAE } from '../model/vqvae.js';

export const ONNX_EXPORT_DIR = 'onnx';
export const ONNX_MANIFEST_FILE = 'manifest.json';
export const ONNX_ENCODER_FILE = 'encoder.onnx';
export const ONNX_DECODER_FILE = 'decoder.onnx';
export const IMAGE_ONNX_FORMAT = 'vqkit.image-tokenizer-onnx';

/** `manifest.json` of an image tokenizer export. */
export interface ImageOnnxManifest {
  format: typeof IMAGE_ONNX_FORMAT;
  version: 1;
  /** Id of the tokenizer (config + weights) the graphs were exported from. */
  tokenizerId: string;
  opset: number;
  encoder: string;
  decoder: string;
  /** Downsampling factor f: encoder inputs must have sides that are multiples of it. */
  downsampling: number;
  channels: 1 | 3;
  /** Code levels per position (RVQ levels; 1 otherwise). The decoder takes exactly this many. */
  levels: number;
  quantizer: 'vq' | 'rvq' | 'fsq';
}

/** The two serialised graphs and their manifest. */
export interface ImageOnnxExport {
  encoder: Uint8Array;
  decoder: Uint8Array;
  manifest: ImageOnnxManifest;
}

/** Weights by dotted name, copied out of the model. */
class WeightTable {
  private readonly values = new Map<string, { data: Float32Array; shape: number[] }>();

  constructor(model: ImageVQVAE) {
    for (const [name, variable] of model.namedVariables()) {
      this.values.set(name, { data: Float32Array.from(variable.dataSync() as Float32Array), shape: [...variable.shape] });
    }
  }

  get(name: string): { data: Float32Array; shape: number[] } {
    const w = this.values.get(name);
    if (!w) throw new InvalidArgumentError(`ONNX export: the model has no weight '${name}'`);
    return w;
  }

  has(name: string): boolean {
    return this.values.has(name);
  }
}

/** Permutes a 4-D row-major array. */
function permute4(data: Float32Array, shape: readonly number[], perm: readonly number[]): { data: Float32Array; shape: number[] } {
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = [shape[1]! * shape[2]! * shape[3]!, shape[2]! * shape[3]!, shape[3]!, 1];
  const out = new Float32Array(data.length);
  const s = perm.map((p) => inStrides[p]!);
  let i = 0;
  for (let a = 0; a < outShape[0]!; a++)
    for (let b = 0; b < outShape[1]!; b++)
      for (let c = 0; c < outShape[2]!; c++)
        for (let d = 0; d < outShape[3]!; d++) out[i++] = data[a * s[0]! + b * s[1]! + c * s[2]! + d * s[3]!]!;
  return { data: out, shape: outShape };
}

/** Graph-building helpers over a weight table (layers in NCHW). */
class LayerWriter {
  constructor(
    readonly g: OnnxGraphBuilder,
    readonly w: WeightTable,
  ) {}

  /** Conv2d with tfjs kernel [kh, kw, in, out] → ONNX [out, in, kh, kw]; 'same' padding. */
  conv(x: string, name: string, stride: number): string {
    const k = this.w.get(`${name}.weight`);
    const kernel = permute4(k.data, k.shape, [3, 2, 0, 1]);
    const inputs = [x, this.g.initializer(`${name}.weight`, kernel.data, kernel.shape)];
    if (this.w.has(`${name}.bias`)) inputs.push(this.g.initializer(`${name}.bias`, this.w.get(`${name}.bias`).data, this.w.get(`${name}.bias`).shape));
    return this.g.node('Conv', inputs, { kernel_shape: [kernel.shape[2]!, kernel.shape[3]!], strides: [stride, stride], auto_pad: 'SAME_UPPER' });
  }

  /**
   * ConvTranspose2d with TF's 'same' padding (output = stride·input): tfjs
   * kernel [kh, kw, out, in]; TF crops (k − s)/2 outputs per side (the extra
   * one at the bottom/right), i.e. ONNX pads [⌊(k−s)/2⌋, ⌈(k−s)/2⌉].
   *
   * Written as its s² output phases ("sub-pixel" form): output pixel
   * (s·m + a, s·n + b) only sees the kernel taps ≡ a + pad (mod s) of a
   * (k/s)×(k/s) input window, so each phase is a stride-1 Conv with a
   * (k/s)×(k/s) kernel and its own padding, and DepthToSpace interleaves the
   * phases. Same multiply-adds as ConvTranspose, but ONNX Runtime runs Conv
   * on its blocked (NCHWc) kernels with bias and ReLU fused, which is about
   * twice as fast as its ConvTranspose (a GEMM per image plus col2im).
   */
  convTranspose(x: string, name: string, stride: number, relu: boolean): string {
    const k = this.w.get(`${name}.weight`);
    const [kh, kw, outC, inC] = k.shape as [number, number, number, number];
    const total = [kh - stride, kw - stride] as const;
    if (total[0] < 0 || total[1] < 0) throw new InvalidArgumentError(`ONNX export: transposed conv ${name} with kernel < stride is not supported`);
    const before = [Math.floor(total[0] / 2), Math.floor(total[1] / 2)] as const;
    const bias = this.w.has(`${name}.bias`) ? this.w.get(`${name}.bias`) : undefined;
    if (outC < 16 || kh % stride !== 0 || kw % stride !== 0) {
      // ONNX ConvTranspose (weight [in, out, kh, kw]): for few output channels (the image layer) it beats
      // s² phase Convs, each of which ONNX Runtime would pad to a 16-channel block.
      const kernel = permute4(k.data, k.shape, [3, 2, 0, 1]);
      const inputs = [x, this.g.initializer(`${name}.weight`, kernel.data, kernel.shape)];
      if (bias) inputs.push(this.g.initializer(`${name}.bias`, bias.data, bias.shape));
      const y = this.g.node('ConvTranspose', inputs, { kernel_shape: [kh, kw], strides: [stride, stride], pads: [before[0], before[1], total[0] - before[0], total[1] - before[1]] });
      return relu ? this.relu(y) : y;
    }
    // Along one axis, phase a of the output (o = s·m + a, o = s·i − pad + t for tap t) reads
    // input i = m − r for taps t = s·r + a + pad; the phase conv's tap j = rMax − r with padding
    // [rMax, −rMin] keeps the length.
    const phaseTaps = (size: number, pad: number, a: number) => {
      const taps: { t: number; r: number }[] = [];
      for (let t = 0; t < size; t++) if ((((t - a - pad) % stride) + stride) % stride === 0) taps.push({ t, r: (t - a - pad) / stride });
      const rMax = Math.max(...taps.map((p) => p.r));
      const rMin = Math.min(...taps.map((p) => p.r));
      return { taps: taps.map((p) => ({ t: p.t, j: rMax - p.r })), pads: [rMax, -rMin] as const, size: rMax - rMin + 1 };
    };
    const phases: { a: number; b: number; rows: ReturnType<typeof phaseTaps>; cols: ReturnType<typeof phaseTaps> }[] = [];
    for (let a = 0; a < stride; a++) for (let b = 0; b < stride; b++) phases.push({ a, b, rows: phaseTaps(kh, before[0], a), cols: phaseTaps(kw, before[1], b) });
    if (phases.some((p) => p.rows.pads[0] < 0 || p.rows.pads[1] < 0 || p.cols.pads[0] < 0 || p.cols.pads[1] < 0)) {
      throw new InvalidArgumentError(`ONNX export: transposed conv ${name}: unsupported padding`);
    }
    /** ONNX Conv weight [outC, inC, kh', kw'] of one phase (zero where no tap lands). */
    const phaseWeight = (p: (typeof phases)[number]) => {
      const weight = new Float32Array(outC * inC * p.rows.size * p.cols.size);
      for (const { t: ty, j: jy } of p.rows.taps) {
        for (const { t: tx, j: jx } of p.cols.taps) {
          for (let o = 0; o < outC; o++) {
            for (let i = 0; i < inC; i++) weight[((o * inC + i) * p.rows.size + jy) * p.cols.size + jx] = k.data[((ty * kw + tx) * outC + o) * inC + i]!;
          }
        }
      }
      return weight;
    };
    const stacked = this.g.node(
      'Concat',
      phases.map((p) => {
        const inputs = [x, this.g.initializer(`${name}.phase${p.a}${p.b}.weight`, phaseWeight(p), [outC, inC, p.rows.size, p.cols.size])];
        if (bias) inputs.push(this.g.initializer(`${name}.phase${p.a}${p.b}.bias`, bias.data, bias.shape));
        const y = this.g.node('Conv', inputs, { kernel_shape: [p.rows.size, p.cols.size], strides: [1, 1], pads: [p.rows.pads[0], p.cols.pads[0], p.rows.pads[1], p.cols.pads[1]] });
        return relu ? this.relu(y) : y; // ReLU commutes with the interleaving
      }),
      { axis: 1 },
    );
    // Channels [phase (a, b), c] → DCR DepthToSpace puts phase (a, b) at (s·m + a, s·n + b).
    return this.g.node('DepthToSpace', [stacked], { blocksize: stride, mode: 'DCR' });
  }

  relu(x: string): string {
    return this.g.node('Relu', [x]);
  }

  /** Sonnet's residual stack: blocks x + conv1x1(relu(conv3x3(relu(x)))), then ReLU. */
  residualStack(x: string, prefix: string, count: number): string {
    let h = x;
    for (let i = 0; i < count; i++) {
      const inner = this.conv(this.relu(this.conv(this.relu(h), `${prefix}.${i}.conv1`, 1)), `${prefix}.${i}.conv2`, 1);
      h = this.g.node('Add', [h, inner]);
    }
    return this.relu(h);
  }

  /** y = x·W + b on the last axis (Linear: weight [in, out]). */
  linear(x: string, name: string): string {
    const w = this.w.get(`${name}.weight`);
    let y = this.g.node('MatMul', [x, this.g.initializer(`${name}.weight`, w.data, w.shape)]);
    if (this.w.has(`${name}.bias`)) y = this.g.node('Add', [y, this.g.initializer(`${name}.bias`, this.w.get(`${name}.bias`).data, this.w.get(`${name}.bias`).shape)]);
    return y;
  }
}

function stages(f: number): number {
  return Math.round(Math.log2(f));
}

/**
 * Nearest-code search for rows z [N, D] against `vectors` [K, D]:
 * argmin_k ‖e_k‖² − 2·z·e_k (‖z‖² is the same for every k) as one MatMul of
 * [z, 1] against [−2·Eᵀ; ‖e‖²] ([D + 1, K]) and an ArgMin; returns int64
 * indices [N]. Folding ‖e‖² into the product saves the pass that Gemm's bias
 * makes over the [N, K] scores. Shared by the image and audio exporters.
 */
export function nearestCodeNode(g: OnnxGraphBuilder, z: string, vectors: Float32Array, K: number, D: number, name: string): string {
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

/** The code vectors of a VectorQuantizer exactly as tfjs uses them (normalised rows for cosine codebooks). */
export function codeVectors(vq: VectorQuantizer): Float32Array {
  return tf.tidy(() => Float32Array.from(vq.codeVectors(tf.range(0, vq.codebookSize, 1, 'int32')).dataSync() as Float32Array));
}

/** FSQ per-channel constants, computed as FiniteScalarQuantizer does (float32 rounding of double expressions). */
function fsqConstants(levels: readonly number[]) {
  // vector-quantize-pytorch's bound epsilon, as in FiniteScalarQuantizer.
  const BOUND_EPSILON = 1e-3;
  const halfLevel = Float32Array.from(levels, (l) => ((l - 1) * (1 + BOUND_EPSILON)) / 2);
  const offset = Float32Array.from(levels, (l) => (l % 2 === 0 ? 0.5 : 0));
  const shift = Float32Array.from(levels, (_, i) => Math.atanh(offset[i]! / halfLevel[i]!));
  const halfWidth = Float32Array.from(levels, (l) => Math.floor(l / 2));
  const basis = new Int32Array(levels.length);
  let place = 1;
  levels.forEach((l, i) => {
    basis[i] = place;
    place *= l;
  });
  return { halfLevel, offset, shift, halfWidth, basis };
}

function buildEncoder(model: ImageVQVAE, config: ImageTokenizerConfig, w: WeightTable): OnnxGraphBuilder {
  const g = new OnnxGraphBuilder('vqkit_image_encoder');
  const L = new LayerWriter(g, w);
  const arch = config.architecture;
  const C = config.preprocessing.channels;
  const D = arch.codeDim;
  const images = g.input('images', 'float32', ['batch', 'height', 'width', C]);
  // Transpose first: on 256 Fashion-MNIST images ONNX Runtime's Sub took 3.5 ms on the graph input, 0.15 ms after it.
  let h = g.node('Sub', [g.node('Transpose', [images], { perm: [0, 3, 1, 2] }), g.scalar(0.5)]);
  for (let i = 0; i < stages(arch.downsampling); i++) h = L.relu(L.conv(h, `encoder.down${i}`, 2));
  h = L.residualStack(L.conv(h, 'encoder.conv', 1), 'encoder.res', arch.residualBlocks);
  const latents = g.node('Transpose', [L.conv(h, 'encoder.toCode', 1)], { perm: [0, 2, 3, 1] }); // [B, h, w, D]
  const gridShape = g.node('Slice', [g.node('Shape', [latents]), g.int64s([0]), g.int64s([3])]); // [B, h, w]
  let z = g.node('Reshape', [latents, g.int64s([-1, D])]);

  const q = config.quantizer;
  let codes: string; // int64 [N] or [N, levels]
  let levels = 1;
  if (q.type === 'vq') {
    const vq = model.quantizer as VectorQuantizer;
    if (w.has('quantizer.projectIn.weight')) z = L.linear(z, 'quantizer.projectIn');
    if (vq.options.cosine) {
      const norm = g.node('Max', [g.node('ReduceL2', [z], { axes: [1], keepdims: 1 }), g.scalar(1e-12)]);
      z = g.node('Div', [z, norm]);
    }
    codes = nearestCodeNode(g, z, codeVectors(vq), vq.codebookSize, vq.codebookDim, 'quantizer');
  } else if (q.type === 'rvq') {
    const rvq = model.quantizer as ResidualVectorQuantizer;
    levels = rvq.levelCount;
    if (w.has('quantizer.projectIn.weight')) z = L.linear(z, 'quantizer.projectIn');
    let residual = z;
    const perLevel: string[] = [];
    rvq.layers.forEach((layer, i) => {
      const vectors = codeVectors(layer);
      const idx = nearestCodeNode(g, residual, vectors, layer.codebookSize, layer.codebookDim, `quantizer.level${i}`);
      perLevel.push(g.node('Unsqueeze', [idx, g.int64s([1])]));
      if (i + 1 < rvq.levelCount) {
        const table = g.initializer(`quantizer.level${i}.codebook`, vectors, [layer.codebookSize, layer.codebookDim]);
        residual = g.node('Sub', [residual, g.node('Gather', [table, idx], { axis: 0 })]);
      }
    });
    codes = perLevel.length === 1 ? perLevel[0]! : g.node('Concat', perLevel, { axis: 1 });
  } else {
    const fsq = model.quantizer as FiniteScalarQuantizer;
    const k = fsqConstants(fsq.levels);
    const d = fsq.levels.length;
    if (w.has('quantizer.projectIn.weight')) z = L.linear(z, 'quantizer.projectIn');
    const bounded = g.node('Sub', [
      g.node('Mul', [g.node('Tanh', [g.node('Add', [z, g.constant(k.shift, [1, d])])]), g.constant(k.halfLevel, [1, d])]),
      g.constant(k.offset, [1, d]),
    ]);
    const digits = g.node('Add', [g.node('Round', [bounded]), g.constant(k.halfWidth, [1, d])]); // exact small integers in float32
    // Σ digit·basis in float32 is exact below 2^24, the largest FSQ codebook.
    const index = g.node('MatMul', [digits, g.constant(Float32Array.from(k.basis), [d, 1])]);
    codes = g.node('Reshape', [index, g.int64s([-1])]);
  }
  const outShape = levels > 1 ? g.node('Concat', [gridShape, g.int64s([levels])], { axis: 0 }) : gridShape;
  const grid = g.node('Cast', [g.node('Reshape', [codes, outShape])], { to: 6 /* INT32 */ });
  g.output(grid, 'codes', 'int32', levels > 1 ? ['batch', 'code_height', 'code_width', levels] : ['batch', 'code_height', 'code_width']);
  return g;
}

function buildDecoder(model: ImageVQVAE, config: ImageTokenizerConfig, w: WeightTable): OnnxGraphBuilder {
  const g = new OnnxGraphBuilder('vqkit_image_decoder');
  const L = new LayerWriter(g, w);
  const arch = config.architecture;
  const C = config.preprocessing.channels;
  const q = config.quantizer;
  const levels = q.type === 'rvq' ? q.levels : 1;
  const codes = g.input('codes', 'int32', levels > 1 ? ['batch', 'code_height', 'code_width', levels] : ['batch', 'code_height', 'code_width']);
  let vectors: string; // [B, h, w, codebook space]
  if (q.type === 'vq') {
    const vq = model.quantizer as VectorQuantizer;
    vectors = g.node('Gather', [g.initializer('quantizer.code_vectors', codeVectors(vq), [vq.codebookSize, vq.codebookDim]), codes], { axis: 0 });
  } else if (q.type === 'rvq') {
    const rvq = model.quantizer as ResidualVectorQuantizer;
    let sum = '';
    rvq.layers.forEach((layer, i) => {
      const column = g.node('Gather', [codes, g.constant(Int32Array.of(i), [])], { axis: 3 });
      const v = g.node('Gather', [g.initializer(`quantizer.level${i}.code_vectors`, codeVectors(layer), [layer.codebookSize, layer.codebookDim]), column], { axis: 0 });
      // Same summation order as ResidualVectorQuantizer.decodeCodes.
      sum = i === 0 ? v : g.node('Add', [sum, v]);
    });
    vectors = sum;
  } else {
    const fsq = model.quantizer as FiniteScalarQuantizer;
    const k = fsqConstants(fsq.levels);
    const d = fsq.levels.length;
    const expanded = g.node('Unsqueeze', [codes, g.int64s([3])]);
    const digits = g.node('Mod', [g.node('Div', [expanded, g.constant(k.basis, [d])]), g.constant(Int32Array.from(fsq.levels), [d])], { fmod: 0 });
    const halfWidth = g.constant(k.halfWidth, [d]);
    vectors = g.node('Div', [g.node('Sub', [g.node('Cast', [digits], { to: 1 /* FLOAT */ }), halfWidth]), halfWidth]);
  }
  if (w.has('quantizer.projectOut.weight')) vectors = L.linear(vectors, 'quantizer.projectOut');
  let h = g.node('Transpose', [vectors], { perm: [0, 3, 1, 2] });
  h = L.residualStack(L.conv(h, 'decoder.conv', 1), 'decoder.res', arch.residualBlocks);
  const n = stages(arch.downsampling);
  for (let i = 0; i < n; i++) h = L.convTranspose(h, `decoder.up${i}`, 2, i < n - 1);
  let pixels = arch.output === 'sigmoid' ? g.node('Sigmoid', [h]) : g.node('Clip', [g.node('Add', [h, g.scalar(0.5)]), g.scalar(0), g.scalar(1)]);
  pixels = g.node('Transpose', [pixels], { perm: [0, 2, 3, 1] });
  g.output(pixels, 'images', 'float32', ['batch', 'height', 'width', C]);
  return g;
}

/** Builds the encoder and decoder graphs of a tokenizer's model. */
export function exportImageModelToOnnx(model: ImageVQVAE, tokenizerId: string): ImageOnnxExport {
  const config = model.config;
  const w = new WeightTable(model);
  const metadata = { 'vqkit.tokenizer_id': tokenizerId };
  const levels = config.quantizer.type === 'rvq' ? config.quantizer.levels : 1;
  return {
    encoder: buildEncoder(model, config, w).toBytes({ metadata, docString: 'vqkit image tokenizer encoder: images NHWC [0,1] -> code indices' }),
    decoder: buildDecoder(model, config, w).toBytes({ metadata, docString: 'vqkit image tokenizer decoder: code indices -> images NHWC [0,1]' }),
    manifest: {
      format: IMAGE_ONNX_FORMAT,
      version: 1,
      tokenizerId,
      opset: DEFAULT_OPSET,
      encoder: ONNX_ENCODER_FILE,
      decoder: ONNX_DECODER_FILE,
      downsampling: config.architecture.downsampling,
      channels: config.preprocessing.channels,
      levels,
      quantizer: config.quantizer.type,
    },
  };
}

/** Writes `encoder.onnx`, `decoder.onnx` and `manifest.json` into `dir` (created if needed; manifest last). */
export function writeImageOnnxExport(dir: string, exported: ImageOnnxExport): void {
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomic(path.join(dir, ONNX_ENCODER_FILE), exported.encoder);
  writeFileAtomic(path.join(dir, ONNX_DECODER_FILE), exported.decoder);
  writeFileAtomic(path.join(dir, ONNX_MANIFEST_FILE), `${JSON.stringify(exported.manifest, null, 2)}\n`);
}

/**
 * Exports a tokenizer (anything with its model and id, e.g. an ImageTokenizer)
 * into `dir` (default: `onnx/` inside the tokenizer directory is where
 * `ImageTokenizer.load` looks). Returns the manifest written.
 */
export function exportImageTokenizerToOnnx(tokenizer: { readonly model: ImageVQVAE; readonly id: string }, dir: string): ImageOnnxManifest {
  const exported = exportImageModelToOnnx(tokenizer.model, tokenizer.id);
  writeImageOnnxExport(dir, exported);
  return exported.manifest;
}
