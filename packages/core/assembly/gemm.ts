// Packed single-precision GEMM in the BLIS/GotoBLAS form, for WebAssembly SIMD.
//
// The module owns no memory of its own: it runs on a shared memory imported
// from the host, every argument is a raw byte pointer into it, and it has no
// static data (a shared memory would see data segments re-applied by every
// instance, i.e. by every worker thread). The host lays out:
//   - a task descriptor (see DESC_* below) describing a batch of products and
//     how to split it across threads,
//   - per-thread scratch holding the packed panels of A and B and one C tile.
//
// Two builds come out of this one source: with `--enable relaxed-simd` the
// micro-kernel uses fused `f32x4.relaxed_madd`, otherwise mul + add.
// `ASC_FEATURE_RELAXED_SIMD` is a compile-time constant, so each build holds
// only its own branch.

import { argMinRowsRange, binaryRange, columnSumsRange, rowSumsRange, unaryRange } from './vector';
import {
  depthToSpaceRange,
  spaceToDepthRange,
  winogradFilterAdjointRange,
  winogradInputAdjointRange,
  winogradFilterRange,
  winogradInputRange,
  winogradOutputAdjointRange,
  winogradOutputRange,
  winogradTiles,
} from './winograd';

// Micro-tile: MR rows × NR columns of C held in 8 v128 registers. In V8 on
// x64 this 4×8 kernel ran at ~53 GFLOP/s per core with relaxed_madd (the
// 128-bit FMA peak); 6×8 and 4×12 spilled accumulators and ran at ~27.
const MR: i32 = 4;
const NR: i32 = 8;

// Task descriptor layout (i32 words, byte offset = 4 × index).
const DESC_M: usize = 0;
const DESC_N: usize = 4;
const DESC_K: usize = 8;
const DESC_A: usize = 12;
const DESC_B: usize = 16;
const DESC_C: usize = 20;
const DESC_TRANS_A: usize = 24;
const DESC_TRANS_B: usize = 28;
const DESC_ACCUMULATE: usize = 32;
const DESC_BATCH: usize = 36;
const DESC_STRIDE_A: usize = 40;
const DESC_STRIDE_B: usize = 44;
const DESC_STRIDE_C: usize = 48;
const DESC_SPLIT: usize = 56;
const DESC_KC: usize = 60;
const DESC_MC: usize = 64;
const DESC_NC: usize = 68;
/** Number of chunks the task is cut into (more than threads, so fast threads take more). */
const DESC_CHUNKS: usize = 72;
/** Chunks not yet claimed (set to DESC_CHUNKS by the host last, which opens the task); see runTask. */
const DESC_REMAINING: usize = 76;
/** What the task is: TASK_GEMM, TASK_IM2COL or TASK_COL2IM. */
const DESC_KIND: usize = 80;
/** Chunks finished (zeroed by the host before it opens the task). */
const DESC_DONE: usize = 84;

const TASK_GEMM: i32 = 0;
const TASK_IM2COL: i32 = 1;
const TASK_COL2IM: i32 = 2;
/** Element-wise and reduction tasks (assembly/vector.ts); their descriptor words are documented at vectorChunk. */
const TASK_BINARY: i32 = 3;
const TASK_UNARY: i32 = 4;
const TASK_COLUMN_SUMS: i32 = 5;
/** Winograd F(4×4, 3×3 | 2×2) transforms (assembly/winograd.ts); descriptor words documented at winogradChunk. */
const TASK_WINOGRAD_INPUT: i32 = 6;
const TASK_WINOGRAD_OUTPUT: i32 = 7;
const TASK_WINOGRAD_OUTPUT_ADJOINT: i32 = 8;
const TASK_WINOGRAD_FILTER: i32 = 9;
const TASK_WINOGRAD_FILTER_ADJOINT: i32 = 10;
const TASK_SPACE_TO_DEPTH: i32 = 11;
const TASK_DEPTH_TO_SPACE: i32 = 12;
const TASK_WINOGRAD_INPUT_ADJOINT: i32 = 13;
/** Index of each row's minimum (assembly/vector.ts); descriptor words documented at vectorChunk. */
const TASK_ARGMIN_ROWS: i32 = 14;
/** Sums (or means) of rows (assembly/vector.ts); descriptor words documented at vectorChunk. */
const TASK_ROW_SUMS: i32 = 15;
/** Per-thread scratch base pointers start here, one i32 per thread. */
const DESC_SCRATCH: usize = 128;

/** How a task is divided among threads. */
const SPLIT_BATCH: i32 = 0;
const SPLIT_N: i32 = 1;
const SPLIT_M: i32 = 2;

@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, c);
  } else {
    return f32x4.add(c, f32x4.mul(a, b));
  }
}

@inline function roundUp(x: i32, multiple: i32): i32 {
  return ((x + multiple - 1) / multiple) * multiple;
}

/**
 * C[4×8] (=|+=) Ap·Bp over kc steps. `pa` is a packed A micro-panel (kc × MR,
 * p-major), `pb` a packed B micro-panel (kc × NR, p-major), `c` has row stride
 * `ldcBytes`. Kept out of line on purpose: V8 tiers hot functions up per call,
 * so a small hot callee reaches optimized code even while the outer loop runs.
 */
function microKernel(kc: i32, pa: usize, pb: usize, c: usize, ldcBytes: usize, beta: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  // Deliberately not unrolled: Binaryen fuses the steps of an unrolled body
  // into chains per accumulator, which keeps 4 B vectors live and makes V8
  // spill accumulators to the stack.
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
    a = v128.load32_splat(pa, 4);
    c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
    a = v128.load32_splat(pa, 8);
    c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
    a = v128.load32_splat(pa, 12);
    c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
    pa += 16;
    pb += 32;
  }
  const c1 = c + ldcBytes;
  const c2 = c1 + ldcBytes;
  const c3 = c2 + ldcBytes;
  if (beta) {
    c00 = f32x4.add(c00, v128.load(c)); c01 = f32x4.add(c01, v128.load(c, 16));
    c10 = f32x4.add(c10, v128.load(c1)); c11 = f32x4.add(c11, v128.load(c1, 16));
    c20 = f32x4.add(c20, v128.load(c2)); c21 = f32x4.add(c21, v128.load(c2, 16));
    c30 = f32x4.add(c30, v128.load(c3)); c31 = f32x4.add(c31, v128.load(c3, 16));
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c1, c10); v128.store(c1, c11, 16);
  v128.store(c2, c20); v128.store(c2, c21, 16);
  v128.store(c3, c30); v128.store(c3, c31, 16);
}

/** Transposes the 4×4 block held in rows r0..r3 and stores its columns at dst, dst+16, dst+32, dst+48 times `step`. */
@inline function transposeStore4x4(r0: v128, r1: v128, r2: v128, r3: v128, dst: usize, stepBytes: usize): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(dst + stepBytes, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
  v128.store(dst + 2 * stepBytes, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * stepBytes, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
}

/**
 * Packs rows [i0, i0+mc) × cols [p0, p0+kc) of op(A) into MR-row micro-panels
 * (each kc × MR, p-major), zero-padding the last panel to MR rows.
 * op(A)[i, p] = A[i*lda + p], or A[p*lda + i] when transposed.
 */
function packA(a: usize, lda: i32, transA: bool, i0: i32, mc: i32, p0: i32, kc: i32, dst: usize): void {
  for (let ir = 0; ir < mc; ir += MR) {
    const rows = min(MR, mc - ir);
    const i = i0 + ir;
    if (transA) {
      let src = a + ((<usize>p0 * lda + i) << 2);
      const ldaBytes = <usize>lda << 2;
      if (rows == MR) {
        for (let p = 0; p < kc; p++) {
          v128.store(dst, v128.load(src));
          src += ldaBytes;
          dst += 16;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          for (let r = 0; r < MR; r++) {
            store<f32>(dst + (r << 2), r < rows ? load<f32>(src + (r << 2)) : 0);
          }
          src += ldaBytes;
          dst += 16;
        }
      }
    } else {
      const ldaBytes = <usize>lda << 2;
      const row0 = a + ((<usize>i * lda + p0) << 2);
      if (rows == MR) {
        const row1 = row0 + ldaBytes;
        const row2 = row1 + ldaBytes;
        const row3 = row2 + ldaBytes;
        let p = 0;
        for (; p + 3 < kc; p += 4) {
          const off = <usize>p << 2;
          transposeStore4x4(v128.load(row0 + off), v128.load(row1 + off), v128.load(row2 + off), v128.load(row3 + off), dst, 16);
          dst += 64;
        }
        for (; p < kc; p++) {
          const off = <usize>p << 2;
          store<f32>(dst, load<f32>(row0 + off));
          store<f32>(dst, load<f32>(row1 + off), 4);
          store<f32>(dst, load<f32>(row2 + off), 8);
          store<f32>(dst, load<f32>(row3 + off), 12);
          dst += 16;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          const off = <usize>p << 2;
          for (let r = 0; r < MR; r++) {
            store<f32>(dst + (r << 2), r < rows ? load<f32>(row0 + <usize>r * ldaBytes + off) : 0);
          }
          dst += 16;
        }
      }
    }
  }
}

/**
 * Packs rows [p0, p0+kc) × cols [j0, j0+nc) of op(B) into NR-column
 * micro-panels (each kc × NR, p-major), zero-padding the last one.
 * op(B)[p, j] = B[p*ldb + j], or B[j*ldb + p] when transposed.
 */
function packB(b: usize, ldb: i32, transB: bool, p0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  const ldbBytes = <usize>ldb << 2;
  for (let jr = 0; jr < nc; jr += NR) {
    const cols = min(NR, nc - jr);
    const j = j0 + jr;
    if (!transB) {
      let src = b + ((<usize>p0 * ldb + j) << 2);
      if (cols == NR) {
        for (let p = 0; p < kc; p++) {
          v128.store(dst, v128.load(src));
          v128.store(dst, v128.load(src, 16), 16);
          src += ldbBytes;
          dst += 32;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          for (let c = 0; c < NR; c++) {
            store<f32>(dst + (c << 2), c < cols ? load<f32>(src + (c << 2)) : 0);
          }
          src += ldbBytes;
          dst += 32;
        }
      }
    } else {
      // Columns of op(B) are contiguous rows of B: transpose 4×4 blocks.
      const col0 = b + ((<usize>j * ldb + p0) << 2);
      if (cols == NR) {
        const col1 = col0 + ldbBytes, col2 = col1 + ldbBytes, col3 = col2 + ldbBytes;
        const col4 = col3 + ldbBytes, col5 = col4 + ldbBytes, col6 = col5 + ldbBytes, col7 = col6 + ldbBytes;
        let p = 0;
        for (; p + 3 < kc; p += 4) {
          const off = <usize>p << 2;
          transposeStore4x4(v128.load(col0 + off), v128.load(col1 + off), v128.load(col2 + off), v128.load(col3 + off), dst, 32);
          transposeStore4x4(v128.load(col4 + off), v128.load(col5 + off), v128.load(col6 + off), v128.load(col7 + off), dst + 16, 32);
          dst += 128;
        }
        for (; p < kc; p++) {
          const off = <usize>p << 2;
          for (let c = 0; c < NR; c++) {
            store<f32>(dst + (c << 2), load<f32>(col0 + <usize>c * ldbBytes + off));
          }
          dst += 32;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          const off = <usize>p << 2;
          for (let c = 0; c < NR; c++) {
            store<f32>(dst + (c << 2), c < cols ? load<f32>(col0 + <usize>c * ldbBytes + off) : 0);
          }
          dst += 32;
        }
      }
    }
  }
}

/** Sets C (m×n, row stride ldc) to zero: the k = 0 product. */
function zeroMatrix(c: usize, ldc: i32, m: i32, n: i32): void {
  for (let i = 0; i < m; i++) {
    memory.fill(c + ((<usize>i * ldc) << 2), 0, <usize>n << 2);
  }
}

/**
 * One product C (=|+=) op(A)·op(B) on a sub-matrix: the three BLIS loops
 * around the micro-kernel. Partial edge tiles are computed into `tile` and
 * then copied/added into C so the micro-kernel never needs bounds checks.
 */
function gemmBlocked(
  m: i32, n: i32, k: i32,
  a: usize, lda: i32, transA: bool,
  b: usize, ldb: i32, transB: bool,
  c: usize, ldc: i32, accumulate: bool,
  packedA: usize, packedB: usize, tile: usize,
  kcMax: i32, mcMax: i32, ncMax: i32,
): void {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) zeroMatrix(c, ldc, m, n);
    return;
  }
  const ldcBytes = <usize>ldc << 2;
  for (let jc = 0; jc < n; jc += ncMax) {
    const nc = min(ncMax, n - jc);
    for (let pc = 0; pc < k; pc += kcMax) {
      const kc = min(kcMax, k - pc);
      const beta = accumulate || pc > 0;
      packB(b, ldb, transB, pc, kc, jc, nc, packedB);
      for (let ic = 0; ic < m; ic += mcMax) {
        const mc = min(mcMax, m - ic);
        packA(a, lda, transA, ic, mc, pc, kc, packedA);
        for (let jr = 0; jr < nc; jr += NR) {
          const cols = min(NR, nc - jr);
          const pb = packedB + ((<usize>jr * kc) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const rows = min(MR, mc - ir);
            const pa = packedA + ((<usize>ir * kc) << 2);
            const cTile = c + ((<usize>(ic + ir) * ldc + jc + jr) << 2);
            if (rows == MR && cols == NR) {
              microKernel(kc, pa, pb, cTile, ldcBytes, beta);
            } else {
              microKernel(kc, pa, pb, tile, <usize>NR << 2, false);
              for (let r = 0; r < rows; r++) {
                const dstRow = cTile + <usize>r * ldcBytes;
                const srcRow = tile + (<usize>(r * NR) << 2);
                for (let q = 0; q < cols; q++) {
                  const off = <usize>q << 2;
                  const v = load<f32>(srcRow + off);
                  store<f32>(dstRow + off, beta ? load<f32>(dstRow + off) + v : v);
                }
              }
            }
          }
        }
      }
    }
  }
}

/** Start of chunk `index` of `chunks` over `total` items, in whole units of `unit` items. */
@inline function chunkStart(total: i32, unit: i32, index: i32, chunks: i32): i32 {
  const units = (total + unit - 1) / unit;
  return min(total, <i32>((<i64>units * index) / chunks) * unit);
}

/**
 * Computes chunk `chunk` of `chunks` of the GEMM task at `desc` on thread
 * `t`'s scratch. The split dimension (batch items, column blocks or row
 * blocks) is cut into chunks; chunks never overlap in C.
 */
function gemmChunk(desc: usize, t: i32, chunk: i32, chunks: i32): void {
  const m = load<i32>(desc, DESC_M);
  const n = load<i32>(desc, DESC_N);
  const k = load<i32>(desc, DESC_K);
  const a = <usize>load<u32>(desc, DESC_A);
  const b = <usize>load<u32>(desc, DESC_B);
  const c = <usize>load<u32>(desc, DESC_C);
  const transA = load<i32>(desc, DESC_TRANS_A) != 0;
  const transB = load<i32>(desc, DESC_TRANS_B) != 0;
  const accumulate = load<i32>(desc, DESC_ACCUMULATE) != 0;
  const batch = load<i32>(desc, DESC_BATCH);
  const strideA = <usize>load<u32>(desc, DESC_STRIDE_A) << 2;
  const strideB = <usize>load<u32>(desc, DESC_STRIDE_B) << 2;
  const strideC = <usize>load<u32>(desc, DESC_STRIDE_C) << 2;
  const split = load<i32>(desc, DESC_SPLIT);
  const kc = load<i32>(desc, DESC_KC);
  const mc = load<i32>(desc, DESC_MC);
  const nc = load<i32>(desc, DESC_NC);
  const scratch = <usize>load<u32>(desc + DESC_SCRATCH + (<usize>t << 2));
  const packedA = scratch;
  const packedB = packedA + ((<usize>roundUp(mc, MR) * kc) << 2);
  const tile = packedB + ((<usize>roundUp(nc, NR) * kc) << 2);

  const lda = transA ? m : k;
  const ldb = transB ? k : n;
  const ldc = n;

  let b0 = 0, b1 = batch;
  let i0 = 0, i1 = m;
  let j0 = 0, j1 = n;
  if (split == SPLIT_BATCH) {
    b0 = chunkStart(batch, 1, chunk, chunks);
    b1 = chunkStart(batch, 1, chunk + 1, chunks);
  } else if (split == SPLIT_N) {
    j0 = chunkStart(n, NR, chunk, chunks);
    j1 = chunkStart(n, NR, chunk + 1, chunks);
  } else if (split == SPLIT_M) {
    i0 = chunkStart(m, MR, chunk, chunks);
    i1 = chunkStart(m, MR, chunk + 1, chunks);
  }
  if (b0 >= b1 || i0 >= i1 || j0 >= j1) return;

  // Offsets of the chunk's first row/column inside each operand.
  const aOff: usize = transA ? <usize>i0 << 2 : (<usize>i0 * lda) << 2;
  const bOff: usize = transB ? (<usize>j0 * ldb) << 2 : <usize>j0 << 2;
  const cOff: usize = ((<usize>i0 * ldc) + j0) << 2;
  for (let p = b0; p < b1; p++) {
    gemmBlocked(
      i1 - i0, j1 - j0, k,
      a + <usize>p * strideA + aOff, lda, transA,
      b + <usize>p * strideB + bOff, ldb, transB,
      c + <usize>p * strideC + cOff, ldc, accumulate,
      packedA, packedB, tile, kc, mc, nc,
    );
  }
}

/** Bytes of scratch one thread needs for the given blocking (packed A, packed B, one C tile). */
export function scratchBytes(kc: i32, mc: i32, nc: i32): i32 {
  return (roundUp(mc, MR) * kc + roundUp(nc, NR) * kc + MR * NR) << 2;
}


// ---------------------------------------------------------------------------
// NHWC im2col / col2im for convolutions lowered to GEMM.
//
// The column matrix has one row per output pixel (batch, outRow, outCol) and
// one column per filter tap in HWIO filter order (filterRow, filterCol,
// inChannel), so an HWIO filter is directly the K×N right-hand GEMM operand.
// The geometry is 14 i32 words:
//   batch, inH, inW, inC, outH, outW, filterH, filterW,
//   strideH, strideW, dilationH, dilationW, padTop, padLeft

/** Copies `bytes` (a multiple of 4) from src to dst; short runs avoid the call overhead of memory.copy. */
@inline function copyFloats(dst: usize, src: usize, bytes: usize): void {
  if (bytes >= 256) {
    memory.copy(dst, src, bytes);
    return;
  }
  let i: usize = 0;
  for (; i + 16 <= bytes; i += 16) v128.store(dst + i, v128.load(src + i));
  for (; i < bytes; i += 4) store<f32>(dst + i, load<f32>(src + i));
}

/** dst[i] += src[i] over `bytes` (a multiple of 4). */
@inline function addFloats(dst: usize, src: usize, bytes: usize): void {
  let i: usize = 0;
  for (; i + 16 <= bytes; i += 16) v128.store(dst + i, f32x4.add(v128.load(dst + i), v128.load(src + i)));
  for (; i < bytes; i += 4) store<f32>(dst + i, load<f32>(dst + i) + load<f32>(src + i));
}

/** First filter tap whose input coordinate `start + tap*dilation` is ≥ 0. */
@inline function firstValidTap(start: i32, dilation: i32, taps: i32): i32 {
  if (start >= 0) return 0;
  return min(taps, (-start + dilation - 1) / dilation);
}

/** One past the last filter tap whose input coordinate is < size. */
@inline function endValidTap(start: i32, dilation: i32, taps: i32, size: i32): i32 {
  if (start >= size) return 0;
  return min(taps, (size - 1 - start) / dilation + 1);
}

/** The conv geometry words, read once per call. */
@unmanaged class Geometry {
  batch: i32; inH: i32; inW: i32; channels: i32; outH: i32; outW: i32; filterH: i32; filterW: i32;
  strideH: i32; strideW: i32; dilationH: i32; dilationW: i32; padTop: i32; padLeft: i32;
}

/**
 * Writes rows [(b, oy) = rowStart, rowEnd) of the column matrix of the NHWC
 * image at `x` into `col` (padding taps are zero). Row pair index = b·outH + oy.
 */
function im2colRows(x: usize, col: usize, g: Geometry, rowStart: i32, rowEnd: i32): void {
  const pixelBytes = <usize>g.channels << 2;
  const tapRowBytes = <usize>g.filterW * pixelBytes;
  const imageRowBytes = <usize>g.inW * pixelBytes;
  const filterW = g.filterW, dilationW = g.dilationW, inW = g.inW, inH = g.inH;
  let dst = col + <usize>rowStart * <usize>g.outW * <usize>g.filterH * tapRowBytes;
  for (let pair = rowStart; pair < rowEnd; pair++) {
    const b = pair / g.outH;
    const oy = pair - b * g.outH;
    const image = x + <usize>b * <usize>inH * imageRowBytes;
    const iy0 = oy * g.strideH - g.padTop;
    for (let ox = 0; ox < g.outW; ox++) {
      const ix0 = ox * g.strideW - g.padLeft;
      const fx0 = firstValidTap(ix0, dilationW, filterW);
      const fx1 = max(fx0, endValidTap(ix0, dilationW, filterW, inW));
      for (let fy = 0; fy < g.filterH; fy++) {
        const iy = iy0 + fy * g.dilationH;
        if (iy < 0 || iy >= inH || fx0 >= fx1) {
          memory.fill(dst, 0, tapRowBytes);
          dst += tapRowBytes;
          continue;
        }
        if (fx0 > 0) memory.fill(dst, 0, <usize>fx0 * pixelBytes);
        const srcRow = image + <usize>iy * imageRowBytes;
        if (dilationW == 1) {
          copyFloats(dst + <usize>fx0 * pixelBytes, srcRow + <usize>(ix0 + fx0) * pixelBytes, <usize>(fx1 - fx0) * pixelBytes);
        } else {
          for (let fx = fx0; fx < fx1; fx++) {
            copyFloats(dst + <usize>fx * pixelBytes, srcRow + <usize>(ix0 + fx * dilationW) * pixelBytes, pixelBytes);
          }
        }
        if (fx1 < filterW) memory.fill(dst + <usize>fx1 * pixelBytes, 0, <usize>(filterW - fx1) * pixelBytes);
        dst += tapRowBytes;
      }
    }
  }
}

/**
 * The adjoint of im2col for images [imageStart, imageEnd) of `dx`: zeroes
 * them, then scatter-adds every column row onto the pixels it was read from.
 * Scattering in column-row order streams `col` sequentially, which measured
 * about 2× faster than gathering per destination row; threads therefore split
 * the work by whole images, whose dx regions are disjoint.
 */
function col2imImages(col: usize, dx: usize, g: Geometry, imageStart: i32, imageEnd: i32): void {
  const pixelBytes = <usize>g.channels << 2;
  const tapRowBytes = <usize>g.filterW * pixelBytes;
  const imageRowBytes = <usize>g.inW * pixelBytes;
  const imageBytes = <usize>g.inH * imageRowBytes;
  const filterW = g.filterW, dilationW = g.dilationW, inW = g.inW, inH = g.inH;
  memory.fill(dx + <usize>imageStart * imageBytes, 0, <usize>(imageEnd - imageStart) * imageBytes);
  let src = col + <usize>imageStart * <usize>g.outH * <usize>g.outW * <usize>g.filterH * tapRowBytes;
  for (let b = imageStart; b < imageEnd; b++) {
    const image = dx + <usize>b * imageBytes;
    for (let oy = 0; oy < g.outH; oy++) {
      const iy0 = oy * g.strideH - g.padTop;
      for (let ox = 0; ox < g.outW; ox++) {
        const ix0 = ox * g.strideW - g.padLeft;
        const fx0 = firstValidTap(ix0, dilationW, filterW);
        const fx1 = max(fx0, endValidTap(ix0, dilationW, filterW, inW));
        for (let fy = 0; fy < g.filterH; fy++) {
          const iy = iy0 + fy * g.dilationH;
          if (iy >= 0 && iy < inH && fx0 < fx1) {
            const dstRow = image + <usize>iy * imageRowBytes;
            if (dilationW == 1) {
              addFloats(dstRow + <usize>(ix0 + fx0) * pixelBytes, src + <usize>fx0 * pixelBytes, <usize>(fx1 - fx0) * pixelBytes);
            } else {
              for (let fx = fx0; fx < fx1; fx++) {
                addFloats(dstRow + <usize>(ix0 + fx * dilationW) * pixelBytes, src + <usize>fx * pixelBytes, pixelBytes);
              }
            }
          }
          src += tapRowBytes;
        }
      }
    }
  }
}

/**
 * Chunk `chunk` of `chunks` of an im2col (`kind` 1) or col2im (`kind` 2)
 * task: a range of (batch, output row) pairs for im2col, of whole images for
 * col2im, so every chunk writes a disjoint part of the destination.
 * Descriptor words used: A = source, B = destination, C = geometry pointer.
 */
function convChunk(desc: usize, kind: i32, chunk: i32, chunks: i32): void {
  const source = <usize>load<u32>(desc, DESC_A);
  const destination = <usize>load<u32>(desc, DESC_B);
  const g = changetype<Geometry>(<usize>load<u32>(desc, DESC_C));
  const rows = kind == TASK_IM2COL ? g.batch * g.outH : g.batch;
  const start = chunkStart(rows, 1, chunk, chunks);
  const end = chunkStart(rows, 1, chunk + 1, chunks);
  if (kind == TASK_IM2COL) im2colRows(source, destination, g, start, end);
  else col2imImages(source, destination, g, start, end);
}

/**
 * Chunk `chunk` of `chunks` of an element-wise or reduction task. Descriptor
 * words: A, B = operands, C = output; M = elements (rows for column sums,
 * row sums and argmin); N = period of the repeating operand (columns for
 * column sums, row sums and argmin); K = elements of the output each element of the repeating operand
 * stands for (1: it repeats cyclically); TRANS_A = operation; TRANS_B = 1
 * when A is the repeating operand; ACCUMULATE = the f32 parameter (step's
 * alpha, the divisor of row means). Element-wise chunks cover 16-float (cache-line) multiples.
 */
function vectorChunk(desc: usize, kind: i32, chunk: i32, chunks: i32): void {
  const a = <usize>load<u32>(desc, DESC_A);
  const b = <usize>load<u32>(desc, DESC_B);
  const out = <usize>load<u32>(desc, DESC_C);
  const m = load<i32>(desc, DESC_M);
  const n = load<i32>(desc, DESC_N);
  const op = load<i32>(desc, DESC_TRANS_A);
  if (kind == TASK_COLUMN_SUMS) {
    columnSumsRange(a, out, m, n, chunkStart(n, 16, chunk, chunks), chunkStart(n, 16, chunk + 1, chunks));
    return;
  }
  if (kind == TASK_ARGMIN_ROWS) {
    argMinRowsRange(a, out, n, chunkStart(m, 1, chunk, chunks), chunkStart(m, 1, chunk + 1, chunks));
    return;
  }
  if (kind == TASK_ROW_SUMS) {
    rowSumsRange(a, out, n, load<f32>(desc, DESC_ACCUMULATE), chunkStart(m, 1, chunk, chunks), chunkStart(m, 1, chunk + 1, chunks));
    return;
  }
  const start = chunkStart(m, 16, chunk, chunks);
  const end = chunkStart(m, 16, chunk + 1, chunks);
  if (start >= end) return;
  if (kind == TASK_BINARY) binaryRange(op, a, b, out, m, n, load<i32>(desc, DESC_K), load<i32>(desc, DESC_TRANS_B) != 0, start, end);
  else unaryRange(op, a, out, load<f32>(desc, DESC_ACCUMULATE), start, end);
}

/**
 * Chunk `chunk` of `chunks` of a Winograd transform on thread `t`'s scratch.
 * Descriptor words: A = source, B = destination, STRIDE_A = floats between
 * consecutive transform points; tile transforms: C = geometry pointer
 * (chunks cover tiles); filter transforms: M = input
 * channels, N = output channels, K = filter size (3 or 2), TRANS_A = 1 to
 * rotate the filter by 180° (chunks cover input channels); space-to-depth
 * (and back): C = geometry pointer, chunks cover destination rows; the
 * input transform's adjoint: C = geometry pointer, chunks cover images.
 */
function winogradChunk(desc: usize, kind: i32, t: i32, chunk: i32, chunks: i32): void {
  const source = <usize>load<u32>(desc, DESC_A);
  const destination = <usize>load<u32>(desc, DESC_B);
  const scratch = <usize>load<u32>(desc + DESC_SCRATCH + (<usize>t << 2));
  if (kind == TASK_WINOGRAD_FILTER || kind == TASK_WINOGRAD_FILTER_ADJOINT) {
    const inC = load<i32>(desc, DESC_M);
    const outC = load<i32>(desc, DESC_N);
    const c0 = chunkStart(inC, 1, chunk, chunks);
    const c1 = chunkStart(inC, 1, chunk + 1, chunks);
    const r = load<i32>(desc, DESC_K);
    const plane = load<i32>(desc, DESC_STRIDE_A);
    if (kind == TASK_WINOGRAD_FILTER) winogradFilterRange(source, destination, inC, outC, r, load<i32>(desc, DESC_TRANS_A) != 0, plane, scratch, c0, c1);
    else winogradFilterAdjointRange(source, destination, inC, outC, r, plane, scratch, c0, c1);
    return;
  }
  const geometry = <usize>load<u32>(desc, DESC_C);
  if (kind == TASK_SPACE_TO_DEPTH || kind == TASK_DEPTH_TO_SPACE) {
    // Geometry words 0..5: batch, inH, inW, channels, outH, outW.
    const rows = load<i32>(geometry) * (kind == TASK_SPACE_TO_DEPTH ? load<i32>(geometry, 16) : load<i32>(geometry, 4));
    const r0 = chunkStart(rows, 1, chunk, chunks);
    const r1 = chunkStart(rows, 1, chunk + 1, chunks);
    if (kind == TASK_SPACE_TO_DEPTH) spaceToDepthRange(source, destination, geometry, r0, r1);
    else depthToSpaceRange(source, destination, geometry, r0, r1);
    return;
  }
  if (kind == TASK_WINOGRAD_INPUT_ADJOINT) {
    // Chunks cover whole images (their patches overlap only within an image).
    const images = load<i32>(geometry);
    winogradInputAdjointRange(source, destination, geometry, load<i32>(desc, DESC_STRIDE_A), scratch, chunkStart(images, 1, chunk, chunks), chunkStart(images, 1, chunk + 1, chunks));
    return;
  }
  const tiles = winogradTiles(geometry);
  const t0 = chunkStart(tiles, 1, chunk, chunks);
  const t1 = chunkStart(tiles, 1, chunk + 1, chunks);
  const plane = load<i32>(desc, DESC_STRIDE_A);
  if (kind == TASK_WINOGRAD_INPUT) winogradInputRange(source, destination, geometry, plane, scratch, t0, t1);
  else if (kind == TASK_WINOGRAD_OUTPUT) winogradOutputRange(source, destination, geometry, plane, scratch, t0, t1);
  else winogradOutputAdjointRange(source, destination, geometry, plane, scratch, t0, t1);
}

/**
 * Entry point of every thread (the host's main thread included, each with
 * its own index `t`): claims chunks of the current task until none is left.
 *
 * Claiming decrements DESC_REMAINING; a result ≤ 0 means nothing is left.
 * The descriptor is read only AFTER a successful claim: the host rewrites it
 * only once every chunk of the previous task is done, so a thread that wakes
 * late can never see a half-written descriptor — at worst it helps with the
 * next task. Each finished chunk increments DESC_DONE; the host waits for
 * DONE = chunks, so it never waits on a thread that claimed nothing (e.g. one
 * that another process kept off the CPU).
 */
export function runTask(desc: usize, t: i32): void {
  for (;;) {
    const remaining = atomic.sub<i32>(desc + DESC_REMAINING, 1);
    if (remaining <= 0) return;
    const chunks = load<i32>(desc, DESC_CHUNKS);
    const chunk = chunks - remaining;
    const kind = load<i32>(desc, DESC_KIND);
    if (kind == TASK_GEMM) gemmChunk(desc, t, chunk, chunks);
    else if (kind == TASK_IM2COL || kind == TASK_COL2IM) convChunk(desc, kind, chunk, chunks);
    else if (kind >= TASK_WINOGRAD_INPUT && kind <= TASK_WINOGRAD_INPUT_ADJOINT) winogradChunk(desc, kind, t, chunk, chunks);
    else vectorChunk(desc, kind, chunk, chunks);
    if (atomic.add<i32>(desc + DESC_DONE, 1) + 1 == chunks) atomic.notify(desc + DESC_DONE);
  }
}
