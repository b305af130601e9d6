/**
 * Model (c'): learned code frequencies conditioned on the left and/or upper
 * neighbour in the code grid, the way neighbouring VQ codes of an image are
 * strongly correlated. Sparse contexts back off to the unigram through a
 * Dirichlet prior centred on it (interpolated smoothing, as in PPM/CTW-style
 * coders), in integers so coding is exact:
 *
 *   single-neighbour level: f1(s) = m1·(n_left(s) + n_up(s)) + u(s)
 *   pair level (left-up):   f(s)  = m2·n_pair(s) + f1(s)
 *
 * where u is the unigram table (total Tu), n_* are the (capped) counts of the
 * context seen in training, m1 = ⌊Tu / β1⌋ and m2 = ⌊total(f1) / β2⌋. With
 * counts N in a context this is p = (n(s) + β·p_backoff(s)) / (N + β): a
 * context seen often dominates, a rare or unseen one falls back smoothly.
 * Cumulative frequencies are sums of sparse prefix sums, so a step costs
 * O(log K · log m) instead of O(K).
 */
import { ByteReader, ByteWriter } from '../container/bytes.js';
import { FileFormatError, InvalidArgumentError, VqkitError } from '../errors.js';
import { codeTensorSize, ContextWalker } from './code-stream.js';
import { CumulativeFrequencyTable, MAX_TOTAL_FREQUENCY, searchLowerBound, type CodingContext, type FrequencyTable, type ProbabilityModel } from './model.js';
import { quantizeFrequencies } from './quantize.js';
import { modelFingerprint, type EntropyModelSpec } from './spec.js';

/** Which neighbours condition the model. */
export type NeighbourContextMode = 'left' | 'up' | 'left-up';
const MODES: readonly NeighbourContextMode[] = ['left', 'up', 'left-up'];

/** Largest alphabet the neighbour model supports (pair keys left·K + up stay below 2^32). */
export const MAX_NEIGHBOUR_ALPHABET = 1 << 16;

export interface NeighbourContextModelOptions {
  /** Neighbours to condition on. Default 'left-up' (pair context, backing off to left+up, then unigram). */
  context?: NeighbourContextMode;
  /**
   * β1: pseudo-counts of the unigram prior behind single-neighbour contexts.
   * Default: chosen from powers of two by leave-one-out likelihood on the
   * training codes (large when contexts carry no information, small when they do).
   */
  backoffStrength?: number;
  /** β2: pseudo-counts of the single-neighbour prior behind pair contexts. Default: chosen like β1. */
  pairBackoffStrength?: number;
  /** Contexts seen fewer times in training are not stored (they would cost model size for no gain). Default 2. */
  minContextCount?: number;
  /** A context's counts are scaled so they sum to at most this (1–255: one byte each when serialised). Default 255. */
  maxContextCount?: number;
}

const DEFAULTS = {
  context: 'left-up' as NeighbourContextMode,
  minContextCount: 2,
  maxContextCount: 255,
};

/** Most training codes per level the backoff selection evaluates (a deterministic stride subsample beyond). */
const MAX_SELECTION_TOKENS = 1 << 17;
/** Candidate backoff strengths: 1, 2, 4, …, 65536. */
const BACKOFF_GRID = Array.from({ length: 17 }, (_, i) => 2 ** i);

/** Counts of one context: sorted symbols with prefix sums. */
export class SparseCounts {
  readonly symbols: Uint32Array;
  readonly counts: Uint8Array;
  /** cum[i] = sum of counts[0..i); length m + 1. */
  private readonly cum: Float64Array;

  constructor(symbols: Uint32Array, counts: Uint8Array) {
    this.symbols = symbols;
    this.counts = counts;
    this.cum = new Float64Array(symbols.length + 1);
    for (let i = 0; i < symbols.length; i++) this.cum[i + 1] = this.cum[i] + counts[i];
  }

  get total(): number {
    return this.cum[this.symbols.length];
  }

  /** Number of entries with symbol < s. */
  private rank(s: number): number {
    let lo = 0;
    let hi = this.symbols.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.symbols[mid] < s) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Sum of the counts of symbols < s. */
  below(s: number): number {
    return this.cum[this.rank(s)];
  }

  count(s: number): number {
    const i = this.rank(s);
    return i < this.symbols.length && this.symbols[i] === s ? this.counts[i] : 0;
  }
}

const EMPTY = new SparseCounts(new Uint32Array(0), new Uint8Array(0));

/** The mixed table of one step; one instance per model, refilled each step. */
class MixedTable implements FrequencyTable {
  total = 0;
  m1 = 0;
  m2 = 0;
  left: SparseCounts = EMPTY;
  up: SparseCounts = EMPTY;
  pair: SparseCounts = EMPTY;

  constructor(
    private readonly unigram: CumulativeFrequencyTable,
    private readonly size: number,
  ) {}

  lowerBound(s: number): number {
    return this.m2 * this.pair.below(s) + this.m1 * (this.left.below(s) + this.up.below(s)) + this.unigram.lowerBound(s);
  }

  frequency(s: number): number {
    return this.m2 * this.pair.count(s) + this.m1 * (this.left.count(s) + this.up.count(s)) + this.unigram.frequency(s);
  }

  symbolAt(target: number): number {
    return searchLowerBound(this, this.size, target);
  }
}

/** The learned tables of one quantizer level. */
export class NeighbourContextModel implements ProbabilityModel {
  readonly alphabetSize: number;
  readonly mode: NeighbourContextMode;
  readonly backoffStrength: number;
  readonly pairBackoffStrength: number;
  readonly unigramFrequencies: Uint32Array;
  readonly leftContexts: ReadonlyMap<number, SparseCounts>;
  readonly upContexts: ReadonlyMap<number, SparseCounts>;
  readonly pairContexts: ReadonlyMap<number, SparseCounts>;
  private readonly table: MixedTable;
  private readonly unigramTotal: number;

  constructor(parts: {
    mode: NeighbourContextMode;
    backoffStrength: number;
    pairBackoffStrength: number;
    unigramFrequencies: Uint32Array;
    leftContexts: ReadonlyMap<number, SparseCounts>;
    upContexts: ReadonlyMap<number, SparseCounts>;
    pairContexts: ReadonlyMap<number, SparseCounts>;
  }) {
    const k = parts.unigramFrequencies.length;
    if (k < 1 || k > MAX_NEIGHBOUR_ALPHABET) throw new InvalidArgumentError(`NeighbourContextModel: alphabet size ${k} outside [1, ${MAX_NEIGHBOUR_ALPHABET}]`);
    if (!MODES.includes(parts.mode)) throw new InvalidArgumentError(`NeighbourContextModel: unknown context mode ${JSON.stringify(parts.mode)}`);
    for (const beta of [parts.backoffStrength, parts.pairBackoffStrength]) {
      if (!Number.isInteger(beta) || beta < 1 || beta > 1 << 16) throw new InvalidArgumentError(`NeighbourContextModel: backoff strength ${beta} must be an integer in [1, 65536]`);
    }
    let unigramTotal = 0;
    for (const f of parts.unigramFrequencies) {
      if (f < 1) throw new InvalidArgumentError('NeighbourContextModel: every unigram frequency must be ≥ 1');
      unigramTotal += f;
    }
    if (unigramTotal > 1 << 20) throw new InvalidArgumentError(`NeighbourContextModel: unigram total ${unigramTotal} exceeds 2^20`);
    for (const map of [parts.leftContexts, parts.upContexts, parts.pairContexts]) {
      for (const counts of map.values()) {
        for (const s of counts.symbols) if (s >= k) throw new InvalidArgumentError(`NeighbourContextModel: context symbol ${s} outside the alphabet of ${k}`);
      }
    }
    this.alphabetSize = k;
    this.mode = parts.mode;
    this.backoffStrength = parts.backoffStrength;
    this.pairBackoffStrength = parts.pairBackoffStrength;
    this.unigramFrequencies = parts.unigramFrequencies;
    this.unigramTotal = unigramTotal;
    this.leftContexts = parts.leftContexts;
    this.upContexts = parts.upContexts;
    this.pairContexts = parts.pairContexts;
    this.table = new MixedTable(new CumulativeFrequencyTable(parts.unigramFrequencies), k);
  }

  frequencies(context: CodingContext): FrequencyTable {
    const t = this.table;
    const useLeft = this.mode !== 'up' && context.left >= 0;
    const useUp = this.mode !== 'left' && context.up >= 0;
    t.left = useLeft ? (this.leftContexts.get(context.left) ?? EMPTY) : EMPTY;
    t.up = useUp ? (this.upContexts.get(context.up) ?? EMPTY) : EMPTY;
    t.pair = useLeft && useUp && this.mode === 'left-up' ? (this.pairContexts.get(context.left * this.alphabetSize + context.up) ?? EMPTY) : EMPTY;
    const single = t.left.total + t.up.total;
    // Clamps keep the total ≤ MAX_TOTAL_FREQUENCY whatever the counts (they never bind for K ≤ 4096 with the defaults).
    t.m1 = single === 0 ? 0 : Math.max(1, Math.min(Math.floor(this.unigramTotal / this.backoffStrength), Math.floor((MAX_TOTAL_FREQUENCY / 2 - this.unigramTotal) / single)));
    const total1 = t.m1 * single + this.unigramTotal;
    const pair = t.pair.total;
    t.m2 = pair === 0 ? 0 : Math.max(1, Math.min(Math.floor(total1 / this.pairBackoffStrength), Math.floor((MAX_TOTAL_FREQUENCY - total1) / pair)));
    t.total = t.m2 * pair + total1;
    return t;
  }

  update(_symbol: number, _context: CodingContext): void {}

  reset(): void {}
}

/** A code tensor to train on: row-major codes of shape [..., levels]. */
export interface CodeTensorSample {
  codes: ArrayLike<number>;
  shape: readonly number[];
}

/** Stored contexts plus, per context, what one training code contributes to its stored counts (for leave-one-out). */
interface FinalizedContexts {
  counts: Map<number, SparseCounts>;
  contribution: Map<number, number>;
}

function finalizeCounts(map: Map<number, Map<number, number>>, options: { minContextCount: number; maxContextCount: number }): FinalizedContexts {
  const out = new Map<number, SparseCounts>();
  const contribution = new Map<number, number>();
  const keys = [...map.keys()].sort((a, b) => a - b);
  for (const key of keys) {
    const entries = [...map.get(key)!.entries()].sort((a, b) => a[0] - b[0]);
    let n = 0;
    for (const [, c] of entries) n += c;
    if (n < options.minContextCount) continue;
    // Cap the context's total (its confidence against the backoff) at maxContextCount; every seen symbol keeps ≥ 1.
    const scale = n > options.maxContextCount ? options.maxContextCount / n : 1;
    const kept = entries.map(([s, c]) => [s, Math.min(255, Math.max(1, Math.round(c * scale)))] as const);
    const counts = new SparseCounts(Uint32Array.from(kept.map((e) => e[0])), Uint8Array.from(kept.map((e) => e[1])));
    out.set(key, counts);
    contribution.set(key, counts.total / n);
  }
  return { counts: out, contribution };
}

/** Leave-one-out count of `s` and total of context `key` (0, 0 when the context is not stored). */
function looCounts(ctx: FinalizedContexts, key: number, s: number): [number, number] {
  const c = ctx.counts.get(key);
  if (c === undefined) return [0, 0];
  const own = ctx.contribution.get(key)!;
  return [Math.max(0, c.count(s) - own), Math.max(0, c.total - own)];
}

/**
 * Picks β1 (and β2 for 'left-up') maximising the leave-one-out likelihood of
 * the training codes: each code is scored by the model built from all the
 * other codes, so the choice measures generalisation, not memorisation.
 * Training-time only (floats are fine here: the chosen integers are stored).
 */
function selectBackoffStrengths(
  tokens: { s: Int32Array; left: Int32Array; up: Int32Array; n: number },
  mode: NeighbourContextMode,
  unigram: CumulativeFrequencyTable,
  k: number,
  left: FinalizedContexts,
  up: FinalizedContexts,
  pair: FinalizedContexts,
  fixed: { beta1?: number; beta2?: number },
): { beta1: number; beta2: number } {
  const tu = unigram.total;
  const n = tokens.n;
  // Context lookups once per code; the grid search below is then plain arithmetic.
  const singleCount = new Float64Array(n);
  const singleTotal = new Float64Array(n);
  const unigramFreq = new Float64Array(n);
  const pairCount = new Float64Array(n);
  const pairTotal = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = tokens.s[i];
    const a = tokens.left[i];
    const b = tokens.up[i];
    unigramFreq[i] = unigram.frequency(s);
    if (mode !== 'up' && a >= 0) {
      const [c, t] = looCounts(left, a, s);
      singleCount[i] += c;
      singleTotal[i] += t;
    }
    if (mode !== 'left' && b >= 0) {
      const [c, t] = looCounts(up, b, s);
      singleCount[i] += c;
      singleTotal[i] += t;
    }
    if (mode === 'left-up' && a >= 0 && b >= 0) [pairCount[i], pairTotal[i]] = looCounts(pair, a * k + b, s);
  }
  // β beyond the unigram total gives the same integer weight (1) as β = total; skip those.
  const singleGrid = BACKOFF_GRID.filter((beta) => beta <= tu);
  const pick = (grid: readonly number[], score: (beta: number) => number): number => {
    let best = grid[0];
    let bestScore = Number.NEGATIVE_INFINITY;
    for (const beta of grid) {
      const v = score(beta);
      if (v > bestScore) {
        bestScore = v;
        best = beta;
      }
    }
    return best;
  };
  const beta1 =
    fixed.beta1 ??
    pick(singleGrid, (beta) => {
      const m1 = Math.max(1, Math.floor(tu / beta));
      let ll = 0;
      for (let i = 0; i < n; i++) ll += Math.log((m1 * singleCount[i] + unigramFreq[i]) / (m1 * singleTotal[i] + tu));
      return ll;
    });
  if (mode !== 'left-up') return { beta1, beta2: fixed.beta2 ?? 1 };
  const m1 = Math.max(1, Math.floor(tu / beta1));
  const beta2 =
    fixed.beta2 ??
    pick(BACKOFF_GRID, (beta) => {
      let ll = 0;
      for (let i = 0; i < n; i++) {
        const f1 = m1 * singleCount[i] + unigramFreq[i];
        const t1 = m1 * singleTotal[i] + tu;
        const m2 = Math.max(1, Math.floor(t1 / beta));
        ll += Math.log((m2 * pairCount[i] + f1) / (m2 * pairTotal[i] + t1));
      }
      return ll;
    });
  return { beta1, beta2 };
}

function bump(map: Map<number, Map<number, number>>, key: number, symbol: number): void {
  let m = map.get(key);
  if (m === undefined) {
    m = new Map();
    map.set(key, m);
  }
  m.set(symbol, (m.get(symbol) ?? 0) + 1);
}

/** JSON-free binary magic of a serialised set. */
const NEIGHBOUR_SET_MAGIC = 0x4e; // 'N'

/** One neighbour-context model per level: the `neighbour` entropy model a tokenizer ships. */
export class NeighbourContextModelSet implements EntropyModelSpec {
  readonly kind = 'neighbour' as const;
  readonly levels: readonly NeighbourContextModel[];
  readonly fingerprint: Uint8Array;

  constructor(levels: readonly NeighbourContextModel[]) {
    if (levels.length < 1) throw new InvalidArgumentError('NeighbourContextModelSet: needs at least one level');
    this.levels = levels;
    this.fingerprint = modelFingerprint(this.toBytes());
  }

  /**
   * Trains from code tensors (each [..., levels], e.g. [7, 7, 1] grids). The
   * unigram gets total max(2^12, 2·K rounded up to a power of two).
   */
  static train(samples: Iterable<CodeTensorSample>, codebookSizes: readonly number[], options: NeighbourContextModelOptions = {}): NeighbourContextModelSet {
    const opts = {
      context: options.context ?? DEFAULTS.context,
      minContextCount: options.minContextCount ?? DEFAULTS.minContextCount,
      maxContextCount: options.maxContextCount ?? DEFAULTS.maxContextCount,
    };
    if (!MODES.includes(opts.context)) throw new InvalidArgumentError(`unknown context mode ${JSON.stringify(opts.context)}; expected ${MODES.join(', ')}`);
    if (!Number.isInteger(opts.maxContextCount) || opts.maxContextCount < 1 || opts.maxContextCount > 255) {
      throw new InvalidArgumentError(`maxContextCount ${opts.maxContextCount} must be an integer in [1, 255]`);
    }
    for (const beta of [options.backoffStrength, options.pairBackoffStrength]) {
      if (beta !== undefined && (!Number.isInteger(beta) || beta < 1 || beta > 1 << 16)) throw new InvalidArgumentError(`backoff strength ${beta} must be an integer in [1, 65536]`);
    }
    for (const k of codebookSizes) if (!Number.isInteger(k) || k < 1 || k > MAX_NEIGHBOUR_ALPHABET) throw new InvalidArgumentError(`codebook size ${k} outside [1, ${MAX_NEIGHBOUR_ALPHABET}]`);
    const list = [...samples];
    const levels = codebookSizes.length;
    const unigram = codebookSizes.map((k) => new Float64Array(k));
    const left = codebookSizes.map(() => new Map<number, Map<number, number>>());
    const up = codebookSizes.map(() => new Map<number, Map<number, number>>());
    const pair = codebookSizes.map(() => new Map<number, Map<number, number>>());
    const seen = new Float64Array(levels);
    for (const sample of list) {
      const size = codeTensorSize(sample.shape, levels);
      if (sample.codes.length !== size) throw new InvalidArgumentError(`training sample has ${sample.codes.length} codes for shape [${sample.shape.join(', ')}]`);
      const walker = new ContextWalker(sample.shape);
      for (let i = 0; i < size; i++) {
        const ctx = walker.at(i, sample.codes);
        const l = ctx.level;
        const s = sample.codes[i];
        if (!Number.isInteger(s) || s < 0 || s >= codebookSizes[l]) throw new InvalidArgumentError(`training code ${s} outside [0, ${codebookSizes[l]}) of level ${l}`);
        unigram[l][s] += 1;
        seen[l] += 1;
        if (ctx.left >= 0) bump(left[l], ctx.left, s);
        if (ctx.up >= 0) bump(up[l], ctx.up, s);
        if (ctx.left >= 0 && ctx.up >= 0) bump(pair[l], ctx.left * codebookSizes[l] + ctx.up, s);
      }
    }
    // The codes the backoff selection scores: every stride-th code of each level.
    const strides = Array.from(seen, (n) => Math.max(1, Math.ceil(n / MAX_SELECTION_TOKENS)));
    const tokens = Array.from(seen, (n, l) => {
      const cap = Math.ceil(n / strides[l]);
      return { s: new Int32Array(cap), left: new Int32Array(cap), up: new Int32Array(cap), n: 0 };
    });
    const counters = new Float64Array(levels);
    for (const sample of list) {
      const walker = new ContextWalker(sample.shape);
      for (let i = 0; i < sample.codes.length; i++) {
        const ctx = walker.at(i, sample.codes);
        const l = ctx.level;
        if (counters[l]++ % strides[l] !== 0) continue;
        const t = tokens[l];
        t.s[t.n] = sample.codes[i];
        t.left[t.n] = ctx.left;
        t.up[t.n] = ctx.up;
        t.n++;
      }
    }
    const none: FinalizedContexts = { counts: new Map(), contribution: new Map() };
    return new NeighbourContextModelSet(
      codebookSizes.map((k, l) => {
        let total = 1 << 12;
        while (total < 2 * k) total *= 2;
        const unigramFrequencies = quantizeFrequencies(unigram[l], total);
        const leftContexts = opts.context === 'up' ? none : finalizeCounts(left[l], opts);
        const upContexts = opts.context === 'left' ? none : finalizeCounts(up[l], opts);
        const pairContexts = opts.context === 'left-up' ? finalizeCounts(pair[l], opts) : none;
        const { beta1, beta2 } = selectBackoffStrengths(
          tokens[l],
          opts.context,
          new CumulativeFrequencyTable(unigramFrequencies),
          k,
          leftContexts,
          upContexts,
          pairContexts,
          { beta1: options.backoffStrength, beta2: options.pairBackoffStrength },
        );
        return new NeighbourContextModel({
          mode: opts.context,
          backoffStrength: beta1,
          pairBackoffStrength: beta2,
          unigramFrequencies,
          leftContexts: leftContexts.counts,
          upContexts: upContexts.counts,
          pairContexts: pairContexts.counts,
        });
      }),
    );
  }

  createModel(level: number, alphabetSize: number): ProbabilityModel {
    const model = this.levels[level];
    if (model === undefined || model.alphabetSize !== alphabetSize) {
      throw new InvalidArgumentError(
        `NeighbourContextModelSet: no table for level ${level} with ${alphabetSize} codes (the set has ${this.levels.length} level(s): ${this.levels.map((m) => m.alphabetSize).join(', ')})`,
      );
    }
    return model;
  }

  /** Number of stored contexts over all levels (model size indicator). */
  get contextCount(): number {
    return this.levels.reduce((n, m) => n + m.leftContexts.size + m.upContexts.size + m.pairContexts.size, 0);
  }

  /**
   * Binary form: 'N', levels; per level: mode, β1, β2, K, K unigram
   * frequencies, then the left, up and pair context maps, each as a count and
   * per context (key delta, entry count, per entry symbol delta and a count byte).
   */
  toBytes(): Uint8Array {
    const w = new ByteWriter(1024);
    w.byte(NEIGHBOUR_SET_MAGIC);
    w.varint(this.levels.length);
    for (const m of this.levels) {
      w.byte(MODES.indexOf(m.mode));
      w.varint(m.backoffStrength);
      w.varint(m.pairBackoffStrength);
      w.varint(m.alphabetSize);
      for (const f of m.unigramFrequencies) w.varint(f);
      for (const map of [m.leftContexts, m.upContexts, m.pairContexts]) {
        w.varint(map.size);
        let prevKey = 0;
        for (const key of [...map.keys()].sort((a, b) => a - b)) {
          const counts = map.get(key)!;
          w.varint(key - prevKey);
          prevKey = key;
          w.varint(counts.symbols.length);
          let prev = 0;
          for (let i = 0; i < counts.symbols.length; i++) {
            w.varint(counts.symbols[i] - prev);
            prev = counts.symbols[i];
            w.byte(counts.counts[i]);
          }
        }
      }
    }
    return w.finish();
  }

  static fromBytes(bytes: Uint8Array): NeighbourContextModelSet {
    try {
      const r = new ByteReader(bytes);
      if (r.byte('magic') !== NEIGHBOUR_SET_MAGIC) throw new FileFormatError('not a serialised neighbour-context entropy model');
      const levelCount = r.varint('level count');
      if (levelCount < 1 || levelCount > r.remaining) throw new FileFormatError(`neighbour-context model: bad level count ${levelCount}`);
      const levels: NeighbourContextModel[] = [];
      for (let l = 0; l < levelCount; l++) {
        const mode = MODES[r.byte('mode')];
        if (mode === undefined) throw new FileFormatError('neighbour-context model: unknown mode');
        const backoffStrength = r.varint('backoff strength');
        const pairBackoffStrength = r.varint('pair backoff strength');
        const k = r.varint('alphabet size');
        // Every stored item takes ≥ 1 byte, so the input size bounds every allocation below.
        if (k < 1 || k > MAX_NEIGHBOUR_ALPHABET || k > r.remaining) throw new FileFormatError(`neighbour-context model: bad alphabet size ${k}`);
        const unigram = new Uint32Array(k);
        for (let s = 0; s < k; s++) unigram[s] = r.varint('unigram frequency');
        const maps: Map<number, SparseCounts>[] = [];
        for (let which = 0; which < 3; which++) {
          const n = r.varint('context count');
          if (n > r.remaining) throw new FileFormatError('neighbour-context model: context count exceeds the data');
          const map = new Map<number, SparseCounts>();
          let key = 0;
          for (let c = 0; c < n; c++) {
            key += r.varint('context key');
            const m = r.varint('entry count');
            if (m > r.remaining || m > k) throw new FileFormatError('neighbour-context model: entry count exceeds the data');
            const symbols = new Uint32Array(m);
            const counts = new Uint8Array(m);
            let s = 0;
            for (let i = 0; i < m; i++) {
              s += r.varint('symbol');
              if (i > 0 && symbols[i - 1] >= s) throw new FileFormatError('neighbour-context model: symbols not increasing');
              symbols[i] = s;
              counts[i] = r.byte('count');
            }
            map.set(key, new SparseCounts(symbols, counts));
          }
          maps.push(map);
        }
        levels.push(
          new NeighbourContextModel({ mode, backoffStrength, pairBackoffStrength, unigramFrequencies: unigram, leftContexts: maps[0], upContexts: maps[1], pairContexts: maps[2] }),
        );
      }
      if (r.remaining !== 0) throw new FileFormatError('neighbour-context model: trailing bytes');
      return new NeighbourContextModelSet(levels);
    } catch (err) {
      if (err instanceof FileFormatError) throw err;
      if (err instanceof VqkitError) throw new FileFormatError(`neighbour-context model: ${err.message}`, undefined, { cause: err });
      throw err;
    }
  }
}
