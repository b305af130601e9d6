/**
 * GPT configuration. The architecture is GPT-2's (pre-LayerNorm blocks,
 * causal multi-head attention with a fused qkv projection, `gelu_new` MLP of
 * width 4·nEmbd, learned absolute position embeddings, final LayerNorm, LM head
 * tied to the token embedding, LayerNorm eps 1e-5), so a model with
 * `positionEmbedding: 'learned'` serialises 1:1 into a Hugging Face GPT-2.
 */
import { InvalidArgumentError } from '@vqkit/core';
import { checkVocabulary, type Vocabulary } from '../vocabulary.js';

/**
 * Position embedding scheme.
 *  - `'learned'`: GPT-2's absolute table `wpe` [nPositions, nEmbd].
 *  - `'row-col'`: `wpe` plus separate row and column tables for an image grid
 *    (`wpe_row` [rows + 1, nEmbd], `wpe_col` [cols + 1, nEmbd]; the extra entry
 *    is for the `prefixLength` prefix positions, which lie outside the grid).
 *    Gives the model the 2-D structure for free, but is NOT GPT-2-exportable
 *    (GPT-2 has no such tables).
 */
export type PositionEmbedding =
  | 'learned'
  | {
      kind: 'row-col';
      /** Grid rows. */
      rows: number;
      /** Grid columns. */
      cols: number;
      /** Tokens before the grid (BOS / class). Default 1. */
      prefixLength?: number;
    };

/** User-facing configuration; see {@link resolveGPTConfig} for the defaults. */
export interface GPTConfigOptions {
  /** The token layout (vocabulary size, BOS, class tokens); see `createVocabulary`. */
  vocabulary: Vocabulary;
  /** Context length: the most tokens the model sees at once (GPT-2 `n_positions`). */
  nPositions: number;
  /** Model width (GPT-2 `n_embd`). Default 128. */
  nEmbd?: number;
  /** Transformer blocks (GPT-2 `n_layer`). Default 4. */
  nLayer?: number;
  /** Attention heads; must divide nEmbd (GPT-2 `n_head`). Default 4. */
  nHead?: number;
  /** Dropout on embeddings, attention probabilities and residual branches while training. Default 0. */
  dropout?: number;
  /** Position embedding scheme. Default `'learned'`. */
  positionEmbedding?: PositionEmbedding;
  /** Std of the N(0, std²) weight initialisation (GPT-2 `initializer_range`). Default 0.02. */
  initializerRange?: number;
}

/** A fully resolved configuration (plain data, JSON-serialisable). */
export interface GPTConfig {
  readonly vocabulary: Vocabulary;
  readonly vocabSize: number;
  readonly nPositions: number;
  readonly nEmbd: number;
  readonly nLayer: number;
  readonly nHead: number;
  readonly dropout: number;
  /** Always 1e-5 (GPT-2's value); a field so the file format states it. */
  readonly layerNormEps: number;
  readonly positionEmbedding: PositionEmbedding;
  readonly initializerRange: number;
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/** Fills in defaults and validates. */
export function resolveGPTConfig(options: GPTConfigOptions): GPTConfig {
  const vocabulary = checkVocabulary(options.vocabulary);
  const nEmbd = positiveInt('nEmbd', options.nEmbd ?? 128);
  const nHead = positiveInt('nHead', options.nHead ?? 4);
  if (nEmbd % nHead !== 0) throw new InvalidArgumentError(`nHead (${nHead}) must divide nEmbd (${nEmbd})`);
  const dropout = options.dropout ?? 0;
  if (!(dropout >= 0 && dropout < 1)) throw new InvalidArgumentError(`dropout must be in [0, 1), got ${dropout}`);
  const initializerRange = options.initializerRange ?? 0.02;
  if (!(initializerRange > 0)) throw new InvalidArgumentError(`initializerRange must be > 0, got ${initializerRange}`);
  const nPositions = positiveInt('nPositions', options.nPositions);
  let positionEmbedding: PositionEmbedding = options.positionEmbedding ?? 'learned';
  if (positionEmbedding !== 'learned') {
    if (typeof positionEmbedding !== 'object' || positionEmbedding.kind !== 'row-col') {
      throw new InvalidArgumentError(`unknown positionEmbedding ${JSON.stringify(positionEmbedding)}; use 'learned' or { kind: 'row-col', rows, cols }`);
    }
    const prefixLength = positionEmbedding.prefixLength ?? 1;
    if (!Number.isInteger(prefixLength) || prefixLength < 0) throw new InvalidArgumentError(`prefixLength must be an integer >= 0, got ${prefixLength}`);
    const rows = positiveInt('rows', positionEmbedding.rows);
    const cols = positiveInt('cols', positionEmbedding.cols);
    if (prefixLength + rows * cols > nPositions) {
      throw new InvalidArgumentError(`a ${rows}x${cols} grid plus ${prefixLength} prefix token(s) does not fit in nPositions ${nPositions}`);
    }
    positionEmbedding = { kind: 'row-col', rows, cols, prefixLength };
  }
  return {
    vocabulary,
    vocabSize: vocabulary.vocabSize,
    nPositions,
    nEmbd,
    nLayer: positiveInt('nLayer', options.nLayer ?? 4),
    nHead,
    dropout,
    layerNormEps: 1e-5,
    positionEmbedding,
    initializerRange,
  };
}

/** True when the model maps 1:1 onto Hugging Face GPT-2 (no row/column embeddings). */
export function isGpt2Compatible(config: GPTConfig): boolean {
  return config.positionEmbedding === 'learned';
}
