/**
 * Range coder (arithmetic coding over integer cumulative frequencies), in the
 * carry-propagating byte-oriented style of LZMA's rc: `low` accumulates the
 * interval start, a carry out of the top byte is resolved through a one-byte
 * cache plus a count of pending 0xFF bytes, so no bit is ever emitted twice.
 *
 * Why 48 bits rather than the classic 32: JavaScript numbers hold integers
 * exactly up to 2^53, so a 48-bit range (normalised to ≥ 2^40) costs nothing
 * extra and lets models use totals up to 2^28 with negligible rounding loss
 * (a 32-bit coder would need totals ≤ 2^16, too tight for 65536-symbol
 * alphabets and context mixing). All arithmetic is exact integer arithmetic
 * on doubles, so the output is identical on every platform.
 *
 * Stream format (what `finish()` returns): the bytes of the final code value,
 * most significant first, minus the always-zero leading byte and minus up to
 * `FLUSH_BYTES` trailing zero bytes of the flush (the decoder reads zeros past
 * the end). The decoder therefore knows exactly how many bytes a valid stream
 * lets it read, which turns truncation and appended garbage into errors.
 */
import { EntropyDecodeError, InvalidArgumentError } from '../errors.js';
import { MAX_TOTAL_FREQUENCY, type FrequencyTable } from './model.js';

const TWO_POW_40 = 2 ** 40;
const TWO_POW_48 = 2 ** 48;
/** Range is renormalised (one byte shifted out) whenever it drops below this. */
const RANGE_BOTTOM = TWO_POW_40;
/** Initial range: the whole 48-bit interval. */
const RANGE_INITIAL = TWO_POW_48 - 1;
/** Bytes the encoder flushes at the end (the 48-bit low register). */
export const FLUSH_BYTES = 6;

/** floor(a / b) for non-negative integers < 2^53, exact despite float division rounding up. */
function floorDiv(a: number, b: number): number {
  let q = Math.floor(a / b);
  if (q * b > a) q -= 1;
  return q;
}

/** Encodes symbols into bytes. One instance per stream. */
export class RangeEncoder {
  private low = 0;
  private range = RANGE_INITIAL;
  /** Byte held back until we know whether a carry reaches it. */
  private cache = 0;
  /** Bytes pending: the cache byte plus the 0xFF bytes after it. */
  private pending = 1;
  /** The first cache byte is always 0 (the interval never exceeds its start); it is not written. */
  private first = true;
  private out: Uint8Array = new Uint8Array(64);
  private length = 0;
  private finished = false;

  /** Codes the interval [lowerBound, lowerBound + frequency) of [0, total). */
  encodeInterval(lowerBound: number, frequency: number, total: number): void {
    if (this.finished) throw new InvalidArgumentError('RangeEncoder: encode after finish()');
    if (
      !(total >= 1 && total <= MAX_TOTAL_FREQUENCY) ||
      !(frequency >= 1) ||
      !(lowerBound >= 0) ||
      lowerBound + frequency > total ||
      !Number.isInteger(lowerBound) ||
      !Number.isInteger(frequency) ||
      !Number.isInteger(total)
    ) {
      throw new InvalidArgumentError(
        `RangeEncoder: invalid interval [${lowerBound}, ${lowerBound + frequency}) of total ${total} (need integers, frequency ≥ 1, total ≤ ${MAX_TOTAL_FREQUENCY})`,
      );
    }
    const r = floorDiv(this.range, total);
    this.low += r * lowerBound;
    this.range = r * frequency;
    while (this.range < RANGE_BOTTOM) {
      this.range *= 256;
      this.shiftLow();
    }
  }

  /** Codes `symbol` with the given frequency table. */
  encode(symbol: number, table: FrequencyTable): void {
    this.encodeInterval(table.lowerBound(symbol), table.frequency(symbol), table.total);
  }

  /** Ends the stream and returns its bytes. */
  finish(): Uint8Array {
    if (this.finished) throw new InvalidArgumentError('RangeEncoder: finish() called twice');
    this.finished = true;
    // Any value in [low, low + range) identifies the stream; take the one with
    // the most trailing zero bits so the trailing zero bytes can be dropped.
    const high = this.low + this.range - 1;
    for (let bits = 48; bits >= 0; bits--) {
      const unit = 2 ** bits;
      const candidate = Math.ceil(this.low / unit) * unit;
      if (candidate <= high) {
        this.low = candidate;
        break;
      }
    }
    const flushStart = this.length;
    for (let i = 0; i <= FLUSH_BYTES; i++) this.shiftLow();
    let end = this.length;
    // Only the flush's own zeros are dropped, so a decoder never has to read more than FLUSH_BYTES past the end.
    while (end > flushStart && end > this.length - FLUSH_BYTES && this.out[end - 1] === 0) end--;
    return this.out.slice(0, end);
  }

  /** Bytes written so far (the stream is a little longer after finish()). */
  get bytesWritten(): number {
    return this.length;
  }

  private shiftLow(): void {
    if (this.low < 0xff * TWO_POW_40 || this.low >= TWO_POW_48) {
      const carry = this.low >= TWO_POW_48 ? 1 : 0;
      let byte = this.cache;
      for (; this.pending > 0; this.pending--) {
        if (this.first) this.first = false;
        else this.push((byte + carry) & 0xff);
        byte = 0xff;
      }
      this.cache = Math.floor(this.low / TWO_POW_40) & 0xff;
    }
    this.pending++;
    this.low = (this.low % TWO_POW_40) * 256;
  }

  private push(byte: number): void {
    if (this.length === this.out.length) {
      const grown = new Uint8Array(this.out.length * 2);
      grown.set(this.out);
      this.out = grown;
    }
    this.out[this.length++] = byte;
  }
}

/** Decodes symbols from bytes written by `RangeEncoder`. Never reads or allocates beyond its input. */
export class RangeDecoder {
  private code = 0;
  private range = RANGE_INITIAL;
  private readonly bytes: Uint8Array;
  private readonly end: number;
  private pos: number;
  /** Zero bytes supplied past the end (the flush zeros the encoder dropped). */
  private virtualBytes = 0;

  /** Decodes `bytes[start, end)`. */
  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
    for (let i = 0; i < FLUSH_BYTES; i++) this.code = this.code * 256 + this.nextByte();
    if (this.code >= this.range) throw new EntropyDecodeError('range decoder: stream starts outside the coding interval');
  }

  /** The target in [0, total) the next symbol's interval must contain. Follow with `consume`. */
  decodeTarget(total: number): number {
    if (!(total >= 1 && total <= MAX_TOTAL_FREQUENCY) || !Number.isInteger(total)) {
      throw new InvalidArgumentError(`RangeDecoder: invalid total ${total}`);
    }
    const r = floorDiv(this.range, total);
    const target = floorDiv(this.code, r);
    if (target >= total) throw new EntropyDecodeError('range decoder: code value outside the coded interval (corrupt stream)');
    return target;
  }

  /** Removes the decoded interval; must follow `decodeTarget` with the same total. */
  consume(lowerBound: number, frequency: number, total: number): void {
    const r = floorDiv(this.range, total);
    this.code -= r * lowerBound;
    this.range = r * frequency;
    if (!(this.code >= 0 && this.code < this.range)) {
      throw new EntropyDecodeError('range decoder: model returned an interval that does not contain the target');
    }
    while (this.range < RANGE_BOTTOM) {
      this.range *= 256;
      this.code = (this.code % TWO_POW_40) * 256 + this.nextByte();
    }
  }

  /** Decodes one symbol with the given frequency table. */
  decode(table: FrequencyTable): number {
    const total = table.total;
    const target = this.decodeTarget(total);
    const symbol = table.symbolAt(target);
    this.consume(table.lowerBound(symbol), table.frequency(symbol), total);
    return symbol;
  }

  /**
   * Checks that the stream ended where a valid one ends: every byte consumed
   * and no more than the flush's dropped zeros read past the end.
   */
  finish(): void {
    if (this.pos < this.end) {
      throw new EntropyDecodeError(`range decoder: ${this.end - this.pos} unread byte(s) after the last symbol (corrupt stream or wrong symbol count)`);
    }
    if (this.virtualBytes > FLUSH_BYTES) {
      throw new EntropyDecodeError('range decoder: stream ended early (truncated)');
    }
  }

  private nextByte(): number {
    if (this.pos < this.end) return this.bytes[this.pos++];
    // A valid stream never needs more than the flush's dropped zeros: stop at
    // once, so a truncated payload costs no work beyond its own length.
    if (++this.virtualBytes > FLUSH_BYTES) throw new EntropyDecodeError('range decoder: stream ended early (truncated)');
    return 0;
  }
}
