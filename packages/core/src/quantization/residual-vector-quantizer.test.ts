import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { ResidualVectorQuantizer } from './residual-vector-quantizer.js';
import type { QuantizerOutput } from './types.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function disposeOutput(out: QuantizerOutput): void {
  tf.dispose([out.quantized, out.codes, out.loss, out.perplexity]);
}

describe('ResidualVectorQuantizer', () => {
  it('reconstruction error decreases with every level and decodeCodes reproduces forward', () => {
    const rng = new Rng(1);
    const N = 256;
    const D = 4;
    const rvq = new ResidualVectorQuantizer({ levels: 4, codebookSize: 16, dim: D, seed: 2 });
    const x = tf.tensor3d(rng.fillNormal(new Float32Array(N * D)) as Float32Array, [4, N / 4, D]);
    // One training step k-means-initialises every level on its residual.
    const trained = rvq.forward(x, { training: true });
    rvq.afterStep();
    disposeOutput(trained);
    const errors: number[] = [];
    for (let levels = 1; levels <= 4; levels++) {
      const out = rvq.forward(x, { levels });
      expect(out.codes.shape).toEqual([4, N / 4, levels]);
      const decoded = rvq.decodeCodes(out.codes);
      expect(Array.from(decoded.dataSync())).toEqual(Array.from(out.quantized.dataSync()));
      errors.push(tf.tidy(() => tf.mean(tf.square(tf.sub(out.quantized, x))).dataSync()[0]!));
      tf.dispose(decoded);
      disposeOutput(out);
    }
    for (let i = 1; i < errors.length; i++) expect(errors[i]).toBeLessThan(errors[i - 1]! * 0.9);
    const full = rvq.forward(x);
    expect(full.codes.shape).toEqual([4, N / 4, 4]);
    disposeOutput(full);
    x.dispose();
    rvq.dispose();
  });

  it('passes gradients straight through the sum of levels', () => {
    const rng = new Rng(2);
    const rvq = new ResidualVectorQuantizer({ levels: 3, codebookSize: 8, dim: 3, kmeansInit: false, codebook: 'loss' });
    const x = tf.tensor2d(rng.fillNormal(new Float32Array(30)) as Float32Array, [10, 3]);
    const w = tf.tensor2d(rng.fillNormal(new Float32Array(30)) as Float32Array, [10, 3]);
    const gx = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(rvq.forward(input).quantized, w)))(x);
    expect(Array.from(gx.dataSync())).toEqual(Array.from(w.dataSync()));
    // In 'loss' mode every level's codebook receives gradient from the summed aux loss.
    const { value, grads } = tf.variableGrads(() => rvq.forward(x, { training: true }).loss);
    for (const layer of rvq.layers) expect(tf.max(tf.abs(grads[layer.codebook.name]!)).dataSync()[0]).toBeGreaterThan(0);
    rvq.afterStep();
    tf.dispose([x, w, gx, value, ...Object.values(grads)]);
    rvq.dispose();
  });

  it('quantizer dropout varies the number of levels in training only', () => {
    const rng = new Rng(3);
    const rvq = new ResidualVectorQuantizer({ levels: 4, codebookSize: 8, dim: 2, quantizerDropout: true, seed: 4 });
    const x = tf.tensor2d(rng.fillNormal(new Float32Array(64)) as Float32Array, [32, 2]);
    const seen = new Set<number>();
    for (let step = 0; step < 20; step++) {
      const out = rvq.forward(x, { training: true });
      const used = out.codes.shape[1]!;
      expect(used).toBeGreaterThanOrEqual(1);
      expect(used).toBeLessThanOrEqual(4);
      seen.add(used);
      disposeOutput(out);
      rvq.afterStep();
    }
    expect(seen.size).toBeGreaterThan(1);
    for (let i = 0; i < 3; i++) {
      const out = rvq.forward(x);
      expect(out.codes.shape).toEqual([32, 4]);
      disposeOutput(out);
    }
    const two = rvq.forward(x, { training: true, levels: 2 });
    expect(two.codes.shape).toEqual([32, 2]);
    disposeOutput(two);
    rvq.afterStep();
    x.dispose();
    rvq.dispose();
  });

  it('names variables per level, projects a shared low-dim space, and validates levels', () => {
    const rvq = new ResidualVectorQuantizer({ levels: 2, codebookSize: 4, dim: 8, codebookDim: 2 });
    const names = rvq.namedVariables().map(([n]) => n);
    expect(names).toEqual(expect.arrayContaining(['projectIn.weight', 'projectOut.bias', 'level0.codebook', 'level1.codebook', 'level1.clusterSize']));
    expect(rvq.layers[0]!.codebook.shape).toEqual([4, 2]);
    const x = tf.zeros([3, 8]);
    expect(() => rvq.forward(x, { levels: 3 })).toThrow(InvalidArgumentError);
    expect(() => rvq.forward(x, { levels: 0 })).toThrow(InvalidArgumentError);
    const out = rvq.forward(x, { levels: 1 });
    expect(out.quantized.shape).toEqual([3, 8]);
    expect(() => rvq.decodeCodes(tf.zeros([3, 3], 'int32'))).toThrow(InvalidArgumentError);
    disposeOutput(out);
    x.dispose();
    rvq.dispose();
    expect(() => new ResidualVectorQuantizer({ levels: 0, codebookSize: 4, dim: 2 })).toThrow(InvalidArgumentError);
  });
});
