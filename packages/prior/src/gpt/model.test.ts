import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { createVocabulary } from '../vocabulary.js';
import { GPT, type KVCache } from './model.js';
import { geluNew } from './ops.js';

const vocabulary = createVocabulary({ codebookSize: 13, numClasses: 2 });

function tinyModel(extra: Partial<ConstructorParameters<typeof GPT>[0]> = {}): GPT {
  return new GPT({ vocabulary, nPositions: 16, nEmbd: 16, nLayer: 2, nHead: 4, seed: 3, initializerRange: 0.3, ...extra });
}

function randomTokens(B: number, T: number, seed: number): Int32Array {
  const out = new Int32Array(B * T);
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = s % vocabulary.vocabSize;
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('GPT', () => {
  it('uses the GPT-2 state-dict names and Conv1D [in, out] shapes', () => {
    const model = tinyModel({ nLayer: 1 });
    const shapes = Object.fromEntries(model.namedVariables().map(([n, v]) => [n, v.shape]));
    expect(shapes).toEqual({
      'transformer.wte.weight': [vocabulary.vocabSize, 16],
      'transformer.wpe.weight': [16, 16],
      'transformer.h.0.ln_1.weight': [16],
      'transformer.h.0.ln_1.bias': [16],
      'transformer.h.0.attn.c_attn.weight': [16, 48],
      'transformer.h.0.attn.c_attn.bias': [48],
      'transformer.h.0.attn.c_proj.weight': [16, 16],
      'transformer.h.0.attn.c_proj.bias': [16],
      'transformer.h.0.ln_2.weight': [16],
      'transformer.h.0.ln_2.bias': [16],
      'transformer.h.0.mlp.c_fc.weight': [16, 64],
      'transformer.h.0.mlp.c_fc.bias': [64],
      'transformer.h.0.mlp.c_proj.weight': [64, 16],
      'transformer.h.0.mlp.c_proj.bias': [16],
      'transformer.ln_f.weight': [16],
      'transformer.ln_f.bias': [16],
    });
    model.dispose();
  });

  it('gelu_new matches the tanh formula', () => {
    const xs = [-3, -1, -0.5, 0, 0.5, 1, 3];
    const got = tf.tidy(() => geluNew(tf.tensor1d(xs)).arraySync() as number[]);
    xs.forEach((x, i) => {
      const ref = 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
      expect(got[i]).toBeCloseTo(ref, 6);
    });
  });

  it('matches an independent scalar reference implementation of GPT-2', () => {
    const model = tinyModel({ nLayer: 1, nHead: 2 });
    const T = 5;
    const tokens = randomTokens(1, T, 11);
    const logits = tf.tidy(() => model.forward(tf.tensor2d(tokens, [1, T], 'int32')).dataSync());
    const W = new Map(model.namedVariables().map(([n, v]) => [n, { data: v.dataSync(), shape: v.shape }]));
    const w = (n: string): Float32Array => W.get(`transformer.${n}`)!.data as Float32Array;
    const C = 16;
    const H = 2;
    const hd = C / H;
    const ln = (x: number[], g: Float32Array, b: Float32Array): number[] => {
      const mean = x.reduce((a, c) => a + c, 0) / x.length;
      const vr = x.reduce((a, c) => a + (c - mean) ** 2, 0) / x.length;
      return x.map((v, i) => ((v - mean) / Math.sqrt(vr + 1e-5)) * g[i]! + b[i]!);
    };
    const conv1d = (x: number[], wt: Float32Array, b: Float32Array, nOut: number): number[] =>
      Array.from({ length: nOut }, (_, o) => x.reduce((a, xi, i) => a + xi * wt[i * nOut + o]!, b[o]!));
    const gelu = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    let xs = Array.from({ length: T }, (_, t) => Array.from({ length: C }, (_, c) => w('wte.weight')[tokens[t]! * C + c]! + w('wpe.weight')[t * C + c]!));
    const qkv = xs.map((x) => conv1d(ln(x, w('h.0.ln_1.weight'), w('h.0.ln_1.bias')), w('h.0.attn.c_attn.weight'), w('h.0.attn.c_attn.bias'), 3 * C));
    const attnOut = xs.map((_, t) => {
      const merged: number[] = [];
      for (let h = 0; h < H; h++) {
        const q = qkv[t]!.slice(h * hd, (h + 1) * hd);
        const scores = Array.from({ length: t + 1 }, (_, s) => q.reduce((a, qi, i) => a + qi * qkv[s]![C + h * hd + i]!, 0) / Math.sqrt(hd));
        const mx = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - mx));
        const z = e.reduce((a, c) => a + c, 0);
        for (let i = 0; i < hd; i++) merged.push(e.reduce((a, p, s) => a + (p / z) * qkv[s]![2 * C + h * hd + i]!, 0));
      }
      return conv1d(merged, w('h.0.attn.c_proj.weight'), w('h.0.attn.c_proj.bias'), C);
    });
    xs = xs.map((x, t) => x.map((v, c) => v + attnOut[t]![c]!));
    xs = xs.map((x) => {
      const hidden = conv1d(ln(x, w('h.0.ln_2.weight'), w('h.0.ln_2.bias')), w('h.0.mlp.c_fc.weight'), w('h.0.mlp.c_fc.bias'), 4 * C).map(gelu);
      const m = conv1d(hidden, w('h.0.mlp.c_proj.weight'), w('h.0.mlp.c_proj.bias'), C);
      return x.map((v, c) => v + m[c]!);
    });
    const V = vocabulary.vocabSize;
    const ref: number[] = [];
    for (const x of xs) {
      const hN = ln(x, w('ln_f.weight'), w('ln_f.bias'));
      for (let v = 0; v < V; v++) ref.push(hN.reduce((a, hi, c) => a + hi * w('wte.weight')[v * C + c]!, 0));
    }
    expect(maxAbsDiff(logits, ref)).toBeLessThan(1e-4);
    model.dispose();
  });

  for (const positionEmbedding of ['learned', { kind: 'row-col', rows: 3, cols: 4 }] as const) {
    const label = typeof positionEmbedding === 'string' ? positionEmbedding : 'row-col';
    it(`KV-cache decoding equals the full forward at every position (${label})`, () => {
      const model = tinyModel({ positionEmbedding });
      const B = 3;
      const T = 13;
      const tokens = randomTokens(B, T, 5);
      const before = tf.memory().numTensors;
      const full = tf.tidy(() => model.forward(tf.tensor2d(tokens, [B, T], 'int32')).dataSync());
      const V = vocabulary.vocabSize;
      // Prefill 4 tokens at once, then one token per step.
      const prefill = 4;
      const prefillTokens = new Int32Array(B * prefill);
      for (let b = 0; b < B; b++) prefillTokens.set(tokens.subarray(b * T, b * T + prefill), b * prefill);
      const prefillInput = tf.tensor2d(prefillTokens, [B, prefill], 'int32');
      const pre = model.forwardCached(prefillInput);
      prefillInput.dispose();
      let cache: KVCache = pre.cache;
      const preLogits = pre.logits.dataSync();
      pre.logits.dispose();
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < prefill; t++) {
          const got = preLogits.subarray((b * prefill + t) * V, (b * prefill + t + 1) * V);
          expect(maxAbsDiff(got, full.subarray((b * T + t) * V, (b * T + t + 1) * V))).toBeLessThan(1e-4);
        }
      }
      for (let t = prefill; t < T; t++) {
        const col = new Int32Array(B);
        for (let b = 0; b < B; b++) col[b] = tokens[b * T + t]!;
        const input = tf.tensor2d(col, [B, 1], 'int32');
        const out = model.step(input, cache);
        input.dispose();
        cache.dispose();
        cache = out.cache;
        expect(cache.length).toBe(t + 1);
        const got = out.logits.dataSync();
        out.logits.dispose();
        for (let b = 0; b < B; b++) {
          expect(maxAbsDiff(got.subarray(b * V, (b + 1) * V), full.subarray((b * T + t) * V, (b * T + t + 1) * V))).toBeLessThan(1e-4);
        }
      }
      cache.dispose();
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    });
  }

  it('is causal: changing a future token leaves earlier logits unchanged', () => {
    const model = tinyModel();
    const T = 10;
    const a = randomTokens(1, T, 1);
    const b = a.slice();
    b[6] = (b[6]! + 1) % vocabulary.vocabSize;
    const [la, lb] = tf.tidy(() => [a, b].map((x) => model.forward(tf.tensor2d(x, [1, T], 'int32')).dataSync()));
    const V = vocabulary.vocabSize;
    expect(maxAbsDiff(la!.subarray(0, 6 * V), lb!.subarray(0, 6 * V))).toBe(0);
    expect(maxAbsDiff(la!.subarray(6 * V), lb!.subarray(6 * V))).toBeGreaterThan(1e-3);
    model.dispose();
  });

  // B·T = 12 ≤ nEmbd takes the fused-matmul attention path, 20 > nEmbd the per-head broadcast path.
  for (const T of [6, 10]) it(`weight gradients match finite differences (attention, MLP, LayerNorm, tied embedding; T=${T})`, () => {
    const model = tinyModel({ nLayer: 1 });
    const tokens = randomTokens(2, T, 21);
    const named = new Map(model.namedVariables());
    const probe = tf.randomNormal([2, T, vocabulary.vocabSize], 0, 1, 'float32', 5);
    const input = tf.tensor2d(tokens, [2, T], 'int32');
    const objective = (): tf.Scalar => tf.sum(tf.mul(model.forward(input), probe)) as tf.Scalar;
    const checks: [string, number][] = [
      ['transformer.h.0.attn.c_attn.weight', 5],
      ['transformer.h.0.attn.c_attn.weight', 40],
      ['transformer.h.0.attn.c_attn.bias', 17],
      ['transformer.h.0.attn.c_proj.weight', 37],
      ['transformer.h.0.attn.c_proj.bias', 3],
      ['transformer.h.0.mlp.c_fc.weight', 100],
      ['transformer.h.0.ln_1.weight', 2],
      ['transformer.wte.weight', 7],
      ['transformer.wpe.weight', 20],
    ];
    const vars = checks.map(([n]) => named.get(n)!);
    const analytic = tf.tidy(() => {
      const { grads } = tf.variableGrads(objective, [...new Set(vars)]);
      return checks.map(([n, i]) => grads[named.get(n)!.name]!.dataSync()[i]!);
    });
    const eps = 1e-2;
    checks.forEach(([n, i], c) => {
      const variable = named.get(n)!;
      const values = variable.dataSync().slice();
      const at = (delta: number): number => {
        const copy = values.slice();
        copy[i] = values[i]! + delta;
        tf.tidy(() => variable.assign(tf.tensor(copy, variable.shape)));
        return tf.tidy(() => objective().dataSync()[0]!);
      };
      const numeric = (at(eps) - at(-eps)) / (2 * eps);
      tf.tidy(() => variable.assign(tf.tensor(values, variable.shape)));
      expect(Math.abs(numeric - analytic[c]!)).toBeLessThan(2e-2 * Math.max(1, Math.abs(numeric)));
    });
    tf.dispose([probe, input]);
    model.dispose();
  });

  it('embedding gradients (JS scatter-add) equal tf.gather gradients, including the row/column tables', () => {
    const model = tinyModel({ positionEmbedding: { kind: 'row-col', rows: 3, cols: 4 } });
    const T = 13;
    const tokens = randomTokens(2, T, 8);
    const names = ['transformer.wte.weight', 'transformer.wpe.weight', 'transformer.wpe_row.weight', 'transformer.wpe_col.weight'];
    const tables = names.map((n) => model.namedVariables().find(([m]) => m === n)![1]);
    // Prefix position 0 uses the extra last row/column entry; grid positions p ≥ 1 are (p-1) / 4, (p-1) % 4.
    const rows = Array.from({ length: T }, (_, p) => (p === 0 ? 3 : Math.floor((p - 1) / 4)));
    const cols = Array.from({ length: T }, (_, p) => (p === 0 ? 4 : (p - 1) % 4));
    const [custom, reference] = tf.tidy(() => {
      const input = tf.tensor2d(tokens, [2, T], 'int32');
      const probe = tf.randomNormal([2, T, 16], 0, 1, 'float32', 3);
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(model.embed(input), probe)) as tf.Scalar, tables);
      const gather = (wte: tf.Tensor, wpe: tf.Tensor, wr: tf.Tensor, wc: tf.Tensor): tf.Tensor =>
        tf.add(
          tf.gather(wte, input),
          tf.add(tf.gather(wpe, tf.range(0, T, 1, 'int32')), tf.add(tf.gather(wr, tf.tensor1d(rows, 'int32')), tf.gather(wc, tf.tensor1d(cols, 'int32')))),
        );
      const ref = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(gather(a, b, c, d), probe)))(tables);
      // Forward values agree too.
      expect(maxAbsDiff(model.embed(input).dataSync(), gather(tables[0]!, tables[1]!, tables[2]!, tables[3]!).dataSync())).toBeLessThan(1e-6);
      return [tables.map((v) => grads[v.name]!.dataSync()), ref.map((g) => g.dataSync())];
    });
    custom.forEach((g, i) => expect(maxAbsDiff(g, reference[i]!)).toBeLessThan(1e-5));
    model.dispose();
  });

  it('rejects inputs beyond the context and mismatched caches', () => {
    const model = tinyModel();
    const long = tf.zeros([1, 17], 'int32') as tf.Tensor2D;
    expect(() => model.forward(long)).toThrow(/exceed the context of 16/);
    const floats = tf.zeros([1, 2]) as tf.Tensor2D;
    expect(() => model.forward(floats)).toThrow(/int32/);
    tf.dispose([long, floats]);
    expect(() => tinyModel({ nHead: 3 })).toThrow(/must divide nEmbd/);
    model.dispose();
  });
});
