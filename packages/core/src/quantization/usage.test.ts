import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors.js';
import { batchPerplexity, perplexityFromCounts, perplexityOfCountsTensor } from './perplexity.js';
import { CodeUsageTracker } from './usage.js';
import { VectorQuantizer } from './vector-quantizer.js';
import { ResidualVectorQuantizer } from './residual-vector-quantizer.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('perplexity', () => {
  it('is K for uniform use, 1 for a single code, exp(entropy) otherwise', () => {
    expect(perplexityFromCounts([5, 5, 5, 5])).toBeCloseTo(4, 12);
    expect(perplexityFromCounts([0, 9, 0])).toBe(1);
    // p = [1/4, 1/4, 1/2]: H = 1.5·ln 2, so perplexity = 2^1.5.
    expect(perplexityFromCounts([1, 1, 2, 0])).toBeCloseTo(2 ** 1.5, 12);
    expect(perplexityFromCounts([0, 0])).toBe(0);
    expect(() => perplexityFromCounts([1, -1])).toThrow(InvalidArgumentError);
  });

  it('tensor versions agree with the JS one', () => {
    const counts = tf.tensor1d([1, 1, 2, 0]);
    const p = perplexityOfCountsTensor(counts);
    expect(p.dataSync()[0]).toBeCloseTo(2 ** 1.5, 5);
    const codes = tf.tensor2d([[0, 1], [2, 2]], [2, 2], 'int32');
    const b = batchPerplexity(codes, 4);
    expect(b.dataSync()[0]).toBeCloseTo(2 ** 1.5, 5);
    tf.dispose([counts, p, codes, b]);
  });
});

describe('CodeUsageTracker', () => {
  it('accumulates per-level histograms, used fraction and pass perplexity', () => {
    const tracker = new CodeUsageTracker([4, 8]);
    tracker.addCodes([0, 5, 1, 5, 2, 7, 3, 5], 2); // rows [level0, level1]
    tracker.addCodes([0, 1], 1); // level 0 only (a lower bitrate)
    const usage = tracker.usage();
    expect(Array.from(usage.histogram[0]!)).toEqual([2, 2, 1, 1]);
    expect(Array.from(usage.histogram[1]!)).toEqual([0, 0, 0, 0, 0, 3, 0, 1]);
    expect(usage.usedFraction).toEqual([1, 2 / 8]);
    expect(usage.perplexity[0]).toBeCloseTo(perplexityFromCounts([2, 2, 1, 1]), 12);
    expect(usage.perplexity[1]).toBeCloseTo(Math.exp(-(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25))), 12);
    tracker.reset();
    expect(tracker.usage().usedFraction).toEqual([0, 0]);
    expect(() => tracker.addCodes([4], 1)).toThrow(InvalidArgumentError);
    expect(() => tracker.addCodes([0, 1, 2], 2)).toThrow(InvalidArgumentError);
    expect(() => tracker.addCodes([0, 1, 2], 3)).toThrow(InvalidArgumentError);
  });

  it('is wired into the quantizers (levels axis for residual codes)', () => {
    const vq = new VectorQuantizer({ codebookSize: 4, dim: 1, kmeansInit: false });
    vq.trackUsage(tf.tensor2d([[0, 1], [1, 1]], [2, 2], 'int32'));
    expect(Array.from(vq.usage().histogram[0]!)).toEqual([1, 3, 0, 0]);
    expect(vq.usage().usedFraction).toEqual([0.5]);
    vq.resetUsage();
    expect(Array.from(vq.usage().histogram[0]!)).toEqual([0, 0, 0, 0]);
    const rvq = new ResidualVectorQuantizer({ levels: 3, codebookSize: 4, dim: 1, kmeansInit: false });
    rvq.trackUsage(tf.tensor2d([[0, 1], [2, 1]], [2, 2], 'int32'));
    const usage = rvq.usage();
    expect(Array.from(usage.histogram[0]!)).toEqual([1, 0, 1, 0]);
    expect(Array.from(usage.histogram[1]!)).toEqual([0, 2, 0, 0]);
    expect(Array.from(usage.histogram[2]!)).toEqual([0, 0, 0, 0]);
    expect(() => vq.trackUsage(tf.zeros([2]))).toThrow(InvalidArgumentError);
    vq.dispose();
    rvq.dispose();
  });
});
