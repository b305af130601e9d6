/**
 * The engine's element-wise and reduction tasks against the JavaScript loops
 * of the CPU backend (`jsVectorOps`), on one thread and split across two,
 * with operands inside and outside the engine memory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../errors.js';
import { jsVectorOps, type BinaryOp, type UnaryOp } from '../cpu/vector-ops.js';
import { createWasmGemmEngine, type WasmGemmEngine } from './index.js';

function values(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let s = seed;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 4 - 2;
  }
  return out;
}

/** Largest |a − b| relative to max |b| (exact equality → 0). */
function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= diff) && !(Number.isNaN(a[i]!) && Number.isNaN(b[i]!))) diff = d;
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / Math.max(scale, 1e-30);
}

const BINARY_OPS: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'sqdiff'];
const UNARY_OPS: UnaryOp[] = ['relu', 'step', 'square', 'sqrt'];
// 70 007 = 7·73·137 elements: above the threading threshold and not a multiple of 16; 73 and 7 divide it (trailing operands).
const N = 70_007;
const PERIODS = [N, 1, 73, 7];

describe('WebAssembly element-wise and reduction tasks', () => {
  const engines: { label: string; engine: WasmGemmEngine }[] = [];
  beforeAll(async () => {
    engines.push({ label: '1 thread', engine: await createWasmGemmEngine({ threads: 1 }) });
    engines.push({ label: '2 threads', engine: await createWasmGemmEngine({ threads: 2 }) });
  });
  afterAll(() => engines.forEach(({ engine }) => engine.dispose()));

  it('binary ops match the JavaScript loops for full, scalar and repeating operands on either side', () => {
    const full = values(N, 1);
    for (const { label, engine } of engines) {
      const inEngine = engine.alloc(N);
      inEngine.set(full);
      const out = engine.alloc(N);
      for (const op of BINARY_OPS) {
        for (const period of PERIODS) {
          const repeated = values(period, period).map((v) => (op === 'div' ? v + 3 : v));
          for (const repeatedIsA of [false, true]) {
            const [a, b] = repeatedIsA ? [repeated, inEngine] : [inEngine, repeated];
            const expected = new Float32Array(N);
            jsVectorOps.binary(op, a, b, expected);
            engine.binary(op, a, b, out);
            expect(relativeError(out, expected), `${label} ${op} period ${period} repeatedIsA ${repeatedIsA}`).toBeLessThanOrEqual(1e-6);
            // The same with every operand outside the engine memory (copied in and out).
            const heapOut = new Float32Array(N);
            engine.binary(op, repeatedIsA ? repeated : full, repeatedIsA ? full : repeated, heapOut);
            expect(relativeError(heapOut, expected)).toBeLessThanOrEqual(1e-6);
          }
        }
      }
      engine.free(inEngine);
      engine.free(out);
    }
  });

  it('works in place (out is the full operand)', () => {
    for (const { engine } of engines) {
      const x = engine.alloc(N);
      x.set(values(N, 3));
      const bias = values(73, 4);
      const expected = new Float32Array(N);
      jsVectorOps.binary('add', x, bias, expected);
      engine.binary('add', x, bias, x);
      expect(Array.from(x.subarray(0, 100))).toEqual(Array.from(expected.subarray(0, 100)));
      expect(relativeError(x, expected)).toBe(0);
      engine.free(x);
    }
  });

  it('unary ops equal tfjs-cpu semantics bit for bit, including NaN, ±0 and step alpha', () => {
    const x = values(N, 5);
    x.set([NaN, -0, 0, -1e-30, 1e-30, Infinity, -Infinity], 1000);
    x[N - 1] = NaN;
    for (const { label, engine } of engines) {
      for (const op of UNARY_OPS) {
        const expected = new Float32Array(N);
        jsVectorOps.unary(op, x, expected, 0.25);
        const out = new Float32Array(N);
        engine.unary(op, x, out, 0.25);
        for (let i = 0; i < N; i++) {
          if (!Object.is(out[i], expected[i])) {
            expect(`${label} ${op}(${x[i]}) = ${out[i]}`).toBe(`${label} ${op}(${x[i]}) = ${expected[i]}`);
          }
        }
      }
    }
  });

  it('column sums match double-precision sums for wide, narrow and odd widths', () => {
    for (const [rows, cols] of [
      [3136, 128],
      [12544, 16],
      [1000, 3],
      [513, 37],
      [0, 5],
      [7, 1],
    ] as const) {
      const x = values(rows * cols, rows + cols);
      const expected = new Float32Array(cols);
      jsVectorOps.columnSums(x, rows, cols, expected);
      for (const { label, engine } of engines) {
        const out = new Float32Array(cols).fill(NaN);
        engine.columnSums(x, rows, cols, out);
        expect(relativeError(out, expected), `${label} ${rows}×${cols}`).toBeLessThanOrEqual(1e-6);
      }
    }
  });

  it('binary ops with a run-repeated operand (a column vector, or runs that also cycle) match the JavaScript loops', () => {
    // N = 7·73·137: a 511-element column against a 511×137 matrix; 7 values in runs of 73·137/… cycling.
    for (const [period, inner] of [[511, 137], [7, 73], [73, 137], [1, N]] as const) {
      const full = values(N, period + inner);
      const small = values(period, 3).map((v) => v + 3);
      for (const { label, engine } of engines) {
        for (const op of BINARY_OPS) {
          for (const repeatedIsA of [false, true]) {
            const a = repeatedIsA ? small : full;
            const b = repeatedIsA ? full : small;
            const expected = new Float32Array(N);
            jsVectorOps.binary(op, a, b, expected, inner);
            const out = new Float32Array(N);
            engine.binary(op, a, b, out, inner);
            expect(relativeError(out, expected), `${label} ${op} period ${period} inner ${inner} ${repeatedIsA ? 'a' : 'b'} repeated`).toBeLessThanOrEqual(1e-6);
          }
        }
      }
    }
    // The JavaScript loop itself, against its definition.
    const a = values(12, 1);
    const col = values(3, 2);
    const out = new Float32Array(12);
    jsVectorOps.binary('sub', a, col, out, 4);
    expect(Array.from(out)).toEqual(Array.from(a, (v, i) => Math.fround(v - col[Math.floor(i / 4)]!)));
  });

  it('row sums and means match the double-precision loops for wide, narrow and odd widths', () => {
    for (const [rows, cols] of [[3136, 64], [1, 50176], [513, 37], [7, 3], [5, 0]] as const) {
      const x = values(rows * cols, rows + 3 * cols);
      for (const divisor of [0, cols || 1]) {
        const expected = new Float32Array(rows);
        jsVectorOps.rowSums(x, rows, cols, expected, divisor);
        for (const { label, engine } of engines) {
          const out = new Float32Array(rows).fill(NaN);
          engine.rowSums(x, rows, cols, out, divisor);
          expect(relativeError(out, expected), `${label} ${rows}×${cols} divisor ${divisor}`).toBeLessThanOrEqual(1e-6);
        }
      }
    }
  });

  it('argMinRows finds the first minimum of each row like tfjs cpu, NaN and infinities included', () => {
    for (const [rows, cols] of [[3136, 512], [100, 3], [7, 9], [50, 1], [300, 37]] as const) {
      const x = values(rows * cols, rows * cols);
      for (let r = 0; r < rows; r += 3) x[r * cols + ((r * 7) % cols)] = -5; // a tie-free minimum
      for (let r = 1; r < rows; r += 5) x[r * cols] = NaN;
      for (let r = 2; r < rows; r += 7) x[r * cols + (cols - 1)] = NaN;
      for (let r = 4; r < rows; r += 11) for (let j = 0; j < cols; j++) x[r * cols + j] = j % 3 === 0 ? -Infinity : 1; // ties of -Infinity
      const expected = new Int32Array(rows);
      jsVectorOps.argMinRows(x, rows, cols, expected);
      for (const { label, engine } of engines) {
        const out = new Int32Array(rows).fill(-1);
        engine.argMinRows(x, rows, cols, out);
        expect(Array.from(out), `${label} ${rows}×${cols}`).toEqual(Array.from(expected));
      }
    }
  });

  it('rejects operands that do not broadcast by repetition, short arrays and unknown ops', () => {
    const engine = engines[0]!.engine;
    expect(() => engine.binary('add', new Float32Array(10), new Float32Array(3), new Float32Array(10))).toThrow(InvalidArgumentError);
    expect(() => engine.binary('add', new Float32Array(5), new Float32Array(5), new Float32Array(10))).toThrow(/do not broadcast/);
    expect(() => engine.unary('relu', new Float32Array(3), new Float32Array(10))).toThrow(/needs 10 elements/);
    expect(() => engine.columnSums(new Float32Array(5), 2, 3, new Float32Array(3))).toThrow(InvalidArgumentError);
    expect(() => engine.binary('pow' as BinaryOp, new Float32Array(4), new Float32Array(4), new Float32Array(4))).toThrow(/unknown operation/);
    expect(() => engine.binary('add', new Float32Array(10), new Float32Array(3), new Float32Array(10), 3)).toThrow(/do not broadcast/);
    expect(() => engine.binary('add', new Float32Array(10), new Float32Array(10), new Float32Array(10), 2)).toThrow(/inner/);
  });
});
