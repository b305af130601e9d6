/**
 * Model (b): adaptive frequency counts. Starts uniform, adds `increment` to
 * each coded symbol and halves all counts (keeping each ≥ 1) when the total
 * passes `maxTotal`, so it tracks non-stationary statistics. Counts live in a
 * Fenwick tree: O(log K) per lookup and update, so 65536-symbol alphabets
 * stay fast.
 */
import { InvalidArgumentError } from '../errors.js';
import { MAX_ALPHABET_SIZE, MAX_TOTAL_FREQUENCY, type CodingContext, type FrequencyTable, type ProbabilityModel } from './model.js';

export interface AdaptiveFrequencyModelOptions {
  /** Added to a symbol's count each time it is coded. Default 24. */
  increment?: number;
  /** Counts are halved when the total exceeds this; raised to 4·alphabetSize when smaller. Default 2^16. */
  maxTotal?: number;
}

/** Defaults are part of the container format (the container stores only the model kind). */
export const ADAPTIVE_MODEL_DEFAULTS: Readonly<Required<AdaptiveFrequencyModelOptions>> = Object.freeze({
  increment: 24,
  maxTotal: 1 << 16,
});

export class AdaptiveFrequencyModel implements ProbabilityModel, FrequencyTable {
  readonly alphabetSize: number;
  private readonly increment: number;
  private readonly maxTotal: number;
  /** Fenwick tree over counts, 1-based. */
  private readonly tree: Float64Array;
  private readonly counts: Float64Array;
  private readonly topBit: number;
  private sum = 0;

  constructor(alphabetSize: number, options: AdaptiveFrequencyModelOptions = {}) {
    if (!Number.isInteger(alphabetSize) || alphabetSize < 1 || alphabetSize > MAX_ALPHABET_SIZE) {
      throw new InvalidArgumentError(`AdaptiveFrequencyModel: alphabet size ${alphabetSize} outside [1, ${MAX_ALPHABET_SIZE}]`);
    }
    const increment = options.increment ?? ADAPTIVE_MODEL_DEFAULTS.increment;
    if (!Number.isInteger(increment) || increment < 1 || increment > 1 << 16) {
      throw new InvalidArgumentError(`AdaptiveFrequencyModel: increment ${increment} must be an integer in [1, 65536]`);
    }
    this.alphabetSize = alphabetSize;
    this.increment = increment;
    this.maxTotal = Math.min(MAX_TOTAL_FREQUENCY - increment, Math.max(options.maxTotal ?? ADAPTIVE_MODEL_DEFAULTS.maxTotal, 4 * alphabetSize));
    this.tree = new Float64Array(alphabetSize + 1);
    this.counts = new Float64Array(alphabetSize);
    let top = 1;
    while (top * 2 <= alphabetSize) top *= 2;
    this.topBit = top;
    this.reset();
  }

  get total(): number {
    return this.sum;
  }

  reset(): void {
    this.counts.fill(1);
    this.rebuild();
  }

  frequencies(_context: CodingContext): FrequencyTable {
    return this;
  }

  update(symbol: number, _context: CodingContext): void {
    this.counts[symbol] += this.increment;
    for (let i = symbol + 1; i <= this.alphabetSize; i += i & -i) this.tree[i] += this.increment;
    this.sum += this.increment;
    if (this.sum > this.maxTotal) {
      for (let s = 0; s < this.alphabetSize; s++) this.counts[s] = Math.ceil(this.counts[s] / 2);
      this.rebuild();
    }
  }

  lowerBound(symbol: number): number {
    let acc = 0;
    for (let i = symbol; i > 0; i -= i & -i) acc += this.tree[i];
    return acc;
  }

  frequency(symbol: number): number {
    return this.counts[symbol];
  }

  symbolAt(target: number): number {
    // Fenwick descent: the largest prefix whose sum is ≤ target.
    let pos = 0;
    let remaining = target;
    for (let step = this.topBit; step > 0; step >>= 1) {
      const next = pos + step;
      if (next <= this.alphabetSize && this.tree[next] <= remaining) {
        pos = next;
        remaining -= this.tree[next];
      }
    }
    return pos;
  }

  private rebuild(): void {
    this.tree.fill(0);
    let sum = 0;
    for (let i = 1; i <= this.alphabetSize; i++) {
      this.tree[i] += this.counts[i - 1];
      sum += this.counts[i - 1];
      const parent = i + (i & -i);
      if (parent <= this.alphabetSize) this.tree[parent] += this.tree[i];
    }
    this.sum = sum;
  }
}
