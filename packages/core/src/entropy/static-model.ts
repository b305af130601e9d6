/**
 * Model (c): learned static code frequencies, one table per quantizer level,
 * trained from code counts and shipped with the tokenizer. Serialised as a
 * compact binary (varints) or JSON; its fingerprint goes into containers it
 * codes so a decoder cannot silently use a different table.
 */
import { ByteReader, ByteWriter } from '../container/bytes.js';
import { FileFormatError, InvalidArgumentError, VqkitError } from '../errors.js';
import { CumulativeFrequencyTable, MAX_ALPHABET_SIZE, MAX_TOTAL_FREQUENCY, type CodingContext, type FrequencyTable, type ProbabilityModel } from './model.js';
import { defaultFrequencyTotal, quantizeFrequencies } from './quantize.js';
import { modelFingerprint, type EntropyModelSpec } from './spec.js';

/** Fixed frequencies for one level. */
export class StaticModel implements ProbabilityModel {
  readonly alphabetSize: number;
  /** Integer frequencies, each ≥ 1. */
  readonly frequencyValues: Uint32Array;
  private readonly table: CumulativeFrequencyTable;

  /** `frequencies`: integers ≥ 1 summing to ≤ MAX_TOTAL_FREQUENCY. */
  constructor(frequencies: ArrayLike<number>) {
    const n = frequencies.length;
    if (n < 1 || n > MAX_ALPHABET_SIZE) throw new InvalidArgumentError(`StaticModel: alphabet size ${n} outside [1, ${MAX_ALPHABET_SIZE}]`);
    let total = 0;
    for (let s = 0; s < n; s++) {
      const f = frequencies[s];
      if (!Number.isInteger(f) || f < 1) throw new InvalidArgumentError(`StaticModel: frequency of symbol ${s} is ${f}; every frequency must be an integer ≥ 1`);
      total += f;
    }
    if (total > MAX_TOTAL_FREQUENCY) throw new InvalidArgumentError(`StaticModel: total frequency ${total} exceeds ${MAX_TOTAL_FREQUENCY}`);
    this.alphabetSize = n;
    this.frequencyValues = Uint32Array.from(frequencies);
    this.table = new CumulativeFrequencyTable(this.frequencyValues);
  }

  /** From code counts (or any non-negative weights), quantized to `total` (default 2^16, more for big alphabets). */
  static fromCounts(counts: ArrayLike<number>, total?: number): StaticModel {
    return new StaticModel(quantizeFrequencies(counts, total ?? defaultFrequencyTotal(counts.length)));
  }

  frequencies(_context: CodingContext): FrequencyTable {
    return this.table;
  }

  update(_symbol: number, _context: CodingContext): void {}

  reset(): void {}
}

/** Counts codes per level; `codes` is row-major [..., levels] with `codebookSizes.length` levels. */
export function countCodes(codes: ArrayLike<number>, codebookSizes: readonly number[]): Float64Array[] {
  const levels = codebookSizes.length;
  const counts = codebookSizes.map((k) => new Float64Array(k));
  if (codes.length % levels !== 0) throw new InvalidArgumentError(`countCodes: ${codes.length} codes is not a multiple of ${levels} levels`);
  for (let i = 0; i < codes.length; i++) {
    const level = i % levels;
    const c = codes[i];
    if (!Number.isInteger(c) || c < 0 || c >= codebookSizes[level]) {
      throw new InvalidArgumentError(`countCodes: code ${c} at index ${i} outside [0, ${codebookSizes[level]}) of level ${level}`);
    }
    counts[level][c] += 1;
  }
  return counts;
}

/** JSON form of a `StaticModelSet`. */
export interface StaticModelSetJson {
  kind: 'static';
  levels: { frequencies: number[] }[];
}

const STATIC_SET_MAGIC = 0x53; // 'S'

/** One static model per level: the `static` entropy model a tokenizer ships. */
export class StaticModelSet implements EntropyModelSpec {
  readonly kind = 'static' as const;
  readonly levels: readonly StaticModel[];
  readonly fingerprint: Uint8Array;

  constructor(levels: readonly StaticModel[]) {
    if (levels.length < 1) throw new InvalidArgumentError('StaticModelSet: needs at least one level');
    this.levels = levels;
    this.fingerprint = modelFingerprint(this.toBytes());
  }

  /** Trains from code tensors (row-major [..., levels]). */
  static train(codeArrays: Iterable<ArrayLike<number>>, codebookSizes: readonly number[], total?: number): StaticModelSet {
    const counts = codebookSizes.map((k) => new Float64Array(k));
    for (const codes of codeArrays) {
      const c = countCodes(codes, codebookSizes);
      for (let l = 0; l < counts.length; l++) for (let s = 0; s < counts[l].length; s++) counts[l][s] += c[l][s];
    }
    return new StaticModelSet(counts.map((c) => StaticModel.fromCounts(c, total)));
  }

  createModel(level: number, alphabetSize: number): ProbabilityModel {
    const model = this.levels[level];
    if (model === undefined || model.alphabetSize !== alphabetSize) {
      throw new InvalidArgumentError(
        `StaticModelSet: no table for level ${level} with ${alphabetSize} codes (the set has ${this.levels.length} level(s): ${this.levels.map((m) => m.alphabetSize).join(', ')})`,
      );
    }
    return model;
  }

  /** Binary form: 'S', levels, then per level the alphabet size and the frequencies, all varints. */
  toBytes(): Uint8Array {
    const w = new ByteWriter();
    w.byte(STATIC_SET_MAGIC);
    w.varint(this.levels.length);
    for (const m of this.levels) {
      w.varint(m.alphabetSize);
      for (const f of m.frequencyValues) w.varint(f);
    }
    return w.finish();
  }

  static fromBytes(bytes: Uint8Array): StaticModelSet {
    try {
      const r = new ByteReader(bytes);
      if (r.byte('magic') !== STATIC_SET_MAGIC) throw new FileFormatError('not a serialised static entropy model');
      const levelCount = r.varint('level count');
      if (levelCount < 1 || levelCount > r.remaining) throw new FileFormatError(`static entropy model: bad level count ${levelCount}`);
      const levels: StaticModel[] = [];
      for (let l = 0; l < levelCount; l++) {
        const k = r.varint('alphabet size');
        // Each frequency takes ≥ 1 byte, so this bounds the allocation by the input size.
        if (k < 1 || k > MAX_ALPHABET_SIZE || k > r.remaining) throw new FileFormatError(`static entropy model: bad alphabet size ${k}`);
        const freqs = new Uint32Array(k);
        for (let s = 0; s < k; s++) freqs[s] = r.varint('frequency');
        levels.push(new StaticModel(freqs));
      }
      if (r.remaining !== 0) throw new FileFormatError('static entropy model: trailing bytes');
      return new StaticModelSet(levels);
    } catch (err) {
      if (err instanceof FileFormatError) throw err;
      if (err instanceof VqkitError) throw new FileFormatError(`static entropy model: ${err.message}`, undefined, { cause: err });
      throw err;
    }
  }

  toJSON(): StaticModelSetJson {
    return { kind: 'static', levels: this.levels.map((m) => ({ frequencies: Array.from(m.frequencyValues) })) };
  }

  static fromJSON(json: StaticModelSetJson): StaticModelSet {
    if (json?.kind !== 'static' || !Array.isArray(json.levels)) throw new FileFormatError('not a static entropy model JSON');
    return new StaticModelSet(json.levels.map((l) => new StaticModel(l.frequencies)));
  }
}
