/**
 * Model (a) without a coder: every code in ⌈log2 K⌉ bits, MSB first, packed
 * across byte boundaries. The baseline the other models are measured against
 * and a format that decodes without any model state.
 */
import { EntropyDecodeError } from '../errors.js';

/** Bits a code of an alphabet of `alphabetSize` takes (0 for a one-symbol alphabet). */
export function fixedLengthBits(alphabetSize: number): number {
  let bits = 0;
  while (2 ** bits < alphabetSize) bits++;
  return bits;
}

/** Total bits of `count` row-major [..., levels] codes with the given per-level sizes. */
export function fixedLengthStreamBits(count: number, codebookSizes: readonly number[]): number {
  const levels = codebookSizes.length;
  const full = Math.floor(count / levels);
  let bits = 0;
  for (let l = 0; l < levels; l++) bits += (full + (l < count % levels ? 1 : 0)) * fixedLengthBits(codebookSizes[l]);
  return bits;
}

/** Packs row-major [..., levels] codes; level `l` uses ⌈log2 codebookSizes[l]⌉ bits. */
export function packFixedLength(codes: ArrayLike<number>, codebookSizes: readonly number[]): Uint8Array {
  const levels = codebookSizes.length;
  const widths = codebookSizes.map(fixedLengthBits);
  const out = new Uint8Array(Math.ceil(fixedLengthStreamBits(codes.length, codebookSizes) / 8));
  let pos = 0;
  let acc = 0;
  let accBits = 0;
  for (let i = 0; i < codes.length; i++) {
    const width = widths[i % levels];
    const value = codes[i];
    // Feed in ≤ 16-bit chunks so the accumulator never leaves exact integer range.
    for (let rest = width; rest > 0; ) {
      const take = Math.min(rest, 16);
      rest -= take;
      acc = acc * 2 ** take + (Math.floor(value / 2 ** rest) % 2 ** take);
      accBits += take;
      while (accBits >= 8) {
        accBits -= 8;
        out[pos++] = Math.floor(acc / 2 ** accBits) & 0xff;
        acc %= 2 ** accBits;
      }
    }
  }
  if (accBits > 0) out[pos] = (acc * 2 ** (8 - accBits)) & 0xff;
  return out;
}

/**
 * Unpacks `count` codes from `bytes[start, end)`. The byte length must be
 * exactly what `count` codes need, and every code must be < its codebook size
 * (a non-power-of-two codebook leaves unused bit patterns).
 */
export function unpackFixedLength(
  bytes: Uint8Array,
  count: number,
  codebookSizes: readonly number[],
  out: Int32Array = new Int32Array(count),
  start = 0,
  end = bytes.length,
): Int32Array {
  const expected = Math.ceil(fixedLengthStreamBits(count, codebookSizes) / 8);
  if (end - start !== expected) {
    throw new EntropyDecodeError(`fixed-length payload is ${end - start} byte(s), ${count} codes need ${expected}`);
  }
  const levels = codebookSizes.length;
  const widths = codebookSizes.map(fixedLengthBits);
  let pos = start;
  let acc = 0;
  let accBits = 0;
  for (let i = 0; i < count; i++) {
    const width = widths[i % levels];
    let value = 0;
    for (let rest = width; rest > 0; ) {
      const take = Math.min(rest, 16);
      rest -= take;
      while (accBits < take) {
        acc = acc * 256 + bytes[pos++];
        accBits += 8;
      }
      accBits -= take;
      value = value * 2 ** take + Math.floor(acc / 2 ** accBits);
      acc %= 2 ** accBits;
    }
    if (value >= codebookSizes[i % levels]) {
      throw new EntropyDecodeError(`fixed-length code ${value} at index ${i} outside the codebook of size ${codebookSizes[i % levels]}`);
    }
    out[i] = value;
  }
  if (acc !== 0) throw new EntropyDecodeError('fixed-length payload has non-zero padding bits');
  return out;
}
