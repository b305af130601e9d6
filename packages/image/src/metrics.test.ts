import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, Rng } from '@vqkit/core';
import { gaussianWindow, mse, psnr, psnrBatch, ssim, ssimBatch } from './metrics.js';

/**
 * Slow, direct SSIM (Wang et al.) for one plane: at every position whose
 * 11×11 window lies inside the image, weighted moments with the 2-D Gaussian
 * w(u, v) = g(u)·g(v) computed from scratch, then the mean of the SSIM map.
 */
function referenceSsimPlane(x: number[][], y: number[][], range: number): number {
  const sigma = 1.5;
  const radius = 5;
  const g: number[] = [];
  for (let i = -radius; i <= radius; i++) g.push(Math.exp(-(i * i) / (2 * sigma * sigma)));
  const gs = g.reduce((s, v) => s + v, 0);
  const c1 = (0.01 * range) ** 2;
  const c2 = (0.03 * range) ** 2;
  const h = x.length;
  const w = x[0]!.length;
  let total = 0;
  let count = 0;
  for (let i = radius; i < h - radius; i++) {
    for (let j = radius; j < w - radius; j++) {
      let mx = 0;
      let my = 0;
      for (let u = -radius; u <= radius; u++) {
        for (let v = -radius; v <= radius; v++) {
          const wt = (g[u + radius]! * g[v + radius]!) / (gs * gs);
          mx += wt * x[i + u]![j + v]!;
          my += wt * y[i + u]![j + v]!;
        }
      }
      let vx = 0;
      let vy = 0;
      let cxy = 0;
      for (let u = -radius; u <= radius; u++) {
        for (let v = -radius; v <= radius; v++) {
          const wt = (g[u + radius]! * g[v + radius]!) / (gs * gs);
          const dx = x[i + u]![j + v]! - mx;
          const dy = y[i + u]![j + v]! - my;
          vx += wt * dx * dx;
          vy += wt * dy * dy;
          cxy += wt * dx * dy;
        }
      }
      total += ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
      count++;
    }
  }
  return total / count;
}

function plane(data: ArrayLike<number>, w: number, h: number, c: number, ch: number): number[][] {
  return Array.from({ length: h }, (_, i) => Array.from({ length: w }, (_, j) => data[(i * w + j) * c + ch]!));
}

function noisyPair(w: number, h: number, c: number, seed: number): [Float32Array, Float32Array] {
  const rng = new Rng(seed);
  const a = new Float32Array(w * h * c);
  const b = new Float32Array(w * h * c);
  for (let i = 0; i < a.length; i++) {
    // Smooth-ish content plus noise, so SSIM lands well inside (0, 1).
    const p = Math.floor(i / c);
    a[i] = 0.5 + 0.3 * Math.sin((p % w) / 3 + (i % c)) * Math.cos(Math.floor(p / w) / 4);
    b[i] = Math.min(1, Math.max(0, a[i]! + rng.normal(0, 0.08)));
  }
  return [a, b];
}

describe('PSNR', () => {
  it('matches the definition', () => {
    const a = new Float32Array([0, 0.5, 1, 0.25]);
    const b = new Float32Array([0.1, 0.5, 0.9, 0.25]);
    const expectedMse = (0.01 + 0.01) / 4;
    expect(mse(a, b)).toBeCloseTo(expectedMse, 8);
    expect(psnr(a, b)).toBeCloseTo(10 * Math.log10(1 / expectedMse), 5);
    // Uniform error of 1/255 in 8-bit units: 20·log10(255) ≈ 48.13 dB.
    const u8a = new Uint8Array([10, 20, 30]);
    const u8b = new Uint8Array([11, 21, 31]);
    expect(psnr(u8a, u8b, { dataRange: 255 })).toBeCloseTo(48.1308, 3);
    // 8-bit arrays default to a data range of 255, like skimage.
    expect(psnr(u8a, u8b)).toBeCloseTo(48.1308, 3);
    expect(psnr(a, a)).toBe(Infinity);
    expect(() => psnr(a, b.subarray(1))).toThrow(InvalidArgumentError);
    expect(() => psnr(a, b, { dataRange: 0 })).toThrow(InvalidArgumentError);
  });

  it('averages per-image values over a batch', () => {
    const a = new Float64Array([0, 0, 1, 1]);
    const b = new Float64Array([0.1, 0.1, 0.99, 0.99]);
    const { mean, perImage } = psnrBatch(a, b, 2);
    expect(perImage[0]).toBeCloseTo(20, 6);
    expect(perImage[1]).toBeCloseTo(40, 6);
    expect(mean).toBeCloseTo(30, 6);
    expect(() => psnrBatch(a, b, 3)).toThrow(InvalidArgumentError);
  });
});

describe('SSIM', () => {
  it('uses the 11-tap σ=1.5 Gaussian window', () => {
    const g = gaussianWindow(1.5);
    expect(g.length).toBe(11);
    expect(g.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
    expect(g[5]! / g[4]!).toBeCloseTo(Math.exp(1 / 4.5), 12);
  });

  it('is 1 for identical images', () => {
    const [a] = noisyPair(16, 14, 3, 1);
    expect(ssim(a, a, { width: 16, height: 14, channels: 3 })).toBeCloseTo(1, 12);
  });

  it('matches the closed form for constant images', () => {
    // Variances and covariance vanish: SSIM = (2ab + C1) / (a² + b² + C1).
    for (const [av, bv] of [
      [0.3, 0.5],
      [0.9, 0.1],
      [0, 0.2],
    ] as const) {
      const a = new Float32Array(12 * 12).fill(av);
      const b = new Float32Array(12 * 12).fill(bv);
      const c1 = 0.01 ** 2;
      expect(ssim(a, b, { width: 12, height: 12, channels: 1 })).toBeCloseTo((2 * av * bv + c1) / (av * av + bv * bv + c1), 6);
    }
  });

  it('matches the closed form for a ramp plus a constant offset', () => {
    // On a linear ramp the Gaussian local mean equals the centre value and the
    // two images have equal local variance and covariance, so SSIM at each
    // valid position is (2x(x+c) + C1) / (x² + (x+c)² + C1).
    const w = 30;
    const h = 13;
    const c = 0.1;
    const range = 255;
    const a = new Float64Array(w * h);
    const b = new Float64Array(w * h);
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        a[i * w + j] = 20 + 5 * j + 2 * i;
        b[i * w + j] = a[i * w + j]! + c * range;
      }
    }
    const c1 = (0.01 * range) ** 2;
    let expected = 0;
    let n = 0;
    for (let i = 5; i < h - 5; i++) {
      for (let j = 5; j < w - 5; j++) {
        const x = a[i * w + j]!;
        const y = x + c * range;
        expected += (2 * x * y + c1) / (x * x + y * y + c1);
        n++;
      }
    }
    expect(ssim(a, b, { width: w, height: h, channels: 1 }, { dataRange: range })).toBeCloseTo(expected / n, 9);
  });

  it('matches a direct windowed reference on noisy colour images', () => {
    const w = 19;
    const h = 16;
    const [a, b] = noisyPair(w, h, 3, 7);
    const perChannel = [0, 1, 2].map((ch) => referenceSsimPlane(plane(a, w, h, 3, ch), plane(b, w, h, 3, ch), 1));
    const expected = perChannel.reduce((s, v) => s + v, 0) / 3;
    const got = ssim(a, b, { width: w, height: h, channels: 3 });
    expect(got).toBeCloseTo(expected, 9);
    expect(got).toBeGreaterThan(0.2);
    expect(got).toBeLessThan(0.99);
    // Symmetric in its arguments.
    expect(ssim(b, a, { width: w, height: h, channels: 3 })).toBeCloseTo(got, 12);
    // Luminance mode is SSIM of the BT.601 luma planes.
    const luma = (x: Float32Array) => Float64Array.from({ length: w * h }, (_, p) => 0.299 * x[3 * p]! + 0.587 * x[3 * p + 1]! + 0.114 * x[3 * p + 2]!);
    const ya = luma(a);
    const yb = luma(b);
    expect(ssim(a, b, { width: w, height: h, channels: 3 }, { mode: 'luminance' })).toBeCloseTo(
      referenceSsimPlane(plane(ya, w, h, 1, 0), plane(yb, w, h, 1, 0), 1),
      9,
    );
  });

  it('is scale-consistent: 8-bit data with range 255 equals [0,1] data with range 1', () => {
    const [a, b] = noisyPair(15, 15, 1, 3);
    const a255 = a.map((v) => v * 255);
    const b255 = b.map((v) => v * 255);
    const u8a = Uint8Array.from(a255, Math.round);
    const u8b = Uint8Array.from(b255, Math.round);
    expect(ssim(u8a, u8b, { width: 15, height: 15, channels: 1 })).toBeCloseTo(
      ssim(u8a, u8b, { width: 15, height: 15, channels: 1 }, { dataRange: 255 }),
      12,
    );
    expect(ssim(a255, b255, { width: 15, height: 15, channels: 1 }, { dataRange: 255 })).toBeCloseTo(
      ssim(a, b, { width: 15, height: 15, channels: 1 }),
      6,
    );
  });

  it('averages per-image SSIM over a batch and validates sizes', () => {
    const [a1, b1] = noisyPair(12, 12, 1, 1);
    const [a2] = noisyPair(12, 12, 1, 2);
    const a = new Float32Array([...a1, ...a2]);
    const b = new Float32Array([...b1, ...a2]);
    const { mean, perImage } = ssimBatch(a, b, [2, 12, 12, 1]);
    expect(perImage[0]).toBeCloseTo(ssim(a1, b1, { width: 12, height: 12, channels: 1 }), 12);
    expect(perImage[1]).toBeCloseTo(1, 12);
    expect(mean).toBeCloseTo((perImage[0]! + 1) / 2, 12);
    expect(() => ssim(new Float32Array(100), new Float32Array(100), { width: 10, height: 10, channels: 1 })).toThrow(/at least 11x11/);
    expect(() => ssim(a1, b1, { width: 12, height: 12, channels: 1 }, { mode: 'luminance' })).toThrow(InvalidArgumentError);
  });
});
