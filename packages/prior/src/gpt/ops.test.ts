import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { broadcastMatMul, embeddingLookup, geluNew, softmaxLastAxis } from './ops.js';

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('ops', () => {
  it('geluNew has the gradient of the autodiffed tanh formula', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([3, 50], 0, 2, 'float32', 11);
      const reference = (t: tf.Tensor): tf.Tensor =>
        tf.mul(tf.mul(0.5, t), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(t, tf.mul(0.044715, tf.pow(t, 3)))))));
      expect(maxAbsDiff(geluNew(x).dataSync(), reference(x).dataSync())).toBeLessThan(1e-5);
      const probe = tf.randomNormal([3, 50], 0, 1, 'float32', 12);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(geluNew(t), probe)))(x).dataSync();
      const ref = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(reference(t), probe)))(x).dataSync();
      expect(maxAbsDiff(g, ref)).toBeLessThan(1e-5);
    });
  });

  it('softmaxLastAxis matches tf.softmax in value and gradient, and survives the causal mask', () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.add(tf.randomNormal([2, 3, 5, 7], 0, 3, 'float32', 1), tf.tensor1d([0, 0, 0, -1e9, 0, -1e9, 0]));
      const probe = tf.randomNormal([2, 3, 5, 7], 0, 1, 'float32', 2);
      expect(maxAbsDiff(softmaxLastAxis(x).dataSync(), tf.softmax(x).dataSync())).toBeLessThan(1e-6);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(softmaxLastAxis(t), probe)))(x).dataSync();
      const ref = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.softmax(t), probe)))(x).dataSync();
      expect(maxAbsDiff(g, ref)).toBeLessThan(1e-5);
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('embeddingLookup matches tf.gather in value and gradient (repeated indices accumulate)', () => {
    tf.tidy(() => {
      const table = tf.randomNormal([6, 4], 0, 1, 'float32', 3);
      const idx = Int32Array.from([5, 0, 5, 2, 2, 2]);
      const probe = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 4);
      const mine = (w: tf.Tensor): tf.Tensor => tf.sum(tf.mul(embeddingLookup(w, idx, [2, 3]), probe));
      const ref = (w: tf.Tensor): tf.Tensor => tf.sum(tf.mul(tf.gather(w, tf.tensor2d(idx, [2, 3], 'int32')), probe));
      expect(mine(table).dataSync()[0]).toBeCloseTo(ref(table).dataSync()[0]!, 5);
      expect(maxAbsDiff(tf.grad(mine)(table).dataSync(), tf.grad(ref)(table).dataSync())).toBeLessThan(1e-5);
    });
  });

  it('broadcastMatMul matches per-group matmuls plus bias in value and gradient', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([5, 4], 0, 1, 'float32', 6) as tf.Tensor2D;
      const w = tf.randomNormal([3, 4, 2], 0, 1, 'float32', 7) as tf.Tensor3D;
      const b = tf.randomNormal([3, 1, 2], 0, 1, 'float32', 9) as tf.Tensor3D;
      const probe = tf.randomNormal([3, 5, 2], 0, 1, 'float32', 8);
      const ref = (xa: tf.Tensor, wa: tf.Tensor, ba: tf.Tensor): tf.Tensor =>
        tf.add(tf.stack(tf.unstack(wa, 0).map((wg) => tf.matMul(xa as tf.Tensor2D, wg as tf.Tensor2D)), 0), ba);
      expect(maxAbsDiff(broadcastMatMul(x, w, b).dataSync(), ref(x, w, b).dataSync())).toBeLessThan(1e-5);
      const objective = (f: (xa: tf.Tensor, wa: tf.Tensor, ba: tf.Tensor) => tf.Tensor) => (xa: tf.Tensor, wa: tf.Tensor, ba: tf.Tensor) =>
        tf.sum(tf.mul(f(xa, wa, ba), probe));
      const mine = tf.grads(objective((xa, wa, ba) => broadcastMatMul(xa as tf.Tensor2D, wa as tf.Tensor3D, ba as tf.Tensor3D)))([x, w, b]);
      const want = tf.grads(objective(ref))([x, w, b]);
      expect(mine.length).toBe(3);
      mine.forEach((g, i) => expect(maxAbsDiff(g.dataSync(), want[i]!.dataSync())).toBeLessThan(1e-5));
    });
  });
});
