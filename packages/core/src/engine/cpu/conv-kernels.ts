/**
 * NHWC 2-D convolutions as GEMMs (conv1d and conv2dTranspose route here too):
 *
 *   forward          Y[M×N]  = col(X)[M×K] · W[K×N]
 *   backprop filter  dW[K×N] = col(X)ᵀ · dY
 *   backprop input   dX      = col2im(dY · Wᵀ)
 *
 * with M = batch·outH·outW, K = filterH·filterW·inC, N = outC. A 1×1,
 * stride-1, unpadded convolution skips im2col: X already is the M×K matrix.
 * When the engine has Winograd transforms, 3×3 stride-1 and 4×4 stride-2
 * convolutions with channel counts in multiples of 4 take the Winograd
 * paths of `winograd-conv.ts` instead (2–4× fewer multiply-adds).
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
  heapAllocator,
  ScratchBuffer,
  sizeOf,
  type CpuKernelArgs,
  type FloatAllocator,
} from './tensor-data.js';
import { jsVectorOps, type VectorOps } from './vector-ops.js';
import {
  winogradBackpropFilter,
  winogradBackpropInput,
  winogradForward,
  WinogradScratch,
  type OperandKeys,
  type WinogradOps,
} from './winograd-conv.js';

export { winogradOpsOf, type WinogradOps } from './winograd-conv.js';

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

/** Column-matrix memory and column operations shared by all convolution kernels of one backend. */
export class ConvScratch {
  readonly col: ScratchBuffer;
  /** Flipped, channel-swapped filters for the stride-1 input gradient. */
  readonly filter: ScratchBuffer;
  readonly columns: ColumnOps;
  /** Memory of the Winograd paths, when the engine has the transforms. */
  readonly winograd: WinogradScratch | undefined;
  constructor(allocator: FloatAllocator = heapAllocator, columns: ColumnOps = jsColumnOps, winograd?: WinogradOps) {
    this.col = new ScratchBuffer(allocator);
    this.filter = new ScratchBuffer(allocator);
    this.columns = columns;
    this.winograd = winograd ? new WinogradScratch(winograd, allocator) : undefined;
  }
  release(): void {
    this.col.release();
    this.filter.release();
    this.winograd?.release();
  }
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

/**
 * Y = conv2d(x, w), written to `y` (batch·outH·outW·outC floats). `keys`
 * (the tensors' storage ids) let the Winograd path reuse transforms.
 */
export function convForward(gemm: GemmEngine, scratch: ConvScratch, x: Float32Array, w: Float32Array, g: ConvGeometry, y: Float32Array, keys: OperandKeys = {}): Float32Array {
  const m = colRows(g);
  const k = colCols(g);
  const n = g.outChannels;
  if (y.length === 0) return y;
  if (k === 0) return y.fill(0);
  if (scratch.winograd && winogradForward(gemm, scratch.winograd, x, w, g, y, keys)) return y;
  let a = x;
  if (!isPointwise(g)) {
    a = scratch.col.get(m * k);
    scratch.columns.im2col(x, g, a);
  }
  gemm.sgemm({ m, n, k, a, b: w, c: y });
  return y;
}

/** dW = col(x)ᵀ · dy, written to `dw` (filter layout HWIO). */
export function convBackpropFilter(gemm: GemmEngine, scratch: ConvScratch, x: Float32Array, dy: Float32Array, g: ConvGeometry, dw: Float32Array, keys: OperandKeys = {}): Float32Array {
  const m = colRows(g);
  const k = colCols(g);
  const n = g.outChannels;
  if (dw.length === 0) return dw;
  if (m === 0) return dw.fill(0);
  if (scratch.winograd && winogradBackpropFilter(gemm, scratch.winograd, x, dy, g, dw, keys)) return dw;
  let a = x;
  if (!isPointwise(g)) {
    a = scratch.col.get(m * k);
    scratch.columns.im2col(x, g, a);
  }
  gemm.sgemm({ m: k, n, k: m, a, b: dy, c: dw, transA: true });
  return dw;
}

/** dX = col2im(dy · wᵀ), written to `dx` (NHWC, the forward input's shape). */
export function convBackpropInput(gemm: GemmEngine, scratch: ConvScratch, dy: Float32Array, w: Float32Array, g: ConvGeometry, dx: Float32Array, keys: OperandKeys = {}): Float32Array {
  const m = colRows(g);
  const k = colCols(g);
  const n = g.outChannels;
  if (dx.length === 0) return dx;
  if (m === 0 || n === 0) return dx.fill(0);
  if (isPointwise(g)) {
    gemm.sgemm({ m, n: k, k: n, a: dy, b: w, c: dx, transB: true });
    return dx;
  }
  if (scratch.winograd && winogradBackpropInput(gemm, scratch.winograd, dy, w, g, dx, keys)) return dx;
  if (g.strideHeight === 1 && g.strideWidth === 1 && g.dilationHeight === 1 && g.dilationWidth === 1) {
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
    const y = convForward(gemm, scratch, float32Values(backend, x), float32Values(backend, filter), info, allocOutput(backend, sizeOf(info.outShape)), {
      x: x.dataId,
      w: filter.dataId,
      live: (key) => backend.data.has(key),
    });
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
    const y = convForward(gemm, scratch, float32Values(backend, x), float32Values(backend, filter), info, allocOutput(backend, sizeOf(info.outShape)), {
      x: x.dataId,
      w: filter.dataId,
      live: (key) => backend.data.has(key),
    });
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
    const dx = convBackpropInput(gemm, scratch, float32Values(backend, dy), float32Values(backend, filter), info, allocOutput(backend, sizeOf(info.inShape)), {
      dy: dy.dataId,
      w: filter.dataId,
      live: (key) => backend.data.has(key),
    });
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
    const dw = convBackpropFilter(gemm, scratch, float32Values(backend, x), float32Values(backend, dy), info, allocOutput(backend, sizeOf(info.filterShape)), {
      x: x.dataId,
      dy: dy.dataId,
      live: (key) => backend.data.has(key),
    });
    return backend.makeTensorInfo(info.filterShape, 'float32', dw);
  });
}
