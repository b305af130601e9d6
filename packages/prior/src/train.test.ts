import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import type { GPTOptions } from './gpt/model.js';
import { imageTokenConstraint } from './layout.js';
import { PriorModel } from './prior-model.js';
import { generate } from './sampling.js';
import { trainPrior, type PriorTrainProgress } from './train.js';
import { createVocabulary } from './vocabulary.js';

const K = 8;
const vocabulary = createVocabulary({ codebookSize: K, numClasses: 2 });
const LENGTH = 16;

/** Class 0 counts up from a random start, class 1 counts down: deterministic after the first code. */
function patternSequences(n: number): Int32Array[] {
  const out: Int32Array[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    // Starts independent of the class, so only the class token tells the direction.
    const start = (Math.floor(i / 2) * 3) % K;
    const seq = new Int32Array(LENGTH + 1);
    seq[0] = vocabulary.firstClassId + c;
    for (let t = 0; t < LENGTH; t++) seq[t + 1] = (((start + (c === 0 ? t : -t)) % K) + K) % K;
    out.push(seq);
  }
  return out;
}

const modelOptions: GPTOptions = { vocabulary, nPositions: LENGTH, nEmbd: 32, nLayer: 2, nHead: 2, seed: 1 };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-prior-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('trainPrior', () => {
  it('learns class-conditioned patterns: loss far below log V, greedy generation continues them', async () => {
    const progress: PriorTrainProgress[] = [];
    const report = await trainPrior({
      model: modelOptions,
      metadata: { modality: 'generic', classNames: ['up', 'down'] },
      train: patternSequences(64),
      validation: patternSequences(8),
      steps: 100,
      batchSize: 8,
      learningRate: 1e-2,
      warmupSteps: 10,
      evalEvery: 50,
      logEvery: 25,
      tokensPerSecond: 100,
      onProgress: (p) => progress.push(p),
    });
    const prior = report.model;
    expect(report.steps).toBe(100);
    expect(report.aborted).toBe(false);
    expect(report.history.map((h) => h.step)).toEqual([50, 100]);
    // The first code is uniform over 8 values (3 bits), the other 15 are determined: ideal ≈ 3/16 bits/token.
    const ideal = 3 / LENGTH;
    expect(report.validation!.bitsPerToken).toBeLessThan(ideal + 0.15);
    expect(report.validation!.bitsPerToken).toBeLessThan(Math.log2(vocabulary.vocabSize) / 5);
    expect(report.validation!.bitsPerSecond).toBeCloseTo(report.validation!.bitsPerToken * 100, 8);
    expect(report.history[1]!.validation.bitsPerToken).toBeLessThan(report.history[0]!.validation.bitsPerToken);
    expect(progress.at(-1)!.step).toBe(100);
    expect(progress.every((p) => p.tokensPerSecond > 0 && p.eta >= 0)).toBe(true);

    // Greedy continuation of [class, first code] reproduces the pattern; the class changes the samples.
    const up = generate(prior.gpt, { prompt: [vocabulary.firstClassId, 3], maxNewTokens: LENGTH - 1, temperature: 0 });
    const down = generate(prior.gpt, { prompt: [vocabulary.firstClassId + 1, 3], maxNewTokens: LENGTH - 1, temperature: 0 });
    expect(Array.from(up[0]!)).toEqual(Array.from({ length: LENGTH - 1 }, (_, t) => (3 + t + 1) % K));
    expect(Array.from(down[0]!)).toEqual(Array.from({ length: LENGTH - 1 }, (_, t) => (((3 - t - 1) % K) + K) % K));
    const sampled = generate(prior, { classIndex: [0, 1], maxNewTokens: LENGTH, seed: 3, temperature: 0.5, constrain: imageTokenConstraint(vocabulary) });
    const isUp = (r: Int32Array): boolean => r.every((v, t) => t === 0 || v === (r[t - 1]! + 1) % K);
    expect(isUp(sampled[0]!)).toBe(true);
    expect(isUp(sampled[1]!)).toBe(false);

    // Save → load gives identical logits and metadata.
    const dir = path.join(tmp, 'model');
    prior.save(dir);
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ model_type: 'gpt2', n_embd: 32, n_layer: 2, n_head: 2, n_positions: LENGTH, vocab_size: vocabulary.vocabSize });
    const loaded = PriorModel.load(dir);
    expect(loaded.metadata.classNames).toEqual(['up', 'down']);
    const input = patternSequences(2)[1]!.subarray(0, LENGTH);
    const [a, b] = tf.tidy(() => [prior, loaded].map((m) => m.gpt.forward(tf.tensor2d(input, [1, LENGTH], 'int32')).dataSync()));
    expect(Array.from(b!)).toEqual(Array.from(a!));
    loaded.dispose();
    prior.dispose();
  });

  it('checkpoints, resumes the step count, and a resumed run equals an uninterrupted one', async () => {
    const common = {
      // Dropout on: the resumed run must also reproduce the dropout masks.
      model: { ...modelOptions, dropout: 0.1 },
      train: patternSequences(32),
      validationFraction: 0,
      batchSize: 4,
      learningRate: 5e-3,
      warmupSteps: 2,
    } as const;
    const straight = await trainPrior({ ...common, steps: 8 });
    const ckpt = path.join(tmp, 'run.ckpt.safetensors');
    const controller = new AbortController();
    const first = await trainPrior({
      ...common,
      steps: 8,
      checkpointPath: ckpt,
      checkpointEvery: 100,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.step === 5) controller.abort();
      },
      logEvery: 1,
    });
    expect(first.aborted).toBe(true);
    expect(first.steps).toBe(5);
    first.model.dispose();
    const steps: number[] = [];
    const reportPath = path.join(tmp, 'report.json');
    const resumed = await trainPrior({ ...common, steps: 8, checkpointPath: ckpt, logEvery: 1, onProgress: (p) => steps.push(p.step), reportPath });
    expect(resumed.resumedFromStep).toBe(5);
    expect(JSON.parse(fs.readFileSync(reportPath, 'utf8'))).toMatchObject({ steps: 8, resumedFromStep: 5, aborted: false, config: { model_type: 'gpt2' } });
    expect(resumed.steps).toBe(8);
    expect(steps).toEqual([6, 7, 8]);
    const weights = (m: PriorModel): number[] => m.gpt.namedVariables().flatMap(([, v]) => Array.from(v.dataSync()));
    const ws = weights(straight.model);
    const wr = weights(resumed.model);
    let maxDiff = 0;
    for (let i = 0; i < ws.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ws[i]! - wr[i]!));
    expect(maxDiff).toBeLessThan(1e-6);
    straight.model.dispose();
    resumed.model.dispose();

    // A checkpoint of another configuration is refused with an actionable message.
    await expect(trainPrior({ ...common, model: { ...modelOptions, dropout: 0.1, nEmbd: 16 }, steps: 9, checkpointPath: ckpt })).rejects.toThrow(
      /different model configuration/,
    );
    // So is a checkpoint trained on another tokenizer's codes.
    const other = path.join(tmp, 'tokenizer-a.ckpt.safetensors');
    (await trainPrior({ ...common, metadata: { tokenizer: 'tokenizer-a' }, steps: 1, checkpointPath: other })).model.dispose();
    await expect(trainPrior({ ...common, metadata: { tokenizer: 'tokenizer-b' }, steps: 2, checkpointPath: other })).rejects.toThrow(/codes of tokenizer tokenizer-a/);
  });

  it('leaks no tensors across training steps', async () => {
    const run = async (steps: number): Promise<number> => {
      const report = await trainPrior({ model: modelOptions, train: patternSequences(8), steps, batchSize: 2, validationFraction: 0.25 });
      const after = tf.memory().numTensors;
      report.model.dispose();
      return after;
    };
    const before = tf.memory().numTensors;
    const few = await run(2);
    const many = await run(6);
    // The live tensors after training are the model's variables only, however many steps ran.
    expect(many).toBe(few);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('validates its inputs', async () => {
    await expect(trainPrior({ model: modelOptions, train: [Int32Array.from([vocabulary.bosId, 99])], steps: 1 })).rejects.toThrow(/outside the vocabulary/);
    await expect(trainPrior({ model: modelOptions, train: patternSequences(4), steps: 0 })).rejects.toThrow(/steps/);
  });
});
