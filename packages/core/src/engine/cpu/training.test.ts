/**
 * End-to-end checks on a small conv net (conv2d, conv2dTranspose, conv1d,
 * dense, relu): gradients equal to tfjs cpu's, loss decreasing, and no tensor
 * leaks or storage aliasing across training steps with pooled storage.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { compareResults, randomArray, registerParityBackends, runOnBackend, seededRandom } from './parity-harness.js';
import { unregisterVqkitCpuBackend } from './register.js';

const backends = await registerParityBackends('training-parity');
afterAll(() => backends.forEach((b) => (unregisterVqkitCpuBackend(b.name), b.gemm.dispose())));

const TOLERANCE = 1e-4;

interface SmallNet {
  variables: tf.Variable[];
  loss(x: tf.Tensor4D): tf.Scalar;
}

function createSmallNet(seed: number): SmallNet {
  const random = seededRandom(seed);
  const v = (shape: number[], scale: number) => tf.variable(tf.tensor(randomArray(random, shape.reduce((p, q) => p * q, 1)).map((x) => x * scale), shape));
  const w1 = v([3, 3, 2, 8], 0.4);
  const b1 = v([8], 0.1);
  const w2 = v([4, 4, 8, 8], 0.2); // stride-2 conv
  const wt = v([4, 4, 4, 8], 0.2); // conv2dTranspose back up: [h, w, out, in]
  const w1d = v([3, 4, 4], 0.3);
  const dense = v([4, 3], 0.3);
  const denseBias = v([3], 0.1);
  return {
    variables: [w1, b1, w2, wt, w1d, dense, denseBias],
    loss(x) {
      const n = x.shape[0];
      const h1 = tf.relu(tf.add(tf.conv2d(x, w1 as tf.Tensor4D, 1, 'same'), b1));
      const h2 = tf.relu(tf.conv2d(h1, w2 as tf.Tensor4D, 2, 'same'));
      const up = tf.relu(tf.conv2dTranspose(h2, wt as tf.Tensor4D, [n, 8, 8, 4], 2, 'same'));
      const seq = tf.reshape(up, [n, 64, 4]);
      const c1 = tf.relu(tf.conv1d(seq, w1d as tf.Tensor3D, 2, 'valid'));
      const pooled = tf.mean(c1, 1);
      const logits = tf.add(tf.matMul(pooled, dense), denseBias);
      return tf.mean(tf.square(tf.sub(logits, tf.ones([n, 3]))));
    },
  };
}

describe.each(backends)('training a small conv net on $name', ({ name }) => {
  it('produces the same loss and gradients as tfjs cpu', async () => {
    const x = randomArray(seededRandom(5), 3 * 8 * 8 * 2);
    const fn = () => {
      const net = createSmallNet(9);
      const { value, grads } = tf.variableGrads(() => net.loss(tf.tensor4d(x, [3, 8, 8, 2])), net.variables);
      const out = [value, ...net.variables.map((v) => grads[v.name]!)];
      net.variables.forEach((v) => v.dispose());
      return out;
    };
    const ours = await runOnBackend(name, fn);
    const reference = await runOnBackend('cpu', fn);
    expect(ours.values[1]!.some((g) => g !== 0)).toBe(true);
    expect(compareResults(ours, reference)).toBeLessThanOrEqual(TOLERANCE);
  });

  it('trains with Adam without leaking tensors and with a decreasing loss', async () => {
    await tf.setBackend(name);
    const net = createSmallNet(10);
    const optimizer = tf.train.adam(0.01);
    const x = tf.tensor4d(randomArray(seededRandom(6), 4 * 8 * 8 * 2), [4, 8, 8, 2]);
    const step = () => {
      const loss = optimizer.minimize(() => net.loss(x), true, net.variables)!;
      const value = loss.dataSync()[0]!;
      loss.dispose();
      return value;
    };
    const first = step();
    step(); // Adam creates its slot variables during the first steps
    const tensors = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 8; i++) last = step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(last).toBeLessThan(first);
    optimizer.dispose();
    net.variables.forEach((v) => v.dispose());
    x.dispose();
  });
});

describe.each(backends)('several training steps on $name', ({ name }) => {
  it('match tfjs cpu step by step (transforms cached within a step are never reused once weights change)', async () => {
    const x = randomArray(seededRandom(7), 2 * 12 * 12 * 4);
    const fn = () => {
      const random = seededRandom(11);
      const v = (shape: number[], scale: number) => tf.variable(tf.tensor(randomArray(random, shape.reduce((p, q) => p * q, 1)).map((z) => z * scale), shape));
      // Channel counts in multiples of 4: the 3×3 and 4×4 stride-2 convolutions take the Winograd paths.
      const w1 = v([3, 3, 4, 8], 0.3);
      const w2 = v([4, 4, 8, 16], 0.2);
      const w3 = v([3, 3, 16, 16], 0.2);
      const wt = v([4, 4, 8, 16], 0.2);
      const variables = [w1, w2, w3, wt];
      const optimizer = tf.train.sgd(0.05);
      const xs = tf.tensor4d(x, [2, 12, 12, 4]);
      const losses: tf.Tensor[] = [];
      for (let step = 0; step < 4; step++) {
        losses.push(
          optimizer.minimize(() => {
            const h1 = tf.relu(tf.conv2d(xs, w1 as tf.Tensor4D, 1, 'same'));
            const h2 = tf.relu(tf.conv2d(h1, w2 as tf.Tensor4D, 2, 'same'));
            const h3 = tf.relu(tf.conv2d(h2, w3 as tf.Tensor4D, 1, 'same'));
            const up = tf.conv2dTranspose(h3, wt as tf.Tensor4D, [2, 12, 12, 8], 2, 'same');
            return tf.mean(tf.square(tf.sub(up, tf.slice(tf.concat([xs, xs], 3), [0, 0, 0, 0], [2, 12, 12, 8]))));
          }, true, variables)!,
        );
      }
      const out = [tf.stack(losses), ...variables.map((w) => tf.clone(w))];
      optimizer.dispose();
      variables.forEach((w) => w.dispose());
      return out;
    };
    const ours = await runOnBackend(name, fn);
    const reference = await runOnBackend('cpu', fn);
    expect(compareResults(ours, reference)).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe.each(backends)('pooled storage on $name', ({ name }) => {
  it('never lets a disposed tensor’s reused memory show through dataSync arrays, slices or clones', async () => {
    await tf.setBackend(name);
    const a = tf.relu(tf.tensor2d([1, -2, 3, 4, -5, 6], [2, 3]));
    const read = a.dataSync(); // must be a stable copy
    const row = tf.slice(a, [1, 0], [1, 3]); // contiguous slice: tfjs-cpu makes a view
    const alias = tf.clone(a);
    a.dispose();
    // Churn the pool with same-sized outputs.
    for (let i = 0; i < 5; i++) tf.relu(tf.tensor2d([9, 9, 9, 9, 9, 9], [2, 3])).dispose();
    const sameSize = tf.relu(tf.tensor2d([7, 7, 7, 7, 7, 7], [2, 3]));
    expect(Array.from(read)).toEqual([1, 0, 3, 4, 0, 6]);
    expect(Array.from(row.dataSync())).toEqual([4, 0, 6]);
    expect(Array.from(alias.dataSync())).toEqual([1, 0, 3, 4, 0, 6]);
    alias.dispose();
    const other = tf.relu(tf.tensor2d([8, 8, 8, 8, 8, 8], [2, 3]));
    expect(Array.from(row.dataSync())).toEqual([4, 0, 6]);
    expect(Array.from(sameSize.dataSync())).toEqual([7, 7, 7, 7, 7, 7]);
    expect(Array.from(other.dataSync())).toEqual([8, 8, 8, 8, 8, 8]);
    expect(Array.from(read)).toEqual([1, 0, 3, 4, 0, 6]);
    tf.dispose([row, sameSize, other]);
  });
});
