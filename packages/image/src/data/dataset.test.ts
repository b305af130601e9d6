import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileFormatError, InvalidArgumentError, Rng } from '@vqkit/core';
import { encodeImage, type RawImage } from '../io.js';
import { batchImages, batchToTensor, ImageDataset, type DatasetWarning, type ImageBatch, type ImageSplit } from './dataset.js';
import { encodeIdx } from './idx.js';

const repoRoot = path.resolve(import.meta.dirname, '../../../..');
const dataDir = process.env.VQKIT_DATA_DIR ?? path.resolve(repoRoot, '../shared/data');
const kodakDir = path.join(dataDir, 'images/kodak');
const hasKodak = fs.existsSync(path.join(kodakDir, 'kodim01.png'));

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-ds-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function randomImage(width: number, height: number, channels: number, seed: number): RawImage {
  const rng = new Rng(seed);
  return { data: new Uint8Array(width * height * channels).map(() => rng.int(256)), width, height, channels };
}

async function collect(split: ImageSplit, options: Parameters<ImageSplit['batches']>[0]): Promise<ImageBatch[]> {
  const out: ImageBatch[] = [];
  for await (const b of split.batches(options)) out.push(b);
  return out;
}

function concat(batches: ImageBatch[]): { images: number[]; indices: number[] } {
  return { images: batches.flatMap((b) => [...b.images]), indices: batches.flatMap((b) => [...b.indices]) };
}

/** Finds where `crop` (HWC float) occurs in `img` (8-bit), directly or mirrored. */
function locateCrop(img: RawImage, crop: Float32Array, cw: number, ch: number): { x: number; y: number; flip: boolean } | undefined {
  const c = img.channels;
  for (const flip of [false, true]) {
    for (let y = 0; y + ch <= img.height; y++) {
      for (let x = 0; x + cw <= img.width; x++) {
        let ok = true;
        for (let r = 0; r < ch && ok; r++) {
          for (let col = 0; col < cw && ok; col++) {
            const srcCol = flip ? x + cw - 1 - col : x + col;
            for (let k = 0; k < c; k++) {
              if (Math.abs(img.data[((y + r) * img.width + srcCol) * c + k]! / 255 - crop[(r * cw + col) * c + k]!) > 1e-6) {
                ok = false;
                break;
              }
            }
          }
        }
        if (ok) return { x, y, flip };
      }
    }
  }
  return undefined;
}

/** Options that swallow skipped-file warnings (tests that do not inspect them). */
const quiet = { onWarning: () => undefined };

describe('ImageDataset: folder source', () => {
  let folder: string;
  const images: Record<string, RawImage> = {};
  beforeAll(async () => {
    folder = path.join(dir, 'folder');
    fs.mkdirSync(path.join(folder, 'cats'), { recursive: true });
    fs.mkdirSync(path.join(folder, 'dogs', 'deep'), { recursive: true });
    const specs: [string, number, number][] = [
      ['cats/a.png', 20, 16],
      ['cats/b.webp', 24, 18],
      ['dogs/c.png', 16, 16],
      ['dogs/deep/d.png', 30, 20],
    ];
    for (const [i, [rel, w, h]] of specs.entries()) {
      const img = randomImage(w, h, 3, i + 10);
      images[rel] = img;
      const format = rel.endsWith('.webp') ? 'webp' : 'png';
      fs.writeFileSync(path.join(folder, rel), await encodeImage(img, format, { lossless: true }));
    }
    fs.writeFileSync(path.join(folder, 'cats', 'corrupt.png'), 'not an image at all');
    const good = await encodeImage(randomImage(40, 40, 3, 99), 'jpeg');
    fs.writeFileSync(path.join(folder, 'dogs', 'truncated.jpg'), good.subarray(0, 200));
    fs.writeFileSync(path.join(folder, 'notes.txt'), 'ignored: not an image extension');
  });

  it('falls back to process warnings when nobody listens', async () => {
    const seen: string[] = [];
    const onProcessWarning = (w: Error & { code?: string }) => {
      if (w.code === 'VQKIT_DATASET_SKIPPED_FILE') seen.push(w.message);
    };
    process.on('warning', onProcessWarning);
    try {
      await ImageDataset.load({ source: { kind: 'folder', path: folder }, cropSize: 16 });
      // process warnings are delivered on a later tick
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      process.off('warning', onProcessWarning);
    }
    expect(seen.length).toBe(2);
    expect(seen.some((m) => m.includes('corrupt.png'))).toBe(true);
  });

  it('skips unusable files with their paths and emits warnings', async () => {
    const warnings: DatasetWarning[] = [];
    const ds = new ImageDataset({ source: { kind: 'folder', path: folder }, cropSize: 16, seed: 3 });
    ds.on('warning', (w) => warnings.push(w));
    await ds.load();
    expect(ds.train.imageCount).toBe(4);
    expect(ds.skipped.map((s) => path.relative(folder, s.path))).toEqual(['cats/corrupt.png', 'dogs/truncated.jpg']);
    expect(ds.skipped.every((s) => s.reason.length > 0)).toBe(true);
    expect(warnings.map((w) => w.path).sort()).toEqual(ds.skipped.map((s) => s.path));
    expect(warnings[0]!.message).toContain(warnings[0]!.path);
    // Decoded pixels are exact (PNG and lossless WebP).
    const names = Array.from({ length: 4 }, (_, i) => path.relative(folder, ds.train.image(i).name));
    expect(names).toEqual(['cats/a.png', 'cats/b.webp', 'dogs/c.png', 'dogs/deep/d.png']);
    for (let i = 0; i < 4; i++) {
      expect(Buffer.compare(Buffer.from(ds.train.image(i).data as Uint8Array), Buffer.from(images[names[i]!]!.data as Uint8Array))).toBe(0);
    }
  });

  it("fails with the file's path under onCorrupt: 'fail'", async () => {
    const err = await ImageDataset.load({ source: { kind: 'folder', path: folder }, cropSize: 16, onCorrupt: 'fail', ...quiet }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileFormatError);
    expect((err as FileFormatError).path).toMatch(/(corrupt\.png|truncated\.jpg)$/);
  });

  it('takes random crops that are true windows of the images, with flips', async () => {
    const ds = await ImageDataset.load({
      source: { kind: 'folder', path: folder },
      cropSize: { width: 12, height: 10 },
      cropsPerImage: 5,
      flipHorizontal: true,
      seed: 1,
      ...quiet,
    });
    const split = ds.train;
    expect(split.samplesPerEpoch).toBe(20);
    const batches = await collect(split, { batchSize: 6, epoch: 2 });
    expect(batches.map((b) => b.size)).toEqual([6, 6, 6, 2]);
    expect(batches[0]!.shape).toEqual([6, 10, 12, 3]);
    const perImage = new Array<number>(4).fill(0);
    let flips = 0;
    const positions = new Set<string>();
    for (const b of batches) {
      for (let s = 0; s < b.size; s++) {
        const i = b.indices[s]!;
        perImage[i]!++;
        const crop = b.images.subarray(s * 360, (s + 1) * 360);
        const found = locateCrop(images[path.relative(folder, split.image(i).name)]!, crop, 12, 10);
        expect(found).toBeDefined();
        if (found!.flip) flips++;
        positions.add(`${i}:${found!.x},${found!.y}`);
      }
    }
    expect(perImage).toEqual([5, 5, 5, 5]);
    expect(flips).toBeGreaterThan(2);
    expect(flips).toBeLessThan(18);
    expect(positions.size).toBeGreaterThan(8);
  });

  it('labels images by subfolder', async () => {
    const ds = await ImageDataset.load({ source: { kind: 'folder', path: folder, labelsFromSubfolders: true }, cropSize: 16, ...quiet });
    expect(ds.classNames).toEqual(['cats', 'dogs']);
    expect([...ds.train.labels()]).toEqual([0, 0, 1, 1]);
    const [batch] = await collect(ds.train, { batchSize: 4, shuffle: false });
    expect([...batch!.labels!]).toEqual([0, 0, 1, 1]);
    // A validation folder is labelled with the training folder's numbering.
    const valRoot = path.join(dir, 'val-classes');
    fs.mkdirSync(path.join(valRoot, 'dogs'), { recursive: true });
    fs.mkdirSync(path.join(valRoot, 'birds'), { recursive: true });
    fs.writeFileSync(path.join(valRoot, 'dogs', 'x.png'), await encodeImage(randomImage(16, 16, 3, 1), 'png'));
    fs.writeFileSync(path.join(valRoot, 'birds', 'y.png'), await encodeImage(randomImage(16, 16, 3, 2), 'png'));
    const withVal = await ImageDataset.load({
      source: { kind: 'folder', path: folder, labelsFromSubfolders: true },
      validation: { kind: 'folder', path: valRoot, labelsFromSubfolders: true },
      cropSize: 16,
      ...quiet,
    });
    expect([...withVal.validation!.labels()]).toEqual([1]);
    expect(withVal.skipped.map((s) => s.reason)).toContain("class subfolder 'birds' is not one of the training classes");
  });

  it('requires a common size or a crop, and reports too-small images', async () => {
    await expect(ImageDataset.load({ source: { kind: 'folder', path: folder }, ...quiet })).rejects.toThrow(/differ in size/);
    const ds = await ImageDataset.load({ source: { kind: 'folder', path: folder }, cropSize: 18, ...quiet });
    // c.png (16x16) and a.png (20x16) are too small for 18x18.
    expect(ds.train.imageCount).toBe(2);
    expect(ds.skipped.filter((s) => s.reason.includes('smaller than cropSize')).length).toBe(2);
    // Resizing everything to one size works without a crop.
    const resized = await ImageDataset.load({ source: { kind: 'folder', path: folder }, size: 8, resize: 'resize', channels: 1, ...quiet });
    expect(resized.sampleShape).toEqual({ height: 8, width: 8, channels: 1 });
  });

  it('reports a missing or empty folder', async () => {
    await expect(ImageDataset.load({ source: { kind: 'folder', path: path.join(dir, 'nope') } })).rejects.toThrow(FileFormatError);
    fs.mkdirSync(path.join(dir, 'empty'));
    await expect(ImageDataset.load({ source: { kind: 'folder', path: path.join(dir, 'empty') } })).rejects.toThrow(/no image files/);
  });
});

describe('ImageDataset: streaming (cache: false)', () => {
  let folder: string;
  beforeAll(async () => {
    folder = path.join(dir, 'stream');
    fs.mkdirSync(folder, { recursive: true });
    for (let i = 0; i < 5; i++) {
      fs.writeFileSync(path.join(folder, `img${i}.png`), await encodeImage(randomImage(24, 20, 3, 100 + i), 'png'));
    }
    // Header intact (so it passes the load-time probe) but pixel data cut off.
    const whole = await encodeImage(randomImage(24, 20, 3, 200), 'png');
    fs.writeFileSync(path.join(folder, 'img9-broken.png'), whole.subarray(0, 100));
  });

  it('decodes per batch, yields the same samples as the cached mode, and skips files that fail mid-epoch', async () => {
    const options = { source: { kind: 'folder', path: folder } as const, cropSize: 8, cropsPerImage: 2, flipHorizontal: true, seed: 9 };
    const cached = await ImageDataset.load({ ...options, ...quiet });
    expect(cached.train.imageCount).toBe(5);
    expect(cached.skipped.map((s) => path.basename(s.path))).toEqual(['img9-broken.png']);

    const warnings: DatasetWarning[] = [];
    const streaming = new ImageDataset({ ...options, cache: false });
    streaming.on('warning', (w) => warnings.push(w));
    await streaming.load();
    expect(streaming.train.imageCount).toBe(6);
    expect(streaming.train.cached).toBe(false);
    expect(() => streaming.train.image(0)).toThrow(/not cached/);
    expect(warnings).toEqual([]);

    // Epoch 0: the broken file's samples are dropped from their batches and reported.
    const e0 = await collect(streaming.train, { batchSize: 4, epoch: 0 });
    expect(e0.reduce((n, b) => n + b.size, 0)).toBe(10);
    expect(warnings.map((w) => path.basename(w.path))).toEqual(['img9-broken.png']);
    expect(streaming.skipped.map((s) => path.basename(s.path))).toEqual(['img9-broken.png']);
    // Later epochs exclude it up front and match the cached dataset sample for sample.
    expect(streaming.train.samplesPerEpoch).toBe(10);
    const name = (ds: ImageDataset, b: ImageBatch) => [...b.indices].map((i) => path.basename(ds.train.info(i).name));
    const s1 = await collect(streaming.train, { batchSize: 3, epoch: 1 });
    const c1 = await collect(cached.train, { batchSize: 3, epoch: 1 });
    expect(s1.flatMap((b) => name(streaming, b))).toEqual(c1.flatMap((b) => name(cached, b)));
    expect(concat(s1).images).toEqual(concat(c1).images);
    const loaded = await streaming.train.loadBatchOf([0, 1]);
    expect([...loaded.images]).toEqual([...cached.train.batchOf([0, 1]).images]);
  });

  it('reuses recently decoded images within streamCacheBytes', async () => {
    const local = path.join(dir, 'stream-lru');
    fs.mkdirSync(local);
    for (let i = 0; i < 3; i++) fs.writeFileSync(path.join(local, `p${i}.png`), await encodeImage(randomImage(12, 12, 3, 300 + i), 'png'));
    const make = (streamCacheBytes: number) =>
      ImageDataset.load({ source: { kind: 'folder', path: local }, cache: false, streamCacheBytes, cropSize: 6, cropsPerImage: 2, ...quiet });
    const withCache = await make(1 << 20);
    const without = await make(0);
    const first = concat(await collect(withCache.train, { batchSize: 4, epoch: 0 }));
    expect(concat(await collect(without.train, { batchSize: 4, epoch: 0 }))).toEqual(first);
    // Remove a file: the cached dataset still serves it from memory, the uncached one must skip it.
    fs.rmSync(path.join(local, 'p1.png'));
    expect(concat(await collect(withCache.train, { batchSize: 4, epoch: 1 })).indices.length).toBe(6);
    expect(concat(await collect(without.train, { batchSize: 4, epoch: 1 })).indices.length).toBe(4);
    expect(without.skipped.map((s) => path.basename(s.path))).toEqual(['p1.png']);
    expect(withCache.skipped).toEqual([]);
  });

  it("throws from the iterator under onCorrupt: 'fail'", async () => {
    const ds = await ImageDataset.load({ source: { kind: 'folder', path: folder }, cropSize: 8, cache: false, onCorrupt: 'fail' });
    const err = await collect(ds.train, { batchSize: 6 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileFormatError);
    expect((err as FileFormatError).path).toBe(path.join(folder, 'img9-broken.png'));
  });
});

describe('ImageDataset: arrays source, determinism and splits', () => {
  const stack = { data: randomImage(8, 8 * 10, 3, 5).data as Uint8Array, count: 10, height: 8, width: 8, channels: 3 };
  const labels = Array.from({ length: 10 }, (_, i) => i % 3);

  it('is deterministic per seed and epoch, and independent of batch size', async () => {
    const make = (seed: number) =>
      ImageDataset.load({ source: { kind: 'arrays', images: stack, labels }, cropSize: 5, cropsPerImage: 3, flipHorizontal: true, seed });
    const a = await make(7);
    const b = await make(7);
    const c = await make(8);
    const e0a = concat(await collect(a.train, { batchSize: 4, epoch: 0 }));
    const e0b = concat(await collect(b.train, { batchSize: 7, epoch: 0 }));
    expect(e0b).toEqual(e0a);
    const e1 = concat(await collect(a.train, { batchSize: 4, epoch: 1 }));
    expect(e1.indices).not.toEqual(e0a.indices);
    const other = concat(await collect(c.train, { batchSize: 4, epoch: 0 }));
    expect(other.images).not.toEqual(e0a.images);
    // Each epoch visits every image cropsPerImage times.
    expect([...e1.indices].sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => Math.floor(i / 3)));
    // Labels follow their images.
    const batches = await collect(a.train, { batchSize: 30, epoch: 3 });
    const batch = batches[0]!;
    for (let s = 0; s < batch.size; s++) expect(batch.labels![s]).toBe(labels[batch.indices[s]!]);
  });

  it('splits by validationFraction into disjoint, deterministic parts', async () => {
    const opts = { source: { kind: 'arrays', images: stack, labels } as const, validationFraction: 0.3, seed: 4 };
    const ds = await ImageDataset.load(opts);
    expect(ds.train.imageCount).toBe(7);
    expect(ds.validation!.imageCount).toBe(3);
    const names = (s: ImageSplit) => Array.from({ length: s.imageCount }, (_, i) => s.image(i).name);
    const all = [...names(ds.train), ...names(ds.validation!)].sort();
    expect(all).toEqual(Array.from({ length: 10 }, (_, i) => `arrays[${i}]`).sort());
    const again = await ImageDataset.load(opts);
    expect(names(again.validation!)).toEqual(names(ds.validation!));
    const otherSeed = await ImageDataset.load({ ...opts, seed: 5 });
    expect(names(otherSeed.validation!)).not.toEqual(names(ds.validation!));
    // Validation is unshuffled and unaugmented by default: stable across epochs.
    const v0 = concat(await collect(ds.validation!, { batchSize: 2, epoch: 0 }));
    const v1 = concat(await collect(ds.validation!, { batchSize: 3, epoch: 5 }));
    expect(v1).toEqual(v0);
    expect(v0.indices).toEqual([0, 1, 2]);
    await expect(ImageDataset.load({ ...opts, validationFraction: 0.01 })).rejects.toThrow(InvalidArgumentError);
    await expect(ImageDataset.load({ ...opts, validationFraction: 1 })).rejects.toThrow(InvalidArgumentError);
  });

  it('keeps float arrays exact and supports dropLast and batchOf', async () => {
    const data = new Float32Array(3 * 4 * 4).map((_, i) => (i % 13) / 12.7);
    const ds = await ImageDataset.load({ source: { kind: 'arrays', images: { data, count: 3, height: 4, width: 4, channels: 1 } }, channels: 1 });
    const batches = await collect(ds.train, { batchSize: 2, shuffle: false, dropLast: true });
    expect(batches.length).toBe(1);
    expect(ds.train.batchCount(2, true)).toBe(1);
    expect(ds.train.batchCount(2)).toBe(2);
    expect([...batches[0]!.images]).toEqual([...data.subarray(0, 32)]);
    expect(batches[0]!.labels).toBeUndefined();
    const fixed = ds.train.batchOf([2, 0]);
    expect([...fixed.images]).toEqual([...data.subarray(32, 48), ...data.subarray(0, 16)]);
    const parts = batchImages(fixed);
    expect(parts.map((p) => [p.width, p.height, p.channels])).toEqual([
      [4, 4, 1],
      [4, 4, 1],
    ]);
    expect([...parts[1]!.data]).toEqual([...data.subarray(0, 16)]);
    const before = tf.memory().numTensors;
    const t = batchToTensor(fixed);
    expect(t.shape).toEqual([2, 4, 4, 1]);
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('validates options', async () => {
    const source = { kind: 'arrays', images: stack } as const;
    await expect(ImageDataset.load({ source, cropsPerImage: 0 })).rejects.toThrow(InvalidArgumentError);
    await expect(ImageDataset.load({ source, validationFraction: 0.2, validation: source })).rejects.toThrow(InvalidArgumentError);
    const ds = await ImageDataset.load({ source });
    await expect(collect(ds.train, { batchSize: 0 })).rejects.toThrow(InvalidArgumentError);
    expect(() => new ImageDataset({ source }).train).toThrow(/not loaded/);
  });
});

describe('ImageDataset: IDX source', () => {
  it('loads images with labels and an explicit validation source', async () => {
    const rng = new Rng('idx-ds');
    const write = (name: string, shape: number[], data: Uint8Array): string => {
      const p = path.join(dir, name);
      fs.writeFileSync(p, zlib.gzipSync(encodeIdx({ dtype: 'uint8', shape, data })));
      return p;
    };
    const trainImgs = new Uint8Array(6 * 5 * 4).map(() => rng.int(256));
    const trainLbls = new Uint8Array([0, 1, 2, 3, 4, 5]);
    const testImgs = new Uint8Array(2 * 5 * 4).map(() => rng.int(256));
    const ds = await ImageDataset.load({
      source: { kind: 'idx', images: write('tr-img.gz', [6, 5, 4], trainImgs), labels: write('tr-lbl.gz', [6], trainLbls) },
      validation: { kind: 'idx', images: write('te-img.gz', [2, 5, 4], testImgs), labels: write('te-lbl.gz', [2], new Uint8Array([9, 8])) },
    });
    expect(ds.sampleShape).toEqual({ height: 5, width: 4, channels: 1 });
    expect(ds.train.imageCount).toBe(6);
    const [batch] = await collect(ds.train, { batchSize: 6, epoch: 1 });
    for (let s = 0; s < 6; s++) {
      const i = batch!.indices[s]!;
      expect(batch!.labels![s]).toBe(i);
      for (let k = 0; k < 20; k++) expect(batch!.images[s * 20 + k]).toBeCloseTo(trainImgs[i * 20 + k]! / 255, 6);
    }
    expect([...ds.validation!.labels()]).toEqual([9, 8]);
    // RGB replication on request.
    const rgb = await ImageDataset.load({ source: { kind: 'idx', images: path.join(dir, 'te-img.gz') }, channels: 3 });
    expect(rgb.sampleShape.channels).toBe(3);
    const px = rgb.train.image(0).data;
    expect([px[0], px[1], px[2]]).toEqual([testImgs[0], testImgs[0], testImgs[0]]);
    // Mismatched label count is a file error.
    await expect(
      ImageDataset.load({ source: { kind: 'idx', images: path.join(dir, 'tr-img.gz'), labels: path.join(dir, 'te-lbl.gz') } }),
    ).rejects.toThrow(/2 labels but/);
  });
});

describe.skipIf(!hasKodak)('ImageDataset: Kodak photos', () => {
  it('decodes the suite once and serves 64x64 crops', async () => {
    const ds = await ImageDataset.load({
      source: { kind: 'folder', path: kodakDir },
      cropSize: 64,
      cropsPerImage: 2,
      flipHorizontal: true,
      validationFraction: 0.25,
      seed: 0,
    });
    expect(ds.skipped).toEqual([]);
    expect(ds.train.imageCount + ds.validation!.imageCount).toBe(24);
    expect(ds.validation!.imageCount).toBe(6);
    const img = ds.train.image(0);
    expect(img.width * img.height).toBe(768 * 512);
    const batches = await collect(ds.train, { batchSize: 16, epoch: 0 });
    expect(batches.reduce((s, b) => s + b.size, 0)).toBe(36);
    expect(batches[0]!.shape).toEqual([16, 64, 64, 3]);
    let mean = 0;
    for (const v of batches[0]!.images) mean += v;
    mean /= batches[0]!.images.length;
    expect(mean).toBeGreaterThan(0.1);
    expect(mean).toBeLessThan(0.9);
  });
});
