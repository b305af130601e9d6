import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { referenceGemm, type GemmCall, type GemmEngine } from '../gemm.js';
import { registerVqkitCpuBackend, unregisterVqkitCpuBackend, VQKIT_CPU_KERNELS } from './register.js';

/** A GEMM engine that records its calls, to prove which kernels route through it. */
function countingGemm(): GemmEngine & { calls: GemmCall[] } {
  const calls: GemmCall[] = [];
  return { name: 'counting', threads: 1, calls, sgemm: (call) => (calls.push(call), referenceGemm.sgemm(call)), dispose() {} };
}

describe('registerVqkitCpuBackend', () => {
  const gemm = countingGemm();
  const name = registerVqkitCpuBackend({ name: 'vqkit-cpu-register-test', gemm });
  afterAll(() => unregisterVqkitCpuBackend(name));

  it('copies every cpu kernel and replaces the hot ones', () => {
    const cpuKernels = tf.getKernelsForBackend('cpu');
    const ours = new Map(tf.getKernelsForBackend(name).map((k) => [k.kernelName, k]));
    expect(ours.size).toBe(cpuKernels.length);
    for (const k of cpuKernels) {
      const mine = ours.get(k.kernelName);
      expect(mine, k.kernelName).toBeDefined();
      const replaced = (VQKIT_CPU_KERNELS as readonly string[]).includes(k.kernelName);
      expect(mine!.kernelFunc === k.kernelFunc, k.kernelName).toBe(!replaced);
    }
  });

  it('runs matmul and all convolution directions on the injected GEMM engine', async () => {
    await tf.setBackend(name);
    gemm.calls.length = 0;
    tf.tidy(() => {
      const x = tf.ones([1, 6, 6, 2]);
      const w = tf.ones([3, 3, 2, 4]);
      tf.matMul(tf.ones([2, 3]), tf.ones([3, 4]));
      tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')))([x, w]);
    });
    // matmul, conv forward, backprop input, backprop filter
    expect(gemm.calls.length).toBe(4);
    expect(gemm.calls.some((c) => c.transA)).toBe(true);
    expect(gemm.calls.some((c) => c.transB)).toBe(true);
  });

  it('leaves the global cpu backend untouched and refuses to replace it', () => {
    expect(tf.getKernel('BatchMatMul', 'cpu')!.backendName).toBe('cpu');
    expect(() => registerVqkitCpuBackend({ name: 'cpu', gemm: referenceGemm })).toThrow(/refusing/);
  });

  it('can be re-registered with another engine', async () => {
    const second = countingGemm();
    registerVqkitCpuBackend({ name, gemm: second });
    await tf.setBackend(name);
    tf.tidy(() => tf.matMul(tf.ones([2, 3]), tf.ones([3, 4])).dataSync());
    expect(second.calls.length).toBe(1);
  });
});
