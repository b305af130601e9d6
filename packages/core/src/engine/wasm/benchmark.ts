/**
 * GEMM throughput measurement, shared by `bench/gemm.mjs` and the engine
 * benchmark table. Timing on a shared machine is noisy, so it reports the
 * best of several timed repetitions (the least-disturbed run).
 */
import { InvalidArgumentError } from '../../errors.js';
import type { GemmEngine } from '../gemm.js';

export interface GemmBenchmarkOptions {
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  /** Untimed calls first, so V8 has tiered the kernel up; default 2. */
  warmup?: number;
  /** Timed calls; the best one is reported; default 5. */
  repeats?: number;
  /** Keep repeating (beyond `repeats`) until this much time was spent timing; default 0.5 s. */
  minSeconds?: number;
  /**
   * Put the operands inside the engine memory when it offers `alloc` (measures
   * the kernel without copy-in/out); default false.
   */
  inPlace?: boolean;
}

export interface GemmBenchmarkResult {
  engine: string;
  m: number;
  n: number;
  k: number;
  /** Best wall-clock seconds of one call. */
  seconds: number;
  /** 2·m·n·k / seconds / 1e9. */
  gflops: number;
  /** Timed calls made. */
  calls: number;
}

interface Allocating {
  alloc(length: number): Float32Array;
  free(view: Float32Array): void;
}

function isAllocating(engine: GemmEngine): engine is GemmEngine & Allocating {
  const candidate = engine as Partial<Allocating>;
  return typeof candidate.alloc === 'function' && typeof candidate.free === 'function';
}

/** Measures one engine on one shape. */
export function benchmarkGemm(engine: GemmEngine, options: GemmBenchmarkOptions): GemmBenchmarkResult {
  const { m, n, k } = options;
  for (const [name, value] of Object.entries({ m, n, k })) {
    if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`benchmarkGemm: ${name} must be a positive integer, got ${value}`);
  }
  const warmup = options.warmup ?? 2;
  const repeats = options.repeats ?? 5;
  const minSeconds = options.minSeconds ?? 0.5;
  const inPlace = (options.inPlace ?? false) && isAllocating(engine);
  const make = (length: number) => (inPlace ? (engine as GemmEngine & Allocating).alloc(length) : new Float32Array(length));
  const a = make(m * k);
  const b = make(k * n);
  const c = make(m * n);
  for (let i = 0; i < a.length; i++) a[i] = ((i * 7919) % 1000) / 1000 - 0.5;
  for (let i = 0; i < b.length; i++) b[i] = ((i * 104729) % 1000) / 1000 - 0.5;
  const call = { m, n, k, a, b, c, transA: options.transA ?? false, transB: options.transB ?? false };
  try {
    for (let i = 0; i < warmup; i++) engine.sgemm(call);
    let best = Infinity;
    let spent = 0;
    let calls = 0;
    while (calls < repeats || spent < minSeconds) {
      const start = process.hrtime.bigint();
      engine.sgemm(call);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      best = Math.min(best, seconds);
      spent += seconds;
      calls++;
      if (calls >= 1000) break;
    }
    return { engine: engine.name, m, n, k, seconds: best, gflops: (2 * m * n * k) / best / 1e9, calls };
  } finally {
    if (inPlace) for (const view of [a, b, c]) (engine as GemmEngine & Allocating).free(view);
  }
}
