/**
 * How tokenizer codes become one token sequence for the prior, and back.
 *
 * Every sequence starts with one prefix token: BOS (unconditional) or a class
 * token (conditional). The prefix is an input only; the prior never predicts it.
 *
 * Images: the code grid in raster order (row by row, left to right), as in
 * taming-transformers / VQGAN; with a multi-level quantizer the levels of a
 * cell follow each other (the `flatten` order below, cells as frames).
 *
 * Audio (residual VQ, codes `[frames, levels]`):
 *  - `flatten` (default): frame by frame, all levels of a frame before the next
 *    frame: `f0l0 f0l1 .. f0l(L-1) f1l0 ..`. This is the exact autoregressive
 *    factorisation (every token sees all coarser levels of its own frame and
 *    all of the past), at the cost of L tokens per frame of context.
 *  - `delay` (MusicGen): level l is shifted l frames later, so step s holds
 *    `(frame s-l, level l)` for every l, with PAD where that frame does not
 *    exist. Its benefit in MusicGen is predicting all levels of a step in
 *    parallel; a flat GPT like this one still emits one token at a time, so
 *    here it only costs L-1 extra PAD steps and weakens the conditioning of the
 *    fine levels on their own frame. It is provided for experiments and
 *    compatibility; prefer `flatten`.
 *
 * Level l uses token ids `[l*K, (l+1)*K)` (see vocabulary.ts), so the level of
 * a token is explicit and sampling can be restricted to it.
 */
import { InvalidArgumentError } from '@vqkit/core';
import { classTokenId, type Vocabulary } from './vocabulary.js';

/** Order of residual-VQ audio codes in the sequence (see the module comment). */
export type AudioPattern = 'flatten' | 'delay';

/** A half-open range of allowed token ids `[start, end)`. */
export interface TokenRange {
  readonly start: number;
  readonly end: number;
}

/** Height and width of an image code grid. */
export interface GridShape {
  readonly height: number;
  readonly width: number;
}

/** Options of the `*ToSequence` helpers. */
export interface SequenceOptions {
  /** The prior's token layout. */
  vocabulary: Vocabulary;
  /** Condition on this class (0-based index, not a token id). Default: unconditional (BOS). */
  classIndex?: number;
}

/** A sequence split back into its prefix and codes. */
export interface DecodedPrefix {
  /** The class index of the prefix, or null for BOS / no prefix. */
  classIndex: number | null;
}

function prefixToken(options: SequenceOptions): number {
  return options.classIndex === undefined ? options.vocabulary.bosId : classTokenId(options.vocabulary, options.classIndex);
}

function decodePrefix(token: number, vocabulary: Vocabulary): number | null {
  if (token === vocabulary.bosId) return null;
  const c = token - vocabulary.firstClassId;
  if (c >= 0 && c < vocabulary.numClasses) return c;
  throw new InvalidArgumentError(`sequence starts with token ${token}, which is neither BOS (${vocabulary.bosId}) nor a class token`);
}

function checkCode(code: number, codebookSize: number, where: string): void {
  if (!Number.isInteger(code) || code < 0 || code >= codebookSize) {
    throw new InvalidArgumentError(`${where}: code ${code} is outside the codebook [0, ${codebookSize})`);
  }
}

/**
 * An image code grid (row-major `[height, width]`, or `[height, width, levels]`
 * for a multi-level quantizer — already raster order, a cell's levels
 * consecutive) as a prior sequence `[prefix, codes...]` of length
 * `height*width*levels + 1`. Level l of a cell uses token ids
 * `[l*K, (l+1)*K)`, as for residual audio codes.
 */
export function imageCodesToSequence(codes: ArrayLike<number>, grid: GridShape, options: SequenceOptions): Int32Array {
  const { codebookSize: K, levels: L } = options.vocabulary;
  const n = grid.height * grid.width * L;
  if (codes.length !== n) {
    throw new InvalidArgumentError(`expected ${grid.height}x${grid.width}${L > 1 ? `x${L} levels` : ''} = ${n} codes, got ${codes.length}`);
  }
  const out = new Int32Array(n + 1);
  out[0] = prefixToken(options);
  for (let i = 0; i < n; i++) {
    checkCode(codes[i]!, K, `image code ${i}`);
    out[i + 1] = codes[i]! + (i % L) * K;
  }
  return out;
}

/**
 * The inverse of {@link imageCodesToSequence}. Accepts the full sequence
 * (`height*width*levels + 1` tokens, prefix first) or just the code tokens
 * (e.g. what `generate` returns).
 */
export function sequenceToImageCodes(
  sequence: ArrayLike<number>,
  grid: GridShape,
  vocabulary: Vocabulary,
): DecodedPrefix & { codes: Int32Array } {
  const { codebookSize: K, levels: L } = vocabulary;
  const n = grid.height * grid.width * L;
  let offset = 0;
  let classIndex: number | null = null;
  if (sequence.length === n + 1) {
    classIndex = decodePrefix(sequence[0]!, vocabulary);
    offset = 1;
  } else if (sequence.length !== n) {
    throw new InvalidArgumentError(`expected ${n} or ${n + 1} tokens for a ${grid.height}x${grid.width}${L > 1 ? `x${L}` : ''} grid, got ${sequence.length}`);
  }
  const codes = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const t = sequence[offset + i]!;
    const level = i % L;
    const code = t - level * K;
    if (L === 1) checkCode(t, K, `token ${offset + i}`);
    else if (!Number.isInteger(t) || code < 0 || code >= K) {
      throw new InvalidArgumentError(`token ${offset + i} (${t}) is not a level-${level} code token [${level * K}, ${(level + 1) * K})`);
    }
    codes[i] = code;
  }
  return { classIndex, codes };
}

/** Options of {@link audioCodesToSequence}. */
export interface AudioSequenceOptions extends SequenceOptions {
  /** Order of the levels in the sequence. Default `'flatten'`. */
  pattern?: AudioPattern;
}

/** Number of code-token positions (after the prefix) `frames` audio frames occupy. */
export function audioSequenceLength(frames: number, levels: number, pattern: AudioPattern = 'flatten'): number {
  return pattern === 'flatten' ? frames * levels : frames === 0 ? 0 : (frames + levels - 1) * levels;
}

/**
 * Residual-VQ audio codes (row-major `[frames, levels]`, `levels` from the
 * vocabulary) as a prior sequence `[prefix, tokens...]`; see the module comment
 * for the two patterns.
 */
export function audioCodesToSequence(codes: ArrayLike<number>, options: AudioSequenceOptions): Int32Array {
  const { vocabulary } = options;
  const pattern = options.pattern ?? 'flatten';
  const L = vocabulary.levels;
  const K = vocabulary.codebookSize;
  if (codes.length % L !== 0) throw new InvalidArgumentError(`${codes.length} codes do not split into frames of ${L} levels`);
  const frames = codes.length / L;
  for (let i = 0; i < codes.length; i++) checkCode(codes[i]!, K, `audio code (frame ${Math.floor(i / L)}, level ${i % L})`);
  const out = new Int32Array(1 + audioSequenceLength(frames, L, pattern));
  out[0] = prefixToken(options);
  if (pattern === 'flatten') {
    for (let i = 0; i < codes.length; i++) out[1 + i] = codes[i]! + (i % L) * K;
  } else if (pattern === 'delay') {
    if (vocabulary.padId < 0) throw new InvalidArgumentError("the 'delay' pattern needs a vocabulary with a PAD token (padToken: true)");
    const steps = frames === 0 ? 0 : frames + L - 1;
    for (let s = 0; s < steps; s++) {
      for (let l = 0; l < L; l++) {
        const f = s - l;
        out[1 + s * L + l] = f >= 0 && f < frames ? codes[f * L + l]! + l * K : vocabulary.padId;
      }
    }
  } else {
    throw new InvalidArgumentError(`unknown audio pattern '${String(pattern)}'; use 'flatten' or 'delay'`);
  }
  return out;
}

/**
 * The inverse of {@link audioCodesToSequence}: returns codes `[frames, levels]`
 * row-major. Accepts the sequence with its prefix or without (the first token
 * tells: code tokens and PAD are never prefixes).
 */
export function sequenceToAudioCodes(
  sequence: ArrayLike<number>,
  vocabulary: Vocabulary,
  pattern: AudioPattern = 'flatten',
): DecodedPrefix & { codes: Int32Array; frames: number } {
  const L = vocabulary.levels;
  const K = vocabulary.codebookSize;
  let offset = 0;
  let classIndex: number | null = null;
  if (sequence.length > 0 && sequence[0]! >= vocabulary.codeTokens && sequence[0] !== vocabulary.padId) {
    classIndex = decodePrefix(sequence[0]!, vocabulary);
    offset = 1;
  }
  const n = sequence.length - offset;
  if (n % L !== 0) throw new InvalidArgumentError(`${n} tokens do not split into steps of ${L} levels`);
  const levelCode = (pos: number, level: number): number => {
    const t = sequence[offset + pos]!;
    const code = t - level * K;
    if (!Number.isInteger(t) || code < 0 || code >= K) {
      throw new InvalidArgumentError(`token ${offset + pos} (${t}) is not a level-${level} code token [${level * K}, ${(level + 1) * K})`);
    }
    return code;
  };
  if (pattern === 'flatten') {
    const codes = new Int32Array(n);
    for (let i = 0; i < n; i++) codes[i] = levelCode(i, i % L);
    return { classIndex, codes, frames: n / L };
  }
  if (pattern !== 'delay') throw new InvalidArgumentError(`unknown audio pattern '${String(pattern)}'; use 'flatten' or 'delay'`);
  const steps = n / L;
  const frames = steps === 0 ? 0 : steps - (L - 1);
  if (frames < 0) throw new InvalidArgumentError(`a delay-pattern sequence needs at least ${L} steps, got ${steps}`);
  const codes = new Int32Array(frames * L);
  for (let s = 0; s < steps; s++) {
    for (let l = 0; l < L; l++) {
      const f = s - l;
      const pos = s * L + l;
      if (f >= 0 && f < frames) codes[f * L + l] = levelCode(pos, l);
      else if (sequence[offset + pos] !== vocabulary.padId) {
        throw new InvalidArgumentError(`token ${offset + pos} should be PAD (${vocabulary.padId}) in the delay pattern, got ${sequence[offset + pos]}`);
      }
    }
  }
  return { classIndex, codes, frames };
}

/**
 * A sampling constraint for image codes: every generated token must be a code
 * (never BOS, PAD or a class token) of its cell's level.
 */
export function imageTokenConstraint(vocabulary: Vocabulary): (step: number) => TokenRange {
  if (vocabulary.levels > 1) return audioTokenConstraint(vocabulary, 'flatten');
  const range = { start: 0, end: vocabulary.codebookSize };
  return () => range;
}

/**
 * A sampling constraint for audio: generated token `step` (0-based, after the
 * prefix) must be a code of its level, or PAD where the delay pattern has one.
 * `frames` is needed for the delay pattern only (it fixes where the trailing
 * PADs go).
 */
export function audioTokenConstraint(vocabulary: Vocabulary, pattern: AudioPattern = 'flatten', frames?: number): (step: number) => TokenRange {
  const L = vocabulary.levels;
  const K = vocabulary.codebookSize;
  if (pattern === 'flatten') {
    return (step) => {
      const l = step % L;
      return { start: l * K, end: (l + 1) * K };
    };
  }
  if (frames === undefined) throw new InvalidArgumentError("the 'delay' pattern constraint needs the number of frames");
  const pad = { start: vocabulary.padId, end: vocabulary.padId + 1 };
  return (step) => {
    const l = step % L;
    const f = Math.floor(step / L) - l;
    return f >= 0 && f < frames ? { start: l * K, end: (l + 1) * K } : pad;
  };
}
