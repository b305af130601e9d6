import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { compareResults, randomArray, randomInt, registerParityBackends, runOnBackend, seededRandom } from './parity-harness.js';
import { unregisterVqkitCpuBackend } from './register.js';

const backends = await registerParityBackends('conv-parity');
afterAll(() => backends.forEach((b) => (unregisterVqkitCpuBackend(b.name), b.gemm.dispose())));

const TOLERANCE = 1e-4;

interface ConvCase {
  batch: number;
  height: number;
  width: number;
  inC: number;
  outC: number;
  fh: number;
  fw: number;
  stride: [number, number];
  pad: 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
  dilation: [number, number];
}

function randomCase(random: () => number, allowDilation: boolean): ConvCase {
  const fh = randomInt(random, 1, 4);
  const fw = randomInt(random, 1, 4);
  const dilated = allowDilation && random() > 0.3;
  const dilation: [number, number] = dilated ? [randomInt(random, 1, 2), randomInt(random, 1, 3)] : [1, 1];
  // tfjs forbids strides > 1 together with dilations > 1.
  const stride: [number, number] = dilated ? [1, 1] : [randomInt(random, 1, 3), randomInt(random, 1, 2)];
  const padChoice = randomInt(random, 0, 2);
  const pad: ConvCase['pad'] =
    padChoice === 0 ? 'same' : padChoice === 1 ? 'valid' : [[0, 0], [randomInt(random, 0, 2), randomInt(random, 0, 2)], [randomInt(random, 0, 2), randomInt(random, 0, 1)], [0, 0]];
  const minH = (fh - 1) * dilation[0] + 1;
  const minW = (fw - 1) * dilation[1] + 1;
  return {
    batch: randomInt(random, 1, 3),
    height: randomInt(random, minH, minH + 8),
    width: randomInt(random, minW, minW + 8),
    inC: randomInt(random, 1, 9),
    outC: randomInt(random, 1, 9),
    fh,
    fw,
    stride,
    pad,
    dilation,
  };
}

function describeCase(c: ConvCase): string {
  return JSON.stringify(c);
}

describe.each(backends)('convolutions on $name', ({ name }) => {
  it('Conv2D matches tfjs cpu (strides, same/valid/explicit padding, dilations, 1x1)', async () => {
    const random = seededRandom(11);
    for (let trial = 0; trial < 40; trial++) {
      const c = randomCase(random, true);
      if (trial % 8 === 0) Object.assign(c, { fh: 1, fw: 1, stride: [1, 1], pad: 'valid', dilation: [1, 1] });
      const x = randomArray(random, c.batch * c.height * c.width * c.inC);
      const w = randomArray(random, c.fh * c.fw * c.inC * c.outC);
      const fn = () =>
        tf.conv2d(tf.tensor4d(x, [c.batch, c.height, c.width, c.inC]), tf.tensor4d(w, [c.fh, c.fw, c.inC, c.outC]), c.stride, c.pad, 'NHWC', c.dilation);
      const err = compareResults(await runOnBackend(name, fn), await runOnBackend('cpu', fn));
      expect(err, describeCase(c)).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('Conv2DBackpropInput and Conv2DBackpropFilter match tfjs cpu (via conv2d gradients)', async () => {
    const random = seededRandom(12);
    for (let trial = 0; trial < 30; trial++) {
      const c = randomCase(random, false);
      if (trial % 6 === 0) Object.assign(c, { fh: 1, fw: 1, stride: [1, 1], pad: 'same' });
      const x = randomArray(random, c.batch * c.height * c.width * c.inC);
      const w = randomArray(random, c.fh * c.fw * c.inC * c.outC);
      const fn = () => {
        const xs = tf.tensor4d(x, [c.batch, c.height, c.width, c.inC]);
        const ws = tf.tensor4d(w, [c.fh, c.fw, c.inC, c.outC]);
        const y = tf.conv2d(xs, ws, c.stride, c.pad);
        const dy = tf.tensor(randomArray(seededRandom(trial), y.size), y.shape);
        return [
          tf.conv2dTranspose(dy as tf.Tensor4D, ws, [c.batch, c.height, c.width, c.inC], c.stride, c.pad),
          tf.grad((filter: tf.Tensor4D) => tf.sum(tf.mul(tf.conv2d(xs, filter, c.stride, c.pad), dy)))(ws),
        ];
      };
      const err = compareResults(await runOnBackend(name, fn), await runOnBackend('cpu', fn));
      expect(err, describeCase(c)).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('stride-1 input gradients (the flipped-filter path) match tfjs cpu for every filter size and padding', async () => {
    const random = seededRandom(15);
    const pads: ConvCase['pad'][] = ['same', 'valid', [[0, 0], [2, 0], [1, 3], [0, 0]]];
    for (const pad of pads) {
      for (const [fh, fw] of [[1, 2], [2, 2], [3, 3], [4, 3], [3, 1]] as const) {
        const x = randomArray(random, 2 * 7 * 6 * 3);
        const w = randomArray(random, fh * fw * 3 * 5);
        const fn = () => {
          const xs = tf.tensor4d(x, [2, 7, 6, 3]);
          const ws = tf.tensor4d(w, [fh, fw, 3, 5]);
          return tf.grad((input: tf.Tensor4D) => tf.sum(tf.square(tf.conv2d(input, ws, 1, pad))))(xs);
        };
        const err = compareResults(await runOnBackend(name, fn), await runOnBackend('cpu', fn));
        expect(err, `${fh}x${fw} ${JSON.stringify(pad)}`).toBeLessThanOrEqual(TOLERANCE);
      }
    }
  });

  it('3x3 stride-1 convolutions with channels in multiples of 4 (the Winograd path) and their gradients match tfjs cpu', async () => {
    const random = seededRandom(17);
    const shapes: [number, number, number, number, number][] = [
      // batch, height, width, inC, outC
      [3, 7, 7, 128, 32],
      [2, 7, 7, 32, 128],
      [1, 9, 5, 8, 12],
      [2, 4, 4, 16, 4],
      [1, 13, 11, 4, 8],
      [2, 8, 8, 64, 128],
      [1, 3, 3, 4, 4],
    ];
    const pads: ConvCase['pad'][] = ['same', 'valid', [[0, 0], [2, 0], [1, 2], [0, 0]], [[0, 0], [0, 2], [2, 1], [0, 0]]];
    for (const [trial, [batch, height, width, inC, outC]] of shapes.entries()) {
      const pad = pads[trial % pads.length]!;
      const x = randomArray(random, batch * height * width * inC);
      const w = randomArray(random, 9 * inC * outC);
      const fn = () => {
        const xs = tf.tensor4d(x, [batch, height, width, inC]);
        const ws = tf.tensor4d(w, [3, 3, inC, outC]);
        const y = tf.conv2d(xs, ws, 1, pad);
        const dy = tf.tensor(randomArray(seededRandom(trial), y.size), y.shape);
        return [y, ...tf.grads((input: tf.Tensor4D, filter: tf.Tensor4D) => tf.sum(tf.mul(tf.conv2d(input, filter, 1, pad), dy)))([xs, ws])];
      };
      const ours = await runOnBackend(name, fn);
      const reference = await runOnBackend('cpu', fn);
      for (const [i, label] of ['y', 'dx', 'dw'].entries()) {
        const err = compareResults({ shapes: [ours.shapes[i]!], values: [ours.values[i]!] }, { shapes: [reference.shapes[i]!], values: [reference.values[i]!] });
        expect(err, `${label} ${JSON.stringify({ batch, height, width, inC, outC, pad })}`).toBeLessThanOrEqual(TOLERANCE);
      }
    }
  });

  it('4x4 stride-2 convolutions (the space-to-depth Winograd path), their gradients and conv2dTranspose match tfjs cpu', async () => {
    const random = seededRandom(18);
    const shapes: [number, number, number, number, number][] = [
      // batch, height, width, inC, outC
      [3, 14, 14, 16, 32],
      [2, 13, 9, 4, 8],
      [1, 10, 16, 8, 4],
      [2, 7, 7, 32, 16],
      [1, 28, 28, 4, 8],
    ];
    const pads: ConvCase['pad'][] = ['same', 'valid', [[0, 0], [1, 2], [2, 1], [0, 0]], 'same', 'valid'];
    for (const [trial, [batch, height, width, inC, outC]] of shapes.entries()) {
      const pad = pads[trial]!;
      const x = randomArray(random, batch * height * width * inC);
      const w = randomArray(random, 16 * inC * outC);
      const fn = () => {
        const xs = tf.tensor4d(x, [batch, height, width, inC]);
        const ws = tf.tensor4d(w, [4, 4, inC, outC]);
        const y = tf.conv2d(xs, ws, 2, pad);
        const dy = tf.tensor(randomArray(seededRandom(trial), y.size), y.shape) as tf.Tensor4D;
        const grads = tf.grads((input: tf.Tensor4D, filter: tf.Tensor4D) => tf.sum(tf.mul(tf.conv2d(input, filter, 2, pad), dy)))([xs, ws]);
        const transposedGrads = tf.grads((input: tf.Tensor4D, filter: tf.Tensor4D) => tf.sum(tf.square(tf.conv2dTranspose(input, filter, [batch, height, width, inC], 2, pad))))([dy, ws]);
        return [y, ...grads, tf.conv2dTranspose(dy, ws, [batch, height, width, inC], 2, pad), ...transposedGrads];
      };
      const ours = await runOnBackend(name, fn);
      const reference = await runOnBackend('cpu', fn);
      for (const [i, label] of ['y', 'dx', 'dw', 'convT', 'convT dx', 'convT dw'].entries()) {
        const err = compareResults({ shapes: [ours.shapes[i]!], values: [ours.values[i]!] }, { shapes: [reference.shapes[i]!], values: [reference.values[i]!] });
        expect(err, `${label} ${JSON.stringify({ batch, height, width, inC, outC, pad })}`).toBeLessThanOrEqual(TOLERANCE);
      }
    }
  });

  it('FusedConv2D fuses bias and activations like tfjs cpu', async () => {
    const random = seededRandom(13);
    for (const activation of ['linear', 'relu', 'relu6', 'elu', 'prelu', 'leakyrelu', 'sigmoid'] as const) {
      const c = randomCase(random, true);
      const x = randomArray(random, c.batch * c.height * c.width * c.inC);
      const w = randomArray(random, c.fh * c.fw * c.inC * c.outC);
      const bias = randomArray(random, c.outC);
      const alpha = randomArray(random, c.outC);
      const fn = () =>
        tf.fused.conv2d({
          x: tf.tensor4d(x, [c.batch, c.height, c.width, c.inC]),
          filter: tf.tensor4d(w, [c.fh, c.fw, c.inC, c.outC]),
          strides: c.stride,
          pad: c.pad,
          dilations: c.dilation,
          bias: tf.tensor1d(bias),
          activation,
          preluActivationWeights: activation === 'prelu' ? tf.tensor1d(alpha) : undefined,
          leakyreluAlpha: 0.1,
        });
      const err = compareResults(await runOnBackend(name, fn), await runOnBackend('cpu', fn));
      expect(err, `${activation} ${describeCase(c)}`).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('delegates NCHW convolutions to the original kernels with identical results', async () => {
    const random = seededRandom(16);
    const x = randomArray(random, 2 * 3 * 6 * 5);
    const w = randomArray(random, 3 * 3 * 3 * 4);
    const fn = () => tf.conv2d(tf.tensor4d(x, [2, 3, 6, 5]), tf.tensor4d(w, [3, 3, 3, 4]), 1, 'same', 'NCHW');
    const ours = await runOnBackend(name, fn);
    const reference = await runOnBackend('cpu', fn);
    expect(ours.shapes).toEqual([[2, 4, 6, 5]]);
    expect(Array.from(ours.values[0]!)).toEqual(Array.from(reference.values[0]!));
  });

  it('conv1d and conv2dTranspose (forward and gradients) match tfjs cpu', async () => {
    const random = seededRandom(14);
    const x1 = randomArray(random, 2 * 20 * 3);
    const w1 = randomArray(random, 5 * 3 * 4);
    const xt = randomArray(random, 2 * 5 * 5 * 6);
    const wt = randomArray(random, 4 * 4 * 3 * 6);
    const fn = () => {
      const conv1 = (x: tf.Tensor, w: tf.Tensor) => tf.conv1d(x as tf.Tensor3D, w as tf.Tensor3D, 2, 'same');
      const convT = (x: tf.Tensor, w: tf.Tensor) => tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [2, 10, 10, 3], 2, 'same');
      const a = [tf.tensor3d(x1, [2, 20, 3]), tf.tensor3d(w1, [5, 3, 4])];
      const b = [tf.tensor4d(xt, [2, 5, 5, 6]), tf.tensor4d(wt, [4, 4, 3, 6])];
      return [
        conv1(a[0]!, a[1]!),
        ...tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.square(conv1(x, w))))(a),
        convT(b[0]!, b[1]!),
        ...tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.square(convT(x, w))))(b),
      ];
    };
    const err = compareResults(await runOnBackend(name, fn), await runOnBackend('cpu', fn));
    expect(err).toBeLessThanOrEqual(TOLERANCE);
  });
});
