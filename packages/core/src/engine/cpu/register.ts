/**
 * Registers the `vqkit-cpu` tfjs backend: a second `MathBackendCPU` instance
 * (same storage, same readback) whose kernel table starts as a copy of the
 * `cpu` backend's and then has the hot kernels replaced by GEMM-based ones.
 * tfjs's own `cpu` backend is left untouched, so both can run side by side
 * (which is how the parity tests compare them). Gradients are registered per
 * kernel name in tfjs-core and so apply to both.
 */
// The union package, not tfjs-core: it also registers the gradients every training step needs.
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs';
import { BackendError } from '../../errors.js';
import type { GemmEngine } from '../gemm.js';
import {
  columnOpsOf,
  ConvScratch,
  winogradOpsOf,
  createConv2D,
  createConv2DBackpropFilter,
  createConv2DBackpropInput,
  createFusedConv2D,
} from './conv-kernels.js';
import { createBinaryKernel, createCastKernel, createFillKernel, createStepKernel, createTransposeKernel, createUnaryKernel } from './elementwise-kernels.js';
import { createBatchMatMul, createFusedMatMul } from './matmul-kernels.js';
import { createArgMinKernel, createGatherKernel, createReduceKernel, createUnsortedSegmentSumKernel } from './reduce-kernels.js';
import { PooledCpuBackend } from './pooled-backend.js';
import { allocatorOf } from './tensor-data.js';
import { vectorOpsOf, type VectorOps } from './vector-ops.js';

export interface VqkitCpuBackendOptions {
  /** The GEMM engine every matmul/convolution kernel calls. */
  gemm: GemmEngine;
  /** tfjs backend name to register; default `'vqkit-cpu'` (tests register private names). */
  name?: string;
  /**
   * tfjs selection priority; default 0, below `cpu`'s 1, so merely loading
   * vqkit never changes which backend `tf.ready()` picks on its own.
   */
  priority?: number;
}

/** Kernels this backend implements itself (everything else is tfjs-cpu's). */
export const VQKIT_CPU_KERNELS = [
  'BatchMatMul',
  '_FusedMatMul',
  'Conv2D',
  'FusedConv2D',
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'Add',
  'Sub',
  'Multiply',
  'RealDiv',
  'Relu',
  'Step',
  'Sum',
  'Mean',
  'UnsortedSegmentSum',
  'GatherV2',
  'Transpose',
  'SquaredDifference',
  'Square',
  'Sqrt',
  'Cast',
  'ArgMin',
  'ZerosLike',
  'OnesLike',
  'Fill',
] as const;

/** State kept per registered backend name so it can be re-registered with another engine. */
const registered = new Map<string, { scratch: ConvScratch; kernelNames: string[] }>();

function overrides(gemm: GemmEngine, vector: VectorOps, scratch: ConvScratch, original: (name: string) => KernelFunc): Map<string, KernelFunc> {
  return new Map<string, KernelFunc>([
    ['BatchMatMul', createBatchMatMul(gemm, original('BatchMatMul'))],
    ['_FusedMatMul', createFusedMatMul(gemm, original('_FusedMatMul'), vector)],
    ['Conv2D', createConv2D(gemm, scratch, original('Conv2D'))],
    ['FusedConv2D', createFusedConv2D(gemm, scratch, original('FusedConv2D'), vector)],
    ['Conv2DBackpropInput', createConv2DBackpropInput(gemm, scratch, original('Conv2DBackpropInput'))],
    ['Conv2DBackpropFilter', createConv2DBackpropFilter(gemm, scratch, original('Conv2DBackpropFilter'))],
    ['Add', createBinaryKernel('add', vector, original('Add'))],
    ['Sub', createBinaryKernel('sub', vector, original('Sub'))],
    ['Multiply', createBinaryKernel('mul', vector, original('Multiply'))],
    ['RealDiv', createBinaryKernel('div', vector, original('RealDiv'))],
    ['Relu', createUnaryKernel('relu', vector, original('Relu'))],
    ['Step', createStepKernel(vector, original('Step'))],
    ['Sum', createReduceKernel('sum', vector, original('Sum'))],
    ['Mean', createReduceKernel('mean', vector, original('Mean'))],
    ['UnsortedSegmentSum', createUnsortedSegmentSumKernel(original('UnsortedSegmentSum'))],
    ['GatherV2', createGatherKernel(original('GatherV2'))],
    ['Transpose', createTransposeKernel(original('Transpose'))],
    ['SquaredDifference', createBinaryKernel('sqdiff', vector, original('SquaredDifference'))],
    ['Square', createUnaryKernel('square', vector, original('Square'))],
    ['Sqrt', createUnaryKernel('sqrt', vector, original('Sqrt'))],
    ['Cast', createCastKernel(original('Cast'))],
    ['ArgMin', createArgMinKernel(vector, original('ArgMin'))],
    ['ZerosLike', createFillKernel('zerosLike', original('ZerosLike'))],
    ['OnesLike', createFillKernel('onesLike', original('OnesLike'))],
    ['Fill', createFillKernel('fill', original('Fill'))],
  ]);
}

/** Removes a backend registered by `registerVqkitCpuBackend` (and its kernels). No-op when absent. */
export function unregisterVqkitCpuBackend(name = 'vqkit-cpu'): void {
  const state = registered.get(name);
  if (!state) return;
  for (const kernelName of state.kernelNames) tf.unregisterKernel(kernelName, name);
  if (tf.findBackendFactory(name)) tf.removeBackend(name);
  state.scratch.release();
  registered.delete(name);
}

/**
 * Registers (or re-registers, replacing the engine) a fast CPU backend.
 * Returns the backend name.
 */
export function registerVqkitCpuBackend(options: VqkitCpuBackendOptions): string {
  const name = options.name ?? 'vqkit-cpu';
  if (name === 'cpu') throw new BackendError("refusing to replace tfjs's own 'cpu' backend; pick another name");
  unregisterVqkitCpuBackend(name);
  const cpuKernels = tf.getKernelsForBackend('cpu');
  if (cpuKernels.length === 0) {
    throw new BackendError("tfjs's cpu kernels are not registered; import '@tensorflow/tfjs' or '@tensorflow/tfjs-backend-cpu' first");
  }
  const byName = new Map(cpuKernels.map((k) => [k.kernelName, k] as const));
  const original = (kernelName: string): KernelFunc => {
    const config = byName.get(kernelName);
    if (!config) throw new BackendError(`tfjs's cpu backend has no ${kernelName} kernel; is @tensorflow/tfjs-backend-cpu 4.22 installed?`);
    return config.kernelFunc;
  };
  const allocator = allocatorOf(options.gemm);
  const scratch = new ConvScratch(allocator, columnOpsOf(options.gemm), winogradOpsOf(options.gemm));
  const fast = overrides(options.gemm, vectorOpsOf(options.gemm), scratch, original);
  if (!tf.registerBackend(name, () => new PooledCpuBackend({ allocator }), options.priority ?? 0)) {
    throw new BackendError(`a tfjs backend named '${name}' is already registered by someone else`);
  }
  const kernelNames: string[] = [];
  for (const config of cpuKernels) {
    const kernelFunc = fast.get(config.kernelName) ?? config.kernelFunc;
    const copy: KernelConfig = { ...config, backendName: name, kernelFunc };
    tf.registerKernel(copy);
    kernelNames.push(config.kernelName);
  }
  registered.set(name, { scratch, kernelNames });
  return name;
}
