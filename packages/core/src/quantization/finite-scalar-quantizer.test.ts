import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { FiniteScalarQuantizer } from './finite-scalar-quantizer.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function numericallyEqual(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false; // === treats -0 and +0 as equal
  return true;
}

describe('FiniteScalarQuantizer', () => {
  it('has an implicit codebook of ∏levels distinct grid points in [-1, 1]', () => {
    const fsq = new FiniteScalarQuantizer({ levels: [8, 5, 5, 5] });
    expect(fsq.codebookSize).toBe(1000);
    expect(fsq.codebookSizes).toEqual([1000]);
    expect(fsq.parameterCount(true)).toBe(0);
    const codebook = fsq.implicitCodebook();
    expect(codebook.shape).toEqual([1000, 4]);
    const rows = codebook.arraySync();
    expect(new Set(rows.map((r) => r.join(','))).size).toBe(1000);
    // Per channel: L distinct values; odd L symmetric {-1..1}, even L = {-L/2..L/2-1}/(L/2).
    const channel = (j: number): number[] => [...new Set(rows.map((r) => r[j]!))].sort((a, b) => a - b);
    expect(channel(0)).toEqual([-4, -3, -2, -1, 0, 1, 2, 3].map((v) => v / 4));
    expect(channel(1)).toEqual([-1, -0.5, 0, 0.5, 1]);
    codebook.dispose();
  });

  it('round-trips codes ↔ vectors exactly', () => {
    const fsq = new FiniteScalarQuantizer({ levels: [8, 5, 5, 5] });
    const all = tf.range(0, 1000, 1, 'int32');
    const vectors = fsq.decodeCodes(all);
    // Inputs that the bound maps exactly onto each grid point must quantize to that point's code.
    const out = fsq.forward(tf.tidy(() => preImage(fsq, vectors)));
    expect(Array.from(out.codes.dataSync())).toEqual(Array.from(all.dataSync()));
    expect(numericallyEqual(out.quantized.dataSync(), vectors.dataSync())).toBe(true);
    tf.dispose([all, vectors, out.quantized, out.codes, out.loss, out.perplexity]);

    const rng = new Rng(1);
    const x = tf.tensor3d(rng.fillNormal(new Float32Array(2 * 50 * 4), 0, 2) as Float32Array, [2, 50, 4]);
    const q = fsq.forward(x);
    expect(q.codes.shape).toEqual([2, 50]);
    const decoded = fsq.decodeCodes(q.codes);
    expect(numericallyEqual(decoded.dataSync(), q.quantized.dataSync())).toBe(true);
    expect(q.loss.dataSync()[0]).toBe(0);
    tf.dispose([x, q.quantized, q.codes, q.loss, q.perplexity, decoded]);
  });

  it('saturates at the outer levels for extreme inputs', () => {
    const fsq = new FiniteScalarQuantizer({ levels: [2, 5, 8, 256] });
    const x = tf.tensor2d([
      [-1e4, -1e4, -1e4, -1e4],
      [1e4, 1e4, 1e4, 1e4],
    ]);
    const out = fsq.forward(x);
    expect(Array.from(out.codes.dataSync())).toEqual([0, fsq.codebookSize - 1]);
    expect(Array.from(out.quantized.dataSync())).toEqual([-1, -1, -1, -1, 0, 1, 0.75, 127 / 128]);
    tf.dispose([x, out.quantized, out.codes, out.loss, out.perplexity]);
  });

  it('round-trips random codes for random level configurations (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 2, max: 9 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 0, max: 2 ** 30 }), (levels, salt) => {
        const fsq = new FiniteScalarQuantizer({ levels });
        const size = levels.reduce((a, b) => a * b, 1);
        expect(fsq.codebookSize).toBe(size);
        const codes = tf.tensor1d(Array.from({ length: 16 }, (_, i) => (salt + i * 7919) % size), 'int32');
        const vectors = fsq.decodeCodes(codes);
        const again = tf.tidy(() => fsq.forward(preImage(fsq, vectors)).codes);
        expect(Array.from(again.dataSync())).toEqual(Array.from(codes.dataSync()));
        tf.dispose([codes, vectors, again]);
      }),
      { numRuns: 40, seed: 7 },
    );
  });

  it('passes gradients through the rounding and projects a larger dim', () => {
    const rng = new Rng(2);
    const fsq = new FiniteScalarQuantizer({ levels: [5, 5, 3], dim: 16 });
    expect(fsq.namedVariables().map(([n]) => n)).toEqual(['projectIn.weight', 'projectIn.bias', 'projectOut.weight', 'projectOut.bias']);
    const x = tf.tensor2d(rng.fillNormal(new Float32Array(8 * 16)) as Float32Array, [8, 16]);
    const gx = tf.grad((input: tf.Tensor) => tf.sum(tf.square(fsq.forward(input).quantized)))(x);
    expect(tf.max(tf.abs(gx)).dataSync()[0]).toBeGreaterThan(0);
    const out = fsq.forward(x);
    expect(out.quantized.shape).toEqual([8, 16]);
    const decoded = fsq.decodeCodes(out.codes);
    expect(numericallyEqual(decoded.dataSync(), out.quantized.dataSync())).toBe(true);
    tf.dispose([x, gx, out.quantized, out.codes, out.loss, out.perplexity, decoded]);
    fsq.dispose();
  });

  it('rejects invalid levels and inputs', () => {
    expect(() => new FiniteScalarQuantizer({ levels: [] })).toThrow(InvalidArgumentError);
    expect(() => new FiniteScalarQuantizer({ levels: [8, 1] })).toThrow(InvalidArgumentError);
    expect(() => new FiniteScalarQuantizer({ levels: [256, 256, 256, 2] })).toThrow(InvalidArgumentError);
    expect(() => new FiniteScalarQuantizer({ levels: [257] })).toThrow(InvalidArgumentError);
    const fsq = new FiniteScalarQuantizer({ levels: [3, 3] });
    const x = tf.zeros([4, 3]);
    expect(() => fsq.forward(x)).toThrow(InvalidArgumentError);
    x.dispose();
  });
});

/** An input that FSQ maps onto `vectors` (grid points): invert the tanh bound at the cell centre. */
function preImage(fsq: FiniteScalarQuantizer, vectors: tf.Tensor): tf.Tensor {
  const d = fsq.levels.length;
  const halfWidth = tf.tensor2d(fsq.levels.map((l) => Math.floor(l / 2)), [1, d]);
  const halfLevel = tf.tensor2d(fsq.levels.map((l) => ((l - 1) * (1 + 1e-3)) / 2), [1, d]);
  const offset = tf.tensor2d(fsq.levels.map((l) => (l % 2 === 0 ? 0.5 : 0)), [1, d]);
  const shift = tf.atanh(tf.div(offset, halfLevel));
  const integer = tf.mul(vectors, halfWidth); // the rounded value
  const target = tf.div(tf.add(integer, offset), halfLevel); // tanh(z + shift)
  return tf.sub(tf.atanh(tf.clipByValue(target, -0.999999, 0.999999)), shift);
}
