// Sampling speed of a prior through its ONNX export (the Hugging Face GPT-2
// directory with past key/values that `vqkit export onnx --prior` writes):
//  - ONNX Runtime directly: one session run per new token, present.* fed back
//    as past_key_values, sampling from the code range in JavaScript (what the
//    TF.js KV-cache path does);
//  - transformers.js: `generate()` of AutoModelForCausalLM loaded from the
//    local directory (its own sampling and cache handling).
// Both start from a class token and generate `tokens` new tokens per row.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PRIOR_ONNX_MODEL_FILE, exportPriorToOnnx } from '../../packages/prior/dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const requirePrior = createRequire(path.join(here, '../../packages/prior/package.json'));

/** Session options for a small decoder on a shared CPU. */
export const sessionOptions = (threads, spinning = false) => ({
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  // Idle intra-op threads sleep instead of spinning: on a shared CPU spinning steals the cores the other threads need.
  extra: { session: { intra_op: { allow_spinning: spinning ? '1' : '0' } } },
});

/** The prompt of row b: a class token (cycling through the classes), or BOS for an unconditional prior. */
const promptToken = (vocab, b) => (vocab.numClasses > 0 ? vocab.firstClassId + (b % vocab.numClasses) : vocab.bosId);

/** mulberry32: a small seeded PRNG. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Samples from softmax(row[0..n)). */
function sampleRow(row, n, random) {
  let max = -Infinity;
  for (let k = 0; k < n; k++) if (row[k] > max) max = row[k];
  let sum = 0;
  const p = new Float64Array(n);
  for (let k = 0; k < n; k++) sum += p[k] = Math.exp(row[k] - max);
  let u = random() * sum;
  for (let k = 0; k < n; k++) if ((u -= p[k]) <= 0) return k;
  return n - 1;
}

/** Tokens/s of ONNX Runtime decoding with past key/values (best of `reps`). */
async function ortSpeed(ort, session, gpt, vocab, batch, tokens, reps) {
  const { nLayer, nHead, nEmbd } = gpt.config;
  const hd = nEmbd / nHead;
  const V = vocab.vocabSize;
  const int64 = (values, dims) => new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
  let best = 0;
  for (let r = 0; r < reps; r++) {
    const random = rng(1000 + r);
    const t0 = performance.now();
    let ids = Array.from({ length: batch }, (_, b) => promptToken(vocab, b));
    let pasts = {};
    for (let i = 0; i < nLayer; i++) {
      pasts[`past_key_values.${i}.key`] = new ort.Tensor('float32', new Float32Array(0), [batch, nHead, 0, hd]);
      pasts[`past_key_values.${i}.value`] = new ort.Tensor('float32', new Float32Array(0), [batch, nHead, 0, hd]);
    }
    for (let t = 0; t < tokens; t++) {
      const out = await session.run({
        input_ids: int64(ids, [batch, 1]),
        attention_mask: int64(new Array(batch * (t + 1)).fill(1), [batch, t + 1]),
        position_ids: int64(new Array(batch).fill(t), [batch, 1]),
        ...pasts,
      });
      const logits = out.logits.data;
      ids = Array.from({ length: batch }, (_, b) => sampleRow(logits.subarray(b * V, (b + 1) * V), vocab.codebookSize, random));
      pasts = {};
      for (let i = 0; i < nLayer; i++) {
        pasts[`past_key_values.${i}.key`] = out[`present.${i}.key`];
        pasts[`past_key_values.${i}.value`] = out[`present.${i}.value`];
      }
    }
    best = Math.max(best, (batch * tokens) / ((performance.now() - t0) / 1000));
  }
  return best;
}

/** Tokens/s of transformers.js `generate()` (sampling, best of `reps`). */
async function transformersSpeed(hf, model, vocab, batch, tokens, reps) {
  let best = 0;
  for (let r = 0; r < reps; r++) {
    const ids = BigInt64Array.from({ length: batch }, (_, b) => BigInt(promptToken(vocab, b)));
    const t0 = performance.now();
    const output = await model.generate({
      inputs: new hf.Tensor('int64', ids, [batch, 1]),
      attention_mask: new hf.Tensor('int64', new BigInt64Array(batch).fill(1n), [batch, 1]),
      max_new_tokens: tokens,
      min_new_tokens: tokens,
      do_sample: true,
      top_k: 0,
    });
    const seconds = (performance.now() - t0) / 1000;
    if (output.dims[1] !== tokens + 1) throw new Error(`transformers.js generated ${output.dims[1] - 1} tokens, expected ${tokens}`);
    best = Math.max(best, (batch * tokens) / seconds);
  }
  return best;
}

/**
 * Exports `gpt` to a temporary Hugging Face directory and measures sampling
 * speed through it for each batch size: `{ exportSeconds, onnxBytes,
 * onnxRuntime: { [batch]: tokens/s }, transformersJs: { [batch]: tokens/s } }`.
 */
export async function onnxSamplingSpeed(gpt, vocab, { tokens, batches = [1, 16], reps = 3, threads = 2, metadata = {} } = {}) {
  const ort = requirePrior('onnxruntime-node');
  const hf = await import(pathToFileURL(requirePrior.resolve('@huggingface/transformers')).href);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-bench-prior-onnx-'));
  const name = 'prior';
  try {
    let t0 = performance.now();
    exportPriorToOnnx(gpt, path.join(root, name), metadata);
    const exportSeconds = (performance.now() - t0) / 1000;
    const modelFile = path.join(root, name, PRIOR_ONNX_MODEL_FILE);
    const result = { exportSeconds, onnxBytes: fs.statSync(modelFile).size, threads, onnxRuntime: {}, transformersJs: {} };

    const session = await ort.InferenceSession.create(modelFile, sessionOptions(threads));
    for (const batch of batches) result.onnxRuntime[batch] = await ortSpeed(ort, session, gpt, vocab, batch, tokens, reps);
    await session.release();

    // Everything is local: transformers.js must never reach for the Hub.
    hf.env.allowRemoteModels = false;
    hf.env.allowLocalModels = true;
    hf.env.localModelPath = root;
    const model = await hf.AutoModelForCausalLM.from_pretrained(name, { local_files_only: true, dtype: 'fp32', session_options: sessionOptions(threads) });
    for (const batch of batches) result.transformersJs[batch] = await transformersSpeed(hf, model, vocab, batch, tokens, reps);
    await model.dispose();
    return result;
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
