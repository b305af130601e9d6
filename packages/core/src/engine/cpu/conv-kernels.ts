/**
 * NHWC 2-D convolutions as GEMMs (conv1d and conv2dTranspose route here too):
 *
 *   forward          Y[M×N]  = col(X)[M×K] · W[K×N]
 *   backprop filter  dW[K×N] = col(X)ᵀ · dY
 *   backprop input   dX      = col2im(dY · Wᵀ)
 *
 * with M = batch·outH·outW, K = filterH·filterW·inC, N = outC. A 1×1,
 * stride-1, unpadded convolution skips im2col: X already is the M×K matrix.
 * NCHW and non-float32 inputs go to the original `cpu` kernels.
 */
import { backend_util, type KernelFunc } from '@tensorflow/tfjs-core';
import type { GemmEngine } from '../gemm.js';
import { finishFused } from './epilogue.js';
import { col2im, colCols, colRows, im2col, isPointwise, type ConvGeometry } from './im2col.js';
import {
  allFloat32,
  allocOutput,
  asKernelFunc,
  callKernel,
  float32Values,
  ScratchBuffer,
  sizeOf,
  type CpuKernelArgs,
  type FloatAllocator,
} from './tensor-data.js';
import { jsVectorOps, type VectorOps } from './vector-ops.js';

type Shape4 = [number, number, number, number];
type ExplicitPadding = backend_util.ExplicitPadding;
type PadAttr = 'valid' | 'same' | number | ExplicitPadding;
type RoundingMode = 'floor' | 'round' | 'ceil' | undefined;

/** im2col/col2im implementations (same layout and contract as `./im2col.js`). */
export interface ColumnOps {
  im2col(x: Float32Array, g: ConvGeometry, col: Float32Array): void;
  col2im(col: Float32Array, g: ConvGeometry, dx: Float32Array): void;
}

/** The JavaScript implementations. */
export const jsColumnOps: ColumnOps = { im2col, col2im };

/**
 * The engine's own (WebAssembly, multi-threaded) im2col/col2im when it has
 * them, else the JavaScript ones.
 */
export function columnOpsOf(engine: GemmEngine): ColumnOps {
  const candidate = engine as GemmEngine & Partial<ColumnOps>;
  if (typeof candidate.im2col === 'function' && typeof candidate.col2im === 'function') {
    return {
      im2col: (x, g, col) => candidate.im2col!(x, g, col),
      col2im: (col, g, dx) => candidate.col2im!(col, g, dx),
    };
  }
  return jsColumnOps;
}

/**
 * Winograd F(4×4, 3×3) transforms (the WebAssembly engine's; layouts in
 * `assembly/winograd.ts`): 3×3 stride-1 convolutions and both their
 * gradients become 36 small GEMMs with 3–4× fewer multiply-adds than im2col.
 */
export interface WinogradOps {
  readonly winogradMaxChannels: number;
  winogradTiles(g: ConvGeometry): number;
  winogradInput(x: Float32Array, g: ConvGeometry, v: Float32Array): void;
  winogradOutput(m: Float32Array, g: ConvGeometry, channels: number, y: Float32Array): void;
  winogradOutputAdjoint(dy: Float32Array, g: ConvGeometry, channels: number, dm: Float32Array): void;
  winogradFilter(w: Float32Array, inChannels: number, outChannels: number, flip: boolean, u: Float32Array): void;
  winogradFilterAdjoint(du: Float32Array, inChannels: number, outChannels: number, dw: Float32Array): void;
}

/** The engine's Winograd transforms when it has them (duck-typed). */
export function winogradOpsOf(engine: GemmEngine): WinogradOps | undefined {
  const candidate = engine as GemmEngine & Partial<WinogradOps>;
  return typeof candidate.winogradInput === 'function' && typeof candidate.winogradFilterAdjoint === 'function' ? (candidate as GemmEngine & WinogradOps) : undefined;
}

/** Column-matrix memory and column operations shared by all convolution kernels of one backend. */
export class ConvScratch {
  readonly col: ScratchBuffer;
  /** Flipped, channel-swapped filters for the stride-1 input gradient. */
  readonly filter: ScratchBuffer;
  /** Winograd operands: transformed input (V), transformed output (M) and transformed filter (U). */
  readonly winogradV: ScratchBuffer;
  readonly winogradM: ScratchBuffer;
  readonly winogradU: ScratchBuffer;
  readonly columns: ColumnOps;
  readonly winograd: WinogradOps | undefined;
  constructor(allocator?: FloatAllocator, columns: ColumnOps = jsColumnOps, winograd?: WinogradOps) {
    this.col = new ScratchBuffer(allocator);
    this.filter = new ScratchBuffer(allocator);
    this.winogradV = new ScratchBuffer(allocator);
    this.winogradM = new ScratchBuffer(allocator);
    this.winogradU = new ScratchBuffer(allocator);
    this.columns = columns;
    this.winograd = winograd;
  }
  release(): void {
    this.col.release();
    this.filter.release();
    this.winogradV.release();
    this.winogradM.release();
    this.winogradU.release();
  }
}

/** Transform points of F(4×4, 3×3). */
const WINOGRAD_POINTS = 36;

/**
 * True when a 3×3 stride-1 convolution should run as Winograd F(4×4, 3×3):
 * the engine has the transforms, both channel counts are multiples of 4, the
 * padding is one the input gradient can mirror (0..2), and the 4×4 tiles do
 * not waste so much of the map that the 36 products per tile stop paying
 * (they must cost at most half of im2col's 9 per output pixel).
 */
function useWinograd(scratch: ConvScratch, g: ConvGeometry): boolean {
  const ops = scratch.winograd;
  if (!ops) return false;
  if (g.filterHeight !== 3 || g.filterWidth !== 3 || g.strideHeight !== 1 || g.strideWidth !== 1 || g.dilationHeight !== 1 || g.dilationWidth !== 1) return false;
  const { top, left } = g.padInfo;
  if (top < 0 || top > 2 || left < 0 || left > 2) return false;
  const max = ops.winogradMaxChannels;
  if (g.inChannels % 4 !== 0 || g.outChannels % 4 !== 0 || g.inChannels === 0 || g.outChannels === 0 || g.inChannels > max || g.outChannels > max) return false;
  const tiles = Math.ceil(g.outHeight / 4) * Math.ceil(g.outWidth / 4);
  return tiles > 0 && 2 * WINOGRAD_POINTS * tiles <= 9 * g.outHeight * g.outWidth;
}

/**
 * A 3×3 stride-1 convolution by Winograd: y (`g.outChannels` channels) =
 * conv(x, w), or with `transposedFilter` the convolution whose filter is the
 * HWIO `w` [3][3][outChannels][inChannels] rotated by 180° with its channel
 * axes swapped (the input gradient of a convolution with filter `w`).
 */
function winogradConvolution(gemm: GemmEngine, scratch: ConvScratch, x: Float32Array, w: Float32Array, g: ConvGeometry, y: Float32Array, transposedFilter: boolean): Float32Array {
  const ops = scratch.winograd!;
  const tiles = ops.winogradTiles(g);
  const inC = g.inChannels;
  const outC = g.outChannels;
  const v = scratch.winogradV.get(WINOGRAD_POINTS * tiles * inC);
  ops.winogradInput(x, g, v);
  const u = scratch.winogradU.get(WINOGRAD_POINTS * inC * outC);
  // U is [36][filter in][filter out]: the transposed case's filter in/out are this convolution's out/in.
  if (transposedFilter) ops.winogradFilter(w, outC, inC, true, u);
  else ops.winogradFilter(w, inC, outC, false, u);
  const m = scratch.winogradM.get(WINOGRAD_POINTS * tiles * outC);
  gemm.sgemm({ m: tiles, n: outC, k: inC, a: v, b: u, c: m, transB: transposedFilter, batch: WINOGRAD_POINTS, strideA: tiles * inC, strideB: inC * outC, strideC: tiles * outC });
  ops.winogradOutput(m, g, outC, y);
  return y;
}

/** dW of a 3×3 stride-1 convolution by Winograd: dU[ξ] = V[ξ]ᵀ·dM[ξ], dW = Gᵀ·dU·G. */
function winogradBackpropFilter(gemm: GemmEngine, scratch: ConvScratch, x: Float32Array, dy: Float32Array, g: ConvGeometry, dw: Float32Array): Float32Array {
  const ops = scratch.winograd!;
  const tiles = ops.winogradTiles(g);
  const inC = g.inChannels;
  const outC = g.outChannels;
  const v = scratch.winogradV.get(WINOGRAD_POINTS * tiles * inC);
  ops.winogradInput(x, g, v);
  const dm = scratch.winogradM.get(WINOGRAD_POINTS * tiles * outC);
  ops.winogradOutputAdjoint(dy, g, outC, dm);
  const du = scratch.winogradU.get(WINOGRAD_POINTS * inC * outC);
  gemm.sgemm({ m: inC, n: outC, k: tiles, a: v, b: dm, c: du, transA: true, batch: WINOGRAD_POINTS, strideA: tiles * inC, strideB: tiles * outC, strideC: inC * outC });
  ops.winogradFilterAdjoint(du, inC, outC, dw);
  return dw;
}

/** The stride-1 input gradient's geometry: a convolution of dy with the rotated filter and mirrored padding. */
function transposedGeometry(g: ConvGeometry): ConvGeometry {
  return {
    batchSize: g.batchSize,
    inHeight: g.outHeight,
    inWidth: g.outWidth,
    inChannels: g.outChannels,
    outHeight: g.inHeight,
    outWidth: g.inWidth,
    outChannels: g.inChannels,
    filterHeight: g.filterHeight,
    filterWidth: g.filterWidth,
    strideHeight: 1,
    strideWidth: 1,
    dilationHeight: 1,
    dilationWidth: 1,
    padInfo: { top: g.filterHeight - 1 - g.padInfo.top, left: g.filterWidth - 1 - g.padInfo.left },
  };
}

function isChannelsLast(dataFormat: unknown): boolean {
  return dataFormat === undefined || dataFormat === 'NHWC' || dataFormat === 'channelsLast';
}

function convInfo(xShape: number[], filterShape: number[], attrs: CpuKernelArgs['attrs'], withDilations: boolean): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(
    xShape as Shape4,
    filterShape as Shape4,
    attrs!.strides as number | [number, number],
    withDilations ? ((attrs!.dilations as number | [number, number] | undefined) ?? 1) : 1,
    attrs!.pad as PadAttr,
    attrs!.dimRoundingMode as RoundingMode,
    false,
    'channelsLast',
  );
}

/** Y = conv2d(x, w), written to `y` (batch·outH·outW·outC floats). */
export function convForward(gemm: GemmEngine, scratch: ConvScratch, x: Float32Array, w: Float32Array, g: ConvGeometry, y: Float32Array): Float32Array {
  const m = colRows(g);
  const k = colCols(g);
  const n = g.outChannels;
  if (y.length === 0) return y;
  if (k === 0) return y.fill(0);
  if (useWinograd(scratch, g)) return winogradConvolution(gemm, scratch, x, w, g, y, false);
  let a = x;
  if (!isPointwise(g)) {
    a = scratch.col.get(m * k);
    scratch.columns.im2col(x, g, a);
  }
  gemm.sgemm({ m, n, k, a, b: w, c: y });
  return y;
}

/** dW = col(x)ᵀ · dy, written to `dw` (filter layout HWIO). */
export function convBackpropFilter(gemm: GemmEngine, scratch: ConvScratch, x: Float32Array, dy: Float32Array, g: ConvGeometry, dw: Float32Array): Float32Array {
  const m = colRows(g);
  const k = colCols(g);
  const n = g.outChannels;
  if (dw.length === 0) return dw;
  if (m === 0) return dw.fill(0);
  if (useWinograd(scratch, g)) return winogradBackpropFilter(gemm, scratch, x, dy, g, dw);
  let a = x;
  if (!isPointwise(g)) {
    a = scratch.col.get(m * k);
    scratch.columns.im2col(x, g, a);
  }
  gemm.sgemm({ m: k, n, k: m, a, b: dy, c: dw, transA: true });
  return dw;
}

/** dX = col2im(dy · wᵀ), written to `dx` (NHWC, the forward input's shape). */
export function convBackpropInput(gemm: GemmEngine, scratch: ConvScratch, dy: Float32Array, w: Float32Array, g: ConvGeometry, dx: Float32Array): Float32Array {
  const m = colRows(g);
  const k = colCols(g);
  const n = g.outChannels;
  if (dx.length === 0) return dx;
  if (m === 0 || n === 0) return dx.fill(0);
  if (isPointwise(g)) {
    gemm.sgemm({ m, n: k, k: n, a: dy, b: w, c: dx, transB: true });
    return dx;
  }
  if (g.strideHeight === 1 && g.strideWidth === 1 && g.dilationHeight === 1 && g.dilationWidth === 1) {
    const transposed = transposedGeometry(g);
    if (useWinograd(scratch, transposed)) return winogradConvolution(gemm, scratch, dy, w, transposed, dx, true);
    return stride1BackpropInput(gemm, scratch, dy, w, g, dx);
  }
  const col = scratch.col.get(m * k);
  gemm.sgemm({ m, n: k, k: n, a: dy, b: w, c: col, transB: true });
  scratch.columns.col2im(col, g, dx);
  return dx;
}

/**
 * The input gradient of a stride-1 convolution is itself a stride-1
 * convolution: of dy, with the filter rotated 180° and its channel axes
 * swapped, and the padding mirrored (fh−1−top). im2col + GEMM writes dx
 * directly, which beats GEMM + col2im's scattered read-modify-write.
 */
function stride1BackpropInput(gemm: GemmEngine, scratch: ConvScratch, dy: Float32Array, w: Float32Array, g: ConvGeometry, dx: Float32Array): Float32Array {
  const { filterHeight: fh, filterWidth: fw, inChannels: ci, outChannels: co } = g;
  const flipped = scratch.filter.get(fh * fw * co * ci);
  for (let fy = 0; fy < fh; fy++) {
    for (let fx = 0; fx < fw; fx++) {
      const src = ((fh - 1 - fy) * fw + (fw - 1 - fx)) * ci * co;
      const dst = (fy * fw + fx) * co * ci;
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) flipped[dst + o * ci + i] = w[src + i * co + o]!;
      }
    }
  }
  const transposed: ConvGeometry = {
    batchSize: g.batchSize,
    inHeight: g.outHeight,
    inWidth: g.outWidth,
    inChannels: co,
    outHeight: g.inHeight,
    outWidth: g.inWidth,
    outChannels: ci,
    filterHeight: fh,
    filterWidth: fw,
    strideHeight: 1,
    strideWidth: 1,
    dilationHeight: 1,
    dilationWidth: 1,
    padInfo: { top: fh - 1 - g.padInfo.top, left: fw - 1 - g.padInfo.left },
  };
  const m = colRows(transposed);
  const k = colCols(transposed);
  const col = scratch.col.get(m * k);
  // Padding larger than the filter mirrors to a negative pad (a crop), which only the JavaScript im2col handles.
  const columns = transposed.padInfo.top < 0 || transposed.padInfo.left < 0 ? jsColumnOps : scratch.columns;
  columns.im2col(dy, transposed, col);
  gemm.sgemm({ m, n: ci, k, a: col, b: flipped, c: dx });
  return dx;
}

export function createConv2D(gemm: GemmEngine, scratch: ConvScratch, original: KernelFunc): KernelFunc {
  return asKernelFunc((args: CpuKernelArgs) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x!;
    const filter = inputs.filter!;
    if (!allFloat32(x, filter) || !isChannelsLast(attrs?.dataFormat)) return callKernel(original, args);
    const info = convInfo(x.shape, filter.shape, attrs, true);
    const y = convForward(gemm, scratch, float32Values(backend, x), float32Values(backend, filter), info, allocOutput(backend, sizeOf(info.outShape)));
    return backend.makeTensorInfo(info.outShape, 'float32', y);
  });
}

export function createFusedConv2D(gemm: GemmEngine, scratch: ConvScratch, original: KernelFunc, vector: VectorOps = jsVectorOps): KernelFunc {
  return asKernelFunc((args: CpuKernelArgs) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x!;
    const filter = inputs.filter!;
    if (!allFloat32(x, filter) || !isChannelsLast(attrs?.dataFormat)) return callKernel(original, args);
    const info = convInfo(x.shape, filter.shape, attrs, true);
    const y = convForward(gemm, scratch, float32Values(backend, x), float32Values(backend, filter), info, allocOutput(backend, sizeOf(info.outShape)));
    return finishFused(backend, info.outShape, y, {
      bias: inputs.bias ?? undefined,
      activation: attrs?.activation as string | undefined,
      preluActivationWeights: inputs.preluActivationWeights ?? undefined,
      leakyreluAlpha: attrs?.leakyreluAlpha as number | undefined,
    }, vector);
  });
}

/** Like tfjs-cpu, the backprop kernels ignore dilations (tfjs rejects dilated conv gradients). */
export function createConv2DBackpropInput(gemm: GemmEngine, scratch: ConvScratch, original: KernelFunc): KernelFunc {
  return asKernelFunc((args: CpuKernelArgs) => {
    const { inputs, backend, attrs } = args;
    const dy = inputs.dy!;
    const filter = inputs.filter!;
    if (!allFloat32(dy, filter) || !isChannelsLast(attrs?.dataFormat)) return callKernel(original, args);
    const inputShape = attrs!.inputShape as number[];
    const info = convInfo(inputShape, filter.shape, attrs, false);
    const dx = convBackpropInput(gemm, scratch, float32Values(backend, dy), float32Values(backend, filter), info, allocOutput(backend, sizeOf(info.inShape)));
    return backend.makeTensorInfo(info.inShape, 'float32', dx);
  });
}

export function createConv2DBackpropFilter(gemm: GemmEngine, scratch: ConvScratch, original: KernelFunc): KernelFunc {
  return asKernelFunc((args: CpuKernelArgs) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x!;
    const dy = inputs.dy!;
    if (!allFloat32(x, dy) || !isChannelsLast(attrs?.dataFormat)) return callKernel(original, args);
    const filterShape = attrs!.filterShape as number[];
    const info = convInfo(x.shape, filterShape, attrs, false);
    const dw = convBackpropFilter(gemm, scratch, float32Values(backend, x), float32Values(backend, dy), info, allocOutput(backend, sizeOf(info.filterShape)));
    return backend.makeTensorInfo(info.filterShape, 'float32', dw);
  });
}
