/**
 * Chunked processing of long signals in bounded working memory, for running
 * an encoder/decoder over files too long for one pass.
 *
 * The signal is tiled by *cores* of `chunkLength` samples. Each chunk's
 * processor sees its core plus `context` samples on both sides (clipped at
 * the signal edges) and its output is kept only over the core — widened by
 * crossfade/2 on each side, where it is blended with the neighbour's.
 *
 * Why this is seamless: if an operator's receptive field reaches R samples
 * either way, its output at t depends only on [t − R, t + R]. With
 * context ≥ R + crossfade/2, every kept output sample saw all the input it
 * depends on, so each chunk reproduces the unchunked output exactly where it
 * is kept, and a linear crossfade (gains sum to 1) of two equal values is
 * that value. For a learned codec the residual differences come from
 * normalisation statistics and quantiser ties; the crossfade hides them.
 *
 * Token alignment: with `hop` set to the encoder's stride, chunkLength and
 * context are multiples of it, so every chunk's frame grid coincides with the
 * global one; {@link coreFrameRange} says which of a chunk's frames to keep,
 * and tokens from consecutive chunks concatenate to the unchunked tokens.
 */
import { InvalidArgumentError } from '@vqkit/core';

/** Crossfade gain curve. */
export type CrossfadeCurve = 'linear' | 'equal-power';

/** Options for {@link planChunks} and {@link processChunked}. */
export interface ChunkingOptions {
  /** Samples each chunk owns (its core). A positive multiple of `hop`. */
  chunkLength: number;
  /** Extra input samples on each side of the core; set ≥ receptive field + crossfade/2. Multiple of `hop`. Default 0. */
  context?: number;
  /** Samples blended across each chunk boundary; even, ≤ chunkLength and ≤ 2·context. Default 0 (hard splice). */
  crossfade?: number;
  /**
   * 'linear' (default): gains sum to 1 — exact for identical content, the
   * right choice for overlapping outputs of the same model. 'equal-power':
   * squared gains sum to 1 — keeps loudness when the two sides are uncorrelated.
   */
  curve?: CrossfadeCurve;
  /** Frame stride that chunk boundaries must align to (e.g. the encoder hop). Default 1. */
  hop?: number;
}

/** One chunk of a plan. Ranges are half-open sample indices into the whole signal. */
export interface Chunk {
  /** Position in the plan. */
  readonly index: number;
  /** First input sample the processor sees. */
  readonly inputStart: number;
  /** One past the last input sample. */
  readonly inputEnd: number;
  /** First sample this chunk owns. Cores tile [0, length). */
  readonly coreStart: number;
  /** One past the last owned sample. */
  readonly coreEnd: number;
}

interface ResolvedChunking {
  chunkLength: number;
  context: number;
  crossfade: number;
  curve: CrossfadeCurve;
  hop: number;
}

function resolve(options: ChunkingOptions): ResolvedChunking {
  const { chunkLength, context = 0, crossfade = 0, curve = 'linear', hop = 1 } = options;
  const isInt = (v: number, min: number): boolean => Number.isInteger(v) && v >= min;
  if (!isInt(hop, 1)) throw new InvalidArgumentError(`chunking: hop must be a positive integer, got ${hop}`);
  if (!isInt(chunkLength, 1) || chunkLength % hop !== 0) {
    throw new InvalidArgumentError(`chunking: chunkLength must be a positive multiple of hop=${hop}, got ${chunkLength}`);
  }
  if (!isInt(context, 0) || context % hop !== 0) {
    throw new InvalidArgumentError(`chunking: context must be a non-negative multiple of hop=${hop}, got ${context}`);
  }
  if (!isInt(crossfade, 0) || crossfade % 2 !== 0 || crossfade > chunkLength || crossfade > 2 * context) {
    throw new InvalidArgumentError(
      `chunking: crossfade must be even, ≤ chunkLength (${chunkLength}) and ≤ 2·context (${2 * context}), got ${crossfade}`,
    );
  }
  if (curve !== 'linear' && curve !== 'equal-power') throw new InvalidArgumentError(`chunking: unknown curve ${String(curve)}`);
  return { chunkLength, context, crossfade, curve, hop };
}

/** Splits [0, length) into chunks. An empty signal has no chunks. */
export function planChunks(length: number, options: ChunkingOptions): Chunk[] {
  const { chunkLength, context } = resolve(options);
  if (!Number.isInteger(length) || length < 0) throw new InvalidArgumentError(`chunking: length must be a non-negative integer, got ${length}`);
  const chunks: Chunk[] = [];
  for (let coreStart = 0, index = 0; coreStart < length; coreStart += chunkLength, index++) {
    const coreEnd = Math.min(length, coreStart + chunkLength);
    chunks.push({ index, coreStart, coreEnd, inputStart: Math.max(0, coreStart - context), inputEnd: Math.min(length, coreEnd + context) });
  }
  return chunks;
}

/**
 * Gains across a crossfade of `length` samples, evaluated at sample centres
 * u = (i + ½) / length: fadeIn rises from ≈0 to ≈1, fadeOut is its mirror.
 */
export function crossfadeGains(length: number, curve: CrossfadeCurve = 'linear'): { fadeIn: Float32Array; fadeOut: Float32Array } {
  const fadeIn = new Float32Array(length);
  const fadeOut = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const u = (i + 0.5) / length;
    fadeIn[i] = curve === 'linear' ? u : Math.sin((Math.PI / 2) * u);
    fadeOut[i] = curve === 'linear' ? 1 - u : Math.cos((Math.PI / 2) * u);
  }
  return { fadeIn, fadeOut };
}

/**
 * The frames of a chunk's output that belong to its core, for a frame-wise
 * encoder with stride `hop`: frame j of the chunk covers input samples from
 * inputStart + j·hop. Concatenating these ranges over the plan gives the
 * frames of the whole signal.
 */
export function coreFrameRange(chunk: Chunk, hop: number): { start: number; end: number } {
  return {
    start: (chunk.coreStart - chunk.inputStart) / hop,
    end: Math.ceil((chunk.coreEnd - chunk.inputStart) / hop),
  };
}

/**
 * Runs a sample-to-sample processor (e.g. encode → decode) chunk by chunk and
 * stitches the outputs. `process` gets the chunk's input samples (a view; do
 * not keep it) and must return as many output samples.
 */
export function processChunked(
  signal: Float32Array,
  process: (input: Float32Array, chunk: Chunk) => Float32Array,
  options: ChunkingOptions,
): Float32Array {
  const { crossfade, curve } = resolve(options);
  const n = signal.length;
  const chunks = planChunks(n, options);
  const output = new Float32Array(n);
  const half = crossfade / 2;
  const { fadeIn, fadeOut } = crossfadeGains(crossfade, curve);
  for (const chunk of chunks) {
    const result = process(signal.subarray(chunk.inputStart, chunk.inputEnd), chunk);
    if (result.length !== chunk.inputEnd - chunk.inputStart) {
      throw new InvalidArgumentError(
        `processChunked: processor returned ${result.length} samples for a ${chunk.inputEnd - chunk.inputStart}-sample chunk`,
      );
    }
    const first = chunk.index > 0;
    const last = chunk.index === chunks.length - 1;
    const from = first ? chunk.coreStart - half : chunk.coreStart;
    const to = Math.min(n, last ? chunk.coreEnd : chunk.coreEnd + half);
    for (let t = from; t < to; t++) {
      let gain = 1;
      if (first && t < chunk.coreStart + half) gain *= fadeIn[t - (chunk.coreStart - half)]!;
      if (!last && t >= chunk.coreEnd - half) gain *= fadeOut[t - (chunk.coreEnd - half)]!;
      output[t]! += gain * result[t - chunk.inputStart]!;
    }
  }
  return output;
}
