import * as tf from '@tensorflow/tfjs';
import { Rng } from '@vqkit/core';
import { describe, expect, it } from 'vitest';
import { GPT } from './gpt/model.js';
import { imageTokenConstraint } from './layout.js';
import { DecodingSession, TokenPredictor, generate, nextTokenProbabilities, sampleFromDistribution, samplingDistribution } from './sampling.js';
import { createVocabulary } from './vocabulary.js';

const vocabulary = createVocabulary({ codebookSize: 10, numClasses: 3 });

function randomModel(nPositions = 24): GPT {
  // A wide init so the random model has peaked, token-dependent distributions.
  return new GPT({ vocabulary, nPositions, nEmbd: 16, nLayer: 2, nHead: 2, seed: 9, initializerRange: 0.5 });
}

describe('samplingDistribution', () => {
  const logits = Float64Array.from([0.5, 0.3, 0.15, 0.05], Math.log);

  it('is the softmax at temperature 1 and sharpens/flattens with temperature', () => {
    const p = samplingDistribution(logits);
    [0.5, 0.3, 0.15, 0.05].forEach((q, i) => expect(p[i]).toBeCloseTo(q, 12));
    const cold = samplingDistribution(logits, { temperature: 0.5 });
    const z = 0.25 + 0.09 + 0.0225 + 0.0025;
    [0.25, 0.09, 0.0225, 0.0025].forEach((q, i) => expect(cold[i]).toBeCloseTo(q / z, 12));
    expect(Array.from(samplingDistribution(logits, { temperature: 0 }))).toEqual([1, 0, 0, 0]);
  });

  it('top-p keeps the smallest prefix of likely tokens reaching p, then renormalises', () => {
    // Mass before token 2 is 0.8 < 0.85: kept; before token 3 is 0.95: dropped.
    const p85 = samplingDistribution(logits, { topP: 0.85 });
    [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0].forEach((q, i) => expect(p85[i]).toBeCloseTo(q, 12));
    const p75 = samplingDistribution(logits, { topP: 0.75 });
    [0.5 / 0.8, 0.3 / 0.8, 0, 0].forEach((q, i) => expect(p75[i]).toBeCloseTo(q, 12));
    // The most likely token always survives.
    expect(Array.from(samplingDistribution(logits, { topP: 0.1 }))).toEqual([1, 0, 0, 0]);
  });

  it('applies top-k before top-p, and constraints before both', () => {
    const k2 = samplingDistribution(logits, { topK: 2 });
    [0.625, 0.375, 0, 0].forEach((q, i) => expect(k2[i]).toBeCloseTo(q, 12));
    // Top-p on the top-3 distribution (0.5, 0.3, 0.15)/0.95: 0.5/0.95 = 0.526 < 0.6, so two tokens.
    const k3p = samplingDistribution(logits, { topK: 3, topP: 0.6 });
    [0.625, 0.375, 0, 0].forEach((q, i) => expect(k3p[i]).toBeCloseTo(q, 12));
    const ranged = samplingDistribution(logits, { topK: 1 }, { start: 2, end: 4 });
    expect(Array.from(ranged)).toEqual([0, 0, 1, 0]);
  });

  it('rejects invalid options', () => {
    expect(() => samplingDistribution(logits, { topP: 0 })).toThrow(/topP/);
    expect(() => samplingDistribution(logits, { temperature: -1 })).toThrow(/temperature/);
    expect(() => samplingDistribution(logits, { topK: 1.5 })).toThrow(/topK/);
    expect(() => samplingDistribution(logits, {}, { start: 3, end: 3 })).toThrow(/empty/);
  });

  it('sampleFromDistribution draws with the given frequencies', () => {
    const rng = new Rng(1);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 20000; i++) counts[sampleFromDistribution([0.5, 0.3, 0, 0.2], rng)]!++;
    expect(counts[2]).toBe(0);
    expect(counts[0]! / 20000).toBeCloseTo(0.5, 1);
    expect(counts[3]! / 20000).toBeCloseTo(0.2, 1);
  });
});

describe('generate', () => {
  it('is reproducible for a seed, differs across seeds, and leaks no tensors', () => {
    const model = randomModel();
    const before = tf.memory().numTensors;
    const a = generate(model, { batch: 3, maxNewTokens: 12, seed: 42 });
    const b = generate(model, { batch: 3, maxNewTokens: 12, seed: 42 });
    const c = generate(model, { batch: 3, maxNewTokens: 12, seed: 43 });
    expect(tf.memory().numTensors).toBe(before);
    expect(a.map((r) => Array.from(r))).toEqual(b.map((r) => Array.from(r)));
    expect(a.map((r) => Array.from(r))).not.toEqual(c.map((r) => Array.from(r)));
    // Rows use independent streams.
    expect(Array.from(a[0]!)).not.toEqual(Array.from(a[1]!));
    model.dispose();
  });

  it('firstRow makes batches composable: rows [0, 2) + rows [2, 4) equal one batch of 4', () => {
    const model = randomModel();
    const whole = generate(model, { batch: 4, maxNewTokens: 10, seed: 'x' });
    const parts = [...generate(model, { batch: 2, maxNewTokens: 10, seed: 'x' }), ...generate(model, { batch: 2, maxNewTokens: 10, seed: 'x', firstRow: 2 })];
    expect(parts.map((r) => Array.from(r))).toEqual(whole.map((r) => Array.from(r)));
    model.dispose();
  });

  it('top-k = 1 equals greedy (temperature 0), and greedy follows the argmax of the full forward', () => {
    const model = randomModel();
    const greedy = generate(model, { batch: 2, maxNewTokens: 10, temperature: 0, classIndex: [0, 2] });
    const top1 = generate(model, { batch: 2, maxNewTokens: 10, topK: 1, seed: 5, classIndex: [0, 2] });
    expect(top1.map((r) => Array.from(r))).toEqual(greedy.map((r) => Array.from(r)));
    // Check row 0 against independent full-sequence argmaxes.
    const seq = [vocabulary.firstClassId, ...greedy[0]!];
    const logits = tf.tidy(() => model.forward(tf.tensor2d(seq.slice(0, -1), [1, seq.length - 1], 'int32')).arraySync()[0]!);
    logits.forEach((row, t) => expect(seq[t + 1]).toBe(row.indexOf(Math.max(...row))));
    model.dispose();
  });

  it('respects constraints (image codes never sample special tokens)', () => {
    const model = randomModel();
    const rows = generate(model, { batch: 4, maxNewTokens: 20, seed: 1, temperature: 2, constrain: imageTokenConstraint(vocabulary) });
    for (const r of rows) for (const t of r) expect(t).toBeLessThan(vocabulary.codebookSize);
    // Without the constraint the hot random model does emit special tokens.
    const free = generate(model, { batch: 4, maxNewTokens: 20, seed: 1, temperature: 2 });
    expect(free.some((r) => r.some((t) => t >= vocabulary.codebookSize))).toBe(true);
    model.dispose();
  });

  it('slides the window past the context and keeps the prefix (parity with a re-encoded window)', () => {
    const model = randomModel(8);
    const prompt = [vocabulary.firstClassId + 1];
    const out = generate(model, { maxNewTokens: 20, temperature: 0, prompt });
    expect(out[0]!.length).toBe(20);
    // Replay: the session logits after 12 tokens must equal a forward pass over prefix + the last kept tokens.
    const session = new DecodingSession(model, [prompt]);
    for (let i = 0; i < 12; i++) session.append([out[0]![i]!]);
    const history = [prompt[0]!, ...out[0]!.subarray(0, 12)];
    // 13 tokens seen with context 8: the slide at 9 tokens kept prefix + last 3, then 4 more steps → window of 8.
    const windowTokens = [history[0]!, ...history.slice(6)];
    const ref = tf.tidy(() => {
      const l = model.forward(tf.tensor2d(windowTokens, [1, windowTokens.length], 'int32'));
      return l.slice([0, windowTokens.length - 1, 0], [1, 1, vocabulary.vocabSize]).dataSync();
    });
    const got = session.logits();
    let maxDiff = 0;
    for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref[i]! - got[i]!));
    expect(maxDiff).toBeLessThan(1e-4);
    session.dispose();
    model.dispose();
  });
});

describe('TokenPredictor', () => {
  it('gives the softmax of the full forward at every position, incrementally', () => {
    const model = randomModel();
    const tokens = [vocabulary.bosId, 3, 7, 1, 1, 9, 0];
    const full = tf.tidy(() => tf.softmax(model.forward(tf.tensor2d(tokens, [1, tokens.length], 'int32'))).arraySync()[0]!);
    const before = tf.memory().numTensors;
    const predictor = new TokenPredictor(model);
    for (let t = 0; t < tokens.length; t++) {
      const p = predictor.probabilities();
      expect(p).toBeInstanceOf(Float32Array);
      full[t]!.forEach((q, i) => expect(p[i]).toBeCloseTo(q, 5));
      if (t + 1 < tokens.length) predictor.push(tokens[t + 1]!);
    }
    const restricted = predictor.probabilities({ start: 0, end: vocabulary.codebookSize });
    expect(restricted.subarray(vocabulary.codebookSize).every((x) => x === 0)).toBe(true);
    expect(restricted.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    predictor.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const oneShot = nextTokenProbabilities(model, tokens.slice(0, 4));
    full[3]!.forEach((q, i) => expect(oneShot[i]).toBeCloseTo(q, 5));
    model.dispose();
  });
});
