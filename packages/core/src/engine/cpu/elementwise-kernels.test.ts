import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { compareResults, randomArray, registerParityBackends, runOnBackend, seededRandom } from './parity-harness.js';
import { unregisterVqkitCpuBackend } from './register.js';

const backends = await registerParityBackends('elementwise-parity');
afterAll(() => backends.forEach((b) => (unregisterVqkitCpuBackend(b.name), b.gemm.dispose())));

const TOLERANCE = 1e-4;
const size = (shape: number[]) => shape.reduce((p, q) => p * q, 1);

describe.each(backends)('element-wise and reduction kernels on $name', ({ name }) => {
  it('Add/Sub/Mul/Div/SquaredDifference match tfjs cpu for same-shape, scalar, bias and general broadcasts', async () => {
    const random = seededRandom(21);
    const pairs: [number[], number[]][] = [
      [[4, 5, 6], [4, 5, 6]],
      [[4, 5, 6], []],
      [[], [3, 2]],
      [[4, 5, 6], [6]],
      [[6], [4, 5, 6]],
      [[4, 5, 6], [1, 5, 6]],
      [[1, 1, 6], [4, 5, 6]],
      [[3], [1, 3]],
      [[4, 5, 6], [4, 1, 6]],
      [[4, 1], [1, 5]],
      [[7, 1], [7, 9]],
      [[2, 1, 4, 1], [3, 1, 5]],
      [[6, 1, 1], [1, 4, 5]],
      [[2, 0, 3], [3]],
      [[7, 9], [7, 1]],
      [[4, 5, 1], [4, 5, 6]],
      [[3, 4, 5, 6], [4, 1, 1]],
      [[1, 4, 1, 1], [3, 4, 5, 6]],
    ];
    for (const [aShape, bShape] of pairs) {
      const a = randomArray(random, size(aShape));
      const b = randomArray(random, size(bShape)).map((v) => v + 2); // keep divisors away from 0
      const fn = () => {
        const ta = tf.tensor(a, aShape);
        const tb = tf.tensor(b, bShape);
        return [tf.add(ta, tb), tf.sub(ta, tb), tf.mul(ta, tb), tf.div(ta, tb), tf.squaredDifference(ta, tb)];
      };
      const err = compareResults(await runOnBackend(name, fn), await runOnBackend('cpu', fn));
      expect(err, `${aShape} op ${bShape}`).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('column-vector broadcasts and ArgMin over the last axis (a VQ distance matrix) match tfjs cpu, NaN/Inf/ties included', async () => {
    const random = seededRandom(28);
    const rows = 300;
    const cols = 64;
    const d = randomArray(random, rows * cols);
    // Ties (first index wins), NaN (never wins unless first), -0/+0 and infinities.
    d.set([-3, 5, -3, 1], 0);
    d.set([NaN, -9, 2, 3], cols);
    d.set([4, NaN, -1, -1], 2 * cols);
    d.set([0, -0, 0, 1], 3 * cols);
    d.set([Infinity, Infinity, NaN, Infinity], 4 * cols);
    for (let j = 4; j < cols; j++) d[4 * cols + j] = Infinity;
    d.set([-Infinity, 2], 5 * cols + 30);
    const clean = randomArray(random, rows * cols);
    const norms = randomArray(random, rows);
    const fn = () => {
      const td = tf.tensor2d(clean, [rows, cols]);
      const tn = tf.tensor2d(norms, [rows, 1]);
      return [tf.sub(tn, td), tf.add(td, tn), tf.mul(tn, td), tf.div(td, tf.add(tn, 3))];
    };
    expect(compareResults(await runOnBackend(name, fn), await runOnBackend('cpu', fn))).toBeLessThanOrEqual(TOLERANCE);
    const argMins = () => {
      const td = tf.tensor2d(d, [rows, cols]);
      return [tf.cast(tf.argMin(td, 1), 'float32'), tf.cast(tf.argMin(tf.reshape(td, [3, 100, cols]), -1), 'float32'), tf.cast(tf.argMin(td, 0), 'float32')];
    };
    const ours = await runOnBackend(name, argMins);
    const reference = await runOnBackend('cpu', argMins);
    expect(ours.shapes).toEqual(reference.shapes);
    for (let i = 0; i < 3; i++) expect(Array.from(ours.values[i]!)).toEqual(Array.from(reference.values[i]!));
  });

  it('trailing-axis Sum/Mean (row sums, whole-tensor means) and ZerosLike/OnesLike/Fill match tfjs cpu at SIMD sizes', async () => {
    const random = seededRandom(29);
    const x = randomArray(random, 3136 * 67);
    const fn = () => {
      const t = tf.tensor2d(x, [3136, 67]);
      const t3 = tf.reshape(t, [56, 56, 67]);
      return [
        tf.sum(t, 1), tf.sum(t, -1, true), tf.mean(t, 1), tf.mean(t), tf.sum(t), tf.mean(t3, [1, 2]), tf.sum(tf.square(t), 1, true),
        tf.zerosLike(t), tf.onesLike(t), tf.fill([5, 7], 2.5), tf.add(tf.zerosLike(t), t),
      ];
    };
    const ours = await runOnBackend(name, fn);
    const reference = await runOnBackend('cpu', fn);
    expect(compareResults(ours, reference)).toBeLessThanOrEqual(1e-6);
    const ints = () => [tf.cast(tf.zerosLike(tf.tensor1d([1, 2], 'int32')), 'float32'), tf.cast(tf.fill([3], 4, 'int32'), 'float32')];
    expect(compareResults(await runOnBackend(name, ints), await runOnBackend('cpu', ints))).toBe(0);
  });

  it('matches tfjs cpu on tensors large enough for the engine\'s SIMD, multi-threaded loops', async () => {
    const random = seededRandom(27);
    const x = randomArray(random, 64 * 33 * 35);
    const y = randomArray(random, 64 * 33 * 35).map((v) => v + 2);
    const bias = randomArray(random, 35);
    x.set([NaN, -0, 0], 500);
    const fn = () => {
      const tx = tf.tensor3d(x, [64, 33, 35]);
      const ty = tf.tensor3d(y, [64, 33, 35]);
      const tb = tf.tensor1d(bias);
      return [
        tf.add(tx, tb), tf.sub(tb, tx), tf.mul(tx, ty), tf.div(tx, ty), tf.squaredDifference(tx, ty), tf.mul(tx, 0.9), tf.div(1, ty),
        tf.relu(tx), tf.step(tx, 0.1), tf.square(tx), tf.sqrt(ty), tf.sum(tx, [0, 1]), tf.sum(tx, 0, true), tf.mean(tx, [0, 1]),
      ];
    };
    const ours = await runOnBackend(name, fn);
    const reference = await runOnBackend('cpu', fn);
    for (let i = 0; i < ours.values.length; i++) {
      expect(compareResults({ shapes: [ours.shapes[i]!], values: [ours.values[i]!.map((v) => (Number.isNaN(v) ? 0 : v))] }, {
        shapes: [reference.shapes[i]!], values: [reference.values[i]!.map((v) => (Number.isNaN(v) ? 0 : v))],
      }), `output ${i}`).toBeLessThanOrEqual(TOLERANCE);
      expect(ours.values[i]!.map((v) => Number(Number.isNaN(v))), `NaNs of output ${i}`).toEqual(reference.values[i]!.map((v) => Number(Number.isNaN(v))));
    }
    expect(Object.is(ours.values[7]![501], 0)).toBe(true); // relu(-0) is +0 as in tfjs
  });

  it('keeps int32 arithmetic exact and int32-typed', async () => {
    await tf.setBackend(name);
    const r = tf.tidy(() => tf.add(tf.tensor1d([1, 2, 3], 'int32'), tf.scalar(2, 'int32')));
    expect(r.dtype).toBe('int32');
    expect(Array.from(r.dataSync())).toEqual([3, 4, 5]);
    r.dispose();
  });

  it('Square and Sqrt match tfjs cpu (NaN for negative square roots on both)', async () => {
    const x = randomArray(seededRandom(26), 1000).map((v) => v * 3 + 1);
    const fn = () => [tf.square(tf.tensor1d(x)), tf.sqrt(tf.tensor1d(x))];
    const ours = await runOnBackend(name, fn);
    const reference = await runOnBackend('cpu', fn);
    expect(Array.from(ours.values[0]!)).toEqual(Array.from(reference.values[0]!));
    expect(Array.from(ours.values[1]!)).toEqual(Array.from(reference.values[1]!));
  });

  it('Relu, Step and the ReLU gradient match tfjs cpu, including NaN', async () => {
    const x = Float32Array.from([-2, -0, 0, 0.5, 3, NaN]);
    await tf.setBackend(name);
    const [relu, step, grad] = tf.tidy(() => {
      const t = tf.tensor1d(x);
      return [tf.relu(t), tf.step(t, 0.25), tf.grad((v: tf.Tensor) => tf.sum(tf.relu(v)))(t)];
    });
    expect(Array.from(relu!.dataSync())).toEqual([0, 0, 0, 0.5, 3, NaN]);
    expect(Array.from(step!.dataSync())).toEqual([0.25, 0.25, 0.25, 1, 1, NaN]);
    expect(Array.from(grad!.dataSync())).toEqual([0, 0, 0, 1, 1, NaN]);
    tf.dispose([relu!, step!, grad!]);
  });

  it('UnsortedSegmentSum (the gather gradient) matches tfjs cpu, dropping out-of-range ids', async () => {
    const random = seededRandom(23);
    const x = randomArray(random, 40 * 6);
    const ids = Int32Array.from({ length: 40 }, (_, i) => ((i * 7) % 13) - 1); // includes -1
    const codebook = randomArray(random, 12 * 6);
    const fn = () => [
      tf.unsortedSegmentSum(tf.tensor2d(x, [40, 6]), tf.tensor1d(ids, 'int32'), 12),
      tf.grad((c: tf.Tensor) => tf.sum(tf.square(tf.gather(c, tf.tensor1d(ids.map((v) => Math.max(v, 0)), 'int32')))))(tf.tensor2d(codebook, [12, 6])),
    ];
    const err = compareResults(await runOnBackend(name, fn), await runOnBackend('cpu', fn));
    expect(err).toBeLessThanOrEqual(TOLERANCE);
  });

  it('GatherV2 matches tfjs cpu for row gathers (and delegates other axes and bad indices)', async () => {
    const random = seededRandom(24);
    const x = randomArray(random, 10 * 3 * 4);
    const fn = () => {
      const t = tf.tensor3d(x, [10, 3, 4]);
      return [tf.gather(t, tf.tensor2d([0, 9, 3, 3, 5, 1], [2, 3], 'int32')), tf.gather(t, tf.tensor1d([2, 0], 'int32'), 1)];
    };
    const err = compareResults(await runOnBackend(name, fn), await runOnBackend('cpu', fn));
    expect(err).toBeLessThanOrEqual(TOLERANCE);
    await tf.setBackend(name);
    expect(() => tf.tidy(() => tf.gather(tf.ones([3, 2]), tf.tensor1d([3], 'int32')))).toThrow(/not in \[0, 2\]/);
  });

  it('Transpose matches tfjs cpu (identity, matrix, and delegated permutations)', async () => {
    const random = seededRandom(25);
    const m = randomArray(random, 37 * 45);
    const t = randomArray(random, 2 * 3 * 4);
    const fn = () => [
      tf.transpose(tf.tensor2d(m, [37, 45])),
      tf.transpose(tf.tensor2d(m, [37, 45]), [0, 1]),
      tf.transpose(tf.tensor3d(t, [2, 3, 4]), [2, 0, 1]),
    ];
    const err = compareResults(await runOnBackend(name, fn), await runOnBackend('cpu', fn));
    expect(err).toBeLessThanOrEqual(TOLERANCE);
  });

  it('Sum and Mean match tfjs cpu over leading, trailing, all and interior axes, with keepDims', async () => {
    const random = seededRandom(22);
    const x = randomArray(random, 3 * 4 * 5 * 6);
    const axesList: (number | number[] | undefined)[] = [undefined, 0, [0, 1, 2], -1, [2, 3], [1, 2, 3], 1, [0, 2], []];
    for (const axis of axesList) {
      for (const keepDims of [false, true]) {
        const fn = () => [tf.sum(tf.tensor4d(x, [3, 4, 5, 6]), axis, keepDims), tf.mean(tf.tensor4d(x, [3, 4, 5, 6]), axis, keepDims)];
        const err = compareResults(await runOnBackend(name, fn), await runOnBackend('cpu', fn));
        expect(err, `axis ${JSON.stringify(axis)} keepDims ${keepDims}`).toBeLessThanOrEqual(TOLERANCE);
      }
    }
  });
});
