/**
 * Byte-level primitives of the container and of serialised entropy models:
 * unsigned LEB128 varints (7 bits per byte, low first) and a bounds-checked
 * reader whose every read fails with a typed error instead of reading past
 * the end.
 */
import { ContainerCorruptError, ContainerTruncatedError } from '../errors.js';

/** Largest value a varint may carry: keeps everything an exact 32-bit-safe integer. */
export const MAX_VARINT = 2 ** 32 - 1;
/** Bytes of the longest varint (⌈32 / 7⌉). */
const MAX_VARINT_BYTES = 5;

/** Bytes `writeVarint` needs for `value`. */
export function varintLength(value: number): number {
  let n = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

/** Growable byte buffer. */
export class ByteWriter {
  private buf: Uint8Array;
  private len = 0;

  constructor(initialCapacity = 64) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity));
  }

  get length(): number {
    return this.len;
  }

  byte(value: number): void {
    this.reserve(1);
    this.buf[this.len++] = value & 0xff;
  }

  bytes(values: Uint8Array): void {
    this.reserve(values.length);
    this.buf.set(values, this.len);
    this.len += values.length;
  }

  varint(value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > MAX_VARINT) {
      throw new RangeError(`varint value ${value} outside [0, ${MAX_VARINT}]`);
    }
    while (value >= 128) {
      this.byte((value % 128) | 128);
      value = Math.floor(value / 128);
    }
    this.byte(value);
  }

  /** Big-endian 32-bit unsigned integer. */
  uint32(value: number): void {
    this.byte(value >>> 24);
    this.byte(value >>> 16);
    this.byte(value >>> 8);
    this.byte(value);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const grown = new Uint8Array(cap);
    grown.set(this.buf.subarray(0, this.len));
    this.buf = grown;
  }
}

/** Bounds-checked reader over `bytes[start, end)`. `what` names the field in error messages. */
export class ByteReader {
  pos: number;
  readonly end: number;
  private readonly data: Uint8Array;

  constructor(data: Uint8Array, start = 0, end = data.length) {
    this.data = data;
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  byte(what: string): number {
    if (this.pos >= this.end) throw new ContainerTruncatedError(`truncated: input ends inside ${what}`);
    return this.data[this.pos++];
  }

  bytes(n: number, what: string): Uint8Array {
    if (n > this.end - this.pos) throw new ContainerTruncatedError(`truncated: ${what} needs ${n} byte(s), ${this.end - this.pos} left`);
    const out = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  varint(what: string): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      const b = this.byte(what);
      value += (b & 127) * scale;
      if ((b & 128) === 0) {
        // Reject non-canonical encodings (a trailing zero byte) so one value has exactly one encoding.
        if (b === 0 && i > 0) throw new ContainerCorruptError(`corrupt: non-canonical varint in ${what}`);
        if (value > MAX_VARINT) throw new ContainerCorruptError(`corrupt: varint in ${what} exceeds ${MAX_VARINT}`);
        return value;
      }
      scale *= 128;
    }
    throw new ContainerCorruptError(`corrupt: varint in ${what} longer than ${MAX_VARINT_BYTES} bytes`);
  }

  uint32(what: string): number {
    const b = this.bytes(4, what);
    return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
  }
}
