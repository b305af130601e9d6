/**
 * The residual block of the VQ-VAE paper (van den Oord et al. 2017) as in
 * Sonnet's and taming-transformers' reference encoders:
 * x + conv1x1(relu(conv3x3(relu(x)))).
 */
import * as tf from '@tensorflow/tfjs';
import { Conv2d } from './conv.js';
import { checkPositiveInt, deriveSeed } from './init.js';
import { Module } from './module.js';

export interface ResidualBlock2dOptions {
  /** Channels in and out (the skip path). */
  channels: number;
  /** Channels of the 3×3 bottleneck. Default `channels`. */
  hiddenChannels?: number;
  /** Default 0. */
  seed?: number;
}

/** Children: `conv1` (3×3, channels→hidden), `conv2` (1×1, hidden→channels). */
export class ResidualBlock2d extends Module {
  readonly channels: number;
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;

  constructor(options: ResidualBlock2dOptions) {
    super();
    checkPositiveInt('channels', options.channels);
    const hidden = options.hiddenChannels ?? options.channels;
    const seed = options.seed ?? 0;
    this.channels = options.channels;
    this.conv1 = this.addModule('conv1', new Conv2d({ inChannels: this.channels, outChannels: hidden, kernelSize: 3, seed: deriveSeed(seed, 'conv1') }));
    this.conv2 = this.addModule('conv2', new Conv2d({ inChannels: hidden, outChannels: this.channels, kernelSize: 1, seed: deriveSeed(seed, 'conv2') }));
  }

  forward(x: tf.Tensor): tf.Tensor4D {
    return tf.tidy(() => tf.add(x, this.conv2.forward(tf.relu(this.conv1.forward(tf.relu(x))))) as tf.Tensor4D);
  }
}
