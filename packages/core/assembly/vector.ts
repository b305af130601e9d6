// Element-wise and reduction kernels on the engine's shared memory.
//
// A training step spends as long in element-wise ops (bias adds, ReLU and
// its gradient, Adam's updates) as in its GEMMs once those are fast: the
// tensors are large (up to 64·14·14·64 floats) and JavaScript loops over
// typed arrays on a shared WebAssembly memory run at several ns per element.
// These SIMD loops are memory-bound instead. Like the GEMM, they run as tasks
// that threads split into disjoint chunks (see runTask in gemm.ts).

export const OP_ADD: i32 = 0;
export const OP_SUB: i32 = 1;
export const OP_MUL: i32 = 2;
export const OP_DIV: i32 = 3;
export const OP_SQDIFF: i32 = 4;

export const UOP_RELU: i32 = 0;
export const UOP_STEP: i32 = 1;
export const UOP_SQUARE: i32 = 2;
export const UOP_SQRT: i32 = 3;

@inline function binaryV(op: i32, x: v128, y: v128): v128 {
  if (op == OP_ADD) return f32x4.add(x, y);
  if (op == OP_SUB) return f32x4.sub(x, y);
  if (op == OP_MUL) return f32x4.mul(x, y);
  if (op == OP_DIV) return f32x4.div(x, y);
  const d = f32x4.sub(x, y);
  return f32x4.mul(d, d);
}

@inline function binaryS(op: i32, x: f32, y: f32): f32 {
  if (op == OP_ADD) return x + y;
  if (op == OP_SUB) return x - y;
  if (op == OP_MUL) return x * y;
  if (op == OP_DIV) return x / y;
  const d = x - y;
  return d * d;
}

/** out[i] = a[i] op b[i] for i < len (byte pointers). `op` is a constant at every call site, so each loop holds one operation. */
@inline function runFull(op: i32, a: usize, b: usize, out: usize, len: i32): void {
  const bytes = <usize>len << 2;
  let i: usize = 0;
  for (; i + 32 <= bytes; i += 32) {
    const x0 = v128.load(a + i), x1 = v128.load(a + i, 16);
    const y0 = v128.load(b + i), y1 = v128.load(b + i, 16);
    v128.store(out + i, binaryV(op, x0, y0));
    v128.store(out + i, binaryV(op, x1, y1), 16);
  }
  for (; i + 16 <= bytes; i += 16) v128.store(out + i, binaryV(op, v128.load(a + i), v128.load(b + i)));
  for (; i < bytes; i += 4) store<f32>(out + i, binaryS(op, load<f32>(a + i), load<f32>(b + i)));
}

/** out[i] = s op b[i] (scalarFirst) or b[i] op s. */
@inline function runScalar(op: i32, s: f32, scalarFirst: bool, b: usize, out: usize, len: i32): void {
  const bytes = <usize>len << 2;
  const sv = f32x4.splat(s);
  let i: usize = 0;
  if (scalarFirst) {
    for (; i + 16 <= bytes; i += 16) v128.store(out + i, binaryV(op, sv, v128.load(b + i)));
    for (; i < bytes; i += 4) store<f32>(out + i, binaryS(op, s, load<f32>(b + i)));
  } else {
    for (; i + 16 <= bytes; i += 16) v128.store(out + i, binaryV(op, v128.load(b + i), sv));
    for (; i < bytes; i += 4) store<f32>(out + i, binaryS(op, load<f32>(b + i), s));
  }
}

@inline function binaryRangeOp(op: i32, a: usize, b: usize, out: usize, n: i32, period: i32, inner: i32, repeatedIsA: bool, start: i32, end: i32): void {
  if (inner > 1) {
    // The repeated operand holds one value per run of `inner` elements (e.g. a column vector against a matrix).
    let pos = start;
    while (pos < end) {
      const run = pos / inner;
      const len = min(end - pos, (run + 1) * inner - pos);
      const s = <usize>(run % period) << 2;
      const full = <usize>pos << 2;
      if (repeatedIsA) runScalar(op, load<f32>(a + s), true, b + full, out + full, len);
      else runScalar(op, load<f32>(b + s), false, a + full, out + full, len);
      pos += len;
    }
    return;
  }
  if (period == 1) {
    // One operand is a scalar.
    if (repeatedIsA) runScalar(op, load<f32>(a), true, b + (<usize>start << 2), out + (<usize>start << 2), end - start);
    else runScalar(op, load<f32>(b), false, a + (<usize>start << 2), out + (<usize>start << 2), end - start);
    return;
  }
  // The repeated operand has `period` elements (period = n: both are full).
  let pos = start;
  while (pos < end) {
    const j = pos % period;
    const len = min(end - pos, period - j);
    const full = <usize>pos << 2;
    const rep = <usize>j << 2;
    if (repeatedIsA) runFull(op, a + rep, b + full, out + full, len);
    else runFull(op, a + full, b + rep, out + full, len);
    pos += len;
  }
}

/**
 * Elements [start, end) of out = a op b, where one operand (`a` when
 * `repeatedIsA`) has `period` elements, each standing for a run of `inner`
 * consecutive output elements, repeated cyclically (period 1: a scalar;
 * inner 1: a trailing-axes operand; period = n: no repeat), and the other
 * has all n elements.
 */
export function binaryRange(op: i32, a: usize, b: usize, out: usize, n: i32, period: i32, inner: i32, repeatedIsA: bool, start: i32, end: i32): void {
  if (op == OP_ADD) binaryRangeOp(OP_ADD, a, b, out, n, period, inner, repeatedIsA, start, end);
  else if (op == OP_SUB) binaryRangeOp(OP_SUB, a, b, out, n, period, inner, repeatedIsA, start, end);
  else if (op == OP_MUL) binaryRangeOp(OP_MUL, a, b, out, n, period, inner, repeatedIsA, start, end);
  else if (op == OP_DIV) binaryRangeOp(OP_DIV, a, b, out, n, period, inner, repeatedIsA, start, end);
  else binaryRangeOp(OP_SQDIFF, a, b, out, n, period, inner, repeatedIsA, start, end);
}

/**
 * Elements [start, end) of out = f(x). Semantics follow tfjs-cpu: relu is
 * max(0, x) with NaN kept; step is 1 for x > 0, NaN for NaN, else alpha.
 */
export function unaryRange(op: i32, x: usize, out: usize, alpha: f32, start: i32, end: i32): void {
  const first = <usize>start << 2;
  const bytes = <usize>end << 2;
  let i = first;
  if (op == UOP_RELU) {
    // pmax(x, 0) is x < 0 ? 0 : x (one instruction, unlike max's NaN/-0 rules) and keeps NaN; + 0 turns -0 into +0.
    const zero = f32x4.splat(0);
    for (; i + 16 <= bytes; i += 16) v128.store(out + i, f32x4.add(f32x4.pmax(v128.load(x + i), zero), zero));
    for (; i < bytes; i += 4) {
      const v = load<f32>(x + i);
      store<f32>(out + i, v != v ? v : (v > 0 ? v : 0));
    }
  } else if (op == UOP_STEP) {
    const one = f32x4.splat(1);
    const alphaV = f32x4.splat(alpha);
    for (; i + 16 <= bytes; i += 16) {
      const v = v128.load(x + i);
      const stepped = v128.bitselect(one, alphaV, f32x4.gt(v, f32x4.splat(0)));
      v128.store(out + i, v128.bitselect(v, stepped, f32x4.ne(v, v)));
    }
    for (; i < bytes; i += 4) {
      const v = load<f32>(x + i);
      store<f32>(out + i, v > 0 ? 1 : v != v ? v : alpha);
    }
  } else if (op == UOP_SQUARE) {
    for (; i + 16 <= bytes; i += 16) {
      const v = v128.load(x + i);
      v128.store(out + i, f32x4.mul(v, v));
    }
    for (; i < bytes; i += 4) {
      const v = load<f32>(x + i);
      store<f32>(out + i, v * v);
    }
  } else {
    for (; i + 16 <= bytes; i += 16) v128.store(out + i, f32x4.sqrt(v128.load(x + i)));
    for (; i < bytes; i += 4) store<f32>(out + i, sqrt<f32>(load<f32>(x + i)));
  }
}

/**
 * Columns [c0, c1) of the column sums of the rows × cols matrix at `x`:
 * out[j] = Σ_i x[i·cols + j], accumulated in double precision (as tfjs-cpu's
 * reductions do) over blocks of 8 columns held in registers.
 */
export function columnSumsRange(x: usize, out: usize, rows: i32, cols: i32, c0: i32, c1: i32): void {
  const rowBytes = <usize>cols << 2;
  let j = c0;
  for (; j + 8 <= c1; j += 8) {
    let s0 = f64x2.splat(0), s1 = f64x2.splat(0), s2 = f64x2.splat(0), s3 = f64x2.splat(0);
    let p = x + (<usize>j << 2);
    for (let i = 0; i < rows; i++) {
      const v0 = v128.load(p);
      const v1 = v128.load(p, 16);
      s0 = f64x2.add(s0, f64x2.promote_low_f32x4(v0));
      s1 = f64x2.add(s1, f64x2.promote_low_f32x4(v128.shuffle<f32>(v0, v0, 2, 3, 0, 1)));
      s2 = f64x2.add(s2, f64x2.promote_low_f32x4(v1));
      s3 = f64x2.add(s3, f64x2.promote_low_f32x4(v128.shuffle<f32>(v1, v1, 2, 3, 0, 1)));
      p += rowBytes;
    }
    const o = out + (<usize>j << 2);
    v128.store64_lane(o, f32x4.demote_f64x2_zero(s0), 0);
    v128.store64_lane(o + 8, f32x4.demote_f64x2_zero(s1), 0);
    v128.store64_lane(o + 16, f32x4.demote_f64x2_zero(s2), 0);
    v128.store64_lane(o + 24, f32x4.demote_f64x2_zero(s3), 0);
  }
  for (; j < c1; j++) {
    let s: f64 = 0;
    let p = x + (<usize>j << 2);
    for (let i = 0; i < rows; i++) {
      s += <f64>load<f32>(p);
      p += rowBytes;
    }
    store<f32>(out + (<usize>j << 2), <f32>s);
  }
}

/**
 * Rows [r0, r1) of the index of each row's minimum (rows × cols floats at
 * `x`, i32 results at `out`), with tfjs-cpu's semantics: the first index of
 * the smallest value; NaN never wins, except that a row starting with NaN
 * gives 0 (nothing compares below it).
 */
export function argMinRowsRange(x: usize, out: usize, cols: i32, r0: i32, r1: i32): void {
  const rowBytes = <usize>cols << 2;
  for (let r = r0; r < r1; r++) {
    const row = x + <usize>r * rowBytes;
    let best = load<f32>(row);
    let bestIndex = 0;
    if (best != best) {
      store<i32>(out + (<usize>r << 2), 0);
      continue;
    }
    let j = 1;
    if (cols >= 9) {
      // Four lanes each keep the first index of their minimum over columns 1 + 4q + lane.
      let minV = f32x4.splat(best);
      let minI = i32x4.splat(0);
      let cur = i32x4(1, 2, 3, 4);
      const four = i32x4.splat(4);
      for (; j + 4 <= cols; j += 4) {
        const v = v128.load(row + (<usize>j << 2));
        const less = f32x4.lt(v, minV);
        minV = v128.bitselect(v, minV, less);
        minI = v128.bitselect(cur, minI, less);
        cur = i32x4.add(cur, four);
      }
      // Lanes started from column 0's value with index 0, so ties with it keep 0; merge: smallest value, then smallest index.
      best = f32x4.extract_lane(minV, 0);
      bestIndex = i32x4.extract_lane(minI, 0);
      for (let lane = 1; lane < 4; lane++) {
        const v = lane == 1 ? f32x4.extract_lane(minV, 1) : lane == 2 ? f32x4.extract_lane(minV, 2) : f32x4.extract_lane(minV, 3);
        const i = lane == 1 ? i32x4.extract_lane(minI, 1) : lane == 2 ? i32x4.extract_lane(minI, 2) : i32x4.extract_lane(minI, 3);
        if (v < best || (v == best && i < bestIndex)) {
          best = v;
          bestIndex = i;
        }
      }
    }
    for (; j < cols; j++) {
      const v = load<f32>(row + (<usize>j << 2));
      if (v < best) {
        best = v;
        bestIndex = j;
      }
    }
    store<i32>(out + (<usize>r << 2), bestIndex);
  }
}

/**
 * Rows [r0, r1) of out[r] = Σ_j x[r·cols + j] (`divisor` 0), or of the mean
 * Σ_j f32(x[r·cols + j] / divisor) (tfjs-cpu divides each element in
 * float32 before summing), accumulated in double precision like tfjs.
 */
export function rowSumsRange(x: usize, out: usize, cols: i32, divisor: f32, r0: i32, r1: i32): void {
  const rowBytes = <usize>cols << 2;
  const d = f32x4.splat(divisor);
  for (let r = r0; r < r1; r++) {
    const row = x + <usize>r * rowBytes;
    let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
    let j = 0;
    if (divisor != 0) {
      for (; j + 4 <= cols; j += 4) {
        const v = f32x4.div(v128.load(row + (<usize>j << 2)), d);
        s0 = f64x2.add(s0, f64x2.promote_low_f32x4(v));
        s1 = f64x2.add(s1, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)));
      }
    } else {
      for (; j + 4 <= cols; j += 4) {
        const v = v128.load(row + (<usize>j << 2));
        s0 = f64x2.add(s0, f64x2.promote_low_f32x4(v));
        s1 = f64x2.add(s1, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)));
      }
    }
    const s = f64x2.add(s0, s1);
    let total = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
    for (; j < cols; j++) {
      const v = load<f32>(row + (<usize>j << 2));
      total += <f64>(divisor != 0 ? v / divisor : v);
    }
    store<f32>(out + (<usize>r << 2), <f32>total);
  }
}
