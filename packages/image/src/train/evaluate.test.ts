import * as tf from '@tensorflow/tfjs';
import { initEngine } from '@vqkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ImageDataset } from '../data/dataset.js';
import { psnr } from '../metrics.js';
import { createImageTokenizerConfig } from '../model/config.js';
import { ImageVQVAE } from '../model/vqvae.js';
import { evaluateReconstruction } from './evaluate.js';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

describe('evaluateReconstruction', () => {
  it('matches per-image PSNR and code counts computed directly, and respects maxImages', async () => {
    const count = 10;
    const data = new Uint8Array(count * 8 * 8);
    for (let i = 0; i < data.length; i++) data[i] = (i * 37 + (i >> 6) * 11) % 256;
    const dataset = await ImageDataset.load({ source: { kind: 'arrays', images: { data, count, height: 8, width: 8, channels: 1 } }, channels: 1 });
    const model = new ImageVQVAE(
      createImageTokenizerConfig({
        architecture: { downsampling: 2, hiddenChannels: 8, residualBlocks: 1, residualHiddenChannels: 4, codeDim: 4 },
        preprocessing: { height: 8, width: 8, channels: 1 },
        quantizer: { type: 'vq', codebookSize: 16, kmeansInit: false },
      }),
      { seed: 2 },
    );
    const result = await evaluateReconstruction(model, dataset.train, { batchSize: 4, maxImages: 7 });
    expect(result.images).toBe(7);

    const pixels = Float32Array.from(data.subarray(0, 7 * 64), (v) => v / 255);
    const x = tf.tensor4d(pixels, [7, 8, 8, 1]);
    const out = model.forward(x);
    const recon = out.reconstruction.dataSync();
    const codes = out.codes.dataSync();
    let sum = 0;
    for (let i = 0; i < 7; i++) sum += psnr(pixels.subarray(i * 64, (i + 1) * 64), recon.subarray(i * 64, (i + 1) * 64));
    expect(result.psnr).toBeCloseTo(sum / 7, 4);
    const hist = new Int32Array(16);
    for (const c of codes) hist[c]!++;
    expect(Array.from(result.histogram[0]!)).toEqual(Array.from(hist));
    expect(result.usedFraction[0]).toBeCloseTo(hist.filter((n) => n > 0).length / 16, 10);
    tf.dispose([x, out.reconstruction, out.codes, out.quantizerLoss, out.perplexity]);
    model.dispose();
  });
});
