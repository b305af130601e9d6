/**
 * Reconstruction quality of an image VQ-VAE over a dataset split: mean
 * per-image PSNR, MSE, and how the codebook is used. The trainer runs it for
 * validation; benchmarks run it over whole test sets.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '@vqkit/core';
import type { ImageSplit } from '../data/dataset.js';
import { psnrBatch } from '../metrics.js';
import type { ImageVQVAE } from '../model/vqvae.js';

export interface EvaluateReconstructionOptions {
  /** Images per forward pass. Default 64. */
  batchSize?: number;
  /** Evaluate at most this many images (the split's first, in order). Default all. */
  maxImages?: number;
  /** Stops early (the result covers the images done so far). */
  signal?: AbortSignal;
}

export interface ReconstructionQuality {
  /** Images evaluated. */
  images: number;
  /** Mean per-image PSNR in dB (peak 1; identical images count as 100 dB). */
  psnr: number;
  /** Mean reconstruction MSE. */
  mse: number;
  /** Codes used at least once / codebook size, per level. */
  usedFraction: number[];
  /** Perplexity of the code distribution over the whole pass, per level. */
  perplexity: number[];
  /** Hits per code, per level. */
  histogram: Int32Array[];
}

/** Highest PSNR counted for one image, so one perfect reconstruction (+∞ dB) does not make the mean infinite. */
const PSNR_CAP = 100;

/**
 * Encodes and decodes the split's images (centre crops, no augmentation) in
 * order and measures the reconstructions. The quantizer's usage tracker is
 * reset before and after.
 */
export async function evaluateReconstruction(model: ImageVQVAE, split: ImageSplit, options: EvaluateReconstructionOptions = {}): Promise<ReconstructionQuality> {
  const batchSize = options.batchSize ?? 64;
  const maxImages = options.maxImages ?? Number.POSITIVE_INFINITY;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError(`batchSize must be a positive integer, got ${batchSize}`);
  if (!(maxImages >= 1)) throw new InvalidArgumentError(`maxImages must be ≥ 1, got ${maxImages}`);
  model.quantizer.resetUsage();
  let images = 0;
  let psnrSum = 0;
  let mseSum = 0;
  try {
    for await (const batch of split.batches({ batchSize, shuffle: false, augment: false })) {
      if (options.signal?.aborted) break;
      const take = Math.min(batch.size, maxImages - images);
      const perImage = batch.height * batch.width * batch.channels;
      const pixels = take === batch.size ? batch.images : batch.images.subarray(0, take * perImage);
      const x = tf.tensor4d(pixels, [take, batch.height, batch.width, batch.channels]);
      const out = model.forward(x);
      model.quantizer.trackUsage(out.codes);
      const recon = (await out.reconstruction.data()) as Float32Array;
      tf.dispose([x, out.reconstruction, out.codes, out.quantizerLoss, out.perplexity]);
      const metric = psnrBatch(pixels, recon, take);
      for (const v of metric.perImage) {
        const capped = Math.min(v, PSNR_CAP);
        psnrSum += capped;
        mseSum += Math.pow(10, -capped / 10);
      }
      images += take;
      if (images >= maxImages) break;
    }
    const usage = model.quantizer.usage();
    return {
      images,
      psnr: images ? psnrSum / images : NaN,
      mse: images ? mseSum / images : NaN,
      usedFraction: usage.usedFraction,
      perplexity: usage.perplexity,
      histogram: usage.histogram,
    };
  } finally {
    model.quantizer.resetUsage();
  }
}
