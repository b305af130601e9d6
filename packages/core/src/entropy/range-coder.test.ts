import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EntropyDecodeError, VqkitError } from '../errors.js';
import { AdaptiveFrequencyModel } from './adaptive-model.js';
import { decodeCodeTensor, encodeCodeTensor } from './code-stream.js';
import { ExternalPredictorModel } from './external-model.js';
import { packFixedLength, unpackFixedLength } from './fixed-length.js';
import { flatContext, type ProbabilityModel } from './model.js';
import { quantizeFrequencies } from './quantize.js';
import { FLUSH_BYTES, RangeDecoder, RangeEncoder } from './range-coder.js';
import { StaticModel } from './static-model.js';
import { UniformModel } from './uniform-model.js';
import { Rng } from '../util/rng.js';

type ModelName = 'uniform' | 'adaptive' | 'static' | 'external';

/** Deterministic uniform [0, 1) stream so failures reproduce. */
const rng = (seed: number): (() => number) => {
  const r = new Rng(seed);
  return () => r.uniform();
};

/** Symbols from a geometric-like skewed distribution over [0, k). */
function skewedStream(k: number, n: number, decay: number, seed: number): number[] {
  const rand = rng(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let s = 0;
    while (s < k - 1 && rand() < decay) s++;
    out.push(s);
  }
  return out;
}

function makeModel(name: ModelName, k: number, symbols: readonly number[]): ProbabilityModel {
  switch (name) {
    case 'uniform':
      return new UniformModel(k);
    case 'adaptive':
      return new AdaptiveFrequencyModel(k);
    case 'static': {
      const counts = new Float64Array(k);
      for (const s of symbols) counts[s] += 1;
      return StaticModel.fromCounts(counts);
    }
    case 'external': {
      // A toy history-driven predictor: mass on the previous symbol and its successor.
      return new ExternalPredictorModel(k, (history) => {
        const p = new Float64Array(k).fill(1 / k);
        const last = history.length > 0 ? history[history.length - 1] : 0;
        p[last] += 2;
        p[(last + 1) % k] += 1;
        return p;
      });
    }
  }
}

function roundTrip(symbols: readonly number[], k: number, name: ModelName): { decoded: number[]; bytes: number } {
  const model = makeModel(name, k, symbols);
  const bytes = encodeCodeTensor(symbols, [symbols.length, 1], [model]);
  model.reset();
  const decoded = Array.from(decodeCodeTensor(bytes, [symbols.length, 1], [model]));
  return { decoded, bytes: bytes.length };
}

function entropyBits(symbols: readonly number[], k: number): number {
  const counts = new Float64Array(k);
  for (const s of symbols) counts[s] += 1;
  let bits = 0;
  for (const c of counts) if (c > 0) bits -= c * Math.log2(c / symbols.length);
  return bits;
}

describe('range coder round trip', () => {
  const models: ModelName[] = ['uniform', 'adaptive', 'static', 'external'];
  for (const name of models) {
    it(`random alphabets and streams (${name})`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 300 }).chain((k) =>
            fc.tuple(fc.constant(k), fc.array(fc.integer({ min: 0, max: k - 1 }), { maxLength: 200 })),
          ),
          ([k, symbols]) => {
            expect(roundTrip(symbols, k, name).decoded).toEqual(symbols);
          },
        ),
        { numRuns: name === 'external' ? 60 : 150 },
      );
    });
  }

  it('skewed distributions round-trip with every model', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 2000 }), fc.double({ min: 0, max: 0.999, noNaN: true }), fc.integer(), (k, decay, seed) => {
        const symbols = skewedStream(k, 300, decay, seed);
        for (const name of ['uniform', 'adaptive', 'static'] as const) expect(roundTrip(symbols, k, name).decoded).toEqual(symbols);
      }),
      { numRuns: 60 },
    );
  });

  it('alphabet of 1 codes to zero bytes', () => {
    for (const name of ['uniform', 'adaptive', 'static'] as const) {
      const symbols = new Array(1000).fill(0);
      const { decoded, bytes } = roundTrip(symbols, 1, name);
      expect(decoded).toEqual(symbols);
      expect(bytes).toBe(0);
    }
  });

  it('alphabet of 65536 (every symbol, extremes, adaptive growth)', () => {
    const k = 65536;
    const rand = rng(7);
    const symbols = [0, k - 1, k - 1, 0, 1, k - 2];
    for (let i = 0; i < 2000; i++) symbols.push(rand() < 0.5 ? Math.floor(rand() * 16) : Math.floor(rand() * k));
    for (const name of ['uniform', 'adaptive', 'static'] as const) expect(roundTrip(symbols, k, name).decoded).toEqual(symbols);
    // Uniform coding of 65536 symbols costs exactly 16 bits each, up to the flush.
    expect(roundTrip(symbols, k, 'uniform').bytes).toBeLessThanOrEqual(2 * symbols.length + 2);
  });

  it('carry propagation: long runs at the top of the interval', () => {
    // The last symbol of a skewed table sits at the top of the range, which drives low towards carries through 0xFF runs.
    const model = new StaticModel([1, 1, 1 << 20]);
    const symbols = new Array(5000).fill(2);
    for (let i = 0; i < symbols.length; i += 97) symbols[i] = 1;
    const bytes = encodeCodeTensor(symbols, [symbols.length, 1], [model]);
    expect(Array.from(decodeCodeTensor(bytes, [symbols.length, 1], [model]))).toEqual(symbols);
  });

  it('raw intervals at the limits round-trip', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.integer({ min: 1, max: 2 ** 28 }).chain((total) =>
            fc.integer({ min: 0, max: total - 1 }).chain((low) => fc.tuple(fc.constant(total), fc.constant(low), fc.integer({ min: 1, max: total - low }))),
          ),
          { maxLength: 100 },
        ),
        (intervals) => {
          const enc = new RangeEncoder();
          for (const [total, low, freq] of intervals) enc.encodeInterval(low, freq, total);
          const bytes = enc.finish();
          const dec = new RangeDecoder(bytes);
          for (const [total, low, freq] of intervals) {
            const target = dec.decodeTarget(total);
            expect(target).toBeGreaterThanOrEqual(low);
            expect(target).toBeLessThan(low + freq);
            dec.consume(low, freq, total);
          }
          dec.finish();
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('compression', () => {
  it('a skewed stream codes within 1% + 8 bytes of its empirical entropy (static model)', () => {
    for (const [k, decay] of [
      [16, 0.5],
      [512, 0.9],
      [4, 0.05],
    ] as const) {
      const symbols = skewedStream(k, 20000, decay, 42);
      const h = entropyBits(symbols, k);
      const { bytes } = roundTrip(symbols, k, 'static');
      expect(bytes * 8).toBeLessThanOrEqual(h * 1.01 + 64);
    }
  });

  it('the adaptive model approaches the entropy of a stationary skewed stream', () => {
    const k = 256;
    const symbols = skewedStream(k, 50000, 0.7, 3);
    const h = entropyBits(symbols, k);
    const { bytes } = roundTrip(symbols, k, 'adaptive');
    expect(bytes * 8).toBeLessThanOrEqual(h * 1.05 + 8 * 256);
    expect(bytes * 8).toBeLessThan(roundTrip(symbols, k, 'uniform').bytes * 8 * 0.5);
  });

  it('uniform model codes log2(K) bits per symbol for non-power-of-two K', () => {
    const symbols = skewedStream(10, 10000, 0.9, 5);
    const { bytes } = roundTrip(symbols, 10, 'uniform');
    expect(bytes * 8).toBeLessThanOrEqual(Math.ceil(10000 * Math.log2(10)) + 16);
    expect(bytes * 8).toBeGreaterThanOrEqual(Math.floor(10000 * Math.log2(10)) - 8);
  });
});

describe('decoder robustness', () => {
  it('random bytes decode to a typed error or symbols, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: 200 }), (bytes, k, n) => {
        const model = new AdaptiveFrequencyModel(k);
        try {
          const out = decodeCodeTensor(bytes, [n, 1], [model]);
          for (const s of out) expect(s >= 0 && s < k).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(VqkitError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('truncation and appended bytes beyond the flush are detected', () => {
    // Within FLUSH_BYTES the stream cannot tell dropped flush zeros from real bytes; the container's CRC covers that.
    const symbols = skewedStream(64, 500, 0.8, 9);
    const model = new StaticModel(quantizeFrequencies(new Array(64).fill(0).map((_, i) => 64 - i)));
    const bytes = encodeCodeTensor(symbols, [500, 1], [model]);
    expect(() => decodeCodeTensor(bytes.subarray(0, bytes.length - 8), [500, 1], [model])).toThrow(EntropyDecodeError);
    const longer = new Uint8Array(bytes.length + FLUSH_BYTES + 1);
    longer.set(bytes);
    longer[bytes.length] = 7;
    expect(() => decodeCodeTensor(longer, [500, 1], [model])).toThrow(EntropyDecodeError);
  });
});

describe('quantizeFrequencies', () => {
  it('every symbol ≥ 1, exact total, deterministic, monotone in the weights', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 400 }),
        fc.integer({ min: 0, max: 12 }),
        (weights, extraBits) => {
          const total = Math.max(weights.length, 1 << 12) * 2 ** extraBits;
          const q = quantizeFrequencies(weights, total);
          let sum = 0;
          for (const f of q) {
            expect(f).toBeGreaterThanOrEqual(1);
            sum += f;
          }
          expect(sum).toBe(total);
          expect(Array.from(quantizeFrequencies(weights, total))).toEqual(Array.from(q));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('treats NaN, Infinity and negatives as zero weight; all-zero is uniform', () => {
    const q = quantizeFrequencies([Number.NaN, -1, Number.POSITIVE_INFINITY, 1], 100);
    expect(Array.from(q)).toEqual([1, 1, 1, 97]);
    expect(Array.from(quantizeFrequencies([0, 0, 0], 10))).toEqual([4, 3, 3]);
  });
});

describe('fixed-length packing', () => {
  it('round-trips multi-level codes with mixed widths', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 2 ** 22 }), { minLength: 1, maxLength: 4 }).chain((sizes) =>
          fc.tuple(
            fc.constant(sizes),
            fc.array(fc.tuple(...sizes.map((k) => fc.integer({ min: 0, max: k - 1 }))), { maxLength: 50 }),
          ),
        ),
        ([sizes, rows]) => {
          const codes = rows.flat();
          const packed = packFixedLength(codes, sizes);
          expect(Array.from(unpackFixedLength(packed, codes.length, sizes))).toEqual(codes);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects out-of-codebook values and wrong lengths', () => {
    const packed = packFixedLength([9, 9], [10]);
    expect(() => unpackFixedLength(Uint8Array.of(0xff), 2, [10])).toThrow(EntropyDecodeError);
    expect(() => unpackFixedLength(packed, 3, [10])).toThrow(EntropyDecodeError);
  });
});

it('flatContext has no neighbours', () => {
  expect(flatContext(3)).toEqual({ position: 3, level: 0, left: -1, up: -1 });
});

describe('decoder work bound', () => {
  it('a truncated payload fails at its first read past the flush, not after decoding every declared code', () => {
    let steps = 0;
    const uniform = new UniformModel(256);
    const counting: ProbabilityModel = {
      alphabetSize: 256,
      frequencies: (ctx) => {
        steps++;
        return uniform.frequencies(ctx);
      },
      update: () => {},
      reset: () => {},
    };
    // 10 bytes cannot hold a million 8-bit codes: decoding must stop after about 10 + FLUSH_BYTES codes.
    expect(() => decodeCodeTensor(new Uint8Array(10).fill(0x55), [1_000_000, 1], [counting])).toThrow(EntropyDecodeError);
    expect(steps).toBeLessThanOrEqual(10 + FLUSH_BYTES + 1);
  });
});
