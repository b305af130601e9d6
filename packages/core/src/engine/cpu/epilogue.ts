/**
 * The bias + activation tail of tfjs's fused kernels (`_FusedMatMul`,
 * `FusedConv2D`), applied in place on the freshly computed GEMM output so the
 * common cases make no extra tensors. Element formulas are copied from
 * tfjs-backend-cpu so results are bit-identical to its unfused kernels.
 */
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { getKernel, type TensorInfo } from '@tensorflow/tfjs-core';
import { InvalidArgumentError } from '../../errors.js';
import { callKernel, float32Values, sizeOf } from './tensor-data.js';
import { jsVectorOps, type VectorOps } from './vector-ops.js';

/** tfjs's fused activation names. */
export type FusedActivation = 'linear' | 'relu' | 'relu6' | 'elu' | 'prelu' | 'leakyrelu' | 'sigmoid';

/** The per-channel vector a bias / prelu weight reduces to, or undefined when it broadcasts some other way. */
function channelVector(backend: MathBackendCPU, t: TensorInfo, outShape: readonly number[]): Float32Array | undefined {
  if (t.dtype !== 'float32' || t.shape.length > outShape.length) return undefined;
  const size = sizeOf(t.shape);
  const channels = outShape[outShape.length - 1] ?? 1;
  if (size === 1) return float32Values(backend, t);
  // Only a vector along the last axis (with optional leading 1s) broadcasts as `i % channels`.
  if (size !== channels || t.shape[t.shape.length - 1] !== channels) return undefined;
  return float32Values(backend, t);
}

/** Adds a per-channel (or scalar) bias in place. Returns false when the bias broadcasts differently. */
export function addBiasInPlace(backend: MathBackendCPU, out: Float32Array, outShape: readonly number[], bias: TensorInfo, vector: VectorOps = jsVectorOps): boolean {
  const b = channelVector(backend, bias, outShape);
  if (!b) return false;
  if (out.length > 0) vector.binary('add', out, b, out);
  return true;
}

/**
 * Applies `activation` in place. Returns false when it cannot (unknown name,
 * or prelu weights that do not reduce to a channel vector).
 */
export function activateInPlace(
  backend: MathBackendCPU,
  out: Float32Array,
  outShape: readonly number[],
  activation: string,
  preluWeights: TensorInfo | undefined,
  leakyreluAlpha: number,
  vector: VectorOps = jsVectorOps,
): boolean {
  switch (activation) {
    case 'linear':
      return true;
    case 'relu':
      vector.unary('relu', out, out);
      return true;
    case 'relu6':
      for (let i = 0; i < out.length; i++) out[i] = Math.min(Math.max(0, out[i]!), 6);
      return true;
    case 'elu':
      for (let i = 0; i < out.length; i++) {
        const v = out[i]!;
        out[i] = v >= 0 ? v : Math.exp(v) - 1;
      }
      return true;
    case 'sigmoid':
      for (let i = 0; i < out.length; i++) out[i] = 1 / (1 + Math.exp(-out[i]!));
      return true;
    case 'leakyrelu':
      for (let i = 0; i < out.length; i++) {
        const v = out[i]!;
        out[i] = v < 0 ? leakyreluAlpha * v : v;
      }
      return true;
    case 'prelu': {
      if (!preluWeights) return false;
      const alpha = channelVector(backend, preluWeights, outShape);
      if (!alpha) return false;
      const n = alpha.length;
      for (let i = 0; i < out.length; i++) {
        const v = out[i]!;
        out[i] = v < 0 ? alpha[i % n]! * v : v;
      }
      return true;
    }
    default:
      return false;
  }
}

/** The kernel that implements `activation` unfused, for the rare shapes the in-place path declines. */
function activationKernel(activation: string): string {
  const names: Record<string, string> = {
    linear: 'Identity',
    relu: 'Relu',
    relu6: 'Relu6',
    elu: 'Elu',
    prelu: 'Prelu',
    leakyrelu: 'LeakyRelu',
    sigmoid: 'Sigmoid',
  };
  const name = names[activation];
  if (!name) throw new InvalidArgumentError(`fused activation '${activation}' is not supported; use one of ${Object.keys(names).join(', ')}`);
  return name;
}

export interface EpilogueOptions {
  bias?: TensorInfo;
  activation?: string;
  preluActivationWeights?: TensorInfo;
  leakyreluAlpha?: number;
}

/**
 * Finishes a fused kernel: wraps `values` as a tensor, adds the bias and
 * applies the activation, in place when possible and otherwise through the
 * `cpu` backend's own kernels (which then own the intermediate tensors).
 */
export function finishFused(backend: MathBackendCPU, shape: number[], values: Float32Array, options: EpilogueOptions, vector: VectorOps = jsVectorOps): TensorInfo {
  const { bias, activation, preluActivationWeights } = options;
  const leakyreluAlpha = options.leakyreluAlpha ?? 0.2;
  let biasDone = bias === undefined || addBiasInPlace(backend, values, shape, bias, vector);
  let activationDone = false;
  if (biasDone && activation) activationDone = activateInPlace(backend, values, shape, activation, preluActivationWeights, leakyreluAlpha, vector);
  let result = backend.makeTensorInfo(shape, 'float32', values);
  if (!biasDone && bias) {
    const add = getKernel('Add', 'cpu')!.kernelFunc;
    const added = callKernel(add, { inputs: { a: result, b: bias }, backend });
    backend.disposeIntermediateTensorInfo(result);
    result = added;
    biasDone = true;
  }
  if (activation && !activationDone) {
    const kernelName = activationKernel(activation);
    const fn = getKernel(kernelName, 'cpu')!.kernelFunc;
    const inputs = kernelName === 'Prelu' ? { x: result, alpha: preluActivationWeights! } : { x: result };
    const activated = callKernel(fn, { inputs, backend, attrs: { alpha: leakyreluAlpha } });
    backend.disposeIntermediateTensorInfo(result);
    result = activated;
  }
  return result;
}
