import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FileFormatError, initEngine, InvalidArgumentError } from '@vqkit/core';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeImage, type RawImage } from './io.js';
import { createImageTokenizerConfig, type ImageQuantizerConfig } from './model/config.js';
import { ImageTokenizer } from './tokenizer.js';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-tok-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tinyTokenizer(channels: 1 | 3 = 3, quantizer: ImageQuantizerConfig = { type: 'vq', codebookSize: 16, kmeansInit: false }) {
  return ImageTokenizer.create(
    createImageTokenizerConfig({
      architecture: { downsampling: 4, hiddenChannels: 8, residualBlocks: 1, residualHiddenChannels: 4, codeDim: 4 },
      preprocessing: { height: 16, width: 16, channels },
      quantizer,
    }),
    { seed: 3 },
  );
}

function gradient(width: number, height: number, channels: number): RawImage {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = (x * 13 + y * 7 + c * 50) % 256;
  return { data, width, height, channels };
}

describe('ImageTokenizer', () => {
  it('save → load gives the same id and identical codes', async () => {
    const dir = tempDir();
    const tok = tinyTokenizer();
    const image = gradient(16, 16, 3);
    const before = await tok.encode(image);
    await tok.save(dir);
    expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
    const loaded = await ImageTokenizer.load(dir);
    expect(loaded.id).toBe(tok.id);
    expect(tok.id).toMatch(/^[0-9a-f]{16}$/);
    // The id is the hash of the two files as written.
    const files = Buffer.concat([fs.readFileSync(path.join(dir, 'config.json')), fs.readFileSync(path.join(dir, 'model.safetensors'))]);
    expect(tok.id).toBe(createHash('sha256').update(files).digest('hex').slice(0, 16));
    const after = await loaded.encode(image);
    expect(after.shape).toEqual([4, 4]);
    expect(Array.from(after.codes)).toEqual(Array.from(before.codes));
    // Changing a weight changes the identity.
    const w = loaded.model.decoder.trainableVariables()[0]!;
    w.assign(tf.add(w, 0.01));
    expect(loaded.id).not.toBe(tok.id);
    tok.dispose();
    loaded.dispose();
  });

  it('encodes paths, PNG bytes, sharp pipelines and batches; odd sizes are padded and cropped back', async () => {
    const dir = tempDir();
    const tok = tinyTokenizer();
    const raw = gradient(18, 13, 3);
    const png = await encodeImage(raw, 'png');
    const file = path.join(dir, 'x.png');
    fs.writeFileSync(file, png);
    const [fromRaw, fromPng, fromFile, fromSharp, other] = await tok.encode([raw, png, file, sharp(png), gradient(8, 8, 3)]);
    expect(fromRaw!.shape).toEqual([4, 5]); // ceil(13/4) × ceil(18/4)
    expect(tok.codeShape(13, 18)).toEqual([4, 5]);
    expect([fromRaw!.height, fromRaw!.width]).toEqual([13, 18]);
    for (const e of [fromPng, fromFile, fromSharp]) expect(Array.from(e!.codes)).toEqual(Array.from(fromRaw!.codes));
    expect(other!.shape).toEqual([2, 2]);
    const single = await tok.encode(raw);
    expect(Array.from(single.codes)).toEqual(Array.from(fromRaw!.codes));
    const decoded = tok.decode(fromRaw!);
    expect([decoded.height, decoded.width, decoded.channels]).toEqual([13, 18, 3]);
    expect(decoded.data.length).toBe(13 * 18 * 3);
    const meta = await sharp(await tok.decodeToPng(fromRaw!)).metadata();
    expect([meta.width, meta.height]).toEqual([18, 13]);
    tok.dispose();
  });

  it('rejects codes outside the codebook or not matching the grid', () => {
    const tok = tinyTokenizer(1);
    expect(() => tok.decode({ codes: new Int32Array([0, 1, 2, 16]), shape: [2, 2] })).toThrow(/outside the codebook/);
    expect(() => tok.decode({ codes: new Int32Array([0, 1, 2]), shape: [2, 2] })).toThrow(/do not fill/);
    expect(() => tok.decode({ codes: new Int32Array(4), shape: [2, 2], height: 30, width: 8 })).toThrow(InvalidArgumentError);
    expect(tok.decode({ codes: new Int32Array(4), shape: [2, 2] }).height).toBe(8);
    tok.dispose();
  });

  it('multi-level (RVQ) codes carry a levels axis and round-trip through decode', async () => {
    const tok = tinyTokenizer(1, { type: 'rvq', codebookSize: 8, levels: 2, kmeansInit: false });
    const enc = await tok.encode(gradient(8, 8, 1));
    expect(enc.shape).toEqual([2, 2, 2]);
    expect(tok.codeShape(8, 8)).toEqual([2, 2, 2]);
    expect(tok.codebookSizes).toEqual([8, 8]);
    expect(tok.decode(enc).data.length).toBe(64);
    tok.dispose();
  });

  it('typed errors for missing, corrupt and mismatching files', async () => {
    const dir = tempDir();
    await expect(ImageTokenizer.load(path.join(dir, 'absent'))).rejects.toThrow(/does not exist/);
    await expect(ImageTokenizer.load(dir)).rejects.toThrow(/config\.json: missing tokenizer config/);
    const tok = tinyTokenizer();
    await tok.save(dir);
    const configFile = path.join(dir, 'config.json');
    const weightsFile = path.join(dir, 'model.safetensors');
    const goodConfig = fs.readFileSync(configFile, 'utf8');
    const goodWeights = fs.readFileSync(weightsFile);

    fs.writeFileSync(configFile, '{ not json');
    await expect(ImageTokenizer.load(dir)).rejects.toThrow(FileFormatError);
    await expect(ImageTokenizer.load(dir)).rejects.toThrow(/config\.json: not valid JSON/);

    fs.writeFileSync(configFile, goodConfig.replace('"version": 1', '"version": 9'));
    await expect(ImageTokenizer.load(dir)).rejects.toThrow(/config\.json: .*version 9 is not supported/);

    // A config for another architecture: the weights no longer fit.
    fs.writeFileSync(configFile, goodConfig.replace('"codeDim": 4', '"codeDim": 5'));
    const before = tf.memory().numTensors;
    await expect(ImageTokenizer.load(dir)).rejects.toThrow(/model\.safetensors: .*shape/);
    expect(tf.memory().numTensors).toBe(before); // the half-built model is disposed

    fs.writeFileSync(configFile, goodConfig);
    fs.writeFileSync(weightsFile, goodWeights.subarray(0, goodWeights.length - 10));
    await expect(ImageTokenizer.load(dir)).rejects.toThrow(/model\.safetensors: not a valid safetensors file/);
    fs.rmSync(weightsFile);
    await expect(ImageTokenizer.load(dir)).rejects.toThrow(/model\.safetensors: missing tokenizer weights/);
    tok.dispose();
  });
});
