import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileFormatError, InvalidArgumentError, Rng } from '@vqkit/core';
import {
  encodeImage,
  imageToTensor,
  loadImage,
  loadImageU8,
  probeImageSize,
  saveImage,
  tensorToImage,
  type RawImage,
} from './io.js';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-io-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function randomU8(width: number, height: number, channels: number, seed = 1): RawImage {
  const rng = new Rng(seed);
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { data, width, height, channels };
}

describe('image io', () => {
  it('PNG round trip is lossless (uint8 and float)', async () => {
    const img = randomU8(17, 13, 3);
    const file = path.join(dir, 'rt.png');
    await saveImage(file, img);
    const u8 = await loadImageU8(file);
    expect(u8.width).toBe(17);
    expect(u8.height).toBe(13);
    expect(u8.channels).toBe(3);
    expect(Buffer.compare(Buffer.from(u8.data), Buffer.from(img.data as Uint8Array))).toBe(0);
    const f32 = await loadImage(fs.readFileSync(file));
    for (let i = 0; i < f32.data.length; i++) expect(f32.data[i]).toBeCloseTo(img.data[i]! / 255, 6);
    // Float input saves to the same bytes.
    await saveImage(path.join(dir, 'rt2.png'), f32);
    const again = await loadImageU8(path.join(dir, 'rt2.png'));
    expect(Buffer.compare(Buffer.from(again.data), Buffer.from(img.data as Uint8Array))).toBe(0);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('converts gray to RGB by replication and RGB to BT.601 luma', async () => {
    const gray = randomU8(5, 4, 1, 2);
    const rgb = await loadImageU8(await encodeImage(gray, 'png'), { channels: 3 });
    for (let i = 0; i < 20; i++) {
      expect([rgb.data[3 * i], rgb.data[3 * i + 1], rgb.data[3 * i + 2]]).toEqual([gray.data[i], gray.data[i], gray.data[i]]);
    }
    const colour = randomU8(5, 4, 3, 3);
    const luma = await loadImage(colour, { channels: 1 });
    expect(luma.channels).toBe(1);
    for (let i = 0; i < 20; i++) {
      const expected = (0.299 * colour.data[3 * i]! + 0.587 * colour.data[3 * i + 1]! + 0.114 * colour.data[3 * i + 2]!) / 255;
      expect(luma.data[i]).toBeCloseTo(expected, 5);
    }
  });

  it('flattens alpha on white or drops it', async () => {
    // Pixels: transparent red, half-transparent blue, opaque green.
    const rgba: RawImage = { data: new Uint8Array([255, 0, 0, 0, 0, 0, 255, 128, 0, 255, 0, 255]), width: 3, height: 1, channels: 4 };
    const png = await encodeImage(rgba, 'png');
    const flat = await loadImage(png);
    const a = 128 / 255;
    const expected = [1, 1, 1, 1 - a, 1 - a, a + (1 - a), 0, 1, 0];
    expected.forEach((v, i) => expect(flat.data[i]).toBeCloseTo(v, 5));
    const dropped = await loadImageU8(png, { alpha: 'drop' });
    expect([...dropped.data]).toEqual([255, 0, 0, 0, 0, 255, 0, 255, 0]);
    const grayAlpha: RawImage = { data: new Float32Array([0.2, 0.5]), width: 1, height: 1, channels: 2 };
    expect((await loadImage(grayAlpha, { channels: 1 })).data[0]).toBeCloseTo(0.2 * 0.5 + 0.5, 6);
  });

  it('keeps raw float pixels exact when no resampling is needed', async () => {
    const data = new Float32Array(4 * 3 * 3).map((_, i) => (i % 11) / 10.5);
    const out = await loadImage({ data, width: 4, height: 3, channels: 3 }, { size: { width: 4, height: 3 }, resize: 'resize' });
    expect([...out.data]).toEqual([...data]);
  });

  it('applies the resize policies', async () => {
    // 40x20 image: left half red, right half blue.
    const w = 40;
    const h = 20;
    const data = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(x < 20 ? [255, 0, 0] : [0, 0, 255], (y * w + x) * 3);
    const src: RawImage = { data, width: w, height: h, channels: 3 };
    const png = await encodeImage(src, 'png');

    const resized = await loadImageU8(png, { size: { width: 10, height: 10 }, resize: 'resize' });
    expect([resized.width, resized.height]).toEqual([10, 10]);
    expect([...resized.data.subarray(0, 3)]).toEqual([255, 0, 0]);
    expect([...resized.data.subarray(27, 30)]).toEqual([0, 0, 255]);

    // Cover-scaling to height 10 gives 20x10; the central 10 columns are half red, half blue.
    const cropped = await loadImageU8(png, { size: 10 });
    expect([cropped.width, cropped.height]).toEqual([10, 10]);
    expect([...cropped.data.subarray(0, 3)]).toEqual([255, 0, 0]);
    expect([...cropped.data.subarray(27, 30)]).toEqual([0, 0, 255]);

    // Fit inside 10x10 gives 10x5, centred with 2 padded rows above and 3 below.
    const padded = await loadImage(src, { size: 10, resize: 'pad', padValue: 0.5 });
    expect([padded.width, padded.height]).toEqual([10, 10]);
    const row = (y: number): number[] => [...padded.data.subarray(y * 30, y * 30 + 3)];
    expect(row(0)).toEqual([0.5, 0.5, 0.5]);
    expect(row(1)).toEqual([0.5, 0.5, 0.5]);
    expect(row(2)).toEqual([1, 0, 0]);
    expect(row(6)).toEqual([1, 0, 0]);
    expect(row(7)).toEqual([0.5, 0.5, 0.5]);
    expect(row(9)).toEqual([0.5, 0.5, 0.5]);

    await expect(loadImage(png, { size: 10, resize: 'none' })).rejects.toThrow(InvalidArgumentError);
    await expect(loadImage(png, { size: 10, resize: 'crop' as 'pad' })).rejects.toThrow(/unknown resize policy 'crop'/);
    const same = await loadImageU8(png, { size: { width: 40, height: 20 }, resize: 'none' });
    expect(Buffer.compare(Buffer.from(same.data), Buffer.from(data))).toBe(0);
  });

  it('probes the output size from the header only', async () => {
    const png = await encodeImage(randomU8(30, 12, 3), 'png');
    expect(await probeImageSize(png)).toEqual({ width: 30, height: 12 });
    expect(await probeImageSize(png, { size: 8, resize: 'pad' })).toEqual({ width: 8, height: 8 });
    // Header intact, pixel data missing: the probe succeeds, a full decode fails.
    expect(await probeImageSize(png.subarray(0, 100))).toEqual({ width: 30, height: 12 });
    await expect(loadImage(png.subarray(0, 100))).rejects.toThrow(FileFormatError);
    await expect(probeImageSize(png, { size: 8, resize: 'none' })).rejects.toThrow(InvalidArgumentError);
    await expect(probeImageSize(Buffer.from('nope'))).rejects.toThrow(FileFormatError);
  });

  it('accepts sharp pipelines', async () => {
    const img = await loadImageU8(sharp({ create: { width: 6, height: 2, channels: 3, background: { r: 10, g: 20, b: 30 } } }));
    expect([img.width, img.height]).toEqual([6, 2]);
    expect([...img.data.subarray(0, 3)]).toEqual([10, 20, 30]);
  });

  it('reports missing, corrupt and truncated files as FileFormatError with the path', async () => {
    const missing = path.join(dir, 'missing.png');
    await expect(loadImage(missing)).rejects.toThrow(FileFormatError);
    const garbage = path.join(dir, 'garbage.png');
    fs.writeFileSync(garbage, 'this is not a png');
    const err = await loadImage(garbage).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileFormatError);
    expect((err as FileFormatError).path).toBe(garbage);
    expect((err as Error).message).toContain(garbage);
    const good = await encodeImage(randomU8(64, 64, 3), 'png');
    const truncated = path.join(dir, 'truncated.png');
    fs.writeFileSync(truncated, good.subarray(0, good.length >> 1));
    await expect(loadImage(truncated)).rejects.toThrow(FileFormatError);
  });

  it('saves JPEG and WebP by extension and rejects unknown extensions', async () => {
    // A smooth image compresses with small error.
    const w = 32;
    const data = new Float32Array(w * w * 3).map((_, i) => 0.25 + 0.5 * (Math.floor(i / 3) % w) / w);
    const img: RawImage = { data, width: w, height: w, channels: 3 };
    for (const ext of ['jpg', 'jpeg', 'webp']) {
      const file = path.join(dir, `x.${ext}`);
      await saveImage(file, img, { quality: 95 });
      const back = await loadImage(file);
      const meta = await sharp(file).metadata();
      expect(meta.format).toBe(ext === 'webp' ? 'webp' : 'jpeg');
      let maxErr = 0;
      for (let i = 0; i < data.length; i++) maxErr = Math.max(maxErr, Math.abs(back.data[i]! - data[i]!));
      expect(maxErr).toBeLessThan(0.06);
    }
    await expect(saveImage(path.join(dir, 'x.bmp'), img)).rejects.toThrow(InvalidArgumentError);
    await expect(saveImage(path.join(dir, 'y.png'), { ...img, width: 31 })).rejects.toThrow(InvalidArgumentError);
  });

  it('converts to and from tensors without leaking', async () => {
    const before = tf.memory().numTensors;
    const img = randomU8(3, 2, 3);
    const t = imageToTensor(img);
    expect(t.shape).toEqual([2, 3, 3]);
    const back = await tensorToImage(t);
    t.dispose();
    for (let i = 0; i < back.data.length; i++) expect(back.data[i]).toBeCloseTo(img.data[i]! / 255, 6);
    expect(tf.memory().numTensors).toBe(before);
  });
});
