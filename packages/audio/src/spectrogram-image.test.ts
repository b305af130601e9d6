import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { colormap, spectrogramPng, spectrogramRgb } from './spectrogram-image.js';
import { fsddDir } from './test-data.js';
import { readWav } from './wav.js';

describe('spectrogram image', () => {
  it('draws a tone as a bright horizontal line at its frequency, low frequencies at the bottom', () => {
    const rate = 8000;
    const tone = Float32Array.from({ length: 4000 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 1000 * i) / rate));
    const img = spectrogramRgb(tone, rate, { nFft: 256, scale: 1 });
    expect(img.height).toBe(129);
    expect(img.width).toBe(1 + Math.floor(4000 / 64));
    const x = Math.floor(img.width / 2);
    const brightness = (y: number): number => img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3).reduce((a, b) => a + b, 0);
    let brightest = 0;
    for (let y = 1; y < img.height; y++) if (brightness(y) > brightness(brightest)) brightest = y;
    // 1 kHz is bin 32 of 128; row 0 is the top (Nyquist).
    expect(brightest).toBe(128 - 32);
    expect(brightness(128)).toBeLessThan(brightness(brightest) / 4);
  });

  it('maps the colormap ends to near-black and pale yellow', () => {
    expect(colormap(0)).toEqual([0, 0, 4]);
    expect(colormap(1)).toEqual([252, 253, 191]);
    expect(colormap(-5)).toEqual(colormap(0));
  });

  it('encodes a PNG of the expected size, also for silence', async () => {
    const png = await spectrogramPng(new Float32Array(800), 8000);
    const meta = await sharp(png).metadata();
    expect(meta.format).toBe('png');
    expect([meta.width, meta.height]).toEqual([2 * 13, 2 * 129]);
  });

  it.skipIf(!existsSync(fsddDir))('renders a real recording', async () => {
    const wav = await readWav(path.join(fsddDir, readdirSync(fsddDir).find((f) => f.endsWith('.wav'))!));
    const png = await spectrogramPng(wav.channels[0]!, wav.sampleRate);
    expect((await sharp(png).metadata()).height).toBe(258);
  });
});
