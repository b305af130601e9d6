/**
 * The single-precision GEMM contract shared by every kernel of the fast CPU
 * backend. Implementations: `referenceGemm` (plain JS, used for parity tests
 * and as last-resort fallback) and the WebAssembly SIMD engine in `./wasm`.
 *
 * Layout: all matrices are row-major and dense.
 *   op(A) is m×k: A is stored m×k, or k×m when `transA`.
 *   op(B) is k×n: B is stored k×n, or n×k when `transB`.
 *   C is m×n: C = op(A)·op(B), or C += op(A)·op(B) when `accumulate`.
 * `batch` > 1 repeats the product with element strides `strideA/B/C`
 * (a stride of 0 broadcasts that operand across the batch).
 */
export interface GemmCall {
  m: number;
  n: number;
  k: number;
  a: Float32Array;
  b: Float32Array;
  c: Float32Array;
  transA?: boolean;
  transB?: boolean;
  accumulate?: boolean;
  /** Element offsets of the first matrix in each array (default 0). */
  offsetA?: number;
  offsetB?: number;
  offsetC?: number;
  batch?: number;
  strideA?: number;
  strideB?: number;
  strideC?: number;
}

export interface GemmEngine {
  /** Human-readable identity, e.g. `wasm-simd-relaxed x2 threads`. */
  readonly name: string;
  readonly threads: number;
  /** Synchronous: returns when C is written. */
  sgemm(call: GemmCall): void;
  /** Releases worker threads; the engine must not be used afterwards. */
  dispose(): void;
}

/** Straightforward triple loop (i-k-j order so the inner loop is contiguous when B is not transposed). */
export function referenceSgemm(call: GemmCall): void {
  const { m, n, k, a, b, c } = call;
  const batch = call.batch ?? 1;
  const transA = call.transA ?? false;
  const transB = call.transB ?? false;
  for (let p = 0; p < batch; p++) {
    const oa = (call.offsetA ?? 0) + p * (call.strideA ?? m * k);
    const ob = (call.offsetB ?? 0) + p * (call.strideB ?? k * n);
    const oc = (call.offsetC ?? 0) + p * (call.strideC ?? m * n);
    if (!call.accumulate) c.fill(0, oc, oc + m * n);
    for (let i = 0; i < m; i++) {
      for (let q = 0; q < k; q++) {
        const av = transA ? a[oa + q * m + i] : a[oa + i * k + q];
        if (av === 0) continue;
        const crow = oc + i * n;
        if (transB) {
          for (let j = 0; j < n; j++) c[crow + j] += av * b[ob + j * k + q];
        } else {
          const brow = ob + q * n;
          for (let j = 0; j < n; j++) c[crow + j] += av * b[brow + j];
        }
      }
    }
  }
}

export const referenceGemm: GemmEngine = {
  name: 'js-reference',
  threads: 1,
  sgemm: referenceSgemm,
  dispose() {},
};
