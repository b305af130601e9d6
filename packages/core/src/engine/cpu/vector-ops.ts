/**
 * The element-wise and reduction loops behind the Add/Sub/Multiply/RealDiv/
 * SquaredDifference, Relu/Step/Square/Sqrt and Sum kernels and the fused
 * epilogues: the WebAssembly engine's SIMD, multi-threaded ones when it has
 * them, else plain JavaScript loops (also used for small arrays, where
 * calling into the engine costs more than the loop).
 */
import type { GemmEngine } from '../gemm.js';

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'sqdiff';
export type UnaryOp = 'relu' | 'step' | 'square' | 'sqrt';

/** Same contract as the WebAssembly engine's `binary`/`unary`/`columnSums`. */
export interface VectorOps {
  /**
   * out = a op b. One operand has `out.length` elements; the other as many,
   * or a divisor of that many and then repeats (scalar, trailing-axes operand).
   */
  binary(op: BinaryOp, a: Float32Array, b: Float32Array, out: Float32Array): void;
  /** out = f(x); `alpha` is step's value for x ≤ 0. */
  unary(op: UnaryOp, x: Float32Array, out: Float32Array, alpha?: number): void;
  /** out[j] = Σ_i x[i·cols + j] (double-precision accumulation). */
  columnSums(x: Float32Array, rows: number, cols: number, out: Float32Array): void;
}

function jsBinary(op: BinaryOp, a: Float32Array, b: Float32Array, out: Float32Array): void {
  const n = out.length;
  const an = a.length;
  const bn = b.length;
  if (an === n && bn === n) {
    switch (op) {
      case 'add': for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!; return;
      case 'sub': for (let i = 0; i < n; i++) out[i] = a[i]! - b[i]!; return;
      case 'mul': for (let i = 0; i < n; i++) out[i] = a[i]! * b[i]!; return;
      case 'div': for (let i = 0; i < n; i++) out[i] = a[i]! / b[i]!; return;
      case 'sqdiff': for (let i = 0; i < n; i++) { const d = a[i]! - b[i]!; out[i] = d * d; } return;
    }
  }
  if (an === n && bn === 1) {
    const v = b[0]!;
    switch (op) {
      case 'add': for (let i = 0; i < n; i++) out[i] = a[i]! + v; return;
      case 'sub': for (let i = 0; i < n; i++) out[i] = a[i]! - v; return;
      case 'mul': for (let i = 0; i < n; i++) out[i] = a[i]! * v; return;
      case 'div': for (let i = 0; i < n; i++) out[i] = a[i]! / v; return;
      case 'sqdiff': for (let i = 0; i < n; i++) { const d = a[i]! - v; out[i] = d * d; } return;
    }
  }
  if (bn === n && an === 1) {
    const v = a[0]!;
    switch (op) {
      case 'add': for (let i = 0; i < n; i++) out[i] = v + b[i]!; return;
      case 'sub': for (let i = 0; i < n; i++) out[i] = v - b[i]!; return;
      case 'mul': for (let i = 0; i < n; i++) out[i] = v * b[i]!; return;
      case 'div': for (let i = 0; i < n; i++) out[i] = v / b[i]!; return;
      case 'sqdiff': for (let i = 0; i < n; i++) { const d = v - b[i]!; out[i] = d * d; } return;
    }
  }
  if (an === n) {
    // b repeats along the trailing axes.
    for (let base = 0; base < n; base += bn) {
      switch (op) {
        case 'add': for (let j = 0; j < bn; j++) out[base + j] = a[base + j]! + b[j]!; break;
        case 'sub': for (let j = 0; j < bn; j++) out[base + j] = a[base + j]! - b[j]!; break;
        case 'mul': for (let j = 0; j < bn; j++) out[base + j] = a[base + j]! * b[j]!; break;
        case 'div': for (let j = 0; j < bn; j++) out[base + j] = a[base + j]! / b[j]!; break;
        case 'sqdiff': for (let j = 0; j < bn; j++) { const d = a[base + j]! - b[j]!; out[base + j] = d * d; } break;
      }
    }
    return;
  }
  for (let base = 0; base < n; base += an) {
    switch (op) {
      case 'add': for (let j = 0; j < an; j++) out[base + j] = a[j]! + b[base + j]!; break;
      case 'sub': for (let j = 0; j < an; j++) out[base + j] = a[j]! - b[base + j]!; break;
      case 'mul': for (let j = 0; j < an; j++) out[base + j] = a[j]! * b[base + j]!; break;
      case 'div': for (let j = 0; j < an; j++) out[base + j] = a[j]! / b[base + j]!; break;
      case 'sqdiff': for (let j = 0; j < an; j++) { const d = a[j]! - b[base + j]!; out[base + j] = d * d; } break;
    }
  }
}

function jsUnary(op: UnaryOp, xs: Float32Array, out: Float32Array, alpha = 0): void {
  const n = out.length;
  switch (op) {
    case 'relu':
      for (let i = 0; i < n; i++) out[i] = Math.max(0, xs[i]!);
      return;
    case 'step':
      for (let i = 0; i < n; i++) {
        const v = xs[i]!;
        out[i] = v > 0 ? 1 : v !== v ? NaN : alpha;
      }
      return;
    case 'square':
      for (let i = 0; i < n; i++) out[i] = xs[i]! * xs[i]!;
      return;
    case 'sqrt':
      for (let i = 0; i < n; i++) out[i] = Math.sqrt(xs[i]!);
      return;
  }
}

function jsColumnSums(x: Float32Array, rows: number, cols: number, out: Float32Array): void {
  const totals = new Float64Array(cols);
  for (let base = 0, r = 0; r < rows; r++, base += cols) {
    for (let j = 0; j < cols; j++) totals[j] += x[base + j]!;
  }
  out.set(totals);
}

/** The JavaScript implementations. */
export const jsVectorOps: VectorOps = { binary: jsBinary, unary: jsUnary, columnSums: jsColumnSums };

/** Arrays shorter than this stay in JavaScript (a call into the engine costs about a microsecond). */
const SMALL_ELEMENTS = 256;

/** The engine's own loops when it has them (duck-typed), with small arrays kept in JavaScript. */
export function vectorOpsOf(engine: GemmEngine): VectorOps {
  const candidate = engine as GemmEngine & Partial<VectorOps>;
  if (typeof candidate.binary !== 'function' || typeof candidate.unary !== 'function' || typeof candidate.columnSums !== 'function') return jsVectorOps;
  const fast = candidate as GemmEngine & VectorOps;
  return {
    binary: (op, a, b, out) => (out.length < SMALL_ELEMENTS ? jsBinary(op, a, b, out) : fast.binary(op, a, b, out)),
    unary: (op, x, out, alpha) => (out.length < SMALL_ELEMENTS ? jsUnary(op, x, out, alpha) : fast.unary(op, x, out, alpha)),
    columnSums: (x, rows, cols, out) => (rows * cols < SMALL_ELEMENTS ? jsColumnSums(x, rows, cols, out) : fast.columnSums(x, rows, cols, out)),
  };
}
