import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyFilterbank, melFilterbank, stftMagnitude } from './dsp.js';
import { melFromSpectrogramTf, stftMagnitudeTf } from './dsp-tf.js';

function noise(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('stftMagnitudeTf', () => {
  const cases = [
    { nFft: 64, hopLength: 16, winLength: 64 },
    { nFft: 256, hopLength: 64, winLength: 200 },
    { nFft: 100, hopLength: 30, winLength: 80 }, // hop does not divide nFft: gather path
    { nFft: 64, hopLength: 16, center: false },
  ];

  it.each([777, 10, 1])('matches the plain-JS STFT for a batch of %i-sample signals', (n) => {
    const a = noise(n, 1);
    const b = noise(n, 2);
    for (const opts of cases) {
      const mag = stftMagnitudeTf(tf.tensor2d([...a, ...b], [2, n]), { ...opts, powerEpsilon: 0 });
      const got = mag.arraySync();
      for (const [i, x] of [a, b].entries()) {
        const ref = stftMagnitude(x, opts);
        expect(mag.shape).toEqual([2, ref.frames, ref.bins]);
        for (let f = 0; f < ref.frames; f++) {
          for (let k = 0; k < ref.bins; k++) expect(got[i]![f]![k]!).toBeCloseTo(ref.data[f * ref.bins + k]!, 3);
        }
      }
      mag.dispose();
    }
  });

  it('has finite, non-zero gradients and leaks no tensors', () => {
    const x = tf.tensor1d(noise(500, 3));
    const before = tf.memory().numTensors;
    for (const opts of cases) {
      const g = tf.grad((s: tf.Tensor) => stftMagnitudeTf(s, opts).sum())(x);
      const values = g.dataSync();
      expect(values.every(Number.isFinite)).toBe(true);
      expect(values.some((v) => v !== 0)).toBe(true);
      g.dispose();
    }
    // Silence: the power epsilon keeps √ differentiable.
    const z = tf.zeros([1, 300]);
    const gz = tf.grad((s: tf.Tensor) => stftMagnitudeTf(s, cases[0]!).sum())(z);
    expect(gz.dataSync().every(Number.isFinite)).toBe(true);
    tf.dispose([z, gz]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});

describe('melFromSpectrogramTf', () => {
  it('matches applyFilterbank', () => {
    const x = noise(1000, 4);
    const opts = { nFft: 256, hopLength: 64 };
    const ref = applyFilterbank(stftMagnitude(x, opts), melFilterbank({ sampleRate: 8000, nFft: 256, nMels: 40 }));
    const mag = stftMagnitudeTf(tf.tensor1d(x), { ...opts, powerEpsilon: 0 });
    const mel = melFromSpectrogramTf(mag, { sampleRate: 8000, nFft: 256, nMels: 40 });
    expect(mel.shape).toEqual([1, ref.frames, 40]);
    const got = mel.dataSync();
    for (let i = 0; i < ref.data.length; i++) expect(got[i]!).toBeCloseTo(ref.data[i]!, 4);
    tf.dispose([mag, mel]);
  });
});
