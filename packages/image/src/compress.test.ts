import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import {
  ContainerError,
  ContainerLimitError,
  crc32,
  EntropyModelMismatchError,
  FileFormatError,
  initEngine,
  NeighbourContextModelSet,
  readContainerHeader,
  StaticModelSet,
  TokenizerMismatchError,
  VqkitError,
} from '@vqkit/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdaptiveMixtureSpec } from './compress-adaptive.js';
import { compressImage, decompressImage, imageCodeSpace, packImageCodes, unpackImageCodes, type ImageCodeSpace } from './compress.js';
import { ENTROPY_INFO_FILE, ENTROPY_MODEL_FILE, fitEntropyModel, fitEntropyModelToCodes, loadEntropyModel, parseEntropyModel, readEntropyModelInfo } from './compress-entropy.js';
import type { ImageF32 } from './io.js';
import { createImageTokenizerConfig } from './model/config.js';
import { ImageTokenizer, type EncodedImage } from './tokenizer.js';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-compress-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tinyTokenizer(seed = 3, codebookSize = 16): ImageTokenizer {
  return ImageTokenizer.create(
    createImageTokenizerConfig({
      architecture: { downsampling: 4, hiddenChannels: 8, residualBlocks: 1, residualHiddenChannels: 4, codeDim: 4 },
      preprocessing: { height: 16, width: 16, channels: 1 },
      quantizer: { type: 'vq', codebookSize, kmeansInit: false },
    }),
    { seed },
  );
}

/** Smooth grey test images (blobs), so neighbouring codes correlate as in real images. */
function blobImage(height: number, width: number, seed: number): ImageF32 {
  const data = new Float32Array(height * width);
  const cx = (seed * 7) % width;
  const cy = (seed * 5) % height;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data[y * width + x] = 0.5 + 0.5 * Math.sin((x - cx) / (3 + (seed % 4))) * Math.cos((y - cy) / 4);
  }
  return { data, height, width, channels: 1 };
}

describe('compressImage / decompressImage', () => {
  const tokenizer = tinyTokenizer();
  const training = Array.from({ length: 12 }, (_, i) => blobImage(32, 32, i));

  it('round-trips codes and pixels with every entropy model; auto keeps the smallest', async () => {
    const { model: learnedModel } = await fitEntropyModel(tokenizer, training);
    const image = blobImage(32, 32, 100);
    for (const entropyModel of ['fixed-length', 'uniform', 'adaptive', 'learned', 'auto'] as const) {
      const c = await compressImage(image, tokenizer, { entropyModel, learnedModel });
      expect(c.stats.codeShape).toEqual([8, 8, 1]);
      expect(c.stats.bytes).toBe(c.bytes.length);
      expect(c.stats.overheadBytes + c.stats.payloadBytes).toBe(c.bytes.length);
      expect(c.stats.bitsPerPixel).toBeCloseTo((8 * c.bytes.length) / (32 * 32), 10);
      if (entropyModel === 'auto') {
        expect(c.stats.candidates.map((x) => x.entropyModel)).toEqual(['fixed-length', 'uniform', 'adaptive', 'neighbour']);
        expect(c.bytes.length).toBe(Math.min(...c.stats.candidates.map((x) => x.bytes)));
      }
      const d = await decompressImage(c.bytes, tokenizer, { learnedModel });
      expect(Array.from(d.codes.codes)).toEqual(Array.from(c.codes.codes));
      expect(d.image.height).toBe(32);
      expect(Array.from(d.image.data)).toEqual(Array.from(tokenizer.decode(c.codes).data));
    }
  });

  it('sizes that are not multiples of f round-trip through one padding byte', async () => {
    const image = blobImage(18, 13, 4);
    const exact = await compressImage(blobImage(20, 16, 4), tokenizer, { entropyModel: 'fixed-length' });
    const padded = await compressImage(image, tokenizer, { entropyModel: 'fixed-length' });
    expect(padded.stats.codeShape).toEqual([5, 4, 1]);
    // 2 more bytes than the unpadded 20×16 image of the same grid: metadata length + the padding byte.
    expect(padded.bytes.length).toBe(exact.bytes.length + 2);
    const d = await decompressImage(padded.bytes, tokenizer);
    expect([d.image.height, d.image.width]).toEqual([18, 13]);
    expect([d.codes.height, d.codes.width]).toEqual([18, 13]);
  });

  it('container overhead of a small image: 22 bytes for a 4×4 grid of K = 16 (26 with a learned model)', async () => {
    const c = await compressImage(blobImage(16, 16, 1), tokenizer, { entropyModel: 'fixed-length' });
    // magic 2, version 1, flags 1, tokenizer id 8, levels 1, K 1, segments 1, descriptor 1, dims 2, CRC 4.
    expect(c.stats.overheadBytes).toBe(22);
    expect(c.stats.payloadBytes).toBe(8); // 16 codes × 4 bits
    const learnedModel = fitEntropyModelToCodes([c.codes], [16], { context: 'none' });
    expect((await compressImage(blobImage(16, 16, 1), tokenizer, { entropyModel: 'learned', learnedModel })).stats.overheadBytes).toBe(26);
  });

  it('another tokenizer, or a missing or different learned model, is a clear typed error', async () => {
    const other = tinyTokenizer(4);
    const learnedModel = fitEntropyModelToCodes(tokenizer.encodeImages(training), [16]);
    const c = await compressImage(training[0]!, tokenizer, { entropyModel: 'learned', learnedModel });
    await expect(decompressImage(c.bytes, other, { learnedModel })).rejects.toThrow(TokenizerMismatchError);
    await expect(decompressImage(c.bytes, other, { learnedModel })).rejects.toThrow(tokenizer.id);
    await expect(decompressImage(c.bytes, tokenizer)).rejects.toThrow(/loadEntropyModel/);
    const otherModel = fitEntropyModelToCodes(tokenizer.encodeImages(training.slice(0, 3)), [16], { context: 'none' });
    await expect(decompressImage(c.bytes, tokenizer, { learnedModel: otherModel })).rejects.toThrow(EntropyModelMismatchError);
    await expect(compressImage(training[0]!, tokenizer, { entropyModel: 'learned' })).rejects.toThrow(/learnedModel/);
    other.dispose();
  });

  it('fitEntropyModel saves entropy.bin/entropy.json without changing the tokenizer id; the loaded model decodes', async () => {
    const dir = tempDir();
    await tokenizer.save(dir);
    const id = tokenizer.id;
    expect(loadEntropyModel(dir)).toBeUndefined();
    const { model, info } = await fitEntropyModel(tokenizer, training, { outputDir: dir });
    expect(fs.readdirSync(dir).sort()).toEqual(['config.json', ENTROPY_MODEL_FILE, ENTROPY_INFO_FILE, 'model.safetensors'].sort());
    expect((await ImageTokenizer.load(dir)).id).toBe(id);
    expect(info).toMatchObject({ kind: 'neighbour', context: 'left-up', tokenizerId: id, images: 12, codes: 12 * 64 });
    expect(info.bitsPerCode.fixedLength).toBe(4);
    expect(readEntropyModelInfo(dir)).toEqual(info);
    const loaded = loadEntropyModel(dir)!;
    expect(Buffer.from(loaded.fingerprint).toString('hex')).toBe(info.fingerprint);
    const c = await compressImage(training[3]!, tokenizer, { entropyModel: 'learned', learnedModel: model });
    expect(Array.from((await decompressImage(c.bytes, tokenizer, { learnedModel: loaded })).codes.codes)).toEqual(Array.from(c.codes.codes));
    fs.writeFileSync(path.join(dir, ENTROPY_MODEL_FILE), Uint8Array.of(0x4e, 1, 9));
    expect(() => loadEntropyModel(dir)).toThrow(FileFormatError);
  });
});

describe('image containers from untrusted bytes', () => {
  const space: ImageCodeSpace = { tokenizerId: '0123456789abcdef', codebookSizes: [512], downsampling: 4 };
  const grid = (h: number, w: number, seed: number): EncodedImage => {
    const codes = new Int32Array(h * w);
    for (let i = 0; i < codes.length; i++) codes[i] = i > 0 && (i * seed) % 3 === 0 ? codes[i - 1]! : (i * 37 + seed * 11) % 512;
    return { codes, shape: [h, w], height: h * 4 - (seed % 4), width: w * 4 - ((seed >> 2) % 4) };
  };
  const samples = Array.from({ length: 6 }, (_, i) => grid(5 + i, 7, i));
  const static_ = fitEntropyModelToCodes(samples, [512], { context: 'none' });
  const neighbour = fitEntropyModelToCodes(samples, [512], { minContextCount: 1 });
  const pool = (['fixed-length', 'adaptive', 'learned'] as const).flatMap((entropyModel) =>
    [static_, neighbour].map((learnedModel) => ({ bytes: packImageCodes(grid(7, 7, 9), space, { entropyModel, learnedModel }).bytes, learnedModel })),
  );

  function reseal(bytes: Uint8Array): Uint8Array {
    if (bytes.length < 4) return bytes;
    const out = bytes.slice();
    new DataView(out.buffer).setUint32(out.length - 4, crc32(out, 0, out.length - 4));
    return out;
  }

  it('a grid declaring more than maxPixels is refused before decoding', () => {
    const big = packImageCodes({ codes: new Int32Array(64 * 64), shape: [64, 64], height: 256, width: 256 }, space, { entropyModel: 'adaptive' }).bytes;
    expect(() => unpackImageCodes(big, space, { maxPixels: 256 * 255 })).toThrow(ContainerLimitError);
    expect(unpackImageCodes(big, space, { maxPixels: 256 * 256 }).codes.shape).toEqual([64, 64]);
  });

  it('10,000 mutated containers: typed errors or a valid image grid, never anything else', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 5 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
      fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 96 }) }),
    );
    let errors = 0;
    fc.assert(
      fc.property(fc.nat({ max: pool.length - 1 }), mutation, fc.boolean(), (which, m, sealed) => {
        const { bytes: base, learnedModel } = pool[which]!;
        const n = base.length;
        let input: Uint8Array;
        if (m.kind === 'truncate') input = base.slice(0, m.at % n);
        else if (m.kind === 'flip') (input = base.slice())[m.at % n] ^= 1 << m.bit;
        else if (m.kind === 'overwrite') (input = base.slice()).set(m.bytes.subarray(0, n - (m.at % n)), m.at % n);
        else if (m.kind === 'insert') input = Uint8Array.from([...base.subarray(0, m.at % n), ...m.bytes, ...base.subarray(m.at % n)]);
        else input = Uint8Array.from([0x56, 0x51, 1, 0x09, ...m.bytes]);
        if (sealed) input = reseal(input);
        try {
          const { codes } = unpackImageCodes(input, space, { learnedModel, maxPixels: 64 * 64 });
          const [h, w] = codes.shape as [number, number];
          expect(codes.codes.length).toBe(h * w);
          expect(h * w * 16).toBeLessThanOrEqual(64 * 64);
          expect(codes.height).toBeGreaterThan((h - 1) * 4);
          expect(codes.width).toBeGreaterThan((w - 1) * 4);
          for (const c of codes.codes) expect(c >= 0 && c < 512).toBe(true);
        } catch (err) {
          if (!(err instanceof VqkitError)) throw err;
          errors++;
        }
      }),
      { numRuns: 10_000 },
    );
    expect(errors).toBeGreaterThan(5000);
  });

  it('mutated entropy.bin files parse or fail with FileFormatError (10,000 runs)', () => {
    const files = [static_.toBytes(), neighbour.toBytes()];
    fc.assert(
      fc.property(fc.nat({ max: 1 }), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 4 }), fc.boolean(), (which, at, patch, truncate) => {
        const base = files[which]!;
        const input = truncate ? base.slice(0, at % base.length) : base.slice();
        if (!truncate) input.set(patch.subarray(0, base.length - (at % base.length)), at % base.length);
        try {
          const model = parseEntropyModel(input);
          expect(model instanceof StaticModelSet || model instanceof NeighbourContextModelSet || model instanceof AdaptiveMixtureSpec).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(FileFormatError);
        }
      }),
      { numRuns: 10_000 },
    );
  });

  it('decoding needs the header, the right tokenizer and an image container', () => {
    const { bytes } = packImageCodes(grid(3, 3, 0), space, { entropyModel: 'adaptive' });
    expect(readContainerHeader(bytes).modality).toBe('image');
    expect(() => unpackImageCodes(bytes, { ...space, tokenizerId: 'fedcba9876543210' })).toThrow(TokenizerMismatchError);
    expect(() => unpackImageCodes(bytes, { ...space, codebookSizes: [256] })).toThrow(ContainerError);
  });
});

it('imageCodeSpace caches the tokenizer id', () => {
  const tok = tinyTokenizer(9);
  expect(imageCodeSpace(tok)).toEqual({ tokenizerId: tok.id, codebookSizes: [16], downsampling: 4 });
  tok.dispose();
});
