import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, Rng } from '@vqkit/core';
import type { RawImage } from '../io.js';
import { linearScale, logScale, formatNumber } from './axes.js';
import { RgbCanvas } from './canvas.js';
import { barChart, codebookUsageChart, imageGrid, lineChart, renderBarChart, renderImageGrid } from './charts.js';
import { glyph, textWidth } from './font.js';

/** Set VQKIT_FIGURE_DIR to keep the rendered figures for a visual check. */
const figureDir = process.env.VQKIT_FIGURE_DIR;

async function decodePng(png: Buffer, name: string): Promise<{ width: number; height: number; data: Buffer }> {
  if (figureDir) {
    fs.mkdirSync(figureDir, { recursive: true });
    fs.writeFileSync(path.join(figureDir, `${name}.png`), png);
  }
  const meta = await sharp(png).metadata();
  expect(meta.format).toBe('png');
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(3);
  return { width: info.width, height: info.height, data };
}

function checker(size: number, channels: number, seed: number): RawImage {
  const rng = new Rng(seed);
  const data = new Float32Array(size * size * channels);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < channels; c++) data[(y * size + x) * channels + c] = ((x >> 2) + (y >> 2)) % 2 ? 0.9 : 0.1 + 0.3 * rng.uniform();
    }
  }
  return { data, width: size, height: size, channels };
}

describe('bitmap font and canvas', () => {
  it('draws text pixels from the glyphs', () => {
    const canvas = new RgbCanvas(20, 10);
    canvas.text('1', 2, 1);
    const one = glyph('1');
    for (let r = 0; r < 7; r++) {
      for (let c = 0; c < 5; c++) expect(canvas.getPixel(2 + c, 1 + r)).toEqual(one[r * 5 + c] ? [0, 0, 0] : [255, 255, 255]);
    }
    expect(textWidth('abc')).toBe(17);
    expect(textWidth('abc', 2)).toBe(34);
    expect(glyph('\u2603')).toEqual(glyph('?'));
    // Vertical text occupies a 7-wide, textWidth-tall column.
    const v = new RgbCanvas(20, 30);
    v.text('AB', 5, 25, { vertical: true });
    let minX = Infinity;
    let maxX = -Infinity;
    let minY = Infinity;
    let maxY = -Infinity;
    for (let y = 0; y < 30; y++) {
      for (let x = 0; x < 20; x++) {
        if (v.getPixel(x, y)[0] === 0) {
          minX = Math.min(minX, x);
          maxX = Math.max(maxX, x);
          minY = Math.min(minY, y);
          maxY = Math.max(maxY, y);
        }
      }
    }
    expect([minX, maxX]).toEqual([5, 11]);
    expect([minY, maxY]).toEqual([25 - 11, 24]);
  });
});

describe('axes', () => {
  it('places nice linear ticks and decade log ticks', () => {
    const s = linearScale(0.013, 0.87, 0, 100);
    expect(s.ticks.map((t) => s.format(t))).toEqual(['0.0', '0.2', '0.4', '0.6', '0.8', '1.0']);
    expect(s.map(0)).toBe(0);
    expect(s.map(1)).toBe(100);
    const l = logScale(0.003, 2.5, 100, 0);
    expect(l.ticks).toEqual([0.001, 0.01, 0.1, 1, 10]);
    expect(l.map(0.001)).toBe(100);
    expect(l.map(10)).toBeCloseTo(0, 9);
    expect(formatNumber(0.0001)).toBe('1e-4');
    expect(formatNumber(250000)).toBe('2.5e5');
  });
});

describe('figures', () => {
  it('imageGrid lays out originals and reconstructions at the expected size', async () => {
    const originals = [0, 1, 2, 3].map((i) => checker(28, 1, i));
    const recon = originals.map((o) => ({ ...o, data: (o.data as Float32Array).map((v) => v * 0.8) }));
    const options = { rowLabels: ['original', 'recon'], columnLabels: ['a', 'b', 'c', 'd'], title: 'Fashion-MNIST' };
    const canvas = renderImageGrid([originals, recon], options);
    // scale 3 (28*3 = 84 >= 64), gap 4, label column = textWidth('original') + 8.
    const labelW = textWidth('original') + 8;
    expect(canvas.width).toBe(labelW + 4 + 4 * (84 + 4));
    const titleH = 14 + 8;
    const top = titleH + 7 + 4 + 4;
    expect(canvas.height).toBe(top + 2 * (84 + 4));
    // The first cell shows image 0 enlarged 3×.
    const expected = Math.round(originals[0]!.data[0]! * 255);
    expect(canvas.getPixel(labelW + 4, top)).toEqual([expected, expected, expected]);
    expect(canvas.getPixel(labelW + 4 + 2, top + 2)).toEqual([expected, expected, expected]);
    const png = await imageGrid([originals, recon], options);
    const decoded = await decodePng(png, 'image-grid');
    expect([decoded.width, decoded.height]).toEqual([canvas.width, canvas.height]);
    expect(Buffer.compare(decoded.data, Buffer.from(canvas.data))).toBe(0);
    // RGB images of different sizes are centred in equal cells.
    const rgb = await decodePng(await imageGrid([[checker(32, 3, 5), checker(20, 3, 6)]], { scale: 2 }), 'image-grid-rgb');
    expect([rgb.width, rgb.height]).toEqual([4 + 2 * (64 + 4), 4 + 64 + 4]);
    expect(() => renderImageGrid([])).toThrow(InvalidArgumentError);
  });

  it('barChart draws a usage histogram, unsorted and sorted', async () => {
    const rng = new Rng(3);
    const counts = Array.from({ length: 64 }, (_, i) => (i % 9 === 0 ? 0 : Math.round(1000 * Math.exp(-i / 20) * rng.uniform(0.5, 1.5))));
    const plain = renderBarChart(counts, { title: 'codebook usage', xLabel: 'code', yLabel: 'count' });
    const sorted = renderBarChart(counts, { sorted: true, xLabel: 'rank', yLabel: 'count' });
    expect([plain.width, plain.height]).toEqual([640, 400]);
    // Sorted bars never increase: sample the bar heights at each bar centre.
    const barTop = (canvas: RgbCanvas, i: number): number => {
      const x = Math.round(78 + 1 + (i + 0.5) * ((640 - 78 - 20) / 64));
      for (let y = 0; y < canvas.height; y++) {
        const [r, g, b] = canvas.getPixel(x, y);
        if (r === 31 && g === 119 && b === 180) return y;
      }
      return canvas.height;
    };
    const tops = counts.map((_, i) => barTop(sorted, i));
    for (let i = 1; i < tops.length; i++) expect(tops[i]).toBeGreaterThanOrEqual(tops[i - 1]!);
    // Zero-count codes draw no bar in the unsorted chart.
    expect(barTop(plain, 9)).toBe(plain.height);
    expect(barTop(plain, 1)).toBeLessThan(plain.height);
    for (const [name, opts] of [
      ['bar-unsorted', { title: 'codebook usage', xLabel: 'code', yLabel: 'count' }],
      ['bar-sorted-log', { sorted: true, logY: true, xLabel: 'rank', yLabel: 'count' }],
    ] as const) {
      const decoded = await decodePng(await barChart(counts, opts), name);
      expect([decoded.width, decoded.height]).toEqual([640, 400]);
    }
    // More bars than pixels still renders (column maxima).
    const many = Array.from({ length: 4096 }, (_, i) => (i === 1234 ? 500 : i % 7));
    const big = await decodePng(await codebookUsageChart(many, { title: 'VQ 4096' }), 'codebook-usage');
    expect([big.width, big.height]).toEqual([640, 320 + 8 + 320]);
  });

  it('lineChart draws loss curves with legend and log axis', async () => {
    const steps = Array.from({ length: 200 }, (_, i) => i * 10);
    const train = steps.map((s) => 0.5 * Math.exp(-s / 400) + 0.01 + 0.005 * Math.sin(s));
    // Validation is evaluated every 200 steps; one evaluation failed (NaN breaks the line).
    const valSteps = steps.filter((_, i) => i % 20 === 0);
    const val = valSteps.map((s, i) => (i === 4 ? Number.NaN : 0.55 * Math.exp(-s / 450) + 0.015));
    const png = await lineChart(
      [
        { name: 'train', x: steps, y: train },
        { name: 'validation', x: valSteps, y: val },
      ],
      { title: 'reconstruction loss', xLabel: 'step', yLabel: 'MSE', logY: true, width: 720, height: 420 },
    );
    const decoded = await decodePng(png, 'line-log');
    expect([decoded.width, decoded.height]).toEqual([720, 420]);
    // The train series colour appears in the plot.
    let blue = 0;
    for (let i = 0; i < decoded.data.length; i += 3) if (decoded.data[i] === 31 && decoded.data[i + 1] === 119 && decoded.data[i + 2] === 180) blue++;
    expect(blue).toBeGreaterThan(300);
    const linear = await decodePng(await lineChart({ y: train }, { xLabel: 'step', yLabel: 'loss' }), 'line-linear');
    expect([linear.width, linear.height]).toEqual([640, 400]);
    expect(() => lineChart({ y: [Number.NaN] })).toThrow(InvalidArgumentError);
    expect(() => lineChart({ x: [1, 2], y: [1] })).toThrow(InvalidArgumentError);
  });
});
