import { Rng } from '@vqkit/core';
import { describe, expect, it } from 'vitest';
import { TrainingSampler, evaluationWindows, packWindows, randomWindow, toSequenceList } from './data.js';
import { createVocabulary } from './vocabulary.js';

describe('training windows', () => {
  // Prefix 100, then tokens 0..20 (21 tokens).
  const seq = Int32Array.from([100, ...Array.from({ length: 21 }, (_, i) => i)]);
  const spec = { nPositions: 8, prefixLength: 1, windowAlign: 3 };

  it('random windows keep the prefix, fit the context and start on aligned positions', () => {
    const rng = new Rng(0);
    const starts = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const w = randomWindow(seq, spec, rng);
      expect(w.length).toBe(9);
      expect(w[0]).toBe(100);
      expect(w[1]! % 3).toBe(0);
      for (let j = 2; j < w.length; j++) expect(w[j]).toBe(w[j - 1]! + 1);
      starts.add(w[1]!);
    }
    // Body of 8 tokens within 21: aligned starts 0, 3, 6, 9, 12.
    expect([...starts].sort((a, b) => a - b)).toEqual([0, 3, 6, 9, 12]);
    expect(randomWindow(seq.subarray(0, 5), spec, rng)).toEqual(seq.subarray(0, 5));
  });

  it('evaluation windows predict every token after the prefix exactly once', () => {
    const windows = evaluationWindows(seq, spec);
    const batch = packWindows(windows, 1);
    const predicted: number[] = [];
    for (let i = 0; i < batch.targets.length; i++) if (batch.weights[i]) predicted.push(batch.targets[i]!);
    expect(predicted).toEqual(Array.from({ length: 21 }, (_, i) => i));
    windows.forEach((w) => {
      expect(w[0]).toBe(100);
      expect(w.length).toBeLessThanOrEqual(9);
    });
  });

  it('packs ragged windows with zero weight on padding and on prefix targets', () => {
    const b = packWindows([Int32Array.from([7, 8, 1, 2]), Int32Array.from([7, 9, 3])], 2);
    expect(b.time).toBe(3);
    expect(Array.from(b.inputs)).toEqual([7, 8, 1, 7, 9, 0]);
    expect(Array.from(b.targets)).toEqual([8, 1, 2, 9, 3, 0]);
    expect(Array.from(b.weights)).toEqual([0, 1, 1, 0, 1, 0]);
  });

  it('accepts packed sequences and validates them', () => {
    const list = toSequenceList({ tokens: [1, 2, 3, 4, 5], offsets: [0, 2, 5] }, 10, 'train');
    expect(list.map((s) => Array.from(s))).toEqual([[1, 2], [3, 4, 5]]);
    expect(() => toSequenceList({ tokens: [1, 2], offsets: [0, 3] }, 10, 'train')).toThrow(/not a valid range/);
    expect(() => toSequenceList([[1]], 10, 'train')).toThrow(/needs a prefix/);
  });

  describe('TrainingSampler', () => {
    const vocabulary = createVocabulary({ codebookSize: 4, numClasses: 3 });
    // 10 sequences: [class token, i, i, i].
    const sequences = Array.from({ length: 10 }, (_, i) => Int32Array.from([vocabulary.firstClassId + (i % 3), i % 4, i % 4, i % 4]));
    const sampler = (classDropout: number, seed = 1): TrainingSampler =>
      new TrainingSampler(sequences, { nPositions: 8, prefixLength: 1, windowAlign: 1, batchSize: 5, classDropout, vocabulary, rng: new Rng(seed) });

    it('is a pure function of (seed, step) and visits every sequence once per epoch', () => {
      const a = sampler(0);
      const b = sampler(0);
      // Out of order on purpose: step 3 does not depend on steps 0-2 having run.
      expect(b.windows(3).map((w) => Array.from(w))).toEqual(a.windows(3).map((w) => Array.from(w)));
      const epoch = [...a.windows(0), ...a.windows(1)];
      expect(new Set(epoch.map((w) => sequences.findIndex((s) => s === w))).size).toBe(10);
      expect(sampler(0, 2).windows(0).map((w) => Array.from(w))).not.toEqual(a.windows(0).map((w) => Array.from(w)));
    });

    it('class dropout replaces the class prefix with BOS at the given rate', () => {
      const all = (classDropout: number): Int32Array[] => {
        const s = sampler(classDropout);
        return Array.from({ length: 40 }, (_, step) => s.windows(step)).flat();
      };
      expect(all(0).every((w) => w[0]! >= vocabulary.firstClassId)).toBe(true);
      expect(all(1).every((w) => w[0] === vocabulary.bosId)).toBe(true);
      const half = all(0.5).filter((w) => w[0] === vocabulary.bosId).length / 200;
      expect(half).toBeGreaterThan(0.35);
      expect(half).toBeLessThan(0.65);
      // The codes themselves are never touched, and the source sequences stay intact.
      expect(sequences.every((s) => s[0]! >= vocabulary.firstClassId)).toBe(true);
    });
  });
});

