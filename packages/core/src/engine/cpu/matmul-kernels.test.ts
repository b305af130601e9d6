import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { compareResults, randomArray, randomInt, registerParityBackends, runOnBackend, seededRandom } from './parity-harness.js';
import { unregisterVqkitCpuBackend } from './register.js';

const backends = await registerParityBackends('matmul-parity');
afterAll(() => backends.forEach((b) => (unregisterVqkitCpuBackend(b.name), b.gemm.dispose())));

const TOLERANCE = 1e-4;

describe.each(backends)('BatchMatMul / _FusedMatMul on $name', ({ name }) => {
  it('matches tfjs cpu on random shapes and transposes', async () => {
    const random = seededRandom(1);
    for (let trial = 0; trial < 24; trial++) {
      const m = randomInt(random, 1, 33);
      const n = randomInt(random, 1, 33);
      const k = randomInt(random, 1, 40);
      const transposeA = trial % 2 === 1;
      const transposeB = trial % 4 >= 2;
      const a = randomArray(random, m * k);
      const b = randomArray(random, k * n);
      const fn = () =>
        tf.matMul(tf.tensor2d(a, transposeA ? [k, m] : [m, k]), tf.tensor2d(b, transposeB ? [n, k] : [k, n]), transposeA, transposeB);
      const err = compareResults(await runOnBackend(name, fn), await runOnBackend('cpu', fn));
      expect(err, `m=${m} n=${n} k=${k} tA=${transposeA} tB=${transposeB}`).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('matches tfjs cpu with batch dimensions and broadcasting', async () => {
    const random = seededRandom(2);
    const cases: [number[], number[], boolean, boolean][] = [
      [[3, 5, 7], [3, 7, 4], false, false],
      [[3, 7, 5], [3, 4, 7], true, true],
      [[2, 3, 5, 7], [7, 6], false, false],
      [[1, 5, 7], [4, 7, 6], false, false],
      [[4, 5, 7], [1, 6, 7], false, true],
      [[2, 3, 6, 5], [2, 3, 6, 4], true, false],
      [[5, 7], [3, 7, 2], false, false],
    ];
    for (const [aShape, bShape, transposeA, transposeB] of cases) {
      const a = randomArray(random, aShape.reduce((p, q) => p * q, 1));
      const b = randomArray(random, bShape.reduce((p, q) => p * q, 1));
      const fn = () => tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), transposeA, transposeB);
      const err = compareResults(await runOnBackend(name, fn), await runOnBackend('cpu', fn));
      expect(err, `${aShape} x ${bShape}`).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('fuses bias and every activation like tfjs cpu', async () => {
    const random = seededRandom(3);
    const activations = ['linear', 'relu', 'relu6', 'elu', 'prelu', 'leakyrelu', 'sigmoid'] as const;
    for (const activation of activations) {
      for (const biasShape of [[6], [1], [4, 6]]) {
        const a = randomArray(random, 4 * 9);
        const b = randomArray(random, 9 * 6);
        const bias = randomArray(random, biasShape.reduce((p, q) => p * q, 1));
        const alpha = randomArray(random, 6);
        const fn = () =>
          tf.fused.matMul({
            a: tf.tensor2d(a, [4, 9]),
            b: tf.tensor2d(b, [9, 6]),
            bias: tf.tensor(bias, biasShape),
            activation,
            preluActivationWeights: activation === 'prelu' ? tf.tensor1d(alpha) : undefined,
            leakyreluAlpha: 0.3,
          });
        const err = compareResults(await runOnBackend(name, fn), await runOnBackend('cpu', fn));
        expect(err, `${activation} bias ${biasShape}`).toBeLessThanOrEqual(TOLERANCE);
      }
    }
  });

  it('delegates int32 products to the original kernel (exact, int32-typed)', async () => {
    await tf.setBackend(name);
    const product = tf.tidy(() => tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), tf.tensor2d([5, 6, 7, 8], [2, 2], 'int32')));
    expect(product.dtype).toBe('int32');
    expect(Array.from(product.dataSync())).toEqual([19, 22, 43, 50]);
    product.dispose();
  });

  it('rejects mismatched inner dimensions with tfjs error', async () => {
    await tf.setBackend(name);
    expect(() => tf.matMul(tf.ones([2, 3]), tf.ones([4, 2]))).toThrow(/inner shapes/);
  });

  it('matches gradients of a fused dense layer', async () => {
    const random = seededRandom(4);
    const x = randomArray(random, 8 * 5);
    const w = randomArray(random, 5 * 3);
    const bias = randomArray(random, 3);
    const fn = () => {
      const grads = tf.grads((xs: tf.Tensor, ws: tf.Tensor, bs: tf.Tensor) =>
        tf.sum(tf.fused.matMul({ a: xs as tf.Tensor2D, b: ws as tf.Tensor2D, bias: bs, activation: 'relu' })),
      );
      return grads([tf.tensor2d(x, [8, 5]), tf.tensor2d(w, [5, 3]), tf.tensor1d(bias)]);
    };
    const err = compareResults(await runOnBackend(name, fn), await runOnBackend('cpu', fn));
    expect(err).toBeLessThanOrEqual(TOLERANCE);
  });
});
