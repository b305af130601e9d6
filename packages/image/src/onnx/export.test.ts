import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FileFormatError, initEngine, readOnnxModel, Rng } from '@vqkit/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ImageF32 } from '../io.js';
import { createImageTokenizerConfig, type DownsamplingFactor, type ImageQuantizerConfig } from '../model/config.js';
import { ImageTokenizer } from '../tokenizer.js';
import { exportImageModelToOnnx, exportImageTokenizerToOnnx, ONNX_EXPORT_DIR } from './export.js';
import { ImageOnnxRuntime } from './runtime.js';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-onnx-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tinyTokenizer(quantizer: ImageQuantizerConfig, downsampling: DownsamplingFactor, channels: 1 | 3, output: 'sigmoid' | 'clamp' = 'sigmoid', hiddenChannels = 8): ImageTokenizer {
  return ImageTokenizer.create(
    createImageTokenizerConfig({
      architecture: { downsampling, hiddenChannels, residualBlocks: 1, residualHiddenChannels: 4, codeDim: 6, output },
      preprocessing: { height: 16, width: 16, channels },
      quantizer,
    }),
    { seed: 11 },
  );
}

function randomImages(count: number, height: number, width: number, channels: 1 | 3, seed: number): ImageF32[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => ({ data: Float32Array.from({ length: height * width * channels }, () => rng.uniform()), height, width, channels }));
}

const cases: { name: string; quantizer: ImageQuantizerConfig; f: DownsamplingFactor; channels: 1 | 3; output?: 'clamp'; hidden?: number }[] = [
  { name: 'VQ, f=4, grey', quantizer: { type: 'vq', codebookSize: 32, kmeansInit: false }, f: 4, channels: 1 },
  { name: 'cosine VQ with a projected codebook, f=8, RGB, clamp output', quantizer: { type: 'vq', codebookSize: 16, kmeansInit: false, cosine: true, codebookDim: 3 }, f: 8, channels: 3, output: 'clamp' },
  { name: 'RVQ (3 levels), f=2', quantizer: { type: 'rvq', codebookSize: 8, levels: 3, kmeansInit: false }, f: 2, channels: 3 },
  { name: 'FSQ [5, 4, 3] with projections, f=4', quantizer: { type: 'fsq', levels: [5, 4, 3] }, f: 4, channels: 1 },
  // 16+ channels per transposed conv: exported as stride-1 phase Convs + DepthToSpace (fewer use ConvTranspose).
  { name: 'VQ, f=8, RGB, 32 hidden channels', quantizer: { type: 'vq', codebookSize: 32, kmeansInit: false }, f: 8, channels: 3, hidden: 32 },
];

describe('image tokenizer ONNX export', () => {
  for (const c of cases) {
    it(`${c.name}: ONNX Runtime codes and pixels match TF.js`, async () => {
      const tok = tinyTokenizer(c.quantizer, c.f, c.channels, c.output, c.hidden);
      const dir = tempDir();
      exportImageTokenizerToOnnx(tok, dir);
      if (c.hidden) {
        const ops = readOnnxModel(fs.readFileSync(path.join(dir, 'decoder.onnx'))).graph!.node!.map((n) => n.opType);
        expect(ops).toContain('DepthToSpace');
      }
      const runtime = await ImageOnnxRuntime.open(dir, tok.id);
      try {
        for (const [h, w] of [
          [16, 16],
          [8 * c.f, 4 * c.f],
        ] as const) {
          const images = randomImages(3, h, w, c.channels, h * 31 + w);
          const pixels = new Float32Array(3 * h * w * c.channels);
          images.forEach((img, i) => pixels.set(img.data, i * img.data.length));
          const expected = tf.tidy(() => tok.model.encode(tf.tensor4d(pixels, [3, h, w, c.channels])));
          const got = await runtime.encode(pixels, [3, h, w, c.channels]);
          expect(got.shape).toEqual(expected.shape);
          expect(Array.from(got.codes)).toEqual(Array.from(expected.dataSync()));
          const decoded = tf.tidy(() => tok.model.decode(expected));
          const onnxPixels = await runtime.decode(got.codes, got.shape);
          expect(onnxPixels.shape).toEqual(decoded.shape);
          const ref = decoded.dataSync();
          let maxDiff = 0;
          for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref[i]! - onnxPixels.pixels[i]!));
          expect(maxDiff).toBeLessThan(1e-4);
          tf.dispose([expected, decoded]);
        }
      } finally {
        await runtime.release();
        tok.dispose();
      }
    });
  }

  it('the graphs declare dynamic batch/height/width and opset 17', async () => {
    const tok = tinyTokenizer({ type: 'vq', codebookSize: 8, kmeansInit: false }, 4, 1);
    const { encoder, manifest } = exportImageModelToOnnx(tok.model, tok.id);
    tok.dispose();
    expect(manifest.opset).toBe(17);
    const model = readOnnxModel(encoder);
    const dims = model.graph!.input![0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
    expect(dims).toEqual(['batch', 'height', 'width', 1]);
  });

  it('ImageTokenizer.load picks ONNX Runtime for a matching export, TF.js otherwise, with the same codes', async () => {
    const dir = tempDir();
    const tok = tinyTokenizer({ type: 'vq', codebookSize: 32, kmeansInit: false }, 4, 3);
    await tok.save(dir);
    const images = [...randomImages(2, 16, 16, 3, 1), ...randomImages(1, 13, 10, 3, 2)];

    const none = await ImageTokenizer.load(dir);
    expect(none.runtime).toBe('tfjs');
    expect(none.runtimeDescription).toMatch(/no ONNX export/);
    await expect(ImageTokenizer.load(dir, { runtime: 'onnx' })).rejects.toThrow(FileFormatError);
    const reference = await none.encode(images.map((i) => ({ ...i, data: Uint8Array.from(i.data, (v) => Math.round(v * 255)), channels: i.channels })));

    exportImageTokenizerToOnnx(tok, path.join(dir, ONNX_EXPORT_DIR));
    const viaOnnx = await ImageTokenizer.load(dir);
    expect(viaOnnx.runtime).toBe('onnx');
    const viaTfjs = await ImageTokenizer.load(dir, { runtime: 'tfjs' });
    expect(viaTfjs.runtime).toBe('tfjs');
    const raw = images.map((i) => ({ ...i, data: Uint8Array.from(i.data, (v) => Math.round(v * 255)) }));
    const a = await viaOnnx.encode(raw);
    const b = await viaTfjs.encode(raw);
    expect(a.map((e) => Array.from(e.codes))).toEqual(b.map((e) => Array.from(e.codes)));
    expect(a.map((e) => Array.from(e.codes))).toEqual(reference.map((e) => Array.from(e.codes)));
    expect(a[2]!.shape).toEqual([4, 3]);
    const decodedOnnx = await viaOnnx.decodeBatch(a);
    const decodedTfjs = await viaTfjs.decodeBatch(b);
    expect(decodedOnnx[2]!.height).toBe(13);
    expect(decodedOnnx[2]!.width).toBe(10);
    decodedOnnx.forEach((img, i) => {
      const ref = decodedTfjs[i]!.data;
      expect(img.data.length).toBe(ref.length);
      for (let j = 0; j < ref.length; j++) expect(Math.abs(img.data[j]! - ref[j]!)).toBeLessThan(1e-4);
    });

    // New weights make the export stale: auto falls back, 'onnx' refuses.
    const retrained = tinyTokenizer({ type: 'vq', codebookSize: 32, kmeansInit: false }, 4, 3);
    tf.tidy(() => retrained.model.encoder.namedVariables()[0]![1].assign(tf.onesLike(retrained.model.encoder.namedVariables()[0]![1])));
    await retrained.save(dir);
    const stale = await ImageTokenizer.load(dir);
    expect(stale.runtime).toBe('tfjs');
    expect(stale.runtimeDescription).toMatch(/re-run `vqkit export onnx`/);
    await expect(ImageTokenizer.load(dir, { runtime: 'onnx' })).rejects.toThrow(/was made from tokenizer/);
    for (const t of [tok, none, viaOnnx, viaTfjs, retrained, stale]) t.dispose();
  });
});
