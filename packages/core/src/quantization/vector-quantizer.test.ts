import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { VectorQuantizer } from './vector-quantizer.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function randomMatrix(rng: Rng, rows: number, cols: number, std = 1): Float32Array {
  return rng.fillNormal(new Float32Array(rows * cols), 0, std) as Float32Array;
}

/** Replaces the codebook of `vq` (and leaves every other variable as is). */
function setCodebook(vq: VectorQuantizer, values: number[][]): void {
  // Copies: assigning a tfjs variable to itself frees its data.
  const state = new Map<string, tf.Tensor>(vq.namedVariables().map(([name, v]) => [name, v.clone()]));
  state.get('codebook')!.dispose();
  state.set('codebook', tf.tensor2d(values));
  vq.loadState(state);
  tf.dispose([...state.values()]);
}

function squaredDistance(a: ArrayLike<number>, aOff: number, b: ArrayLike<number>, bOff: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) s += (a[aOff + j]! - b[bOff + j]!) ** 2;
  return s;
}

describe('VectorQuantizer nearest-code search', () => {
  it('matches a brute-force search and decodes its codes exactly', () => {
    const rng = new Rng(1);
    const N = 200;
    const D = 6;
    const K = 32;
    const vq = new VectorQuantizer({ codebookSize: K, dim: D, kmeansInit: false, seed: 3 });
    const data = randomMatrix(rng, N, D);
    const x = tf.tensor3d(data, [4, N / 4, D]);
    const out = vq.forward(x);
    expect(out.codes.shape).toEqual([4, N / 4]);
    expect(out.codes.dtype).toBe('int32');
    expect(out.quantized.shape).toEqual([4, N / 4, D]);
    const codes = out.codes.dataSync();
    const codebook = vq.codebook.dataSync();
    let identical = 0;
    for (let i = 0; i < N; i++) {
      let best = Infinity;
      let bestK = -1;
      for (let k = 0; k < K; k++) {
        const dist = squaredDistance(data, i * D, codebook, k * D, D);
        if (dist < best) [best, bestK] = [dist, k];
      }
      // The GEMM form rounds differently from the direct sum; allow only near-ties to differ.
      expect(squaredDistance(data, i * D, codebook, codes[i]! * D, D)).toBeLessThanOrEqual(best + 1e-4 * (1 + best));
      if (codes[i] === bestK) identical++;
    }
    expect(identical).toBeGreaterThanOrEqual(N - 2);
    const q = out.quantized.dataSync();
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < D; j++) expect(q[i * D + j]).toBe(codebook[codes[i]! * D + j]);
    }
    const decoded = vq.decodeCodes(out.codes);
    expect(Array.from(decoded.dataSync())).toEqual(Array.from(q));
    tf.dispose([x, out.quantized, out.codes, out.loss, out.perplexity, decoded]);
    vq.dispose();
  });

  it('rejects inputs whose last axis is not dim, and bad options', () => {
    const vq = new VectorQuantizer({ codebookSize: 4, dim: 3 });
    const x = tf.zeros([2, 4]);
    expect(() => vq.forward(x)).toThrow(InvalidArgumentError);
    expect(() => vq.decodeCodes(tf.zeros([2]))).toThrow(InvalidArgumentError);
    x.dispose();
    vq.dispose();
    expect(() => new VectorQuantizer({ codebookSize: 0, dim: 3 })).toThrow(InvalidArgumentError);
    expect(() => new VectorQuantizer({ codebookSize: 4, dim: 3, decay: 1 })).toThrow(InvalidArgumentError);
  });
});

describe('VectorQuantizer gradients', () => {
  it('passes the gradient straight through to the input', () => {
    const rng = new Rng(2);
    const vq = new VectorQuantizer({ codebookSize: 8, dim: 4, kmeansInit: false, seed: 1 });
    const x = tf.tensor2d(randomMatrix(rng, 10, 4), [10, 4]);
    const target = tf.tensor2d(randomMatrix(rng, 10, 4), [10, 4]);
    const lossOf = (q: tf.Tensor): tf.Scalar => tf.sum(tf.square(tf.sub(q, target)));
    const gradX = tf.grad((input: tf.Tensor) => lossOf(vq.forward(input).quantized))(x);
    const out = vq.forward(x);
    const gradQ = tf.grad((q: tf.Tensor) => lossOf(q))(out.quantized);
    expect(tf.max(tf.abs(gradX)).dataSync()[0]).toBeGreaterThan(0);
    expect(Array.from(gradX.dataSync())).toEqual(Array.from(gradQ.dataSync()));
    tf.dispose([x, target, gradX, gradQ, out.quantized, out.codes, out.loss, out.perplexity]);
    vq.dispose();
  });

  it("'loss' mode: the codebook loss reaches exactly the used codes, reconstruction does not", () => {
    const rng = new Rng(3);
    const N = 12;
    const D = 3;
    const K = 16;
    const vq = new VectorQuantizer({ codebookSize: K, dim: D, codebook: 'loss', kmeansInit: false, restartThreshold: 0, seed: 5 });
    expect(vq.trainableVariables()).toContain(vq.codebook);
    const data = randomMatrix(rng, N, D);
    const x = tf.tensor2d(data, [N, D]);
    const { value, grads } = tf.variableGrads(() => vq.forward(x, { training: true }).loss, [vq.codebook]);
    const grad = grads[vq.codebook.name]!.dataSync();
    const codes = vq.forward(x).codes.dataSync();
    const codebook = vq.codebook.dataSync();
    // d/dE_k mean((sg(z) − q)²) = Σ_{i→k} 2(e_k − z_i) / (N·D); the commitment term has sg(q).
    const expected = new Float64Array(K * D);
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < D; j++) expected[codes[i]! * D + j]! += (2 * (codebook[codes[i]! * D + j]! - data[i * D + j]!)) / (N * D);
    }
    for (let t = 0; t < K * D; t++) expect(grad[t]).toBeCloseTo(expected[t]!, 5);
    const used = new Set(codes);
    expect(used.size).toBeLessThan(K); // some codes are unused and must get exactly zero
    for (let k = 0; k < K; k++) if (!used.has(k)) for (let j = 0; j < D; j++) expect(grad[k * D + j]).toBe(0);
    vq.afterStep();
    const recon = tf.variableGrads(() => tf.sum(vq.forward(x).quantized), [vq.codebook]);
    expect(tf.max(tf.abs(recon.grads[vq.codebook.name]!)).dataSync()[0]).toBe(0);
    tf.dispose([x, value, recon.value, ...Object.values(grads), ...Object.values(recon.grads)]);
    vq.dispose();
  });
});

describe('VectorQuantizer codebook updates', () => {
  it('EMA update matches a hand computation over two steps', () => {
    const K = 2;
    const D = 2;
    const decay = 0.9;
    const epsilon = 1e-5;
    const vq = new VectorQuantizer({ codebookSize: K, dim: D, decay, epsilon, kmeansInit: false, restartThreshold: 0 });
    let E = [
      [0, 0],
      [10, 10],
    ];
    setCodebook(vq, E);
    const batches = [
      [[1, 1], [2, 0], [9, 9]],
      [[0, 1], [8, 12], [11, 9], [4, 4]],
    ];
    let cs: number[] = [];
    let es: number[][] = [];
    batches.forEach((batch, step) => {
      const assign = batch.map((p) => (squaredDistance(p, 0, E[0]!, 0, D) <= squaredDistance(p, 0, E[1]!, 0, D) ? 0 : 1));
      const counts = [0, 1].map((k) => assign.filter((a) => a === k).length);
      const sums = [0, 1].map((k) => [0, 1].map((j) => batch.reduce((s, p, i) => s + (assign[i] === k ? p[j]! : 0), 0)));
      if (step === 0) {
        // Statistics start from the first batch's assignment (see initializeFrom).
        cs = [...counts];
        es = E.map((e, k) => e.map((v) => v * cs[k]!));
      }
      cs = cs.map((c, k) => decay * c + (1 - decay) * counts[k]!);
      es = es.map((row, k) => row.map((v, j) => decay * v + (1 - decay) * sums[k]![j]!));
      const n = cs[0]! + cs[1]!;
      const smoothed = cs.map((c) => ((c + epsilon) / (n + K * epsilon)) * n);
      E = es.map((row, k) => row.map((v) => v / smoothed[k]!));

      const x = tf.tensor2d(batch);
      const out = vq.forward(x, { training: true });
      expect(Array.from(out.codes.dataSync())).toEqual(assign);
      vq.afterStep();
      const got = vq.codebook.arraySync() as number[][];
      for (let k = 0; k < K; k++) for (let j = 0; j < D; j++) expect(got[k]![j]).toBeCloseTo(E[k]![j]!, 4);
      tf.dispose([x, out.quantized, out.codes, out.loss, out.perplexity]);
    });
    // The codes moved toward their assigned points.
    expect(E[0]![0]).toBeGreaterThan(0);
    vq.dispose();
  });

  it('restarts dead codes onto recent inputs', () => {
    const rng = new Rng(4);
    const N = 16;
    const vq = new VectorQuantizer({ codebookSize: 4, dim: 2, kmeansInit: false, restartThreshold: 1 });
    setCodebook(vq, [
      [0, 0],
      [50, 50],
      [-50, 50],
      [50, -50],
    ]);
    const data = randomMatrix(rng, N, 2, 0.1);
    const x = tf.tensor2d(data, [N, 2]);
    const out = vq.forward(x, { training: true });
    expect(new Set(out.codes.dataSync())).toEqual(new Set([0]));
    vq.afterStep();
    expect(vq.restartCount).toBe(3);
    const codebook = vq.codebook.arraySync() as number[][];
    const rows = Array.from({ length: N }, (_, i) => [data[2 * i]!, data[2 * i + 1]!]);
    const restarted = new Set<number>();
    for (let k = 1; k < 4; k++) {
      const match = rows.findIndex((r) => r[0] === codebook[k]![0] && r[1] === codebook[k]![1]);
      expect(match).toBeGreaterThanOrEqual(0);
      restarted.add(match);
    }
    expect(restarted.size).toBe(3); // distinct input rows
    // The restarted codes now win some of the inputs.
    const after = vq.forward(x);
    expect(new Set(after.codes.dataSync()).size).toBeGreaterThan(1);
    tf.dispose([x, out.quantized, out.codes, out.loss, out.perplexity, after.quantized, after.codes, after.loss, after.perplexity]);
    vq.dispose();
  });

  it('k-means init places the codes on the data clusters', () => {
    const rng = new Rng(5);
    const centres = [
      [10, 10, 0],
      [-10, 10, 0],
      [10, -10, 5],
      [-10, -10, -5],
    ];
    const perBlob = 64;
    const data = new Float32Array(centres.length * perBlob * 3);
    centres.forEach((c, b) => {
      for (let i = 0; i < perBlob; i++) for (let j = 0; j < 3; j++) data[(b * perBlob + i) * 3 + j] = c[j]! + rng.normal(0, 0.1);
    });
    const x = tf.tensor2d(data, [centres.length * perBlob, 3]);
    const distortion = (vq: VectorQuantizer): number =>
      tf.tidy(() => tf.mean(tf.sum(tf.square(tf.sub(vq.forward(x).quantized, x)), 1)).dataSync()[0]!);
    const vq = new VectorQuantizer({ codebookSize: 4, dim: 3, seed: 7 });
    const random = new VectorQuantizer({ codebookSize: 4, dim: 3, seed: 7, kmeansInit: false });
    const randomDistortion = distortion(random);
    const out = vq.forward(x, { training: true });
    const codebook = vq.codebook.arraySync() as number[][];
    for (const c of centres) {
      const nearest = Math.min(...codebook.map((e) => Math.sqrt(squaredDistance(e, 0, c, 0, 3))));
      expect(nearest).toBeLessThan(0.1);
    }
    // Per-point squared error ≈ 3·0.1² for well-placed codes.
    expect(distortion(vq)).toBeLessThan(0.05);
    expect(randomDistortion).toBeGreaterThan(10);
    vq.afterStep();
    expect(vq.restartCount).toBe(0);
    tf.dispose([x, out.quantized, out.codes, out.loss, out.perplexity]);
    vq.dispose();
    random.dispose();
  });

  it('cosine mode outputs unit vectors and keeps unit codes after EMA steps', () => {
    const rng = new Rng(6);
    const vq = new VectorQuantizer({ codebookSize: 8, dim: 5, cosine: true, seed: 2 });
    for (let step = 0; step < 3; step++) {
      const x = tf.tensor2d(randomMatrix(rng, 40, 5, 3), [40, 5]);
      const out = vq.forward(x, { training: true });
      vq.afterStep();
      const norms = tf.tidy(() => tf.sqrt(tf.sum(tf.square(out.quantized), 1)).dataSync());
      for (const n of norms) expect(n).toBeCloseTo(1, 5);
      tf.dispose([x, out.quantized, out.codes, out.loss, out.perplexity]);
    }
    const rows = tf.tidy(() => tf.sqrt(tf.sum(tf.square(vq.codebook), 1)).dataSync());
    for (const n of rows) expect(n).toBeCloseTo(1, 5);
    vq.dispose();
  });

  it('projects to a low-dimensional codebook and back', () => {
    const rng = new Rng(7);
    const vq = new VectorQuantizer({ codebookSize: 8, dim: 12, codebookDim: 3 });
    expect(vq.codebook.shape).toEqual([8, 3]);
    expect(vq.namedVariables().map(([n]) => n)).toEqual(
      expect.arrayContaining(['codebook', 'projectIn.weight', 'projectIn.bias', 'projectOut.weight', 'projectOut.bias']),
    );
    const x = tf.tensor3d(randomMatrix(rng, 20, 12), [2, 10, 12]);
    const out = vq.forward(x, { training: true });
    expect(out.quantized.shape).toEqual([2, 10, 12]);
    const decoded = vq.decodeCodes(out.codes);
    expect(Array.from(decoded.dataSync())).toEqual(Array.from(out.quantized.dataSync()));
    vq.afterStep();
    tf.dispose([x, out.quantized, out.codes, out.loss, out.perplexity, decoded]);
    vq.dispose();
  });

  it('saved state reloads into a fresh quantizer without re-initialising', () => {
    const rng = new Rng(8);
    const x = tf.tensor2d(randomMatrix(rng, 64, 4), [64, 4]);
    const a = new VectorQuantizer({ codebookSize: 8, dim: 4, seed: 1 });
    const trained = a.forward(x, { training: true });
    a.afterStep();
    const b = new VectorQuantizer({ codebookSize: 8, dim: 4, seed: 99 });
    b.loadState(new Map(a.namedVariables()));
    const before = b.codebook.dataSync().slice();
    const out = b.forward(x, { training: true });
    expect(Array.from(b.codebook.dataSync())).toEqual(Array.from(before)); // no k-means re-init
    expect(Array.from(out.codes.dataSync())).toEqual(Array.from(a.forward(x).codes.dataSync()));
    b.afterStep();
    tf.dispose([x, trained.quantized, trained.codes, trained.loss, trained.perplexity, out.quantized, out.codes, out.loss, out.perplexity]);
    a.dispose();
    b.dispose();
  });

  it('k-means waits for kmeansBatches batches; pending statistics use constant memory', () => {
    const rng = new Rng(9);
    const vq = new VectorQuantizer({ codebookSize: 4, dim: 2, kmeansBatches: 2, seed: 3 });
    const initial = vq.codebook.dataSync().slice();
    const batch = (): tf.Tensor2D => tf.tensor2d(randomMatrix(rng, 32, 2), [32, 2]);
    const runForward = (): void => {
      const x = batch();
      const out = vq.forward(x, { training: true });
      tf.dispose([x, out.quantized, out.codes, out.loss, out.perplexity]);
    };
    runForward();
    vq.afterStep(); // not initialised yet: no EMA, no restart
    expect(Array.from(vq.codebook.dataSync())).toEqual(Array.from(initial));
    runForward();
    expect(Array.from(vq.codebook.dataSync())).not.toEqual(Array.from(initial));
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) runForward(); // e.g. gradient accumulation, or afterStep never called
    expect(tf.memory().numTensors).toBe(tensors);
    vq.afterStep();
    expect(tf.memory().numTensors).toBeLessThan(tensors);
    vq.dispose();
  });
});
