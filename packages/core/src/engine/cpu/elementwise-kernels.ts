/**
 * The element-wise kernels that dominate a training step once the GEMMs are
 * fast: tfjs-cpu's versions go through a per-element callback and, when
 * broadcasting, per-element index arithmetic with array allocations. The
 * common float32 cases (same shape, scalar, and a trailing-axes operand such
 * as a bias) run on `VectorOps` (WebAssembly SIMD on all threads when the
 * engine has it), other broadcasts on strided loops here; everything else
 * goes to the original kernel.
 */
import { broadcast_util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { allocOutput, asKernelFunc, callKernel, float32Values, sizeOf, type CpuKernelArgs } from './tensor-data.js';
import type { BinaryOp, VectorOps } from './vector-ops.js';

export type { BinaryOp } from './vector-ops.js';

/**
 * When `shape` broadcasts to `outShape` as a run-repeat pattern — right-
 * aligned, leading 1s, then a block of `outShape`'s own dimensions, then
 * trailing 1s — the number of consecutive output elements each of its
 * elements stands for (1 for a trailing-axes operand such as a bias, the row
 * length for a column vector against a matrix); undefined otherwise.
 */
function repeatRun(shape: readonly number[], outShape: readonly number[]): number | undefined {
  const offset = outShape.length - shape.length;
  const dim = (d: number) => (d < offset ? 1 : shape[d - offset]!);
  let d = outShape.length - 1;
  let inner = 1;
  while (d >= 0 && dim(d) === 1) inner *= outShape[d--]!;
  if (d < 0) return 1; // a scalar: any run length works
  while (d >= 0 && dim(d) === outShape[d]) d--;
  while (d >= 0 && dim(d) === 1) d--;
  return d < 0 ? inner : undefined;
}

/** Per-output-axis element strides of an operand broadcast to `outShape` (0 along broadcast axes). */
function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const strides = new Array<number>(outShape.length).fill(0);
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    const outAxis = outShape.length - shape.length + d;
    strides[outAxis] = shape[d] === 1 ? 0 : stride;
    stride *= shape[d]!;
  }
  return strides;
}

/**
 * General numpy broadcasting: an odometer over all but the last output axis,
 * with a strided inner loop (stride 0 or 1 for a broadcast or contiguous operand).
 */
function applyBroadcast(op: BinaryOp, a: Float32Array, aShape: readonly number[], b: Float32Array, bShape: readonly number[], outShape: readonly number[], out: Float32Array): void {
  const rank = outShape.length;
  const sa = broadcastStrides(aShape, outShape);
  const sb = broadcastStrides(bShape, outShape);
  const inner = outShape[rank - 1]!;
  const ia = sa[rank - 1]!;
  const ib = sb[rank - 1]!;
  const index = new Array<number>(rank).fill(0);
  let offA = 0;
  let offB = 0;
  for (let base = 0; base < out.length; base += inner) {
    switch (op) {
      case 'add': for (let j = 0; j < inner; j++) out[base + j] = a[offA + j * ia]! + b[offB + j * ib]!; break;
      case 'sub': for (let j = 0; j < inner; j++) out[base + j] = a[offA + j * ia]! - b[offB + j * ib]!; break;
      case 'mul': for (let j = 0; j < inner; j++) out[base + j] = a[offA + j * ia]! * b[offB + j * ib]!; break;
      case 'div': for (let j = 0; j < inner; j++) out[base + j] = a[offA + j * ia]! / b[offB + j * ib]!; break;
      case 'sqdiff': for (let j = 0; j < inner; j++) { const d = a[offA + j * ia]! - b[offB + j * ib]!; out[base + j] = d * d; } break;
    }
    // Advance the odometer over the outer axes.
    for (let d = rank - 2; d >= 0; d--) {
      index[d]!++;
      offA += sa[d]!;
      offB += sb[d]!;
      if (index[d]! < outShape[d]!) break;
      offA -= sa[d]! * outShape[d]!;
      offB -= sb[d]! * outShape[d]!;
      index[d] = 0;
    }
  }
}

/** A float32 binary kernel: contiguous loops for same-shape / scalar / trailing / column operands, strided loops for other broadcasts. */
export function createBinaryKernel(op: BinaryOp, vector: VectorOps, original: KernelFunc): KernelFunc {
  return asKernelFunc((args: CpuKernelArgs) => {
    const { inputs, backend } = args;
    const a: TensorInfo = inputs.a!;
    const b: TensorInfo = inputs.b!;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return callKernel(original, args);
    const outShape = broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const size = sizeOf(outShape);
    const out = allocOutput(backend, size);
    if (size > 0) {
      const aValues = float32Values(backend, a);
      const bValues = float32Values(backend, b);
      const aFull = aValues.length === size;
      const bFull = bValues.length === size;
      const inner = aFull && bFull ? 1 : aFull ? repeatRun(b.shape, outShape) : bFull ? repeatRun(a.shape, outShape) : undefined;
      if (inner !== undefined) {
        vector.binary(op, aValues, bValues, out, inner);
      } else {
        applyBroadcast(op, aValues, a.shape, bValues, b.shape, outShape, out);
      }
    }
    return backend.makeTensorInfo(outShape, 'float32', out);
  });
}

/** `Relu` (tfjs-cpu's `Math.max(0, x)`: NaN stays NaN, -0 becomes 0), `Square` and `Sqrt` on float32. */
export function createUnaryKernel(op: 'relu' | 'square' | 'sqrt', vector: VectorOps, original: KernelFunc): KernelFunc {
  return asKernelFunc((args: CpuKernelArgs) => {
    const { inputs, backend } = args;
    const x = inputs.x!;
    if (x.dtype !== 'float32') return callKernel(original, args);
    const xs = float32Values(backend, x);
    const out = allocOutput(backend, xs.length);
    vector.unary(op, xs, out);
    return backend.makeTensorInfo(x.shape.slice(), 'float32', out);
  });
}

/** `Step` on float32 (ReLU's gradient is `dy * step(x)`): 1 when x > 0, else alpha; NaN stays NaN. */
export function createStepKernel(vector: VectorOps, original: KernelFunc): KernelFunc {
  return asKernelFunc((args: CpuKernelArgs) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x!;
    if (x.dtype !== 'float32') return callKernel(original, args);
    const alpha = (attrs?.alpha as number | undefined) ?? 0;
    const xs = float32Values(backend, x);
    const out = allocOutput(backend, xs.length);
    vector.unary('step', xs, out, alpha);
    return backend.makeTensorInfo(x.shape.slice(), 'float32', out);
  });
}

/**
 * `Transpose` of float32 for the identity permutation (a copy: the gather
 * gradient issues one) and for swapping the two axes of a matrix (cache
 * blocked); other permutations go to the original kernel.
 */
export function createTransposeKernel(original: KernelFunc): KernelFunc {
  return asKernelFunc((args: CpuKernelArgs) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x!;
    const perm = attrs!.perm as number[];
    if (x.dtype !== 'float32') return callKernel(original, args);
    const xs = float32Values(backend, x);
    const outShape = perm.map((p) => x.shape[p]!);
    if (perm.every((p, i) => p === i)) {
      const out = allocOutput(backend, xs.length);
      out.set(xs);
      return backend.makeTensorInfo(outShape, 'float32', out);
    }
    if (perm.length !== 2) return callKernel(original, args);
    const [rows, cols] = x.shape as [number, number];
    const out = allocOutput(backend, xs.length);
    const block = 32;
    for (let r0 = 0; r0 < rows; r0 += block) {
      const r1 = Math.min(r0 + block, rows);
      for (let c0 = 0; c0 < cols; c0 += block) {
        const c1 = Math.min(c0 + block, cols);
        for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out[c * rows + r] = xs[r * cols + c]!;
      }
    }
    return backend.makeTensorInfo(outShape, 'float32', out);
  });
}

/**
 * `Cast` to float32 from bool or int32 converts into float32 storage.
 * tfjs-cpu instead shares the source's Uint8Array/Int32Array under the new
 * dtype; every float32 consumer would then have to convert it (see
 * `float32Values`), e.g. the `dy * cast(mask)` of the maximum/minimum/where
 * gradients. Other casts go to the original kernel.
 */
export function createCastKernel(original: KernelFunc): KernelFunc {
  return asKernelFunc((args: CpuKernelArgs) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x!;
    if (attrs?.dtype !== 'float32' || (x.dtype !== 'bool' && x.dtype !== 'int32')) return callKernel(original, args);
    const values = backend.data.get(x.dataId).values;
    if (!(values instanceof Uint8Array || values instanceof Int32Array || values instanceof Float32Array)) return callKernel(original, args);
    const out = allocOutput(backend, values.length);
    out.set(values);
    return backend.makeTensorInfo(x.shape.slice(), 'float32', out);
  });
}

/**
 * `ZerosLike`/`OnesLike` of float32 and `Fill` with float32 dtype (e.g. the
 * zero gradients of a stop-gradient) into recycled storage: tfjs-cpu
 * allocates a fresh array per call, whose page faults and zeroing dominate
 * at activation sizes. Other dtypes go to the original kernels.
 */
export function createFillKernel(kind: 'zerosLike' | 'onesLike' | 'fill', original: KernelFunc): KernelFunc {
  return asKernelFunc((args: CpuKernelArgs) => {
    const { inputs, backend, attrs } = args;
    let shape: number[];
    let value: number;
    if (kind === 'fill') {
      if (attrs?.dtype !== 'float32' || typeof attrs.value !== 'number') return callKernel(original, args);
      shape = (attrs.shape as number[]).slice();
      value = attrs.value;
    } else {
      const x = inputs.x!;
      if (x.dtype !== 'float32') return callKernel(original, args);
      shape = x.shape.slice();
      value = kind === 'onesLike' ? 1 : 0;
    }
    const out = allocOutput(backend, sizeOf(shape));
    out.fill(value);
    return backend.makeTensorInfo(shape, 'float32', out);
  });
}
