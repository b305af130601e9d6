import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine, InvalidArgumentError } from '@vqkit/core';
import { encodeImage, ImageTokenizer, readIdxImages } from '@vqkit/image';
import { listItems } from './items.js';
import { loadShard, shardPaths } from './shards.js';
import { readTokenDatasetManifest, tokenizeDataset } from './tokenize.js';
import { AudioTokenizer, encodeWav } from '@vqkit/audio';
import { bundledIdx, saveTinyAudioTokenizer, saveTinyTokenizer, tempDir } from './test-fixtures.js';

/** Every byte of every shard file, for exact comparisons between runs. */
function shardBytes(outDir: string): Map<string, Buffer> {
  const dir = path.join(outDir, 'shards');
  return new Map(fs.readdirSync(dir).filter((f) => !f.startsWith('.')).sort().map((f) => [f, fs.readFileSync(path.join(dir, f))]));
}

describe('tokenizeDataset', () => {
  let tokenizerDir: string;
  let reference: string;

  beforeAll(async () => {
    // Worker threads run vqkit-cpu with one thread; the in-process runs use the same kernels so codes match exactly.
    await initEngine({ backend: 'vqkit-cpu', threads: 1 });
    tokenizerDir = await saveTinyTokenizer(path.join(tempDir('tok'), 'tokenizer'));
    reference = tempDir('ref');
    await tokenizeDataset({ tokenizer: tokenizerDir, data: bundledIdx, outDir: reference, shardSize: 300, workers: 0 });
  });

  afterAll(() => fs.rmSync(reference, { recursive: true, force: true }));

  it('writes complete shards whose codes are the tokenizer’s codes, with labels and sources', async () => {
    const manifest = await readTokenDatasetManifest(reference);
    expect(manifest.complete).toBe(true);
    expect(manifest.shardCount).toBe(4);
    expect(manifest.totals).toEqual({ items: 1000, tokens: 1000 * 49, errors: 0 });
    expect(manifest.dtype).toBe('uint16');

    const shard = await loadShard(reference, 3);
    expect(shard.index.items).toHaveLength(100);
    const item = shard.index.items[7]!;
    expect(item.index).toBe(907);
    expect(item.shape).toEqual([7, 7]);

    const stack = await readIdxImages(bundledIdx);
    const tokenizer = await ImageTokenizer.load(tokenizerDir);
    const pixels = stack.data.subarray(907 * 784, 908 * 784);
    const direct = await tokenizer.encode({ data: pixels, width: 28, height: 28, channels: 1 });
    tokenizer.dispose();
    expect(Array.from(shard.tokens.subarray(item.offset, item.offset + item.length))).toEqual(Array.from(direct.codes));
    expect(new Set(shard.index.items.map((i) => i.label)).size).toBeGreaterThan(5);
  });

  it('resumes: complete shards are kept, missing or corrupt ones are redone, and the output is identical', async () => {
    const out = tempDir('resume');
    fs.cpSync(reference, out, { recursive: true });
    fs.rmSync(shardPaths(out, 1).tokens);
    const corrupt = fs.readFileSync(shardPaths(out, 2).tokens);
    corrupt[10] ^= 0xff;
    fs.writeFileSync(shardPaths(out, 2).tokens, corrupt);

    const result = await tokenizeDataset({ tokenizer: tokenizerDir, data: bundledIdx, outDir: out, shardSize: 300, workers: 0 });
    expect(result.shardsReused).toBe(2);
    expect(result.shardsWritten).toBe(2);
    expect(shardBytes(out)).toEqual(shardBytes(reference));
    fs.rmSync(out, { recursive: true, force: true });
  });

  it('worker threads write byte-identical shards', async () => {
    const out = tempDir('pool');
    const result = await tokenizeDataset({ tokenizer: tokenizerDir, data: bundledIdx, outDir: out, shardSize: 300, workers: 2, backend: 'vqkit-cpu' });
    expect(result.manifest.complete).toBe(true);
    expect(result.failedShards).toEqual([]);
    expect(shardBytes(out)).toEqual(shardBytes(reference));
    fs.rmSync(out, { recursive: true, force: true });
  });

  it('refuses to mix another tokenizer’s tokens into an existing output', async () => {
    const other = await saveTinyTokenizer(path.join(tempDir('tok2'), 'tokenizer'), 2);
    await expect(tokenizeDataset({ tokenizer: other, data: bundledIdx, outDir: reference, shardSize: 300, workers: 0 })).rejects.toThrow(InvalidArgumentError);
  });

  it('reports unreadable items with their paths and finishes the run', async () => {
    const data = tempDir('folder');
    const gray = (v: number) => encodeImage({ data: new Float32Array(28 * 28).fill(v / 255), width: 28, height: 28, channels: 1 }, 'png');
    fs.mkdirSync(path.join(data, 'a'));
    fs.writeFileSync(path.join(data, 'a', 'one.png'), await gray(10));
    fs.writeFileSync(path.join(data, 'a', 'two.png'), await gray(200));
    fs.writeFileSync(path.join(data, 'broken.png'), Buffer.from('not a png at all'));
    const out = tempDir('folder-out');
    const result = await tokenizeDataset({ tokenizer: tokenizerDir, data, outDir: out, shardSize: 2, workers: 0 });
    expect(result.manifest.complete).toBe(true);
    expect(result.manifest.totals.items).toBe(2);
    const errors = JSON.parse(fs.readFileSync(path.join(out, 'errors.json'), 'utf8')) as { source: string; message: string }[];
    expect(errors.map((e) => e.source)).toEqual([path.join(data, 'broken.png')]);
    expect(errors[0]!.message.length).toBeGreaterThan(0);
  });
});

describe('tokenizeDataset with an audio tokenizer', () => {
  it('writes [frames, levels] codes per WAV file and reports a truncated one', async () => {
    const tokenizerDir = saveTinyAudioTokenizer(path.join(tempDir('audio-tok'), 'tokenizer'));
    const data = tempDir('wavs');
    const tone = (seconds: number, hz: number) => Float32Array.from({ length: Math.round(8000 * seconds) }, (_, i) => 0.3 * Math.sin((2 * Math.PI * hz * i) / 8000));
    fs.writeFileSync(path.join(data, 'a.wav'), encodeWav(tone(0.5, 220), { sampleRate: 8000 }));
    fs.writeFileSync(path.join(data, 'b.wav'), encodeWav(tone(0.3, 440), { sampleRate: 8000 }));
    fs.writeFileSync(path.join(data, 'c.wav'), encodeWav(tone(0.3, 440), { sampleRate: 8000 }).subarray(0, 30));
    const out = tempDir('wav-out');
    const result = await tokenizeDataset({ tokenizer: tokenizerDir, data, outDir: out, workers: 0 });
    expect(result.manifest.tokenizer.modality).toBe('audio');
    expect(result.manifest.totals).toMatchObject({ items: 2, errors: 1 });
    const shard = await loadShard(out, 0);
    const tokenizer = await AudioTokenizer.load(tokenizerDir);
    const direct = await tokenizer.encode(path.join(data, 'a.wav'));
    tokenizer.dispose();
    const first = shard.index.items[0]!;
    expect(first.shape).toEqual([direct.frames, 3]);
    expect(Array.from(shard.tokens.subarray(first.offset, first.offset + first.length))).toEqual(Array.from(direct.codes));
    const errors = JSON.parse(fs.readFileSync(path.join(out, 'errors.json'), 'utf8')) as { source: string }[];
    expect(errors.map((e) => path.basename(e.source))).toEqual(['c.wav']);
  });
});

describe('listItems', () => {
  it('reads list files with labels relative to the list, and rejects malformed lines', async () => {
    const dir = tempDir('list');
    fs.writeFileSync(path.join(dir, 'ok.txt'), '# comment\nimgs/a.png\t3\n\n/abs/b.png\n');
    const listing = await listItems(path.join(dir, 'ok.txt'));
    expect(listing.items).toEqual([{ source: path.join(dir, 'imgs/a.png'), label: 3 }, { source: '/abs/b.png' }]);
    fs.writeFileSync(path.join(dir, 'bad.txt'), 'a.png\tcat\n');
    await expect(listItems(path.join(dir, 'bad.txt'))).rejects.toThrow(/line 1/);
    await expect(listItems(path.join(dir, 'missing'))).rejects.toThrow(InvalidArgumentError);
  });

  it('lists folders in sorted order and fingerprints the listing', async () => {
    const dir = tempDir('sorted');
    for (const name of ['b.png', 'a.png', 'c.txt']) fs.writeFileSync(path.join(dir, name), '');
    const first = await listItems(dir);
    expect(first.items.map((i) => path.basename(i.source))).toEqual(['a.png', 'b.png']);
    fs.writeFileSync(path.join(dir, 'd.png'), '');
    expect((await listItems(dir)).fingerprint).not.toBe(first.fingerprint);
  });
});
