/**
 * End-to-end check of the training protocol: a tiny dense autoencoder with
 * each quantizer in the bottleneck must learn (reconstruction error falls)
 * and leak no tensors across steps.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../util/rng.js';
import { FiniteScalarQuantizer } from './finite-scalar-quantizer.js';
import { Linear } from '../nn/linear.js';
import { ResidualVectorQuantizer } from './residual-vector-quantizer.js';
import type { Quantizer } from './types.js';
import { VectorQuantizer } from './vector-quantizer.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const INPUT = 8;
const HIDDEN = 16;

/** 256 points around 12 random centres in 8-D: structured enough for a 16-code bottleneck. */
function dataset(): tf.Tensor2D {
  const rng = new Rng(11);
  const centres = Array.from({ length: 12 }, () => Array.from({ length: INPUT }, () => rng.normal(0, 1)));
  const data = new Float32Array(256 * INPUT);
  for (let i = 0; i < 256; i++) {
    const c = centres[rng.int(centres.length)]!;
    for (let j = 0; j < INPUT; j++) data[i * INPUT + j] = c[j]! + rng.normal(0, 0.05);
  }
  return tf.tensor2d(data, [256, INPUT]);
}

function train(quantizer: Quantizer, latent: number, steps: number): { first: number; last: number; leaked: number } {
  const x = dataset();
  const enc1 = new Linear({ inFeatures: INPUT, outFeatures: HIDDEN, seed: 1 });
  const enc2 = new Linear({ inFeatures: HIDDEN, outFeatures: latent, seed: 2 });
  const dec1 = new Linear({ inFeatures: latent, outFeatures: HIDDEN, seed: 3 });
  const dec2 = new Linear({ inFeatures: HIDDEN, outFeatures: INPUT, seed: 4 });
  const modules = [enc1, enc2, dec1, dec2, quantizer];
  const variables = modules.flatMap((m) => m.trainableVariables());
  const optimizer = tf.train.adam(0.01);
  const reconstruction = (training: boolean): tf.Scalar => {
    const z = enc2.forward(tf.relu(enc1.forward(x)));
    const q = quantizer.forward(z, { training });
    const recon = dec2.forward(tf.relu(dec1.forward(q.quantized)));
    const loss = tf.mean(tf.square(tf.sub(recon, x))) as tf.Scalar;
    return training ? (tf.add(loss, q.loss) as tf.Scalar) : loss;
  };
  const evaluate = (): number => tf.tidy(() => reconstruction(false).dataSync()[0]!);
  const step = (): void => {
    const cost = optimizer.minimize(() => reconstruction(true), true, variables);
    if (cost) cost.dispose();
    quantizer.afterStep();
  };
  step(); // initialises the codebook (k-means) so the baseline is fair
  const first = evaluate();
  step();
  const tensorsAfterWarmup = tf.memory().numTensors;
  for (let i = 2; i < steps; i++) step();
  const leaked = tf.memory().numTensors - tensorsAfterWarmup;
  const last = evaluate();
  optimizer.dispose();
  x.dispose();
  for (const m of modules) m.dispose();
  return { first, last, leaked };
}

describe('tiny autoencoder trains with every quantizer', () => {
  const cases: [string, () => Quantizer, number][] = [
    ['VQ (EMA)', () => new VectorQuantizer({ codebookSize: 16, dim: 4 }), 4],
    ["VQ ('loss' codebook)", () => new VectorQuantizer({ codebookSize: 16, dim: 4, codebook: 'loss' }), 4],
    ['VQ (cosine, low-dim codebook)', () => new VectorQuantizer({ codebookSize: 16, dim: 6, codebookDim: 3, cosine: true }), 6],
    ['RVQ (quantizer dropout)', () => new ResidualVectorQuantizer({ levels: 3, codebookSize: 8, dim: 4, quantizerDropout: true }), 4],
    ['FSQ', () => new FiniteScalarQuantizer({ levels: [5, 5, 5] }), 3],
  ];
  for (const [name, make, latent] of cases) {
    it(name, () => {
      const { first, last, leaked } = train(make(), latent, 60);
      expect(last).toBeLessThan(first * 0.6);
      expect(leaked).toBe(0);
    });
  }
});
