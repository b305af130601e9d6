import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { initEngine } from '../backend.js';
import { referenceGemm } from '../gemm.js';
import { loadGemmEngine, vqkitCpuGemm } from './index.js';
import { unregisterVqkitCpuBackend } from './register.js';

describe('vqkit-cpu provider', () => {
  afterAll(() => {
    unregisterVqkitCpuBackend('vqkit-cpu');
    vqkitCpuGemm()?.engine.dispose();
  });

  it('is what initEngine selects for vqkit-cpu, and reports its GEMM engine', async () => {
    const info = await initEngine({ backend: 'vqkit-cpu', threads: 2 });
    expect(info.backend).toBe('vqkit-cpu');
    expect(tf.getBackend()).toBe('vqkit-cpu');
    expect(info.description).toMatch(/^vqkit-cpu \(.*2 threads/);
    const loaded = vqkitCpuGemm()!;
    expect(info.description).toContain(loaded.engine.name);
    if (loaded.fallbackReason) expect(info.description).toContain(loaded.fallbackReason);
    const product = tf.tidy(() => Array.from(tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.eye(2)).dataSync()));
    expect(product).toEqual([1, 2, 3, 4]);
  });

  it('falls back to the JavaScript reference GEMM with a reason when the WebAssembly engine cannot start', async () => {
    const loaded = await loadGemmEngine(0); // an invalid thread count makes the wasm engine refuse
    expect(loaded.engine).toBe(referenceGemm);
    expect(loaded.fallbackReason).toMatch(/WebAssembly GEMM engine unavailable \(.*threads/);
  });
});
