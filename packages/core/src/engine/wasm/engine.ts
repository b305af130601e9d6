/**
 * The WebAssembly SIMD GEMM engine: a packed BLIS-style kernel
 * (`packages/core/assembly/gemm.ts`) over one shared memory, run on the main
 * thread plus a pool of worker threads, behind the synchronous `GemmEngine`
 * contract.
 */
import os from 'node:os';
import { BackendError, InvalidArgumentError } from '../../errors.js';
import type { GemmCall, GemmEngine } from '../gemm.js';
import { SharedArena } from './arena.js';
import { bestGemmVariant, compileGemmModule, type GemmVariant } from './module.js';
import { CTRL_SLOTS, GemmWorkerPool } from './pool.js';
import { wasmApi, type WasmModule } from './wasm-api.js';

/** Cache blocking of the packed kernel (see the BLIS papers: kc × nc panel of B in L3, mc × kc block of A in L2). */
export interface GemmBlocking {
  /** Depth of a packed panel (rows of B / columns of A); default 512. */
  kc: number;
  /** Rows of A packed per block, a multiple of 4 (the micro-tile height); default 48. */
  mc: number;
  /** Columns of B packed per panel, a multiple of 8 (the micro-tile width); default 1024. */
  nc: number;
}

export const DEFAULT_BLOCKING: Readonly<GemmBlocking> = Object.freeze({ kc: 512, mc: 48, nc: 1024 });

export interface WasmGemmOptions {
  /** Threads that compute, the calling thread included; default `os.availableParallelism()`. */
  threads?: number;
  /** Kernel build; default `'auto'`: `relaxed` (fused multiply-add) when the runtime supports relaxed SIMD, else `simd`. */
  variant?: GemmVariant | 'auto';
  /**
   * Products smaller than this many floating-point operations (2·m·n·k·batch)
   * run on the calling thread alone, because waking workers costs more than
   * it saves on them; default 2,000,000.
   */
  parallelThreshold?: number;
  /** Cache blocking; defaults in `DEFAULT_BLOCKING`. */
  blocking?: Partial<GemmBlocking>;
  /**
   * Upper bound on work chunks per thread for large products. Threads claim
   * chunks dynamically, so more chunks tolerate a thread being descheduled
   * better, at the price of re-packing the shared operand once per chunk;
   * default 3.
   */
  chunksPerThread?: number;
  /** Smallest product (floating-point operations) worth a chunk of its own beyond one per thread; default 32,000,000. */
  minChunkFlops?: number;
}

/**
 * A `GemmEngine` whose operands can live inside its WebAssembly memory.
 *
 * Zero-copy use: `alloc` returns a Float32Array view INSIDE the engine
 * memory. Any operand of `sgemm` that is such a view (or a subarray of one)
 * is used in place; other arrays are copied in (A, B, and C when
 * accumulating) and C is copied out. A conv kernel can therefore write its
 * im2col matrix straight into an engine allocation and multiply it without a
 * copy. Views stay valid when the memory grows (it is a shared memory, whose
 * old buffers are never detached) until they are `free`d or the engine is
 * disposed.
 */
export interface WasmGemmEngine extends GemmEngine {
  /** Which kernel build runs. */
  readonly variant: GemmVariant;
  /** Allocates a zero-filled Float32Array of `length` floats inside the engine memory. */
  alloc(length: number): Float32Array;
  /** Releases a view returned by `alloc` (not a subarray of it). */
  free(view: Float32Array): void;
  /** True when `array` lives in the engine memory, i.e. `sgemm` uses it without copying. */
  owns(array: Float32Array): boolean;
  /** Current size of the engine memory in bytes. */
  readonly memoryBytes: number;
}

/** Upper bound on threads: the task descriptor holds one scratch pointer per thread. */
const MAX_THREADS = 256;
const PAGE_BYTES = 65536;
/** Byte layout of the reserved low region of the memory (address 0 stays unused so a null pointer never aliases data). */
const CTRL_OFFSET = 1024;
const DESC_OFFSET = 2048;
const DESC_SCRATCH_WORD = 32;
const ARENA_BASE = DESC_OFFSET + 4 * (DESC_SCRATCH_WORD + MAX_THREADS);
/** Micro-tile of the kernel (must match assembly/gemm.ts). */
const MR = 4;
const NR = 8;
const SPLIT_BATCH = 0;
const SPLIT_N = 1;
const SPLIT_M = 2;

interface GemmExports {
  gemmTask(desc: number, thread: number): void;
  scratchBytes(kc: number, mc: number, nc: number): number;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function nonNegativeInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) throw new InvalidArgumentError(`sgemm: ${name} must be a non-negative integer, got ${value}`);
  return value;
}

function resolveBlocking(partial: Partial<GemmBlocking> | undefined): GemmBlocking {
  const blocking = { ...DEFAULT_BLOCKING, ...partial };
  positiveInteger(blocking.kc, 'blocking.kc');
  if (positiveInteger(blocking.mc, 'blocking.mc') % MR !== 0) throw new InvalidArgumentError(`blocking.mc must be a multiple of ${MR}, got ${blocking.mc}`);
  if (positiveInteger(blocking.nc, 'blocking.nc') % NR !== 0) throw new InvalidArgumentError(`blocking.nc must be a multiple of ${NR}, got ${blocking.nc}`);
  return blocking;
}

/** Floats, rounded up to a 64-byte boundary. */
function alignFloats(count: number): number {
  return Math.ceil(count / 16) * 16;
}

class WasmGemmEngineImpl implements WasmGemmEngine {
  readonly name: string;
  readonly threads: number;
  readonly variant: GemmVariant;
  private readonly arena: SharedArena;
  private readonly kernel: GemmExports;
  private readonly pool: GemmWorkerPool | undefined;
  private readonly blocking: GemmBlocking;
  private readonly parallelThreshold: number;
  private readonly chunksPerThread: number;
  private readonly minChunkFlops: number;
  private readonly desc: Uint32Array;
  private readonly scratchOffsets: number[];
  private readonly userAllocations = new Set<number>();
  private staging: { offset: number; bytes: number } | undefined;
  private disposed = false;

  constructor(init: {
    variant: GemmVariant;
    threads: number;
    arena: SharedArena;
    kernel: GemmExports;
    pool: GemmWorkerPool | undefined;
    blocking: GemmBlocking;
    parallelThreshold: number;
    chunksPerThread: number;
    minChunkFlops: number;
    scratchOffsets: number[];
  }) {
    this.variant = init.variant;
    this.threads = init.threads;
    this.arena = init.arena;
    this.kernel = init.kernel;
    this.pool = init.pool;
    this.blocking = init.blocking;
    this.parallelThreshold = init.parallelThreshold;
    this.chunksPerThread = init.chunksPerThread;
    this.minChunkFlops = init.minChunkFlops;
    this.scratchOffsets = init.scratchOffsets;
    this.desc = new Uint32Array(init.arena.buffer(), DESC_OFFSET, DESC_SCRATCH_WORD + MAX_THREADS);
    this.name = `${init.variant === 'relaxed' ? 'wasm-simd-relaxed' : 'wasm-simd'}, ${init.threads} thread${init.threads === 1 ? '' : 's'}`;
    this.scratchOffsets.forEach((offset, t) => (this.desc[DESC_SCRATCH_WORD + t] = offset));
  }

  get memoryBytes(): number {
    return this.arena.sizeBytes;
  }

  owns(array: Float32Array): boolean {
    return this.arena.owns(array);
  }

  alloc(length: number): Float32Array {
    this.assertLive();
    if (!Number.isInteger(length) || length < 0) throw new InvalidArgumentError(`alloc: length must be a non-negative integer, got ${length}`);
    const offset = this.arena.allocBytes(length * 4);
    this.userAllocations.add(offset);
    const view = this.arena.floats(offset, length);
    view.fill(0);
    return view;
  }

  free(view: Float32Array): void {
    this.assertLive();
    if (!this.arena.owns(view) || !this.userAllocations.has(view.byteOffset)) {
      throw new InvalidArgumentError('free: the array was not returned by alloc() of this engine (or was already freed)');
    }
    this.userAllocations.delete(view.byteOffset);
    this.arena.freeBytes(view.byteOffset);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.pool?.dispose();
  }

  sgemm(call: GemmCall): void {
    this.assertLive();
    const m = nonNegativeInteger(call.m, 0, 'm');
    const n = nonNegativeInteger(call.n, 0, 'n');
    const k = nonNegativeInteger(call.k, 0, 'k');
    const batch = nonNegativeInteger(call.batch, 1, 'batch');
    const transA = call.transA ?? false;
    const transB = call.transB ?? false;
    const accumulate = call.accumulate ?? false;
    const offsetA = nonNegativeInteger(call.offsetA, 0, 'offsetA');
    const offsetB = nonNegativeInteger(call.offsetB, 0, 'offsetB');
    const offsetC = nonNegativeInteger(call.offsetC, 0, 'offsetC');
    const strideA = nonNegativeInteger(call.strideA, m * k, 'strideA');
    const strideB = nonNegativeInteger(call.strideB, k * n, 'strideB');
    const strideC = nonNegativeInteger(call.strideC, m * n, 'strideC');
    if (m === 0 || n === 0 || batch === 0) return;

    // Elements each operand spans from its offset, over the whole batch.
    const spanA = k === 0 ? 0 : (batch - 1) * strideA + m * k;
    const spanB = k === 0 ? 0 : (batch - 1) * strideB + k * n;
    const spanC = (batch - 1) * strideC + m * n;
    const check = (array: Float32Array, offset: number, span: number, label: string) => {
      if (offset + span > array.length) {
        throw new InvalidArgumentError(
          `sgemm: ${label} needs ${offset + span} elements (offset ${offset} + ${span} for m=${m}, n=${n}, k=${k}, batch=${batch}) but has ${array.length}`,
        );
      }
    };
    check(call.a, offsetA, spanA, 'A');
    check(call.b, offsetB, spanB, 'B');
    check(call.c, offsetC, spanC, 'C');

    const ownA = spanA === 0 || this.arena.owns(call.a);
    const ownB = spanB === 0 || this.arena.owns(call.b);
    const ownC = this.arena.owns(call.c);
    const stageA = ownA ? 0 : alignFloats(spanA);
    const stageB = ownB ? 0 : alignFloats(spanB);
    const stageC = ownC ? 0 : alignFloats(spanC);
    const stagingOffset = this.ensureStaging((stageA + stageB + stageC) * 4);

    let ptrA = ownA ? call.a.byteOffset + offsetA * 4 : stagingOffset;
    let ptrB = ownB ? call.b.byteOffset + offsetB * 4 : stagingOffset + stageA * 4;
    const ptrC = ownC ? call.c.byteOffset + offsetC * 4 : stagingOffset + (stageA + stageB) * 4;
    if (spanA === 0) ptrA = 0;
    if (spanB === 0) ptrB = 0;
    if (!ownA) this.arena.floats(ptrA, spanA).set(call.a.subarray(offsetA, offsetA + spanA));
    if (!ownB) this.arena.floats(ptrB, spanB).set(call.b.subarray(offsetB, offsetB + spanB));
    if (!ownC && accumulate) this.arena.floats(ptrC, spanC).set(call.c.subarray(offsetC, offsetC + spanC));

    const { split, active, chunks } = this.planSplit(m, n, k, batch, strideC);
    const desc = this.desc;
    desc[0] = m;
    desc[1] = n;
    desc[2] = k;
    desc[3] = ptrA;
    desc[4] = ptrB;
    desc[5] = ptrC;
    desc[6] = transA ? 1 : 0;
    desc[7] = transB ? 1 : 0;
    desc[8] = accumulate ? 1 : 0;
    desc[9] = batch;
    desc[10] = strideA;
    desc[11] = strideB;
    desc[12] = strideC;
    desc[13] = 0; // unused
    desc[14] = split;
    desc[15] = this.blocking.kc;
    desc[16] = this.blocking.mc;
    desc[17] = this.blocking.nc;
    desc[18] = chunks;
    desc[19] = 0; // next chunk to claim

    if (active === 1 || !this.pool) {
      try {
        this.kernel.gemmTask(DESC_OFFSET, 0);
      } catch (err) {
        throw new BackendError('the WebAssembly GEMM kernel failed', { cause: err });
      }
    } else {
      this.pool.run(active, () => this.kernel.gemmTask(DESC_OFFSET, 0));
    }

    if (!ownC) {
      const result = this.arena.floats(ptrC, spanC);
      if (batch === 1 || strideC <= m * n) {
        // Contiguous or overlapping items: the span holds no caller data that was not computed.
        call.c.set(result, offsetC);
      } else {
        // Gaps between items belong to the caller: copy only the items.
        const size = m * n;
        for (let p = 0; p < batch; p++) call.c.set(result.subarray(p * strideC, p * strideC + size), offsetC + p * strideC);
      }
    }
  }

  /** How to divide a task among threads: the split dimension, the threads taking part and the chunks they claim. */
  private planSplit(m: number, n: number, k: number, batch: number, strideC: number): { split: number; active: number; chunks: number } {
    const threads = this.threads;
    const flops = 2 * m * n * k * batch;
    // Batch items whose C regions partially overlap must run in order on one thread.
    const overlappingC = batch > 1 && strideC > 0 && strideC < m * n;
    if (threads === 1 || k === 0 || flops < this.parallelThreshold || overlappingC) return { split: SPLIT_BATCH, active: 1, chunks: 1 };
    const separateC = batch > 1 && strideC >= m * n;
    if (separateC && batch >= threads && (batch % threads === 0 || batch >= 4 * threads)) {
      return { split: SPLIT_BATCH, active: threads, chunks: batch };
    }
    // Split the larger of m and n: the other operand is packed once per chunk.
    const split = n >= m ? SPLIT_N : SPLIT_M;
    const units = split === SPLIT_N ? Math.ceil(n / NR) : Math.ceil(m / MR);
    // Several chunks per thread only when each stays large enough to amortise re-packing.
    const affordable = this.minChunkFlops > 0 ? Math.floor(flops / (threads * this.minChunkFlops)) : this.chunksPerThread;
    const perThread = Math.max(1, Math.min(this.chunksPerThread, affordable));
    const chunks = Math.min(units, threads * perThread);
    const active = Math.min(threads, chunks);
    return active === 1 ? { split: SPLIT_BATCH, active: 1, chunks: 1 } : { split, active, chunks };
  }

  /** A staging block of at least `bytes` bytes for copied operands, reused across calls. */
  private ensureStaging(bytes: number): number {
    if (bytes === 0) return 0;
    if (this.staging && this.staging.bytes >= bytes) return this.staging.offset;
    if (this.staging) this.arena.freeBytes(this.staging.offset);
    this.staging = undefined;
    // Over-allocate a little so slowly growing shapes do not reallocate every call.
    const size = Math.ceil((bytes * 1.25) / 64) * 64;
    this.staging = { offset: this.arena.allocBytes(size), bytes: size };
    return this.staging.offset;
  }

  private assertLive(): void {
    if (this.disposed) throw new BackendError('this WebAssembly GEMM engine was disposed; create a new one');
  }
}

/**
 * Creates the WebAssembly SIMD GEMM engine: compiles (once per process) the
 * best supported kernel build, creates the shared memory and starts
 * `threads - 1` worker threads. Call `dispose()` when done (the workers never
 * keep the process alive on their own).
 */
export async function createWasmGemmEngine(options: WasmGemmOptions = {}): Promise<WasmGemmEngine> {
  const threads = positiveInteger(options.threads ?? os.availableParallelism(), 'threads');
  if (threads > MAX_THREADS) throw new InvalidArgumentError(`threads must be at most ${MAX_THREADS}, got ${threads}`);
  const blocking = resolveBlocking(options.blocking);
  const parallelThreshold = options.parallelThreshold ?? 2e6;
  if (!(parallelThreshold >= 0)) throw new InvalidArgumentError(`parallelThreshold must be a non-negative number, got ${parallelThreshold}`);
  const chunksPerThread = positiveInteger(options.chunksPerThread ?? 3, 'chunksPerThread');
  const minChunkFlops = options.minChunkFlops ?? 32e6;
  if (!(minChunkFlops >= 0)) throw new InvalidArgumentError(`minChunkFlops must be a non-negative number, got ${minChunkFlops}`);
  const requested = options.variant ?? 'auto';
  if (requested !== 'auto' && requested !== 'relaxed' && requested !== 'simd') {
    throw new InvalidArgumentError(`variant must be 'auto', 'relaxed' or 'simd', got '${String(requested)}'`);
  }
  const variant = requested === 'auto' ? await bestGemmVariant() : requested;
  const module: WasmModule = await compileGemmModule(variant);

  // Size the initial memory for the reserved region plus every thread's scratch, with headroom for operands.
  const probe = instantiate(module, new wasmApi.Memory({ initial: 1, maximum: 1, shared: true }));
  const scratchBytes = probe.scratchBytes(blocking.kc, blocking.mc, blocking.nc);
  const initialBytes = ARENA_BASE + threads * (scratchBytes + 64) + 4 * 1024 * 1024;
  let memory;
  try {
    memory = new wasmApi.Memory({ initial: Math.ceil(initialBytes / PAGE_BYTES), maximum: 65536, shared: true });
  } catch (err) {
    throw new BackendError('could not create a shared WebAssembly memory (does this runtime support WebAssembly threads?)', { cause: err });
  }
  const arena = new SharedArena(memory, { base: ARENA_BASE, maximumPages: 65536 });
  const scratchOffsets = Array.from({ length: threads }, () => arena.allocBytes(scratchBytes));
  const kernel = instantiate(module, memory);
  const pool =
    threads > 1
      ? await GemmWorkerPool.start({ module, memory, ctrlOffset: CTRL_OFFSET, descOffset: DESC_OFFSET, workers: threads - 1 })
      : undefined;
  if (CTRL_OFFSET + 4 * CTRL_SLOTS > DESC_OFFSET) throw new BackendError('internal: control block overlaps the task descriptor');
  return new WasmGemmEngineImpl({ variant, threads, arena, kernel, pool, blocking, parallelThreshold, chunksPerThread, minChunkFlops, scratchOffsets });
}

function instantiate(module: WasmModule, memory: InstanceType<typeof wasmApi.Memory>): GemmExports {
  const instance = new wasmApi.Instance(module, { env: { memory } });
  return instance.exports as unknown as GemmExports;
}
