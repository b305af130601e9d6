/**
 * A learned entropy model that also adapts to the image being coded: the
 * shipped (static or neighbour-context) model's distribution mixed with the
 * counts of the codes already coded in this image, as a Dirichlet prior
 * centred on the learned model:
 *
 *   p(s) = (n(s) + β · p_learned(s | context)) / (N + β)
 *
 * with n the image's code counts so far (per level) and β fitted on held-out
 * images. Photos differ in which codes they use (sky vs foliage), which a
 * model fitted on other images cannot know; a large image (a 768×512 photo
 * at f = 4 has 24576 codes) teaches it quickly. On tiny grids β comes out
 * large and the model stays the learned one.
 *
 * Integer form (exact on every platform): with the learned table (cumulative
 * C, total T) rescaled to S = 2^20, cum(s) = ⌊C(s)·S/T⌋ + s + w·N(<s), where
 * N(<s) sums the image counts below s and w = S/β; every symbol keeps a
 * frequency ≥ 1, and counts are halved when w·N grows past 2^27.
 *
 * Serialised (entropy.bin): 'A', varint log2 β, then the learned model's own
 * bytes; the fingerprint covers all of it, and the container stores the
 * learned model's kind.
 */
import {
  InvalidArgumentError,
  MAX_TOTAL_FREQUENCY,
  modelFingerprint,
  searchLowerBound,
  type CodingContext,
  type EntropyModelSpec,
  type FrequencyTable,
  type ProbabilityModel,
} from '@vqkit/core';

/** Learned-table resolution after rescaling. */
const SCALE = 2 ** 20;
/** Image counts are halved when their weight passes this (keeps the total ≤ 2^28). */
const MAX_COUNT_WEIGHT = 2 ** 27;
/** Serialisation tag. */
export const ADAPTIVE_MIXTURE_MAGIC = 0x41; // 'A'
/** β = 2^log2Beta; allowed range. */
export const MIN_LOG2_BETA = 0;
export const MAX_LOG2_BETA = 20;

/** Frequency table of one step; refilled in place. */
class MixtureTable implements FrequencyTable {
  total = 0;
  learned!: FrequencyTable;
  /** Fenwick tree of image counts (1-based), shared with the model. */
  constructor(
    private readonly size: number,
    private readonly tree: Float64Array,
    private readonly counts: Float64Array,
    readonly weight: number,
  ) {}

  private countBelow(s: number): number {
    let acc = 0;
    for (let i = s; i > 0; i -= i & -i) acc += this.tree[i]!;
    return acc;
  }

  private scaledLearned(s: number): number {
    // ⌊C(s)·S/T⌋ is exact: C(s)·S < 2^48.
    return Math.floor((this.learned.lowerBound(s) * SCALE) / this.learned.total);
  }

  lowerBound(s: number): number {
    if (s >= this.size) return this.total;
    return this.scaledLearned(s) + s + this.weight * this.countBelow(s);
  }

  frequency(s: number): number {
    return this.lowerBound(s + 1) - this.lowerBound(s);
  }

  symbolAt(target: number): number {
    return searchLowerBound(this, this.size, target);
  }

  /** Image count of s (for tests). */
  count(s: number): number {
    return this.counts[s]!;
  }
}

/** One level: the learned model plus this image's counts. */
export class AdaptiveMixtureModel implements ProbabilityModel {
  readonly alphabetSize: number;
  private readonly learned: ProbabilityModel;
  private readonly tree: Float64Array;
  private readonly counts: Float64Array;
  private readonly table: MixtureTable;
  private countTotal = 0;

  constructor(learned: ProbabilityModel, log2Beta: number) {
    if (!Number.isInteger(log2Beta) || log2Beta < MIN_LOG2_BETA || log2Beta > MAX_LOG2_BETA) {
      throw new InvalidArgumentError(`log2 β must be an integer in [${MIN_LOG2_BETA}, ${MAX_LOG2_BETA}], got ${log2Beta}`);
    }
    this.alphabetSize = learned.alphabetSize;
    this.learned = learned;
    this.tree = new Float64Array(this.alphabetSize + 1);
    this.counts = new Float64Array(this.alphabetSize);
    this.table = new MixtureTable(this.alphabetSize, this.tree, this.counts, SCALE / 2 ** log2Beta);
  }

  frequencies(context: CodingContext): FrequencyTable {
    const t = this.table;
    t.learned = this.learned.frequencies(context);
    t.total = SCALE + this.alphabetSize + t.weight * this.countTotal;
    return t;
  }

  update(symbol: number, context: CodingContext): void {
    this.learned.update(symbol, context);
    this.counts[symbol]! += 1;
    for (let i = symbol + 1; i <= this.alphabetSize; i += i & -i) this.tree[i]! += 1;
    this.countTotal += 1;
    if (this.table.weight * this.countTotal > MAX_COUNT_WEIGHT) {
      this.countTotal = 0;
      for (let s = 0; s < this.alphabetSize; s++) {
        this.counts[s] = Math.floor(this.counts[s]! / 2);
        this.countTotal += this.counts[s]!;
      }
      this.rebuild();
    }
  }

  reset(): void {
    this.learned.reset();
    this.counts.fill(0);
    this.countTotal = 0;
    this.rebuild();
  }

  private rebuild(): void {
    this.tree.fill(0);
    for (let i = 1; i <= this.alphabetSize; i++) {
      this.tree[i]! += this.counts[i - 1]!;
      const parent = i + (i & -i);
      if (parent <= this.alphabetSize) this.tree[parent]! += this.tree[i]!;
    }
  }
}

/** A learned model that can be serialised (core's StaticModelSet / NeighbourContextModelSet). */
export interface SerializableEntropyModel extends EntropyModelSpec {
  readonly kind: 'static' | 'neighbour';
  readonly fingerprint: Uint8Array;
  toBytes(): Uint8Array;
}

/** The learned model mixed with per-image counts (see the module comment). */
export class AdaptiveMixtureSpec implements EntropyModelSpec {
  readonly kind: 'static' | 'neighbour';
  readonly fingerprint: Uint8Array;
  readonly learned: SerializableEntropyModel;
  readonly log2Beta: number;

  constructor(learned: SerializableEntropyModel, log2Beta: number) {
    if (!Number.isInteger(log2Beta) || log2Beta < MIN_LOG2_BETA || log2Beta > MAX_LOG2_BETA) {
      throw new InvalidArgumentError(`log2 β must be an integer in [${MIN_LOG2_BETA}, ${MAX_LOG2_BETA}], got ${log2Beta}`);
    }
    // Worst case of the mixture total: S + K + w·N ≤ 2^20 + K + 2^27 + w.
    if (SCALE + 2 ** 16 + MAX_COUNT_WEIGHT + SCALE > MAX_TOTAL_FREQUENCY) throw new InvalidArgumentError('mixture totals exceed the coder limit');
    this.kind = learned.kind;
    this.learned = learned;
    this.log2Beta = log2Beta;
    this.fingerprint = modelFingerprint(this.toBytes());
  }

  createModel(level: number, alphabetSize: number): ProbabilityModel {
    return new AdaptiveMixtureModel(this.learned.createModel(level, alphabetSize), this.log2Beta);
  }

  toBytes(): Uint8Array {
    const inner = this.learned.toBytes();
    const out = new Uint8Array(2 + inner.length);
    out[0] = ADAPTIVE_MIXTURE_MAGIC;
    out[1] = this.log2Beta;
    out.set(inner, 2);
    return out;
  }
}
