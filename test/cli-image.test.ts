import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadImage, saveImage } from '@vqkit/image';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../packages/cli/src/main.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-cli-image-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const tiny = ['--downsampling', '2', '--hidden-channels', '8', '--residual-blocks', '1', '--code-dim', '4', '--codebook-size', '16'];

async function writeImages(dir: string, count: number, size: number): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const data = new Uint8Array(size * size * 3).map((_, p) => (p * 7 + i * 40) % 256);
    const file = path.join(dir, `img${i}.png`);
    await saveImage(file, { data, width: size, height: size, channels: 3 });
    files.push(file);
  }
  return files;
}

describe('vqkit train/encode/decode image', () => {
  it('trains on a folder, encodes to JSON and .vqt, and both decode to the same PNG', async () => {
    const files = await writeImages(path.join(root, 'data'), 6, 8);
    const model = path.join(root, 'tok');
    const train = ['--backend', 'cpu', 'train', 'image', path.join(root, 'data'), '-o', model, ...tiny, '--steps', '3', '--batch-size', '2', '--validation-fraction', '0.34'];
    expect(await main(train)).toBe(0);
    expect(fs.existsSync(path.join(model, 'config.json'))).toBe(true);
    expect(fs.existsSync(path.join(model, 'report', 'summary.json'))).toBe(true);

    // An odd-sized input: padded to a multiple of f for encoding, cropped back on decode.
    const odd = path.join(root, 'odd.png');
    await saveImage(odd, { data: new Uint8Array(9 * 7 * 3).fill(90), width: 9, height: 7, channels: 3 });
    const json = path.join(root, 'odd.json');
    const vqt = path.join(root, 'odd.vqt');
    expect(await main(['--backend', 'cpu', 'encode', 'image', odd, '-m', model, '-o', json])).toBe(0);
    expect(await main(['--backend', 'cpu', 'encode', 'image', odd, '-m', model, '-o', vqt])).toBe(0);
    const doc = JSON.parse(fs.readFileSync(json, 'utf8'));
    expect(doc).toMatchObject({ modality: 'image', shape: [4, 5], height: 7, width: 9 });
    expect(fs.readFileSync(vqt).subarray(0, 2).toString('latin1')).toBe('VQ');

    const fromJson = path.join(root, 'from-json.png');
    const fromVqt = path.join(root, 'from-vqt.png');
    expect(await main(['--backend', 'cpu', 'decode', json, '-m', model, '-o', fromJson])).toBe(0);
    expect(await main(['--backend', 'cpu', 'decode', vqt, '-m', model, '-o', fromVqt])).toBe(0);
    const a = await loadImage(fromJson);
    const b = await loadImage(fromVqt);
    expect([a.width, a.height]).toEqual([9, 7]);
    expect(Array.from(b.data)).toEqual(Array.from(a.data));

    // Several inputs go to a directory, one file per image.
    const outDir = path.join(root, 'codes');
    expect(await main(['--backend', 'cpu', 'encode', 'image', files[0]!, files[1]!, '-m', model, '-o', outDir, '--format', 'json'])).toBe(0);
    expect(fs.readdirSync(outDir).sort()).toEqual(['img0.json', 'img1.json']);

    // Codes made by another tokenizer are refused.
    const other = path.join(root, 'other');
    expect(await main([...train.slice(0, 5), '-o', other, ...tiny, '--steps', '1', '--batch-size', '2', '--validation-fraction', '0.34', '--seed', '9'])).toBe(0);
    expect(await main(['--backend', 'cpu', 'decode', vqt, '-m', other, '-o', path.join(root, 'x.png')])).not.toBe(0);
    expect(await main(['--backend', 'cpu', 'decode', json, '-m', other, '-o', path.join(root, 'y.png')])).not.toBe(0);
  });

  it('rejects an unknown preset and missing data with usage errors', async () => {
    expect(await main(['train', 'image', root, '-o', path.join(root, 'p'), '--preset', 'nope'])).not.toBe(0);
    expect(await main(['--backend', 'cpu', 'train', 'image', path.join(root, 'missing'), '-o', path.join(root, 'q')])).not.toBe(0);
  });
});
