/**
 * Helpers to compare two tfjs backends on the same computation (used by the
 * kernel parity tests; also handy when adding a kernel).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BackendError } from '../../errors.js';
import { referenceGemm, type GemmEngine } from '../gemm.js';
import { loadGemmEngine } from './index.js';
import { registerVqkitCpuBackend } from './register.js';

/** A deterministic uniform generator in [-1, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  };
}

export function randomArray(random: () => number, size: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = random();
  return out;
}

/** A random integer in [lo, hi]. */
export function randomInt(random: () => number, lo: number, hi: number): number {
  return lo + Math.floor(((random() + 1) / 2) * (hi - lo + 1));
}

export interface BackendResult {
  shapes: number[][];
  values: Float32Array[];
}

/** Runs `fn` with `backend` active and returns copies of its outputs (all intermediates disposed). */
export async function runOnBackend(backend: string, fn: () => tf.Tensor | tf.Tensor[]): Promise<BackendResult> {
  if (!(await tf.setBackend(backend))) throw new BackendError(`backend ${backend} failed to initialise`);
  const outs = tf.tidy(() => {
    const r = fn();
    return Array.isArray(r) ? r : [r];
  });
  const result = { shapes: outs.map((t) => t.shape.slice()), values: outs.map((t) => Float32Array.from(t.dataSync())) };
  tf.dispose(outs);
  return result;
}

/** ‖a − b‖∞ / max(‖b‖∞, tiny): the error measure the parity tests bound. */
export function relativeError(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= diff)) diff = d; // NaN-propagating max
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / Math.max(scale, 1e-30);
}

/** The largest relative error over outputs, or Infinity when shapes differ. */
export function compareResults(actual: BackendResult, expected: BackendResult): number {
  if (actual.shapes.length !== expected.shapes.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < actual.shapes.length; i++) {
    if (actual.shapes[i]!.join(',') !== expected.shapes[i]!.join(',')) return Infinity;
    worst = Math.max(worst, relativeError(actual.values[i]!, expected.values[i]!));
  }
  return worst;
}

/**
 * Registers one test backend per available GEMM engine: always the
 * JavaScript reference, plus the WebAssembly engine when it loads.
 */
export async function registerParityBackends(prefix: string): Promise<{ name: string; gemm: GemmEngine }[]> {
  const backends = [{ name: `${prefix}-js`, gemm: referenceGemm as GemmEngine }];
  // Two threads so the kernels also run through the engine's parallel split.
  const wasm = await loadGemmEngine(2);
  if (!wasm.fallbackReason) backends.push({ name: `${prefix}-wasm`, gemm: wasm.engine });
  for (const b of backends) registerVqkitCpuBackend({ name: b.name, gemm: b.gemm });
  return backends;
}
