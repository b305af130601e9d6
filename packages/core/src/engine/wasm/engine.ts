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
import { CTRL_SLOTS, DESC_DONE_WORD, DESC_REMAINING_WORD, GemmWorkerPool, SPIN_MICROSECONDS } from './pool.js';
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
   * it saves on them (measured crossover about 1 MFLOP); default 1,000,000.
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
 * Geometry of one NHWC 2-D convolution for `im2col`/`col2im`. tfjs's
 * `backend_util.Conv2DInfo` satisfies it structurally.
 */
export interface Im2colGeometry {
  batchSize: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padInfo: { top: number; left: number };
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
  /**
   * Writes the column matrix of the NHWC image `x` into `col`: one row per
   * output pixel (batch, outRow, outCol), one column per filter tap in HWIO
   * order (filterRow, filterCol, inChannel), zeros for padding taps. `col`
   * must hold batch·outH·outW × filterH·filterW·inC floats; allocate it with
   * `alloc` so the following `sgemm` reads it in place.
   */
  im2col(x: Float32Array, geometry: Im2colGeometry, col: Float32Array): void;
  /** The adjoint of `im2col`: `dx` (NHWC, fully overwritten) = sum of the column rows scattered back onto their pixels. */
  col2im(col: Float32Array, geometry: Im2colGeometry, dx: Float32Array): void;
  /**
   * out = a op b element-wise (f32 SIMD, all threads for large arrays). One
   * operand has `out.length` elements; the other has as many, or fewer and
   * then each of its elements stands for `inner` consecutive output elements
   * (default 1) and it repeats cyclically: a scalar, a trailing-axes operand
   * such as a bias (inner 1), a column vector against a matrix (inner =
   * columns). `out` may be the full operand (the operation is then in place).
   */
  binary(op: VectorBinaryOp, a: Float32Array, b: Float32Array, out: Float32Array, inner?: number): void;
  /**
   * out[r] = Σ_j x[r·cols + j], or with a nonzero `divisor` Σ_j f32(x[r·cols + j] / divisor)
   * (a mean the way tfjs-cpu computes it), accumulated in double precision.
   */
  rowSums(x: Float32Array, rows: number, cols: number, out: Float32Array, divisor?: number): void;
  /** out[r] = index of the minimum of row r of the rows × cols matrix `x` (tfjs-cpu's argMin semantics). */
  argMinRows(x: Float32Array, rows: number, cols: number, out: Int32Array): void;
  /** out = f(x) element-wise; `alpha` is step's value for x ≤ 0 (tfjs semantics: NaN stays NaN). */
  unary(op: VectorUnaryOp, x: Float32Array, out: Float32Array, alpha?: number): void;
  /** out[j] = Σ_i x[i·cols + j] over `rows` rows (accumulated in double precision). */
  columnSums(x: Float32Array, rows: number, cols: number, out: Float32Array): void;
  /**
   * Winograd F(4×4, r×r) transforms for r×r (r = 3 or 2), stride-1,
   * undilated convolutions (layouts in `assembly/winograd.ts`): with
   * α = r + 3 and `tiles = winogradTiles(g)`, V and M are α² tiles ×
   * channels matrices and U is α² inC × outC matrices, each starting
   * `winogradStride(rows · columns)` floats after the previous one; r is the
   * geometry's filter size. Channel counts must be multiples of 4 and at most
   * `winogradMaxChannels`.
   */
  readonly winogradMaxChannels: number;
  /** Floats from one transform point's matrix of `floats` floats to the next (padded against cache-set aliasing). */
  winogradStride(floats: number): number;
  /** Tiles (4×4 output blocks over all images) of a geometry. */
  winogradTiles(geometry: Im2colGeometry): number;
  /** V = input transform of the NHWC image `x` (`geometry.inChannels` channels, padding from `geometry`). */
  winogradInput(x: Float32Array, geometry: Im2colGeometry, v: Float32Array): void;
  /** dx (NHWC, fully overwritten) = adjoint of the input transform applied to dV (`geometry.inChannels` channels). */
  winogradInputAdjoint(dv: Float32Array, geometry: Im2colGeometry, dx: Float32Array): void;
  /** The NHWC output `y` (outHeight × outWidth × `channels`) from M = V·U. */
  winogradOutput(m: Float32Array, geometry: Im2colGeometry, channels: number, y: Float32Array): void;
  /** dM = adjoint of the output transform applied to the NHWC gradient `dy` (`channels` channels). */
  winogradOutputAdjoint(dy: Float32Array, geometry: Im2colGeometry, channels: number, dm: Float32Array): void;
  /** U = transform of the HWIO `filterSize`² filter `w` (rotated by 180° when `flip`). */
  winogradFilter(w: Float32Array, inChannels: number, outChannels: number, flip: boolean, u: Float32Array, filterSize?: 2 | 3): void;
  /** dW (HWIO, `filterSize`²) = adjoint of the filter transform applied to dU. */
  winogradFilterAdjoint(du: Float32Array, inChannels: number, outChannels: number, dw: Float32Array, filterSize?: 2 | 3): void;
  /**
   * The space-to-depth image of a stride-2 convolution's input: pixel (j, i)
   * of `out` (outHeight × outWidth × 4·inChannels) holds the 2×2 block of `x`
   * at (2j − padTop, 2i − padLeft) as [row][column][channel], zeros outside.
   * `geometry` describes `x` (in*) and `out` (outHeight, outWidth, padding).
   */
  spaceToDepth(x: Float32Array, geometry: Im2colGeometry, out: Float32Array): void;
  /** The inverse: every pixel of `x` (fully overwritten) takes its slot of `s2d` (0 beyond it). */
  depthToSpace(s2d: Float32Array, geometry: Im2colGeometry, x: Float32Array): void;
}

export type VectorBinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'sqdiff';
export type VectorUnaryOp = 'relu' | 'step' | 'square' | 'sqrt';
const BINARY_OPS: Record<VectorBinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3, sqdiff: 4 };
const UNARY_OPS: Record<VectorUnaryOp, number> = { relu: 0, step: 1, square: 2, sqrt: 3 };

/** Upper bound on threads: the task descriptor holds one scratch pointer per thread. */
const MAX_THREADS = 256;
const PAGE_BYTES = 65536;
/*
 * Byte layout of the reserved low region of the memory (address 0 stays
 * unused so a null pointer never aliases data):
 *   1024  worker-pool control block (CTRL_SLOTS i32)
 *   1536  im2col geometry (14 i32)
 *   2048  task descriptor (words documented in assembly/gemm.ts; per-thread
 *         scratch pointers from word 32 on)
 *   then  the arena: thread scratch, staging, user allocations.
 */
const CTRL_OFFSET = 1024;
const GEOMETRY_OFFSET = 1536;
const DESC_OFFSET = 2048;
const DESC_SCRATCH_WORD = 32;
const ARENA_BASE = DESC_OFFSET + 4 * (DESC_SCRATCH_WORD + MAX_THREADS);
/** Micro-tile of the kernel (must match assembly/gemm.ts). */
const MR = 4;
const NR = 8;
const SPLIT_BATCH = 0;
const SPLIT_N = 1;
const SPLIT_M = 2;
const TASK_GEMM = 0;
const TASK_IM2COL = 1;
const TASK_COL2IM = 2;
const TASK_BINARY = 3;
const TASK_UNARY = 4;
const TASK_COLUMN_SUMS = 5;
const TASK_WINOGRAD_INPUT = 6;
const TASK_WINOGRAD_OUTPUT = 7;
const TASK_WINOGRAD_OUTPUT_ADJOINT = 8;
const TASK_WINOGRAD_FILTER = 9;
const TASK_WINOGRAD_FILTER_ADJOINT = 10;
const TASK_SPACE_TO_DEPTH = 11;
const TASK_DEPTH_TO_SPACE = 12;
const TASK_WINOGRAD_INPUT_ADJOINT = 13;
const TASK_ARGMIN_ROWS = 14;
const TASK_ROW_SUMS = 15;

/** Transform points α² of F(4×4, r×r). */
function winogradPoints(filterSize: number): number {
  return (filterSize + 3) ** 2;
}

/**
 * Floats between consecutive transform points: the matrix rounded up to a
 * cache line plus one line, so the α² points a transform touches together
 * fall into different cache sets (an odd number of lines apart).
 */
export function winogradStride(floats: number): number {
  const lines = Math.ceil(floats / 16);
  return 16 * (lines % 2 === 1 ? lines : lines + 1);
}
/**
 * Element-wise tasks over fewer floats than this run on the calling thread
 * alone: they are memory-bound and take well under the cost of waking a
 * worker (tens of microseconds).
 */
const VECTOR_PARALLEL_FLOATS = 1 << 16;
/** im2col/col2im moving fewer floats than this run on the calling thread alone. */
const CONV_PARALLEL_FLOATS = 1 << 18;
/**
 * When every helper is blocked (not polling), tasks below this many times
 * their threshold run on the calling thread alone too: waking a blocked
 * thread costs tens of microseconds, more on a loaded machine, where the
 * wake-up may even preempt the caller.
 */
const SLEEPING_HELPERS_FACTOR = 8;

interface GemmExports {
  /** Runs thread `thread`'s part of the task described at `desc`. */
  runTask(desc: number, thread: number): void;
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
  /** Element-wise tasks and Winograd transforms over fewer floats run on the calling thread alone. */
  vectorParallelFloats = VECTOR_PARALLEL_FLOATS;
  private readonly chunksPerThread: number;
  private readonly minChunkFlops: number;
  private readonly desc: Uint32Array;
  /** The same descriptor as signed words, for the Atomics of the task protocol. */
  private readonly descWords: Int32Array;
  private readonly geometry: Int32Array;
  /** The descriptor as floats (for f32 task parameters). */
  private readonly descFloats: Float32Array;
  private readonly scratchOffsets: number[];
  readonly winogradMaxChannels: number;
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
    scratchBytes: number;
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
    // The input transform keeps a 6×6 patch of every channel plus 36 vectors in the thread's scratch (3×3 filters; 5×5 for 2×2).
    this.winogradMaxChannels = Math.max(0, Math.floor((init.scratchBytes / 4 - 36 * 4) / 36 / 4) * 4);
    this.desc = new Uint32Array(init.arena.buffer(), DESC_OFFSET, DESC_SCRATCH_WORD + MAX_THREADS);
    this.descWords = new Int32Array(init.arena.buffer(), DESC_OFFSET, DESC_SCRATCH_WORD);
    this.geometry = new Int32Array(init.arena.buffer(), GEOMETRY_OFFSET, 14);
    this.descFloats = new Float32Array(init.arena.buffer(), DESC_OFFSET, DESC_SCRATCH_WORD);
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

    const [ptrA, ptrB, ptrC] = this.place([
      { array: call.a, offset: offsetA, length: spanA, copyIn: true },
      { array: call.b, offset: offsetB, length: spanB, copyIn: true },
      { array: call.c, offset: offsetC, length: spanC, copyIn: accumulate },
    ]) as [number, number, number];
    const ownC = this.arena.owns(call.c);

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
    desc[14] = split;
    desc[15] = this.blocking.kc;
    desc[16] = this.blocking.mc;
    desc[17] = this.blocking.nc;
    desc[18] = chunks;
    desc[20] = TASK_GEMM;

    this.runTask(active, chunks);

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

  im2col(x: Float32Array, geometry: Im2colGeometry, col: Float32Array): void {
    this.assertLive();
    const { imageLength, colLength } = this.writeGeometry(geometry);
    this.checkLength(x, imageLength, 'im2col: x');
    this.checkLength(col, colLength, 'im2col: col');
    if (colLength === 0) return;
    const [ptrX, ptrCol] = this.place([
      { array: x, offset: 0, length: imageLength, copyIn: true },
      { array: col, offset: 0, length: colLength, copyIn: false },
    ]) as [number, number];
    this.runConvTask(TASK_IM2COL, ptrX, ptrCol, colLength, geometry.batchSize * geometry.outHeight);
    if (!this.arena.owns(col)) col.set(this.arena.floats(ptrCol, colLength));
  }

  col2im(col: Float32Array, geometry: Im2colGeometry, dx: Float32Array): void {
    this.assertLive();
    const { imageLength, colLength } = this.writeGeometry(geometry);
    this.checkLength(col, colLength, 'col2im: col');
    this.checkLength(dx, imageLength, 'col2im: dx');
    if (imageLength === 0) return;
    const [ptrCol, ptrDx] = this.place([
      { array: col, offset: 0, length: colLength, copyIn: true },
      { array: dx, offset: 0, length: imageLength, copyIn: false },
    ]) as [number, number];
    this.runConvTask(TASK_COL2IM, ptrCol, ptrDx, colLength, geometry.batchSize);
    if (!this.arena.owns(dx)) dx.set(this.arena.floats(ptrDx, imageLength));
  }

  binary(op: VectorBinaryOp, a: Float32Array, b: Float32Array, out: Float32Array, inner = 1): void {
    this.assertLive();
    const code = BINARY_OPS[op];
    if (code === undefined) throw new InvalidArgumentError(`binary: unknown operation '${String(op)}'`);
    const n = out.length;
    if (n === 0) return;
    const repeatedIsA = a.length !== n;
    const period = repeatedIsA ? a.length : b.length;
    const full = period === n;
    if (!Number.isInteger(inner) || inner < 1 || (full && inner !== 1)) throw new InvalidArgumentError(`binary: inner must be a positive integer (1 for equal lengths), got ${inner}`);
    if ((repeatedIsA && b.length !== n) || period === 0 || n % (period * inner) !== 0) {
      throw new InvalidArgumentError(`binary: operands of ${a.length} and ${b.length} elements do not broadcast to ${n} by repetition`);
    }
    const [ptrA, ptrB, ptrOut] = this.place([
      { array: a, offset: 0, length: a.length, copyIn: true },
      { array: b, offset: 0, length: b.length, copyIn: true },
      { array: out, offset: 0, length: n, copyIn: false },
    ]) as [number, number, number];
    const desc = this.desc;
    desc[0] = n;
    desc[1] = period;
    desc[2] = inner;
    desc[3] = ptrA;
    desc[4] = ptrB;
    desc[5] = ptrOut;
    desc[6] = code;
    desc[7] = repeatedIsA ? 1 : 0;
    this.runVectorTask(TASK_BINARY, n, Math.ceil(n / 16));
    if (!this.arena.owns(out)) out.set(this.arena.floats(ptrOut, n));
  }

  rowSums(x: Float32Array, rows: number, cols: number, out: Float32Array, divisor = 0): void {
    this.assertLive();
    positiveInteger(rows + 1, 'rowSums: rows + 1');
    positiveInteger(cols + 1, 'rowSums: cols + 1');
    this.checkLength(x, rows * cols, 'rowSums: x');
    this.checkLength(out, rows, 'rowSums: out');
    if (rows === 0) return;
    if (cols === 0) {
      out.fill(0, 0, rows);
      return;
    }
    const [ptrX, ptrOut] = this.place([
      { array: x, offset: 0, length: rows * cols, copyIn: true },
      { array: out, offset: 0, length: rows, copyIn: false },
    ]) as [number, number];
    const desc = this.desc;
    desc[0] = rows;
    desc[1] = cols;
    desc[3] = ptrX;
    desc[5] = ptrOut;
    this.descFloats[8] = divisor;
    this.runVectorTask(TASK_ROW_SUMS, rows * cols, rows);
    if (!this.arena.owns(out)) out.set(this.arena.floats(ptrOut, rows));
  }

  argMinRows(x: Float32Array, rows: number, cols: number, out: Int32Array): void {
    this.assertLive();
    positiveInteger(rows + 1, 'argMinRows: rows + 1');
    positiveInteger(cols, 'argMinRows: cols');
    this.checkLength(x, rows * cols, 'argMinRows: x');
    if (out.length < rows) throw new InvalidArgumentError(`argMinRows: out needs ${rows} elements but has ${out.length}`);
    if (rows === 0) return;
    // The indices are written into a float-sized staging slot and read back as int32.
    const [ptrX, ptrOut] = this.place([
      { array: x, offset: 0, length: rows * cols, copyIn: true },
      { array: new Float32Array(0), offset: 0, length: rows, copyIn: false },
    ]) as [number, number];
    const desc = this.desc;
    desc[0] = rows;
    desc[1] = cols;
    desc[3] = ptrX;
    desc[5] = ptrOut;
    this.runVectorTask(TASK_ARGMIN_ROWS, rows * cols, rows);
    out.set(new Int32Array(this.arena.buffer(), ptrOut, rows));
  }

  unary(op: VectorUnaryOp, x: Float32Array, out: Float32Array, alpha = 0): void {
    this.assertLive();
    const code = UNARY_OPS[op];
    if (code === undefined) throw new InvalidArgumentError(`unary: unknown operation '${String(op)}'`);
    const n = out.length;
    this.checkLength(x, n, 'unary: x');
    if (n === 0) return;
    const [ptrX, ptrOut] = this.place([
      { array: x, offset: 0, length: n, copyIn: true },
      { array: out, offset: 0, length: n, copyIn: false },
    ]) as [number, number];
    const desc = this.desc;
    desc[0] = n;
    desc[3] = ptrX;
    desc[5] = ptrOut;
    desc[6] = code;
    this.descFloats[8] = alpha;
    this.runVectorTask(TASK_UNARY, n, Math.ceil(n / 16));
    if (!this.arena.owns(out)) out.set(this.arena.floats(ptrOut, n));
  }

  columnSums(x: Float32Array, rows: number, cols: number, out: Float32Array): void {
    this.assertLive();
    positiveInteger(rows + 1, 'columnSums: rows + 1');
    positiveInteger(cols + 1, 'columnSums: cols + 1');
    this.checkLength(x, rows * cols, 'columnSums: x');
    this.checkLength(out, cols, 'columnSums: out');
    if (cols === 0) return;
    if (rows === 0) {
      out.fill(0, 0, cols);
      return;
    }
    const [ptrX, ptrOut] = this.place([
      { array: x, offset: 0, length: rows * cols, copyIn: true },
      { array: out, offset: 0, length: cols, copyIn: false },
    ]) as [number, number];
    const desc = this.desc;
    desc[0] = rows;
    desc[1] = cols;
    desc[3] = ptrX;
    desc[5] = ptrOut;
    this.runVectorTask(TASK_COLUMN_SUMS, rows * cols, Math.ceil(cols / 16));
    if (!this.arena.owns(out)) out.set(this.arena.floats(ptrOut, cols));
  }

  winogradStride(floats: number): number {
    return winogradStride(floats);
  }

  winogradTiles(g: Im2colGeometry): number {
    return g.batchSize * Math.ceil(g.outHeight / 4) * Math.ceil(g.outWidth / 4);
  }

  winogradInput(x: Float32Array, g: Im2colGeometry, v: Float32Array): void {
    const { tiles, plane, pointsLength, imageLength } = this.prepareWinogradTiles(g, g.inChannels);
    this.checkLength(x, imageLength, 'winogradInput: x');
    this.checkLength(v, pointsLength, 'winogradInput: v');
    this.runWinogradTransform(TASK_WINOGRAD_INPUT, x, imageLength, v, pointsLength, plane, tiles);
  }

  winogradInputAdjoint(dv: Float32Array, g: Im2colGeometry, dx: Float32Array): void {
    const { plane, pointsLength, imageLength } = this.prepareWinogradTiles(g, g.inChannels);
    this.checkLength(dv, pointsLength, 'winogradInputAdjoint: dv');
    this.checkLength(dx, imageLength, 'winogradInputAdjoint: dx');
    this.runWinogradTransform(TASK_WINOGRAD_INPUT_ADJOINT, dv, pointsLength, dx, imageLength, plane, g.batchSize);
  }

  winogradOutput(m: Float32Array, g: Im2colGeometry, channels: number, y: Float32Array): void {
    const { tiles, plane, pointsLength, outputLength } = this.prepareWinogradTiles({ ...g, inChannels: channels }, channels);
    this.checkLength(m, pointsLength, 'winogradOutput: m');
    this.checkLength(y, outputLength, 'winogradOutput: y');
    this.runWinogradTransform(TASK_WINOGRAD_OUTPUT, m, pointsLength, y, outputLength, plane, tiles);
  }

  winogradOutputAdjoint(dy: Float32Array, g: Im2colGeometry, channels: number, dm: Float32Array): void {
    const { tiles, plane, pointsLength, outputLength } = this.prepareWinogradTiles({ ...g, inChannels: channels }, channels);
    this.checkLength(dy, outputLength, 'winogradOutputAdjoint: dy');
    this.checkLength(dm, pointsLength, 'winogradOutputAdjoint: dm');
    this.runWinogradTransform(TASK_WINOGRAD_OUTPUT_ADJOINT, dy, outputLength, dm, pointsLength, plane, tiles);
  }

  /**
   * Checks and geometry shared by the tile transforms: `channels` planes in
   * the Winograd domain (`pointsLength` floats), the input image of `g`
   * (`imageLength`) and the output image with `channels` channels.
   */
  private prepareWinogradTiles(
    g: Im2colGeometry,
    channels: number,
  ): { tiles: number; plane: number; pointsLength: number; imageLength: number; outputLength: number } {
    this.assertLive();
    this.checkWinograd(g, channels);
    const { imageLength } = this.writeGeometry(g);
    const tiles = this.winogradTiles(g);
    const plane = winogradStride(tiles * channels);
    const outputLength = g.batchSize * g.outHeight * g.outWidth * channels;
    return { tiles, plane, pointsLength: winogradPoints(g.filterHeight) * plane, imageLength, outputLength };
  }

  /**
   * Runs one tile transform from `source` to `target` (lengths checked by the
   * caller) in `units` work items: both placed in the arena, the target copied
   * out when it is not arena memory.
   */
  private runWinogradTransform(kind: number, source: Float32Array, sourceLength: number, target: Float32Array, targetLength: number, plane: number, units: number): void {
    if (targetLength === 0) return;
    const [ptrSource, ptrTarget] = this.place([
      { array: source, offset: 0, length: sourceLength, copyIn: true },
      { array: target, offset: 0, length: targetLength, copyIn: false },
    ]) as [number, number];
    this.desc[10] = plane;
    // The work scales with the Winograd-domain array, whichever side it is on.
    const points = kind === TASK_WINOGRAD_INPUT || kind === TASK_WINOGRAD_OUTPUT_ADJOINT ? targetLength : sourceLength;
    this.runTileTask(kind, ptrSource, ptrTarget, points, units);
    if (!this.arena.owns(target)) target.set(this.arena.floats(ptrTarget, targetLength));
  }

  winogradFilter(w: Float32Array, inChannels: number, outChannels: number, flip: boolean, u: Float32Array, filterSize: 2 | 3 = 3): void {
    this.assertLive();
    this.checkWinogradChannels(inChannels, outChannels);
    const { wLength, uLength } = this.winogradFilterLengths(inChannels, outChannels, filterSize);
    this.checkLength(w, wLength, 'winogradFilter: w');
    this.checkLength(u, uLength, 'winogradFilter: u');
    if (wLength === 0) return;
    const [ptrW, ptrU] = this.place([
      { array: w, offset: 0, length: wLength, copyIn: true },
      { array: u, offset: 0, length: uLength, copyIn: false },
    ]) as [number, number];
    this.desc[0] = inChannels;
    this.desc[1] = outChannels;
    this.desc[2] = filterSize;
    this.desc[6] = flip ? 1 : 0;
    this.desc[10] = winogradStride(inChannels * outChannels);
    this.runTileTask(TASK_WINOGRAD_FILTER, ptrW, ptrU, uLength, inChannels);
    if (!this.arena.owns(u)) u.set(this.arena.floats(ptrU, uLength));
  }

  winogradFilterAdjoint(du: Float32Array, inChannels: number, outChannels: number, dw: Float32Array, filterSize: 2 | 3 = 3): void {
    this.assertLive();
    this.checkWinogradChannels(inChannels, outChannels);
    const { wLength, uLength } = this.winogradFilterLengths(inChannels, outChannels, filterSize);
    this.checkLength(du, uLength, 'winogradFilterAdjoint: du');
    this.checkLength(dw, wLength, 'winogradFilterAdjoint: dw');
    if (wLength === 0) return;
    const [ptrU, ptrW] = this.place([
      { array: du, offset: 0, length: uLength, copyIn: true },
      { array: dw, offset: 0, length: wLength, copyIn: false },
    ]) as [number, number];
    this.desc[0] = inChannels;
    this.desc[1] = outChannels;
    this.desc[2] = filterSize;
    this.desc[10] = winogradStride(inChannels * outChannels);
    this.runTileTask(TASK_WINOGRAD_FILTER_ADJOINT, ptrU, ptrW, uLength, inChannels);
    if (!this.arena.owns(dw)) dw.set(this.arena.floats(ptrW, wLength));
  }

  spaceToDepth(x: Float32Array, g: Im2colGeometry, out: Float32Array): void {
    this.assertLive();
    const { imageLength } = this.writeGeometry(g);
    const outLength = g.batchSize * g.outHeight * g.outWidth * 4 * g.inChannels;
    this.checkLength(x, imageLength, 'spaceToDepth: x');
    this.checkLength(out, outLength, 'spaceToDepth: out');
    if (outLength === 0) return;
    const [ptrX, ptrOut] = this.place([
      { array: x, offset: 0, length: imageLength, copyIn: true },
      { array: out, offset: 0, length: outLength, copyIn: false },
    ]) as [number, number];
    this.runTileTask(TASK_SPACE_TO_DEPTH, ptrX, ptrOut, outLength, g.batchSize * g.outHeight);
    if (!this.arena.owns(out)) out.set(this.arena.floats(ptrOut, outLength));
  }

  depthToSpace(s2d: Float32Array, g: Im2colGeometry, x: Float32Array): void {
    this.assertLive();
    const { imageLength } = this.writeGeometry(g);
    const s2dLength = g.batchSize * g.outHeight * g.outWidth * 4 * g.inChannels;
    this.checkLength(s2d, s2dLength, 'depthToSpace: s2d');
    this.checkLength(x, imageLength, 'depthToSpace: x');
    if (imageLength === 0) return;
    const [ptrS, ptrX] = this.place([
      { array: s2d, offset: 0, length: s2dLength, copyIn: true },
      { array: x, offset: 0, length: imageLength, copyIn: false },
    ]) as [number, number];
    this.runTileTask(TASK_DEPTH_TO_SPACE, ptrS, ptrX, imageLength, g.batchSize * g.inHeight);
    if (!this.arena.owns(x)) x.set(this.arena.floats(ptrX, imageLength));
  }

  private winogradFilterLengths(inChannels: number, outChannels: number, filterSize: number): { wLength: number; uLength: number } {
    if (filterSize !== 2 && filterSize !== 3) throw new InvalidArgumentError(`winograd: filter size must be 2 or 3, got ${filterSize}`);
    return { wLength: filterSize * filterSize * inChannels * outChannels, uLength: winogradPoints(filterSize) * winogradStride(inChannels * outChannels) };
  }

  private checkWinogradChannels(...channels: number[]): void {
    for (const c of channels) {
      if (!Number.isInteger(c) || c < 0 || c % 4 !== 0 || c > this.winogradMaxChannels) {
        throw new InvalidArgumentError(`winograd: channel counts must be multiples of 4 up to ${this.winogradMaxChannels}, got ${c}`);
      }
    }
  }

  private checkWinograd(g: Im2colGeometry, channels: number): void {
    this.checkWinogradChannels(channels);
    const square = g.filterHeight === g.filterWidth && (g.filterHeight === 3 || g.filterHeight === 2);
    if (!square || g.strideHeight !== 1 || g.strideWidth !== 1 || g.dilationHeight !== 1 || g.dilationWidth !== 1) {
      throw new InvalidArgumentError('winograd: only 3×3 and 2×2 filters with stride 1 and no dilation are supported');
    }
  }

  /** Runs a Winograd transform over `units` independent pieces (tiles, resp. input channels). */
  private runTileTask(kind: number, source: number, destination: number, floats: number, units: number): void {
    const active = this.threadsFor(floats, this.vectorParallelFloats, units);
    const desc = this.desc;
    desc[3] = source;
    desc[4] = destination;
    desc[5] = GEOMETRY_OFFSET;
    const chunks = active === 1 ? 1 : Math.min(units, active * 4);
    desc[18] = chunks;
    desc[20] = kind;
    this.runTask(active, chunks);
  }

  /** Runs an element-wise/reduction task over `units` 16-float pieces, on all threads when it is large. */
  private runVectorTask(kind: number, floats: number, units: number): void {
    const active = this.threadsFor(floats, this.vectorParallelFloats, units);
    const chunks = active === 1 ? 1 : Math.min(units, active * 2);
    this.desc[18] = chunks;
    this.desc[20] = kind;
    this.runTask(active, chunks);
  }

  /**
   * Runs an im2col/col2im task over `units` independent pieces (output rows,
   * resp. images), on all threads when it is large enough to pay for waking them.
   */
  private runConvTask(kind: number, source: number, destination: number, floats: number, units: number): void {
    const active = this.threadsFor(floats, CONV_PARALLEL_FLOATS, units);
    const desc = this.desc;
    desc[3] = source;
    desc[4] = destination;
    desc[5] = GEOMETRY_OFFSET;
    const chunks = active === 1 ? 1 : Math.min(units, active * 4);
    desc[18] = chunks;
    desc[20] = kind;
    this.runTask(active, chunks);
  }

  /**
   * Opens the task written in the descriptor (cut into `chunks`), wakes
   * `active - 1` workers, claims chunks on this thread too and blocks until
   * all are done (protocol in pool.ts).
   */
  private runTask(active: number, chunks: number): void {
    const words = this.descWords;
    const pool = active > 1 ? this.pool : undefined;
    this.pool?.resetError();
    Atomics.store(words, DESC_DONE_WORD, 0);
    Atomics.store(words, DESC_REMAINING_WORD, chunks);
    pool?.wake(active - 1);
    let ownError: unknown;
    try {
      this.kernel.runTask(DESC_OFFSET, 0);
    } catch (err) {
      ownError = err;
      // Count the chunk in progress and every unclaimed one as done so the wait below ends.
      Atomics.add(words, DESC_DONE_WORD, 1);
      while (Atomics.sub(words, DESC_REMAINING_WORD, 1) > 0) Atomics.add(words, DESC_DONE_WORD, 1);
    }
    // Chunks claimed by workers may still be running: wait for them even after an error here.
    let done = Atomics.load(words, DESC_DONE_WORD);
    if (done < chunks) {
      const spinUntil = performance.now() + SPIN_MICROSECONDS / 1000;
      while (done < chunks && performance.now() < spinUntil) done = Atomics.load(words, DESC_DONE_WORD);
    }
    while (done < chunks) {
      Atomics.wait(words, DESC_DONE_WORD, done);
      done = Atomics.load(words, DESC_DONE_WORD);
    }
    if (ownError !== undefined) throw new BackendError('the WebAssembly GEMM kernel failed', { cause: ownError });
    this.pool?.checkError();
  }

  private checkLength(array: Float32Array, needed: number, label: string): void {
    if (array.length < needed) throw new InvalidArgumentError(`${label} needs ${needed} elements but has ${array.length}`);
  }

  /** Validates the geometry and stores it where the kernel reads it. */
  private writeGeometry(g: Im2colGeometry): { imageLength: number; colLength: number } {
    const words = [
      g.batchSize, g.inHeight, g.inWidth, g.inChannels, g.outHeight, g.outWidth, g.filterHeight, g.filterWidth,
      g.strideHeight, g.strideWidth, g.dilationHeight, g.dilationWidth, g.padInfo.top, g.padInfo.left,
    ];
    const names = 'batchSize inHeight inWidth inChannels outHeight outWidth filterHeight filterWidth strideHeight strideWidth dilationHeight dilationWidth padInfo.top padInfo.left'.split(' ');
    words.forEach((value, index) => {
      const minimum = index >= 8 && index < 12 ? 1 : 0; // strides and dilations are ≥ 1
      if (!Number.isInteger(value) || value < minimum || value > 0x7fffffff) {
        throw new InvalidArgumentError(`im2col geometry: ${names[index]} must be an integer ≥ ${minimum}, got ${value}`);
      }
    });
    this.geometry.set(words);
    return {
      imageLength: g.batchSize * g.inHeight * g.inWidth * g.inChannels,
      colLength: g.batchSize * g.outHeight * g.outWidth * g.filterHeight * g.filterWidth * g.inChannels,
    };
  }

  /**
   * Threads for a task of `size` (floats, or flops) split into at most
   * `units` pieces: all of them from `threshold` on, or from
   * SLEEPING_HELPERS_FACTOR × `threshold` when no helper is polling.
   */
  private threadsFor(size: number, threshold: number, units: number): number {
    if (!this.pool || size < threshold) return 1;
    if (size < threshold * SLEEPING_HELPERS_FACTOR && this.pool.awake() === 0) return 1;
    return Math.max(1, Math.min(this.threads, units));
  }

  /** How to divide a task among threads: the split dimension, the threads taking part and the chunks they claim. */
  private planSplit(m: number, n: number, k: number, batch: number, strideC: number): { split: number; active: number; chunks: number } {
    const threads = this.threads;
    const flops = 2 * m * n * k * batch;
    // Batch items whose C regions partially overlap must run in order on one thread.
    const overlappingC = batch > 1 && strideC > 0 && strideC < m * n;
    if (threads === 1 || k === 0 || overlappingC || this.threadsFor(flops, this.parallelThreshold, threads) === 1) return { split: SPLIT_BATCH, active: 1, chunks: 1 };
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

  /**
   * Byte pointers for operands: arrays inside the engine memory are used in
   * place, the others get a slot in the staging block (filled from the array
   * when `copyIn`). Empty operands get pointer 0.
   */
  private place(operands: { array: Float32Array; offset: number; length: number; copyIn: boolean }[]): number[] {
    const slots = operands.map(({ array, length }) => (length === 0 || this.arena.owns(array) ? 0 : alignFloats(length)));
    const base = this.ensureStaging(slots.reduce((sum, floats) => sum + floats, 0) * 4);
    let next = base;
    return operands.map(({ array, offset, length, copyIn }, index) => {
      if (length === 0) return 0;
      if (slots[index] === 0) return array.byteOffset + offset * 4;
      const pointer = next;
      next += slots[index]! * 4;
      if (copyIn) this.arena.floats(pointer, length).set(array.subarray(offset, offset + length));
      return pointer;
    });
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
  const parallelThreshold = options.parallelThreshold ?? 1e6;
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
  if (CTRL_OFFSET + 4 * CTRL_SLOTS > GEOMETRY_OFFSET) throw new BackendError('internal: control block overlaps the geometry block');
  return new WasmGemmEngineImpl({ variant, threads, arena, kernel, pool, blocking, parallelThreshold, chunksPerThread, minChunkFlops, scratchOffsets, scratchBytes });
}

function instantiate(module: WasmModule, memory: InstanceType<typeof wasmApi.Memory>): GemmExports {
  const instance = new wasmApi.Instance(module, { env: { memory } });
  return instance.exports as unknown as GemmExports;
}
