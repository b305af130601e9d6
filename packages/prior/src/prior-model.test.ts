import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FileFormatError, decodeSafetensors } from '@vqkit/core';
import { afterAll, describe, expect, it } from 'vitest';
import { GPT } from './gpt/model.js';
import { PriorModel } from './prior-model.js';
import { samplePrior } from './sample-prior.js';
import { createVocabulary } from './vocabulary.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-prior-model-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function logitsOf(model: PriorModel, tokens: number[]): Float32Array {
  return tf.tidy(() => model.gpt.forward(tf.tensor2d(tokens, [1, tokens.length], 'int32')).dataSync() as Float32Array);
}

describe('PriorModel', () => {
  it('saves a row/column-embedding prior as non-GPT-2 and loads it back with identical logits', () => {
    const vocabulary = createVocabulary({ codebookSize: 6, numClasses: 2 });
    const gpt = new GPT({ vocabulary, nPositions: 7, nEmbd: 8, nLayer: 1, nHead: 2, seed: 4, positionEmbedding: { kind: 'row-col', rows: 2, cols: 3 } });
    const prior = new PriorModel(gpt, { modality: 'image', grid: { height: 2, width: 3 }, tokenizer: 'fmnist-test', classNames: ['a', 'b'] });
    const dir = path.join(tmp, 'rowcol');
    prior.save(dir);
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(config.model_type).toBe('vqkit-gpt2-rowcol');
    expect(config.vqkit.gpt2Compatible).toBe(false);
    expect(config.activation_function).toBe('gelu_new');
    expect(config.layer_norm_epsilon).toBe(1e-5);
    const file = decodeSafetensors(fs.readFileSync(path.join(dir, 'model.safetensors')));
    expect(file.metadata.format).toBe('pt');
    expect(file.tensors.get('transformer.wpe_row.weight')!.shape).toEqual([3, 8]);
    const loaded = PriorModel.load(dir);
    expect(loaded.metadata).toEqual(prior.metadata);
    const tokens = [vocabulary.firstClassId, 1, 2, 3, 4, 5, 0];
    expect(Array.from(logitsOf(loaded, tokens))).toEqual(Array.from(logitsOf(prior, tokens)));
    loaded.dispose();
    prior.dispose();
  });

  it('reports missing and mismatched files as FileFormatError', () => {
    expect(() => PriorModel.load(path.join(tmp, 'nowhere'))).toThrow(FileFormatError);
    const vocabulary = createVocabulary({ codebookSize: 4 });
    const prior = new PriorModel(new GPT({ vocabulary, nPositions: 4, nEmbd: 8, nLayer: 1, nHead: 2 }));
    const dir = path.join(tmp, 'mismatch');
    prior.save(dir);
    const configPath = path.join(dir, 'config.json');
    const config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
    config.n_layer = 2;
    fs.writeFileSync(configPath, JSON.stringify(config));
    expect(() => PriorModel.load(dir)).toThrow(/missing .* weight/);
    fs.writeFileSync(configPath, JSON.stringify({ model_type: 'gpt2' }));
    expect(() => PriorModel.load(dir)).toThrow(/not a vqkit prior config/);
    prior.dispose();
  });
});

describe('samplePrior', () => {
  it('samples image grids of codes, by class name, reproducibly', () => {
    const vocabulary = createVocabulary({ codebookSize: 5, numClasses: 3 });
    const prior = new PriorModel(new GPT({ vocabulary, nPositions: 7, nEmbd: 8, nLayer: 1, nHead: 2, seed: 2, initializerRange: 0.5 }), {
      modality: 'image',
      grid: { height: 2, width: 3 },
      classNames: ['shirt', 'sneaker', 'bag'],
    });
    const a = samplePrior(prior, { count: 3, className: 'sneaker', seed: 7, temperature: 1.5 });
    const b = samplePrior(prior, { count: 3, classIndex: 1, seed: 7, temperature: 1.5 });
    expect(a.map((s) => Array.from(s.codes))).toEqual(b.map((s) => Array.from(s.codes)));
    for (const s of a) {
      expect(s.classIndex).toBe(1);
      expect(s.codes.length).toBe(6);
      expect(s.codes.every((c) => c >= 0 && c < 5)).toBe(true);
    }
    expect(() => samplePrior(prior, { className: 'hat' })).toThrow(/shirt, sneaker, bag/);
    prior.dispose();
  });

  it('samples audio frames level by level (flatten and delay)', () => {
    for (const audioPattern of ['flatten', 'delay'] as const) {
      const vocabulary = createVocabulary({ codebookSize: 4, levels: 2, padToken: audioPattern === 'delay' });
      const prior = new PriorModel(new GPT({ vocabulary, nPositions: 12, nEmbd: 8, nLayer: 1, nHead: 2, seed: 2, initializerRange: 0.5 }), {
        modality: 'audio',
        audioPattern,
      });
      // 10 frames exceed the context: the window slides on frame boundaries.
      const [s] = samplePrior(prior, { frames: 10, seed: 1, temperature: 2 });
      expect(s!.frames).toBe(10);
      expect(s!.codes.length).toBe(20);
      expect(s!.codes.every((c) => c >= 0 && c < 4)).toBe(true);
      expect(() => samplePrior(prior, {})).toThrow(/frames/);
      prior.dispose();
    }
  });
});
