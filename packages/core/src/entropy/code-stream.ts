/**
 * Entropy coding of one code tensor of shape [..., levels] in row-major
 * order. Each level gets its own model (levels have their own codebooks and
 * statistics); every step hands the model the left and upper neighbours at
 * the same level, which are already coded in raster order.
 *
 * Neighbour convention for a tensor [d0, ..., dn-1, levels]: "left" is the
 * previous index along dn-1 (time for audio [T, L], columns for a grid
 * [H, W, L]); "up" is the previous index along dn-2 (rows). Both reset at the
 * edge of their axis, so frames of a video [F, H, W, L] do not leak into
 * each other through them.
 */
import { EntropyDecodeError, InvalidArgumentError } from '../errors.js';
import { RangeDecoder, RangeEncoder } from './range-coder.js';
import type { CodingContext, ProbabilityModel } from './model.js';

/** Validates a [..., levels] shape against the code count and level count; returns the element count. */
export function codeTensorSize(shape: readonly number[], levels: number): number {
  if (shape.length < 1 || shape[shape.length - 1] !== levels) {
    throw new InvalidArgumentError(`code tensor shape [${shape.join(', ')}] must end with the level count ${levels}`);
  }
  let size = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new InvalidArgumentError(`code tensor shape [${shape.join(', ')}] has an invalid dimension ${d}`);
    size *= d;
  }
  return size;
}

/** Walks a [..., levels] tensor in raster order and fills each step's context (neighbours at the same level); reuses one context object. */
export class ContextWalker {
  readonly context: CodingContext = { position: 0, level: 0, left: -1, up: -1 };
  private readonly levels: number;
  private readonly width: number;
  private readonly height: number;

  constructor(shape: readonly number[]) {
    const n = shape.length - 1;
    this.levels = shape[n];
    this.width = n >= 1 ? shape[n - 1] : 1;
    this.height = n >= 2 ? shape[n - 2] : 1;
  }

  /** Fills the context for flat index `i`, reading neighbours from `codes` (already coded). */
  at(i: number, codes: ArrayLike<number>): CodingContext {
    const ctx = this.context;
    const levels = this.levels;
    const level = i % levels;
    const cell = (i - level) / levels;
    const column = cell % this.width;
    const row = Math.floor(cell / this.width) % this.height;
    ctx.position = i;
    ctx.level = level;
    ctx.left = n1(column > 0, codes, i - levels);
    ctx.up = n1(row > 0, codes, i - levels * this.width);
    return ctx;
  }
}

function n1(exists: boolean, codes: ArrayLike<number>, index: number): number {
  return exists ? codes[index] : -1;
}

/** Range-codes `codes` (row-major `shape` = [..., levels]) with one model per level. Models are not reset. */
export function encodeCodeTensor(
  codes: ArrayLike<number>,
  shape: readonly number[],
  models: readonly ProbabilityModel[],
): Uint8Array {
  const size = codeTensorSize(shape, models.length);
  if (codes.length !== size) throw new InvalidArgumentError(`encodeCodeTensor: ${codes.length} codes for shape [${shape.join(', ')}] (${size})`);
  const encoder = new RangeEncoder();
  const walker = new ContextWalker(shape);
  for (let i = 0; i < size; i++) {
    const ctx = walker.at(i, codes);
    const model = models[ctx.level];
    const symbol = codes[i];
    if (!Number.isInteger(symbol) || symbol < 0 || symbol >= model.alphabetSize) {
      throw new InvalidArgumentError(`encodeCodeTensor: code ${symbol} at index ${i} outside [0, ${model.alphabetSize}) of level ${ctx.level}`);
    }
    encoder.encode(symbol, model.frequencies(ctx));
    model.update(symbol, ctx);
  }
  return encoder.finish();
}

/**
 * Decodes a tensor written by `encodeCodeTensor` from `bytes[start, end)`
 * into `out` (length = the shape's size). Throws `EntropyDecodeError` when
 * the payload is not a valid stream for these models.
 */
export function decodeCodeTensor(
  bytes: Uint8Array,
  shape: readonly number[],
  models: readonly ProbabilityModel[],
  out?: Int32Array,
  start = 0,
  end = bytes.length,
): Int32Array {
  const size = codeTensorSize(shape, models.length);
  const codes = out ?? new Int32Array(size);
  if (codes.length !== size) throw new InvalidArgumentError(`decodeCodeTensor: output length ${codes.length} for shape size ${size}`);
  const decoder = new RangeDecoder(bytes, start, end);
  const walker = new ContextWalker(shape);
  for (let i = 0; i < size; i++) {
    const ctx = walker.at(i, codes);
    const model = models[ctx.level];
    const symbol = decoder.decode(model.frequencies(ctx));
    if (!(symbol >= 0 && symbol < model.alphabetSize)) throw new EntropyDecodeError(`decoded symbol ${symbol} outside the alphabet`);
    codes[i] = symbol;
    model.update(symbol, ctx);
  }
  decoder.finish();
  return codes;
}
