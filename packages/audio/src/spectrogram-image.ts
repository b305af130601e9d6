/**
 * Spectrogram pictures for training reports: log-power STFT in dB relative
 * to the loudest bin, mapped through a perceptually ordered colormap
 * (magma-like: black → purple → orange → pale yellow), low frequencies at
 * the bottom, encoded as PNG with sharp.
 */
import sharp from 'sharp';
import { InvalidArgumentError } from '@vqkit/core';
import { stftPower } from './dsp.js';

/** Options for {@link spectrogramPng}. */
export interface SpectrogramImageOptions {
  /** FFT size. Default: the power of two nearest 32 ms (256 at 8 kHz, 512 at 16 kHz). */
  nFft?: number;
  /** Hop. Default nFft / 4. */
  hopLength?: number;
  /** dB below the loudest bin that map to black. Default 80. */
  dynamicRangeDb?: number;
  /** Pixels per frame horizontally and per bin vertically (nearest-neighbour). Default 2. */
  scale?: number;
}

/** An RGB image, row-major, 3 bytes per pixel. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Magma-like control points (approximating matplotlib's magma at 0, ⅛, …, 1). */
const COLORMAP: readonly (readonly [number, number, number])[] = [
  [0, 0, 4],
  [28, 16, 68],
  [79, 18, 123],
  [129, 37, 129],
  [181, 54, 122],
  [229, 80, 100],
  [251, 135, 97],
  [254, 194, 135],
  [252, 253, 191],
];

/** Colormap lookup for t in [0, 1] (clamped). */
export function colormap(t: number): [number, number, number] {
  const x = Math.max(0, Math.min(1, t)) * (COLORMAP.length - 1);
  const i = Math.min(COLORMAP.length - 2, Math.floor(x));
  const f = x - i;
  const a = COLORMAP[i]!;
  const b = COLORMAP[i + 1]!;
  return [Math.round(a[0] + f * (b[0] - a[0])), Math.round(a[1] + f * (b[1] - a[1])), Math.round(a[2] + f * (b[2] - a[2]))];
}

/** Renders the spectrogram as raw RGB (frames across, bins up). */
export function spectrogramRgb(signal: Float32Array, sampleRate: number, options: SpectrogramImageOptions = {}): RgbImage {
  if (!(sampleRate > 0)) throw new InvalidArgumentError(`spectrogram: sampleRate must be positive, got ${sampleRate}`);
  const { nFft = 2 ** Math.round(Math.log2(0.032 * sampleRate)), hopLength = Math.max(1, Math.floor(nFft / 4)), dynamicRangeDb = 80, scale = 2 } = options;
  if (!(dynamicRangeDb > 0)) throw new InvalidArgumentError(`spectrogram: dynamicRangeDb must be positive, got ${dynamicRangeDb}`);
  if (!Number.isInteger(scale) || scale < 1) throw new InvalidArgumentError(`spectrogram: scale must be a positive integer, got ${scale}`);
  const power = stftPower(signal, { nFft, hopLength });
  let max = 0;
  for (const v of power.data) max = Math.max(max, v);
  // Silence: everything maps to the bottom of the colormap.
  const refDb = max > 0 ? 10 * Math.log10(max) : 0;
  const width = power.frames * scale;
  const height = power.bins * scale;
  const data = new Uint8Array(width * height * 3);
  for (let f = 0; f < power.frames; f++) {
    for (let k = 0; k < power.bins; k++) {
      const p = power.data[f * power.bins + k]!;
      const db = p > 0 ? 10 * Math.log10(p) - refDb : -Infinity;
      const rgb = colormap(1 + db / dynamicRangeDb);
      const row0 = (power.bins - 1 - k) * scale;
      for (let dy = 0; dy < scale; dy++) {
        for (let dx = 0; dx < scale; dx++) data.set(rgb, ((row0 + dy) * width + f * scale + dx) * 3);
      }
    }
  }
  return { width, height, data };
}

/** Renders a spectrogram PNG of a mono signal. */
export async function spectrogramPng(signal: Float32Array, sampleRate: number, options: SpectrogramImageOptions = {}): Promise<Buffer> {
  const { width, height, data } = spectrogramRgb(signal, sampleRate, options);
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}
