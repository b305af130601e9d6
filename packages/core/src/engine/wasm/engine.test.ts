import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendError, InvalidArgumentError } from '../../errors.js';
import { referenceSgemm, type GemmCall } from '../gemm.js';
import { createWasmGemmEngine, relaxedSimdSupported, type GemmVariant, type WasmGemmEngine } from './index.js';

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomArray(length: number, random: () => number): Float32Array {
  const array = new Float32Array(length);
  for (let i = 0; i < length; i++) array[i] = random() * 2 - 1;
  return array;
}

/** max |x - y| / (max |y| + 1e-6): relative to the result's scale, robust to cancellation near zero. */
function relativeError(actual: Float32Array, expected: Float32Array): number {
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i]! - expected[i]!));
    maxRef = Math.max(maxRef, Math.abs(expected[i]!));
  }
  return maxDiff / (maxRef + 1e-6);
}

/** Runs `call` through the engine and the reference on separate copies of C; returns the relative error. */
function compare(engine: WasmGemmEngine, call: GemmCall): number {
  const expected = call.c.slice();
  referenceSgemm({ ...call, c: expected });
  const actual = call.c.slice();
  engine.sgemm({ ...call, c: actual });
  return relativeError(actual, expected);
}

const TOLERANCE = 1e-4;

/** Shapes covering 1-dims, odd sizes, tile edges (4, 8) and k crossing the kc = 512 panel boundary. */
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 3],
  [5, 1, 9],
  [4, 8, 16],
  [3, 9, 1],
  [13, 17, 19],
  [33, 64, 31],
  [64, 65, 600],
  [97, 41, 513],
  [300, 13, 70],
  [7, 300, 129],
  [200, 300, 150],
];

const variants: GemmVariant[] = ['simd', 'relaxed'];

describe.each(variants)('WebAssembly GEMM (%s)', (variant) => {
  const engines: Record<number, WasmGemmEngine> = {};
  let supported = true;

  beforeAll(async () => {
    supported = variant === 'simd' || (await relaxedSimdSupported());
    if (!supported) return;
    // Zero thresholds force even tiny products through the worker pool, cut into several chunks per thread,
    // so the threaded path and the dynamic chunk claiming are exercised.
    engines[1] = await createWasmGemmEngine({ variant, threads: 1 });
    engines[2] = await createWasmGemmEngine({ variant, threads: 2, parallelThreshold: 0, minChunkFlops: 0, chunksPerThread: 3 });
  });
  afterAll(() => {
    for (const engine of Object.values(engines)) engine.dispose();
  });

  it('reports its variant and thread count in its name', ({ skip }) => {
    if (!supported) skip();
    expect(engines[1]!.name).toBe(variant === 'relaxed' ? 'wasm-simd-relaxed, 1 thread' : 'wasm-simd, 1 thread');
    expect(engines[2]!.name).toMatch(/, 2 threads$/);
    expect(engines[2]!.threads).toBe(2);
  });

  it.for([1, 2])('matches the reference on all transpose combinations (%i threads)', (threads, { skip }) => {
    if (!supported) skip();
    const engine = engines[threads]!;
    const random = rng(1000 + threads);
    for (const [m, n, k] of SHAPES) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const call: GemmCall = {
            m, n, k, transA, transB,
            a: randomArray(m * k, random),
            b: randomArray(k * n, random),
            c: randomArray(m * n, random),
          };
          const error = compare(engine, call);
          expect(error, `${m}x${n}x${k} transA=${transA} transB=${transB}`).toBeLessThanOrEqual(TOLERANCE);
        }
      }
    }
  });

  it.for([1, 2])('matches the reference on random shapes with accumulate and offsets (%i threads)', (threads, { skip }) => {
    if (!supported) skip();
    const engine = engines[threads]!;
    const random = rng(7 + threads);
    const dim = () => 1 + Math.floor(random() * 300);
    for (let trial = 0; trial < 24; trial++) {
      const m = dim();
      const n = dim();
      const k = trial % 4 === 0 ? 513 + Math.floor(random() * 200) : dim();
      const offsetA = Math.floor(random() * 5);
      const offsetB = Math.floor(random() * 5);
      const offsetC = Math.floor(random() * 5);
      const call: GemmCall = {
        m, n, k, offsetA, offsetB, offsetC,
        transA: random() < 0.5,
        transB: random() < 0.5,
        accumulate: random() < 0.5,
        a: randomArray(offsetA + m * k + 3, random),
        b: randomArray(offsetB + k * n + 3, random),
        c: randomArray(offsetC + m * n + 3, random),
      };
      const expected = call.c.slice();
      referenceSgemm({ ...call, c: expected });
      const actual = call.c.slice();
      engine.sgemm({ ...call, c: actual });
      const label = JSON.stringify({ m, n, k, offsetA, offsetB, offsetC, transA: call.transA, transB: call.transB, accumulate: call.accumulate });
      expect(relativeError(actual, expected), label).toBeLessThanOrEqual(TOLERANCE);
      // Elements outside [offsetC, offsetC + m*n) are untouched.
      expect(Array.from(actual.subarray(0, offsetC))).toEqual(Array.from(call.c.subarray(0, offsetC)));
      expect(Array.from(actual.subarray(offsetC + m * n))).toEqual(Array.from(call.c.subarray(offsetC + m * n)));
    }
  });

  it.for([1, 2])('handles batches with strides, gaps and broadcast (stride 0) operands (%i threads)', (threads, { skip }) => {
    if (!supported) skip();
    const engine = engines[threads]!;
    const random = rng(99 + threads);
    const cases: { m: number; n: number; k: number; batch: number; strideA?: number; strideB?: number; strideC?: number; accumulate?: boolean }[] = [
      { m: 9, n: 17, k: 33, batch: 4 },
      { m: 9, n: 17, k: 33, batch: 3, strideA: 0 },
      { m: 40, n: 24, k: 70, batch: 5, strideB: 0, accumulate: true },
      { m: 6, n: 10, k: 12, batch: 4, strideA: 6 * 12 + 5, strideB: 12 * 10 + 3, strideC: 6 * 10 + 7 },
      { m: 6, n: 10, k: 12, batch: 3, strideC: 0, accumulate: true },
      { m: 64, n: 72, k: 520, batch: 2, strideB: 0 },
      { m: 5, n: 9, k: 7, batch: 9 },
    ];
    for (const spec of cases) {
      const { m, n, k, batch } = spec;
      const strideA = spec.strideA ?? m * k;
      const strideB = spec.strideB ?? k * n;
      const strideC = spec.strideC ?? m * n;
      for (const [transA, transB] of [[false, false], [true, true], [false, true]] as const) {
        const call: GemmCall = {
          m, n, k, batch, strideA, strideB, strideC, transA, transB,
          accumulate: spec.accumulate ?? false,
          a: randomArray((batch - 1) * strideA + m * k, random),
          b: randomArray((batch - 1) * strideB + k * n, random),
          c: randomArray((batch - 1) * strideC + m * n, random),
        };
        expect(compare(engine, call), JSON.stringify({ ...spec, transA, transB })).toBeLessThanOrEqual(TOLERANCE);
      }
    }
  });

  it('computes k = 0 as an empty sum and leaves C alone when accumulating', ({ skip }) => {
    if (!supported) skip();
    for (const engine of [engines[1]!, engines[2]!]) {
      const c = Float32Array.from([1, 2, 3, 4, 5, 6]);
      engine.sgemm({ m: 2, n: 3, k: 0, a: new Float32Array(0), b: new Float32Array(0), c });
      expect(Array.from(c)).toEqual([0, 0, 0, 0, 0, 0]);
      const kept = Float32Array.from([1, 2, 3, 4, 5, 6]);
      engine.sgemm({ m: 2, n: 3, k: 0, a: new Float32Array(0), b: new Float32Array(0), c: kept, accumulate: true });
      expect(Array.from(kept)).toEqual([1, 2, 3, 4, 5, 6]);
    }
  });
});

describe('WebAssembly GEMM engine memory', () => {
  let engine: WasmGemmEngine;
  beforeAll(async () => {
    engine = await createWasmGemmEngine({ variant: 'simd', threads: 2, parallelThreshold: 0 });
  });
  afterAll(() => engine.dispose());

  it('multiplies operands allocated inside the engine memory in place', () => {
    const random = rng(5);
    const [m, n, k] = [37, 45, 61];
    const a = engine.alloc(m * k);
    const b = engine.alloc(k * n + 10);
    const c = engine.alloc(m * n);
    expect(engine.owns(a) && engine.owns(b) && engine.owns(c)).toBe(true);
    expect(engine.owns(new Float32Array(4))).toBe(false);
    a.set(randomArray(m * k, random));
    b.set(randomArray(k * n + 10, random));
    engine.sgemm({ m, n, k, a, b, c, offsetB: 10 });
    const expected = new Float32Array(m * n);
    referenceSgemm({ m, n, k, a: a.slice(), b: b.slice(), c: expected, offsetB: 10 });
    expect(relativeError(c, expected)).toBeLessThanOrEqual(TOLERANCE);
    // Subarrays of allocations are used in place too.
    const cPart = c.subarray(0, m * n);
    cPart.fill(0);
    engine.sgemm({ m, n, k, a: a.subarray(0), b, c: cPart, offsetB: 10 });
    expect(relativeError(cPart, expected)).toBeLessThanOrEqual(TOLERANCE);
    engine.free(a);
    engine.free(b);
    engine.free(c);
  });

  it('keeps earlier views valid when the memory grows', () => {
    const random = rng(6);
    const [m, n, k] = [20, 30, 40];
    const a = engine.alloc(m * k);
    a.set(randomArray(m * k, random));
    const before = engine.memoryBytes;
    const big = engine.alloc(16 * 1024 * 1024); // 64 MiB forces growth
    expect(engine.memoryBytes).toBeGreaterThan(before);
    expect(engine.owns(a)).toBe(true);
    const b = randomArray(k * n, random);
    const c = engine.alloc(m * n);
    engine.sgemm({ m, n, k, a, b, c });
    const expected = new Float32Array(m * n);
    referenceSgemm({ m, n, k, a: a.slice(), b, c: expected });
    expect(relativeError(c, expected)).toBeLessThanOrEqual(TOLERANCE);
    // A large product whose operands must be staged in grown memory.
    const big2 = { m: 300, n: 280, k: 700 };
    const call: GemmCall = { ...big2, a: randomArray(300 * 700, random), b: randomArray(700 * 280, random), c: new Float32Array(300 * 280) };
    expect(compare(engine, call)).toBeLessThanOrEqual(TOLERANCE);
    for (const view of [a, big, c]) engine.free(view);
  });

  it('reuses freed blocks and rejects foreign or double frees', () => {
    const x = engine.alloc(1000);
    const offset = x.byteOffset;
    engine.free(x);
    const y = engine.alloc(1000);
    expect(y.byteOffset).toBe(offset);
    expect(Array.from(y.subarray(0, 4))).toEqual([0, 0, 0, 0]);
    engine.free(y);
    expect(() => engine.free(y)).toThrow(InvalidArgumentError);
    expect(() => engine.free(new Float32Array(4))).toThrow(InvalidArgumentError);
  });

  it('rejects operands too short for the shape', () => {
    expect(() => engine.sgemm({ m: 4, n: 4, k: 4, a: new Float32Array(15), b: new Float32Array(16), c: new Float32Array(16) })).toThrow(
      InvalidArgumentError,
    );
    expect(() =>
      engine.sgemm({ m: 2, n: 2, k: 2, batch: 2, a: new Float32Array(8), b: new Float32Array(8), c: new Float32Array(7) }),
    ).toThrow(InvalidArgumentError);
    expect(() => engine.sgemm({ m: 1.5, n: 2, k: 2, a: new Float32Array(8), b: new Float32Array(8), c: new Float32Array(8) })).toThrow(
      InvalidArgumentError,
    );
  });
});

describe('WebAssembly GEMM engine lifecycle', () => {
  it('disposes cleanly and refuses use afterwards', async () => {
    const engine = await createWasmGemmEngine({ threads: 2, parallelThreshold: 0 });
    const c = new Float32Array(4);
    engine.sgemm({ m: 2, n: 2, k: 1, a: Float32Array.from([1, 2]), b: Float32Array.from([3, 4]), c });
    expect(Array.from(c)).toEqual([3, 4, 6, 8]);
    engine.dispose();
    engine.dispose();
    expect(() => engine.sgemm({ m: 2, n: 2, k: 1, a: Float32Array.from([1, 2]), b: Float32Array.from([3, 4]), c })).toThrow(BackendError);
    expect(() => engine.alloc(4)).toThrow(BackendError);
  });

  it('does not keep the process alive: its worker threads hold no active handle', async () => {
    const ports = () => process.getActiveResourcesInfo().filter((kind) => kind === 'MessagePort' || kind === 'Worker').length;
    const before = ports();
    const engine = await createWasmGemmEngine({ threads: 3, parallelThreshold: 0 });
    try {
      const c = new Float32Array(4);
      engine.sgemm({ m: 2, n: 2, k: 1, a: Float32Array.from([1, 2]), b: Float32Array.from([3, 4]), c });
      // At most `before`: workers of engines disposed earlier may still be shutting down.
      expect(ports()).toBeLessThanOrEqual(before);
    } finally {
      engine.dispose();
    }
  });

  it('validates its options', async () => {
    await expect(createWasmGemmEngine({ threads: 0 })).rejects.toThrow(InvalidArgumentError);
    await expect(createWasmGemmEngine({ threads: 1, blocking: { mc: 6 } })).rejects.toThrow(InvalidArgumentError);
    await expect(createWasmGemmEngine({ threads: 1, blocking: { nc: 12 } })).rejects.toThrow(InvalidArgumentError);
  });

  it('defaults to the best supported variant', async () => {
    const engine = await createWasmGemmEngine({ threads: 1 });
    try {
      expect(engine.variant).toBe((await relaxedSimdSupported()) ? 'relaxed' : 'simd');
    } finally {
      engine.dispose();
    }
  });
});
