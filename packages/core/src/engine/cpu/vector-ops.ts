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
   * or fewer and then each of its elements stands for `inner` consecutive
   * output elements (default 1) and it repeats cyclically (scalar,
   * trailing-axes operand, column vector against a matrix).
   */
  binary(op: BinaryOp, a: Float32Array, b: Float32Array, out: Float32Array, inner?: number): void;
  /** out[r] = Σ_j x[r·cols + j], or with a nonzero `divisor` Σ_j f32(x[r·cols + j] / divisor) (double-precision accumulation). */
  rowSums(x: Float32Array, rows: number, cols: number, out: Float32Array, divisor?: number): void;
  /** out[r] = first index of the minimum of row r of the rows × cols `x` (NaN never wins unless it starts the row). */
  argMinRows(x: Float32Array, rows: number, cols: number, out: Int32Array): void;
  /** out = f(x); `alpha` is step's value for x ≤ 0. */
  unary(op: UnaryOp, x: Float32Array, out: Float32Array, alpha?: number): void;
  /** out[j] = Σ_i x[i·cols + j] (double-precision accumulation). */
  columnSums(x: Float32Array, rows: number, cols: number, out: Float32Array): void;
}

/** out = a op b where the repeated operand's elements each stand for `inner` consecutive outputs. */
function jsBinaryRuns(op: BinaryOp, a: Float32Array, b: Float32Array, out: Float32Array, inner: number): void {
  const repeatedIsA = a.length !== out.length;
  const small = repeatedIsA ? a : b;
  const period = small.length;
  for (let base = 0, run = 0; base < out.length; base += inner, run++) {
    const v = small[run % period]!;
    const end = base + inner;
    if (repeatedIsA) {
      switch (op) {
        case 'add': for (let i = base; i < end; i++) out[i] = v + b[i]!; break;
        case 'sub': for (let i = base; i < end; i++) out[i] = v - b[i]!; break;
        case 'mul': for (let i = base; i < end; i++) out[i] = v * b[i]!; break;
        case 'div': for (let i = base; i < end; i++) out[i] = v / b[i]!; break;
        case 'sqdiff': for (let i = base; i < end; i++) { const d = v - b[i]!; out[i] = d * d; } break;
      }
    } else {
      switch (op) {
        case 'add': for (let i = base; i < end; i++) out[i] = a[i]! + v; break;
        case 'sub': for (let i = base; i < end; i++) out[i] = a[i]! - v; break;
        case 'mul': for (let i = base; i < end; i++) out[i] = a[i]! * v; break;
        case 'div': for (let i = base; i < end; i++) out[i] = a[i]! / v; break;
        case 'sqdiff': for (let i = base; i < end; i++) { const d = a[i]! - v; out[i] = d * d; } break;
      }
    }
  }
}

function jsBinary(op: BinaryOp, a: Float32Array, b: Float32Array, out: Float32Array, inner = 1): void {
  const n = out.length;
  const an = a.length;
  const bn = b.length;
  if (inner > 1 && (an !== n || bn !== n)) {
    jsBinaryRuns(op, a, b, out, inner);
    return;
  }
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

function jsRowSums(x: Float32Array, rows: number, cols: number, out: Float32Array, divisor = 0): void {
  for (let r = 0, base = 0; r < rows; r++, base += cols) {
    let total = 0;
    if (divisor) for (let j = 0; j < cols; j++) total += Math.fround(x[base + j]! / divisor);
    else for (let j = 0; j < cols; j++) total += x[base + j]!;
    out[r] = total;
  }
}

function jsArgMinRows(x: Float32Array, rows: number, cols: number, out: Int32Array): void {
  for (let r = 0, base = 0; r < rows; r++, base += cols) {
    let best = x[base]!;
    let index = 0;
    for (let j = 1; j < cols; j++) {
      const v = x[base + j]!;
      if (v < best) {
        best = v;
        index = j;
      }
    }
    out[r] = index;
  }
}

/** The JavaScript implementations. */
export const jsVectorOps: VectorOps = { binary: jsBinary, unary: jsUnary, columnSums: jsColumnSums, rowSums: jsRowSums, argMinRows: jsArgMinRows };

/** Arrays shorter than this stay in JavaScript (a call into the engine costs about a microsecond). */
const SMALL_ELEMENTS = 256;

/** The engine's own loops when it has them (duck-typed), with small arrays kept in JavaScript. */
export function vectorOpsOf(engine: GemmEngine): VectorOps {
  const candidate = engine as GemmEngine & Partial<VectorOps>;
  if (typeof candidate.binary !== 'function' || typeof candidate.unary !== 'function' || typeof candidate.columnSums !== 'function' || typeof candidate.argMinRows !== 'function' || typeof candidate.rowSums !== 'function') {
    return jsVectorOps;
  }
  const fast = candidate as GemmEngine & VectorOps;
  return {
    binary: (op, a, b, out, inner = 1) => (out.length < SMALL_ELEMENTS ? jsBinary(op, a, b, out, inner) : fast.binary(op, a, b, out, inner)),
    rowSums: (x, rows, cols, out, divisor) => (rows * cols < SMALL_ELEMENTS ? jsRowSums(x, rows, cols, out, divisor) : fast.rowSums(x, rows, cols, out, divisor)),
    argMinRows: (x, rows, cols, out) => (rows * cols < SMALL_ELEMENTS ? jsArgMinRows(x, rows, cols, out) : fast.argMinRows(x, rows, cols, out)),
    unary: (op, x, out, alpha) => (out.length < SMALL_ELEMENTS ? jsUnary(op, x, out, alpha) : fast.unary(op, x, out, alpha)),
    columnSums: (x, rows, cols, out) => (rows * cols < SMALL_ELEMENTS ? jsColumnSums(x, rows, cols, out) : fast.columnSums(x, rows, cols, out)),
  };
}
