/**
 * Differentiable building blocks of the GPT whose tfjs defaults are either
 * not GPT-2's (GELU) or slow on the pure-JS CPU backends (softmax, gather
 * gradients). Each is checked against the plain tfjs formulation in tests.
 */
import * as tf from '@tensorflow/tfjs';

const GELU_C = Math.sqrt(2 / Math.PI);

/**
 * GPT-2's `gelu_new`, the tanh approximation of GELU:
 * 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). Written with its analytic
 * derivative, because autodiff through the ~9 elementwise ops doubles the op
 * count of the MLP's backward pass (the widest activations of the model).
 */
export const geluNew: (x: tf.Tensor) => tf.Tensor = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  const save = args[1] as tf.GradSaveFunc;
  const x2 = tf.mul(x, x);
  const t = tf.tanh(tf.mul(x, tf.add(GELU_C, tf.mul(GELU_C * 0.044715, x2))));
  save([x, x2, t]);
  return {
    value: tf.mul(tf.mul(0.5, x), tf.add(1, t)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, xs2, ts] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
      // d/dx = 0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)
      const dInner = tf.add(GELU_C, tf.mul(3 * GELU_C * 0.044715, xs2));
      const sech2 = tf.sub(1, tf.mul(ts, ts));
      const grad = tf.mul(0.5, tf.add(tf.add(1, ts), tf.mul(tf.mul(xs, sech2), dInner)));
      return tf.mul(dy, grad);
    },
  };
});

/**
 * Softmax over the last axis from elementwise ops, with the analytic gradient
 * y·(dy − Σ dy·y). tfjs-cpu's fused Softmax kernel is ~10x slower than these
 * ops on attention-sized tensors and dominated the training step.
 */
export const softmaxLastAxis: (x: tf.Tensor) => tf.Tensor = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  const save = args[1] as tf.GradSaveFunc;
  const e = tf.exp(tf.sub(x, tf.max(x, -1, true)));
  const y = tf.div(e, tf.sum(e, -1, true));
  save([y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const out = saved[0]!;
      return tf.mul(out, tf.sub(dy, tf.sum(tf.mul(dy, out), -1, true)));
    },
  };
});

/**
 * `weight[indices]` with a scatter-add gradient computed in JavaScript.
 * tfjs-cpu's gather gradient (UnsortedSegmentSum) loops over every table row
 * for every index — O(rows · N · C), ruinous for a 1k-entry vocabulary —
 * whereas the scatter-add is O(N · C). The indices are known on the host.
 */
export function embeddingLookup(weight: tf.Tensor, indices: Int32Array, shape: number[]): tf.Tensor {
  const [rows, C] = weight.shape as [number, number];
  const lookup = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const w = args[0] as tf.Tensor;
    const value = tf.reshape(tf.gather(w, tf.tensor1d(indices, 'int32')), [...shape, C]);
    const gradFunc = (dy: tf.Tensor): tf.Tensor => {
      const d = dy.dataSync();
      const g = new Float32Array(rows * C);
      for (let i = 0; i < indices.length; i++) {
        const src = i * C;
        const dst = indices[i]! * C;
        for (let c = 0; c < C; c++) g[dst + c]! += d[src + c]!;
      }
      return tf.tensor2d(g, [rows, C]);
    };
    return { value, gradFunc };
  });
  return lookup(weight);
}


/**
 * `x` [N, K] times each of the G matrices `w` [G, K, M], plus a per-group
 * bias `b` [G, 1, M] → [G, N, M]: one broadcast batched matmul. tfjs's
 * BatchMatMul broadcasts in the forward pass but its gradient does not reduce
 * over the broadcast batch axis, and its reduction of the bias gradient over
 * the middle axis goes through a slow transpose, so the gradient is written
 * out: dx = Σ_g dy[g]·w[g]ᵀ, dw[g] = xᵀ·dy[g], db[g] = 1ᵀ·dy[g].
 */
export const broadcastMatMul: (x: tf.Tensor2D, w: tf.Tensor3D, b: tf.Tensor3D) => tf.Tensor3D = tf.customGrad(
  (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor2D;
    const w = args[1] as tf.Tensor3D;
    const b = args[2] as tf.Tensor3D;
    const save = args[3] as tf.GradSaveFunc;
    const [N, K] = x.shape;
    const x3 = tf.reshape(x, [1, N, K]) as tf.Tensor3D;
    save([x3, w]);
    return {
      value: tf.add(tf.matMul(x3, w), b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor3D, tf.Tensor3D];
        const dy3 = dy as tf.Tensor3D;
        const dxPerGroup = tf.matMul(dy3, ws, false, true);
        const dx = ws.shape[0] === 1 ? tf.reshape(dxPerGroup, [N, K]) : tf.addN(tf.unstack(dxPerGroup, 0));
        const db = tf.matMul(tf.ones([1, 1, N]) as tf.Tensor3D, dy3);
        return [dx, tf.matMul(xs, dy3, true, false), db];
      },
    };
  },
) as (x: tf.Tensor2D, w: tf.Tensor3D, b: tf.Tensor3D) => tf.Tensor3D;
