/**
 * Encoder and decoder of the image VQ-VAE, following the reference
 * architecture of van den Oord et al. (2017) as implemented in Sonnet:
 *
 *   encoder: [conv4×4/s2 → ReLU] × log2(f)  (hidden/2 channels, the last one hidden)
 *            → conv3×3 → residual stack → ReLU → conv1×1 to D
 *   decoder: conv3×3 D→hidden → residual stack → ReLU
 *            → [convT4×4/s2 → ReLU] × (log2(f) − 1) (hidden/2 channels) → convT4×4/s2 to C
 */
import * as tf from '@tensorflow/tfjs';
import { Conv2d, ConvTranspose2d, deriveSeed, Module, ResidualBlock2d } from '@vqkit/core';
import type { ImageArchitectureConfig } from './config.js';

function stages(f: number): number {
  return Math.round(Math.log2(f));
}

/** Residual blocks followed by a ReLU (Sonnet's ResidualStack). */
class ResidualStack extends Module {
  private readonly blocks: ResidualBlock2d[] = [];
  constructor(count: number, channels: number, hiddenChannels: number, seed: number) {
    super();
    for (let i = 0; i < count; i++) {
      this.blocks.push(this.addModule(`${i}`, new ResidualBlock2d({ channels, hiddenChannels, seed: deriveSeed(seed, `${i}`) })));
    }
  }
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let h = x;
      for (const block of this.blocks) h = block.forward(h);
      return tf.relu(h);
    });
  }
}

/** Images [B, H, W, C] (H, W multiples of f) → latents [B, H/f, W/f, D]. Weight names `down{i}.*`, `conv.*`, `res.{i}.*`, `toCode.*`. */
export class Encoder extends Module {
  private readonly down: Conv2d[] = [];
  private readonly conv: Conv2d;
  private readonly res: ResidualStack;
  private readonly toCode: Conv2d;

  constructor(arch: ImageArchitectureConfig, channels: number, seed: number) {
    super();
    const n = stages(arch.downsampling);
    const half = Math.max(1, Math.floor(arch.hiddenChannels / 2));
    let inC = channels;
    for (let i = 0; i < n; i++) {
      const outC = i === n - 1 ? arch.hiddenChannels : half;
      this.down.push(this.addModule(`down${i}`, new Conv2d({ inChannels: inC, outChannels: outC, kernelSize: 4, stride: 2, seed: deriveSeed(seed, `down${i}`) })));
      inC = outC;
    }
    this.conv = this.addModule('conv', new Conv2d({ inChannels: inC, outChannels: arch.hiddenChannels, kernelSize: 3, seed: deriveSeed(seed, 'conv') }));
    this.res = this.addModule('res', new ResidualStack(arch.residualBlocks, arch.hiddenChannels, arch.residualHiddenChannels, deriveSeed(seed, 'res')));
    this.toCode = this.addModule(
      'toCode',
      new Conv2d({ inChannels: arch.hiddenChannels, outChannels: arch.codeDim, kernelSize: 1, init: 'glorot', seed: deriveSeed(seed, 'toCode') }),
    );
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let h = x;
      for (const conv of this.down) h = tf.relu(conv.forward(h));
      h = this.res.forward(this.conv.forward(h));
      return this.toCode.forward(h);
    });
  }
}

/** Latents [B, h, w, D] → image logits [B, h·f, w·f, C]. Weight names `conv.*`, `res.{i}.*`, `up{i}.*`. */
export class Decoder extends Module {
  private readonly conv: Conv2d;
  private readonly res: ResidualStack;
  private readonly up: ConvTranspose2d[] = [];

  constructor(arch: ImageArchitectureConfig, channels: number, seed: number) {
    super();
    const n = stages(arch.downsampling);
    const half = Math.max(1, Math.floor(arch.hiddenChannels / 2));
    this.conv = this.addModule('conv', new Conv2d({ inChannels: arch.codeDim, outChannels: arch.hiddenChannels, kernelSize: 3, seed: deriveSeed(seed, 'conv') }));
    this.res = this.addModule('res', new ResidualStack(arch.residualBlocks, arch.hiddenChannels, arch.residualHiddenChannels, deriveSeed(seed, 'res')));
    let inC = arch.hiddenChannels;
    for (let i = 0; i < n; i++) {
      const last = i === n - 1;
      const outC = last ? channels : half;
      this.up.push(
        this.addModule(
          `up${i}`,
          new ConvTranspose2d({ inChannels: inC, outChannels: outC, kernelSize: 4, stride: 2, init: last ? 'glorot' : 'he', seed: deriveSeed(seed, `up${i}`) }),
        ),
      );
      inC = outC;
    }
  }

  forward(z: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let h = this.res.forward(this.conv.forward(z));
      this.up.forEach((conv, i) => {
        h = conv.forward(h);
        if (i < this.up.length - 1) h = tf.relu(h);
      });
      return h;
    });
  }
}
