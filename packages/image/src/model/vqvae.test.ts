import * as tf from '@tensorflow/tfjs';
import { initEngine, InvalidArgumentError } from '@vqkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createImageTokenizerConfig, fashionMnistConfig, validateImageTokenizerConfig, type DownsamplingFactor } from './config.js';
import { ImageVQVAE } from './vqvae.js';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

function tinyConfig(f: DownsamplingFactor, channels: 1 | 3, size = 16) {
  return createImageTokenizerConfig({
    architecture: { downsampling: f, hiddenChannels: 8, residualBlocks: 1, residualHiddenChannels: 4, codeDim: 4 },
    preprocessing: { height: size, width: size, channels },
    quantizer: { type: 'vq', codebookSize: 16, kmeansInit: false },
  });
}

describe('ImageVQVAE', () => {
  it.each([
    [2, 1],
    [4, 1],
    [8, 1],
    [2, 3],
    [4, 3],
    [8, 3],
  ] as const)('f=%i, %i channel(s): shapes of codes and reconstructions', (f, c) => {
    const model = new ImageVQVAE(tinyConfig(f, c), { seed: 1 });
    const x = tf.randomUniform([2, 16, 24, c], 0, 1, 'float32', 3);
    const codes = model.encode(x);
    expect(codes.dtype).toBe('int32');
    expect(codes.shape).toEqual([2, 16 / f, 24 / f]);
    const y = model.decode(codes);
    expect(y.shape).toEqual([2, 16, 24, c]);
    const [lo, hi] = [tf.min(y).dataSync()[0]!, tf.max(y).dataSync()[0]!];
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    tf.dispose([x, codes, y]);
    model.dispose();
  });

  it('builds RVQ (codes with a levels axis) and FSQ quantizers from the config', () => {
    for (const [quantizer, codeShape] of [
      [{ type: 'rvq', codebookSize: 8, levels: 3, kmeansInit: false }, [1, 4, 4, 3]],
      [{ type: 'fsq', levels: [5, 3, 3] }, [1, 4, 4]],
    ] as const) {
      const config = createImageTokenizerConfig({
        architecture: { downsampling: 2, hiddenChannels: 8, residualBlocks: 1, residualHiddenChannels: 4, codeDim: 4 },
        preprocessing: { height: 8, width: 8, channels: 1 },
        quantizer: JSON.parse(JSON.stringify(quantizer)),
      });
      const model = new ImageVQVAE(config, { seed: 1 });
      const x = tf.randomUniform([1, 8, 8, 1], 0, 1, 'float32', 3);
      const codes = model.encode(x);
      expect(codes.shape).toEqual(codeShape);
      expect(model.decode(codes).shape).toEqual([1, 8, 8, 1]);
      model.dispose();
    }
  });

  it('pads sizes that are not multiples of f and crops the reconstruction back', () => {
    const model = new ImageVQVAE(tinyConfig(8, 1), { seed: 1 });
    const x = tf.randomUniform([1, 28, 13, 1], 0, 1, 'float32', 3);
    const codes = model.encode(x);
    expect(codes.shape).toEqual([1, 4, 2]);
    expect(model.latentSize(28, 13)).toEqual([4, 2]);
    const out = model.forward(x);
    expect(out.reconstruction.shape).toEqual([1, 28, 13, 1]);
    // Tiny images (smaller than the pad) fall back to zero padding instead of failing.
    const tiny = tf.zeros([1, 3, 3, 1]);
    expect(model.encode(tiny).shape).toEqual([1, 1, 1]);
    model.dispose();
  });

  it('straight-through gradients reach every encoder variable', () => {
    const model = new ImageVQVAE(tinyConfig(4, 1), { seed: 2 });
    const x = tf.randomUniform([2, 16, 16, 1], 0, 1, 'float32', 5);
    const encoderVars = model.encoder.trainableVariables();
    const { grads } = tf.variableGrads(() => model.losses(x, { training: true }).total, encoderVars);
    expect(Object.keys(grads).length).toBe(encoderVars.length);
    for (const v of encoderVars) {
      const g = grads[v.name]!;
      expect(tf.max(tf.abs(g)).dataSync()[0], v.name).toBeGreaterThan(0);
    }
    tf.dispose(Object.values(grads));
    model.dispose();
  });

  it('reference config has the documented architecture', () => {
    const model = new ImageVQVAE(fashionMnistConfig());
    const names = model.namedVariables().map(([n, v]) => `${n}:${v.shape.join('x')}`);
    expect(names).toContain('encoder.down0.weight:4x4x1x64');
    expect(names).toContain('encoder.down1.weight:4x4x64x128');
    expect(names).toContain('encoder.conv.weight:3x3x128x128');
    expect(names).toContain('encoder.res.1.conv1.weight:3x3x128x32');
    expect(names).toContain('encoder.res.1.conv2.weight:1x1x32x128');
    expect(names).toContain('encoder.toCode.weight:1x1x128x64');
    expect(names).toContain('quantizer.codebook:512x64');
    expect(names).toContain('decoder.up0.weight:4x4x64x128');
    expect(names).toContain('decoder.up1.weight:4x4x1x64');
    const x = tf.zeros([1, 28, 28, 1]);
    expect(model.encode(x).shape).toEqual([1, 7, 7]);
    model.dispose();
  });

  it('forward does not leak tensors', () => {
    const model = new ImageVQVAE(tinyConfig(2, 3), { seed: 1 });
    const x = tf.randomUniform([1, 8, 8, 3]);
    tf.dispose(model.encode(x));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const out = model.forward(x);
      tf.dispose([out.reconstruction, out.codes, out.quantizerLoss, out.perplexity]);
      const codes = model.encode(x);
      tf.dispose([codes, model.decode(codes), model.reconstruct(x)]);
      tf.dispose(Object.values(model.losses(x, { training: true })));
      model.quantizer.afterStep();
    }
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

describe('config validation', () => {
  const valid = () => JSON.parse(JSON.stringify(fashionMnistConfig())) as Record<string, any>;
  it('accepts the reference config and rejects bad fields with the field name', () => {
    expect(validateImageTokenizerConfig(valid())).toEqual(fashionMnistConfig());
    const cases: [(c: Record<string, any>) => void, RegExp][] = [
      [(c) => (c.format = 'other'), /format must be "vqkit.image-tokenizer"/],
      [(c) => (c.version = 2), /version 2 is not supported/],
      [(c) => (c.architecture.downsampling = 3), /architecture.downsampling must be one of 2, 4, 8/],
      [(c) => (c.architecture.hiddenChannels = 1.5), /architecture.hiddenChannels must be an integer/],
      [(c) => (c.preprocessing.channels = 2), /preprocessing.channels/],
      [(c) => (c.quantizer = { type: 'pq' }), /quantizer.type/],
      [(c) => (c.quantizer.codebookSize = 0), /quantizer.codebookSize/],
      [(c) => (c.quantizer.typo = 1), /quantizer.typo is not a known option/],
      [(c) => (c.quantizer = { type: 'fsq', levels: [8, 1, 5] }), /quantizer.levels must be a non-empty array/],
      [(c) => (c.quantizer = { type: 'rvq', codebookSize: 8, levels: 2, cosine: true }), /quantizer.cosine is not a known option/],
      [(c) => delete c.architecture, /architecture must be an object/],
    ];
    for (const [mutate, pattern] of cases) {
      const c = valid();
      mutate(c);
      expect(() => validateImageTokenizerConfig(c, 'x/config.json')).toThrow(InvalidArgumentError);
      expect(() => validateImageTokenizerConfig(c, 'x/config.json')).toThrow(pattern);
    }
  });
});
