/**
 * ImageVQVAE: encoder → quantizer → decoder over NHWC images in [0, 1].
 *
 * The model is fully convolutional: any image whose sides are multiples of
 * the downsampling factor f maps to an (H/f)×(W/f) code grid. Other sizes are
 * padded at the bottom/right edges by reflection (constant 0 when an image is
 * too small to reflect) up to the next multiple of f, and the reconstruction
 * is cropped back, so callers can pass any size.
 *
 * Inputs are centred (x − 0.5) before the encoder, as in the Sonnet reference
 * (which trains on x − 0.5 with a linear decoder).
 */
import * as tf from '@tensorflow/tfjs';
import { deriveSeed, InvalidArgumentError, Module, type Quantizer } from '@vqkit/core';
import type { ImageTokenizerConfig } from './config.js';
import { validateImageTokenizerConfig } from './config.js';
import { Decoder, Encoder } from './encoder.js';
import { createQuantizer } from './quantizer.js';

export interface ImageVQVAEOptions {
  /** Seed of every initialisation (encoder, decoder, codebook). Default 0. */
  seed?: number;
}

/** Result of a forward pass (all tensors owned by the caller). */
export interface ImageVQVAEOutput {
  /** Reconstruction in [0, 1] ('clamp' output in training: unclamped), same shape as the input. */
  reconstruction: tf.Tensor4D;
  /** int32 codes [B, h, w] (or [B, h, w, levels] for multi-level quantizers). */
  codes: tf.Tensor;
  /** Quantizer auxiliary loss (commitment/codebook). */
  quantizerLoss: tf.Scalar;
  /** Perplexity of the batch's codes. */
  perplexity: tf.Scalar;
}

export interface ImageVQVAELosses {
  /** reconstruction + quantizer loss: what the optimizer minimises. */
  total: tf.Scalar;
  /** Mean squared error of the reconstruction. */
  reconstruction: tf.Scalar;
  quantizer: tf.Scalar;
  perplexity: tf.Scalar;
  /** int32 codes of the batch, for usage statistics. */
  codes: tf.Tensor;
}

/** Variables: `encoder.*`, `quantizer.*`, `decoder.*`. */
export class ImageVQVAE extends Module {
  readonly config: ImageTokenizerConfig;
  readonly encoder: Encoder;
  readonly quantizer: Quantizer;
  readonly decoder: Decoder;
  /** Downsampling factor f. */
  readonly factor: number;
  readonly channels: number;

  constructor(config: ImageTokenizerConfig, options: ImageVQVAEOptions = {}) {
    super();
    this.config = validateImageTokenizerConfig(config);
    const seed = options.seed ?? 0;
    const { architecture, preprocessing } = this.config;
    this.factor = architecture.downsampling;
    this.channels = preprocessing.channels;
    this.encoder = this.addModule('encoder', new Encoder(architecture, this.channels, deriveSeed(seed, 'encoder')));
    this.quantizer = this.addModule('quantizer', createQuantizer(this.config.quantizer, architecture.codeDim, deriveSeed(seed, 'quantizer')));
    this.decoder = this.addModule('decoder', new Decoder(architecture, this.channels, deriveSeed(seed, 'decoder')));
  }

  /** Code grid size for an image of height×width (after padding to multiples of f). */
  latentSize(height: number, width: number): [number, number] {
    return [Math.ceil(height / this.factor), Math.ceil(width / this.factor)];
  }

  private checkImages(x: tf.Tensor): tf.Tensor4D {
    if (x.rank !== 4 || x.shape[3] !== this.channels || x.dtype !== 'float32') {
      throw new InvalidArgumentError(`ImageVQVAE expects float32 images [batch, height, width, ${this.channels}], got ${x.dtype} [${x.shape}]`);
    }
    return x as tf.Tensor4D;
  }

  /** Pads bottom/right to multiples of f (see the module comment). */
  padToMultiple(x: tf.Tensor4D): tf.Tensor4D {
    const [, h, w] = x.shape;
    const ph = (this.factor - (h % this.factor)) % this.factor;
    const pw = (this.factor - (w % this.factor)) % this.factor;
    if (ph === 0 && pw === 0) return x.clone();
    const paddings: [number, number][] = [[0, 0], [0, ph], [0, pw], [0, 0]];
    return ph < h && pw < w ? tf.mirrorPad(x, paddings, 'reflect') : tf.pad(x, paddings);
  }

  /** Latents before quantization [B, h, w, D]. */
  encodeLatents(x: tf.Tensor): tf.Tensor4D {
    const images = this.checkImages(x);
    return tf.tidy(() => this.encoder.forward(tf.sub(this.padToMultiple(images), 0.5)));
  }

  private toPixels(logits: tf.Tensor4D, training: boolean): tf.Tensor4D {
    if (this.config.architecture.output === 'sigmoid') return tf.sigmoid(logits);
    // Linear output around the centred input; clamping only at inference keeps gradients alive for out-of-range predictions.
    const shifted = tf.add(logits, 0.5) as tf.Tensor4D;
    return training ? shifted : tf.clipByValue(shifted, 0, 1);
  }

  /** Full pass. `training` lets the quantizer record statistics for `afterStep` (call inside the loss closure). */
  forward(x: tf.Tensor, options: { training?: boolean } = {}): ImageVQVAEOutput {
    const images = this.checkImages(x);
    const training = options.training ?? false;
    const [b, h, w, c] = images.shape;
    return tf.tidy(() => {
      const z = this.encodeLatents(images);
      const q = this.quantizer.forward(z, { training });
      let reconstruction = this.toPixels(this.decoder.forward(q.quantized as tf.Tensor4D), training);
      if (reconstruction.shape[1] !== h || reconstruction.shape[2] !== w) reconstruction = tf.slice(reconstruction, [0, 0, 0, 0], [b, h, w, c]);
      return { reconstruction, codes: q.codes, quantizerLoss: q.loss, perplexity: q.perplexity };
    });
  }

  /** Training objective: MSE(x, x̂) + quantizer loss. */
  losses(x: tf.Tensor, options: { training?: boolean } = {}): ImageVQVAELosses {
    return tf.tidy(() => {
      const out = this.forward(x, options);
      const reconstruction = tf.losses.meanSquaredError(x, out.reconstruction) as tf.Scalar;
      return {
        total: tf.add(reconstruction, out.quantizerLoss) as tf.Scalar,
        reconstruction,
        quantizer: out.quantizerLoss,
        perplexity: out.perplexity,
        codes: out.codes,
      };
    });
  }

  /** Images → int32 codes [B, h, w] (or [B, h, w, levels]). */
  encode(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.quantizer.forward(this.encodeLatents(x)).codes);
  }

  /** Codes → images [B, h·f, w·f, C] in [0, 1]. */
  decode(codes: tf.Tensor): tf.Tensor4D {
    if (codes.dtype !== 'int32' || codes.rank < 3) throw new InvalidArgumentError(`decode expects int32 codes [batch, h, w(, levels)], got ${codes.dtype} [${codes.shape}]`);
    return tf.tidy(() => this.toPixels(this.decoder.forward(this.quantizer.decodeCodes(codes) as tf.Tensor4D), false));
  }

  /** encode → decode, cropped to the input size. */
  reconstruct(x: tf.Tensor): tf.Tensor4D {
    return tf.tidy(() => this.forward(x).reconstruction);
  }
}
