/**
 * Turning real-valued weights (counts, or a predictor's probability vector)
 * into integer frequencies: every symbol ≥ 1 (so any symbol stays codable),
 * a fixed total, and a result that depends only on the IEEE-754 inputs, so
 * an encoder and a decoder on different machines derive identical tables.
 */
import { InvalidArgumentError } from '../errors.js';
import { MAX_ALPHABET_SIZE, MAX_TOTAL_FREQUENCY } from './model.js';

/** Default total of quantized tables: 2^16, or the next power of two ≥ 2·alphabetSize when that is larger. */
export function defaultFrequencyTotal(alphabetSize: number): number {
  let total = 1 << 16;
  while (total < 2 * alphabetSize) total *= 2;
  return Math.min(total, MAX_TOTAL_FREQUENCY);
}

/**
 * Quantizes non-negative weights to integer frequencies summing to exactly
 * `total`, each ≥ 1. Non-finite or negative weights count as 0; all-zero
 * weights give the uniform table.
 *
 * Deterministic by construction: one pass of float operations in index order
 * (sum, then `floor(w·scale)` per symbol), and the integer remainder goes to
 * the largest weight (lowest index on ties).
 */
export function quantizeFrequencies(
  weights: ArrayLike<number>,
  total: number = defaultFrequencyTotal(weights.length),
  out: Uint32Array = new Uint32Array(weights.length),
): Uint32Array {
  const n = weights.length;
  if (n < 1 || n > MAX_ALPHABET_SIZE) throw new InvalidArgumentError(`quantizeFrequencies: alphabet size ${n} outside [1, ${MAX_ALPHABET_SIZE}]`);
  if (!Number.isInteger(total) || total < n || total > MAX_TOTAL_FREQUENCY) {
    throw new InvalidArgumentError(`quantizeFrequencies: total ${total} must be an integer in [alphabet size ${n}, ${MAX_TOTAL_FREQUENCY}]`);
  }
  if (out.length !== n) throw new InvalidArgumentError('quantizeFrequencies: output length must equal the alphabet size');
  let sum = 0;
  let argmax = 0;
  let max = -1;
  for (let s = 0; s < n; s++) {
    const w = weights[s];
    const v = Number.isFinite(w) && w > 0 ? w : 0;
    sum += v;
    if (v > max) {
      max = v;
      argmax = s;
    }
  }
  const spare = total - n;
  let assigned = 0;
  if (sum > 0 && Number.isFinite(sum)) {
    for (let s = 0; s < n; s++) {
      const w = weights[s];
      const v = Number.isFinite(w) && w > 0 ? w : 0;
      // Divide first: (v / sum) ≤ 1 stays finite even for subnormal sums; min() guards rounding above the budget.
      const share = Math.min(spare, Math.floor((v / sum) * spare));
      out[s] = 1 + share;
      assigned += share;
    }
    if (assigned > spare) {
      // Float rounding can overshoot by a few units in total; take them back from the lowest indices, deterministically.
      let excess = assigned - spare;
      for (let s = 0; excess > 0; s = (s + 1) % n) {
        if (out[s] > 1) {
          const take = Math.min(excess, out[s] - 1);
          out[s] -= take;
          excess -= take;
        }
      }
      assigned = spare;
    }
    out[argmax] += spare - assigned;
  } else {
    const each = Math.floor(total / n);
    out.fill(each);
    out[0] += total - each * n;
  }
  return out;
}
