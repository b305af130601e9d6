import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@vqkit/core';
import { l1Loss, melLoss, multiResolutionStftLoss, stftLossTerms } from './losses.js';

function noise(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

/** A voiced-speech-like test signal: harmonics of 150 Hz under an envelope, at 8 kHz. */
function speechLike(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => {
    const t = i / 8000;
    let v = 0;
    for (let h = 1; h <= 12; h++) v += Math.sin(2 * Math.PI * 150 * h * t + h) / h;
    return 0.3 * v * Math.sin((Math.PI * i) / n);
  });
}

const losses: [string, (p: tf.Tensor, t: tf.Tensor) => tf.Scalar][] = [
  ['l1', l1Loss],
  ['multi-resolution STFT', (p, t) => multiResolutionStftLoss(p, t)],
  ['mel', (p, t) => melLoss(p, t, { sampleRate: 8000 })],
];

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe.each(losses)('%s loss', (_name, loss) => {
  const n = 800;
  const clean = speechLike(n);
  const noiseA = noise(n, 7);
  const noiseB = noise(n, 8);
  const batchOf = (noiseLevel: number): tf.Tensor2D => {
    const a = clean.map((v, i) => v + noiseLevel * noiseA[i]!);
    const b = clean.map((v, i) => 0.5 * v + noiseLevel * noiseB[i]!);
    return tf.tensor2d([...a, ...b], [2, n]);
  };

  it('is zero for identical signals and grows with noise', () => {
    const target = batchOf(0);
    const values = [0, 0.003, 0.03, 0.3].map((level) => {
      const pred = batchOf(level);
      const value = loss(pred, target).dataSync()[0]!;
      pred.dispose();
      return value;
    });
    expect(values[0]).toBeCloseTo(0, 6);
    for (let i = 1; i < values.length; i++) expect(values[i]!).toBeGreaterThan(values[i - 1]!);
    target.dispose();
  });

  it('has finite, non-zero gradients (also for a silent target) and leaks nothing', () => {
    const before = tf.memory().numTensors;
    const target = batchOf(0);
    const pred = batchOf(0.05);
    const silent = tf.zeros([2, n]);
    for (const t of [target, silent]) {
      const g = tf.grad((p: tf.Tensor) => loss(p, t))(pred);
      const values = g.dataSync();
      expect(values.every(Number.isFinite)).toBe(true);
      expect(values.some((v) => v !== 0)).toBe(true);
      g.dispose();
    }
    tf.dispose([target, pred, silent]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('decreases under gradient descent from a noisy start', () => {
    const target = batchOf(0);
    const pred = tf.variable(batchOf(0.1));
    const optimizer = tf.train.adam(0.005);
    const first = loss(pred, target).dataSync()[0]!;
    for (let step = 0; step < 8; step++) optimizer.minimize(() => loss(pred, target));
    const last = loss(pred, target).dataSync()[0]!;
    expect(last).toBeLessThan(0.9 * first);
    tf.dispose([target, pred]);
    optimizer.dispose();
  });
});

describe('STFT loss terms', () => {
  it('spectral convergence of a scaled signal is |1 − g|', () => {
    const x = tf.tensor1d(noise(1200, 9));
    const { spectralConvergence, logMagnitude } = stftLossTerms(tf.mul(x, 0.5), x, { nFft: 128, hopLength: 32, winLength: 128 });
    expect(spectralConvergence.dataSync()[0]).toBeCloseTo(0.5, 2);
    // ln 2 wherever the magnitude is well above the floor (almost every bin of white noise).
    expect(logMagnitude.dataSync()[0]!).toBeGreaterThan(0.65);
    expect(logMagnitude.dataSync()[0]!).toBeLessThanOrEqual(Math.log(2) + 1e-4);
  });

  it('rejects mismatched shapes', () => {
    expect(() => l1Loss(tf.zeros([10]), tf.zeros([11]))).toThrow(InvalidArgumentError);
    expect(() => multiResolutionStftLoss(tf.zeros([1, 10]), tf.zeros([10]))).toThrow(InvalidArgumentError);
  });
});

describe('on the vqkit-cpu engine', () => {
  it('gives the same losses and gradients as tfjs cpu', async (ctx) => {
    const { initEngine } = await import('@vqkit/core');
    const fast = await initEngine({ backend: 'vqkit-cpu' }).catch(() => undefined);
    if (fast === undefined) ctx.skip('vqkit-cpu engine is not available in this build');
    const n = 800;
    const jitter = noise(2 * n, 21);
    const pred = Float32Array.from({ length: 2 * n }, (_, i) => Math.sin(i * 0.37) * 0.3 + 0.05 * jitter[i]!);
    const target = Float32Array.from({ length: 2 * n }, (_, i) => Math.sin(i * 0.37) * 0.3);
    const run = (): { values: number[]; grads: Float32Array[] } => {
      const p = tf.tensor2d(pred, [2, n]);
      const t = tf.tensor2d(target, [2, n]);
      const values: number[] = [];
      const grads: Float32Array[] = [];
      for (const [, loss] of losses) {
        values.push(loss(p, t).dataSync()[0]!);
        const g = tf.grad((x: tf.Tensor) => loss(x, t))(p);
        grads.push(g.dataSync() as Float32Array);
        g.dispose();
      }
      tf.dispose([p, t]);
      return { values, grads };
    };
    const onFast = run();
    await tf.setBackend('cpu');
    const onCpu = run();
    onCpu.values.forEach((v, i) => expect(onFast.values[i]!).toBeCloseTo(v, 4));
    onCpu.grads.forEach((g, i) => {
      const scale = g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const diff = g.reduce((m, v, j) => Math.max(m, Math.abs(v - onFast.grads[i]![j]!)), 0);
      expect(diff / scale).toBeLessThan(1e-3);
    });
  });
});
