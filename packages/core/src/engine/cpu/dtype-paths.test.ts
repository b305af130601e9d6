/**
 * Tensors whose storage is not a plain float32 array of their own: casts from
 * bool/int32 (tfjs-cpu shares the source's storage under the new dtype),
 * reshapes and clones (shared storage), complex parts, tensors moved in from
 * another backend, and storage recycled by the pool. Every fast kernel must
 * read them correctly; results must equal tfjs cpu's.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { compareResults, randomArray, registerParityBackends, runOnBackend, seededRandom } from './parity-harness.js';
import { unregisterVqkitCpuBackend } from './register.js';

const backends = await registerParityBackends('dtype-parity');
afterAll(() => backends.forEach((b) => (unregisterVqkitCpuBackend(b.name), b.gemm.dispose())));

const TOLERANCE = 1e-4;
const mask = [true, false, true, true, false, true];
const ints = [3, -1, 0, 7, 2, -4];

/** Computations whose float32 operands come from bool/int32 storage, by name. */
const castCases: Record<string, () => tf.Tensor | tf.Tensor[]> = {
  'mul by a bool cast to float32': () => tf.mul(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]), tf.cast(tf.tensor2d(mask, [2, 3], 'bool'), 'float32')),
  'add of an int32 cast as a bias': () => tf.add(tf.ones([4, 3]), tf.cast(tf.tensor1d([1, -2, 5], 'int32'), 'float32')),
  'sub/div/squaredDifference with a broadcast cast': () => {
    const c = tf.cast(tf.tensor2d([1, 2, 3], [3, 1], 'int32'), 'float32');
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
    return [tf.sub(c, x), tf.div(x, c), tf.squaredDifference(x, c)];
  },
  'gradients of maximum, minimum and clipByValue': () => {
    const x = tf.tensor1d([-1, 0.2, 0.5, 0.9, 2, 3]);
    const y = tf.tensor1d([0, 0.5, 0.5, 1, 1, 4]);
    const [gx, gy] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.maximum(a, b), tf.minimum(a, b))))([x, y]);
    return [gx!, gy!, tf.grad((a: tf.Tensor) => tf.sum(tf.square(tf.clipByValue(a, 0, 1))))(x)];
  },
  'gradient of where (select) and of prelu': () => {
    const x = tf.tensor1d([-1, 0.5, 2, -3, 4, -0.5]);
    const cond = tf.tensor1d(mask, 'bool');
    return [
      tf.grad((a: tf.Tensor) => tf.sum(tf.where(cond, tf.square(a), tf.mul(a, 3))))(x),
      tf.grad((a: tf.Tensor) => tf.sum(tf.prelu(a, tf.scalar(0.3))))(x),
    ];
  },
  'relu, step, square, sqrt, transpose, sum and mean of casts': () => {
    const c = tf.cast(tf.tensor2d(ints, [2, 3], 'int32'), 'float32');
    const b = tf.cast(tf.tensor2d(mask, [2, 3], 'bool'), 'float32');
    return [tf.relu(c), tf.step(c), tf.square(c), tf.sqrt(b), tf.transpose(c), tf.sum(c, 0), tf.mean(b, 1), tf.sum(b)];
  },
  'matMul, conv2d and its gradients on cast operands': () => {
    const a = tf.cast(tf.tensor2d(ints, [2, 3], 'int32'), 'float32');
    const w = tf.cast(tf.tensor2d(mask, [3, 2], 'bool'), 'float32');
    const x = tf.cast(tf.tensor4d(Array.from({ length: 2 * 5 * 5 * 2 }, (_, i) => (i * 7) % 5), [2, 5, 5, 2], 'int32'), 'float32') as tf.Tensor4D;
    const f = tf.cast(tf.tensor4d(Array.from({ length: 3 * 3 * 2 * 3 }, (_, i) => i % 3 === 0), [3, 3, 2, 3], 'bool'), 'float32') as tf.Tensor4D;
    const [gx, gf] = tf.grads((xi: tf.Tensor, fi: tf.Tensor) => tf.sum(tf.square(tf.conv2d(xi as tf.Tensor4D, fi as tf.Tensor4D, 2, 'same'))))([x, f]);
    return [tf.matMul(a, w), tf.conv2d(x, f, 1, 'same'), gx!, gf!];
  },
  'gather and unsortedSegmentSum of cast values, with bool-cast indices': () => {
    const table = tf.cast(tf.tensor2d(ints, [3, 2], 'int32'), 'float32');
    const ids = tf.cast(tf.tensor1d([true, false, true], 'bool'), 'int32');
    return [tf.gather(table, ids), tf.unsortedSegmentSum(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]), ids, 2)];
  },
  'reshapes and clones of casts (shared storage)': () => {
    const c = tf.cast(tf.tensor1d(ints, 'int32'), 'float32');
    return [tf.add(tf.reshape(c, [2, 3]), tf.clone(tf.reshape(c, [2, 3]))), tf.mul(tf.clone(c), c)];
  },
  'complex parts and a complex-to-float cast': () => {
    const z = tf.complex([1, -2, 3], [4, 5, -6]);
    return [tf.mul(tf.real(z), tf.imag(z)), tf.add(tf.cast(z, 'float32'), 1), tf.abs(tf.mul(z, z))];
  },
};

describe.each(backends)('float32 operands on non-float32 or shared storage on $name', ({ name }) => {
  it.each(Object.keys(castCases))('%s: matches tfjs cpu', async (caseName) => {
    const fn = castCases[caseName]!;
    const err = compareResults(await runOnBackend(name, fn), await runOnBackend('cpu', fn));
    expect(err).toBeLessThanOrEqual(TOLERANCE);
  });

  it('keeps the dtypes of casts (bool and int32 arithmetic is not routed through float32)', async () => {
    await tf.setBackend(name);
    const [asInt, asBool, sum] = tf.tidy(() => {
      const b = tf.tensor1d(mask, 'bool');
      const i = tf.cast(b, 'int32');
      return [i, tf.cast(tf.cast(b, 'float32'), 'bool'), tf.add(i, tf.scalar(2, 'int32'))];
    });
    expect([asInt!.dtype, asBool!.dtype, sum!.dtype]).toEqual(['int32', 'bool', 'int32']);
    expect(Array.from(sum!.dataSync())).toEqual([3, 2, 3, 3, 2, 3]);
    expect(Array.from(asBool!.dataSync())).toEqual([1, 0, 1, 1, 0, 1]);
    tf.dispose([asInt!, asBool!, sum!]);
  });

  it('a cast outlives its disposed source, and recycled storage never shows through', async () => {
    await tf.setBackend(name);
    const source = tf.tensor1d(ints, 'int32');
    const asFloat = tf.cast(source, 'float32');
    const view = tf.reshape(asFloat, [2, 3]);
    source.dispose();
    asFloat.dispose();
    for (let i = 0; i < 4; i++) tf.tidy(() => tf.relu(tf.fill([6], 9)).dataSync());
    const product = tf.mul(view, tf.fill([2, 3], 2));
    expect(Array.from(product.dataSync())).toEqual(ints.map((v) => 2 * v));
    expect(Array.from(view.dataSync())).toEqual(ints);
    tf.dispose([view, product]);
  });

  it('uses casts made on tfjs cpu after switching to this backend (moved storage)', async () => {
    await tf.setBackend('cpu');
    const fromBool = tf.cast(tf.tensor2d(mask, [2, 3], 'bool'), 'float32');
    const fromInt = tf.cast(tf.tensor1d([1, 2, 3], 'int32'), 'float32');
    await tf.setBackend(name);
    const r = tf.tidy(() => tf.add(tf.mul(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]), fromBool), fromInt));
    expect(Array.from(r.dataSync())).toEqual([2, 2, 6, 5, 2, 9]);
    tf.dispose([r, fromBool, fromInt]);
  });

  it('trains through maximum/clipByValue/where masks without leaking tensors', async () => {
    await tf.setBackend(name);
    const random = seededRandom(31);
    const w = tf.variable(tf.tensor2d(randomArray(random, 8 * 4), [8, 4]));
    const x = tf.tensor2d(randomArray(random, 16 * 8), [16, 8]);
    // A fixed condition (comparisons have no gradient), from a mix of signs.
    const positive = tf.greater(tf.matMul(x, tf.tensor2d(randomArray(random, 8 * 4), [8, 4])), 0);
    const optimizer = tf.train.adam(0.05);
    const step = () => {
      const loss = optimizer.minimize(() => {
        const h = tf.matMul(x, w);
        const masked = tf.where(positive, tf.maximum(h, 0.1), tf.clipByValue(h, -0.5, 0));
        return tf.mean(tf.square(tf.sub(masked, 0.3)));
      }, true, [w])!;
      const value = loss.dataSync()[0]!;
      loss.dispose();
      return value;
    };
    const first = step();
    step();
    const tensors = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 6; i++) last = step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(last).toBeLessThan(first);
    optimizer.dispose();
    tf.dispose([w, x, positive]);
  });
});
