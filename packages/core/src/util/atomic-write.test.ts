import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeFileAtomicAsync } from './atomic-write.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-atomic-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function* failingChunks(): Generator<Uint8Array> {
  yield new Uint8Array([1, 2, 3]);
  throw new Error('producer failed');
}

async function* failingChunksAsync(): AsyncGenerator<Uint8Array> {
  yield new Uint8Array([1, 2, 3]);
  throw new Error('producer failed');
}

describe('writeFileAtomic', () => {
  it('creates and replaces files, leaving no temp files', () => {
    const file = path.join(dir, 'ckpt.bin');
    writeFileAtomic(file, 'first');
    expect(fs.readFileSync(file, 'utf8')).toBe('first');
    writeFileAtomic(file, new Uint8Array([9, 8, 7]));
    expect([...fs.readFileSync(file)]).toEqual([9, 8, 7]);
    writeFileAtomic(file, [new Uint8Array([1]), new Uint8Array([2, 3])]);
    expect([...fs.readFileSync(file)]).toEqual([1, 2, 3]);
    expect(fs.readdirSync(dir)).toEqual(['ckpt.bin']);
  });

  it('keeps the old content and removes the temp file when the write fails', () => {
    const file = path.join(dir, 'ckpt.bin');
    writeFileAtomic(file, 'old content');
    expect(() => writeFileAtomic(file, failingChunks())).toThrow('producer failed');
    expect(fs.readFileSync(file, 'utf8')).toBe('old content');
    expect(fs.readdirSync(dir)).toEqual(['ckpt.bin']);
  });

  it('cleans up when the rename fails (target is a non-empty directory)', () => {
    const target = path.join(dir, 'occupied');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'keep'), 'x');
    expect(() => writeFileAtomic(target, 'data')).toThrow();
    expect(fs.readdirSync(dir)).toEqual(['occupied']);
    expect(fs.readFileSync(path.join(target, 'keep'), 'utf8')).toBe('x');
  });

  it('fails cleanly when the directory does not exist', () => {
    expect(() => writeFileAtomic(path.join(dir, 'missing', 'f'), 'x')).toThrow(/ENOENT/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('writeFileAtomicAsync', () => {
  it('writes strings, bytes and async chunks', async () => {
    const file = path.join(dir, 'model.json');
    await writeFileAtomicAsync(file, '{"a":1}');
    expect(fs.readFileSync(file, 'utf8')).toBe('{"a":1}');
    async function* chunks(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('ab');
      yield Buffer.from('cd');
    }
    await writeFileAtomicAsync(file, chunks());
    expect(fs.readFileSync(file, 'utf8')).toBe('abcd');
    const big = new Uint8Array(3_000_000).map((_, i) => i & 255);
    await writeFileAtomicAsync(file, big);
    expect(Buffer.compare(fs.readFileSync(file), Buffer.from(big))).toBe(0);
    expect(fs.readdirSync(dir)).toEqual(['model.json']);
  });

  it('keeps the old content and removes the temp file when the write fails', async () => {
    const file = path.join(dir, 'model.json');
    await writeFileAtomicAsync(file, 'old');
    await expect(writeFileAtomicAsync(file, failingChunksAsync())).rejects.toThrow('producer failed');
    expect(fs.readFileSync(file, 'utf8')).toBe('old');
    expect(fs.readdirSync(dir)).toEqual(['model.json']);
  });
});
