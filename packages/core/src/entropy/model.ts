/**
 * The probability-model contract of the entropy coder. A model hands the coder
 * integer frequencies for the next symbol; integers (not floats) keep encoder
 * and decoder bit-exact on every platform. The same contract covers the
 * fixed/uniform, adaptive, learned static, neighbour-conditioned and
 * externally predicted (Transformer prior) models.
 */

/**
 * Largest total frequency a model may hand the coder. The coder keeps a 48-bit
 * range (≥ 2^40 after normalisation), so a total of 2^28 still leaves ≥ 2^12
 * range units per frequency unit: the rounding loss stays below 0.0004 bits
 * per symbol.
 */
export const MAX_TOTAL_FREQUENCY = 2 ** 28;

/** Largest alphabet the coder's models accept (every symbol needs frequency ≥ 1 within the total). */
export const MAX_ALPHABET_SIZE = 2 ** 22;

/**
 * Integer frequencies of one coding step. Symbol `s` owns the interval
 * `[lowerBound(s), lowerBound(s) + frequency(s))` of `[0, total)`.
 */
export interface FrequencyTable {
  /** Sum of all frequencies, 1 ≤ total ≤ MAX_TOTAL_FREQUENCY. */
  readonly total: number;
  /** Cumulative frequency of the symbols below `symbol`. */
  lowerBound(symbol: number): number;
  /** Frequency of `symbol` (≥ 1 for every symbol of the alphabet). */
  frequency(symbol: number): number;
  /** The symbol whose interval contains `target` (0 ≤ target < total); decoder side. */
  symbolAt(target: number): number;
}

/**
 * What a model may condition on at one step: the already-coded neighbours in
 * the code grid (same quantizer level), or -1 where there is none. The flat
 * `position` lets history-driven predictors (the prior) align themselves.
 */
export interface CodingContext {
  /** Flat index of the symbol in its segment (row-major over [..., levels]). */
  position: number;
  /** Quantizer level of the symbol (last axis index). */
  level: number;
  /** Code of the left neighbour (previous index of the last spatial axis), or -1. */
  left: number;
  /** Code of the upper neighbour (previous index of the second-to-last spatial axis), or -1. */
  up: number;
}

/**
 * A probability model. The coder calls `frequencies(context)`, codes the
 * symbol, then `update(symbol, context)`; encoder and decoder must see the same
 * sequence of calls, so a model must be a deterministic function of what it
 * has been updated with.
 */
export interface ProbabilityModel {
  /** Number of symbols, 1 ≤ alphabetSize ≤ MAX_ALPHABET_SIZE. */
  readonly alphabetSize: number;
  /** Frequencies for the next symbol. The returned table may be reused by the next call. */
  frequencies(context: CodingContext): FrequencyTable;
  /** Learns from the symbol just coded (no-op for static models). */
  update(symbol: number, context: CodingContext): void;
  /** Back to the initial state, so one instance can encode and then decode. */
  reset(): void;
}

/** A context with no neighbours, for coding flat symbol streams. */
export function flatContext(position: number, level = 0): CodingContext {
  return { position, level, left: -1, up: -1 };
}

/** Binary search over a non-decreasing cumulative array `cum` (length n + 1, cum[0] = 0): largest s with cum[s] ≤ target. */
export function searchCumulative(cum: ArrayLike<number>, n: number, target: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (cum[mid] <= target) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The same search over a table's `lowerBound` (mixtures that compute cumulative counts on demand): the symbol whose interval holds `target`. */
export function searchLowerBound(table: Pick<FrequencyTable, 'lowerBound'>, size: number, target: number): number {
  let lo = 0;
  let hi = size - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (table.lowerBound(mid) <= target) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** A frequency table backed by a cumulative array; what static models hand out. */
export class CumulativeFrequencyTable implements FrequencyTable {
  readonly total: number;
  private readonly cum: Float64Array;
  private readonly size: number;

  /** `frequencies` must all be integers ≥ 1 with a sum ≤ MAX_TOTAL_FREQUENCY (callers validate). */
  constructor(frequencies: ArrayLike<number>) {
    this.size = frequencies.length;
    this.cum = new Float64Array(this.size + 1);
    for (let s = 0; s < this.size; s++) this.cum[s + 1] = this.cum[s] + frequencies[s];
    this.total = this.cum[this.size];
  }

  lowerBound(symbol: number): number {
    return this.cum[symbol];
  }

  frequency(symbol: number): number {
    return this.cum[symbol + 1] - this.cum[symbol];
  }

  symbolAt(target: number): number {
    return searchCumulative(this.cum, this.size, target);
  }
}
