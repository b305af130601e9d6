/**
 * Image quality metrics: PSNR and SSIM over HWC pixel arrays.
 *
 * SSIM follows Wang et al. (2004) exactly as scikit-image's
 * `structural_similarity(im1, im2, gaussian_weights=True, sigma=1.5,
 * use_sample_covariance=False, data_range=R, channel_axis=-1)`:
 * an 11×11 Gaussian window (σ = 1.5, truncated at 3.5σ), K1 = 0.01,
 * K2 = 0.03, population (biased) local variances, and the mean taken over
 * the positions where the window lies fully inside the image (skimage crops a
 * 5-pixel border, which makes the result independent of boundary padding).
 * Colour images: the mean of the per-channel SSIMs, or SSIM of the BT.601
 * luma plane. All arithmetic is float64.
 */
import { InvalidArgumentError } from '@vqkit/core';

/** Pixel arrays the metrics accept (HWC or NHWC, row-major). */
export type PixelArray = Float32Array | Float64Array | Uint8Array | Uint8ClampedArray | ArrayLike<number>;

export interface PsnrOptions {
  /**
   * Maximum minus minimum possible pixel value. Default (as skimage infers
   * it from the dtype): 255 for Uint8Array/Uint8ClampedArray inputs, else 1.
   */
  dataRange?: number;
}

/** Geometry of one image. */
export interface ImageGeometry {
  height: number;
  width: number;
  channels: number;
}

export interface SsimOptions {
  /**
   * Maximum minus minimum possible pixel value. Default (as skimage infers
   * it from the dtype): 255 for Uint8Array/Uint8ClampedArray inputs, else 1.
   */
  dataRange?: number;
  /**
   * 'channel-mean' (default): mean of the per-channel SSIMs (skimage with channel_axis).
   * 'luminance': SSIM of the luma Y = 0.299 R + 0.587 G + 0.114 B (3-channel input only).
   */
  mode?: 'channel-mean' | 'luminance';
  /** Gaussian window standard deviation. Default 1.5. */
  sigma?: number;
  /** Stability constant for the luminance term, C1 = (K1·R)². Default 0.01. */
  k1?: number;
  /** Stability constant for the contrast-structure term, C2 = (K2·R)². Default 0.03. */
  k2?: number;
}

/** Per-image values and their mean. */
export interface BatchMetric {
  mean: number;
  perImage: Float64Array;
}

function checkSameLength(a: PixelArray, b: PixelArray): void {
  if (a.length !== b.length) throw new InvalidArgumentError(`images differ in size: ${a.length} vs ${b.length} values`);
  if (a.length === 0) throw new InvalidArgumentError('images are empty');
}

/** The data range to use: explicit, or inferred from the array type. */
function dataRangeOf(a: PixelArray, explicit: number | undefined): number {
  const range = explicit ?? (a instanceof Uint8Array || a instanceof Uint8ClampedArray ? 255 : 1);
  checkRange(range);
  return range;
}

function checkRange(range: number): void {
  if (!(range > 0) || !Number.isFinite(range)) throw new InvalidArgumentError(`dataRange must be a positive number, got ${range}`);
}

/** Mean squared error between two equally sized arrays. */
export function mse(a: PixelArray, b: PixelArray): number {
  checkSameLength(a, b);
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    sum += d * d;
  }
  return sum / a.length;
}

/** Peak signal-to-noise ratio in dB: 10·log10(R² / MSE). Identical images give +Infinity. */
export function psnr(a: PixelArray, b: PixelArray, options: PsnrOptions = {}): number {
  const range = dataRangeOf(a, options.dataRange);
  const err = mse(a, b);
  return err === 0 ? Infinity : 10 * Math.log10((range * range) / err);
}

function checkBatch(a: PixelArray, b: PixelArray, count: number): number {
  checkSameLength(a, b);
  if (!Number.isInteger(count) || count < 1 || a.length % count !== 0) {
    throw new InvalidArgumentError(`cannot split ${a.length} values into ${count} images`);
  }
  return a.length / count;
}

function slice(a: PixelArray, start: number, end: number): PixelArray {
  if (ArrayBuffer.isView(a)) return (a as Float32Array).subarray(start, end);
  return Array.prototype.slice.call(a, start, end) as number[];
}

/**
 * PSNR of each image in a batch (NHWC, `count` images) and the mean of the
 * per-image values (the usual convention; +Infinity if any pair is identical).
 */
export function psnrBatch(a: PixelArray, b: PixelArray, count: number, options: PsnrOptions = {}): BatchMetric {
  const per = checkBatch(a, b, count);
  const perImage = new Float64Array(count);
  for (let i = 0; i < count; i++) perImage[i] = psnr(slice(a, i * per, (i + 1) * per), slice(b, i * per, (i + 1) * per), options);
  return { mean: perImage.reduce((s, v) => s + v, 0) / count, perImage };
}

/** Normalised 1-D Gaussian taps, radius = floor(truncate·σ + 0.5) as in scipy.ndimage. */
export function gaussianWindow(sigma: number, truncate = 3.5): Float64Array {
  if (!(sigma > 0)) throw new InvalidArgumentError(`sigma must be positive, got ${sigma}`);
  const radius = Math.floor(truncate * sigma + 0.5);
  const taps = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const v = Math.exp((-0.5 * i * i) / (sigma * sigma));
    taps[i + radius] = v;
    sum += v;
  }
  for (let i = 0; i < taps.length; i++) taps[i]! /= sum;
  return taps;
}

/** SSIM of one plane (row-major `width`×`height`, read with `stride`/`offset` from interleaved data). */
function ssimPlane(
  x: PixelArray,
  y: PixelArray,
  width: number,
  height: number,
  stride: number,
  offset: number,
  taps: Float64Array,
  c1: number,
  c2: number,
  luma: boolean,
): number {
  const r = (taps.length - 1) / 2;
  const outW = width - 2 * r;
  const outH = height - 2 * r;
  const read = luma
    ? (a: PixelArray, p: number): number => 0.299 * a[p * stride]! + 0.587 * a[p * stride + 1]! + 0.114 * a[p * stride + 2]!
    : (a: PixelArray, p: number): number => a[p * stride + offset]!;
  const xs = new Float64Array(width * height);
  const ys = new Float64Array(width * height);
  for (let p = 0; p < width * height; p++) {
    xs[p] = read(x, p);
    ys[p] = read(y, p);
  }
  // Horizontal pass over the valid columns for the five moment maps.
  const n = height * outW;
  const hx = new Float64Array(n);
  const hy = new Float64Array(n);
  const hxx = new Float64Array(n);
  const hyy = new Float64Array(n);
  const hxy = new Float64Array(n);
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < outW; col++) {
      let sx = 0;
      let sy = 0;
      let sxx = 0;
      let syy = 0;
      let sxy = 0;
      const base = row * width + col;
      for (let t = 0; t < taps.length; t++) {
        const w = taps[t]!;
        const vx = xs[base + t]!;
        const vy = ys[base + t]!;
        sx += w * vx;
        sy += w * vy;
        sxx += w * vx * vx;
        syy += w * vy * vy;
        sxy += w * vx * vy;
      }
      const o = row * outW + col;
      hx[o] = sx;
      hy[o] = sy;
      hxx[o] = sxx;
      hyy[o] = syy;
      hxy[o] = sxy;
    }
  }
  // Vertical pass over the valid rows, evaluating SSIM on the fly.
  let total = 0;
  for (let row = 0; row < outH; row++) {
    for (let col = 0; col < outW; col++) {
      let mx = 0;
      let my = 0;
      let mxx = 0;
      let myy = 0;
      let mxy = 0;
      for (let t = 0; t < taps.length; t++) {
        const w = taps[t]!;
        const o = (row + t) * outW + col;
        mx += w * hx[o]!;
        my += w * hy[o]!;
        mxx += w * hxx[o]!;
        myy += w * hyy[o]!;
        mxy += w * hxy[o]!;
      }
      const vx = mxx - mx * mx;
      const vy = myy - my * my;
      const cov = mxy - mx * my;
      total += ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
    }
  }
  return total / (outW * outH);
}

/** Mean SSIM of two HWC images of the given geometry. 1 means identical. */
export function ssim(a: PixelArray, b: PixelArray, geometry: ImageGeometry, options: SsimOptions = {}): number {
  checkSameLength(a, b);
  const { width, height, channels } = geometry;
  if (a.length !== width * height * channels) {
    throw new InvalidArgumentError(`image has ${a.length} values but ${height}x${width}x${channels} needs ${width * height * channels}`);
  }
  const range = dataRangeOf(a, options.dataRange);
  const taps = gaussianWindow(options.sigma ?? 1.5);
  if (width < taps.length || height < taps.length) {
    throw new InvalidArgumentError(`SSIM needs images of at least ${taps.length}x${taps.length} pixels for sigma ${options.sigma ?? 1.5}, got ${width}x${height}`);
  }
  const c1 = ((options.k1 ?? 0.01) * range) ** 2;
  const c2 = ((options.k2 ?? 0.03) * range) ** 2;
  const mode = options.mode ?? 'channel-mean';
  if (mode === 'luminance') {
    if (channels !== 3) throw new InvalidArgumentError(`SSIM mode 'luminance' needs 3-channel images, got ${channels}`);
    return ssimPlane(a, b, width, height, channels, 0, taps, c1, c2, true);
  }
  if (mode !== 'channel-mean') throw new InvalidArgumentError(`unknown SSIM mode '${String(mode)}'`);
  let sum = 0;
  for (let ch = 0; ch < channels; ch++) sum += ssimPlane(a, b, width, height, channels, ch, taps, c1, c2, false);
  return sum / channels;
}

/** SSIM of each image in an NHWC batch and their mean. */
export function ssimBatch(
  a: PixelArray,
  b: PixelArray,
  shape: readonly [number, number, number, number],
  options: SsimOptions = {},
): BatchMetric {
  const [count, height, width, channels] = shape;
  const per = checkBatch(a, b, count);
  if (per !== height * width * channels) throw new InvalidArgumentError(`batch has ${a.length} values but shape [${shape}] needs ${count * height * width * channels}`);
  const perImage = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    perImage[i] = ssim(slice(a, i * per, (i + 1) * per), slice(b, i * per, (i + 1) * per), { height, width, channels }, options);
  }
  return { mean: perImage.reduce((s, v) => s + v, 0) / count, perImage };
}
