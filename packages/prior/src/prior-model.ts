/**
 * A trained prior on disk: a directory with
 *
 *   config.json        Hugging Face GPT-2 config fields (model_type, vocab_size,
 *                      n_positions, n_embd, n_layer, n_head, activation_function
 *                      'gelu_new', layer_norm_epsilon 1e-5, bos/eos ids, tied
 *                      embeddings) plus a `vqkit` block: the token layout, the
 *                      position-embedding scheme and what the codes are
 *                      (tokenizer id, modality, grid, audio pattern, class names).
 *   model.safetensors  weights under GPT-2's state-dict names.
 *
 * With `positionEmbedding: 'learned'` the directory is a valid HF GPT-2
 * checkpoint. With row/column embeddings it is not (GPT-2 has no such
 * tables), so `model_type` is then `vqkit-gpt2-rowcol`: HF refuses it loudly
 * instead of loading it and silently dropping the row/column weights.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FileFormatError, InvalidArgumentError, loadModule, saveModule, writeFileAtomic } from '@vqkit/core';
import { isGpt2Compatible, type GPTConfig, type PositionEmbedding } from './gpt/config.js';
import { GPT, type GPTOptions } from './gpt/model.js';
import type { AudioPattern, GridShape } from './layout.js';
import type { Vocabulary } from './vocabulary.js';

/** What kind of codes a prior models. */
export type PriorModality = 'image' | 'audio' | 'video' | 'generic';

/** What the token sequences are; stored in config.json so tools can sample and decode without guessing. */
export interface PriorMetadata {
  /** Default `'generic'`. */
  modality?: PriorModality;
  /** Identifier of the tokenizer whose codes the prior was trained on (`ImageTokenizer.id`: a hash of its config and weights). */
  tokenizer?: string;
  /**
   * Directory of that tokenizer, relative to the prior's directory (or
   * absolute), so tools can decode samples without being told; see
   * {@link priorTokenizerDir}.
   */
  tokenizerDir?: string;
  /** Image code grid (images, one video frame). */
  grid?: GridShape;
  /** Residual-VQ audio: sequence pattern. */
  audioPattern?: AudioPattern;
  /** Audio: code frames per second of audio. */
  framesPerSecond?: number;
  /** Code tokens per image pixel (grid cells / pixels), to report bits per pixel. */
  tokensPerPixel?: number;
  /** Sequence tokens per second of audio/video, to report bits per second. */
  tokensPerSecond?: number;
  /** Names of the class tokens, index = class index (e.g. Fashion-MNIST's 'Sneaker'). */
  classNames?: string[];
}

/** The `config.json` layout (GPT-2 fields plus the `vqkit` block). */
export interface PriorConfigJson {
  model_type: string;
  architectures: string[];
  vocab_size: number;
  n_positions: number;
  n_ctx: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_inner: null;
  activation_function: 'gelu_new';
  resid_pdrop: number;
  embd_pdrop: number;
  attn_pdrop: number;
  layer_norm_epsilon: number;
  initializer_range: number;
  scale_attn_weights: true;
  tie_word_embeddings: true;
  use_cache: true;
  bos_token_id: number;
  eos_token_id: number;
  vqkit: {
    format: 'vqkit-prior';
    version: 1;
    gpt2Compatible: boolean;
    vocabulary: Vocabulary;
    positionEmbedding: PositionEmbedding;
    metadata: PriorMetadata;
  };
}

export const PRIOR_CONFIG_FILE = 'config.json';
export const PRIOR_WEIGHTS_FILE = 'model.safetensors';

/** The config.json content for a model. */
export function priorConfigJson(config: GPTConfig, metadata: PriorMetadata): PriorConfigJson {
  const compatible = isGpt2Compatible(config);
  return {
    model_type: compatible ? 'gpt2' : 'vqkit-gpt2-rowcol',
    architectures: ['GPT2LMHeadModel'],
    vocab_size: config.vocabSize,
    n_positions: config.nPositions,
    n_ctx: config.nPositions,
    n_embd: config.nEmbd,
    n_layer: config.nLayer,
    n_head: config.nHead,
    n_inner: null,
    activation_function: 'gelu_new',
    resid_pdrop: config.dropout,
    embd_pdrop: config.dropout,
    attn_pdrop: config.dropout,
    layer_norm_epsilon: config.layerNormEps,
    initializer_range: config.initializerRange,
    scale_attn_weights: true,
    tie_word_embeddings: true,
    use_cache: true,
    bos_token_id: config.vocabulary.bosId,
    // No EOS: sequences have a known length. GPT-2 itself uses one id for both.
    eos_token_id: config.vocabulary.bosId,
    vqkit: {
      format: 'vqkit-prior',
      version: 1,
      gpt2Compatible: compatible,
      vocabulary: config.vocabulary,
      positionEmbedding: config.positionEmbedding,
      metadata,
    },
  };
}

/** The GPT options a config.json describes (validated). */
export function gptOptionsFromConfigJson(json: unknown, source?: string): { options: GPTOptions; metadata: PriorMetadata } {
  const fail = (message: string): never => {
    throw new FileFormatError(message, source);
  };
  if (typeof json !== 'object' || json === null) return fail('config is not a JSON object');
  const c = json as Partial<PriorConfigJson>;
  if (!c.vqkit || c.vqkit.format !== 'vqkit-prior') return fail('not a vqkit prior config (missing the "vqkit" block with format "vqkit-prior")');
  if (c.vqkit.version !== 1) return fail(`unsupported vqkit prior config version ${String(c.vqkit.version)}; this build reads version 1`);
  if (c.activation_function !== 'gelu_new') fail(`activation_function must be 'gelu_new', got ${String(c.activation_function)}`);
  if (c.layer_norm_epsilon !== 1e-5) fail(`layer_norm_epsilon must be 1e-5, got ${String(c.layer_norm_epsilon)}`);
  const options: GPTOptions = {
    vocabulary: c.vqkit.vocabulary,
    nPositions: c.n_positions as number,
    nEmbd: c.n_embd,
    nLayer: c.n_layer,
    nHead: c.n_head,
    dropout: c.resid_pdrop,
    initializerRange: c.initializer_range,
    positionEmbedding: c.vqkit.positionEmbedding,
  };
  if (c.vocab_size !== c.vqkit.vocabulary?.vocabSize) fail(`vocab_size ${String(c.vocab_size)} disagrees with the vqkit vocabulary`);
  return { options, metadata: c.vqkit.metadata ?? {} };
}

/**
 * The tokenizer directory a prior loaded from `priorDir` records (relative
 * paths are relative to `priorDir`), or undefined when it records none.
 */
export function priorTokenizerDir(priorDir: string, metadata: PriorMetadata): string | undefined {
  return metadata.tokenizerDir === undefined ? undefined : path.resolve(priorDir, metadata.tokenizerDir);
}

/** A GPT prior together with what its tokens mean. Owns the GPT (dispose it through here). */
export class PriorModel {
  constructor(
    readonly gpt: GPT,
    readonly metadata: PriorMetadata = {},
  ) {}

  get config(): GPTConfig {
    return this.gpt.config;
  }

  /** The config.json content. */
  toConfigJson(): PriorConfigJson {
    return priorConfigJson(this.gpt.config, this.metadata);
  }

  /** Writes `config.json` and `model.safetensors` into `dir` (created if needed); each file is replaced atomically. */
  save(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    // Weights first: a crash between the two writes leaves the old config, which then fails loudly on a shape mismatch rather than loading garbage.
    saveModule(this.gpt, path.join(dir, PRIOR_WEIGHTS_FILE), { format: 'pt' });
    writeFileAtomic(path.join(dir, PRIOR_CONFIG_FILE), `${JSON.stringify(this.toConfigJson(), null, 2)}\n`);
  }

  /** Loads a prior saved by {@link PriorModel.save}. */
  static load(dir: string): PriorModel {
    const configPath = path.join(dir, PRIOR_CONFIG_FILE);
    let json: unknown;
    try {
      json = JSON.parse(fs.readFileSync(configPath, 'utf8'));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new FileFormatError(code === 'ENOENT' ? 'no config.json: is this a prior model directory?' : `unreadable config (${String(err)})`, configPath, {
        cause: err,
      });
    }
    const { options, metadata } = gptOptionsFromConfigJson(json, configPath);
    let gpt: GPT;
    try {
      gpt = new GPT(options);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw new FileFormatError(err.message, configPath, { cause: err });
      throw err;
    }
    try {
      loadModule(gpt, path.join(dir, PRIOR_WEIGHTS_FILE));
    } catch (err) {
      gpt.dispose();
      throw err;
    }
    return new PriorModel(gpt, metadata);
  }

  dispose(): void {
    this.gpt.dispose();
  }
}
