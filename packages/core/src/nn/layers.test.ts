import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../engine/backend.js';
import { Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d } from './conv.js';
import { Embedding, Linear } from './linear.js';
import { LayerNorm } from './norm.js';
import { ResidualBlock2d } from './residual.js';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

function dot(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.sum(tf.mul(a, b)).dataSync()[0]!);
}

describe('Conv2d / ConvTranspose2d', () => {
  it.each([
    ['same', 4, 2, 7, [14, 14]],
    ['valid', 3, 1, 6, [8, 8]],
    [1, 4, 2, 7, [14, 14]],
    [2, 5, 3, 4, [10, 10]],
  ] as const)('padding %s k%i s%i: output shape and adjointness with Conv2d', (padding, k, s, n, expected) => {
    const convT = new ConvTranspose2d({ inChannels: 3, outChannels: 2, kernelSize: k, stride: s, padding, seed: 1 });
    const conv = new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: k, stride: s, padding, bias: false });
    conv.weight.assign(convT.weight); // [kh, kw, 2, 3]: conv(in 2 → out 3) uses the same array
    convT.bias!.assign(tf.zeros([2]));
    const y = tf.randomNormal([2, n, n, 3], 0, 1, 'float32', 3);
    const ty = convT.forward(y);
    expect(ty.shape).toEqual([2, ...expected, 2]);
    const x = tf.randomNormal(ty.shape, 0, 1, 'float32', 4);
    const cx = conv.forward(x);
    expect(cx.shape).toEqual(y.shape);
    // <conv(x), y> = <x, convT(y)>: the transposed conv is the exact adjoint, padding conventions included.
    expect(dot(cx, y)).toBeCloseTo(dot(x, ty), 2);
    tf.dispose([y, ty, x, cx]);
    conv.dispose();
    convT.dispose();
  });

  it('numeric padding equals explicit zero padding + valid conv; bias is added', () => {
    const conv = new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 3, padding: 2, seed: 5 });
    conv.bias!.assign(tf.tensor1d([1, 2, 3]));
    const x = tf.randomNormal([1, 5, 6, 2], 0, 1, 'float32', 6);
    const y = conv.forward(x);
    const ref = tf.add(tf.conv2d(tf.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]]) as tf.Tensor4D, conv.weight as tf.Tensor4D, 1, 'valid'), tf.tensor1d([1, 2, 3]));
    expect(y.shape).toEqual([1, 7, 8, 3]);
    expect(tf.max(tf.abs(tf.sub(y, ref))).dataSync()[0]).toBeLessThan(1e-5);
    tf.dispose([x, y, ref]);
    conv.dispose();
  });

  it('same seed → same weights, different seed → different weights; He std', () => {
    const a = new Conv2d({ inChannels: 16, outChannels: 32, kernelSize: 3, seed: 7 });
    const b = new Conv2d({ inChannels: 16, outChannels: 32, kernelSize: 3, seed: 7 });
    const c = new Conv2d({ inChannels: 16, outChannels: 32, kernelSize: 3, seed: 8 });
    expect(Array.from(a.weight.dataSync())).toEqual(Array.from(b.weight.dataSync()));
    expect(Array.from(a.weight.dataSync())).not.toEqual(Array.from(c.weight.dataSync()));
    const std = Math.sqrt(tf.moments(a.weight).variance.dataSync()[0]!);
    expect(std).toBeGreaterThan(Math.sqrt(2 / 144) * 0.9);
    expect(std).toBeLessThan(Math.sqrt(2 / 144) * 1.1);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('rejects wrong input channels and bad options', () => {
    const conv = new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 3 });
    expect(() => conv.forward(tf.zeros([1, 4, 4, 3]))).toThrow(/2 channels/);
    expect(() => new Conv2d({ inChannels: 0, outChannels: 3, kernelSize: 3 })).toThrow(/inChannels/);
    expect(() => new Conv2d({ inChannels: 1, outChannels: 3, kernelSize: 3, padding: -1 })).toThrow(/padding/);
    conv.dispose();
  });
});

describe('Conv1d / ConvTranspose1d', () => {
  it('Conv1d matches Conv2d on a height-1 image, with dilation', () => {
    const c1 = new Conv1d({ inChannels: 3, outChannels: 4, kernelSize: 3, dilation: 2, padding: 'same', seed: 2 });
    const x = tf.randomNormal([2, 10, 3], 0, 1, 'float32', 9);
    const y = c1.forward(x);
    const ref = tf.conv2d(tf.expandDims(x, 1) as tf.Tensor4D, tf.expandDims(c1.weight, 0) as tf.Tensor4D, 1, 'same', 'NHWC', [1, 2]);
    expect(y.shape).toEqual([2, 10, 4]);
    expect(tf.max(tf.abs(tf.sub(y, tf.squeeze(ref, [1])))).dataSync()[0]).toBeLessThan(1e-5);
    tf.dispose([x, y, ref]);
    c1.dispose();
  });

  it.each([['same', 4, 2, 5, 10], ['valid', 4, 2, 5, 12], [1, 4, 2, 5, 10]] as const)(
    'ConvTranspose1d padding %s: length and adjointness',
    (padding, k, s, n, expected) => {
      const convT = new ConvTranspose1d({ inChannels: 3, outChannels: 2, kernelSize: k, stride: s, padding, bias: false, seed: 4 });
      const conv = new Conv1d({ inChannels: 2, outChannels: 3, kernelSize: k, stride: s, padding, bias: false });
      conv.weight.assign(convT.weight);
      const y = tf.randomNormal([1, n, 3], 0, 1, 'float32', 3);
      const ty = convT.forward(y);
      expect(ty.shape).toEqual([1, expected, 2]);
      const x = tf.randomNormal(ty.shape, 0, 1, 'float32', 4);
      expect(dot(conv.forward(x), y)).toBeCloseTo(dot(x, ty), 2);
      tf.dispose([y, ty, x]);
      conv.dispose();
      convT.dispose();
    },
  );
});

describe('Linear, Embedding, LayerNorm, ResidualBlock2d', () => {
  it('Linear is x·W + b on the last axis of any rank', () => {
    const lin = new Linear({ inFeatures: 3, outFeatures: 2, seed: 1 });
    lin.bias!.assign(tf.tensor1d([0.5, -1]));
    const x = tf.randomNormal([2, 4, 3], 0, 1, 'float32', 1);
    const y = lin.forward(x);
    expect(y.shape).toEqual([2, 4, 2]);
    const w = lin.weight.arraySync() as number[][];
    const xs = x.arraySync() as number[][][];
    const ys = y.arraySync() as number[][][];
    const ref = xs[1]![2]![0]! * w[0]![1]! + xs[1]![2]![1]! * w[1]![1]! + xs[1]![2]![2]! * w[2]![1]! - 1;
    expect(ys[1]![2]![1]).toBeCloseTo(ref, 5);
    tf.dispose([x, y]);
    lin.dispose();
  });

  it('Embedding gathers rows and rejects float indices', () => {
    const emb = new Embedding({ numEmbeddings: 5, embeddingDim: 3, seed: 2 });
    const out = emb.forward(tf.tensor2d([[4, 0]], [1, 2], 'int32'));
    expect(out.shape).toEqual([1, 2, 3]);
    expect(Array.from(out.dataSync().slice(0, 3))).toEqual(Array.from(emb.weight.dataSync().slice(12, 15)));
    expect(() => emb.forward(tf.tensor1d([1]))).toThrow(/int32/);
    out.dispose();
    emb.dispose();
  });

  it('LayerNorm normalises the last axis', () => {
    const ln = new LayerNorm({ dim: 8 });
    const x = tf.add(tf.mul(tf.randomNormal([3, 8], 0, 1, 'float32', 5), 4), 7);
    const { mean, variance } = tf.moments(ln.forward(x), -1);
    for (const m of mean.dataSync()) expect(Math.abs(m)).toBeLessThan(1e-4);
    for (const v of variance.dataSync()) expect(v).toBeCloseTo(1, 3);
    ln.dispose();
  });

  it('ResidualBlock2d: identity when the 1×1 conv is zero, shape-preserving otherwise', () => {
    const block = new ResidualBlock2d({ channels: 4, hiddenChannels: 2, seed: 3 });
    expect(block.namedVariables().map(([n]) => n)).toEqual(['conv1.weight', 'conv1.bias', 'conv2.weight', 'conv2.bias']);
    const x = tf.randomNormal([1, 5, 5, 4], 0, 1, 'float32', 1);
    const y = block.forward(x);
    expect(y.shape).toEqual([1, 5, 5, 4]);
    expect(tf.max(tf.abs(tf.sub(y, x))).dataSync()[0]).toBeGreaterThan(1e-3);
    block.conv2.weight.assign(tf.zeros(block.conv2.weight.shape));
    const id = block.forward(x);
    expect(tf.max(tf.abs(tf.sub(id, x))).dataSync()[0]).toBe(0);
    block.dispose();
  });
});
