/**
 * Export of a prior (GPT) to a Hugging Face–style directory that
 * transformers.js (`@huggingface/transformers`) loads and runs with
 * `generate()`, and that any ONNX Runtime can run with a key/value cache:
 *
 *   config.json              a standard GPT-2 config (model_type 'gpt2')
 *   generation_config.json   bos id, no EOS (code sequences have a known length)
 *   onnx/model.onnx          the decoder with past key/values
 *   model.safetensors        the same weights under GPT-2's state-dict names
 *                            (row/column tables folded into wpe), so the
 *                            directory is also a plain GPT-2 checkpoint
 *
 * Graph inputs (transformers.js / Optimum naming):
 *   input_ids                        int64 [batch_size, sequence_length]
 *   attention_mask                   int64 [batch_size, total_sequence_length]   (1 = attend)
 *   position_ids                     int64 [batch_size, sequence_length]
 *   past_key_values.{i}.key|value    float32 [batch_size, n_head, past_sequence_length, head_dim]
 * Outputs:
 *   logits                           float32 [batch_size, sequence_length, vocab_size]
 *   present.{i}.key|value            float32 [batch_size, n_head, total_sequence_length, head_dim]
 *
 * The first call passes empty pasts (past_sequence_length 0). Opset 17
 * (LayerNormalization). Row/column position embeddings, which GPT-2 lacks,
 * depend only on the absolute position, so they are folded exactly into
 * `wpe`: wpe'[p] = wpe[p] + (wpe_row[row(p)] + wpe_col[col(p)]), summed in
 * the order the TF.js model sums them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_OPSET, encodeSafetensors, InvalidArgumentError, moduleTensors, OnnxGraphBuilder, onnxFloat, writeFileAtomic } from '@vqkit/core';
import type { GPT } from '../gpt/model.js';
import type { PriorMetadata } from '../prior-model.js';

export const PRIOR_ONNX_MODEL_FILE = path.join('onnx', 'model.onnx');

/** Values of the GPT's variables by name. */
function weightsOf(gpt: GPT): Map<string, { data: Float32Array; shape: number[] }> {
  const out = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const [name, v] of gpt.namedVariables()) out.set(name, { data: Float32Array.from(v.dataSync() as Float32Array), shape: [...v.shape] });
  return out;
}

/** wpe with the row/column tables folded in (see the module comment); plain wpe for learned positions. */
export function foldedPositionTable(gpt: GPT): Float32Array {
  const w = weightsOf(gpt);
  const { nPositions, nEmbd: C, positionEmbedding: pe } = gpt.config;
  const wpe = Float32Array.from(w.get('transformer.wpe.weight')!.data);
  if (pe === 'learned') return wpe;
  const rowTable = w.get('transformer.wpe_row.weight')!.data;
  const colTable = w.get('transformer.wpe_col.weight')!.data;
  const prefix = pe.prefixLength ?? 1;
  for (let p = 0; p < nPositions; p++) {
    const q = p - prefix;
    const inGrid = q >= 0 && q < pe.rows * pe.cols;
    const row = inGrid ? Math.floor(q / pe.cols) : pe.rows;
    const col = inGrid ? q % pe.cols : pe.cols;
    for (let c = 0; c < C; c++) wpe[p * C + c] = Math.fround(wpe[p * C + c]! + Math.fround(rowTable[row * C + c]! + colTable[col * C + c]!));
  }
  return wpe;
}

/** Builds the decoder graph (see the module comment for its inputs and outputs). */
export function buildPriorOnnxGraph(gpt: GPT): OnnxGraphBuilder {
  const { nLayer, nHead: H, nEmbd: C, vocabSize: V, layerNormEps } = gpt.config;
  const hd = C / H;
  const w = weightsOf(gpt);
  const g = new OnnxGraphBuilder('vqkit_prior_gpt2');
  const init = (name: string): string => {
    const t = w.get(name);
    if (!t) throw new InvalidArgumentError(`prior ONNX export: the model has no weight '${name}'`);
    return g.initializer(name, t.data, t.shape);
  };

  const inputIds = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', 'int64', ['batch_size', 'total_sequence_length']);
  const positionIds = g.input('position_ids', 'int64', ['batch_size', 'sequence_length']);
  const pasts: [string, string][] = [];
  for (let i = 0; i < nLayer; i++) {
    pasts.push([
      g.input(`past_key_values.${i}.key`, 'float32', ['batch_size', H, 'past_sequence_length', hd]),
      g.input(`past_key_values.${i}.value`, 'float32', ['batch_size', H, 'past_sequence_length', hd]),
    ]);
  }

  const wte = init('transformer.wte.weight');
  const wpe = g.initializer('transformer.wpe.weight', foldedPositionTable(gpt), [gpt.config.nPositions, C]);
  let x = g.node('Add', [g.node('Gather', [wte, inputIds], { axis: 0 }), g.node('Gather', [wpe, positionIds], { axis: 0 })]);

  // Additive attention bias [B, 1, T, S]: 0 where key j is visible from query i
  // (j ≤ past + i and attention_mask[j] = 1), −1e9 elsewhere (the TF.js model's value).
  const zero = g.constant(BigInt64Array.of(0n), []);
  const one = g.constant(BigInt64Array.of(1n), []);
  const S = g.node('Gather', [g.node('Shape', [attentionMask]), g.constant(BigInt64Array.of(1n), [])], { axis: 0 });
  const T = g.node('Gather', [g.node('Shape', [inputIds]), g.constant(BigInt64Array.of(1n), [])], { axis: 0 });
  const past = g.node('Sub', [S, T]);
  const queryPos = g.node('Unsqueeze', [g.node('Range', [past, S, one]), g.int64s([1])]); // [T, 1]
  const keyPos = g.node('Unsqueeze', [g.node('Range', [zero, S, one]), g.int64s([0])]); // [1, S]
  const causal = g.node('LessOrEqual', [keyPos, queryPos]); // [T, S]
  const padding = g.node('Unsqueeze', [g.node('Cast', [attentionMask], { to: 9 /* BOOL */ }), g.int64s([1, 2])]); // [B, 1, 1, S]
  const visible = g.node('And', [causal, padding]); // [B, 1, T, S]
  const bias = g.node('Where', [visible, g.scalar(0), g.scalar(-1e9)]);

  const layerNorm = (input: string, name: string): string =>
    g.node('LayerNormalization', [input, init(`${name}.weight`), init(`${name}.bias`)], { axis: -1, epsilon: onnxFloat(layerNormEps) });
  const linear = (input: string, name: string): string => g.node('Add', [g.node('MatMul', [input, init(`${name}.weight`)]), init(`${name}.bias`)]);
  const headSplit = g.int64s([0, 0, H, hd]);
  const toHeads = (t: string): string => g.node('Transpose', [g.node('Reshape', [t, headSplit])], { perm: [0, 2, 1, 3] });
  const scale = g.scalar(1 / Math.sqrt(hd));
  const GELU_C = Math.sqrt(2 / Math.PI);

  const presents: string[] = [];
  for (let i = 0; i < nLayer; i++) {
    const p = `transformer.h.${i}`;
    const qkv = linear(layerNorm(x, `${p}.ln_1`), `${p}.attn.c_attn`);
    const [q, k0, v0] = g.nodeMulti('Split', [qkv, g.int64s([C, C, C])], [g.uniqueName('q'), g.uniqueName('k'), g.uniqueName('v')], { axis: 2 });
    const k = g.node('Concat', [pasts[i]![0], toHeads(k0!)], { axis: 2 }, `present.${i}.key`);
    const v = g.node('Concat', [pasts[i]![1], toHeads(v0!)], { axis: 2 }, `present.${i}.value`);
    presents.push(k, v);
    const scores = g.node('Add', [g.node('Mul', [g.node('MatMul', [toHeads(q!), g.node('Transpose', [k], { perm: [0, 1, 3, 2] })]), scale]), bias]);
    const attended = g.node('MatMul', [g.node('Softmax', [scores], { axis: -1 }), v]); // [B, H, T, hd]
    const merged = g.node('Reshape', [g.node('Transpose', [attended], { perm: [0, 2, 1, 3] }), g.int64s([0, 0, C])]);
    x = g.node('Add', [x, linear(merged, `${p}.attn.c_proj`)]);
    // gelu_new: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
    const hidden = linear(layerNorm(x, `${p}.ln_2`), `${p}.mlp.c_fc`);
    const cube = g.node('Mul', [g.node('Mul', [hidden, hidden]), hidden]);
    const inner = g.node('Mul', [g.node('Add', [hidden, g.node('Mul', [cube, g.scalar(0.044715)])]), g.scalar(GELU_C)]);
    const gelu = g.node('Mul', [g.node('Mul', [hidden, g.scalar(0.5)]), g.node('Add', [g.node('Tanh', [inner]), g.scalar(1)])]);
    x = g.node('Add', [x, linear(gelu, `${p}.mlp.c_proj`)]);
  }
  const h = layerNorm(x, 'transformer.ln_f');
  // LM head tied to wte: logits = h · wteᵀ (Gemm with transB reuses the embedding initializer).
  const flat = g.node('Reshape', [h, g.int64s([-1, C])]);
  const logitsShape = g.node('Concat', [g.node('Shape', [inputIds]), g.int64s([V])], { axis: 0 });
  const logits = g.node('Reshape', [g.node('Gemm', [flat, wte], { transB: 1 }), logitsShape]);
  g.output(logits, 'logits', 'float32', ['batch_size', 'sequence_length', V]);
  for (const name of presents) g.output(name, name, 'float32', ['batch_size', H, 'total_sequence_length', hd]);
  return g;
}

/** The Hugging Face config.json of an export: plain GPT-2 (row/column embeddings are folded away). */
export function hfGpt2Config(gpt: GPT, metadata: PriorMetadata = {}): Record<string, unknown> {
  const c = gpt.config;
  return {
    model_type: 'gpt2',
    architectures: ['GPT2LMHeadModel'],
    vocab_size: c.vocabSize,
    n_positions: c.nPositions,
    n_ctx: c.nPositions,
    n_embd: c.nEmbd,
    n_layer: c.nLayer,
    n_head: c.nHead,
    n_inner: null,
    activation_function: 'gelu_new',
    resid_pdrop: 0,
    embd_pdrop: 0,
    attn_pdrop: 0,
    layer_norm_epsilon: c.layerNormEps,
    initializer_range: c.initializerRange,
    scale_attn_weights: true,
    tie_word_embeddings: true,
    use_cache: true,
    bos_token_id: c.vocabulary.bosId,
    // Code sequences have a known length: no EOS, generation stops at max_new_tokens.
    eos_token_id: null,
    'transformers.js_config': { dtype: 'fp32' },
    vqkit: { format: 'vqkit-prior-onnx', version: 1, vocabulary: c.vocabulary, foldedPositionEmbedding: c.positionEmbedding, metadata, opset: DEFAULT_OPSET },
  };
}

/** Writes the Hugging Face–style export of `gpt` into `dir`; returns the files written (relative). */
export function exportPriorToOnnx(gpt: GPT, dir: string, metadata: PriorMetadata = {}): string[] {
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  const bytes = buildPriorOnnxGraph(gpt).toBytes({ docString: 'vqkit prior (GPT-2 layout) with key/value cache' });
  writeFileAtomic(path.join(dir, PRIOR_ONNX_MODEL_FILE), bytes);
  const generation = { bos_token_id: gpt.config.vocabulary.bosId, eos_token_id: null, pad_token_id: null, do_sample: false, use_cache: true };
  writeFileAtomic(path.join(dir, 'generation_config.json'), `${JSON.stringify(generation, null, 2)}\n`);
  const tensors = moduleTensors(gpt)
    .filter(([name]) => name !== 'transformer.wpe_row.weight' && name !== 'transformer.wpe_col.weight')
    .map(([name, t]): [string, typeof t] => (name === 'transformer.wpe.weight' ? [name, { ...t, data: foldedPositionTable(gpt) }] : [name, t]));
  writeFileAtomic(path.join(dir, 'model.safetensors'), encodeSafetensors(tensors, { format: 'pt' }));
  writeFileAtomic(path.join(dir, 'config.json'), `${JSON.stringify(hfGpt2Config(gpt, metadata), null, 2)}\n`);
  return ['config.json', 'generation_config.json', 'model.safetensors', PRIOR_ONNX_MODEL_FILE];
}
