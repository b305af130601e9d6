import * as tf from '@tensorflow/tfjs';
import { createLevelModels, decodeCodeTensor, encodeCodeTensor, measureCodeBits } from '@vqkit/core';
import { describe, expect, it } from 'vitest';
import { priorEntropyModel } from './entropy.js';
import { GPT } from './gpt/model.js';
import { audioCodesToSequence } from './layout.js';
import { PriorModel } from './prior-model.js';
import { createVocabulary } from './vocabulary.js';

describe('priorEntropyModel', () => {
  it('round-trips residual-VQ codes through the range coder at the prior code length, without leaks', () => {
    const vocabulary = createVocabulary({ codebookSize: 6, levels: 2, numClasses: 2 });
    const gpt = new GPT({ vocabulary, nPositions: 12, nEmbd: 16, nLayer: 1, nHead: 2, seed: 5, initializerRange: 0.5 });
    const prior = new PriorModel(gpt, { modality: 'audio', audioPattern: 'flatten' });
    // 9 frames x 2 levels = 18 codes: more than the context, so the window slides while coding.
    const codes = Int32Array.from({ length: 18 }, (_, i) => (i * 7 + (i >> 2)) % 6);
    const shape = [9, 2];
    const before = tf.memory().numTensors;
    const spec = priorEntropyModel(prior, { classIndex: 1 });
    const bytes = encodeCodeTensor(codes, shape, createLevelModels(spec, [6, 6]));
    const decoded = decodeCodeTensor(bytes, shape, createLevelModels(spec, [6, 6]));
    expect(Array.from(decoded)).toEqual(Array.from(codes));

    // The ideal code length equals Σ -log2 p under the prior (first 11 codes: one forward pass, no sliding).
    const prefixCodes = codes.subarray(0, 10);
    const [report] = measureCodeBits([{ codes: prefixCodes, shape: [5, 2] }], [6, 6], { prior: spec });
    const seq = audioCodesToSequence(prefixCodes, { vocabulary, classIndex: 1 });
    const logits = tf.tidy(() => gpt.forward(tf.tensor2d(seq.subarray(0, 10), [1, 10], 'int32')).arraySync()[0]!);
    let bits = 0;
    for (let t = 0; t < 10; t++) {
      const level = t % 2;
      const row = logits[t]!.slice(level * 6, level * 6 + 6);
      const max = Math.max(...row);
      const z = row.reduce((a, l) => a + Math.exp(l - max), 0);
      bits -= Math.log2(Math.exp(row[prefixCodes[t]!]! - max) / z);
    }
    expect(report!.idealBits).toBeCloseTo(bits, 1);
    spec.dispose();
    expect(tf.memory().numTensors).toBe(before);
    prior.dispose();
  });

  it('rejects tensors that do not match the prior', () => {
    const vocabulary = createVocabulary({ codebookSize: 6 });
    const gpt = new GPT({ vocabulary, nPositions: 8, nEmbd: 8, nLayer: 1, nHead: 2 });
    const spec = priorEntropyModel(gpt);
    expect(() => createLevelModels(spec, [8])).toThrow(/codebook of 6/);
    expect(() => createLevelModels(spec, [6, 6])).toThrow(/levels/);
    spec.dispose();
    gpt.dispose();
  });
});
