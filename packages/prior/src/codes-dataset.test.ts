import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readContainer, writeContainer } from '@vqkit/core';
import { ImageTokenizer, createImageTokenizerConfig, encodeIdx, encodeImage, loadImage } from '@vqkit/image';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizedCodes, priorDataFromCodes, unigramBitsPerToken } from './codes-dataset.js';
import { createVocabulary } from './vocabulary.js';
import { priorEntropyModel } from './entropy.js';
import { GPT } from './gpt/model.js';
import { PriorModel } from './prior-model.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-prior-codes-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const COUNT = 10;
const SIDE = 8;

function tinyTokenizer(seed: number): ImageTokenizer {
  return ImageTokenizer.create(
    createImageTokenizerConfig({
      architecture: { downsampling: 4, hiddenChannels: 8, residualBlocks: 1, residualHiddenChannels: 4, codeDim: 4 },
      preprocessing: { height: SIDE, width: SIDE, channels: 1 },
      quantizer: { type: 'vq', codebookSize: 16, kmeansInit: false },
    }),
    { seed },
  );
}

/** Image i: a diagonal pattern whose phase depends on i, so the codes differ between images. */
function pixels(i: number): Uint8Array {
  return Uint8Array.from({ length: SIDE * SIDE }, (_, p) => ((p % SIDE) * 29 + Math.floor(p / SIDE) * 11 + i * 37) % 256);
}

const labelsOf = Array.from({ length: COUNT }, (_, i) => (i * 3) % 4);
let tokenizerDir: string;
let otherTokenizerDir: string;
let idxFile: string;

beforeAll(async () => {
  tokenizerDir = path.join(tmp, 'tokenizer');
  otherTokenizerDir = path.join(tmp, 'tokenizer-2');
  for (const [dir, seed] of [
    [tokenizerDir, 1],
    [otherTokenizerDir, 2],
  ] as const) {
    const t = tinyTokenizer(seed);
    await t.save(dir);
    t.dispose();
  }
  const images = new Uint8Array(COUNT * SIDE * SIDE);
  for (let i = 0; i < COUNT; i++) images.set(pixels(i), i * SIDE * SIDE);
  idxFile = path.join(tmp, 'train-images-idx3-ubyte');
  fs.writeFileSync(idxFile, encodeIdx({ dtype: 'uint8', shape: [COUNT, SIDE, SIDE], data: images }));
  fs.writeFileSync(path.join(tmp, 'train-labels-idx1-ubyte'), encodeIdx({ dtype: 'uint8', shape: [COUNT], data: Uint8Array.from(labelsOf) }));
});

describe('loadTokenizedCodes', () => {
  it('tokenizes an IDX dataset with its labels, caches the codes by tokenizer id and reuses them', async () => {
    const cacheDir = path.join(tmp, 'cache');
    const first = await loadTokenizedCodes({ tokenizer: tokenizerDir, data: idxFile, cacheDir });
    const tokenizer = await ImageTokenizer.load(tokenizerDir);
    const expected = tokenizer.encodeImages(Array.from({ length: COUNT }, (_, i) => ({ data: Float32Array.from(pixels(i), (v) => v / 255), width: SIDE, height: SIDE, channels: 1 as const })));
    expect(first.fromCache).toBe(false);
    expect(first.tokenizer).toMatchObject({ id: tokenizer.id, modality: 'image', codebookSizes: [16], downsampling: 4 });
    expect(path.relative(cacheDir, first.cacheDir).split(path.sep)[0]).toBe(tokenizer.id);
    expect(first.items.map((item) => item.label)).toEqual(labelsOf);
    first.items.forEach((item, i) => {
      expect(item.shape).toEqual([2, 2]);
      expect(Array.from(item.codes)).toEqual(Array.from(expected[i]!.codes));
    });
    tokenizer.dispose();

    const again = await loadTokenizedCodes({ tokenizer: tokenizerDir, data: idxFile, cacheDir, limit: 4 });
    expect(again.fromCache).toBe(true);
    expect(again.cacheDir).toBe(first.cacheDir);
    expect(again.items.map((item) => Array.from(item.codes))).toEqual(first.items.slice(0, 4).map((item) => Array.from(item.codes)));

    // Another tokenizer: its own cache entry, tokenized afresh.
    const other = await loadTokenizedCodes({ tokenizer: otherTokenizerDir, data: idxFile, cacheDir });
    expect(other.fromCache).toBe(false);
    expect(other.cacheDir).not.toBe(first.cacheDir);
  });

  it('labels folder images by class subfolder', async () => {
    const root = path.join(tmp, 'folder');
    const classes = ['boot', 'bag'];
    for (let i = 0; i < 4; i++) {
      const dir = path.join(root, classes[i % 2]!);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `${i}.png`), await encodeImage({ data: pixels(i), width: SIDE, height: SIDE, channels: 1 }, 'png'));
    }
    const codes = await loadTokenizedCodes({ tokenizer: tokenizerDir, data: root, cacheDir: path.join(tmp, 'cache'), labels: 'subfolders' });
    expect(codes.classNames).toEqual(['bag', 'boot']);
    expect(codes.items.map((item) => [path.basename(item.name), item.label])).toEqual([
      ['1.png', 0],
      ['3.png', 0],
      ['0.png', 1],
      ['2.png', 1],
    ]);
    const data = priorDataFromCodes(codes);
    expect(data.metadata.classNames).toEqual(['bag', 'boot']);
    expect(data.vocabulary.numClasses).toBe(2);
    // Unlabelled use of a folder: no class tokens.
    await expect(loadTokenizedCodes({ tokenizer: tokenizerDir, data: idxFile, cacheDir: path.join(tmp, 'cache'), labels: 'subfolders' })).rejects.toThrow(/folder dataset/);
  });
});

describe('priorDataFromCodes', () => {
  it('builds class-conditioned raster-order sequences and records the tokenizer, grid and token rate', async () => {
    const codes = await loadTokenizedCodes({ tokenizer: tokenizerDir, data: idxFile, cacheDir: path.join(tmp, 'cache') });
    const data = priorDataFromCodes(codes, { classNames: ['a', 'b', 'c', 'd'] });
    expect(data.vocabulary).toMatchObject({ codebookSize: 16, levels: 1, numClasses: 4 });
    expect(data.metadata).toMatchObject({ modality: 'image', tokenizer: codes.tokenizer.id, grid: { height: 2, width: 2 }, tokensPerPixel: 1 / 16, classNames: ['a', 'b', 'c', 'd'] });
    data.sequences.forEach((seq, i) => {
      expect(Array.from(seq)).toEqual([data.vocabulary.firstClassId + labelsOf[i]!, ...codes.items[i]!.codes]);
    });
    const unconditional = priorDataFromCodes(codes, { classConditional: false });
    expect(unconditional.vocabulary.numClasses).toBe(0);
    expect(unconditional.sequences[0]![0]).toBe(unconditional.vocabulary.bosId);
    expect(() => priorDataFromCodes(codes, { classNames: ['a', 'b'] })).toThrow(/label 3 needs at least 4 classes/);
  });

  it('the prior codes real tokenizer output through a container (priorEntropyModel end to end)', async () => {
    const codes = await loadTokenizedCodes({ tokenizer: tokenizerDir, data: idxFile, cacheDir: path.join(tmp, 'cache') });
    const data = priorDataFromCodes(codes);
    const prior = new PriorModel(new GPT({ vocabulary: data.vocabulary, nPositions: 5, nEmbd: 16, nLayer: 1, nHead: 2, seed: 3, initializerRange: 0.5 }), data.metadata);
    const tokenizer = await ImageTokenizer.load(tokenizerDir);
    const image = await loadImage({ data: pixels(3), width: SIDE, height: SIDE, channels: 1 }, { channels: 1 });
    const [encoded] = tokenizer.encodeImages([image]);
    const header = { modality: 'image' as const, tokenizerId: tokenizer.id, codebookSizes: [16] };
    const segment = { shape: [...encoded!.shape, 1], codes: encoded!.codes };
    const before = tf.memory().numTensors;
    const spec = priorEntropyModel(prior, { tokenizerId: tokenizer.id });
    const bytes = writeContainer(header, [segment], { model: spec });
    const back = readContainer(bytes, { expectedTokenizerId: tokenizer.id, model: spec });
    expect(back.header.entropyModel).toBe('external');
    expect(Array.from(back.segments[0]!.codes)).toEqual(Array.from(encoded!.codes));
    spec.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const other = await ImageTokenizer.load(otherTokenizerDir);
    expect(() => priorEntropyModel(prior, { tokenizerId: other.id })).toThrow(/trained on codes of tokenizer/);
    other.dispose();
    tokenizer.dispose();
    prior.dispose();
  });

  it('audio codes: flattened frame by frame with the tokenizer frame rate; levels keeps the coarse levels only', () => {
    // Two utterances of codes [frames, 3 levels] (K 4), labelled 1 and 0.
    const codes = {
      tokenizer: { id: 'speech', dir: '/speech', modality: 'audio' as const, codebookSizes: [4, 4, 4], framesPerSecond: 50 },
      data: '/data',
      cacheDir: '/cache',
      fromCache: true,
      errors: 0,
      items: [
        { codes: Int32Array.of(1, 2, 3, 0, 1, 2), shape: [2, 3], label: 1, name: 'a.wav' },
        { codes: Int32Array.of(3, 3, 3), shape: [1, 3], label: 0, name: 'b.wav' },
      ],
    };
    const all = priorDataFromCodes(codes);
    expect(all.vocabulary).toMatchObject({ codebookSize: 4, levels: 3, numClasses: 2 });
    const c = all.vocabulary.firstClassId;
    // Level l of a frame uses ids [4l, 4l + 4).
    expect(Array.from(all.sequences[0]!)).toEqual([c + 1, 1, 6, 11, 0, 5, 10]);
    expect(all.metadata).toMatchObject({ modality: 'audio', audioPattern: 'flatten', framesPerSecond: 50, tokensPerSecond: 150 });
    const coarse = priorDataFromCodes(codes, { levels: 2 });
    expect(coarse.vocabulary.levels).toBe(2);
    expect(Array.from(coarse.sequences[0]!)).toEqual([coarse.vocabulary.firstClassId + 1, 1, 6, 0, 5]);
    expect(Array.from(coarse.sequences[1]!)).toEqual([coarse.vocabulary.firstClassId, 3, 7]);
    expect(coarse.metadata.tokensPerSecond).toBe(100);
    expect(() => priorDataFromCodes(codes, { levels: 4 })).toThrow(/levels must be an integer in \[1, 3\]/);
  });

  it('unigramBitsPerToken is the per-level code entropy, ignoring prefixes', () => {
    const vocabulary = createVocabulary({ codebookSize: 2, levels: 2, numClasses: 1 });
    const c = vocabulary.firstClassId;
    // Level 0 always code 0 (0 bits); level 1 codes 0/1 equally often (1 bit): 0.5 bits per token.
    expect(unigramBitsPerToken([Int32Array.of(c, 0, 2, 0, 3), Int32Array.of(vocabulary.bosId, 0, 3, 0, 2)], vocabulary)).toBeCloseTo(0.5, 12);
  });
});
