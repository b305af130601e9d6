/**
 * A GPT-2 decoder over token ids, laid out exactly like Hugging Face's
 * `GPT2LMHeadModel` state dict so that saving is a pure serialisation:
 *
 *   transformer.wte.weight                [vocab, C]     (also the tied LM head)
 *   transformer.wpe.weight                [nPositions, C]
 *   transformer.h.N.ln_1.{weight,bias}    [C]
 *   transformer.h.N.attn.c_attn.{weight,bias}  [C, 3C], [3C]   (Conv1D layout [in, out]; q|k|v)
 *   transformer.h.N.attn.c_proj.{weight,bias}  [C, C], [C]
 *   transformer.h.N.ln_2.{weight,bias}    [C]
 *   transformer.h.N.mlp.c_fc.{weight,bias}     [C, 4C], [4C]
 *   transformer.h.N.mlp.c_proj.{weight,bias}   [4C, C], [C]
 *   transformer.ln_f.{weight,bias}        [C]
 *
 * (`lm_head.weight` is tied to `wte` and, as in HF's own files, not stored.)
 * The optional row/column embeddings add `transformer.wpe_row.weight` and
 * `transformer.wpe_col.weight`, which GPT-2 does not have.
 *
 * Two entry points: `forward` (a whole causal sequence, for training and
 * scoring) and `step`/`forwardCached` (incremental decoding with a key/value
 * cache, so each new token costs one position, not a re-run of the prefix).
 */
import * as tf from '@tensorflow/tfjs';
import { Embedding, InvalidArgumentError, LayerNorm, Linear, Module, Rng, deriveSeed } from '@vqkit/core';
import { resolveGPTConfig, type GPTConfig, type GPTConfigOptions } from './config.js';
import { broadcastMatMul, embeddingLookup, geluNew, softmaxLastAxis } from './ops.js';

/** Keys and values of one block for the positions seen so far: [nHead, B, length, headDim] (head-major, see Attention). */
export interface LayerKV {
  readonly k: tf.Tensor4D;
  readonly v: tf.Tensor4D;
}

/**
 * The key/value cache of all blocks. Owns its tensors: dispose it (or hand it
 * back to `step`, which does not dispose it for you) when done.
 */
export class KVCache {
  constructor(
    /** One entry per block. */
    readonly layers: readonly LayerKV[],
    /** Number of positions cached. */
    readonly length: number,
    /** Batch size. */
    readonly batch: number,
  ) {}

  dispose(): void {
    for (const { k, v } of this.layers) {
      k.dispose();
      v.dispose();
    }
  }
}

/** Per-call options of the forward passes. */
export interface ForwardOptions {
  /** Apply dropout (training). Default false. */
  training?: boolean;
  /** Seeds the dropout masks when training with dropout > 0 (one draw per dropout layer). */
  dropoutRng?: Rng;
}

function normalInit(layer: Linear, std: number, seed: number): void {
  const w = tf.randomNormal(layer.weight.shape, 0, std, 'float32', seed);
  layer.weight.assign(w);
  w.dispose();
}

class Attention extends Module {
  readonly cAttn: Linear;
  readonly cProj: Linear;

  constructor(
    private readonly config: GPTConfig,
    seed: number,
  ) {
    super();
    const C = config.nEmbd;
    this.cAttn = this.addModule('c_attn', new Linear({ inFeatures: C, outFeatures: 3 * C, init: 'zeros' }));
    this.cProj = this.addModule('c_proj', new Linear({ inFeatures: C, outFeatures: C, init: 'zeros' }));
    normalInit(this.cAttn, config.initializerRange, deriveSeed(seed, 'c_attn'));
    // GPT-2: residual projections scaled by 1/sqrt(2·nLayer) so the residual stream's variance does not grow with depth.
    normalInit(this.cProj, config.initializerRange / Math.sqrt(2 * config.nLayer), deriveSeed(seed, 'c_proj'));
  }

  /** x [B,T,C] → y [B,T,C] and the keys/values of all positions (past + new). */
  forward(x: tf.Tensor3D, past: LayerKV | undefined, mask: tf.Tensor2D | undefined, options: ForwardOptions): { y: tf.Tensor3D; present: LayerKV } {
    const [B, T, C] = x.shape;
    const H = this.config.nHead;
    const hd = C / H;
    // Head-major layout [H, B, T, hd] throughout, so that no large activation
    // is ever transposed or column-sliced (tfjs-cpu does both element by
    // element; they dominated training and decoding):
    //  - training-sized inputs (B·T > C): the small fused c_attn weight [C, 3C]
    //    is viewed as 3H per-head matrices [3H, C, hd] and one broadcast
    //    batched matmul yields q/k/v for every head;
    //  - decoding-sized inputs (B·T ≤ C): one fused matmul, then the tiny
    //    activations are transposed to [3, H, B, T, hd] (cheaper than
    //    transposing the weight every step).
    // c_proj [C, C] is [H, hd, C]: per-head products summed over heads.
    const N = B * T;
    const x2d = tf.reshape(x, [N, C]) as tf.Tensor2D;
    let qkv: tf.Tensor;
    if (N <= C) {
      const fused = tf.add(tf.matMul(x2d, this.cAttn.weight as tf.Tensor2D), this.cAttn.bias!);
      qkv = tf.transpose(tf.reshape(fused, [B, T, 3, H, hd]), [2, 3, 0, 1, 4]);
    } else {
      const wHeads = tf.transpose(tf.reshape(this.cAttn.weight, [C, 3 * H, hd]), [1, 0, 2]) as tf.Tensor3D;
      qkv = tf.reshape(broadcastMatMul(x2d, wHeads, tf.reshape(this.cAttn.bias!, [3 * H, 1, hd]) as tf.Tensor3D), [3, H, B, T, hd]);
    }
    const [q, k0, v0] = tf.unstack(qkv, 0) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const k = past ? (tf.concat([past.k, k0], 2) as tf.Tensor4D) : k0;
    const v = past ? (tf.concat([past.v, v0], 2) as tf.Tensor4D) : v0;
    let scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd)) as tf.Tensor4D;
    if (mask) scores = tf.add(scores, mask);
    let probs: tf.Tensor = softmaxLastAxis(scores);
    probs = dropout(probs, this.config.dropout, options);
    const attended = tf.reshape(tf.matMul(probs as tf.Tensor4D, v), [H, N, hd]) as tf.Tensor3D;
    const perHead = tf.matMul(attended, tf.reshape(this.cProj.weight, [H, hd, C]) as tf.Tensor3D);
    const merged = H === 1 ? tf.reshape(perHead, [N, C]) : tf.addN(tf.unstack(perHead, 0));
    const projected = tf.reshape(tf.add(merged, this.cProj.bias!), [B, T, C]);
    const y = dropout(projected, this.config.dropout, options) as tf.Tensor3D;
    return { y, present: { k, v } };
  }
}

class Mlp extends Module {
  readonly cFc: Linear;
  readonly cProj: Linear;

  constructor(
    private readonly config: GPTConfig,
    seed: number,
  ) {
    super();
    const C = config.nEmbd;
    this.cFc = this.addModule('c_fc', new Linear({ inFeatures: C, outFeatures: 4 * C, init: 'zeros' }));
    this.cProj = this.addModule('c_proj', new Linear({ inFeatures: 4 * C, outFeatures: C, init: 'zeros' }));
    normalInit(this.cFc, config.initializerRange, deriveSeed(seed, 'c_fc'));
    normalInit(this.cProj, config.initializerRange / Math.sqrt(2 * config.nLayer), deriveSeed(seed, 'c_proj'));
  }

  forward(x: tf.Tensor3D, options: ForwardOptions): tf.Tensor3D {
    return dropout(this.cProj.forward(geluNew(this.cFc.forward(x))), this.config.dropout, options) as tf.Tensor3D;
  }
}

class Block extends Module {
  readonly ln1: LayerNorm;
  readonly attn: Attention;
  readonly ln2: LayerNorm;
  readonly mlp: Mlp;

  constructor(config: GPTConfig, seed: number) {
    super();
    this.ln1 = this.addModule('ln_1', new LayerNorm({ dim: config.nEmbd, eps: config.layerNormEps }));
    this.attn = this.addModule('attn', new Attention(config, deriveSeed(seed, 'attn')));
    this.ln2 = this.addModule('ln_2', new LayerNorm({ dim: config.nEmbd, eps: config.layerNormEps }));
    this.mlp = this.addModule('mlp', new Mlp(config, deriveSeed(seed, 'mlp')));
  }

  forward(x: tf.Tensor3D, past: LayerKV | undefined, mask: tf.Tensor2D | undefined, options: ForwardOptions): { y: tf.Tensor3D; present: LayerKV } {
    const { y: a, present } = this.attn.forward(this.ln1.forward(x) as tf.Tensor3D, past, mask, options);
    const h = tf.add(x, a) as tf.Tensor3D;
    const y = tf.add(h, this.mlp.forward(this.ln2.forward(h) as tf.Tensor3D, options)) as tf.Tensor3D;
    return { y, present };
  }
}

/** Holds the blocks under the names `0`, `1`, … (torch's ModuleList naming). */
class BlockList extends Module {
  constructor(readonly blocks: readonly Block[]) {
    super();
    blocks.forEach((block, i) => this.addModule(String(i), block));
  }
}

class Transformer extends Module {
  readonly wte: Embedding;
  readonly wpe: Embedding;
  readonly wpeRow: Embedding | undefined;
  readonly wpeCol: Embedding | undefined;
  readonly h: BlockList;
  readonly lnF: LayerNorm;

  constructor(config: GPTConfig, seed: number) {
    super();
    const C = config.nEmbd;
    const std = config.initializerRange;
    this.wte = this.addModule('wte', new Embedding({ numEmbeddings: config.vocabSize, embeddingDim: C, std, seed: deriveSeed(seed, 'wte') }));
    this.wpe = this.addModule('wpe', new Embedding({ numEmbeddings: config.nPositions, embeddingDim: C, std, seed: deriveSeed(seed, 'wpe') }));
    const pe = config.positionEmbedding;
    if (pe !== 'learned') {
      this.wpeRow = this.addModule('wpe_row', new Embedding({ numEmbeddings: pe.rows + 1, embeddingDim: C, std, seed: deriveSeed(seed, 'wpe_row') }));
      this.wpeCol = this.addModule('wpe_col', new Embedding({ numEmbeddings: pe.cols + 1, embeddingDim: C, std, seed: deriveSeed(seed, 'wpe_col') }));
    }
    const blocks: Block[] = [];
    for (let i = 0; i < config.nLayer; i++) blocks.push(new Block(config, deriveSeed(seed, `h.${i}`)));
    this.h = this.addModule('h', new BlockList(blocks));
    this.lnF = this.addModule('ln_f', new LayerNorm({ dim: C, eps: config.layerNormEps }));
  }
}

function dropout(x: tf.Tensor, rate: number, options: ForwardOptions): tf.Tensor {
  if (!options.training || rate === 0) return x;
  const seed = options.dropoutRng ? options.dropoutRng.nextUint32() : undefined;
  return tf.dropout(x, rate, undefined, seed);
}

/** Options of the {@link GPT} constructor. */
export interface GPTOptions extends GPTConfigOptions {
  /** Seed of the weight initialisation. Default 0. */
  seed?: number;
}

/** The GPT-2 decoder. Variable names follow HF's `GPT2LMHeadModel` (see the module comment). */
export class GPT extends Module {
  readonly config: GPTConfig;
  private readonly transformer: Transformer;

  constructor(options: GPTOptions) {
    super();
    this.config = resolveGPTConfig(options);
    this.transformer = this.addModule('transformer', new Transformer(this.config, options.seed ?? 0));
  }

  /** Logits [B, T, vocab] of a whole sequence (tokens [B, T] int32, T ≤ nPositions) under the causal mask. */
  forward(tokens: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => this.run(tokens, undefined, options, false).logits);
  }

  /**
   * Runs `tokens` [B, T] as the continuation of `cache` (positions
   * `cache.length .. cache.length + T - 1`; no cache = from position 0).
   * Returns the logits [B, T, vocab] and a new cache covering all positions.
   * The input cache is left intact (the caller disposes it).
   */
  forwardCached(tokens: tf.Tensor2D, cache?: KVCache): { logits: tf.Tensor3D; cache: KVCache } {
    const { logits, layers } = tf.tidy(() => {
      const out = this.run(tokens, cache, {}, true);
      return { logits: out.logits, layers: out.presents.map((p) => [p.k, p.v]) };
    });
    const batch = tokens.shape[0];
    const next = new KVCache(
      layers.map(([k, v]) => ({ k: k as tf.Tensor4D, v: v as tf.Tensor4D })),
      (cache?.length ?? 0) + tokens.shape[1],
      batch,
    );
    return { logits, cache: next };
  }

  /** One incremental step: tokens [B, 1] → logits [B, vocab] for the next position, and the extended cache. */
  step(tokens: tf.Tensor2D, cache?: KVCache): { logits: tf.Tensor2D; cache: KVCache } {
    if (tokens.shape[1] !== 1) throw new InvalidArgumentError(`step takes one token per row ([B, 1]), got [${tokens.shape}]`);
    const out = this.forwardCached(tokens, cache);
    const logits = tf.tidy(() => tf.reshape(out.logits, [tokens.shape[0], this.config.vocabSize]) as tf.Tensor2D);
    out.logits.dispose();
    return { logits, cache: out.cache };
  }

  private run(
    tokens: tf.Tensor2D,
    cache: KVCache | undefined,
    options: ForwardOptions,
    keepPresents: boolean,
  ): { logits: tf.Tensor3D; presents: LayerKV[] } {
    const { config } = this;
    const [B, T] = tokens.shape;
    const past = cache?.length ?? 0;
    if (cache && cache.batch !== B) throw new InvalidArgumentError(`cache holds batch ${cache.batch} but tokens have batch ${B}`);
    let x = this.embedTokens(tokens, past);
    x = dropout(x, config.dropout, options) as tf.Tensor3D;
    const mask = T > 1 ? causalMask(T, past) : undefined;
    const presents: LayerKV[] = [];
    this.transformer.h.blocks.forEach((block, i) => {
      const out = block.forward(x, cache?.layers[i], mask, options);
      x = out.y;
      if (keepPresents) presents.push(out.present);
    });
    const h = this.transformer.lnF.forward(x);
    const logits2d = tf.matMul(tf.reshape(h, [B * T, config.nEmbd]) as tf.Tensor2D, this.transformer.wte.weight as tf.Tensor2D, false, true);
    return { logits: tf.reshape(logits2d, [B, T, config.vocabSize]) as tf.Tensor3D, presents };
  }

  /**
   * The input of the first block: token embeddings plus position embeddings
   * for positions `past .. past + T - 1` — [B, T, nEmbd].
   */
  embed(tokens: tf.Tensor2D, past = 0): tf.Tensor3D {
    return tf.tidy(() => this.embedTokens(tokens, past));
  }

  private embedTokens(tokens: tf.Tensor2D, past: number): tf.Tensor3D {
    const { config } = this;
    if (tokens.rank !== 2 || tokens.dtype !== 'int32') {
      throw new InvalidArgumentError(`tokens must be an int32 tensor [batch, time], got ${tokens.dtype} [${tokens.shape}]`);
    }
    const [B, T] = tokens.shape;
    if (past + T > config.nPositions) {
      throw new InvalidArgumentError(`${past + T} positions exceed the context of ${config.nPositions} tokens; shorten the input or slide the window`);
    }
    const t = this.transformer;
    const positions = new Int32Array(T);
    for (let i = 0; i < T; i++) positions[i] = past + i;
    let pos = embeddingLookup(t.wpe.weight, positions, [T]);
    const pe = config.positionEmbedding;
    if (pe !== 'learned' && t.wpeRow && t.wpeCol) {
      const prefix = pe.prefixLength ?? 1;
      const rowIdx = new Int32Array(T);
      const colIdx = new Int32Array(T);
      for (let i = 0; i < T; i++) {
        const q = past + i - prefix;
        const inGrid = q >= 0 && q < pe.rows * pe.cols;
        // Positions outside the grid (the prefix) use the extra last entry of each table.
        rowIdx[i] = inGrid ? Math.floor(q / pe.cols) : pe.rows;
        colIdx[i] = inGrid ? q % pe.cols : pe.cols;
      }
      pos = tf.add(pos, tf.add(embeddingLookup(t.wpeRow.weight, rowIdx, [T]), embeddingLookup(t.wpeCol.weight, colIdx, [T])));
    }
    const ids = tokens.dataSync() as Int32Array;
    for (let i = 0; i < ids.length; i++) {
      if (!(ids[i]! >= 0 && ids[i]! < config.vocabSize)) throw new InvalidArgumentError(`token id ${ids[i]} is outside the vocabulary [0, ${config.vocabSize})`);
    }
    return tf.add(embeddingLookup(t.wte.weight, ids, [B, T]), pos) as tf.Tensor3D;
  }
}

/**
 * Additive causal mask [T, past + T]: query i (absolute position past + i)
 * sees keys 0..past + i. A large finite negative (not -Infinity) keeps the
 * softmax free of NaNs, like GPT-2's finfo.min.
 */
function causalMask(T: number, past: number): tf.Tensor2D {
  const S = past + T;
  const m = new Float32Array(T * S);
  for (let i = 0; i < T; i++) for (let j = past + i + 1; j < S; j++) m[i * S + j] = -1e9;
  return tf.tensor2d(m, [T, S]);
}
