/**
 * Seeded, deterministic pseudo-random numbers for everything that must be
 * reproducible from a seed: weight init, data shuffling, crops, flips,
 * codebook restarts.
 *
 * Generator: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator,
 * 128-bit state, passes PractRand/BigCrush) — small, fast in pure JS, and the
 * 32-bit counter guarantees a period of at least 2^32 from any seed.
 *
 * Seeding: the seed (number or string) is turned into a *key* string, and the
 * key is hashed into the 128-bit state. `fork(label)` builds a child key
 * `parentKey/label`, so a forked stream depends only on the seed and the label
 * path — not on how many numbers the parent has drawn. That lets independent
 * subsystems (e.g. `fork('shuffle')`, `fork('crop')`) stay reproducible when
 * another one changes how much randomness it consumes.
 */
import { InvalidArgumentError } from '../errors.js';

/** A seed: any finite number (integers recommended) or string. */
export type Seed = number | string;

/** A serialisable snapshot of a generator, for checkpoint/resume. */
export interface RngState {
  /** The key the generator was seeded from (seed plus fork labels). */
  readonly key: string;
  /** The four 32-bit sfc32 state words. */
  readonly words: readonly [number, number, number, number];
  /** The cached second Box-Muller normal deviate, if any. */
  readonly spareNormal: number | null;
}

const TWO_POW_32 = 4294967296;

/** murmur3's 32-bit finaliser: a bijective avalanche mix. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hashes a string (as UTF-16 code units) into four well-mixed 32-bit words. */
function hashKey(key: string): [number, number, number, number] {
  // Four FNV-1a lanes with distinct offset bases, then cross-mixed and
  // finalised, so keys differing in one character give unrelated states.
  let h0 = 0x811c9dc5;
  let h1 = 0x9e3779b9;
  let h2 = 0x85ebca6b;
  let h3 = 0xc2b2ae35;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h0 = Math.imul(h0 ^ c, 0x01000193);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x01000193);
    h3 = Math.imul(h3 ^ c, 0x01000193);
  }
  const n = key.length;
  h0 = fmix32(h0 ^ n);
  h1 = fmix32(h1 ^ h0);
  h2 = fmix32(h2 ^ h1);
  h3 = fmix32(h3 ^ h2);
  h0 = fmix32(h0 ^ h3);
  return [h0, h1, h2, h3];
}

function seedToKey(seed: Seed): string {
  if (typeof seed === 'number') {
    if (!Number.isFinite(seed)) throw new InvalidArgumentError(`seed must be a finite number or a string, got ${seed}`);
    return `n:${seed}`;
  }
  if (typeof seed === 'string') return `s:${seed}`;
  throw new InvalidArgumentError(`seed must be a number or a string, got ${typeof seed}`);
}

/** A seeded sfc32 generator with the usual distributions. */
export class Rng {
  /** The key this generator was seeded from; identifies the stream. */
  readonly key: string;
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | null = null;

  /** Creates a generator from a seed. Equal seeds give equal streams. */
  constructor(seed: Seed) {
    this.key = seedToKey(seed);
    [this.a, this.b, this.c, this.d] = hashKey(this.key);
    this.warmUp();
  }

  /** Restores a generator from `state()` output; it continues exactly where the snapshot was taken. */
  static fromState(state: RngState): Rng {
    const rng = Object.create(Rng.prototype) as Rng;
    const words = state.words;
    if (!Array.isArray(words) || words.length !== 4 || words.some((w) => !Number.isInteger(w))) {
      throw new InvalidArgumentError('RngState.words must be four 32-bit integers');
    }
    Object.assign(rng, {
      key: state.key,
      a: words[0] >>> 0,
      b: words[1] >>> 0,
      c: words[2] >>> 0,
      d: words[3] >>> 0,
      spareNormal: state.spareNormal,
    });
    return rng;
  }

  private static fromKey(key: string): Rng {
    const rng = Object.create(Rng.prototype) as Rng;
    const [a, b, c, d] = hashKey(key);
    Object.assign(rng, { key, a, b, c, d, spareNormal: null });
    rng.warmUp();
    return rng;
  }

  /** Discards the first outputs, as recommended for sfc32, so nearby keys decorrelate. */
  private warmUp(): void {
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A snapshot of the generator (plain data, JSON-serialisable). */
  state(): RngState {
    return { key: this.key, words: [this.a, this.b, this.c, this.d], spareNormal: this.spareNormal };
  }

  /**
   * An independent generator for a named purpose. Depends only on this
   * generator's key and `label` (not on how much this one has been used), so
   * `new Rng(7).fork('crop')` is always the same stream.
   */
  fork(label: string | number): Rng {
    return Rng.fromKey(`${this.key}/${label}`);
  }

  /** The next raw 32-bit unsigned integer. */
  nextUint32(): number {
    // sfc32 step.
    const a = this.a;
    const b = this.b;
    const c = this.c;
    const d = this.d;
    const t = (((a + b) | 0) + d) | 0;
    this.d = (d + 1) | 0;
    this.a = b ^ (b >>> 9);
    this.b = (c + (c << 3)) | 0;
    this.c = (((c << 21) | (c >>> 11)) + t) | 0;
    return t >>> 0;
  }

  /** A double uniform in [low, high) with 53 bits of randomness. Defaults to [0, 1). */
  uniform(low = 0, high = 1): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    const u = (hi * 67108864 + lo) / 9007199254740992; // / 2^53
    return low + (high - low) * u;
  }

  /** An integer uniform in [0, n), without modulo bias. `n` must be an integer in [1, 2^32]. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new InvalidArgumentError(`Rng.int(n) needs an integer n in [1, 2^32], got ${n}`);
    }
    // Rejection sampling: discard the top partial block of 2^32 so every
    // residue is equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** An integer uniform in [low, high) (high exclusive). */
  intRange(low: number, high: number): number {
    return low + this.int(high - low);
  }

  /** True with probability `p` (default 0.5). */
  bernoulli(p = 0.5): boolean {
    return this.uniform() < p;
  }

  /** A normal deviate N(mean, std²) (Box-Muller; the second deviate is cached). */
  normal(mean = 0, std = 1): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + std * z;
    }
    // 1 - uniform() is in (0, 1], so the log is finite.
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    this.spareNormal = r * Math.sin(theta);
    return mean + std * r * Math.cos(theta);
  }

  /** Fills `out` with N(mean, std²) deviates and returns it. */
  fillNormal(out: Float32Array | Float64Array, mean = 0, std = 1): Float32Array | Float64Array {
    for (let i = 0; i < out.length; i++) out[i] = this.normal(mean, std);
    return out;
  }

  /** Fills `out` with uniform deviates in [low, high) and returns it. */
  fillUniform(out: Float32Array | Float64Array, low = 0, high = 1): Float32Array | Float64Array {
    for (let i = 0; i < out.length; i++) out[i] = this.uniform(low, high);
    return out;
  }

  /** Shuffles `array` in place (Fisher-Yates) and returns it. */
  shuffle<A extends { length: number; [index: number]: unknown }>(array: A): A {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /** A uniformly random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`permutation size must be a non-negative integer, got ${n}`);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    return this.shuffle(out);
  }

  /** `k` distinct indices from 0..n-1, in random order (partial Fisher-Yates). */
  sampleWithoutReplacement(n: number, k: number): Int32Array {
    if (!Number.isInteger(k) || k < 0 || k > n) throw new InvalidArgumentError(`cannot sample ${k} distinct values from ${n}`);
    const pool = new Int32Array(n);
    for (let i = 0; i < n; i++) pool[i] = i;
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      const tmp = pool[i]!;
      pool[i] = pool[j]!;
      pool[j] = tmp;
    }
    return pool.slice(0, k);
  }
}
