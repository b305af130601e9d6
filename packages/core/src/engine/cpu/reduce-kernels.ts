/**
 * `Sum` and `Mean` over leading or trailing axes without tfjs-cpu's
 * transpose and temporaries: the bias gradient (sum over batch/spatial axes,
 * leaving channels), row sums (last-axis reductions such as squared norms)
 * and whole-tensor means (losses) are the common cases.
 */
import { backend_util, util, type KernelFunc } from '@tensorflow/tfjs-core';
import { allocOutput, asKernelFunc, callKernel, float32Values, int32Values, sizeOf, type CpuKernelArgs } from './tensor-data.js';
import type { VectorOps } from './vector-ops.js';

/**
 * `kind` 'mean' follows tfjs-cpu's order of operations exactly: every element
 * is divided by the reduction size in float32 first, then summed.
 */
export function createReduceKernel(kind: 'sum' | 'mean', vector: VectorOps, original: KernelFunc): KernelFunc {
  return asKernelFunc((args: CpuKernelArgs) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x!;
    if (x.dtype !== 'float32') return callKernel(original, args);
    const rank = x.shape.length;
    const axes = util.parseAxisParam(attrs!.axis as number | number[], x.shape).slice().sort((p, q) => p - q);
    const unique = axes.every((v, i) => i === 0 || v !== axes[i - 1]);
    if (!unique) return callKernel(original, args);
    const leading = axes.every((v, i) => v === i);
    const trailing = axes.every((v, i) => v === rank - axes.length + i);
    if (!leading && !trailing) return callKernel(original, args);
    const keepDims = Boolean(attrs!.keepDims);
    const kept = x.shape.filter((_, d) => !axes.includes(d));
    const outShape = keepDims ? backend_util.expandShapeToKeepDim(kept, axes) : kept;
    const outSize = sizeOf(kept);
    const xs = float32Values(backend, x);
    const out = allocOutput(backend, outSize);
    const reduceSize = sizeOf(axes.map((d) => x.shape[d]!));
    const divisor = kind === 'mean' ? reduceSize : 0;
    if (trailing) {
      // Each output sums a contiguous run (this also covers the all-axes case).
      vector.rowSums(xs, outSize, reduceSize, out, divisor);
    } else if (!divisor) {
      // Column sums over contiguous rows of length outSize (e.g. a bias gradient), in double precision like tfjs.
      vector.columnSums(xs, reduceSize, outSize, out);
    } else {
      const totals = new Float64Array(outSize);
      for (let base = 0; outSize > 0 && base < xs.length; base += outSize) {
        if (divisor) for (let j = 0; j < outSize; j++) totals[j] += Math.fround(xs[base + j]! / divisor);
        else for (let j = 0; j < outSize; j++) totals[j] += xs[base + j]!;
      }
      out.set(totals);
    }
    return backend.makeTensorInfo(outShape, 'float32', out);
  });
}

/**
 * `UnsortedSegmentSum` (the gradient of `gather`, e.g. of a codebook lookup):
 * tfjs-cpu builds one mask tensor per segment, O(segments × size). This is
 * one pass: out[ids[i]] += x[i]. Ids outside [0, numSegments) are dropped,
 * as in tfjs.
 */
export function createUnsortedSegmentSumKernel(original: KernelFunc): KernelFunc {
  return asKernelFunc((args: CpuKernelArgs) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x!;
    const segmentIds = inputs.segmentIds!;
    const numSegments = attrs!.numSegments as number;
    if (x.dtype !== 'float32' || segmentIds.dtype !== 'int32' || segmentIds.shape.length !== 1 || x.shape[0] !== segmentIds.shape[0]) {
      return callKernel(original, args);
    }
    const rowShape = x.shape.slice(1);
    const row = sizeOf(rowShape);
    const xs = float32Values(backend, x);
    const ids = int32Values(backend, segmentIds);
    const totals = new Float64Array(numSegments * row);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id < 0 || id >= numSegments) continue;
      const src = i * row;
      const dst = id * row;
      for (let j = 0; j < row; j++) totals[dst + j] += xs[src + j]!;
    }
    const out = allocOutput(backend, totals.length);
    out.set(totals);
    return backend.makeTensorInfo([numSegments, ...rowShape], 'float32', out);
  });
}

/**
 * `GatherV2` of rows (axis 0, no batch dims), e.g. a codebook lookup:
 * contiguous row copies instead of tfjs-cpu's per-element TensorBuffer
 * indexing. Out-of-range indices go to the original kernel, which reports them.
 */
export function createGatherKernel(original: KernelFunc): KernelFunc {
  return asKernelFunc((args: CpuKernelArgs) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x!;
    const indices = inputs.indices!;
    const batchDims = (attrs?.batchDims as number | undefined) ?? 0;
    if (x.dtype !== 'float32' || indices.dtype !== 'int32' || batchDims !== 0 || x.shape.length === 0) return callKernel(original, args);
    if (util.parseAxisParam(attrs!.axis as number, x.shape)[0] !== 0) return callKernel(original, args);
    const rows = x.shape[0]!;
    const ids = int32Values(backend, indices);
    for (let i = 0; i < ids.length; i++) if (!(ids[i]! >= 0 && ids[i]! < rows)) return callKernel(original, args);
    const rowShape = x.shape.slice(1);
    const row = sizeOf(rowShape);
    const xs = float32Values(backend, x);
    const out = allocOutput(backend, ids.length * row);
    for (let i = 0; i < ids.length; i++) out.set(xs.subarray(ids[i]! * row, ids[i]! * row + row), i * row);
    return backend.makeTensorInfo([...indices.shape, ...rowShape], 'float32', out);
  });
}

/**
 * `ArgMin` of float32 over the last axis (e.g. a VQ's nearest code): SIMD
 * rows on the engine's threads instead of tfjs-cpu's scalar loop; other
 * axes and dtypes go to the original kernel.
 */
export function createArgMinKernel(vector: VectorOps, original: KernelFunc): KernelFunc {
  return asKernelFunc((args: CpuKernelArgs) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x!;
    const rank = x.shape.length;
    if (x.dtype !== 'float32' || rank === 0) return callKernel(original, args);
    const axes = util.parseAxisParam(attrs!.axis as number | number[], x.shape);
    if (axes.length !== 1 || axes[0] !== rank - 1) return callKernel(original, args);
    const cols = x.shape[rank - 1]!;
    const outShape = x.shape.slice(0, -1);
    const rows = sizeOf(outShape);
    if (cols === 0) return callKernel(original, args);
    const out = new Int32Array(rows);
    vector.argMinRows(float32Values(backend, x), rows, cols, out);
    return backend.makeTensorInfo(outShape, 'int32', out);
  });
}
