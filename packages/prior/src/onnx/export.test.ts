import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { AutoModelForCausalLM, env, Tensor } from '@huggingface/transformers';
import { initEngine, loadModule } from '@vqkit/core';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPT, type GPTOptions } from '../gpt/model.js';
import { generate } from '../sampling.js';
import { createVocabulary } from '../vocabulary.js';
import { exportPriorToOnnx, PRIOR_ONNX_MODEL_FILE } from './export.js';

const vocabulary = createVocabulary({ codebookSize: 13, numClasses: 2 });
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-prior-onnx-'));

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
  // Everything is local: transformers.js must never reach for the Hub.
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = root;
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** A tiny GPT whose every weight (biases and LayerNorm affine too) is random, so a mis-wired tensor shows. */
function tinyModel(extra: Partial<GPTOptions> = {}): GPT {
  const gpt = new GPT({ vocabulary, nPositions: 24, nEmbd: 16, nLayer: 2, nHead: 4, seed: 5, initializerRange: 0.4, ...extra });
  gpt.namedVariables().forEach(([name, v], i) => {
    tf.tidy(() => {
      const noise = tf.randomNormal(v.shape, 0, 0.3, 'float32', 100 + i);
      v.assign(name.includes('.ln_') && name.endsWith('.weight') ? tf.add(noise, 1) : name.endsWith('.bias') ? noise : tf.add(v, noise));
    });
  });
  return gpt;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const rowCol = { kind: 'row-col' as const, rows: 4, cols: 5, prefixLength: 1 };

describe('prior ONNX export', () => {
  for (const [label, extra] of [
    ['learned positions', {}],
    ['row/column positions folded into wpe', { positionEmbedding: rowCol }],
  ] as const) {
    it(`${label}: ONNX Runtime logits match TF.js, whole sequence and with the key/value cache`, async () => {
      const gpt = tinyModel(extra);
      const dir = path.join(root, `ort-${label.split(' ')[0]}`);
      exportPriorToOnnx(gpt, dir);
      const session = await ort.InferenceSession.create(path.join(dir, PRIOR_ONNX_MODEL_FILE));
      const { nLayer, nHead, nEmbd, vocabSize: V } = gpt.config;
      const hd = nEmbd / nHead;
      const B = 2;
      const T = 9;
      const tokens = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % V);
      const expected = tf.tidy(() => gpt.forward(tf.tensor2d(tokens, [B, T], 'int32')).dataSync());

      const int64 = (values: ArrayLike<number>, dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(Array.from(values), (v) => BigInt(v)), dims);
      const emptyPast = () => new ort.Tensor('float32', new Float32Array(0), [B, nHead, 0, hd]);
      const feeds = (ids: Int32Array, t: number, past: number, pasts: Record<string, ort.Tensor>): Record<string, ort.Tensor> => ({
        input_ids: int64(ids, [B, t]),
        attention_mask: int64(new Array(B * (past + t)).fill(1), [B, past + t]),
        position_ids: int64(Array.from({ length: B * t }, (_, i) => past + (i % t)), [B, t]),
        ...pasts,
      });
      const empty: Record<string, ort.Tensor> = {};
      for (let i = 0; i < nLayer; i++) {
        empty[`past_key_values.${i}.key`] = emptyPast();
        empty[`past_key_values.${i}.value`] = emptyPast();
      }
      const whole = await session.run(feeds(tokens, T, 0, empty));
      expect(whole.logits!.dims).toEqual([B, T, V]);
      expect(maxAbsDiff(whole.logits!.data as Float32Array, expected)).toBeLessThan(1e-4);

      // Prefill 5 tokens, then feed the remaining 4 one at a time through present → past.
      const column = (from: number, to: number) => Int32Array.from({ length: B * (to - from) }, (_, i) => tokens[Math.floor(i / (to - from)) * T + from + (i % (to - from))]!);
      let out = await session.run(feeds(column(0, 5), 5, 0, empty));
      const stepLogits: number[][] = [[], []];
      for (let t = 5; t < T; t++) {
        const pasts: Record<string, ort.Tensor> = {};
        for (let i = 0; i < nLayer; i++) {
          pasts[`past_key_values.${i}.key`] = out[`present.${i}.key`]!;
          pasts[`past_key_values.${i}.value`] = out[`present.${i}.value`]!;
        }
        expect(out[`present.0.key`]!.dims).toEqual([B, nHead, t, hd]);
        out = await session.run(feeds(column(t, t + 1), 1, t, pasts));
        const data = out.logits!.data as Float32Array;
        for (let b = 0; b < B; b++) stepLogits[b]!.push(...data.subarray(b * V, (b + 1) * V));
      }
      for (let b = 0; b < B; b++) {
        const ref = expected.subarray((b * T + 5) * V, (b * T + T) * V);
        expect(maxAbsDiff(stepLogits[b]!, ref)).toBeLessThan(1e-4);
      }
      await session.release();
      gpt.dispose();
    });
  }

  it('transformers.js loads the export from a local path and its greedy generate() equals the TF.js prior', async () => {
    const gpt = tinyModel({ positionEmbedding: rowCol });
    const name = 'greedy';
    exportPriorToOnnx(gpt, path.join(root, name));
    const config = JSON.parse(fs.readFileSync(path.join(root, name, 'config.json'), 'utf8'));
    expect(config.model_type).toBe('gpt2');
    // The weights file is a plain GPT-2 state dict: a GPT-2-layout TF.js model loads it and decodes the same.
    const plain = new GPT({ vocabulary, nPositions: 24, nEmbd: 16, nLayer: 2, nHead: 4 });
    loadModule(plain, path.join(root, name, 'model.safetensors'));
    const model = await AutoModelForCausalLM.from_pretrained(name, { local_files_only: true, dtype: 'fp32' });
    const prompts = [[vocabulary.bosId], [vocabulary.firstClassId], [vocabulary.firstClassId + 1, 4, 9], [vocabulary.bosId, 0, 12, 7, 7]];
    const maxNewTokens = 12;
    for (const prompt of prompts) {
      const [reference] = generate(gpt, { prompt, maxNewTokens, temperature: 0 });
      expect(Array.from(generate(plain, { prompt, maxNewTokens, temperature: 0 })[0]!)).toEqual(Array.from(reference!));
      const inputIds = new Tensor('int64', BigInt64Array.from(prompt, (v) => BigInt(v)), [1, prompt.length]);
      const output = (await model.generate({ inputs: inputIds, max_new_tokens: maxNewTokens, do_sample: false })) as Tensor;
      const generated = Array.from(output.data as BigInt64Array, Number).slice(prompt.length);
      expect(generated).toEqual(Array.from(reference!));
    }
    await model.dispose();
    gpt.dispose();
    plain.dispose();
  });
});
