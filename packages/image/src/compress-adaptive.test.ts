import fc from 'fast-check';
import { createLevelModels, decodeCodeTensor, encodeCodeTensor, measureCodeBits, NeighbourContextModelSet, Rng, StaticModelSet } from '@vqkit/core';
import { describe, expect, it } from 'vitest';
import { AdaptiveMixtureSpec } from './compress-adaptive.js';
import { fitEntropyModelToCodes, parseEntropyModel } from './compress-entropy.js';

/** Deterministic uniform [0, 1) stream so failures reproduce. */
const rng = (seed: number): (() => number) => {
  const r = new Rng(seed);
  return () => r.uniform();
};

/** A [h, w] grid whose codes come from a per-image palette of `palette` codes (as photos use different parts of a codebook), copying neighbours often. */
function paletteGrid(h: number, w: number, k: number, palette: number, seed: number): Int32Array {
  const rand = rng(seed);
  const colours = Array.from({ length: palette }, () => Math.floor(rand() * k));
  const codes = new Int32Array(h * w);
  for (let i = 0; i < codes.length; i++) {
    const u = rand();
    codes[i] = i % w > 0 && u < 0.3 ? codes[i - 1]! : i >= w && u < 0.5 ? codes[i - w]! : colours[Math.floor(rand() * palette)]!;
  }
  return codes;
}

describe('AdaptiveMixtureSpec', () => {
  it('round-trips random grids through the range coder for any β and alphabet', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 700 }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 1, max: 12 }), fc.integer(), fc.boolean(), (k, log2Beta, side, seed, neighbour) => {
        const train = Array.from({ length: 3 }, (_, i) => ({ codes: paletteGrid(side, side, k, 5, seed + i), shape: [side, side, 1] }));
        const learned = neighbour ? NeighbourContextModelSet.train(train, [k], { minContextCount: 1 }) : StaticModelSet.train(train.map((t) => t.codes), [k]);
        const spec = new AdaptiveMixtureSpec(learned, log2Beta);
        const codes = paletteGrid(side, side + 1, k, 7, seed ^ 0x9e3779b9);
        const shape = [side, side + 1, 1];
        const bytes = encodeCodeTensor(codes, shape, createLevelModels(spec, [k]));
        expect(Array.from(decodeCodeTensor(bytes, shape, createLevelModels(spec, [k])))).toEqual(Array.from(codes));
        expect(parseEntropyModel(spec.toBytes()).fingerprint).toEqual(spec.fingerprint);
      }),
      { numRuns: 150 },
    );
  });

  it('is chosen when images use their own subsets of the codebook, and saves bits on unseen images', () => {
    const k = 512;
    const grid = (seed: number) => ({ codes: paletteGrid(32, 32, k, 12, seed), shape: [32, 32], height: 128, width: 128 });
    const model = fitEntropyModelToCodes(Array.from({ length: 20 }, (_, i) => grid(i)), [k]);
    expect(model).toBeInstanceOf(AdaptiveMixtureSpec);
    const plain = fitEntropyModelToCodes(Array.from({ length: 20 }, (_, i) => grid(i)), [k], { adaptive: false });
    const test = Array.from({ length: 4 }, (_, i) => ({ codes: grid(100 + i).codes, shape: [32, 32, 1] }));
    const [adaptive, learned] = measureCodeBits(test, [k], { adaptive: model, learned: plain });
    expect(adaptive!.payloadBits).toBeLessThan(0.8 * learned!.payloadBits);
  });

  it('is not chosen when every image has the same statistics', () => {
    const k = 64;
    const same = (seed: number) => {
      const rand = rng(seed);
      const codes = Int32Array.from({ length: 100 }, () => Math.floor(k * rand() ** 3));
      return { codes, shape: [10, 10], height: 40, width: 40 };
    };
    const model = fitEntropyModelToCodes(Array.from({ length: 30 }, (_, i) => same(i)), [k], { context: 'none' });
    expect(model).toBeInstanceOf(StaticModelSet);
  });
});
