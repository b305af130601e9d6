/**
 * `BatchMatMul` and `_FusedMatMul` on the injected GEMM engine.
 */
import { broadcast_util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { GemmEngine } from '../gemm.js';
import { finishFused } from './epilogue.js';
import { allFloat32, allocOutput, asKernelFunc, callKernel, float32Values, sizeOf, type CpuKernelArgs } from './tensor-data.js';
import { jsVectorOps, type VectorOps } from './vector-ops.js';

interface MatMulPlan {
  outShape: number[];
  /** Values of op(A) batches, op(B) batches and the output batches. */
  batchA: number;
  batchB: number;
  batch: number;
  m: number;
  n: number;
  k: number;
  outerA: number[];
  outerB: number[];
  outerOut: number[];
}

/** Shape bookkeeping identical to tfjs's, or undefined when the inner dims disagree (the original kernel then reports it). */
function planMatMul(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): MatMulPlan | undefined {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return undefined;
  const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kB = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  if (k !== kB) return undefined;
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const outerOut = broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  return {
    outShape: [...outerOut, m, n],
    batchA: sizeOf(outerA),
    batchB: sizeOf(outerB),
    batch: sizeOf(outerOut),
    m,
    n,
    k,
    outerA,
    outerB,
    outerOut,
  };
}

/** Flat index of the operand batch that output batch `index` reads, under numpy broadcasting. */
function broadcastBatchIndex(index: number, outer: number[], operandOuter: number[]): number {
  const offset = outer.length - operandOuter.length;
  let result = 0;
  let rest = index;
  let stride = 1;
  const locs: number[] = new Array(outer.length);
  for (let d = outer.length - 1; d >= 0; d--) {
    locs[d] = rest % outer[d]!;
    rest = Math.floor(rest / outer[d]!);
  }
  for (let d = operandOuter.length - 1; d >= 0; d--) {
    const size = operandOuter[d]!;
    const loc = size === 1 ? 0 : locs[d + offset]!;
    result += loc * stride;
    stride *= size;
  }
  return result;
}

/** C (batch × m × n) = op(A)·op(B) for every output batch. */
export function runBatchMatMul(
  gemm: GemmEngine,
  aValues: Float32Array,
  bValues: Float32Array,
  plan: MatMulPlan,
  transA: boolean,
  transB: boolean,
  c: Float32Array,
): Float32Array {
  const { m, n, k, batch, batchA, batchB } = plan;
  if (c.length === 0) return c;
  if (k === 0) return c.fill(0); // an empty sum is zero
  const sizeA = m * k;
  const sizeB = k * n;
  if (batchB === 1 && !transA && batchA === batch) {
    // A shared right operand: fold the batches into the rows of one big GEMM, which tiles better.
    gemm.sgemm({ m: m * batch, n, k, a: aValues, b: bValues, c, transB });
  } else if ((batchA === batch || batchA === 1) && (batchB === batch || batchB === 1)) {
    gemm.sgemm({
      m, n, k, a: aValues, b: bValues, c, transA, transB, batch,
      strideA: batchA === 1 ? 0 : sizeA,
      strideB: batchB === 1 ? 0 : sizeB,
      strideC: m * n,
    });
  } else {
    for (let p = 0; p < batch; p++) {
      gemm.sgemm({
        m, n, k, a: aValues, b: bValues, c, transA, transB,
        offsetA: broadcastBatchIndex(p, plan.outerOut, plan.outerA) * sizeA,
        offsetB: broadcastBatchIndex(p, plan.outerOut, plan.outerB) * sizeB,
        offsetC: p * m * n,
      });
    }
  }
  return c;
}

/** `BatchMatMul` (also what `tf.matMul` and dense layers run). */
export function createBatchMatMul(gemm: GemmEngine, original: KernelFunc): KernelFunc {
  return asKernelFunc((args: CpuKernelArgs) => {
    const { inputs, backend, attrs } = args;
    const a = inputs.a!;
    const b = inputs.b!;
    const transposeA = Boolean(attrs?.transposeA);
    const transposeB = Boolean(attrs?.transposeB);
    const plan = allFloat32(a, b) ? planMatMul(a, b, transposeA, transposeB) : undefined;
    if (!plan) return callKernel(original, args);
    const c = runBatchMatMul(gemm, float32Values(backend, a), float32Values(backend, b), plan, transposeA, transposeB, allocOutput(backend, sizeOf(plan.outShape)));
    return backend.makeTensorInfo(plan.outShape, 'float32', c);
  });
}

/** `_FusedMatMul`: the GEMM followed by the bias/activation epilogue in place. */
export function createFusedMatMul(gemm: GemmEngine, original: KernelFunc, vector: VectorOps = jsVectorOps): KernelFunc {
  return asKernelFunc((args: CpuKernelArgs) => {
    const { inputs, backend, attrs } = args;
    const a = inputs.a!;
    const b = inputs.b!;
    const transposeA = Boolean(attrs?.transposeA);
    const transposeB = Boolean(attrs?.transposeB);
    const plan = allFloat32(a, b) ? planMatMul(a, b, transposeA, transposeB) : undefined;
    if (!plan) return callKernel(original, args);
    const c = runBatchMatMul(gemm, float32Values(backend, a), float32Values(backend, b), plan, transposeA, transposeB, allocOutput(backend, sizeOf(plan.outShape)));
    return finishFused(backend, plan.outShape, c, {
      bias: inputs.bias,
      activation: attrs?.activation as string | undefined,
      preluActivationWeights: inputs.preluActivationWeights,
      leakyreluAlpha: attrs?.leakyreluAlpha as number | undefined,
    }, vector);
  });
}
