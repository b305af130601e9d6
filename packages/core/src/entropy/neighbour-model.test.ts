import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readContainer, writeContainer } from '../container/container.js';
import { computeTokenizerId } from '../container/tokenizer-id.js';
import { FileFormatError } from '../errors.js';
import { decodeCodeTensor, encodeCodeTensor } from './code-stream.js';
import { measureCodeBits } from './measure.js';
import { NeighbourContextModelSet, type NeighbourContextMode } from './neighbour-model.js';
import { adaptiveSpec, fixedLengthSpec, uniformSpec } from './spec.js';
import { StaticModelSet } from './static-model.js';
import { Rng } from '../util/rng.js';

/** Deterministic uniform [0, 1) stream so failures reproduce. */
const rng = (seed: number): (() => number) => {
  const r = new Rng(seed);
  return () => r.uniform();
};

/**
 * A synthetic VQ-like code grid [h, w, 1]: codes repeat their left or upper
 * neighbour often (smooth image regions) and are otherwise drawn from a
 * Zipf-like distribution (a few codes dominate).
 */
function syntheticGrid(h: number, w: number, k: number, seed: number, copyNeighbours = true): Int32Array {
  const rand = rng(seed);
  const codes = new Int32Array(h * w);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const u = rand();
      let code: number;
      if (copyNeighbours && c > 0 && u < 0.35) code = codes[r * w + c - 1];
      else if (copyNeighbours && r > 0 && u < 0.6) code = codes[(r - 1) * w + c];
      else code = Math.min(k - 1, Math.floor(k * rand() ** 4));
      codes[r * w + c] = code;
    }
  }
  return codes;
}

const grids = (count: number, seed: number, k = 512, copyNeighbours = true) =>
  Array.from({ length: count }, (_, i) => ({ codes: syntheticGrid(7, 7, k, seed + i, copyNeighbours), shape: [7, 7, 1] as const }));

describe('NeighbourContextModel', () => {
  it('round-trips random grids for every context mode, including contexts never seen in training', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<NeighbourContextMode>('left', 'up', 'left-up'),
        fc.integer({ min: 1, max: 600 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer(),
        (mode, k, h, w, seed) => {
          const train = Array.from({ length: 5 }, (_, i) => ({ codes: syntheticGrid(h, w, k, seed + i), shape: [h, w, 1] }));
          const set = NeighbourContextModelSet.train(train, [k], { context: mode, minContextCount: 1 });
          const rand = rng(seed ^ 0x5bd1e995);
          const fresh = Int32Array.from({ length: h * w }, () => Math.floor(rand() * k));
          for (const codes of [train[0].codes, fresh]) {
            const models = [set.createModel(0, k)];
            const bytes = encodeCodeTensor(codes, [h, w, 1], models);
            expect(Array.from(decodeCodeTensor(bytes, [h, w, 1], models))).toEqual(Array.from(codes));
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('multi-level tensors with different codebooks per level', () => {
    const sizes = [64, 7];
    const rand = rng(11);
    const samples = Array.from({ length: 20 }, () => ({ codes: Int32Array.from({ length: 6 * 5 * 2 }, (_, i) => Math.floor(rand() ** 2 * sizes[i % 2])), shape: [6, 5, 2] }));
    const set = NeighbourContextModelSet.train(samples, sizes);
    const models = sizes.map((k, l) => set.createModel(l, k));
    for (const s of samples.slice(0, 5)) {
      const bytes = encodeCodeTensor(s.codes, s.shape, models);
      expect(Array.from(decodeCodeTensor(bytes, s.shape, models))).toEqual(Array.from(s.codes));
    }
  });

  it('serialises compactly and identically; a container coded with it decodes only with the same tables', () => {
    const set = NeighbourContextModelSet.train(grids(200, 1), [512]);
    const bytes = set.toBytes();
    const restored = NeighbourContextModelSet.fromBytes(bytes);
    expect(restored.toBytes()).toEqual(bytes);
    expect(restored.fingerprint).toEqual(set.fingerprint);
    const tokenizerId = computeTokenizerId(['test tokenizer']);
    const [sample] = grids(1, 5000);
    const container = writeContainer({ modality: 'image', tokenizerId, codebookSizes: [512] }, [sample], { model: set });
    expect(Array.from(readContainer(container, { model: restored }).segments[0].codes)).toEqual(Array.from(sample.codes));
    const other = NeighbourContextModelSet.train(grids(200, 2), [512]);
    expect(() => readContainer(container, { model: other })).toThrow(/entropy model mismatch/);
  });

  it('damaged serialisations fail with FileFormatError, never anything else', () => {
    const bytes = NeighbourContextModelSet.train(grids(20, 1, 40), [40]).toBytes();
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat(), (at, xor, cut) => {
        const damaged = bytes.slice(0, bytes.length - (cut % 4));
        damaged[at % damaged.length] ^= xor;
        try {
          NeighbourContextModelSet.fromBytes(damaged);
        } catch (err) {
          expect(err).toBeInstanceOf(FileFormatError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('backoff selection', () => {
  it('trusts contexts on correlated codes and backs off to the unigram on independent ones', () => {
    const k = 512;
    const correlated = NeighbourContextModelSet.train(grids(1000, 1, k, true), [k]);
    const independentTrain = grids(1000, 1, k, false);
    const independent = NeighbourContextModelSet.train(independentTrain, [k]);
    expect(correlated.levels[0].backoffStrength).toBeLessThan(independent.levels[0].backoffStrength);
    expect(correlated.levels[0].pairBackoffStrength).toBeLessThan(independent.levels[0].pairBackoffStrength);
    // On held-out independent codes the contexts are noise: the selected backoff keeps the cost at the unigram's.
    const test = grids(300, 50_000, k, false);
    const [stat, neigh, fixedBeta] = measureCodeBits(test, [k], {
      static: StaticModelSet.train(independentTrain.map((g) => g.codes), [k]),
      neighbour: independent,
      fixedBeta: NeighbourContextModelSet.train(independentTrain, [k], { backoffStrength: 2, pairBackoffStrength: 2 }),
    });
    expect(neigh.idealBits).toBeLessThan(stat.idealBits * 1.01);
    expect(neigh.idealBits).toBeLessThan(fixedBeta.idealBits);
  });
});

describe('measureCodeBits', () => {
  it('on correlated, skewed grids: neighbour < static < fixed-length, and payloads match ideal bits up to the flush', () => {
    const k = 512;
    const train = grids(2000, 1);
    const test = grids(200, 100_000);
    const reports = measureCodeBits(test, [k], {
      fixed: fixedLengthSpec,
      uniform: uniformSpec,
      adaptive: adaptiveSpec,
      static: StaticModelSet.train(train.map((g) => g.codes), [k]),
      neighbour: NeighbourContextModelSet.train(train, [k]),
    });
    const bits = Object.fromEntries(reports.map((r) => [r.name, r]));
    expect(bits.fixed.payloadBits).toBe(200 * 8 * Math.ceil((49 * 9) / 8));
    expect(bits.uniform.idealBits).toBeCloseTo(200 * 49 * 9, 6);
    expect(bits.static.payloadBits).toBeLessThan(bits.fixed.payloadBits * 0.85);
    expect(bits.neighbour.payloadBits).toBeLessThan(bits.static.payloadBits * 0.85);
    for (const r of reports) {
      if (r.kind === 'fixed-length') continue;
      // Whole bytes per tensor plus the flush: at most ~2 bytes each over the information content.
      expect(r.payloadBits).toBeGreaterThanOrEqual(r.idealBits - 1e-6);
      expect(r.payloadBits).toBeLessThanOrEqual(r.idealBits + 200 * 16);
    }
  });
});
