// Winograd F(4×4, 3×3) and F(4×4, 2×2) transforms for 3×3 and 2×2
// stride-1 convolutions (Lavin & Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2015). A 4×4, stride-2 convolution is a 2×2 one on the
// space-to-depth image (see spaceToDepthRange), so it runs as F(4×4, 2×2).
//
// Each 4×4 block ("tile") of output pixels is computed from an α×α input
// patch (α = 6 for 3×3 filters, 5 for 2×2): with V = Bᵀ·d·B (input),
// U = G·g·Gᵀ (filter) and Y = Aᵀ·M·A (output), the convolution becomes α²
// independent GEMMs over the transform points ξ, M[ξ] = V[ξ]·U[ξ], each of
// (tiles × inC)·(inC × outC). For 3×3 filters that is 36 multiply-adds per
// tile and channel pair instead of 16·9 = 144: 4× fewer (3× on a 7×7 map,
// whose 2×2 tiles cover 8×8 pixels); for 2×2 filters 25 instead of 64.
//
// The gradients reuse the same transforms: the input gradient is the
// convolution of dy with the rotated filter; the filter gradient is
// dU[ξ] = V[ξ]ᵀ·dM[ξ] with dM = A·dy·Aᵀ, and dW = Gᵀ·dU·G (the adjoints of
// the output and filter transforms).
//
// Layouts (all vectorised over the channel axis, which is innermost):
//   image  NHWC, channels a multiple of 4;
//   V, M   [α²][tiles][channels]: point ξ = α·row + column, tile t =
//          (image, tileRow, tileCol) row-major; each point is a row-major
//          tiles × channels matrix, i.e. directly a GEMM operand;
//   U      [α²][inC][outC];  filter HWIO [r][r][inC][outC] (r = α − 3).
// Consecutive points are `planeFloats` apart, which the host pads to an odd
// number of cache lines: the transforms touch all α² points of a tile at
// once, and a power-of-two distance (tiles·channels often is one) would map
// them all to the same cache sets.
// Every routine handles one range of tiles (or of input channels for the
// filter transforms), so threads split a transform into disjoint parts.

/** The convolution geometry words (the im2col geometry block of gemm.ts). */
@unmanaged class WinogradGeometry {
  batch: i32; inH: i32; inW: i32; channels: i32; outH: i32; outW: i32; filterH: i32; filterW: i32;
  strideH: i32; strideW: i32; dilationH: i32; dilationW: i32; padTop: i32; padLeft: i32;
}

@inline function tilesOf(size: i32): i32 {
  return (size + 3) >> 2;
}

/** Number of tiles of a geometry (4×4 output blocks over all images). */
export function winogradTiles(geometry: usize): i32 {
  const g = changetype<WinogradGeometry>(geometry);
  return g.batch * tilesOf(g.outH) * tilesOf(g.outW);
}

/** 6 vectors at src + k·srcStep → Bᵀ·d at dst + i·dstStep. */
@inline function inputRows6(src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  const d0 = v128.load(src);
  const d1 = v128.load(src + srcStep);
  const d2 = v128.load(src + 2 * srcStep);
  const d3 = v128.load(src + 3 * srcStep);
  const d4 = v128.load(src + 4 * srcStep);
  const d5 = v128.load(src + 5 * srcStep);
  const four = f32x4.splat(4);
  const five = f32x4.splat(5);
  const two = f32x4.splat(2);
  // r0 = 4d0 − 5d2 + d4
  v128.store(dst, f32x4.add(f32x4.sub(f32x4.mul(four, d0), f32x4.mul(five, d2)), d4));
  // r1 = (d3 + d4) − 4(d1 + d2);  r2 = (d4 − d3) + 4(d1 − d2)
  v128.store(dst + dstStep, f32x4.sub(f32x4.add(d3, d4), f32x4.mul(four, f32x4.add(d1, d2))));
  v128.store(dst + 2 * dstStep, f32x4.add(f32x4.sub(d4, d3), f32x4.mul(four, f32x4.sub(d1, d2))));
  // r3 = (d4 − d2) + 2(d3 − d1);  r4 = (d4 − d2) − 2(d3 − d1)
  const e = f32x4.sub(d4, d2);
  const f = f32x4.mul(two, f32x4.sub(d3, d1));
  v128.store(dst + 3 * dstStep, f32x4.add(e, f));
  v128.store(dst + 4 * dstStep, f32x4.sub(e, f));
  // r5 = 4d1 − 5d3 + d5
  v128.store(dst + 5 * dstStep, f32x4.add(f32x4.sub(f32x4.mul(four, d1), f32x4.mul(five, d3)), d5));
}

/** 6 vectors m at src + k·srcStep → Aᵀ·m (4 vectors) at dst + i·dstStep. */
@inline function outputRows6(src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  const m0 = v128.load(src);
  const m1 = v128.load(src + srcStep);
  const m2 = v128.load(src + 2 * srcStep);
  const m3 = v128.load(src + 3 * srcStep);
  const m4 = v128.load(src + 4 * srcStep);
  const m5 = v128.load(src + 5 * srcStep);
  const a = f32x4.add(m1, m2);
  const b = f32x4.sub(m1, m2);
  const c = f32x4.add(m3, m4);
  const d = f32x4.sub(m3, m4);
  v128.store(dst, f32x4.add(f32x4.add(m0, a), c));
  v128.store(dst + dstStep, f32x4.add(b, f32x4.mul(f32x4.splat(2), d)));
  v128.store(dst + 2 * dstStep, f32x4.add(a, f32x4.mul(f32x4.splat(4), c)));
  v128.store(dst + 3 * dstStep, f32x4.add(f32x4.add(b, f32x4.mul(f32x4.splat(8), d)), m5));
}

/** 4 vectors g at src + k·srcStep → A·g (6 vectors) at dst + i·dstStep (the adjoint of outputRows). */
@inline function outputAdjointRows6(src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  const g0 = v128.load(src);
  const g1 = v128.load(src + srcStep);
  const g2 = v128.load(src + 2 * srcStep);
  const g3 = v128.load(src + 3 * srcStep);
  const e = f32x4.add(g0, g2);
  const f = f32x4.add(g1, g3);
  const e4 = f32x4.add(g0, f32x4.mul(f32x4.splat(4), g2));
  const f8 = f32x4.add(f32x4.mul(f32x4.splat(2), g1), f32x4.mul(f32x4.splat(8), g3));
  v128.store(dst, g0);
  v128.store(dst + dstStep, f32x4.add(e, f));
  v128.store(dst + 2 * dstStep, f32x4.sub(e, f));
  v128.store(dst + 3 * dstStep, f32x4.add(e4, f8));
  v128.store(dst + 4 * dstStep, f32x4.sub(e4, f8));
  v128.store(dst + 5 * dstStep, g3);
}

/** 3 vectors w at src + k·srcStep (k reversed when `flip`) → G·w (6 vectors) at dst + i·dstStep. */
@inline function filterRows6(src: usize, srcStep: usize, flip: bool, dst: usize, dstStep: usize): void {
  let w0 = v128.load(src);
  const w1 = v128.load(src + srcStep);
  let w2 = v128.load(src + 2 * srcStep);
  if (flip) {
    const t = w0;
    w0 = w2;
    w2 = t;
  }
  const sum02 = f32x4.add(w0, w2);
  const quarter02 = f32x4.add(w0, f32x4.mul(f32x4.splat(4), w2));
  const sixth = f32x4.splat(<f32>(-1.0 / 6.0));
  const twentyFourth = f32x4.splat(<f32>(1.0 / 24.0));
  const twoW1 = f32x4.mul(f32x4.splat(2), w1);
  v128.store(dst, f32x4.mul(f32x4.splat(0.25), w0));
  v128.store(dst + dstStep, f32x4.mul(sixth, f32x4.add(sum02, w1)));
  v128.store(dst + 2 * dstStep, f32x4.mul(sixth, f32x4.sub(sum02, w1)));
  v128.store(dst + 3 * dstStep, f32x4.mul(twentyFourth, f32x4.add(quarter02, twoW1)));
  v128.store(dst + 4 * dstStep, f32x4.mul(twentyFourth, f32x4.sub(quarter02, twoW1)));
  v128.store(dst + 5 * dstStep, w2);
}

/** 6 vectors u at src + k·srcStep → Gᵀ·u (3 vectors) at dst + i·dstStep (the adjoint of filterRows without flip). */
@inline function filterAdjointRows6(src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  const u0 = v128.load(src);
  const u1 = v128.load(src + srcStep);
  const u2 = v128.load(src + 2 * srcStep);
  const u3 = v128.load(src + 3 * srcStep);
  const u4 = v128.load(src + 4 * srcStep);
  const u5 = v128.load(src + 5 * srcStep);
  const s12 = f32x4.add(u1, u2);
  const d12 = f32x4.sub(u2, u1);
  const s34 = f32x4.add(u3, u4);
  const d34 = f32x4.sub(u3, u4);
  const sixth = f32x4.splat(<f32>(1.0 / 6.0));
  // r0 = u0/4 − (u1 + u2)/6 + (u3 + u4)/24
  v128.store(dst, f32x4.add(f32x4.sub(f32x4.mul(f32x4.splat(0.25), u0), f32x4.mul(sixth, s12)), f32x4.mul(f32x4.splat(<f32>(1.0 / 24.0)), s34)));
  // r1 = (u2 − u1)/6 + (u3 − u4)/12
  v128.store(dst + dstStep, f32x4.add(f32x4.mul(sixth, d12), f32x4.mul(f32x4.splat(<f32>(1.0 / 12.0)), d34)));
  // r2 = (u3 + u4 − u1 − u2)/6 + u5
  v128.store(dst + 2 * dstStep, f32x4.add(f32x4.mul(sixth, f32x4.sub(s34, s12)), u5));
}

// F(4×4, 2×2) with interpolation points 0, 1, −1, 2 and ∞:
//   Bᵀ = [2 −1 −2 1 0; 0 −2 −1 1 0; 0 2 −3 1 0; 0 −1 0 1 0; 0 2 −1 −2 1]
//   G  = [1/2 0; −1/2 −1/2; −1/6 1/6; 1/6 1/3; 0 1]
//   Aᵀ = [1 1 1 1 0; 0 1 −1 2 0; 0 1 1 4 0; 0 1 −1 8 1]

/** 5 vectors d → Bᵀ·d (5 vectors). */
@inline function inputRows5(src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  const d0 = v128.load(src);
  const d1 = v128.load(src + srcStep);
  const d2 = v128.load(src + 2 * srcStep);
  const d3 = v128.load(src + 3 * srcStep);
  const d4 = v128.load(src + 4 * srcStep);
  const two = f32x4.splat(2);
  const d3m1 = f32x4.sub(d3, d1);
  // r0 = 2(d0 − d2) + (d3 − d1)
  v128.store(dst, f32x4.add(f32x4.mul(two, f32x4.sub(d0, d2)), d3m1));
  // r1 = d3 − 2d1 − d2;  r2 = d3 + 2d1 − 3d2
  v128.store(dst + dstStep, f32x4.sub(f32x4.sub(d3, f32x4.mul(two, d1)), d2));
  v128.store(dst + 2 * dstStep, f32x4.sub(f32x4.add(d3, f32x4.mul(two, d1)), f32x4.mul(f32x4.splat(3), d2)));
  // r3 = d3 − d1;  r4 = 2(d1 − d3) − d2 + d4
  v128.store(dst + 3 * dstStep, d3m1);
  v128.store(dst + 4 * dstStep, f32x4.add(f32x4.sub(f32x4.mul(f32x4.splat(-2), d3m1), d2), d4));
}

/** 5 vectors m → Aᵀ·m (4 vectors). */
@inline function outputRows5(src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  const m0 = v128.load(src);
  const m1 = v128.load(src + srcStep);
  const m2 = v128.load(src + 2 * srcStep);
  const m3 = v128.load(src + 3 * srcStep);
  const m4 = v128.load(src + 4 * srcStep);
  const a = f32x4.add(m1, m2);
  const b = f32x4.sub(m1, m2);
  v128.store(dst, f32x4.add(f32x4.add(m0, a), m3));
  v128.store(dst + dstStep, f32x4.add(b, f32x4.mul(f32x4.splat(2), m3)));
  v128.store(dst + 2 * dstStep, f32x4.add(a, f32x4.mul(f32x4.splat(4), m3)));
  v128.store(dst + 3 * dstStep, f32x4.add(f32x4.add(b, f32x4.mul(f32x4.splat(8), m3)), m4));
}

/** 4 vectors g → A·g (5 vectors), the adjoint of outputRows5. */
@inline function outputAdjointRows5(src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  const g0 = v128.load(src);
  const g1 = v128.load(src + srcStep);
  const g2 = v128.load(src + 2 * srcStep);
  const g3 = v128.load(src + 3 * srcStep);
  const e = f32x4.add(g0, g2);
  const f = f32x4.add(g1, g3);
  v128.store(dst, g0);
  v128.store(dst + dstStep, f32x4.add(e, f));
  v128.store(dst + 2 * dstStep, f32x4.sub(e, f));
  v128.store(dst + 3 * dstStep, f32x4.add(f32x4.add(g0, f32x4.mul(f32x4.splat(2), g1)), f32x4.add(f32x4.mul(f32x4.splat(4), g2), f32x4.mul(f32x4.splat(8), g3))));
  v128.store(dst + 4 * dstStep, g3);
}

/** 2 vectors w (swapped when `flip`) → G·w (5 vectors). */
@inline function filterRows5(src: usize, srcStep: usize, flip: bool, dst: usize, dstStep: usize): void {
  let w0 = v128.load(src);
  let w1 = v128.load(src + srcStep);
  if (flip) {
    const t = w0;
    w0 = w1;
    w1 = t;
  }
  const half = f32x4.splat(0.5);
  const sixth = f32x4.splat(<f32>(1.0 / 6.0));
  v128.store(dst, f32x4.mul(half, w0));
  v128.store(dst + dstStep, f32x4.mul(f32x4.splat(-0.5), f32x4.add(w0, w1)));
  v128.store(dst + 2 * dstStep, f32x4.mul(sixth, f32x4.sub(w1, w0)));
  v128.store(dst + 3 * dstStep, f32x4.mul(sixth, f32x4.add(w0, f32x4.mul(f32x4.splat(2), w1))));
  v128.store(dst + 4 * dstStep, w1);
}

/** 5 vectors u → Gᵀ·u (2 vectors), the adjoint of filterRows5 without flip. */
@inline function filterAdjointRows5(src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  const u0 = v128.load(src);
  const u1 = v128.load(src + srcStep);
  const u2 = v128.load(src + 2 * srcStep);
  const u3 = v128.load(src + 3 * srcStep);
  const u4 = v128.load(src + 4 * srcStep);
  const sixth = f32x4.splat(<f32>(1.0 / 6.0));
  // r0 = (u0 − u1)/2 + (u3 − u2)/6;  r1 = u4 − u1/2 + u2/6 + u3/3
  v128.store(dst, f32x4.add(f32x4.mul(f32x4.splat(0.5), f32x4.sub(u0, u1)), f32x4.mul(sixth, f32x4.sub(u3, u2))));
  v128.store(dst + dstStep, f32x4.add(f32x4.sub(u4, f32x4.mul(f32x4.splat(0.5), u1)), f32x4.mul(sixth, f32x4.add(u2, f32x4.mul(f32x4.splat(2), u3)))));
}

/** 6 vectors v → B·v (6 vectors), the adjoint of inputRows6. */
@inline function inputAdjointRows6(src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  const v0 = v128.load(src);
  const v1 = v128.load(src + srcStep);
  const v2 = v128.load(src + 2 * srcStep);
  const v3 = v128.load(src + 3 * srcStep);
  const v4 = v128.load(src + 4 * srcStep);
  const v5 = v128.load(src + 5 * srcStep);
  const four = f32x4.splat(4);
  const s12 = f32x4.add(v1, v2);
  const d21 = f32x4.sub(v2, v1);
  const s34 = f32x4.add(v3, v4);
  const d34 = f32x4.sub(v3, v4);
  v128.store(dst, f32x4.mul(four, v0));
  // −4v1 + 4v2 − 2v3 + 2v4 + 4v5 = 4(v2 − v1 + v5) − 2(v3 − v4)
  v128.store(dst + dstStep, f32x4.sub(f32x4.mul(four, f32x4.add(d21, v5)), f32x4.mul(f32x4.splat(2), d34)));
  // −5v0 − 4(v1 + v2) − (v3 + v4)
  v128.store(dst + 2 * dstStep, f32x4.sub(f32x4.sub(f32x4.mul(f32x4.splat(-5), v0), f32x4.mul(four, s12)), s34));
  // (v1 − v2) + 2(v3 − v4) − 5v5
  v128.store(dst + 3 * dstStep, f32x4.sub(f32x4.add(f32x4.neg(d21), f32x4.mul(f32x4.splat(2), d34)), f32x4.mul(f32x4.splat(5), v5)));
  v128.store(dst + 4 * dstStep, f32x4.add(f32x4.add(v0, s12), s34));
  v128.store(dst + 5 * dstStep, v5);
}

/** 5 vectors v → B·v (5 vectors), the adjoint of inputRows5. */
@inline function inputAdjointRows5(src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  const v0 = v128.load(src);
  const v1 = v128.load(src + srcStep);
  const v2 = v128.load(src + 2 * srcStep);
  const v3 = v128.load(src + 3 * srcStep);
  const v4 = v128.load(src + 4 * srcStep);
  const two = f32x4.splat(2);
  v128.store(dst, f32x4.mul(two, v0));
  // −v0 − 2v1 + 2v2 − v3 + 2v4 = 2(v2 − v1 + v4) − (v0 + v3)
  v128.store(dst + dstStep, f32x4.sub(f32x4.mul(two, f32x4.add(f32x4.sub(v2, v1), v4)), f32x4.add(v0, v3)));
  // −2v0 − v1 − 3v2 − v4
  v128.store(dst + 2 * dstStep, f32x4.sub(f32x4.sub(f32x4.mul(f32x4.splat(-2), v0), f32x4.add(v1, v4)), f32x4.mul(f32x4.splat(3), v2)));
  // v0 + v1 + v2 + v3 − 2v4
  v128.store(dst + 3 * dstStep, f32x4.sub(f32x4.add(f32x4.add(v0, v1), f32x4.add(v2, v3)), f32x4.mul(two, v4)));
  v128.store(dst + 4 * dstStep, v4);
}

/**
 * Copies the `size`×`size` pixel block at (y0, x0) of image `b` into `patch`
 * ([size][size][channels]), zeros where it lies outside the image.
 */
function loadPatch(image: usize, g: WinogradGeometry, height: i32, width: i32, b: i32, y0: i32, x0: i32, size: i32, patch: usize): void {
  const pixelBytes = <usize>g.channels << 2;
  const rowBytes = <usize>size * pixelBytes;
  const x1 = max(x0, 0);
  const x2 = min(x0 + size, width);
  for (let i = 0; i < size; i++) {
    const dst = patch + <usize>i * rowBytes;
    const y = y0 + i;
    if (y < 0 || y >= height || x1 >= x2) {
      memory.fill(dst, 0, rowBytes);
      continue;
    }
    const before = <usize>(x1 - x0) * pixelBytes;
    if (before > 0) memory.fill(dst, 0, before);
    const bytes = <usize>(x2 - x1) * pixelBytes;
    memory.copy(dst + before, image + ((<usize>(b * height + y) * width + x1) * pixelBytes), bytes);
    const after = rowBytes - before - bytes;
    if (after > 0) memory.fill(dst + before + bytes, 0, after);
  }
}

/** α of a geometry: 6 for 3×3 filters, 5 for 2×2. */
@inline function alphaOf(g: WinogradGeometry): i32 {
  return g.filterH + 3;
}

@inline function inputRows(alpha: i32, src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  if (alpha == 6) inputRows6(src, srcStep, dst, dstStep);
  else inputRows5(src, srcStep, dst, dstStep);
}

@inline function inputAdjointRows(alpha: i32, src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  if (alpha == 6) inputAdjointRows6(src, srcStep, dst, dstStep);
  else inputAdjointRows5(src, srcStep, dst, dstStep);
}

@inline function outputRows(alpha: i32, src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  if (alpha == 6) outputRows6(src, srcStep, dst, dstStep);
  else outputRows5(src, srcStep, dst, dstStep);
}

@inline function outputAdjointRows(alpha: i32, src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  if (alpha == 6) outputAdjointRows6(src, srcStep, dst, dstStep);
  else outputAdjointRows5(src, srcStep, dst, dstStep);
}

@inline function filterRows(alpha: i32, src: usize, srcStep: usize, flip: bool, dst: usize, dstStep: usize): void {
  if (alpha == 6) filterRows6(src, srcStep, flip, dst, dstStep);
  else filterRows5(src, srcStep, flip, dst, dstStep);
}

@inline function filterAdjointRows(alpha: i32, src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  if (alpha == 6) filterAdjointRows6(src, srcStep, dst, dstStep);
  else filterAdjointRows5(src, srcStep, dst, dstStep);
}

/**
 * Input transform of tiles [t0, t1): V[ξ][t][c] = (Bᵀ·d·B)[ξ] of the α×α
 * patch at (4·tileRow − padTop, 4·tileCol − padLeft). `scratch` holds
 * α²·channels + α²·4 floats.
 */
export function winogradInputRange(x: usize, v: usize, geometry: usize, planeFloats: i32, scratch: usize, t0: i32, t1: i32): void {
  const g = changetype<WinogradGeometry>(geometry);
  const alpha = alphaOf(g);
  const tilesY = tilesOf(g.outH);
  const tilesX = tilesOf(g.outW);
  const tiles = g.batch * tilesY * tilesX;
  const c = g.channels;
  const pixelBytes = <usize>c << 2;
  const pointBytes = <usize>planeFloats << 2;
  const patchRowBytes = <usize>alpha * pixelBytes;
  const tmpRowBytes = <usize>alpha << 4;
  const patch = scratch;
  const tmp = scratch + <usize>(alpha * alpha) * pixelBytes;
  for (let t = t0; t < t1; t++) {
    const b = t / (tilesY * tilesX);
    const r = t - b * tilesY * tilesX;
    const ty = r / tilesX;
    const tx = r - ty * tilesX;
    loadPatch(x, g, g.inH, g.inW, b, 4 * ty - g.padTop, 4 * tx - g.padLeft, alpha, patch);
    const out = v + <usize>t * pixelBytes;
    for (let cb: usize = 0; cb < pixelBytes; cb += 16) {
      // Columns: tmp[i][j] = Σ_k Bᵀ[i][k]·d[k][j].
      for (let j = 0; j < alpha; j++) inputRows(alpha, patch + <usize>j * pixelBytes + cb, patchRowBytes, tmp + (<usize>j << 4), tmpRowBytes);
      // Rows: V[αi + j] = Σ_k tmp[i][k]·B[k][j].
      for (let i = 0; i < alpha; i++) inputRows(alpha, tmp + <usize>i * tmpRowBytes, 16, out + <usize>(alpha * i) * pointBytes + cb, pointBytes);
    }
  }
}

/**
 * Adjoint of the input transform for images [b0, b1): dx (NHWC, those
 * images fully overwritten) = Σ over their tiles of B·dV·Bᵀ, added onto
 * the α×α patch each tile was read from (patches overlap; parts in the
 * padding are dropped). Threads split by image, whose regions are disjoint.
 * `scratch` holds α²·channels + α²·4 floats.
 */
export function winogradInputAdjointRange(dv: usize, dx: usize, geometry: usize, planeFloats: i32, scratch: usize, b0: i32, b1: i32): void {
  const g = changetype<WinogradGeometry>(geometry);
  const alpha = alphaOf(g);
  const tilesY = tilesOf(g.outH);
  const tilesX = tilesOf(g.outW);
  const tiles = g.batch * tilesY * tilesX;
  const pixelBytes = <usize>g.channels << 2;
  const pointBytes = <usize>planeFloats << 2;
  const patchRowBytes = <usize>alpha * pixelBytes;
  const tmpRowBytes = <usize>alpha << 4;
  const imageRowBytes = <usize>g.inW * pixelBytes;
  const imageBytes = <usize>g.inH * imageRowBytes;
  const patch = scratch;
  const tmp = scratch + <usize>(alpha * alpha) * pixelBytes;
  if (b1 > b0) memory.fill(dx + <usize>b0 * imageBytes, 0, <usize>(b1 - b0) * imageBytes);
  for (let b = b0; b < b1; b++) {
    const image = dx + <usize>b * imageBytes;
    for (let ty = 0; ty < tilesY; ty++) {
      for (let tx = 0; tx < tilesX; tx++) {
        const t = (b * tilesY + ty) * tilesX + tx;
        const src = dv + <usize>t * pixelBytes;
        for (let cb: usize = 0; cb < pixelBytes; cb += 16) {
          // Columns: tmp[i][j] = Σ_k B[i][k]·dV[k][j].
          for (let j = 0; j < alpha; j++) inputAdjointRows(alpha, src + <usize>j * pointBytes + cb, <usize>alpha * pointBytes, tmp + (<usize>j << 4), tmpRowBytes);
          // Rows: patch[i][j] = Σ_k tmp[i][k]·Bᵀ[k][j].
          for (let i = 0; i < alpha; i++) inputAdjointRows(alpha, tmp + <usize>i * tmpRowBytes, 16, patch + <usize>i * patchRowBytes + cb, pixelBytes);
        }
        // Scatter-add the patch rows that lie inside the image.
        const y0 = 4 * ty - g.padTop;
        const x0 = 4 * tx - g.padLeft;
        const x1 = max(x0, 0);
        const x2 = min(x0 + alpha, g.inW);
        if (x1 >= x2) continue;
        const runBytes = <usize>(x2 - x1) * pixelBytes;
        for (let i = 0; i < alpha; i++) {
          const y = y0 + i;
          if (y < 0 || y >= g.inH) continue;
          const dst = image + <usize>y * imageRowBytes + <usize>x1 * pixelBytes;
          const from = patch + <usize>i * patchRowBytes + <usize>(x1 - x0) * pixelBytes;
          for (let o: usize = 0; o < runBytes; o += 16) v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(from + o)));
        }
      }
    }
  }
}

/**
 * Output transform of tiles [t0, t1): the 4×4 block Aᵀ·M·A of each tile,
 * written to the NHWC output (parts outside outH × outW are dropped).
 * `scratch` holds 4·α·4 + 16 floats.
 */
export function winogradOutputRange(m: usize, y: usize, geometry: usize, planeFloats: i32, scratch: usize, t0: i32, t1: i32): void {
  const g = changetype<WinogradGeometry>(geometry);
  const alpha = alphaOf(g);
  const tilesY = tilesOf(g.outH);
  const tilesX = tilesOf(g.outW);
  const tiles = g.batch * tilesY * tilesX;
  const pixelBytes = <usize>g.channels << 2;
  const pointBytes = <usize>planeFloats << 2;
  const tmpRowBytes = <usize>alpha << 4;
  const tmp = scratch;
  const block = scratch + 4 * tmpRowBytes;
  for (let t = t0; t < t1; t++) {
    const b = t / (tilesY * tilesX);
    const r = t - b * tilesY * tilesX;
    const ty = r / tilesX;
    const tx = r - ty * tilesX;
    const rows = min(4, g.outH - 4 * ty);
    const cols = min(4, g.outW - 4 * tx);
    const src = m + <usize>t * pixelBytes;
    const corner = y + ((<usize>(b * g.outH + 4 * ty) * g.outW + 4 * tx) * pixelBytes);
    const rowBytes = <usize>g.outW * pixelBytes;
    for (let cb: usize = 0; cb < pixelBytes; cb += 16) {
      // Columns: tmp[i][j] = Σ_k Aᵀ[i][k]·M[k][j] (4×α).
      for (let j = 0; j < alpha; j++) outputRows(alpha, src + <usize>j * pointBytes + cb, <usize>alpha * pointBytes, tmp + (<usize>j << 4), tmpRowBytes);
      if (rows == 4 && cols == 4) {
        for (let i = 0; i < 4; i++) outputRows(alpha, tmp + <usize>i * tmpRowBytes, 16, corner + <usize>i * rowBytes + cb, pixelBytes);
      } else {
        for (let i = 0; i < rows; i++) {
          outputRows(alpha, tmp + <usize>i * tmpRowBytes, 16, block, 16);
          const dst = corner + <usize>i * rowBytes + cb;
          for (let j = 0; j < cols; j++) v128.store(dst + <usize>j * pixelBytes, v128.load(block + (<usize>j << 4)));
        }
      }
    }
  }
}

/**
 * Adjoint of the output transform for tiles [t0, t1): dM[ξ][t][c] =
 * (A·g·Aᵀ)[ξ] of the tile's 4×4 block of `dy` (zeros outside outH × outW).
 * `scratch` holds 16·channels + α·4·4 floats.
 */
export function winogradOutputAdjointRange(dy: usize, dm: usize, geometry: usize, planeFloats: i32, scratch: usize, t0: i32, t1: i32): void {
  const g = changetype<WinogradGeometry>(geometry);
  const alpha = alphaOf(g);
  const tilesY = tilesOf(g.outH);
  const tilesX = tilesOf(g.outW);
  const tiles = g.batch * tilesY * tilesX;
  const pixelBytes = <usize>g.channels << 2;
  const pointBytes = <usize>planeFloats << 2;
  const patch = scratch;
  const tmp = scratch + 16 * pixelBytes;
  for (let t = t0; t < t1; t++) {
    const b = t / (tilesY * tilesX);
    const r = t - b * tilesY * tilesX;
    const ty = r / tilesX;
    const tx = r - ty * tilesX;
    loadPatch(dy, g, g.outH, g.outW, b, 4 * ty, 4 * tx, 4, patch);
    const out = dm + <usize>t * pixelBytes;
    for (let cb: usize = 0; cb < pixelBytes; cb += 16) {
      // Columns: tmp[i][j] = Σ_k A[i][k]·g[k][j] (α×4).
      for (let j = 0; j < 4; j++) outputAdjointRows(alpha, patch + <usize>j * pixelBytes + cb, 4 * pixelBytes, tmp + (<usize>j << 4), 64);
      // Rows: dM[αi + j] = Σ_k tmp[i][k]·Aᵀ[k][j].
      for (let i = 0; i < alpha; i++) outputAdjointRows(alpha, tmp + <usize>i * 64, 16, out + <usize>(alpha * i) * pointBytes + cb, pointBytes);
    }
  }
}

/**
 * Filter transform of input channels [c0, c1): U[ξ][ci][co] = (G·w·Gᵀ)[ξ] of
 * the r×r HWIO filter (r = 3 or 2), rotated by 180° when `flip` (the input
 * gradient's filter). `scratch` holds 6·r·4 floats.
 */
export function winogradFilterRange(w: usize, u: usize, inC: i32, outC: i32, r: i32, flip: bool, planeFloats: i32, scratch: usize, c0: i32, c1: i32): void {
  const alpha = r + 3;
  const tapBytes = <usize>inC * <usize>outC << 2;
  const planeBytes = <usize>planeFloats << 2;
  const rowBytes = <usize>r * tapBytes;
  const outBytes = <usize>outC << 2;
  const tmpRowBytes = <usize>r << 4;
  for (let ci = c0; ci < c1; ci++) {
    const base = <usize>ci * outBytes;
    for (let cb: usize = 0; cb < outBytes; cb += 16) {
      // Columns: tmp[i][fx] = Σ_fy G[i][fy]·w[fy][fx] (α×r).
      for (let fx = 0; fx < r; fx++) {
        const column = flip ? r - 1 - fx : fx;
        filterRows(alpha, w + <usize>column * tapBytes + base + cb, rowBytes, flip, scratch + (<usize>fx << 4), tmpRowBytes);
      }
      // Rows: U[αi + j] = Σ_fx tmp[i][fx]·Gᵀ[fx][j] (the columns were already flipped).
      for (let i = 0; i < alpha; i++) filterRows(alpha, scratch + <usize>i * tmpRowBytes, 16, false, u + <usize>(alpha * i) * planeBytes + base + cb, planeBytes);
    }
  }
}

/**
 * Adjoint of the filter transform for input channels [c0, c1): dW[fy][fx] =
 * (Gᵀ·dU·G)[fy][fx], written as an r×r HWIO filter. `scratch` holds 6·r·4 floats.
 */
export function winogradFilterAdjointRange(du: usize, dw: usize, inC: i32, outC: i32, r: i32, planeFloats: i32, scratch: usize, c0: i32, c1: i32): void {
  const alpha = r + 3;
  const tapBytes = <usize>inC * <usize>outC << 2;
  const planeBytes = <usize>planeFloats << 2;
  const outBytes = <usize>outC << 2;
  const tmpRowBytes = <usize>alpha << 4;
  for (let ci = c0; ci < c1; ci++) {
    const base = <usize>ci * outBytes;
    for (let cb: usize = 0; cb < outBytes; cb += 16) {
      // Columns: tmp[fy][j] = Σ_k Gᵀ[fy][k]·dU[k][j] (r×α).
      for (let j = 0; j < alpha; j++) filterAdjointRows(alpha, du + <usize>j * planeBytes + base + cb, <usize>alpha * planeBytes, scratch + (<usize>j << 4), tmpRowBytes);
      // Rows: dW[fy][fx] = Σ_k tmp[fy][k]·G[k][fx].
      for (let fy = 0; fy < r; fy++) filterAdjointRows(alpha, scratch + <usize>fy * tmpRowBytes, 16, dw + <usize>(r * fy) * tapBytes + base + cb, tapBytes);
    }
  }
}

/**
 * Rows [rowStart, rowEnd) (row = image·outH + j) of the space-to-depth image
 * of a stride-2 convolution: pixel (j, i) holds the 2×2 block of input pixels
 * at (2j − padTop, 2i − padLeft), as [ry][rx][channels] (zeros outside the
 * image). A 4×4, stride-2 convolution of x is the 2×2, stride-1 one of this
 * image with the filter w'[qy][qx][ry][rx][c] = w[2qy + ry][2qx + rx][c].
 * Geometry: in = the image, out = the space-to-depth image's height/width.
 */
export function spaceToDepthRange(x: usize, out: usize, geometry: usize, rowStart: i32, rowEnd: i32): void {
  const g = changetype<WinogradGeometry>(geometry);
  const pixelBytes = <usize>g.channels << 2;
  let dst = out + <usize>rowStart * <usize>g.outW * 4 * pixelBytes;
  for (let row = rowStart; row < rowEnd; row++) {
    const b = row / g.outH;
    const j = row - b * g.outH;
    for (let ry = 0; ry < 2; ry++) {
      const y = 2 * j + ry - g.padTop;
      const valid = y >= 0 && y < g.inH;
      const src = x + <usize>(b * g.inH + y) * <usize>g.inW * pixelBytes;
      let to = dst + <usize>ry * 2 * pixelBytes;
      for (let i = 0; i < g.outW; i++) {
        const x0 = 2 * i - g.padLeft;
        for (let rx = 0; rx < 2; rx++) {
          const xx = x0 + rx;
          const slot = to + <usize>rx * pixelBytes;
          if (valid && xx >= 0 && xx < g.inW) memory.copy(slot, src + <usize>xx * pixelBytes, pixelBytes);
          else memory.fill(slot, 0, pixelBytes);
        }
        to += 4 * pixelBytes;
      }
    }
    dst += <usize>g.outW * 4 * pixelBytes;
  }
}

/**
 * Rows [rowStart, rowEnd) (row = image·inH + y) of the inverse: every input
 * pixel takes its slot of the space-to-depth image (0 when that lies beyond it).
 */
export function depthToSpaceRange(s2d: usize, x: usize, geometry: usize, rowStart: i32, rowEnd: i32): void {
  const g = changetype<WinogradGeometry>(geometry);
  const pixelBytes = <usize>g.channels << 2;
  let dst = x + <usize>rowStart * <usize>g.inW * pixelBytes;
  for (let row = rowStart; row < rowEnd; row++) {
    const b = row / g.inH;
    const y = row - b * g.inH + g.padTop;
    const j = y >> 1;
    const ry = y & 1;
    const rowBase = s2d + (<usize>(b * g.outH + j) * <usize>g.outW * 4 + <usize>ry * 2) * pixelBytes;
    for (let xx = 0; xx < g.inW; xx++) {
      const p = xx + g.padLeft;
      const i = p >> 1;
      if (j < g.outH && i < g.outW) memory.copy(dst, rowBase + (<usize>i * 4 + <usize>(p & 1)) * pixelBytes, pixelBytes);
      else memory.fill(dst, 0, pixelBytes);
      dst += pixelBytes;
    }
  }
}
