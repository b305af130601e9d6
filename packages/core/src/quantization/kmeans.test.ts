import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { kmeans, kmeansPlusPlusInit } from './kmeans.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function blobs(rng: Rng, centres: number[][], perBlob: number, std: number): Float32Array {
  const d = centres[0]!.length;
  const data = new Float32Array(centres.length * perBlob * d);
  centres.forEach((c, b) => {
    for (let i = 0; i < perBlob; i++) for (let j = 0; j < d; j++) data[(b * perBlob + i) * d + j] = c[j]! + rng.normal(0, std);
  });
  return data;
}

describe('k-means', () => {
  const centres = [
    [0, 0],
    [20, 0],
    [0, 20],
    [20, 20],
    [-20, -20],
    [40, -20],
  ];

  it('k-means++ seeds one centre per well-separated blob', () => {
    const data = blobs(new Rng(1), centres, 50, 0.5);
    const seeds = kmeansPlusPlusInit(data, centres.length * 50, 2, centres.length, new Rng(2));
    const hit = new Set<number>();
    for (let k = 0; k < centres.length; k++) {
      const nearest = centres.findIndex((c) => Math.hypot(c[0]! - seeds[2 * k]!, c[1]! - seeds[2 * k + 1]!) < 3);
      hit.add(nearest);
    }
    expect(hit.size).toBe(centres.length);
  });

  it('Lloyd iterations converge to the blob means with low distortion', () => {
    const data = blobs(new Rng(3), centres, 50, 0.5);
    const result = kmeans(data, centres.length * 50, 2, centres.length, { seed: 4 });
    // Expected per-point squared error: d·σ² = 2·0.25.
    expect(result.distortion).toBeLessThan(0.7);
    expect(Array.from(result.counts).sort()).toEqual(Array(centres.length).fill(50));
    for (const c of centres) {
      const dist = Math.min(...Array.from({ length: centres.length }, (_, k) => Math.hypot(c[0]! - result.centroids[2 * k]!, c[1]! - result.centroids[2 * k + 1]!)));
      expect(dist).toBeLessThan(0.3);
    }
  });

  it('handles fewer points than centres and spherical mode', () => {
    const data = Float32Array.from([3, 4, 0, 2]);
    const result = kmeans(data, 2, 2, 4, { spherical: true, iterations: 3 });
    for (let k = 0; k < 4; k++) expect(Math.hypot(result.centroids[2 * k]!, result.centroids[2 * k + 1]!)).toBeCloseTo(1, 5);
    expect(result.counts.reduce((a, b) => a + b, 0)).toBe(2);
    expect(() => kmeans(data, 3, 2, 2)).toThrow(InvalidArgumentError);
  });
});
