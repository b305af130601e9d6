/**
 * Convolution layers over channels-last tensors (NHWC for 2-D, NLC for 1-D),
 * tfjs's native layout. Kernels are stored in tfjs layout — conv:
 * [kh, kw, in, out] / [k, in, out]; transposed conv: [kh, kw, out, in] /
 * [k, out, in] — which is what weight files hold under `<name>.weight`.
 *
 * Padding: `'same'` (output = ceil(input / stride); for transposed convs
 * output = input * stride), `'valid'`, or a number of zeros on every side
 * (PyTorch's `padding=`; for transposed convs it crops that many outputs per
 * side, exactly like PyTorch's `ConvTranspose*d(padding=)`).
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '../errors.js';
import { checkPositiveInt, initWeight, type LayerInitOptions } from './init.js';
import { Module } from './module.js';

export type ConvPadding = 'same' | 'valid' | number;

function checkPadding(padding: ConvPadding): void {
  if (padding === 'same' || padding === 'valid') return;
  if (!Number.isInteger(padding) || padding < 0) {
    throw new InvalidArgumentError(`padding must be 'same', 'valid' or a non-negative integer, got ${String(padding)}`);
  }
}

function pair(name: string, value: number | readonly [number, number]): [number, number] {
  const out: [number, number] = typeof value === 'number' ? [value, value] : [value[0], value[1]];
  checkPositiveInt(`${name}[0]`, out[0]);
  checkPositiveInt(`${name}[1]`, out[1]);
  return out;
}

function checkInput(layer: string, x: tf.Tensor, rank: number, channels: number): void {
  if (x.rank !== rank || x.shape[rank - 1] !== channels) {
    const layout = rank === 4 ? '[batch, height, width, channels]' : '[batch, length, channels]';
    throw new InvalidArgumentError(`${layer} expects ${layout} with ${channels} channels, got shape [${x.shape}]`);
  }
}

export interface Conv2dOptions extends LayerInitOptions {
  inChannels: number;
  outChannels: number;
  /** Kernel size, square or [height, width]. */
  kernelSize: number | readonly [number, number];
  /** Stride. Default 1. */
  stride?: number | readonly [number, number];
  /** Default `'same'`. */
  padding?: ConvPadding;
  /** Add a learned bias. Default true. */
  bias?: boolean;
}

/** 2-D convolution, NHWC. Variables: `weight` [kh, kw, in, out], `bias` [out]. */
export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: ConvPadding;
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | undefined;

  constructor(options: Conv2dOptions) {
    super();
    checkPositiveInt('inChannels', options.inChannels);
    checkPositiveInt('outChannels', options.outChannels);
    this.inChannels = options.inChannels;
    this.outChannels = options.outChannels;
    this.kernelSize = pair('kernelSize', options.kernelSize);
    this.stride = pair('stride', options.stride ?? 1);
    this.padding = options.padding ?? 'same';
    checkPadding(this.padding);
    const [kh, kw] = this.kernelSize;
    const fanIn = kh * kw * this.inChannels;
    const fanOut = kh * kw * this.outChannels;
    this.weight = this.addVariable(
      'weight',
      initWeight([kh, kw, this.inChannels, this.outChannels], fanIn, fanOut, options.init ?? 'he', options.seed ?? 0),
    );
    this.bias = options.bias === false ? undefined : this.addVariable('bias', tf.zeros([this.outChannels]));
  }

  forward(x: tf.Tensor): tf.Tensor4D {
    checkInput('Conv2d', x, 4, this.inChannels);
    return tf.tidy(() => {
      let input = x as tf.Tensor4D;
      let pad: 'same' | 'valid' = 'valid';
      if (this.padding === 'same') pad = 'same';
      else if (typeof this.padding === 'number' && this.padding > 0) {
        const p = this.padding;
        input = tf.pad(input, [[0, 0], [p, p], [p, p], [0, 0]]);
      }
      const y = tf.conv2d(input, this.weight as tf.Tensor4D, this.stride, pad);
      return this.bias ? tf.add(y, this.bias) : y;
    });
  }
}

export interface ConvTranspose2dOptions extends Conv2dOptions {}

/** Transposed 2-D convolution (upsampling), NHWC. Variables: `weight` [kh, kw, out, in], `bias` [out]. */
export class ConvTranspose2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: ConvPadding;
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | undefined;

  constructor(options: ConvTranspose2dOptions) {
    super();
    checkPositiveInt('inChannels', options.inChannels);
    checkPositiveInt('outChannels', options.outChannels);
    this.inChannels = options.inChannels;
    this.outChannels = options.outChannels;
    this.kernelSize = pair('kernelSize', options.kernelSize);
    this.stride = pair('stride', options.stride ?? 1);
    this.padding = options.padding ?? 'same';
    checkPadding(this.padding);
    const [kh, kw] = this.kernelSize;
    // Fans as seen by the forward signal: each output sums kh*kw*in/(stride²) inputs on average; He on the
    // input-side fan keeps activations' scale comparable to Conv2d's.
    const fanIn = (kh * kw * this.inChannels) / (this.stride[0] * this.stride[1]);
    const fanOut = kh * kw * this.outChannels;
    this.weight = this.addVariable(
      'weight',
      initWeight([kh, kw, this.outChannels, this.inChannels], fanIn, fanOut, options.init ?? 'he', options.seed ?? 0),
    );
    this.bias = options.bias === false ? undefined : this.addVariable('bias', tf.zeros([this.outChannels]));
  }

  /** Output spatial size for an input of `inputSize` (per axis). */
  outputSize(inputSize: readonly [number, number]): [number, number] {
    const out = (i: number, axis: 0 | 1): number => {
      const s = this.stride[axis];
      const k = this.kernelSize[axis];
      if (this.padding === 'same') return i * s;
      const p = this.padding === 'valid' ? 0 : this.padding;
      return (i - 1) * s + k - 2 * p;
    };
    return [out(inputSize[0], 0), out(inputSize[1], 1)];
  }

  forward(x: tf.Tensor): tf.Tensor4D {
    checkInput('ConvTranspose2d', x, 4, this.inChannels);
    const [b, h, w] = x.shape as [number, number, number, number];
    const [oh, ow] = this.outputSize([h, w]);
    if (oh < 1 || ow < 1) throw new InvalidArgumentError(`ConvTranspose2d: input ${h}x${w} gives an empty output`);
    return tf.tidy(() => {
      const filter = this.weight as tf.Tensor4D;
      let y: tf.Tensor4D;
      if (this.padding === 'same') {
        y = tf.conv2dTranspose(x as tf.Tensor4D, filter, [b, oh, ow, this.outChannels], this.stride, 'same');
      } else {
        const p = this.padding === 'valid' ? 0 : this.padding;
        const [vh, vw] = [oh + 2 * p, ow + 2 * p];
        y = tf.conv2dTranspose(x as tf.Tensor4D, filter, [b, vh, vw, this.outChannels], this.stride, 'valid');
        if (p > 0) y = tf.slice(y, [0, p, p, 0], [b, oh, ow, this.outChannels]);
      }
      return this.bias ? tf.add(y, this.bias) : y;
    });
  }
}

export interface Conv1dOptions extends LayerInitOptions {
  inChannels: number;
  outChannels: number;
  kernelSize: number;
  /** Default 1. */
  stride?: number;
  /** Dilation (stride must be 1 when > 1). Default 1. */
  dilation?: number;
  /** Default `'same'`. */
  padding?: ConvPadding;
  /** Default true. */
  bias?: boolean;
}

/** 1-D convolution over [batch, length, channels]. Variables: `weight` [k, in, out], `bias` [out]. */
export class Conv1d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly dilation: number;
  readonly padding: ConvPadding;
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | undefined;

  constructor(options: Conv1dOptions) {
    super();
    checkPositiveInt('inChannels', options.inChannels);
    checkPositiveInt('outChannels', options.outChannels);
    checkPositiveInt('kernelSize', options.kernelSize);
    this.inChannels = options.inChannels;
    this.outChannels = options.outChannels;
    this.kernelSize = options.kernelSize;
    this.stride = options.stride ?? 1;
    this.dilation = options.dilation ?? 1;
    checkPositiveInt('stride', this.stride);
    checkPositiveInt('dilation', this.dilation);
    if (this.stride > 1 && this.dilation > 1) throw new InvalidArgumentError('Conv1d: stride and dilation cannot both be > 1');
    this.padding = options.padding ?? 'same';
    checkPadding(this.padding);
    const k = this.kernelSize;
    this.weight = this.addVariable(
      'weight',
      initWeight([k, this.inChannels, this.outChannels], k * this.inChannels, k * this.outChannels, options.init ?? 'he', options.seed ?? 0),
    );
    this.bias = options.bias === false ? undefined : this.addVariable('bias', tf.zeros([this.outChannels]));
  }

  forward(x: tf.Tensor): tf.Tensor3D {
    checkInput('Conv1d', x, 3, this.inChannels);
    return tf.tidy(() => {
      let input = x as tf.Tensor3D;
      let pad: 'same' | 'valid' = 'valid';
      if (this.padding === 'same') pad = 'same';
      else if (typeof this.padding === 'number' && this.padding > 0) {
        input = tf.pad(input, [[0, 0], [this.padding, this.padding], [0, 0]]);
      }
      const y = tf.conv1d(input, this.weight as tf.Tensor3D, this.stride, pad, 'NWC', this.dilation);
      return this.bias ? tf.add(y, this.bias) : y;
    });
  }
}

export interface ConvTranspose1dOptions extends LayerInitOptions {
  inChannels: number;
  outChannels: number;
  kernelSize: number;
  /** Default 1. */
  stride?: number;
  /** Default `'same'`. */
  padding?: ConvPadding;
  /** Default true. */
  bias?: boolean;
}

/** Transposed 1-D convolution over [batch, length, channels]. Variables: `weight` [k, out, in], `bias` [out]. */
export class ConvTranspose1d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: ConvPadding;
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | undefined;

  constructor(options: ConvTranspose1dOptions) {
    super();
    checkPositiveInt('inChannels', options.inChannels);
    checkPositiveInt('outChannels', options.outChannels);
    checkPositiveInt('kernelSize', options.kernelSize);
    this.inChannels = options.inChannels;
    this.outChannels = options.outChannels;
    this.kernelSize = options.kernelSize;
    this.stride = options.stride ?? 1;
    checkPositiveInt('stride', this.stride);
    this.padding = options.padding ?? 'same';
    checkPadding(this.padding);
    const k = this.kernelSize;
    this.weight = this.addVariable(
      'weight',
      initWeight([k, this.outChannels, this.inChannels], (k * this.inChannels) / this.stride, k * this.outChannels, options.init ?? 'he', options.seed ?? 0),
    );
    this.bias = options.bias === false ? undefined : this.addVariable('bias', tf.zeros([this.outChannels]));
  }

  outputLength(inputLength: number): number {
    if (this.padding === 'same') return inputLength * this.stride;
    const p = this.padding === 'valid' ? 0 : this.padding;
    return (inputLength - 1) * this.stride + this.kernelSize - 2 * p;
  }

  forward(x: tf.Tensor): tf.Tensor3D {
    checkInput('ConvTranspose1d', x, 3, this.inChannels);
    const [b, length] = x.shape as [number, number, number];
    const outLength = this.outputLength(length);
    if (outLength < 1) throw new InvalidArgumentError(`ConvTranspose1d: input length ${length} gives an empty output`);
    return tf.tidy(() => {
      // tfjs has no conv1dTranspose: run the 2-D op on a height-1 image with a 1×k kernel.
      const x4 = tf.expandDims(x, 1) as tf.Tensor4D;
      const filter = tf.expandDims(this.weight, 0) as tf.Tensor4D;
      let y: tf.Tensor4D;
      if (this.padding === 'same') {
        y = tf.conv2dTranspose(x4, filter, [b, 1, outLength, this.outChannels], [1, this.stride], 'same');
      } else {
        const p = this.padding === 'valid' ? 0 : this.padding;
        y = tf.conv2dTranspose(x4, filter, [b, 1, outLength + 2 * p, this.outChannels], [1, this.stride], 'valid');
        if (p > 0) y = tf.slice(y, [0, 0, p, 0], [b, 1, outLength, this.outChannels]);
      }
      const y3 = tf.squeeze(y, [1]) as tf.Tensor3D;
      return this.bias ? tf.add(y3, this.bias) : y3;
    });
  }
}
