/**
 * Decoding: incremental sessions over the KV cache, sampling (temperature,
 * top-k, top-p, constraints, seeded), and next-token probabilities for the
 * entropy coder.
 *
 * All sampling math runs in JavaScript doubles on logits read back from the
 * model, with vqkit's seeded `Rng` (one forked stream per batch row), so a
 * seed reproduces the same tokens on every backend that computes the same
 * logits, independent of tfjs' global random state.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, Rng, VqkitError, type Seed } from '@vqkit/core';
import type { TokenRange } from './layout.js';
import { GPT, type KVCache } from './gpt/model.js';

/** A GPT, or anything holding one (a `PriorModel`). */
export type GPTSource = GPT | { readonly gpt: GPT };

function asGPT(source: GPTSource): GPT {
  return source instanceof GPT ? source : source.gpt;
}

/** How to turn logits into a sampling distribution. */
export interface SamplingOptions {
  /** Softmax temperature; 0 means greedy (argmax). Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens (after temperature). Default: no limit. */
  topK?: number;
  /** Nucleus sampling: keep the smallest set of most likely tokens whose probability reaches p (after top-k). Default 1 (off). */
  topP?: number;
}

function checkSampling(options: SamplingOptions): Required<SamplingOptions> {
  const temperature = options.temperature ?? 1;
  const topK = options.topK ?? 0;
  const topP = options.topP ?? 1;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new InvalidArgumentError(`temperature must be a finite number >= 0, got ${temperature}`);
  if (!Number.isInteger(topK) || topK < 0) throw new InvalidArgumentError(`topK must be a positive integer (or 0 for no limit), got ${topK}`);
  if (!(topP > 0 && topP <= 1)) throw new InvalidArgumentError(`topP must be in (0, 1], got ${topP}`);
  return { temperature, topK, topP };
}

function checkRange(range: TokenRange, vocabSize: number): void {
  if (!Number.isInteger(range.start) || !Number.isInteger(range.end) || range.start < 0 || range.end > vocabSize || range.start >= range.end) {
    throw new InvalidArgumentError(`token range [${range.start}, ${range.end}) is empty or outside the vocabulary [0, ${vocabSize})`);
  }
}

/** Index of the largest value in `[start, end)` (lowest index on ties). */
function argmax(values: ArrayLike<number>, start: number, end: number): number {
  let best = start;
  for (let i = start + 1; i < end; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * The distribution tokens are sampled from: logits restricted to `range`,
 * divided by the temperature, softmaxed, cut to the top-k, then to the top-p
 * nucleus (the most likely tokens until their mass reaches p; the most likely
 * token is always kept), and renormalised — the order Hugging Face's
 * `generate` uses. Returns probabilities over the whole vocabulary (zeros
 * outside the kept set). Temperature 0 gives a one-hot on the argmax.
 */
export function samplingDistribution(logits: ArrayLike<number>, options: SamplingOptions = {}, range?: TokenRange): Float64Array {
  const { temperature, topK, topP } = checkSampling(options);
  const V = logits.length;
  const { start, end } = range ?? { start: 0, end: V };
  checkRange({ start, end }, V);
  const probs = new Float64Array(V);
  if (temperature === 0) {
    probs[argmax(logits, start, end)] = 1;
    return probs;
  }
  const max = logits[argmax(logits, start, end)]!;
  let sum = 0;
  for (let i = start; i < end; i++) {
    const p = Math.exp((logits[i]! - max) / temperature);
    probs[i] = p;
    sum += p;
  }
  for (let i = start; i < end; i++) probs[i]! /= sum;
  const n = end - start;
  if ((topK > 0 && topK < n) || topP < 1) {
    // Indices sorted by probability, descending (stable: lower id first on ties).
    const order = Array.from({ length: n }, (_, i) => start + i).sort((a, b) => probs[b]! - probs[a]! || a - b);
    let keep = topK > 0 ? Math.min(topK, n) : n;
    if (topP < 1) {
      let kept = 0;
      for (let i = 0; i < keep; i++) kept += probs[order[i]!]!;
      // Nucleus of the top-k distribution (renormalised by its mass `kept`).
      let cum = 0;
      let nucleus = 0;
      while (nucleus < keep && cum < topP * kept) cum += probs[order[nucleus++]!]!;
      keep = Math.max(1, nucleus);
    }
    let mass = 0;
    for (let i = 0; i < keep; i++) mass += probs[order[i]!]!;
    for (let i = keep; i < n; i++) probs[order[i]!] = 0;
    for (let i = 0; i < keep; i++) probs[order[i]!]! /= mass;
  }
  return probs;
}

/** Draws a token id from a probability vector (inverse CDF with one uniform). */
export function sampleFromDistribution(probs: ArrayLike<number>, rng: Rng): number {
  const u = rng.uniform();
  let cum = 0;
  let last = -1;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i]!;
    if (p <= 0) continue;
    cum += p;
    last = i;
    if (u < cum) return i;
  }
  // Rounding left cum slightly below 1: the draw belongs to the last kept token.
  if (last < 0) throw new InvalidArgumentError('cannot sample from an all-zero distribution');
  return last;
}

/** Options of a {@link DecodingSession}. */
export interface DecodingSessionOptions {
  /**
   * Leading tokens (BOS / class prompt) that stay at the start of the window
   * when the context slides, as in training crops. Default 1.
   */
  prefixLength?: number;
  /**
   * When the context slides, the kept tokens after the prefix start at a
   * multiple of this (e.g. the residual levels of audio, so a window always
   * starts on a frame boundary, as in training). Default 1.
   */
  windowAlign?: number;
}

/**
 * Incremental decoding of a batch: feed tokens one step at a time and read the
 * next-token logits. Keeps a KV cache so every step costs one position. When
 * the context (nPositions) is full, the window slides: the prefix (BOS /
 * class token) stays, the oldest tokens after it are dropped until about half
 * the context is free, and the window is re-encoded once. Training crops long
 * sequences the same way (prefix + an aligned window), so this is what the
 * model expects.
 */
export class DecodingSession {
  readonly batch: number;
  private readonly history: number[][];
  private cache: KVCache | undefined;
  private nextLogits: Float32Array;
  private readonly windowAlign: number;
  private readonly prefixLength: number;
  private disposed = false;

  /** Starts from `prompts` (one per row, all the same non-zero length). */
  constructor(
    readonly model: GPT,
    prompts: readonly ArrayLike<number>[],
    options: DecodingSessionOptions = {},
  ) {
    if (prompts.length === 0) throw new InvalidArgumentError('a decoding session needs at least one prompt');
    const T = prompts[0]!.length;
    if (T === 0 || prompts.some((p) => p.length !== T)) throw new InvalidArgumentError('prompts must be non-empty and all of the same length');
    const V = model.config.vocabSize;
    for (const p of prompts) {
      for (let i = 0; i < p.length; i++) {
        if (!Number.isInteger(p[i]) || p[i]! < 0 || p[i]! >= V) throw new InvalidArgumentError(`prompt token ${p[i]} is outside the vocabulary [0, ${V})`);
      }
    }
    this.windowAlign = options.windowAlign ?? 1;
    if (!Number.isInteger(this.windowAlign) || this.windowAlign < 1 || this.windowAlign > model.config.nPositions) {
      throw new InvalidArgumentError(`windowAlign must be an integer in [1, nPositions], got ${this.windowAlign}`);
    }
    this.prefixLength = options.prefixLength ?? 1;
    if (!Number.isInteger(this.prefixLength) || this.prefixLength < 0 || this.prefixLength >= model.config.nPositions) {
      throw new InvalidArgumentError(`prefixLength must be an integer in [0, nPositions), got ${this.prefixLength}`);
    }
    this.batch = prompts.length;
    this.history = prompts.map((p) => Array.from(p));
    this.nextLogits = this.encodeWindow();
  }

  /** Tokens seen so far per row (prompt + appended). */
  tokens(row: number): readonly number[] {
    return this.history[row]!;
  }

  /** Next-token logits, row-major [batch, vocab]. Valid until the next `append`. */
  logits(): Float32Array {
    this.checkAlive();
    return this.nextLogits;
  }

  /** Appends one token per row and computes the next logits. */
  append(tokens: ArrayLike<number>): void {
    this.checkAlive();
    if (tokens.length !== this.batch) throw new InvalidArgumentError(`append needs ${this.batch} tokens (one per row), got ${tokens.length}`);
    const V = this.model.config.vocabSize;
    for (let b = 0; b < this.batch; b++) {
      const t = tokens[b]!;
      if (!Number.isInteger(t) || t < 0 || t >= V) throw new InvalidArgumentError(`token ${t} is outside the vocabulary [0, ${V})`);
      this.history[b]!.push(t);
    }
    if (this.cache && this.cache.length < this.model.config.nPositions) {
      const input = tf.tensor2d(Int32Array.from(tokens), [this.batch, 1], 'int32');
      try {
        const out = this.model.step(input, this.cache);
        this.cache.dispose();
        this.cache = out.cache;
        this.nextLogits = out.logits.dataSync() as Float32Array;
        out.logits.dispose();
      } finally {
        input.dispose();
      }
    } else {
      this.nextLogits = this.encodeWindow();
    }
  }

  dispose(): void {
    this.cache?.dispose();
    this.cache = undefined;
    this.disposed = true;
  }

  private checkAlive(): void {
    if (this.disposed) throw new VqkitError('ERR_DISPOSED', 'this decoding session has been disposed');
  }

  /** (Re-)encodes the most recent window of the history from scratch; returns the last position's logits. */
  private encodeWindow(): Float32Array {
    const { nPositions, vocabSize } = this.model.config;
    const total = this.history[0]!.length;
    // Window = history[0, prefix) + history[start, total).
    let prefix = 0;
    let start = 0;
    if (total > nPositions) {
      prefix = Math.min(this.prefixLength, total - 1);
      // Keep about half the context so the next re-encode is ~nPositions/2 steps away.
      const keep = Math.max(1, Math.floor(nPositions / 2) - prefix);
      start = prefix + Math.ceil((total - keep - prefix) / this.windowAlign) * this.windowAlign;
      if (start >= total) start = total - 1;
    }
    const T = prefix + total - start;
    const data = new Int32Array(this.batch * T);
    for (let b = 0; b < this.batch; b++) {
      const h = this.history[b]!;
      for (let t = 0; t < prefix; t++) data[b * T + t] = h[t]!;
      for (let t = prefix; t < T; t++) data[b * T + t] = h[start + t - prefix]!;
    }
    const input = tf.tensor2d(data, [this.batch, T], 'int32');
    try {
      const out = this.model.forwardCached(input);
      this.cache?.dispose();
      this.cache = out.cache;
      const last = tf.tidy(() => tf.reshape(tf.slice(out.logits, [0, T - 1, 0], [this.batch, 1, vocabSize]), [this.batch * vocabSize]));
      out.logits.dispose();
      const values = last.dataSync() as Float32Array;
      last.dispose();
      return values;
    } finally {
      input.dispose();
    }
  }
}

/** Options of {@link generate}. */
export interface GenerateOptions extends SamplingOptions, DecodingSessionOptions {
  /** Tokens to generate per sequence. */
  maxNewTokens: number;
  /** Sequences to generate. Default: the number of prompts / class indices given, else 1. */
  batch?: number;
  /**
   * Prompt(s) to continue: one for all rows or one per row (same length).
   * Default: the class token (if `classIndex`) else BOS.
   */
  prompt?: ArrayLike<number> | readonly ArrayLike<number>[];
  /** Condition on a class (0-based; one for all rows or one per row). Ignored when `prompt` is given. */
  classIndex?: number | readonly number[];
  /** Seed of the sampling RNG; the same seed gives the same tokens. Default 0. */
  seed?: Seed;
  /**
   * Row b draws from the seed's stream number `firstRow + b`: generating rows
   * [0, 8) and then [8, 16) with firstRow 8 gives the same tokens as one
   * batch of 16. Default 0.
   */
  firstRow?: number;
  /**
   * Allowed token ids for generated token `step` (0-based), e.g. only code
   * tokens for images (`imageTokenConstraint`). Default: the whole vocabulary.
   */
  constrain?: (step: number) => TokenRange;
  /** Called after every generated step. */
  onStep?: (step: number, total: number) => void;
  /** Aborts between steps (throws the signal's reason). */
  signal?: AbortSignal;
}

function resolvePrompts(model: GPT, options: GenerateOptions): ArrayLike<number>[] {
  const vocab = model.config.vocabulary;
  let prompts: ArrayLike<number>[];
  if (options.prompt !== undefined) {
    const p = options.prompt;
    const isList = Array.isArray(p) && p.length > 0 && typeof p[0] !== 'number';
    prompts = isList ? [...(p as readonly ArrayLike<number>[])] : [p as ArrayLike<number>];
  } else if (options.classIndex !== undefined) {
    const classes = typeof options.classIndex === 'number' ? [options.classIndex] : [...options.classIndex];
    prompts = classes.map((c) => {
      if (!Number.isInteger(c) || c < 0 || c >= vocab.numClasses) {
        throw new InvalidArgumentError(`classIndex must be an integer in [0, ${vocab.numClasses}), got ${c}`);
      }
      return [vocab.firstClassId + c];
    });
  } else {
    prompts = [[vocab.bosId]];
  }
  const batch = options.batch ?? prompts.length;
  if (!Number.isInteger(batch) || batch < 1) throw new InvalidArgumentError(`batch must be a positive integer, got ${batch}`);
  if (prompts.length === 1) return Array.from({ length: batch }, () => prompts[0]!);
  if (prompts.length !== batch) throw new InvalidArgumentError(`got ${prompts.length} prompts/classes for a batch of ${batch}`);
  return prompts;
}

/**
 * Generates `maxNewTokens` tokens per row, autoregressively with the KV cache.
 * Returns the generated tokens only (without the prompt), one Int32Array per row.
 */
export function generate(source: GPTSource, options: GenerateOptions): Int32Array[] {
  const model = asGPT(source);
  const steps = options.maxNewTokens;
  if (!Number.isInteger(steps) || steps < 0) throw new InvalidArgumentError(`maxNewTokens must be an integer >= 0, got ${steps}`);
  checkSampling(options);
  const prompts = resolvePrompts(model, options);
  const B = prompts.length;
  const V = model.config.vocabSize;
  const root = new Rng(options.seed ?? 0);
  const firstRow = options.firstRow ?? 0;
  if (!Number.isInteger(firstRow) || firstRow < 0) throw new InvalidArgumentError(`firstRow must be a non-negative integer, got ${firstRow}`);
  const rngs = Array.from({ length: B }, (_, b) => root.fork(`row${firstRow + b}`));
  const out = Array.from({ length: B }, () => new Int32Array(steps));
  if (steps === 0) return out;
  const session = new DecodingSession(model, prompts, options);
  try {
    const next = new Int32Array(B);
    for (let s = 0; s < steps; s++) {
      options.signal?.throwIfAborted();
      const range = options.constrain?.(s);
      if (range) checkRange(range, V);
      const logits = session.logits();
      for (let b = 0; b < B; b++) {
        const row = logits.subarray(b * V, (b + 1) * V);
        const probs = samplingDistribution(row, options, range);
        next[b] = options.temperature === 0 ? argmax(probs, 0, V) : sampleFromDistribution(probs, rngs[b]!);
        out[b]![s] = next[b]!;
      }
      // The last token needs no forward pass of its own.
      if (s + 1 < steps) session.append(next);
      options.onStep?.(s + 1, steps);
    }
  } finally {
    session.dispose();
  }
  return out;
}

/** Softmax of one logit row in doubles, optionally restricted to a range (zeros outside), as float32. */
function softmaxRow(logits: ArrayLike<number>, range?: TokenRange): Float32Array {
  const V = logits.length;
  const { start, end } = range ?? { start: 0, end: V };
  checkRange({ start, end }, V);
  const out = new Float32Array(V);
  const max = logits[argmax(logits, start, end)]!;
  let sum = 0;
  for (let i = start; i < end; i++) sum += Math.exp(logits[i]! - max);
  for (let i = start; i < end; i++) out[i] = Math.exp(logits[i]! - max) / sum;
  return out;
}

/** Options of a {@link TokenPredictor}. */
export interface TokenPredictorOptions extends DecodingSessionOptions {
  /** Tokens before the first predicted one. Default: the class token (if `classIndex`) else BOS. */
  prompt?: ArrayLike<number>;
  /** Condition on a class (0-based). Ignored when `prompt` is given. */
  classIndex?: number;
}

/**
 * The prior as the probability model of an arithmetic coder: for each
 * position, `probabilities()` gives the next-token distribution, then
 * `push(token)` advances (one KV-cache step). Encoder and decoder that push
 * the same tokens see identical probabilities (same code path, same backend).
 */
export class TokenPredictor {
  private readonly session: DecodingSession;

  constructor(source: GPTSource, options: TokenPredictorOptions = {}) {
    const model = asGPT(source);
    const [prompt] = resolvePrompts(model, { maxNewTokens: 0, prompt: options.prompt, classIndex: options.classIndex });
    this.session = new DecodingSession(model, [prompt!], options);
  }

  /** Number of tokens consumed so far (prompt included). */
  get length(): number {
    return this.session.tokens(0).length;
  }

  /**
   * Probabilities of the next token over the vocabulary (sums to 1 up to
   * float32 rounding). With `range`, restricted and renormalised to it (e.g.
   * the code tokens), with zeros elsewhere.
   */
  probabilities(range?: TokenRange): Float32Array {
    return softmaxRow(this.session.logits(), range);
  }

  /** Consumes the actual next token. */
  push(token: number): void {
    this.session.append([token]);
  }

  dispose(): void {
    this.session.dispose();
  }
}

/**
 * One-shot next-token probabilities after `prefix` (a whole forward pass;
 * use {@link TokenPredictor} when predicting a sequence position by position).
 */
export function nextTokenProbabilities(source: GPTSource, prefix: ArrayLike<number>, range?: TokenRange): Float32Array {
  const predictor = new TokenPredictor(source, { prompt: prefix });
  try {
    return predictor.probabilities(range);
  } finally {
    predictor.dispose();
  }
}
