import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileFormatError, Rng } from '@vqkit/core';
import { encodeIdx, parseIdx, readIdx, readIdxImages, readIdxLabels } from './idx.js';

const FASHION_DIR = '/usr/share/datasets/fashion-mnist';
const hasFashion = fs.existsSync(path.join(FASHION_DIR, 'train-images-idx3-ubyte.gz'));

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-idx-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function randomImages(n: number, h: number, w: number): Uint8Array {
  const rng = new Rng('idx');
  return new Uint8Array(n * h * w).map(() => rng.int(256));
}

describe('IDX', () => {
  it('round-trips images and labels, plain and gzipped', async () => {
    const images = randomImages(5, 7, 6);
    const labels = new Uint8Array([3, 1, 4, 1, 5]);
    const imgBytes = encodeIdx({ dtype: 'uint8', shape: [5, 7, 6], data: images });
    // Hand-check the header: magic 0x00000803 then big-endian dims.
    expect([...imgBytes.subarray(0, 16)]).toEqual([0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 7, 0, 0, 0, 6]);
    fs.writeFileSync(path.join(dir, 'img-idx3-ubyte'), imgBytes);
    fs.writeFileSync(path.join(dir, 'img-idx3-ubyte.gz'), zlib.gzipSync(imgBytes));
    fs.writeFileSync(path.join(dir, 'lbl-idx1-ubyte.gz'), zlib.gzipSync(encodeIdx({ dtype: 'uint8', shape: [5], data: labels })));
    for (const name of ['img-idx3-ubyte', 'img-idx3-ubyte.gz']) {
      const read = await readIdxImages(path.join(dir, name));
      expect([read.count, read.height, read.width]).toEqual([5, 7, 6]);
      expect(Buffer.compare(Buffer.from(read.data), Buffer.from(images))).toBe(0);
    }
    expect([...(await readIdxLabels(path.join(dir, 'lbl-idx1-ubyte.gz')))]).toEqual([3, 1, 4, 1, 5]);
  });

  it('round-trips the other element types (big-endian)', () => {
    const cases = [
      { dtype: 'int8', data: new Int8Array([-128, 0, 127]) },
      { dtype: 'int16', data: new Int16Array([-300, 1, 32767]) },
      { dtype: 'int32', data: new Int32Array([-70000, 2, 2147483647]) },
      { dtype: 'float32', data: new Float32Array([-1.5, 0.25, 3e10]) },
      { dtype: 'float64', data: new Float64Array([Math.PI, -0, 1e-300]) },
    ] as const;
    for (const c of cases) {
      const bytes = encodeIdx({ dtype: c.dtype, shape: [3], data: c.data });
      const back = parseIdx(bytes);
      expect(back.dtype).toBe(c.dtype);
      expect(back.shape).toEqual([3]);
      expect([...back.data]).toEqual([...c.data]);
    }
    // int16 300 big-endian is 0x01 0x2c.
    const be = encodeIdx({ dtype: 'int16', shape: [1], data: new Int16Array([300]) });
    expect([...be.subarray(8)]).toEqual([0x01, 0x2c]);
  });

  it('rejects corrupt and truncated files with FileFormatError naming the file', async () => {
    const good = encodeIdx({ dtype: 'uint8', shape: [4, 3, 3], data: randomImages(4, 3, 3) });
    const write = (name: string, bytes: Uint8Array): string => {
      const p = path.join(dir, name);
      fs.writeFileSync(p, bytes);
      return p;
    };
    const badMagic = Uint8Array.from(good);
    badMagic[0] = 0x50;
    const badType = Uint8Array.from(good);
    badType[2] = 0x42;
    const cases: [string, Uint8Array, RegExp][] = [
      ['bad-magic', badMagic, /magic/],
      ['bad-type', badType, /element type 0x42/],
      ['truncated', good.subarray(0, good.length - 5), /truncated IDX file/],
      ['truncated-header', good.subarray(0, 10), /truncated IDX header/],
      ['trailing', Uint8Array.from([...good, 1, 2]), /2 unexpected trailing bytes/],
      ['tiny', new Uint8Array([0, 0]), /shorter than/],
      ['truncated.gz', zlib.gzipSync(good).subarray(0, 20), /corrupt gzip/],
    ];
    for (const [name, bytes, pattern] of cases) {
      const p = write(name, bytes);
      const err = await readIdx(p).catch((e: unknown) => e);
      expect(err, name).toBeInstanceOf(FileFormatError);
      expect((err as FileFormatError).path).toBe(p);
      expect((err as Error).message).toMatch(pattern);
    }
    await expect(readIdx(path.join(dir, 'nope.gz'))).rejects.toThrow(/file not found/);
    // Labels are not images.
    const labels = write('labels', encodeIdx({ dtype: 'uint8', shape: [4], data: new Uint8Array(4) }));
    await expect(readIdxImages(labels)).rejects.toThrow(/expected uint8 images of shape \[N, H, W\]/);
    await expect(readIdxLabels(write('imgs', good))).rejects.toThrow(FileFormatError);
  });

  it.skipIf(!hasFashion)('reads real Fashion-MNIST', async () => {
    const images = await readIdxImages(path.join(FASHION_DIR, 'train-images-idx3-ubyte.gz'));
    const labels = await readIdxLabels(path.join(FASHION_DIR, 'train-labels-idx1-ubyte.gz'));
    expect([images.count, images.height, images.width]).toEqual([60000, 28, 28]);
    expect(labels.length).toBe(60000);
    const perClass = new Array<number>(10).fill(0);
    for (const l of labels) perClass[l]!++;
    // Fashion-MNIST's training set is balanced: 6000 images per class 0..9.
    expect(perClass).toEqual(new Array(10).fill(6000));
    let mean = 0;
    for (let i = 0; i < images.data.length; i++) mean += images.data[i]!;
    mean /= images.data.length * 255;
    // Known pixel mean of the training set, about 0.286.
    expect(mean).toBeGreaterThan(0.28);
    expect(mean).toBeLessThan(0.29);
    const test = await readIdxImages(path.join(FASHION_DIR, 't10k-images-idx3-ubyte.gz'));
    expect(test.count).toBe(10000);
  });
});
